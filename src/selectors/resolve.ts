import type Docker from 'dockerode';
import { mapDockerError } from '../docker/errors.ts';
import { SelectorError } from './errors.ts';
import { PROJECT_LABEL, SERVICE_LABEL } from './labels.ts';
import { stopOrder } from './order.ts';
import { byComposePosition, networkDependents, selectContainers } from './select.ts';
import type {
  ContainerFacts,
  ContainerSelector,
  ResolvedContainer,
  ResolvedSources,
  VolumeFacts,
} from './types.ts';
import { missingVolume, resolveVolumeName } from './volumes.ts';

export interface ResolveInput {
  definition: string;
  host: string;
  selector: ContainerSelector;
  /** The definition's own `containers:` list: stopped first, in this order. */
  containers: string[];
  volumes: string[];
  /** Containers named by hooks: they must be among the resolved ones. */
  hookContainers: string[];
  /** A postgresqldatabase definition dumps from exactly one container. */
  exactlyOne?: boolean;
}

async function listContainerFacts(docker: Docker): Promise<ContainerFacts[]> {
  try {
    const listed = await docker.listContainers({ all: true });
    return listed.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      labels: c.Labels ?? {},
      networkMode: c.HostConfig?.NetworkMode ?? '',
    }));
  } catch (err) {
    throw mapDockerError(err, 'listing containers');
  }
}

async function listVolumeFacts(docker: Docker): Promise<VolumeFacts[]> {
  try {
    const { Volumes } = await docker.listVolumes();
    return (Volumes ?? []).map((v) => ({ name: v.Name, labels: v.Labels ?? {} }));
  } catch (err) {
    throw mapDockerError(err, 'listing volumes');
  }
}

function explicitEntry(name: string, all: ContainerFacts[]): ResolvedContainer {
  const facts = all.find((c) => c.name === name);
  const project = facts?.labels[PROJECT_LABEL];
  const service = facts?.labels[SERVICE_LABEL];
  return { name, service: project && service ? `${project}/${service}` : undefined, dependsOn: [] };
}

/**
 * What a selector definition means on this host now: its containers in stop order (the listed ones
 * first, as listed; then the selected ones, dependents first) and its volumes' real names. Runs in
 * the preflight, before anything is stopped; every problem is reported in one SelectorError.
 */
export async function resolveSources(docker: Docker, input: ResolveInput): Promise<ResolvedSources> {
  const { selector } = input;
  const project = selector.compose?.project;
  const [all, volumes] = await Promise.all([
    listContainerFacts(docker),
    input.volumes.length > 0 ? listVolumeFacts(docker) : Promise.resolve([]),
  ]);
  const { selected, problems } = selectContainers(selector, all, input.host);
  const joined = networkDependents(selected, all);
  const rest = [...selected, ...joined.map((j) => j.container)]
    .filter((c) => !input.containers.includes(c.name))
    .sort(byComposePosition);
  const ordered = stopOrder(rest);
  if ('cycle' in ordered) problems.push(`dependency cycle: ${ordered.cycle.join(' -> ')}`);
  const providers = new Map(joined.map((j) => [j.container.name, j.provider.name]));
  const containers = [
    ...input.containers.map((name) => explicitEntry(name, all)),
    ...('order' in ordered ? ordered.order : []).map((c) =>
      providers.has(c.name) ? { ...c, sharesNetworkOf: providers.get(c.name) } : c,
    ),
  ];

  const resolvedVolumes: ResolvedSources['volumes'] = [];
  for (const name of input.volumes) {
    const resolved = resolveVolumeName(name, project, volumes);
    if (resolved === undefined) problems.push(missingVolume(name, project));
    else resolvedVolumes.push({ name, resolved });
  }

  if (problems.length === 0) {
    const names = containers.map((c) => c.name);
    for (const hook of [...new Set(input.hookContainers)]) {
      if (!names.includes(hook)) {
        problems.push(
          `hook container "${hook}" is not among the containers this definition resolves to (${names.join(', ')})`,
        );
      }
    }
    if (input.exactlyOne && names.length !== 1) {
      problems.push(
        `the selector matches ${names.length} containers (${names.join(', ')}); a postgresqldatabase definition needs exactly one`,
      );
    }
  }
  if (problems.length > 0) {
    throw new SelectorError(
      `${selector.configPath} (${input.definition}): ${problems.join('; ')}; nothing was stopped`,
    );
  }
  return { containers, volumes: resolvedVolumes };
}
