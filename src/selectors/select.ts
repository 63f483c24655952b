import { didYouMean } from '../config/suggest.ts';
import { CONTAINER_NUMBER_LABEL, PROJECT_LABEL, SERVICE_LABEL, isOneOff } from './labels.ts';
import type { ContainerFacts, ContainerSelector } from './types.ts';

const distinct = (values: (string | undefined)[]): string[] =>
  [...new Set(values.filter((v): v is string => v !== undefined))].sort();

/** Project, service, replica number, name: a stable order that keeps replicas together. */
export function byComposePosition(a: ContainerFacts, b: ContainerFacts): number {
  const key = (c: ContainerFacts) => [c.labels[PROJECT_LABEL] ?? '', c.labels[SERVICE_LABEL] ?? ''];
  const [pa, sa] = key(a);
  const [pb, sb] = key(b);
  const number = (c: ContainerFacts) => Number(c.labels[CONTAINER_NUMBER_LABEL] ?? 0) || 0;
  return (
    pa!.localeCompare(pb!) || sa!.localeCompare(sb!) || number(a) - number(b) || a.name.localeCompare(b.name)
  );
}

/** A busy host has many projects; the error names a few. */
function shortList(names: string[], max = 20): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

export function describeSelector(selector: ContainerSelector): string {
  const parts: string[] = [];
  if (selector.compose) {
    const { project, services } = selector.compose;
    parts.push(`compose project ${project}${services ? `, services ${services.join(', ')}` : ''}`);
  }
  if (selector.labels) {
    parts.push(
      `labels ${Object.entries(selector.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  }
  return parts.join('; ');
}

/**
 * The containers a selector picks among all containers of the host (running or not; `compose run`
 * one-offs never). Compose and labels both apply when both are given. Problems are returned all
 * together, so one run names every typo.
 */
export function selectContainers(
  selector: ContainerSelector,
  all: readonly ContainerFacts[],
  host: string,
): { selected: ContainerFacts[]; problems: string[] } {
  let candidates = all.filter((c) => !isOneOff(c.labels));
  const problems: string[] = [];
  if (selector.compose) {
    const { project, services } = selector.compose;
    const projects = distinct(candidates.map((c) => c.labels[PROJECT_LABEL]));
    candidates = candidates.filter((c) => c.labels[PROJECT_LABEL] === project);
    if (candidates.length === 0) {
      const here = projects.length === 0 ? 'none' : shortList(projects);
      problems.push(
        `compose project "${project}" has no containers on host ${host} (projects here: ${here})${didYouMean(project, projects)}`,
      );
      return { selected: [], problems };
    }
    if (services) {
      const present = distinct(candidates.map((c) => c.labels[SERVICE_LABEL]));
      for (const service of services) {
        if (present.includes(service)) continue;
        problems.push(
          `service "${service}" not in project ${project} (services: ${present.join(', ')})${didYouMean(service, present)}`,
        );
      }
      candidates = candidates.filter((c) => services.includes(c.labels[SERVICE_LABEL] ?? ''));
    }
  }
  if (selector.labels) {
    const wanted = Object.entries(selector.labels);
    candidates = candidates.filter((c) => wanted.every(([key, value]) => c.labels[key] === value));
  }
  if (problems.length === 0 && candidates.length === 0) {
    problems.push(`selector matches no container on host ${host} (${describeSelector(selector)})`);
  }
  return { selected: [...candidates].sort(byComposePosition), problems };
}

/** The container whose network `c` joins (`network_mode: service:x`, `--network container:x`), if any. */
export function networkProvider(
  c: ContainerFacts,
  among: readonly ContainerFacts[],
): ContainerFacts | undefined {
  const shared = /^container:(.+)$/.exec(c.networkMode)?.[1];
  if (!shared) return undefined;
  return among.find(
    (other) =>
      other !== c &&
      (other.id === shared || other.name === shared || (shared.length >= 12 && other.id.startsWith(shared))),
  );
}

/**
 * Containers that share the network of a selected one, selected or not (transitively). A restarted
 * container gets a new network namespace: one left running in the old one has no network until it
 * is restarted too (offen/docker-volume-backup#160), so they stop before it and start after it.
 */
export function networkDependents(
  selected: readonly ContainerFacts[],
  all: readonly ContainerFacts[],
): { container: ContainerFacts; provider: ContainerFacts }[] {
  const added: { container: ContainerFacts; provider: ContainerFacts }[] = [];
  const included = new Set(selected);
  let grew = true;
  while (grew) {
    grew = false;
    for (const c of all) {
      if (included.has(c) || isOneOff(c.labels)) continue;
      const provider = networkProvider(c, all);
      if (provider && included.has(provider)) {
        included.add(c);
        added.push({ container: c, provider });
        grew = true;
      }
    }
  }
  return added;
}
