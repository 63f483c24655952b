import {
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { HostPresenceActivities } from '../activities/host.ts';
import type { BackupPlan } from '../plan/types.ts';

const DEFAULT_WAIT_MS = 10 * 60_000;
/** Histories recorded before this guard ran without it. */
const PATCH = 'wait-for-host-worker';

export const NO_WORKER_ERROR = 'NoWorkerError';

function noWorker(plan: BackupPlan, why: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: NO_WORKER_ERROR,
    nonRetryable: true,
    message:
      `no worker for host "${plan.host}" (task queue ${plan.activityTaskQueue}) ${why}; nothing was stopped. ` +
      `Start one on that host: dockvault worker --host ${plan.host}`,
  });
}

/**
 * A backup's first step: a worker of the host must answer within `workerWait`, else the run fails
 * (and alerts, and releases its lock) instead of waiting for hours and stopping containers at a
 * moment nobody chose.
 */
export async function awaitHostWorker(
  plan: BackupPlan,
  report: (error: unknown) => Promise<void>,
): Promise<void> {
  try {
    await hostWorkerAnswers(plan);
  } catch (err) {
    // Nothing was done on the host, so there is nothing to clean up there: only the alert.
    await report(err);
    throw err;
  }
}

async function hostWorkerAnswers(plan: BackupPlan): Promise<void> {
  if (!patched(PATCH)) return;
  const waitMs = plan.workerWaitMs ?? DEFAULT_WAIT_MS;
  const { hostWorkerPresent } = proxyActivities<HostPresenceActivities>({
    taskQueue: plan.activityTaskQueue,
    scheduleToStartTimeout: waitMs,
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 3 },
  });
  try {
    await hostWorkerPresent();
  } catch (err) {
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof TimeoutFailure &&
      err.cause.timeoutType === 'SCHEDULE_TO_START'
    ) {
      throw noWorker(plan, `took the run's first step within ${Math.round(waitMs / 1000)} s`);
    }
    throw err;
  }
  refuseLateStart(plan);
}

/**
 * Also when the whole worker was gone and the run only got going once one came back: a run that is
 * later than `workerWait` after its start (a scheduled run's due time) stops nothing.
 */
export function refuseLateStart(plan: BackupPlan): void {
  const waitMs = plan.workerWaitMs ?? DEFAULT_WAIT_MS;
  const lateMs = Date.now() - workflowInfo().startTime.getTime();
  if (lateMs > waitMs) {
    throw noWorker(plan, `was there when the run was due (it is ${Math.round(lateMs / 1000)} s late)`);
  }
}
