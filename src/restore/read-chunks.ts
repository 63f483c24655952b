import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { AgeError } from '../pipeline/age/errors.ts';
import { collect } from '../pipeline/collect.ts';
import { decryptBuffer } from '../pipeline/age/decrypt.ts';
import type { Identity } from '../pipeline/age/keys.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import { Meter } from '../pipeline/meter.ts';
import { chunkKey, ChunkIndexError, parseChunkIndex, type ChunkRef } from '../storage/chunks.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import { type BackupStore, ObjectNotFoundError, StorageError } from '../storage/store.ts';
import { CorruptBackupObjectError } from './errors.ts';
import { checkStoredObject } from './read-object.ts';

const zstdDecompress = promisify(zlib.zstdDecompress);
const gunzip = promisify(zlib.gunzip);

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

async function decompress(data: Buffer, algorithm: CompressionAlgorithm, limit: number): Promise<Buffer> {
  // One byte over the expected size is enough to tell that a chunk is not the one listed; an output
  // buffer of that size decompresses in one thread-pool round trip (zlib's 16 KiB default: 5x slower).
  const opts = { maxOutputLength: limit + 1, chunkSize: Math.max(64, limit + 1) };
  switch (algorithm) {
    case 'zstd':
      return zstdDecompress(data, opts);
    case 'gzip':
      return gunzip(data, opts);
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
export class ChunkReadError extends Error {
  override name = 'ChunkReadError';
  readonly retryable = false;
}

export interface ChunkSource {
  store: BackupStore;
  compression: CompressionAlgorithm;
  identities: Identity[];
  signal?: AbortSignal | undefined;
}

/**
 * The plaintext of one listed chunk: get (its stored size checked) -> age decrypt (authenticated) ->
 * decompress -> exactly the listed length. A damaged or missing chunk is a ChunkReadError saying what
 * is wrong; a transient storage failure is thrown as it is.
 */
export async function readChunkPlaintext(source: ChunkSource, ref: ChunkRef): Promise<Buffer> {
  const chunk = chunkKey(ref.name);
  const fail = (what: string, cause?: unknown) => new ChunkReadError(what, { cause });
  let sealed: Buffer;
  try {
    sealed = await collect(await source.store.get(chunk, { signal: source.signal, size: ref.storedBytes }));
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw fail('is missing from the store', err);
    if (err instanceof StorageError && !err.retryable) throw fail(`cannot be read: ${err.message}`, err);
    throw err;
  }
  if (sealed.length !== ref.storedBytes)
    throw fail(`is ${sealed.length} bytes, the index says ${ref.storedBytes}`);
  let plaintext: Buffer;
  try {
    const compressed = decryptBuffer(sealed, source.identities, { name: chunk });
    plaintext = await decompress(compressed, source.compression, ref.plaintextBytes);
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

/** How a chunk's problem is told for one object that lists it. */
export function chunkProblem(key: string, ref: ChunkRef, i: number, of: number, what: string): string {
  return `${key}: chunk ${i + 1} of ${of} (${chunkKey(ref.name)}) ${what}`;
}

/** readChunkPlaintext, its failure named for the object being read. */
async function readChunk(opts: ReadChunkedOptions, ref: ChunkRef, i: number, of: number): Promise<Buffer> {
  try {
    return await readChunkPlaintext(opts, ref);
  } catch (err) {
    if (!(err instanceof ChunkReadError)) throw err;
    throw new CorruptBackupObjectError(chunkProblem(opts.key, ref, i, of, err.message), { cause: err.cause });
  }
}

/**
 * readBackupObject for a chunked volume: the index (its sha256 checked against the manifest), then each
 * chunk in order, a few read ahead, into the sink. The caller discards what the sink produced when this
 * throws.
 */
export async function readChunkedObject(opts: ReadChunkedOptions): Promise<{ storedBytes: number }> {
  const refs = await readIndex(opts);
  let storedBytes = opts.object.chunked.indexBytes;
  const ahead: Promise<Buffer>[] = [];
  let aheadBytes = 0;
  let next = 0;
  const cost = (ref: ChunkRef) => ref.storedBytes + ref.plaintextBytes;
  const fill = () => {
    while (
      next < refs.length &&
      (ahead.length === 0 ||
        (ahead.length < READ_AHEAD && aheadBytes + cost(refs[next]!) <= READ_AHEAD_BYTES))
    ) {
      const i = next++;
      const reading = readChunk(opts, refs[i]!, i, refs.length);
      reading.catch(() => undefined); // awaited in order below
      ahead.push(reading);
      aheadBytes += cost(refs[i]!);
    }
  };
  async function* plaintext() {
    fill();
    for (let i = 0; i < refs.length; i++) {
      const data = await ahead.shift()!;
      aheadBytes -= cost(refs[i]!);
      fill();
      storedBytes += refs[i]!.storedBytes;
      opts.onProgress?.(storedBytes);
      yield data;
    }
  }
  await pipeline(Readable.from(plaintext()), opts.sink, opts.signal ? { signal: opts.signal } : {});
  return { storedBytes };
}
