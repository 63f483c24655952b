// Chunk collection, the last step of a prune (docs/FORMAT.md, "Prune"). Two phases, a grace period
// apart: a prune marks the chunks no backup references (a marker object lists them with the tag of their
// stored version); a later prune deletes those that a marker at least the grace period old lists with
// the tag they still have, and that are still unreferenced. Chunks are shared by every definition and
// host of the prefix, so the references are read from all of it.
import { text } from 'node:stream/consumers';
import { CHUNKS_DIR, ChunkIndexError, listStoredChunks, parseChunkIndex } from './chunks.ts';
import { formatMarker, markerKey, readMarkers, type CandidateMarker } from './chunk-markers.ts';
import { listDefinitions, scanDefinition } from './manifest.ts';
import { mapLimit } from './map-limit.ts';
import { DeleteObjectsError, ObjectNotFoundError, StorageAccessError, type BackupStore } from './store.ts';
import type { ObjectInfo } from './store.ts';

/** The default of s3.chunkGrace, for plans made before it existed: a day and an hour. */
export const DEFAULT_CHUNK_GRACE_MS = 25 * 3_600_000;

export interface ChunkCount {
  chunks: number;
  bytes: number;
}

export interface ChunkGcResult {
  /** Chunks listed by an index of a backup (or of a run that may still be in progress). */
  referenced: ChunkCount;
  /** Chunks no index lists (those not deleted now are marked, for a prune after the grace period). */
  candidates: ChunkCount;
  /** Candidates marked at least the grace period ago, unchanged since: deleted (in a dry run: would be). */
  deleted: ChunkCount;
  /** Deletions refused by Object Lock retention: kept, tried again by the next prune. */
  locked: ChunkCount;
  graceMs: number;
  /** The marker this prune wrote, if it found candidates (never in a dry run). */
  marker?: string | undefined;
  markersRemoved: number;
  warnings: string[];
}

export interface ChunkGcOptions {
  graceMs: number;
  /** Backup prefixes without a manifest whose newest object is younger than this may still be uploading. */
  inProgressMs: number;
  dryRun: boolean;
  now: Date;
  /** Backup prefixes (`<definition>/<id>/`) to count as gone: what a dry run would have deleted. */
  ignoring?: Set<string> | undefined;
}

const zero = (): ChunkCount => ({ chunks: 0, bytes: 0 });

function add(count: ChunkCount, object: ObjectInfo): void {
  count.chunks++;
  count.bytes += object.size;
}

/**
 * Every chunk (and pack) name an index of the prefix lists: indexes of complete backups (manifest present) and of
 * prefixes without a manifest that may belong to a run in progress. Undefined, with the reason, when an
 * index cannot be read: then nothing can be known to be unreferenced.
 */
async function referencedChunks(
  store: BackupStore,
  opts: ChunkGcOptions,
): Promise<{ names: Set<string> } | { problem: string }> {
  const inProgressSince = opts.now.getTime() - opts.inProgressMs;
  const indexes: string[] = [];
  for (const definition of await listDefinitions(store)) {
    for (const scan of await scanDefinition(store, definition)) {
      if (opts.ignoring?.has(`${definition}/${scan.backupId}/`)) continue;
      if (scan.hasManifest || scan.newest.getTime() > inProgressSince) indexes.push(...scan.chunkIndexes);
    }
  }
  const names = new Set<string>();
  const problems: string[] = [];
  await mapLimit(indexes, 8, async (key) => {
    let body: string;
    try {
      body = await text(await store.get(key));
    } catch (err) {
      // Removed since the listing: its backup was pruned, or its failed run cleaned up.
      if (err instanceof ObjectNotFoundError) return;
      throw err;
    }
    try {
      for (const ref of parseChunkIndex(body, key)) {
        names.add(ref.name);
        // A pack is kept while any chunk in it is listed.
        if (ref.pack !== undefined) names.add(ref.pack);
      }
    } catch (err) {
      if (!(err instanceof ChunkIndexError)) throw err;
      problems.push(err.message);
    }
  });
  if (problems.length > 0) return { problem: problems.join('; ') };
  return { names };
}

/** Candidates a marker at least the grace period old lists with the tag they still have. */
function expired(candidates: Map<string, ObjectInfo>, aged: CandidateMarker[]): Map<string, ObjectInfo> {
  const due = new Map<string, ObjectInfo>();
  for (const [name, object] of candidates) {
    if (aged.some((m) => m.candidates.get(name) === object.etag)) due.set(name, object);
  }
  return due;
}

/**
 * Rewrites the markers that list chunks an index lists now (a run that reused a chunk while a prune
 * marked it), without them: backups may reuse them again, and a chunk reused by name from the
 * previous backup (without reading it) is found in the listing. Leaving entries out only ever keeps
 * more chunks, so a concurrent rewrite or removal of the same marker is harmless.
 */
async function unmarkReferenced(
  store: BackupStore,
  markers: CandidateMarker[],
  referenced: Set<string>,
): Promise<void> {
  for (const marker of markers) {
    const stale = [...marker.candidates.keys()].filter((name) => referenced.has(name));
    if (stale.length === 0) continue;
    for (const name of stale) marker.candidates.delete(name);
    await store.putBuffer(marker.key, formatMarker(marker.candidates), {
      contentType: 'text/plain',
      unlocked: true,
    });
  }
}

