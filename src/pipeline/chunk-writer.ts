// Stores chunks under their keyed names, each once per target prefix, a few at a time, and writes the
// chunk index that lists them in stream order. Shared by both ways a chunked volume is cut: the whole
// tar stream through the content chunker, and a scan that reads only the changed files
// (src/incremental/assemble.ts).
import { createHash, createHmac } from 'node:crypto';
import zlib from 'node:zlib';
import { encryptBuffer } from './age/encrypt.ts';
import { discard } from './discard.ts';
import { parseRecipient, type Recipient } from './age/keys.ts';
import type { Compression, CompressionAlgorithm } from './compression.ts';
import {
  chunkKey,
  countPacked,
  formatChunkIndex,
  storedKey,
  type ChunkLocation,
  type ChunkRef,
} from '../storage/chunks.ts';
import { OpenPack, PACK_BELOW } from '../storage/pack.ts';
import type { BackupStore } from '../storage/store.ts';

const MiB = 1024 * 1024;

export interface ChunkWriterOptions {
  store: BackupStore;
  /** Where the chunk index goes (under the backup's prefix). */
  indexKey: string;
  /** Chunks already in the store a backup may reuse, and where; chunks this writer uploads are added. */
  known: Map<string, ChunkLocation>;
  /** Every object in the store (chunk or pack, reusable or marked by a prune), for reuse(). */
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
  /** Bytes uploaded: the new chunks, alone or in packs (with the packs' trailers). */
  uploadedBytes: number;
  /** Index lines that name a pack. */
  packed: number;
  /** Packs this writer stored. */
  newPacks: number;
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
 * grows a little), where zlib's default 16 KiB gives pieces to join (measured 3-8x slower for 1 MiB
 * chunks on the async path).
 */
function outputRoom(n: number): number {
  return Math.max(64 * 1024, n + (n >> 7) + 1024);
}

/**
 * One chunk's stored form: compressed (its own frame), then age-encrypted (its own file). Compressed
 * on the calling thread: zlib's async path (a thread-pool round trip and its stream machinery) costs
 * more than compressing a 64 KiB block (2,400 blocks: 0.83-0.89 s of CPU async, 0.19-0.22 s sync), and
 * for ~1 MiB chunks it took as long with 30-45 MB more peak RSS (670 MB mixed: 5.6-5.7 s, 240 MB
 * async; 5.7-5.9 s, 196-213 MB sync). A chunk of at most 8 MiB holds the event loop for milliseconds.
 */
function sealChunk(plaintext: Buffer, compression: Compression, recipients: Recipient[]): Buffer {
  let compressed: Buffer;
  switch (compression.algorithm) {
    case 'zstd':
      compressed = zlib.zstdCompressSync(plaintext, {
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
      compressed = zlib.gzipSync(plaintext, {
        level: compression.level ?? 6,
        chunkSize: outputRoom(plaintext.length),
      });
      break;
    case 'none':
      return encryptBuffer(plaintext, recipients);
  }
  const sealed = encryptBuffer(compressed, recipients);
  discard(compressed);
  return sealed;
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
  private newPacks = 0;
  private pack: OpenPack | undefined;

  private readonly options: ChunkWriterOptions;

  constructor(options: ChunkWriterOptions) {
    this.options = options;
    this.recipients = options.recipients.map((r) => parseRecipient(r));
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** The chunk of this plaintext: its name and stored size (once uploaded). Not kept once this returns. */
  async add(plaintext: Buffer): Promise<ChunkRef> {
    const { known, dedupKey, compression } = this.options;
    const name = chunkName(dedupKey, compression.algorithm, plaintext);
    const location = known.get(name);
    const ref: ChunkRef = { name, plaintextBytes: plaintext.length, ...(location ?? { storedBytes: 0 }) };
    const reused = location !== undefined;
    // A name seen in this stream before is uploading already: -1 until it is placed.
    if (!reused) known.set(name, { storedBytes: -1 });
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
    const { known, stored } = this.options;
    const present =
      ref.pack === undefined ? known.has(ref.name) || stored?.has(ref.name) : stored?.has(ref.pack);
    if (!present) {
      throw new MissingChunkError(
        `${what}: chunk ${ref.name}${ref.pack === undefined ? '' : ` (in pack ${ref.pack})`} is no longer in the store`,
      );
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
    // A reused chunk of a pack this writer is filling is retained with the pack (it is new).
    const key = upload === undefined && ref.storedBytes > 0 ? storedKey(ref) : undefined;
    if (upload === undefined && (!this.options.extendRetention || !key || this.seen.has(key))) return;
    if (key) this.seen.add(key);
    // Requests of small chunks are latency-bound: up to 4 per slot, while their bytes fit the slots.
    this.track(
      upload === undefined ? store.extendRetention(key!, signal ? { signal } : {}) : this.upload(ref, upload),
      Math.max(ref.plaintextBytes / MiB, 0.25),
    );
    while (this.inFlight.size > 0 && this.inFlightWeight >= this.options.parallel)
      await Promise.race(this.inFlight);
  }

  /** Counts `work` in flight with `weight` (MiB of slots) until it settles; its failure stops the writer. */
  private track(work: Promise<void>, weight: number): void {
    const task = work.catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    });
    this.inFlight.add(task);
    this.inFlightWeight += weight;
    void task.finally(() => {
      this.inFlight.delete(task);
      this.inFlightWeight -= weight;
    });
  }

  private async upload(ref: ChunkRef, plaintext: Buffer): Promise<void> {
    const { store, known, compression, signal } = this.options;
    const sealed = sealChunk(plaintext, compression, this.recipients);
    const storedBytes = sealed.length;
    if (plaintext.length < PACK_BELOW) {
      // Small chunks go into a pack, stored once it is full (or at finish()).
      this.pack ??= new OpenPack();
      ref.pack = this.pack.name;
      ref.offset = this.pack.add(ref.name, plaintext.length, sealed);
      if (this.pack.full) this.storePack();
    } else {
      await store.putBuffer(chunkKey(ref.name), sealed, signal ? { signal } : {});
      discard(sealed);
      this.uploadedBytes += storedBytes;
    }
    ref.storedBytes = storedBytes;
    known.set(ref.name, { storedBytes, pack: ref.pack, offset: ref.offset });
    this.seen.add(storedKey(ref)); // stored with the target's retention already
    this.newChunks++;
  }

  /** Stores the pack being filled; its chunks are part of the backup once this has succeeded. */
  private storePack(): void {
    const { store, signal } = this.options;
    const pack = this.pack!;
    this.pack = undefined;
    const body = pack.seal();
    const bytes = body.length;
    // The chunks were sealed for this pack alone (upload()); their bytes are in the body now.
    discard(...pack.placed);
    this.track(
      store.putBuffer(chunkKey(pack.name), body, signal ? { signal } : {}).then(() => {
        discard(body);
        this.uploadedBytes += bytes;
        this.newPacks++;
      }),
      bytes / MiB,
    );
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
    if (this.pack) {
      this.storePack();
      await this.settle();
      this.throwIfFailed();
    }
    signal?.throwIfAborted();
    // A chunk repeated within the stream took its place from the first upload.
    for (const ref of this.refs) {
      if (ref.storedBytes <= 0) {
        const { storedBytes, pack, offset } = known.get(ref.name) ?? { storedBytes: 0 };
        Object.assign(ref, { storedBytes }, pack === undefined ? {} : { pack, offset });
      }
    }
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
      packed: countPacked(this.refs),
      newPacks: this.newPacks,
    };
  }
}
