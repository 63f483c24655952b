import { createHash } from 'node:crypto';
import type {
  ScheduleOptions,
  ScheduleOptionsStartWorkflowAction,
  ScheduleOverlapPolicy,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { backupRunWorkflowOptions, backupWorkflowOptions } from '../client.ts';
import type { BackupDefinition, Config, Schedule } from '../config/index.ts';
import { buildPlan } from '../plan/build.ts';
import { buildRunPlan } from '../plan/run.ts';

/** Every schedule dockvault manages has this id prefix and `managedBy` in its memo. */
export const SCHEDULE_ID_PREFIX = 'dockvault-';
export const MANAGED_BY = 'dockvault';

export function scheduleIdFor(definition: string): string {
  return `${SCHEDULE_ID_PREFIX}${definition}`;
}

/** The config's top-level schedule: a ':' never occurs in a definition name, so it cannot clash. */
export const RUN_SCHEDULE_ID = `${SCHEDULE_ID_PREFIX}run:all`;
const RUN_SCHEDULE_LABEL = 'all definitions';

/**
 * Set once at creation: Temporal cannot update a schedule's memo, so what changes (the config hash)
 * lives in the action's memo instead, which every scheduled run also carries.
 */
export interface ScheduleMemo {
  managedBy: typeof MANAGED_BY;
  definition: string;
  /** The workflow task queue of the config that created it: sync only deletes schedules of its own queue. */
  taskQueue: string;
}

export interface ActionMemo {
  managedBy: typeof MANAGED_BY;
  definition: string;
  configHash: string;
  /** The YAML's `paused` at the last sync: a pause made by hand survives syncs that do not change it. */
  paused: boolean;
  /** Human summary of the spec as written in the YAML. */
  spec: string;
}

const OVERLAP: Record<Schedule['overlap'], ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  bufferOne: 'BUFFER_ONE',
  bufferAll: 'BUFFER_ALL',
  cancelOther: 'CANCEL_OTHER',
  terminateOther: 'TERMINATE_OTHER',
  allowAll: 'ALLOW_ALL',
};

export interface DesiredSchedule {
  scheduleId: string;
  definition: string;
  configHash: string;
  paused: boolean;
  options: ScheduleOptions<ScheduleOptionsStartWorkflowAction<Workflow>> & {
    memo: ScheduleMemo;
    action: { memo: ActionMemo };
  };
}

function specSummary(schedule: Schedule): string {
  const parts = [
    ...schedule.cron.map((c) => `cron "${c}"`),
    ...schedule.every.map((ms) => `every ${formatMs(ms)}`),
  ];
  if (schedule.timezone) parts.push(`in ${schedule.timezone}`);
  if (schedule.jitter) parts.push(`jitter ${formatMs(schedule.jitter)}`);
  return parts.join(', ');
}

function formatMs(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  let rest = ms;
  let text = '';
  for (const [unit, size] of units) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text || `${ms}ms`;
}

/** Canonical JSON (sorted keys) so the hash does not depend on property order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The Temporal Schedule of one definition: its action starts exactly what `dockvault run` starts
 * (same workflow type, queue, plan, search attributes, summary), with workflow id `backup-<name>`
 * to which Temporal appends the scheduled time.
 */
export function desiredSchedule(config: Config, def: BackupDefinition): DesiredSchedule | undefined {
  if (!def.schedule) return undefined;
  const { workflowType, typedSearchAttributes, ...start } = backupWorkflowOptions(
    config.temporal.taskQueue,
    buildPlan(config, def),
  );
  return scheduleFor(config, def.schedule, {
    scheduleId: scheduleIdFor(def.name),
    definition: def.name,
    workflowType,
    workflowId: `backup-${def.name}`,
    start,
    typedSearchAttributes,
  });
}

/** The top-level schedule: one backup run over every definition, as `dockvault run --all` starts it. */
export function desiredRunSchedule(config: Config): DesiredSchedule | undefined {
  if (!config.schedule) return undefined;
  const { workflowType, ...start } = backupRunWorkflowOptions(
    config.temporal.taskQueue,
    buildRunPlan(config, config.backupDefinitions),
  );
  return scheduleFor(config, config.schedule, {
    scheduleId: RUN_SCHEDULE_ID,
    definition: RUN_SCHEDULE_LABEL,
    workflowType,
    workflowId: 'run-all',
    start,
    typedSearchAttributes: [],
  });
}

type StartOptions = Omit<ReturnType<typeof backupWorkflowOptions>, 'workflowType' | 'typedSearchAttributes'>;

/**
 * A schedule whose action starts exactly what the CLI starts (same workflow type, queue, plan,
 * search attributes, summary), with `workflowId` to which Temporal appends the scheduled time.
 */
function scheduleFor(
  config: Config,
  schedule: Schedule,
  action: {
    scheduleId: string;
    definition: string;
    workflowType: string;
    workflowId: string;
    start: StartOptions | Omit<ReturnType<typeof backupRunWorkflowOptions>, 'workflowType'>;
    typedSearchAttributes: ReturnType<typeof backupWorkflowOptions>['typedSearchAttributes'];
  },
): DesiredSchedule {
  const { scheduleId, definition, workflowType, workflowId, start, typedSearchAttributes } = action;
  const spec = {
    cronExpressions: schedule.cron,
    intervals: schedule.every.map((every) => ({ every })),
    timezone: schedule.timezone,
    jitter: schedule.jitter,
  };
  const policies = {
    overlap: OVERLAP[schedule.overlap],
    catchupWindow: schedule.catchupWindow,
    pauseOnFailure: schedule.pauseOnFailure,
  };
  const configHash = createHash('sha256')
    .update(
      canonical({
        spec,
        policies,
        paused: schedule.paused,
        action: {
          workflowType,
          workflowId,
          ...start,
          searchAttributes: typedSearchAttributes.map(({ key, value }) => [key.name, value]),
        },
      }),
    )
    .digest('hex')
    .slice(0, 16);
  return {
    scheduleId,
    definition,
    configHash,
    paused: schedule.paused,
    options: {
      scheduleId,
      spec,
      policies,
      action: {
        type: 'startWorkflow',
        workflowType,
        workflowId,
        ...start,
        typedSearchAttributes,
        memo: {
          managedBy: MANAGED_BY,
          definition,
          configHash,
          paused: schedule.paused,
          spec: specSummary(schedule),
        },
      },
      memo: { managedBy: MANAGED_BY, definition, taskQueue: config.temporal.taskQueue },
      // The schedule itself is filterable too: `temporal schedule list --query 'DockvaultDefinition="x"'`.
      typedSearchAttributes,
      state: {
        paused: schedule.paused,
        note: schedule.paused ? 'paused in the dockvault config' : undefined,
      },
    },
  };
}
