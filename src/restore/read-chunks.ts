import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { AgeError } from '../pipeline/age/errors.ts';
import { collect } from '../pipeline/collect.ts';
import { decryptBuffer } from '../pipeline/age/decrypt.ts';
import { discard } from '../pipeline/discard.ts';
import type { Identity } from '../pipeline/age/keys.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import { Meter } from '../pipeline/meter.ts';
import {
  ChunkIndexError,
  describeStored,
  parseChunkIndex,
  storedKey,
  type ChunkRef,
} from '../storage/chunks.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import { type BackupStore, ObjectNotFoundError, StorageError } from '../storage/store.ts';
import { CorruptBackupObjectError } from './errors.ts';
import { planChunkReads, type ChunkRead } from './chunk-reads.ts';
import { checkStoredObject } from './read-object.ts';

/**
 * Chunks downloaded and decrypted ahead of the one being written: up to this many, and while they add
 * up to less than READ_AHEAD_BYTES (stored plus plaintext). Small chunks (blocks of files written in
 * place, 64 KiB) need many requests in flight to keep the connection busy; big ones need few.
 */
const READ_AHEAD = 16;
const READ_AHEAD_BYTES = 24 * 1024 * 1024;

export interface ReadChunkedOptions {
  store: BackupStore;
  /** The chunk index's key, which is also how messages name the object. */
  key: string;
  object: ManifestObject & { chunked: NonNullable<ManifestObject['chunked']> };
  compression: CompressionAlgorithm;
  identities: Identity[];
  /** Receives the plaintext (the tar stream), already decompressed. */
  sink: Writable;
  signal?: AbortSignal | undefined;
  onProgress?: ((storedBytes: number) => void) | undefined;
}

function decompress(data: Buffer, algorithm: CompressionAlgorithm, limit: number): Buffer {
  // One byte over the expected size is enough to tell that a chunk is not the one listed; an output
  // buffer of that size decompresses in one piece. On the calling thread (the reading thread of a
  // restore): zlib's async path costs more than the work for chunks of this size (chunk-writer.ts).
  const opts = { maxOutputLength: limit + 1, chunkSize: Math.max(64, limit + 1) };
  switch (algorithm) {
    case 'zstd':
      return zlib.zstdDecompressSync(data, opts);
    case 'gzip':
      return zlib.gunzipSync(data, opts);
    case 'none':
      return data;
  }
}

/** The index of a chunked object: its sha256 checked against the manifest, its lengths against its totals. */
export async function readIndex(
  opts: Pick<ReadChunkedOptions, 'store' | 'key' | 'object' | 'signal'>,
): Promise<ChunkRef[]> {
  const { store, key, object } = opts;
  const stored = new Meter();
  const text = await collect(
    (await store.get(key, { signal: opts.signal, size: object.chunked.indexBytes })).pipe(stored),
  );
  checkStoredObject(store.location, key, { ...object, storedBytes: object.chunked.indexBytes }, stored);
  let refs: ChunkRef[];
  try {
    refs = parseChunkIndex(text.toString('utf8'), key);
  } catch (err) {
    if (err instanceof ChunkIndexError) throw new CorruptBackupObjectError(err.message, { cause: err });
    throw err;
  }
  const total = refs.reduce((n, r) => n + r.plaintextBytes, 0);
  if (refs.length !== object.chunked.chunks || total !== object.plaintextBytes) {
    throw new CorruptBackupObjectError(
      `${key}: the chunk index lists ${refs.length} chunks of ${total} bytes, the manifest ${object.chunked.chunks} of ${object.plaintextBytes}`,
    );
  }
  return refs;
}

/** What is wrong with a chunk, without the object that lists it (several may). */
class ChunkReadError extends Error {
  override name = 'ChunkReadError';
  readonly retryable = false;
}

export interface ChunkSource {
  store: BackupStore;
  compression: CompressionAlgorithm;
  identities: Identity[];
  signal?: AbortSignal | undefined;
}

const fail = (what: string, cause?: unknown) => new ChunkReadError(what, { cause });

/**
 * The stored bytes of one read: a chunk alone (its stored size checked), or a range of a pack (its
 * length checked). Missing or unreadable is a ChunkReadError (of the read's first chunk).
 */
async function readStored(
  source: ChunkSource,
  { first, range }: Omit<ChunkRead, 'positions'>,
): Promise<Buffer> {
  const length = range?.length ?? first.storedBytes;
  let stored: Buffer;
  try {
    stored = await collect(
      await source.store.get(storedKey(first), {
        signal: source.signal,
        selfChecked: true,
        ...(range ? { range } : { size: length }),
      }),
      length,
    );
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw fail('is missing from the store', err);
    if (err instanceof StorageError && !err.retryable) throw fail(`cannot be read: ${err.message}`, err);
    throw err;
  }
  if (stored.length !== length) throw fail(`is ${stored.length} bytes, the index says ${length}`);
  return stored;
}

/** A chunk's own bytes within what its read returned. */
function sealedOf(read: ChunkRead, stored: Buffer, ref: ChunkRef): Buffer {
  if (!read.range) return stored;
  const from = ref.offset! - read.range.offset;
  return stored.subarray(from, from + ref.storedBytes);
}

/**
 * The plaintext of one listed chunk: get (its stored size checked) -> age decrypt (authenticated) ->
 * decompress -> exactly the listed length. A damaged or missing chunk is a ChunkReadError saying what
 * is wrong; a transient storage failure is thrown as it is.
 */
