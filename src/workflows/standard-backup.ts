import { CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import type { StagedArchive } from '../activities/transfer.ts';
import type { BackupResult, StandardBackupPlan, StoredObject } from '../plan/types.ts';
import { backupIdFor, containerActivities, dataActivities, storageActivities } from './activity-proxies.ts';
import { reportOutcome } from './notify.ts';
import { awaitHostWorker } from './host-worker.ts';
import { trackProgress } from './progress.ts';
import { WhileStopped } from './while-stopped.ts';
import { type Restarted, restartStopped } from './restart.ts';
import { pruneAfterBackup } from './prune.ts';
import { withDefinitionLock } from './definition-lock.ts';
import { type HostSlot, takeHostSlot } from './host-slot.ts';
import { type ExplainFailure, withRunDeadline } from './run-deadline.ts';
import { standardSources } from './resolve-sources.ts';

/**
 * A standard backup: preflight, stop the running containers, archive their volumes, ALWAYS restart
 * what was stopped, then compress, encrypt and upload, and write the manifest last. A failed or
 * cancelled run restarts the containers and leaves no manifest and no half-written objects.
 */
export async function standardBackupWorkflow(plan: StandardBackupPlan): Promise<BackupResult> {
  return withDefinitionLock(plan, () => withRunDeadline(plan, (explain) => standardBackup(plan, explain)));
}

async function standardBackup(plan: StandardBackupPlan, explain: ExplainFailure): Promise<BackupResult> {
  const { workflowId, runId } = workflowInfo();
  const backupId = backupIdFor(workflowInfo());
  const progress = trackProgress(plan.definition, backupId);
  const docker = containerActivities(plan.activityTaskQueue, plan.stopTimeoutSeconds);
  const data = dataActivities(plan.activityTaskQueue);
  const storage = storageActivities(plan.activityTaskQueue);
  const startedAt = new Date().toISOString();
  const objects: StoredObject[] = [];
  const hookWarnings: string[] = [];
  const stopped: string[] = [];
  const staged = new Map<string, StagedArchive>();
  const whileStopped = new WhileStopped();
  let downtimeMs = 0;
  let restarted: Restarted | undefined;
  let stagingRemoved: Promise<void> | undefined;
  let slot: HostSlot | undefined;

  progress.phase('waiting for the host worker');
  await awaitHostWorker(plan, (error) => reportOutcome(plan, { backupId, startedAt }, { error }));

  try {
    progress.phase('preflight');
    const { containers, volumes } = await standardSources(plan, docker);
    const [state, recipients] = await Promise.all([
      docker.inspectBackupSources({ containers, volumes }),
      storage.checkTarget({ target: plan.target, encryption: plan.encryption }),
    ]);
    if (plan.staging.mode === 'staged') {
      await data.prepareStaging({ staging: plan.staging, backupId, bytesNeeded: state.volumeBytes });
    }
    // Taken before the pre-stop hooks: nothing is stopped or quiesced while the run waits its turn.
    slot = await takeHostSlot(plan, progress);

    if (plan.hooks.preStop.length > 0) {
      progress.phase('pre-stop hooks');
      await docker.runHooks(plan.hooks.preStop, 'preStop');
    }

    try {
      progress.phase('stopping containers');
      for (const container of state.running) {
        // Recorded before the stop is asked for: if the stop half-happens, the restart still covers it.
        stopped.push(container);
        await docker.stopContainer({ container, timeoutSeconds: plan.stopTimeoutSeconds, workflowId, runId });
      }
      progress.downtimeStarted();
      if (plan.staging.mode === 'staged') {
        progress.phase('archiving volumes to staging');
        // Chunked volumes archive only what changed since the last backup; the activity needs the plan.
        const readChanges = plan.volumeFormat === 'chunked' && patched('chunked-volumes-read-changes');
        for (const volume of volumes) {
          const stagingDir = plan.staging.dir;
          staged.set(
            volume,
            await whileStopped.call(() =>
              data.archiveVolumeToStaging({ volume, stagingDir, backupId, ...(readChanges ? { plan } : {}) }),
            ),
          );
        }
        await docker.checkStillStopped(stopped);
      } else {
        progress.phase('streaming volumes to storage');
        for (const volume of volumes) {
          objects.push(
            await whileStopped.call(() => data.streamVolumeToStorage({ plan, recipients, backupId, volume })),
          );
        }
        await docker.checkStillStopped(stopped);
      }
    } finally {
      restarted = await restartStopped(docker, progress, stopped, workflowId);
      downtimeMs = restarted.downtimeMs;
    }

    // Post-start hooks follow the check that the containers stayed up, while the upload runs.
    const postStart = restarted.confirmed.then(() =>
      plan.hooks.postStart.length > 0 ? docker.runHooks(plan.hooks.postStart, 'postStart') : [],
    );
    postStart.catch(() => undefined);

    if (plan.staging.mode === 'staged') {
      progress.phase('compressing, encrypting and uploading');
      for (const volume of volumes) {
        objects.push(
          await data.uploadStagedVolume({
            plan,
            recipients,
            backupId,
            volume,
            stagingDir: plan.staging.dir,
            staged: staged.get(volume)!,
          }),
        );
      }
      // Deleting GBs of staging takes a moment: it runs while the manifest is written.
      stagingRemoved = data.removeStaging({ stagingDir: plan.staging.dir, backupId });
      stagingRemoved.catch(() => undefined);
    }

    // The volumes are read and uploaded: the host's next data-moving run may start.
    await slot.release();
    hookWarnings.push(...(await postStart));
    progress.phase('writing manifest');
    const manifest = await storage.writeManifest({
      plan,
      backupId,
      workflowId,
      runId,
      startedAt,
      downtimeMs,
      recipients,
      stopped,
      notRunning: state.notRunning,
      objects,
    });
    progress.phase('pruning');
    hookWarnings.push(...(await pruneAfterBackup(plan)));
    progress.phase('done');
    const result: BackupResult = {
      definition: plan.definition,
      backupId,
      downtimeMs,
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
    await CancellationScope.nonCancellable(async () => {
      await whileStopped.settled();
      await restarted?.confirmed.catch(() => undefined);
      await storage.discardIncompleteBackup({ plan, backupId });
    });
    await reportOutcome(plan, { backupId, startedAt }, { error: err });
    throw err;
  } finally {
    await slot?.release();
    const staging = plan.staging;
    if (staging.mode === 'staged') {
      await CancellationScope.nonCancellable(async () => {
        await whileStopped.settled();
        const removeStaging = () => data.removeStaging({ stagingDir: staging.dir, backupId });
        // A removal that failed or was cancelled with the run is done again here.
        await (stagingRemoved ? stagingRemoved.catch(removeStaging) : removeStaging());
      });
    }
  }
}
