import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { BackupResult, PostgresBackupPlan, StoredObject } from '../plan/types.ts';
import {
  backupIdFor,
  containerActivities,
  postgresActivities,
  storageActivities,
} from './activity-proxies.ts';
import { hostCompressionFor } from '../postgres/compression.ts';
import { reportOutcome } from './notify.ts';
import { awaitHostWorker } from './host-worker.ts';
import { trackProgress } from './progress.ts';
import { pruneAfterBackup } from './prune.ts';
import { withDefinitionLock } from './definition-lock.ts';
import { type HostSlot, takeHostSlot } from './host-slot.ts';
import { type ExplainFailure, withRunDeadline } from './run-deadline.ts';
import { postgresSource } from './resolve-sources.ts';

/**
 * A PostgreSQL backup: preflight (container running, server answering, databases present, target
 * writable), then the globals and one pg_dump per database, each streamed from the running container
 * through compression and encryption to S3, and the manifest last. Nothing is stopped: each dump is
 * a consistent snapshot of its database (pg_dump's own transaction). A failed or cancelled run leaves
 * no manifest, no object and no unfinished upload.
 */
export async function postgresBackupWorkflow(requested: PostgresBackupPlan): Promise<BackupResult> {
  return withDefinitionLock(requested, () =>
    withRunDeadline(requested, (explain) => postgresBackup(requested, explain)),
  );
}

async function postgresBackup(requested: PostgresBackupPlan, explain: ExplainFailure): Promise<BackupResult> {
  // pg_dump compresses by default: dockvault then only encrypts, and the manifest says so.
  let plan: PostgresBackupPlan = { ...requested, compression: hostCompressionFor(requested) };
  const { workflowId, runId } = workflowInfo();
  const backupId = backupIdFor(workflowInfo());
  const progress = trackProgress(plan.definition, backupId);
  const pg = postgresActivities(plan.activityTaskQueue, plan.dumpTimeoutMinutes);
  const storage = storageActivities(plan.activityTaskQueue);
  // Only the hooks are used here, and their bound follows from their own timeouts: no stop timeout.
  const hooks = containerActivities(plan.activityTaskQueue, 0);
  const startedAt = new Date().toISOString();
  const objects: StoredObject[] = [];
  const hookWarnings: string[] = [];
  let slot: HostSlot | undefined;

  progress.phase('waiting for the host worker');
  await awaitHostWorker(plan, (error) => reportOutcome(plan, { backupId, startedAt }, { error }));

  try {
    progress.phase('preflight');
    plan = { ...plan, container: await postgresSource(plan, hooks) };
    const recipients = await storage.checkTarget({ target: plan.target, encryption: plan.encryption });
    const source = await pg.inspectPostgres({
      container: plan.container,
      databases: plan.databases,
      osUser: plan.osUser,
      dbUser: plan.dbUser,
      passwordFile: plan.passwordFile,
    });
    const versions = { serverVersion: source.serverVersion, pgDumpVersion: source.pgDumpVersion };

    slot = await takeHostSlot(plan, progress);
    // Nothing is stopped here: "preStop" hooks run before the dumps, "postStart" ones after them.
    progress.phase('pre-dump hooks');
    await hooks.runHooks(plan.hooks.preStop, 'preStop');

    if (plan.globals) {
      progress.phase('dumping globals (roles, tablespaces)');
      objects.push(await pg.dumpGlobals({ plan, recipients, backupId, ...versions }));
    }
    for (const [i, database] of source.databases.entries()) {
      progress.phase(`dumping database ${database} (${i + 1}/${source.databases.length})`);
      objects.push(await pg.dumpDatabase({ plan, recipients, backupId, database, ...versions }));
    }

    await slot.release();
    progress.phase('post-dump hooks');
    hookWarnings.push(...(await hooks.runHooks(plan.hooks.postStart, 'postStart')));

    progress.phase('writing manifest');
    const manifest = await storage.writeManifest({
      plan,
      backupId,
      workflowId,
      runId,
      startedAt,
      downtimeMs: 0,
      recipients,
      stopped: [],
      notRunning: [],
      objects,
    });
    progress.phase('pruning');
    hookWarnings.push(...(await pruneAfterBackup(plan)));
    progress.phase('done');
    const result: BackupResult = {
      definition: plan.definition,
      backupId,
      downtimeMs: 0,
      objects: objects.length,
      plaintextBytes: manifest.plaintextBytes,
      storedBytes: manifest.storedBytes,
      hookWarnings,
    };
    await reportOutcome(plan, { backupId, startedAt }, { result });
    return result;
  } catch (caught) {
    const err = explain(caught);
    progress.phase(isCancellation(err) ? 'cancelled, cleaning up' : 'failed, cleaning up');
    await CancellationScope.nonCancellable(() => storage.discardIncompleteBackup({ plan, backupId }));
    await reportOutcome(plan, { backupId, startedAt }, { error: err });
    throw err;
  } finally {
    await slot?.release();
  }
}