function isLockDenial(code: string): boolean {
  return code === 'AccessDenied';
}

/**
 * Deletes the due chunks one `_chunks/<2 hex>/` directory at a time, each right after a fresh listing of
 * it: a chunk uploaded again since it was marked (a backup that skipped it because it was marked) has
 * another tag and stays. Returns false when a failure other than Object Lock stopped it.
 */
async function sweep(
  store: BackupStore,
  due: Map<string, ObjectInfo>,
  referenced: Set<string>,
  result: ChunkGcResult,
  deleted: Set<string>,
): Promise<boolean> {
  const byDir = new Map<string, string[]>();
  for (const name of due.keys()) {
    const dir = name.slice(0, 2);
    byDir.set(dir, [...(byDir.get(dir) ?? []), name]);
  }
  for (const [dir, names] of [...byDir].sort(([a], [b]) => a.localeCompare(b))) {
    const now = await listStoredChunks(store, `${CHUNKS_DIR}/${dir}/`);
    const doomed = names.flatMap((name) => {
      const object = now.get(name);
      return object && object.etag === due.get(name)?.etag && !referenced.has(name) ? [object] : [];
    });
    if (doomed.length === 0) continue;
    let refused = new Map<string, string>();
    try {
      await store.deleteMany(doomed.map((o) => o.key));
    } catch (err) {
      if (err instanceof DeleteObjectsError) refused = new Map(err.failures.map((f) => [f.key, f.code]));
      else if (err instanceof StorageAccessError && /object lock|retention/i.test(err.message)) {
        refused = new Map(doomed.map((o) => [o.key, 'AccessDenied']));
      } else {
        result.warnings.push(`chunk deletion stopped: ${(err as Error).message}`);
        return false;
      }
    }
    for (const object of doomed) {
      const code = refused.get(object.key);
      if (code === undefined) {
        add(result.deleted, object);
        deleted.add(object.key.slice(object.key.lastIndexOf('/') + 1));
      } else if (isLockDenial(code)) add(result.locked, object);
      else result.warnings.push(`${object.key}: not deleted (${code})`);
    }
  }
  return true;
}

/** The collection itself; prune calls it after deleting backups, so their chunks are unreferenced already. */
export async function collectChunks(store: BackupStore, opts: ChunkGcOptions): Promise<ChunkGcResult> {
  const result: ChunkGcResult = {
    referenced: zero(),
    candidates: zero(),
    deleted: zero(),
    locked: zero(),
    graceMs: opts.graceMs,
    markersRemoved: 0,
    warnings: [],
  };
  // Markers first, then the chunks, then the indexes: every backup that could have reused an aged
  // marker's chunks without seeing the marker started before it was written, so it has written its
  // manifest before `now`; a backup that completes during the reading only adds references.
  const { markers, unreadable } = await readMarkers(store);
  for (const key of unreadable) result.warnings.push(`${key}: not a candidate marker, ignored`);
  const aged = markers.filter((m) => opts.now.getTime() - m.writtenAt.getTime() >= opts.graceMs);
  const stored = await listStoredChunks(store);
  if (stored.size === 0 && markers.length === 0) return result;
  const refs = await referencedChunks(store, opts);
  if ('problem' in refs) {
    result.warnings.push(`chunks not collected: ${refs.problem}`);
    return result;
  }
  const candidates = new Map<string, ObjectInfo>();
  for (const [name, object] of stored) {
    if (refs.names.has(name)) add(result.referenced, object);
    else if (object.etag) {
      candidates.set(name, object);
      add(result.candidates, object);
    } else result.warnings.push(`${object.key}: the store gives no tag for it, not collected`);
  }
  const due = expired(candidates, aged);
  if (!opts.dryRun) await unmarkReferenced(store, markers, refs.names);
  if (opts.dryRun) {
    for (const object of due.values()) add(result.deleted, object);
    return result;
  }
  const deleted = new Set<string>();
  if (!(await sweep(store, due, refs.names, result, deleted))) return result;
  // The new marker is in place before the used ones go, so a chunk still unreferenced is never
  // unmarked; its time is when it is written, which is when backups start to see it.
  const remaining = new Map(
    [...candidates].flatMap(([name, o]) => (deleted.has(name) ? [] : [[name, o.etag!] as const])),
  );
  // A younger marker listing all of them already does the job (a prune of each definition after each
  // backup would otherwise write one marker per run).
  const covered = markers.some(
    (m) => !aged.includes(m) && [...remaining].every(([name, etag]) => m.candidates.get(name) === etag),
  );
  if (remaining.size > 0 && !covered) {
    const marker = markerKey(new Date());
    await store.putBuffer(marker, formatMarker(remaining), { contentType: 'text/plain', unlocked: true });
    result.marker = marker;
  }
  if (aged.length > 0) {
    try {
      await store.deleteMany(aged.map((m) => m.key));
      result.markersRemoved = aged.length;
    } catch (err) {
      // A bucket's default retention locks them too: they only cost a read per backed-up volume.
      result.warnings.push(`used candidate markers not removed: ${(err as Error).message}`);
    }
  }
  return result;
}
