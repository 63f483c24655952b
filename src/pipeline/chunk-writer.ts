// Stores chunks under their keyed names, each once per target prefix, a few at a time, and writes the
// chunk index that lists them in stream order. Shared by both ways a chunked volume is cut: the whole
// tar stream through the content chunker, and a scan that reads only the changed files
// (src/incremental/assemble.ts).
import { createHash, createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { encryptBuffer } from './age/encrypt.ts';
import { parseRecipient, type Recipient } from './age/keys.ts';
import type { Compression, CompressionAlgorithm } from './compression.ts';
import { chunkKey, formatChunkIndex, type ChunkRef } from '../storage/chunks.ts';
import type { BackupStore } from '../storage/store.ts';

const zstdCompress = promisify(zlib.zstdCompress);
const MiB = 1024 * 1024;
const gzip = promisify(zlib.gzip);

export interface ChunkWriterOptions {
  store: BackupStore;
  /** Where the chunk index goes (under the backup's prefix). */
  indexKey: string;
  /** Chunks already in the store a backup may reuse, with their stored sizes; chunks this writer uploads are added. */
  known: Map<string, number>;
  /** Every chunk in the store (reusable or marked by a prune), for reuse(); `known` when not given. */
  stored?: ReadonlyMap<string, number>;
  dedupKey: Buffer;
  compression: Compression;
  recipients: string[];
  /** Object Lock: extend the retention of every chunk reused from the store (store.extendRetention). */
  extendRetention?: boolean;
  /**
   * Chunks sealing or uploading at once, counted in MiB of plaintext (a smaller chunk counts as 1/4):
   * memory is about this many MiB x 2, and small chunks (64 KiB blocks) get more requests in flight.
   */
  parallel: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((plaintextBytes: number) => void) | undefined;
}

export interface ChunkedObject {
  plaintextBytes: number;
  /** The index's bytes plus every chunk it lists: what a restore of this object reads. */
  storedBytes: number;
  /** SHA-256 of the stored index, as for any other object of a backup. */
  sha256: string;
  indexBytes: number;
  chunks: number;
  /** Chunks (and their stored bytes) this writer uploaded; the others were in the store already. */
  newChunks: number;
  uploadedBytes: number;
}

export class MissingChunkError extends Error {
  override name = 'MissingChunkError';
  readonly retryable = false;
}

/**
 * The chunk's name. The compression is part of what is hashed: a chunk is stored compressed, and a
 * backup written with another algorithm must not reuse it (its manifest names one algorithm for all).
 */
export function chunkName(dedupKey: Buffer, algorithm: CompressionAlgorithm, plaintext: Buffer): string {
  return createHmac('sha256', dedupKey).update(`${algorithm}\n`).update(plaintext).digest('hex');
}

/**
 * Output buffer size for compressing `n` bytes: room for all of it in one piece (incompressible data
 * grows a little). zlib's default 16 KiB costs a thread-pool round trip per 16 KiB: measured 3-8x
 * slower for 1 MiB chunks.
 */
function outputRoom(n: number): number {
  return Math.max(64 * 1024, n + (n >> 7) + 1024);
}

/** One chunk's stored form: compressed (its own frame), then age-encrypted (its own file). */
async function sealChunk(
  plaintext: Buffer,
  compression: Compression,
  recipients: Recipient[],
): Promise<Buffer> {
  let compressed: Buffer;
  switch (compression.algorithm) {
    case 'zstd':
      compressed = await zstdCompress(plaintext, {
        chunkSize: outputRoom(plaintext.length),
        // The size known up front lets zstd size its tables to the chunk: 2.5x faster for 1 MiB chunks.
        pledgedSrcSize: plaintext.length,
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: compression.level ?? 3,
          [zlib.constants.ZSTD_c_checksumFlag]: 1,
        },
      });
      break;
    case 'gzip':
      compressed = await gzip(plaintext, {
        level: compression.level ?? 6,
        chunkSize: outputRoom(plaintext.length),
      });
      break;
    case 'none':
      compressed = plaintext;
  }
  return encryptBuffer(compressed, recipients);
}

/**
 * add() a chunk's plaintext (uploaded unless the store has it) or reuse() one known by name, in stream
 * order; finish() writes the index. Memory is bounded by `parallel` chunks in flight. A failure stops
 * the writer at the next add and is thrown from there or from finish(); chunks already uploaded stay
 * (the next backup reuses them; docs/FORMAT.md, "Prune").
 */