async function readChunkPlaintext(source: ChunkSource, ref: ChunkRef): Promise<Buffer> {
  const range = ref.pack === undefined ? undefined : { offset: ref.offset!, length: ref.storedBytes };
  return openChunk(source, ref, await readStored(source, { first: ref, range }));
}

/** A chunk's stored bytes to its plaintext, checked (see readChunkPlaintext). */
function openChunk(source: ChunkSource, ref: ChunkRef, sealed: Buffer): Buffer {
  let plaintext: Buffer;
  try {
    const compressed = decryptBuffer(sealed, source.identities, { name: describeStored(ref) });
    plaintext = decompress(compressed, source.compression, ref.plaintextBytes);
    if (plaintext !== compressed) discard(compressed);
  } catch (err) {
    if (source.signal?.aborted) throw err;
    if (err instanceof AgeError) throw fail(`failed decryption: ${err.message}`, err);
    throw fail(`does not decompress (${source.compression}): ${(err as Error).message}`, err);
  }
  if (plaintext.length !== ref.plaintextBytes) {
    throw fail(`holds ${plaintext.length} bytes, the index says ${ref.plaintextBytes}`);
  }
  return plaintext;
}

/** What is wrong with a chunk, undefined when nothing is; other errors (storage down) are thrown. */
async function problemOf(open: () => unknown): Promise<ChunkReadError | undefined> {
  try {
    await open();
    return undefined;
  } catch (err) {
    if (err instanceof ChunkReadError) return err;
    throw err;
  }
}

/**
 * Reads one planned read and opens every chunk it serves (verify): for each of `read.positions`, the
 * chunk's ChunkReadError, or undefined when it is intact. A range of a pack that cannot be read whole
 * is read again chunk by chunk, so that each chunk's own problem is told (the one truncated, not all).
 */
export async function checkChunkRead(
  source: ChunkSource,
  read: ChunkRead,
  refs: ChunkRef[],
): Promise<(ChunkReadError | undefined)[]> {
  let stored: Buffer | undefined;
  const failed = await problemOf(async () => (stored = await readStored(source, read)));
  const found: (ChunkReadError | undefined)[] = [];
  for (const i of read.positions) {
    const ref = refs[i]!;
    if (stored) found.push(await problemOf(() => openChunk(source, ref, sealedOf(read, stored!, ref))));
    else
      found.push(
        read.positions.length === 1 ? failed : await problemOf(() => readChunkPlaintext(source, ref)),
      );
  }
  return found;
}

/** How a chunk's problem is told for one object that lists it. */
export function chunkProblem(key: string, ref: ChunkRef, i: number, of: number, what: string): string {
  return `${key}: chunk ${i + 1} of ${of} (${describeStored(ref)}) ${what}`;
}

/**
 * readBackupObject for a chunked volume: the index (its sha256 checked against the manifest), then each
 * chunk in order, a few read ahead, into the sink. The caller discards what the sink produced when this
 * throws.
 */
export async function readChunkedObject(opts: ReadChunkedOptions): Promise<{ storedBytes: number }> {
  const refs = await readIndex(opts);
  const reads = planChunkReads(refs);
  const readOf = new Int32Array(refs.length);
  reads.forEach((read, r) => read.positions.forEach((i) => (readOf[i] = r)));
  // Reads started and not yet used up, and the stored bytes they hold.
  const started: (Promise<Buffer> | undefined)[] = [];
  const left = reads.map((read) => read.positions.length);
  const holding = new Array<number>(reads.length);
  let live = 0;
  let held = 0;
  let next = 0;
  const cost = (read: ChunkRead) => read.range?.length ?? read.first.storedBytes;
  /** Starts reads in order: always up to `needed`, more while few and small enough. */
  const fill = (needed: number) => {
    while (
      next < reads.length &&
      (next <= needed || (live < READ_AHEAD && held + cost(reads[next]!) <= READ_AHEAD_BYTES))
    ) {
      const reading = readStored(opts, reads[next]!);
      reading.catch(() => undefined); // awaited in order below
      started[next] = reading;
      live++;
      holding[next] = cost(reads[next]!);
      held += holding[next++]!;
    }
  };
  let storedBytes = opts.object.chunked.indexBytes;
  async function* plaintext() {
    for (let i = 0; i < refs.length; i++) {
      const r = readOf[i]!;
      const read = reads[r]!;
      const ref = refs[i]!;
      fill(r);
      let data: Buffer;
      let stored: Buffer;
      try {
        stored = await started[r]!;
        data = openChunk(opts, ref, sealedOf(read, stored, ref));
      } catch (err) {
        if (!(err instanceof ChunkReadError)) throw err;
        throw new CorruptBackupObjectError(chunkProblem(opts.key, ref, i, refs.length, err.message), {
          cause: err.cause,
        });
      }
      // What a read holds is counted down as its chunks are used (a pack's read serves several).
      const used = --left[r]! === 0 ? holding[r]! : ref.storedBytes;
      holding[r]! -= used;
      held -= used;
      if (left[r] === 0) {
        started[r] = undefined;
        live--;
        discard(stored);
      }
      storedBytes += ref.storedBytes;
      opts.onProgress?.(storedBytes);
      yield data;
    }
  }
  await pipeline(Readable.from(plaintext()), opts.sink, opts.signal ? { signal: opts.signal } : {});
  return { storedBytes };
}
