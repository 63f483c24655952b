import { ApplicationFailure, CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import type { BackupPlan, BackupResult } from '../plan/types.ts';
import { notifyActivities } from './activity-proxies.ts';
import { failureMessage } from './prune.ts';
import { NO_WORKER_ERROR } from './host-worker.ts';

/**
 * Reports a run's outcome to the worker (metrics, webhooks). Never throws and is not cancellable:
 * a failing webhook or a cancelled run must not change what the backup itself returns.
 */
export async function reportOutcome(
  plan: BackupPlan,
  run: { backupId: string; startedAt: string },
  outcome: { result: BackupResult } | { error: unknown },
): Promise<void> {
  const { workflowId, runId } = workflowInfo();
  const base = {
    definition: plan.definition,
    type: plan.type,
    host: plan.host,
    backupId: run.backupId,
    workflowId,
    runId,
    startedAt: run.startedAt,
    finishedAt: new Date().toISOString(),
  };
  const details =
    'result' in outcome
      ? {
          event: 'success' as const,
          downtimeMs: outcome.result.downtimeMs,
          plaintextBytes: outcome.result.plaintextBytes,
          storedBytes: outcome.result.storedBytes,
          warnings: outcome.result.hookWarnings,
        }
      : { event: 'failure' as const, error: failureMessage(outcome.error) };
  // Started by a backup run: the run sends one summary for all its definitions.
  const summarizedByRun = workflowInfo().parent !== undefined;
  // With no worker on the host, the alert goes out through whichever worker runs the workflows.
  const noWorker =
    'error' in outcome &&
    outcome.error instanceof ApplicationFailure &&
    outcome.error.type === NO_WORKER_ERROR;
  const queue = noWorker ? workflowInfo().taskQueue : plan.activityTaskQueue;
  try {
    await CancellationScope.nonCancellable(() =>
      notifyActivities(queue).reportBackupOutcome({
        ...base,
        ...details,
        ...(summarizedByRun ? { summarizedByRun } : {}),
      }),
    );
  } catch (err) {
    log.warn('notification failed', { definition: plan.definition, error: failureMessage(err) });
  }
}
