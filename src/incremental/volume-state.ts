// The worker's record of a chunked volume's last backup: for each group of entries (by key), the
// chunks that hold its tar bytes. Kept in the worker's state directory, never in Temporal or S3: it
// only saves reading; lost or stale, the next backup reads the whole volume again.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChunkRef } from '../storage/chunks.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';

/** 2: a chunk in a pack is recorded with its pack and offset. Version 1 records are read as well. */
const VERSION = 2;
type RecordedRef = [
  name: string,
  plaintextBytes: number,
  storedBytes: number,
  pack?: string,
  offset?: number,
];

export interface VolumeStateId {
  /** The target's identity (endpoint, bucket, prefix): chunks are per prefix. */
  target: string;
  definition: string;
  volume: string;
}

export interface VolumeState {
  version: 1 | typeof VERSION;
  /** The backup whose chunks these are: used only while it is the definition's latest backup. */
  backupId: string;
  algorithm: CompressionAlgorithm;
  groups: Record<string, RecordedRef[]>;
  /** Large files by name (as tar names them, latin1): inode, mtime (ns), cut in blocks. */
  files?: LargeFiles;
}

export type LargeFiles = Record<string, [ino: string, mtimeNs: string, blocks: boolean]>;

function statePath(stateDir: string, id: VolumeStateId): string {
  const name = createHash('sha256')
    .update(JSON.stringify([id.target, id.definition, id.volume]))
    .digest('hex');
  return join(stateDir, 'chunked-volumes', `${name.slice(0, 32)}.json`);
}

function isState(value: unknown): value is VolumeState {
  const v = value as Partial<VolumeState> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    (v.version === 1 || v.version === VERSION) &&
    typeof v.backupId === 'string' &&
    typeof v.algorithm === 'string' &&
    typeof v.groups === 'object' &&
    v.groups !== null
  );
}

/** The record, or undefined when there is none or it cannot be read (then everything is read). */
export async function loadVolumeState(stateDir: string, id: VolumeStateId): Promise<VolumeState | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(statePath(stateDir, id), 'utf8'));
    return isState(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function reusableGroups(state: VolumeState): Map<string, ChunkRef[]> {
  return new Map(
    Object.entries(state.groups).map(([key, refs]) => [
      key,
      refs.map(([name, plaintextBytes, storedBytes, pack, offset]) =>
        pack === undefined
          ? { name, plaintextBytes, storedBytes }
          : { name, plaintextBytes, storedBytes, pack, offset },
      ),
    ]),
  );
}

/** Replaces the record atomically (a crash leaves the old one or the new one, never half of one). */
export async function saveVolumeState(
  stateDir: string,
  id: VolumeStateId,
  state: Omit<VolumeState, 'version' | 'groups'>,
  groups: ReadonlyMap<string, ChunkRef[]>,
): Promise<void> {
  const path = statePath(stateDir, id);
  await mkdir(join(stateDir, 'chunked-volumes'), { recursive: true, mode: 0o700 });
  const body: VolumeState = {
    version: VERSION,
    ...state,
    groups: Object.fromEntries(
      [...groups].map(([key, refs]) => [
        key,
        refs.map((r): RecordedRef =>
          r.pack === undefined
            ? [r.name, r.plaintextBytes, r.storedBytes]
            : [r.name, r.plaintextBytes, r.storedBytes, r.pack, r.offset!],
        ),
      ]),
    ),
  };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(body), { mode: 0o600 });
  await rename(tmp, path);
}

export async function forgetVolumeState(stateDir: string, id: VolumeStateId): Promise<void> {
  await rm(statePath(stateDir, id), { force: true });
}
