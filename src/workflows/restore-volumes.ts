import { CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import type { VolumeRestoreTarget } from '../activities/restore.ts';
import type { RestoreResult, RestoreVolumesPlan } from '../plan/types.ts';
import { containerActivities, restoreActivities, runSuffix } from './activity-proxies.ts';
import { trackProgress } from './progress.ts';
import { withDefinitionLock } from './definition-lock.ts';
import { type HostSlot, takeHostSlot } from './host-slot.ts';
import { type Restarted, restartStopped } from './restart.ts';

/**
 * Restores volumes of a standard backup. Everything slow and everything that can fail happens while
 * the containers still run: download, sha256 check, decryption, decompression and extraction into a
 * staging directory next to each volume's data. Only then are the containers that use the volumes
 * (any container on the host, not only the definition's) stopped, each volume's data directory swapped
 * for the staged tree by two renames, and the containers ALWAYS restarted in reverse stop order. A
 * failure before the swap leaves every volume untouched.
 */
export async function restoreVolumesWorkflow(plan: RestoreVolumesPlan): Promise<RestoreResult> {
  return withDefinitionLock(plan, () => restoreVolumes(plan));
}

async function restoreVolumes(plan: RestoreVolumesPlan): Promise<RestoreResult> {
  const { workflowId, runId } = workflowInfo();
  // The random tail of the run id (see backupIdFor); restores recorded before keep the clock prefix.
  const restoreId = patched('restore-id-random-suffix')
    ? runSuffix(runId, 12)
    : runId.replace(/-/g, '').slice(0, 12);
  const progress = trackProgress(plan.definition, plan.backup);
  const restore = restoreActivities(plan.activityTaskQueue);
  const docker = containerActivities(plan.activityTaskQueue, plan.stopTimeoutSeconds);
  const stopped: string[] = [];
  let items: VolumeRestoreTarget[] = [];
  let downtimeMs = 0;
  let restarted: Restarted | undefined;
  let slot: HostSlot | undefined;

  progress.phase('preflight');
  const source = await restore.loadVolumeRestore({ plan });
  items = source.targets;
  progress.backup(source.backupId);
  try {
    slot = await takeHostSlot(plan, progress);
    progress.phase('downloading, decrypting and extracting to staging');
    for (const item of items) {
      await restore.stageVolumeRestore({
        target: plan.target,
        identityFile: plan.identityFile,
        compression: source.compression,
        item,
        restoreId,
      });
    }
    // Extracted: the swap below is two renames a volume, no data to move.
    await slot.release();
    try {
      progress.phase('stopping containers');
      const running = await restore.runningContainersUsing({ volumes: items.map((i) => i.volume) });
      for (const container of running) {
        // Recorded before the stop: the reconciler restarts it if this workflow dies.
        stopped.push(container);
        await docker.stopContainer({ container, timeoutSeconds: plan.stopTimeoutSeconds, workflowId, runId });
      }
      progress.downtimeStarted();
      progress.phase('swapping volume contents');
      await restore.swapRestoredVolumes({ items, restoreId });
    } finally {
      restarted = await restartStopped(docker, progress, stopped, workflowId);
      downtimeMs = restarted.downtimeMs;
    }
    progress.phase('removing the previous contents');
    await restore.settleVolumeRestore({ items, restoreId });
    await restarted.confirmed;
    progress.phase('done');
    return {
      definition: plan.definition,
      backupId: source.backupId,
      volumes: items.map((i) => ({
        source: i.source,
        volume: i.volume,
        object: i.object.name,
        plaintextBytes: i.object.plaintextBytes,
        created: i.created,
      })),
      stopped,
      downtimeMs,
    };
  } catch (err) {
    progress.phase(isCancellation(err) ? 'cancelled, cleaning up' : 'failed, cleaning up');
    await CancellationScope.nonCancellable(async () => {
      await restarted?.confirmed.catch(() => undefined);
      await restore.settleVolumeRestore({ items, restoreId });
    });
    throw err;
  } finally {
    await slot?.release();
  }
}
