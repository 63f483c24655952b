import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type Docker from 'dockerode';
import {
  archiveVolume,
  archiveVolumeToFile,
  chooseArchiveMethod,
  type ArchiveMethod,
} from '../docker/archive.ts';
import { inspectVolume } from '../docker/volumes.ts';
import {
  planVolumeReads,
  storeChangedVolume,
  type PlanContext,
  type VolumeReads,
} from '../incremental/chunked-volume.ts';
import type { ReadPlan } from '../incremental/read-plan.ts';
import { compressionSuffix } from '../pipeline/compression.ts';
import { chunkAndStore } from '../pipeline/chunk-and-store.ts';
import { sealAndStore, type SealOptions, type SealSource } from '../pipeline/seal-and-store.ts';
import { CHUNK_INDEX_SUFFIX } from '../storage/chunks.ts';
import type { Staging, StandardBackupPlan, StoredObject } from '../plan/types.ts';
import { objectKey } from '../storage/layout.ts';
import type { StoreFor } from './stores.ts';
import { PreflightError } from './failure.ts';
import { progressHeartbeat } from './heartbeat.ts';
import {
  chunkedObjectRecord,
  chunkStoreSettings,
  chunkWriterOptions,
  type ChunkStoreSettings,
} from './chunk-store.ts';

export interface TransferActivityDeps {
  docker: Docker;
  storeFor: StoreFor;
  dedupKey: () => Promise<Buffer>;
  /** The worker's state directory: chunked volumes keep the record of their last backup there. */
  stateDir: string;
}

const MiB = 1024 * 1024;

function stagingPathFor(stagingDir: string, backupId: string, volume: string): string {
  return join(stagingDir, backupId, `${volume}.tar`);
}

/** Beside a staged archive of changed entries: the plan that says where the rest is stored. */
function readPlanPathFor(stagingDir: string, backupId: string, volume: string): string {
  return join(stagingDir, backupId, `${volume}.reads.json`);
}

function serializePlan(plan: ReadPlan): string {
  return JSON.stringify({ ...plan, list: plan.list.toString('base64') });
}

function parsePlan(text: string): ReadPlan {
  const parsed = JSON.parse(text) as Omit<ReadPlan, 'list'> & { list: string };
  return { ...parsed, list: Buffer.from(parsed.list, 'base64') };
}

const OWNER_FILE = '.owner';

/** The run this activity belongs to: the owner of its staging directory. */
function currentRun(): string {
  const run = Context.current().info.workflowExecution;
  if (!run) throw new Error('staging belongs to a workflow run; this activity was started outside one');
  return `${run.workflowId} ${run.runId}`;
}

async function stagingOwner(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, OWNER_FILE), 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes `dir` this run's staging: a directory of another run (a backup id shared by mistake, a
 * leftover of a run that is still going) is never written into or deleted by this one.
 */
