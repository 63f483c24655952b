import { log } from '@temporalio/workflow';
import type { PruneResult } from '../activities/prune.ts';
import type { BackupPlan, PrunePlan } from '../plan/types.ts';
import { pruneActivities } from './activity-proxies.ts';

/** `dockvault prune`: applies one definition's retention in storage (or, with dryRun, reports it). */
export async function pruneWorkflow(plan: PrunePlan): Promise<PruneResult> {
  return pruneActivities(plan.activityTaskQueue).pruneBackups(plan);
}

/** The innermost message of a failure chain (ActivityFailure -> ApplicationFailure -> ...). */
export function failureMessage(err: unknown): string {
  let message = String(err);
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (e.message) message = e.message;
  return message;
}

/**
 * The prune step after a successful backup. Never fails the backup: a prune problem (storage
 * hiccup, a locked object) comes back as a warning.
 */
export async function pruneAfterBackup(plan: BackupPlan): Promise<string[]> {
  try {
    const result = await pruneActivities(plan.activityTaskQueue).pruneBackups({
      definition: plan.definition,
      host: plan.host,
      activityTaskQueue: plan.activityTaskQueue,
      target: plan.target,
      retention: plan.retention ?? {},
      timeZone: plan.timeZone ?? 'UTC',
      dryRun: false,
    });
    const pruned = result.backups.filter((b) => b.action === 'deleted').length;
    if (pruned > 0) log.info('pruned backups', { definition: plan.definition, pruned });
    return result.warnings.map((w) => `prune: ${w}`);
  } catch (err) {
    log.warn('prune failed', { definition: plan.definition, error: failureMessage(err) });
    return [`prune failed: ${failureMessage(err)}`];
  }
}
