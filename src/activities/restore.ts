import { statfs, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type Docker from 'dockerode';
import { Context, log } from '@temporalio/activity';
import type { ClosedRuns } from '../closed-runs.ts';
import { containersUsingVolume, inspectContainer } from '../docker/containers.ts';
import type { StoppedRecord } from '../docker/stopped-record.ts';
import { VolumeNotFoundError, mapDockerError } from '../docker/errors.ts';
import { inspectVolume, isMountpointReadable, type VolumeInfo } from '../docker/volumes.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import type { RestoreVolumesPlan } from '../plan/types.ts';
import { UnsupportedRestoreTargetError, VolumeInUseError, RestoreError } from '../restore/errors.ts';
import { findBackup } from '../restore/find-backup.ts';
import { loadIdentities } from '../restore/identity.ts';
import { extractVolumeArchive } from '../restore/extract.ts';
import { checkIdentityMatches, selectVolumes } from '../restore/select.ts';
import { freshStaging, markReady, exists, restorePaths, settle, swapIn } from '../restore/swap.ts';
import { EarlyWriteback } from '../restore/writeback.ts';
import { syncFilesystem } from '../sync-filesystem.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import { objectKey } from '../storage/layout.ts';
import type { S3Target } from '../storage/store.ts';
import { leftByClosedRun } from './adopt.ts';
import { progressHeartbeat } from './heartbeat.ts';
import type { StoreFor } from './stores.ts';

export interface RestoreActivityDeps {
  docker: Docker;
  storeFor: StoreFor;
  stopped: StoppedRecord;
  closedRuns: ClosedRuns;
}

/** One volume of a restore, as the workflow carries it between activities. */
export interface VolumeRestoreTarget {
  source: string;
  volume: string;
  mountpoint: string;
  created: boolean;
  key: string;
  object: ManifestObject;
}

export interface VolumeRestoreSource {
  backupId: string;
  compression: CompressionAlgorithm;
  targets: VolumeRestoreTarget[];
}

const MiB = 1024 * 1024;

async function ensureVolume(docker: Docker, name: string, labels: Record<string, string>) {
  try {
    return { info: await inspectVolume(docker, name), created: false };
  } catch (err) {
    if (!(err instanceof VolumeNotFoundError)) throw err;
  }
  try {
    await docker.createVolume({ Name: name, Labels: labels });
  } catch (err) {
    throw mapDockerError(err, `creating volume '${name}'`);
  }
  return { info: await inspectVolume(docker, name), created: true };
}

/** The swap renames `_data`: it must be a plain directory of the volume's directory, on the same filesystem. */
async function checkSwappable(volume: VolumeInfo): Promise<void> {
  const why = (reason: string) =>
    new UnsupportedRestoreTargetError(
      `cannot restore into volume '${volume.name}': ${reason}. dockvault restores by extracting next to the ` +
        `volume's data directory and swapping it in, which needs the worker to reach the mountpoint directly ` +
        `(a 'local' volume, worker running as root on the Docker host); Docker Desktop, remote engines and ` +
        `other volume drivers are not supported for restores yet`,
    );
  if (volume.driver !== 'local') throw why(`its driver is '${volume.driver}'`);
  if (!(await isMountpointReadable(volume)))
    throw why(`its mountpoint ${volume.mountpoint} is not reachable from this worker`);
  const [data, parent] = await Promise.all([stat(volume.mountpoint), stat(dirname(volume.mountpoint))]);
  if (data.dev !== parent.dev) {
    throw why(`its mountpoint ${volume.mountpoint} is a separate filesystem (a volume with driver options)`);
  }
}

/** Activities of `dockvault restore` for volumes: choose, stage, swap, clean up. */
export function createRestoreActivities({ docker, storeFor, stopped, closedRuns }: RestoreActivityDeps) {
  return {
    /**
     * Preflight, before anything is stopped or written: the backup exists, the identity can decrypt
     * it, the selected volumes are in it, each target volume exists (created when missing), can be
     * swapped, and has room for the extracted tree next to the current one.
     */
    async loadVolumeRestore(input: { plan: RestoreVolumesPlan }): Promise<VolumeRestoreSource> {
      const { plan } = input;
      const store = storeFor(plan.target);
      const identities = await loadIdentities(plan.identityFile);
      const manifest = await findBackup(store, plan.definition, plan.backup);
      if (manifest.type !== 'standard') {
        throw new RestoreError(
          `${plan.definition}/${manifest.backupId} is a ${manifest.type} backup, not a volume backup`,
        );
      }
      checkIdentityMatches(
        manifest,
        identities.map((i) => i.recipient),
        plan.identityFile,
      );
      const items = selectVolumes(manifest, plan.volumes, plan.mappings);
      const targets: VolumeRestoreTarget[] = [];
      const needBytes = new Map<string, { path: string; bytes: number }>();
      for (const item of items) {
        const { info, created } = await ensureVolume(docker, item.volume, {
          'dockvault.restored-from': `${plan.definition}/${manifest.backupId}/${item.source}`,
        });
        await checkSwappable(info);
        const parent = dirname(info.mountpoint);
        const key = String((await stat(parent)).dev);
        const need = needBytes.get(key) ?? { path: parent, bytes: 0 };
        need.bytes += item.object.plaintextBytes;
        needBytes.set(key, need);
        targets.push({
          source: item.source,
          volume: item.volume,
          mountpoint: info.mountpoint,
          created,
          key: objectKey(plan.definition, manifest.backupId, item.object.name),
          object: item.object,
        });
      }
      for (const { path, bytes } of needBytes.values()) {
        const fs = await statfs(path);
        const free = fs.bavail * fs.bsize;
        const needed = bytes * 1.05 + 64 * MiB;
        if (free < needed) {
          throw new RestoreError(
            `${path} has ${(free / MiB).toFixed(0)} MiB free; the restored tree needs about ${(needed / MiB).toFixed(0)} MiB ` +
              'next to the current contents until the swap; nothing was stopped or changed',
          );
        }
      }
      return { backupId: manifest.backupId, compression: manifest.compression.algorithm, targets };
    },

    /**
     * Downloads, checks, decrypts, decompresses and extracts one volume's archive into a fresh staging
     * directory next to the volume's data, while its containers still run. Only a complete extraction
     * whose stored bytes match the manifest's sha256 is marked ready; anything else is deleted.
     */
    async stageVolumeRestore(input: {
      target: S3Target;
      identityFile: string;
      compression: CompressionAlgorithm;
      item: VolumeRestoreTarget;
      restoreId: string;
    }): Promise<{ plaintextBytes: number }> {
      const { item } = input;
      const paths = restorePaths(item.mountpoint, input.restoreId);
      if (await exists(paths.ready)) return { plaintextBytes: item.object.plaintextBytes };
      const progress = progressHeartbeat('restoring', item.volume, item.object.storedBytes);
      try {
        await freshStaging(paths);
        const started = performance.now();
        const writeback = new EarlyWriteback(paths.staging);
        try {
          await extractVolumeArchive({
            store: storeFor(input.target),
            target: input.target,
            key: item.key,
            object: item.object,
            compression: input.compression,
            identityFile: input.identityFile,
            directory: paths.staging,
            signal: progress.signal,
            onProgress: (bytes) => {
              progress.update(bytes);
              writeback.progress(bytes);
            },
          });
        } finally {
          await writeback.settle();
        }
        const extracted = performance.now();
        // Swapped in only once on disk: a crash after the swap must not leave empty or partial files.
        await syncFilesystem(paths.staging);
        await markReady(paths);
        log.info('staged restore', {
          volume: item.volume,
          bytes: item.object.plaintextBytes,
          extractSeconds: (extracted - started) / 1000,
          syncSeconds: (performance.now() - extracted) / 1000,
        });
        return { plaintextBytes: item.object.plaintextBytes };
      } catch (err) {
        await settle(paths).catch(() => undefined);
        throw err;
      } finally {
        progress.stop();
      }
    },

    /**
     * Running containers that mount any of the volumes, in a stable order (the stop order). One that
     * a terminated run left stopped counts as running (see leftByClosedRun): this restore stops and
     * restarts it, and no reconciler tick starts it in the middle of the swap.
     */
    async runningContainersUsing(input: { volumes: string[] }): Promise<string[]> {
      // Run outside a workflow (a test), nothing is anyone's own.
      const self = Context.current().info.workflowExecution ?? { workflowId: '', runId: '' };
      const names: string[] = [];
      for (const volume of input.volumes) {
        for (const c of await containersUsingVolume(docker, volume)) {
          if (names.includes(c.name)) continue;
          const running =
            c.running ||
            (await stopped.exclusive(
              c.name,
              async () =>
                (await inspectContainer(docker, c.name)).running ||
                (await leftByClosedRun(stopped, closedRuns, c.name, self)).length > 0,
            ));
          if (running) names.push(c.name);
        }
      }
      return names;
    },

    /**
     * With every user of the volumes stopped, swaps each ready tree in: two renames per volume.
     * Refuses (changing nothing) while any container using a volume runs.
     */
    async swapRestoredVolumes(input: { items: VolumeRestoreTarget[]; restoreId: string }): Promise<void> {
      const running: string[] = [];
      for (const item of input.items) {
        for (const c of await containersUsingVolume(docker, item.volume)) {
          if (c.running) running.push(`${c.name} (uses ${item.volume})`);
        }
      }
      if (running.length > 0) {
        throw new VolumeInUseError(
          `cannot restore: running container(s) ${running.join(', ')} could not be stopped (or were started again); ` +
            'no volume was changed',
        );
      }
      for (const item of input.items) {
        const outcome = await swapIn(restorePaths(item.mountpoint, input.restoreId));
        log.info('swapped restored volume', { volume: item.volume, outcome });
      }
    },

    /** Success or failure: no volume is left without its data directory, and no restore leftovers stay. */
    async settleVolumeRestore(input: { items: VolumeRestoreTarget[]; restoreId: string }): Promise<void> {
      for (const item of input.items) await settle(restorePaths(item.mountpoint, input.restoreId));
    },
  };
}

export type RestoreActivities = ReturnType<typeof createRestoreActivities>;