async function claimStaging(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const me = currentRun();
  try {
    await writeFile(join(dir, OWNER_FILE), `${me}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const owner = await stagingOwner(dir);
    if (owner !== me) {
      throw new PreflightError(
        `staging directory ${dir} belongs to another run (${owner ?? 'unknown'}); this run (${me}) will not use it`,
      );
    }
  }
}

/** What archiving left in staging, so the upload can tell it is still whole. */
export interface StagedArchive {
  bytes: number;
  method: string;
  /** The kernel's boot id when the archive was written: staging is not fsynced, a reboot voids it. */
  bootId: string;
  /** A chunked volume of which only changed entries were archived (the read plan is beside it). */
  reads?: VolumeReads;
}

async function currentBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
}

async function checkStaged(path: string, staged: StagedArchive): Promise<number> {
  const { size } = await stat(path).catch(() => ({ size: -1 }));
  if ((await currentBootId()) !== staged.bootId || size !== staged.bytes) {
    throw new PreflightError(
      `the staged archive ${path} is not the one archived (${size} bytes, expected ${staged.bytes}; ` +
        'the host may have restarted since): the run must start over',
    );
  }
  return size;
}

function volumeObjectName(plan: StandardBackupPlan, volume: string): string {
  if (plan.volumeFormat === 'chunked') return `volumes/${volume}.tar${CHUNK_INDEX_SUFFIX}`;
  return `volumes/${volume}.tar${compressionSuffix[plan.compression.algorithm]}.age`;
}

interface ChunkedOptions extends ChunkStoreSettings {
  /** Only changed entries are in the source: where the rest is, and where to record this backup. */
  changed?: { plan: ReadPlan; context: PlanContext; backupId: string };
}

/** The chunked form of sealAndStore: the tar cut into deduplicated chunks, plus its chunk index. */
async function storeChunked(
  source: SealSource,
  options: SealOptions & ChunkedOptions,
): Promise<Pick<StoredObject, 'plaintextBytes' | 'storedBytes' | 'sha256' | 'chunked'>> {
  // Reads of 1 MiB. 4 MiB reads would hand most ~1 MiB chunks on as views instead of copies (7-12% less
  // CPU per GB), but the views keep their whole reads alive: peak RSS +30-50 MB, over the memory budget.
  const stream = 'file' in source ? createReadStream(source.file, { highWaterMark: MiB }) : source;
  const writer = await chunkWriterOptions(options);
  const stored = options.changed
    ? await storeChangedVolume(options.changed.plan, stream, {
        ...writer,
        ...options.changed.context,
        backupId: options.changed.backupId,
      })
    : await chunkAndStore(stream, writer);
  return chunkedObjectRecord(stored);
}

/** Activities that move bytes: volume -> staging, staging -> storage, volume -> storage. */
export function createTransferActivities({ docker, storeFor, dedupKey, stateDir }: TransferActivityDeps) {
  const planContext = (plan: StandardBackupPlan, volume: string): PlanContext => {
    const { endpoint, bucket, prefix } = plan.target;
    return {
      store: storeFor(plan.target),
      stateDir,
      id: { target: `${endpoint ?? 'aws'} ${bucket} ${prefix}`, definition: plan.definition, volume },
      algorithm: plan.compression.algorithm,
    };
  };

  /** A chunked volume on a mountpoint this host reads: scan, and plan to read only what changed. */
  async function planChangedReads(
    plan: StandardBackupPlan | undefined,
    volume: string,
    method: ArchiveMethod,
  ) {
    if (plan?.volumeFormat !== 'chunked' || method !== 'host') return undefined;
    const context = planContext(plan, volume);
    const { mountpoint } = await inspectVolume(docker, volume);
    return { ...(await planVolumeReads(mountpoint, context)), context };
  }

  async function seal(
    plan: StandardBackupPlan,
    recipients: string[],
    backupId: string,
    volume: string,
    open: (signal: AbortSignal) => Promise<{ source: SealSource; done: Promise<void> }>,
    totalBytes: number | undefined,
    changed?: { plan: ReadPlan; context: PlanContext },
  ): Promise<StoredObject> {
    const name = volumeObjectName(plan, volume);
    const startedAt = new Date().toISOString();
    const progress = progressHeartbeat('uploading', volume, totalBytes);
    try {
      const options: SealOptions = {
        store: storeFor(plan.target),
        key: objectKey(plan.definition, backupId, name),
        compression: plan.compression,
        recipients,
        signal: progress.signal,
        sizeHint: totalBytes,
        onProgress: progress.update,
      };
      const chunked: ChunkedOptions | undefined =
        plan.volumeFormat === 'chunked'
          ? {
              ...(await chunkStoreSettings(plan.target, { dedupKey, stateDir })),
              ...(changed ? { changed: { ...changed, backupId } } : {}),
            }
          : undefined;
      const { source, done } = await open(progress.signal);
      const sealed = chunked
        ? await storeChunked(source, { ...options, ...chunked })
        : await sealAndStore(source, options);
      // The producer's verdict: a tar that died early gives a short stream that looks complete.
      await done;
      return {
        name,
        kind: 'volume',
        source: volume,
        format: 'tar',
        startedAt,
        finishedAt: new Date().toISOString(),
        ...sealed,
      };
    } finally {
      progress.stop();
    }
  }

  return {
    /** Preflight for staged mode: room for the volumes (with margin) before anything is stopped. */
    async prepareStaging(input: {
      staging: Extract<Staging, { mode: 'staged' }>;
      backupId: string;
      bytesNeeded: number;
    }) {
      const dir = join(input.staging.dir, input.backupId);
      await claimStaging(dir);
      const fs = await statfs(input.staging.dir);
      const free = fs.bavail * fs.bsize;
      const needed = input.bytesNeeded * 1.1 + input.staging.minFreeMiB * MiB;
      if (free < needed) {
        await rm(dir, { recursive: true, force: true });
        throw new PreflightError(
          `staging directory ${input.staging.dir} has ${(free / MiB).toFixed(0)} MiB free, the volumes need about ` +
            `${(needed / MiB).toFixed(0)} MiB (volumes + 10% + staging.minFreeMiB); free space or set staging: none`,
        );
      }
    },

    async archiveVolumeToStaging(input: {
      volume: string;
      stagingDir: string;
      backupId: string;
      /** Given for chunked volumes: only what changed since the last backup is archived. */
      plan?: StandardBackupPlan;
    }): Promise<StagedArchive> {
      const progress = progressHeartbeat('archiving', input.volume);
      try {
        const method = await chooseArchiveMethod(docker, input.volume);
        const bootId = await currentBootId();
        const changed = await planChangedReads(input.plan, input.volume, method);
        if (changed) {
          await writeFile(
            readPlanPathFor(input.stagingDir, input.backupId, input.volume),
            serializePlan(changed.plan),
            {
              mode: 0o600,
            },
          );
        }
        const archived = await archiveVolumeToFile(
          docker,
          input.volume,
          stagingPathFor(input.stagingDir, input.backupId, input.volume),
          {
            method,
            signal: progress.signal,
            onProgress: progress.update,
            ...(changed ? { paths: changed.plan.list } : {}),
          },
        );
        return { ...archived, bootId, ...(changed ? { reads: changed.reads } : {}) };
      } finally {
        progress.stop();
      }
    },

    async uploadStagedVolume(input: {
      plan: StandardBackupPlan;
      recipients: string[];
      backupId: string;
      volume: string;
      stagingDir: string;
      staged: StagedArchive;
    }): Promise<StoredObject> {
      const path = stagingPathFor(input.stagingDir, input.backupId, input.volume);
      const size = await checkStaged(path, input.staged);
      const changed = input.staged.reads
        ? {
            plan: parsePlan(
              await readFile(readPlanPathFor(input.stagingDir, input.backupId, input.volume), 'utf8'),
            ),
            context: planContext(input.plan, input.volume),
          }
        : undefined;
      return seal(
        input.plan,
        input.recipients,
        input.backupId,
        input.volume,
        () => Promise.resolve({ source: { file: path }, done: Promise.resolve() }),
        size,
        changed,
      );
    },

    /** Streaming mode: no staging disk; the containers stay stopped until this upload ends. */
    async streamVolumeToStorage(input: {
      plan: StandardBackupPlan;
      recipients: string[];
      backupId: string;
      volume: string;
    }) {
      const method = await chooseArchiveMethod(docker, input.volume);
      const changed = await planChangedReads(input.plan, input.volume, method);
      return seal(
        input.plan,
        input.recipients,
        input.backupId,
        input.volume,
        async (signal) => {
          const archive = await archiveVolume(docker, input.volume, {
            method,
            signal,
            ...(changed ? { paths: changed.plan.list } : {}),
          });
          return { source: archive.stream, done: archive.done };
        },
        undefined,
        changed,
      );
    },

    async removeStaging(input: { stagingDir: string; backupId: string }): Promise<void> {
      const dir = join(input.stagingDir, input.backupId);
      const owner = await stagingOwner(dir);
      // A directory without an owner file is a run's from before owners were recorded, or half made.
      if (owner !== undefined && owner !== currentRun()) return;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type TransferActivities = ReturnType<typeof createTransferActivities>;
