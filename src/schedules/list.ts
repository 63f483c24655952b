import type { Client, ScheduleDescription } from '@temporalio/client';
import type { Config } from '../config/index.ts';
import { MANAGED_BY, scheduleIdFor } from './options.ts';
import { actionMemo, describeOrUndefined, listedScheduleIds, scheduleMemo } from './sync.ts';

export interface LastRun {
  workflowId: string;
  scheduledAt: Date;
  /** RUNNING, COMPLETED, FAILED, ... as Temporal reports the workflow now. */
  status: string;
}

export interface ScheduleListing {
  scheduleId: string;
  definition: string;
  taskQueue: string;
  spec: string;
  paused: boolean;
  note: string | undefined;
  nextRuns: Date[];
  lastRun: LastRun | undefined;
  running: string[];
}

/** A summary of the server's view, for schedules edited by hand (no YAML summary in the memo). */
function describedSpec(description: ScheduleDescription): string {
  const { spec } = description;
  const parts: string[] = [];
  const calendars = spec.calendars?.length ?? 0;
  if (calendars > 0) parts.push(`${calendars} calendar${calendars === 1 ? '' : 's'}`);
  for (const i of spec.intervals ?? []) parts.push(`every ${Number(i.every) / 1000}s`);
  if (spec.timezone) parts.push(`in ${spec.timezone}`);
  return parts.join(', ') || '(no times)';
}

async function lastRunOf(client: Client, description: ScheduleDescription): Promise<LastRun | undefined> {
  const last = description.info.recentActions.at(-1);
  if (!last) return undefined;
  const { workflowId, firstExecutionRunId } = last.action.workflow;
  let status = 'UNKNOWN';
  try {
    const run = await client.workflow.getHandle(workflowId, firstExecutionRunId).describe();
    status = run.status.name;
  } catch {
    status = 'NOT FOUND (retention expired?)';
  }
  return { workflowId, scheduledAt: last.scheduledAt, status };
}

/** Every dockvault schedule in the namespace, sorted by id, with its next times and last result. */
export async function listSchedules(client: Client, config: Config): Promise<ScheduleListing[]> {
  const ids = new Set(await listedScheduleIds(client));
  // Listing is eventually consistent: the config's own schedules are described directly too.
  for (const def of config.backupDefinitions) ids.add(scheduleIdFor(def.name));
  const listings: ScheduleListing[] = [];
  for (const scheduleId of [...ids].sort()) {
    const description = await describeOrUndefined(client, scheduleId);
    if (!description) continue;
    const memo = scheduleMemo(description);
    if (memo.managedBy !== MANAGED_BY) continue;
    listings.push({
      scheduleId,
      definition: memo.definition ?? scheduleId,
      taskQueue: memo.taskQueue ?? '',
      spec: actionMemo(description).spec ?? describedSpec(description),
      paused: description.state.paused,
      note: description.state.note,
      nextRuns: description.info.nextActionTimes.slice(0, 3),
      lastRun: await lastRunOf(client, description),
      running: description.info.runningActions.map((a) => a.workflow.workflowId),
    });
  }
  return listings;
}
