// What every chunked object of a backup (a volume's tar, a database's dump) is stored with: the
// target's chunk store as one listing shows it, the dedup key, and how many chunks are in flight.
// The ways the bytes are cut differ (chunk-and-store.ts, incremental/); this is the part they share.
import { log } from '@temporalio/activity';
import type { ChunkedObject, ChunkWriterOptions } from '../pipeline/chunk-writer.ts';
import type { SealOptions } from '../pipeline/seal-and-store.ts';
import type { StoredObject } from '../plan/types.ts';
import { listChunkStore } from '../storage/chunks.ts';
import { PackCache } from '../storage/pack-cache.ts';
import type { S3Target } from '../storage/store.ts';

/**
 * MiB of chunks in flight per object, at least (see ChunkWriterOptions.parallel): a chunk is one small
 * PUT, so few in flight leave the connection waiting on round trips (docs/FORMAT.md, "Writing a backup").
 */
const CHUNK_UPLOADS = 8;

export interface ChunkStoreSettings {
  dedupKey: Buffer;
  /** Where the worker keeps what it knows of the store (the pack trailers it has read). */
  stateDir: string;
  parallel: number;
  extendRetention: boolean;
}

export interface ChunkStoreDeps {
  dedupKey: () => Promise<Buffer>;
  stateDir: string;
}

export async function chunkStoreSettings(
  target: S3Target,
  deps: ChunkStoreDeps,
): Promise<ChunkStoreSettings> {
  return {
    dedupKey: await deps.dedupKey(),
    stateDir: deps.stateDir,
    parallel: Math.max(target.queueSize, CHUNK_UPLOADS),
    // Object Lock: a reused chunk is locked at least as long as this backup's own objects.
    extendRetention: target.objectLock !== undefined,
  };
}

/** The chunk writer's options for one object, with the chunks the store holds: one listing per object. */
export async function chunkWriterOptions(
  options: SealOptions & ChunkStoreSettings,
): Promise<ChunkWriterOptions & { stored: ReadonlyMap<string, number> }> {
  const { store } = options;
  // One listing instead of a HEAD per chunk: 1,000 chunks (1 GiB) a request.
  const { reusable, stored, warnings } = await listChunkStore(
    store,
    await PackCache.load(options.stateDir, store.location),
  );
  for (const warning of warnings) log.warn('pack not reused', { location: store.location, warning });
  return {
    store,
    indexKey: options.key,
    known: reusable,
    stored,
    dedupKey: options.dedupKey,
    compression: options.compression,
    recipients: options.recipients,
    parallel: options.parallel,
    extendRetention: options.extendRetention,
    signal: options.signal,
    onProgress: options.onProgress,
  };
}

/** A stored chunked object as the manifest records it: the index's hash and sizes, and `chunked`. */
export function chunkedObjectRecord(
  stored: ChunkedObject,
): Pick<StoredObject, 'plaintextBytes' | 'storedBytes' | 'sha256' | 'chunked'> {
  const { indexBytes, chunks, newChunks, uploadedBytes, packed, newPacks, ...sealed } = stored;
  return {
    ...sealed,
    chunked: { indexBytes, chunks, newChunks, uploadedBytes, ...(packed > 0 ? { packed, newPacks } : {}) },
  };
}