export class ChunkWriter {
  private readonly recipients: Recipient[];
  private readonly refs: ChunkRef[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightWeight = 0;
  private readonly seen = new Set<string>();
  private failure: Error | undefined;
  private plaintextBytes = 0;
  private newChunks = 0;
  private uploadedBytes = 0;

  private readonly options: ChunkWriterOptions;

  constructor(options: ChunkWriterOptions) {
    this.options = options;
    this.recipients = options.recipients.map((r) => parseRecipient(r));
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** The chunk of this plaintext: its name and stored size (once uploaded). */
  async add(plaintext: Buffer): Promise<ChunkRef> {
    const { known, dedupKey, compression } = this.options;
    const name = chunkName(dedupKey, compression.algorithm, plaintext);
    const ref: ChunkRef = { name, plaintextBytes: plaintext.length, storedBytes: known.get(name) ?? 0 };
    const reused = known.has(name);
    // A name seen in this stream before is uploading already: -1 until its size is known.
    if (!reused) known.set(name, -1);
    await this.take(ref, reused ? undefined : plaintext);
    return ref;
  }

  /** Whether the store (or this writer) has the chunk of this plaintext already. */
  isStored(plaintext: Buffer): boolean {
    const { known, dedupKey, compression } = this.options;
    return known.has(chunkName(dedupKey, compression.algorithm, plaintext));
  }

  /**
   * A chunk of the definition's latest backup: listed without reading it. It must still be in the
   * store (`stored`), marked by a prune or not (see listChunkStore).
   */
  async reuse(ref: ChunkRef, what: string): Promise<void> {
    if (!this.options.known.has(ref.name) && !this.options.stored?.has(ref.name)) {
      throw new MissingChunkError(`${what}: chunk ${ref.name} is no longer in the store`);
    }
    await this.take({ ...ref }, undefined);
  }

  private async take(ref: ChunkRef, upload: Buffer | undefined): Promise<void> {
    const { store, signal } = this.options;
    this.throwIfFailed();
    signal?.throwIfAborted();
    this.refs.push(ref);
    this.plaintextBytes += ref.plaintextBytes;
    this.options.onProgress?.(this.plaintextBytes);
    if (upload === undefined && (!this.options.extendRetention || this.seen.has(ref.name))) return;
    this.seen.add(ref.name);
    const work =
      upload === undefined
        ? store.extendRetention(chunkKey(ref.name), signal ? { signal } : {})
        : this.upload(ref, upload);
    const task = work.catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    });
    // Requests of small chunks are latency-bound: up to 4 per slot, while their bytes fit the slots.
    const weight = Math.max(ref.plaintextBytes / MiB, 0.25);
    this.inFlight.add(task);
    this.inFlightWeight += weight;
    void task.finally(() => {
      this.inFlight.delete(task);
      this.inFlightWeight -= weight;
    });
    while (this.inFlight.size > 0 && this.inFlightWeight >= this.options.parallel)
      await Promise.race(this.inFlight);
  }

  private async upload(ref: ChunkRef, plaintext: Buffer): Promise<void> {
    const { store, known, compression, signal } = this.options;
    const sealed = await sealChunk(plaintext, compression, this.recipients);
    await store.putBuffer(chunkKey(ref.name), sealed, signal ? { signal } : {});
    ref.storedBytes = sealed.length;
    known.set(ref.name, sealed.length);
    this.newChunks++;
    this.uploadedBytes += sealed.length;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for the uploads in flight; used on failure paths too (nothing is left running). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight);
  }

  async finish(): Promise<ChunkedObject> {
    const { store, known, signal } = this.options;
    await this.settle();
    this.throwIfFailed();
    signal?.throwIfAborted();
    // A chunk repeated within the stream took its size from the first upload.
    for (const ref of this.refs) if (ref.storedBytes <= 0) ref.storedBytes = known.get(ref.name) ?? 0;
    const index = Buffer.from(formatChunkIndex(this.refs));
    await store.putBuffer(this.options.indexKey, index, {
      contentType: 'text/plain',
      ...(signal ? { signal } : {}),
    });
    return {
      plaintextBytes: this.plaintextBytes,
      storedBytes: index.length + this.refs.reduce((n, r) => n + r.storedBytes, 0),
      sha256: createHash('sha256').update(index).digest('hex'),
      indexBytes: index.length,
      chunks: this.refs.length,
      newChunks: this.newChunks,
      uploadedBytes: this.uploadedBytes,
    };
  }
}
