import { DEPENDS_ON_LABEL, PROJECT_LABEL, SERVICE_LABEL, dependsOnServices } from './labels.ts';
import { networkProvider } from './select.ts';
import type { ContainerFacts, ResolvedContainer } from './types.ts';

/** For each container, the indexes of the given containers it depends on. */
function dependencies(containers: readonly ContainerFacts[]): Set<number>[] {
  return containers.map((c, self) => {
    const deps = new Set<number>();
    const project = c.labels[PROJECT_LABEL];
    const services = dependsOnServices(c.labels[DEPENDS_ON_LABEL]);
    containers.forEach((other, i) => {
      if (i === self || project === undefined || other.labels[PROJECT_LABEL] !== project) return;
      if (services.includes(other.labels[SERVICE_LABEL] ?? '')) deps.add(i);
    });
    const provider = networkProvider(c, containers);
    if (provider) deps.add(containers.indexOf(provider));
    return deps;
  });
}

/** One cycle among `remaining` (each has a dependency left in it), as names: a -> b -> a. */
function findCycle(
  containers: readonly ContainerFacts[],
  deps: Set<number>[],
  remaining: Set<number>,
): string[] {
  let node = Math.min(...remaining);
  const path: number[] = [];
  const seenAt = new Map<number, number>();
  while (!seenAt.has(node)) {
    seenAt.set(node, path.length);
    path.push(node);
    node = [...deps[node]!].filter((d) => remaining.has(d)).sort((a, b) => a - b)[0]!;
  }
  return [...path.slice(seenAt.get(node)), node].map((i) => containers[i]!.name);
}

/**
 * The stop order of the selected containers: a container stops only after every container that
 * depends on it (depends_on, network_mode service:) has stopped; restarting in reverse starts each
 * dependency before its dependents. Among containers free to go, the given order decides, so the
 * result is stable. Dependencies on containers outside the selection do not order anything.
 */
export function stopOrder(
  containers: readonly ContainerFacts[],
): { order: ResolvedContainer[] } | { cycle: string[] } {
  const deps = dependencies(containers);
  const remaining = new Set(containers.map((_, i) => i));
  const order: number[] = [];
  while (remaining.size > 0) {
    const next = [...remaining].find((i) => ![...remaining].some((other) => deps[other]!.has(i)));
    if (next === undefined) return { cycle: findCycle(containers, deps, remaining) };
    order.push(next);
    remaining.delete(next);
  }
  return {
    order: order.map((i) => {
      const c = containers[i]!;
      const project = c.labels[PROJECT_LABEL];
      const service = c.labels[SERVICE_LABEL];
      return {
        name: c.name,
        service: project !== undefined && service !== undefined ? `${project}/${service}` : undefined,
        dependsOn: [...deps[i]!].sort((a, b) => a - b).map((d) => containers[d]!.name),
      };
    }),
  };
}
