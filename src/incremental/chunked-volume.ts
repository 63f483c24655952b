// A chunked volume backup that reads only what changed: scan and plan while the containers are
// stopped (then tar reads just the planned entries), store after. The pieces are in this folder; this
// file ties them to the worker's state and the store.
import type { Readable } from 'node:stream';
import { HOST_TAR_ARGS } from '../docker/archive.ts';
import {
  ChunkWriter,
  MissingChunkError,
  type ChunkedObject,
  type ChunkWriterOptions,
} from '../pipeline/chunk-writer.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import { latestBackupId } from '../storage/manifest.ts';
import type { BackupStore } from '../storage/store.ts';
import { assembleChunks } from './assemble.ts';
import { groupEntries } from './entry-groups.ts';
import { planReads, type ReadPlan } from './read-plan.ts';
import {
  forgetVolumeState,
  loadVolumeState,
  reusableGroups,
  saveVolumeState,
  type VolumeStateId,
} from './volume-state.ts';
import { scanVolume, type ScannedEntry } from './volume-scan.ts';

export interface VolumeReads {
  entries: number;
  groups: number;
  reusedGroups: number;
  readEntries: number;
  readBytes: number;
  /** Why nothing was reused, when nothing was. */
  fullReadBecause?: string;
  scanMs: number;
}

export interface PlanContext {
  store: BackupStore;
  stateDir: string;
  id: VolumeStateId;
  algorithm: CompressionAlgorithm;
}

/** Everything besides the entries that decides their tar bytes: another value, nothing is reused. */
function saltFor(algorithm: CompressionAlgorithm): string {
  return `tar ${HOST_TAR_ARGS.join(' ')}\ncompression ${algorithm}`;
}

/**
 * Scans the volume at `mountpoint` and plans which entries to read: the groups the worker's record of
 * the definition's latest backup lists are reused, unless that record is missing, is of another backup
 * (a failed run's, an older one's) or of another compression.
 */
export async function planVolumeReads(
  mountpoint: string,
  ctx: PlanContext,
): Promise<{ plan: ReadPlan; reads: VolumeReads }> {
  const started = Date.now();
  const [entries, state, latest] = await Promise.all([
    scanVolume(mountpoint),
    loadVolumeState(ctx.stateDir, ctx.id),
    latestBackupId(ctx.store, ctx.id.definition),
  ]);
  const groups = groupEntries(entries, saltFor(ctx.algorithm), started);
  let fullReadBecause: string | undefined;
  if (!state) fullReadBecause = 'no record of an earlier backup on this worker';
  else if (state.backupId !== latest) {
    fullReadBecause = `the worker's record is of backup ${state.backupId}, the latest is ${latest ?? 'none'}`;
  } else if (state.algorithm !== ctx.algorithm) fullReadBecause = `the last backup used ${state.algorithm}`;
  const known = fullReadBecause ? undefined : state!.files;
  // Written in place since the last backup (same inode, new mtime), or cut in blocks then: blocks.
  const inPlace = (e: ScannedEntry) => {
    const before = known?.[e.path.toString('latin1')];
    return (
      before !== undefined && before[0] === String(e.ino) && (before[2] || before[1] !== String(e.mtimeNs))
    );
  };
  const plan = planReads(entries, groups, fullReadBecause ? undefined : reusableGroups(state!), inPlace);
  return {
    plan,
    reads: {
      entries: entries.length,
      groups: groups.length,
      reusedGroups: plan.reusedGroups,
      readEntries: plan.readEntries,
      readBytes: plan.readBytes,
      ...(fullReadBecause ? { fullReadBecause } : {}),
      scanMs: Date.now() - started,
    },
  };
}

/**
 * Stores the volume from `tar` (the planned entries only) and records its groups for the next backup.
 * A reused chunk gone from the store voids the record, so that the next attempt reads everything.
 */
export async function storeChangedVolume(
  plan: ReadPlan,
  tar: Readable,
  options: ChunkWriterOptions & PlanContext & { backupId: string },
): Promise<ChunkedObject> {
  const writer = new ChunkWriter(options);
  const what = `volume '${options.id.volume}'`;
  try {
    const { recorded, cutInBlocks } = await assembleChunks(plan, tar, writer, what);
    for (const file of cutInBlocks) plan.files[file]![2] = true;
    const stored = await writer.finish();
    await saveVolumeState(
      options.stateDir,
      options.id,
      { backupId: options.backupId, algorithm: options.algorithm, files: plan.files },
      recorded,
    );
    return stored;
  } catch (err) {
    tar.destroy();
    await writer.settle();
    if (err instanceof MissingChunkError) await forgetVolumeState(options.stateDir, options.id);
    throw err;
  }
}
