import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { Config } from '../config/index.ts';
import {
  MANAGED_BY,
  RUN_SCHEDULE_ID,
  SCHEDULE_ID_PREFIX,
  desiredRunSchedule,
  desiredSchedule,
  scheduleIdFor,
  type ActionMemo,
  type DesiredSchedule,
  type ScheduleMemo,
} from './options.ts';

export type SyncAction = 'created' | 'updated' | 'deleted' | 'unchanged' | 'conflict';

export interface SyncOutcome {
  scheduleId: string;
  definition: string;
  action: SyncAction;
  detail: string;
}

export async function describeOrUndefined(
  client: Client,
  scheduleId: string,
): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

export function scheduleMemo(description: ScheduleDescription): Partial<ScheduleMemo> {
  return description.memo ?? {};
}

export function actionMemo(description: ScheduleDescription): Partial<ActionMemo> {
  return description.action.memo ?? {};
}

/** Owned by this config: dockvault's id prefix, its memo, and the same workflow task queue. */
function ownedBy(config: Config, scheduleId: string, description: ScheduleDescription): boolean {
  const memo = scheduleMemo(description);
  return (
    scheduleId.startsWith(SCHEDULE_ID_PREFIX) &&
    memo.managedBy === MANAGED_BY &&
    memo.taskQueue === config.temporal.taskQueue
  );
}

/** Ids of dockvault's schedules in the namespace; the list is eventually consistent, so callers add ids they know. */
export async function listedScheduleIds(client: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) {
    if (s.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) ids.push(s.scheduleId);
  }
  return ids;
}

async function syncOne(
  client: Client,
  config: Config,
  desired: DesiredSchedule,
  dryRun: boolean,
): Promise<SyncOutcome> {
  const { scheduleId, definition } = desired;
  const existing = await describeOrUndefined(client, scheduleId);
  if (!existing) {
    if (!dryRun) await client.schedule.create(desired.options);
    return { scheduleId, definition, action: 'created', detail: desired.options.action.memo.spec };
  }
  if (!ownedBy(config, scheduleId, existing)) {
    const memo = scheduleMemo(existing);
    const owner =
      memo.managedBy === MANAGED_BY
        ? `the dockvault config of task queue "${memo.taskQueue}"`
        : 'something other than dockvault';
    return { scheduleId, definition, action: 'conflict', detail: `exists, created by ${owner}; left alone` };
  }
  const previous = actionMemo(existing);
  if (previous.configHash === desired.configHash) {
    return { scheduleId, definition, action: 'unchanged', detail: desired.options.action.memo.spec };
  }
  if (!dryRun) {
    await client.schedule.getHandle(scheduleId).update((current) => {
      // A pause or unpause made by hand survives, unless the YAML's `paused` itself changed.
      const yamlChanged = previous.paused !== desired.paused;
      return {
        spec: desired.options.spec,
        action: desired.options.action,
        policies: desired.options.policies,
        typedSearchAttributes: desired.options.typedSearchAttributes,
        state: yamlChanged
          ? { paused: desired.paused, note: desired.options.state?.note }
          : { paused: current.state.paused, note: current.state.note },
      };
    });
  }
  return { scheduleId, definition, action: 'updated', detail: desired.options.action.memo.spec };
}

/**
 * Makes Temporal match the YAML: creates missing schedules, updates those whose config hash changed,
 * deletes this config's schedules whose definition has no schedule (or no longer exists), and leaves
 * every schedule it does not own alone. With dryRun it reports the same without changing anything.
 */
export async function syncSchedules(
  client: Client,
  config: Config,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<SyncOutcome[]> {
  const outcomes: SyncOutcome[] = [];
  const wanted = new Set<string>();
  const desiredAll = [
    desiredRunSchedule(config),
    ...config.backupDefinitions.map((def) => desiredSchedule(config, def)),
  ];
  for (const desired of desiredAll) {
    if (!desired) continue;
    wanted.add(desired.scheduleId);
    outcomes.push(await syncOne(client, config, desired, dryRun));
  }
  const candidates = new Set(await listedScheduleIds(client));
  candidates.add(RUN_SCHEDULE_ID);
  for (const def of config.backupDefinitions) candidates.add(scheduleIdFor(def.name));
  for (const scheduleId of [...candidates].sort()) {
    if (wanted.has(scheduleId)) continue;
    const existing = await describeOrUndefined(client, scheduleId);
    if (!existing || !ownedBy(config, scheduleId, existing)) continue;
    if (!dryRun) {
      try {
        await client.schedule.getHandle(scheduleId).delete();
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
    }
    const definition = scheduleMemo(existing).definition ?? scheduleId.slice(SCHEDULE_ID_PREFIX.length);
    outcomes.push({ scheduleId, definition, action: 'deleted', detail: 'no schedule in the config' });
  }
  return outcomes;
}
