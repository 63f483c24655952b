import { patched } from '@temporalio/workflow';
import type { PostgresBackupPlan, StandardBackupPlan } from '../plan/types.ts';
import type { containerActivities } from './activity-proxies.ts';

/** Runs recorded before selectors existed replay without the resolve step. */
export const COMPOSE_SELECTORS_PATCH = 'compose-selectors';

type Docker = ReturnType<typeof containerActivities>;

/**
 * The containers (stop order) and volumes a standard run works on. A definition that only names
 * containers is taken as written, with the same activity calls as before selectors; one with a
 * selector is resolved on its host first, before anything is stopped.
 */
export async function standardSources(
  plan: StandardBackupPlan,
  docker: Docker,
): Promise<{ containers: string[]; volumes: string[] }> {
  if (plan.selector === undefined || !patched(COMPOSE_SELECTORS_PATCH)) {
    return { containers: plan.containers, volumes: plan.volumes };
  }
  const resolved = await docker.resolveBackupSources({
    definition: plan.definition,
    host: plan.host,
    selector: plan.selector,
    containers: plan.containers,
    volumes: plan.volumes,
    hookContainers: [...plan.hooks.preStop, ...plan.hooks.postStart].map((h) => h.container),
  });
  return {
    containers: resolved.containers.map((c) => c.name),
    volumes: resolved.volumes.map((v) => v.resolved),
  };
}

/** The one container a PostgreSQL run dumps from: named, or the one its selector matches on the host. */
export async function postgresSource(plan: PostgresBackupPlan, docker: Docker): Promise<string> {
  if (plan.selector === undefined || !patched(COMPOSE_SELECTORS_PATCH)) return plan.container;
  const resolved = await docker.resolveBackupSources({
    definition: plan.definition,
    host: plan.host,
    selector: plan.selector,
    containers: plan.container === '' ? [] : [plan.container],
    volumes: [],
    hookContainers: [...plan.hooks.preStop, ...plan.hooks.postStart].map((h) => h.container),
    exactlyOne: true,
  });
  return resolved.containers[0]!.name;
}
