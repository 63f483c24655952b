import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { createEncryptStream } from './age/encrypt.ts';
import { parseRecipient, type Recipient } from './age/keys.ts';
import type { Compression } from './compression.ts';
import { ContentChunker, DEFAULT_CHUNK_SIZES, type ChunkSizes } from './content-chunker.ts';
import { chunkKey, formatChunkIndex, type ChunkRef } from '../storage/chunks.ts';
import type { BackupStore } from '../storage/store.ts';

const zstdCompress = promisify(zlib.zstdCompress);
const gzip = promisify(zlib.gzip);

export interface ChunkAndStoreOptions {
  store: BackupStore;
  /** Where the chunk index goes (under the backup's prefix). */
  indexKey: string;
  /** Chunks already in the store, with their stored sizes; chunks this call uploads are added. */
  known: Map<string, number>;
  dedupKey: Buffer;
  compression: Compression;
  recipients: string[];
  /** Object Lock: extend the retention of every chunk reused from the store (store.extendRetention). */
  extendRetention?: boolean;
  /** Chunks sealing or uploading at once: memory is about this many times (max chunk size x 2). */
  parallel: number;
  sizes?: ChunkSizes;
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
  /** Chunks (and their stored bytes) this call uploaded; the others were in the store already. */
  newChunks: number;
  uploadedBytes: number;
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
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: compression.level ?? 3,
          [zlib.constants.ZSTD_c_checksumFlag]: 1,
        },
      });
      break;
    case 'gzip':
      compressed = await gzip(plaintext, { level: compression.level ?? 6 });
      break;
    case 'none':
      compressed = plaintext;
  }
  return buffer(Readable.from([compressed], { objectMode: false }).pipe(createEncryptStream(recipients)));
}

/**
 * Cuts `source` into content-defined chunks, stores each chunk the store does not have yet under its
 * keyed name (a few at a time), then writes the chunk index. Memory is bounded by `parallel` chunks in
 * flight. A failure stops reading and waits for the uploads in flight; chunks already uploaded stay
 * (the next backup reuses them; docs/FORMAT.md, "Prune").
 */
export async function chunkAndStore(source: Readable, options: ChunkAndStoreOptions): Promise<ChunkedObject> {
  const { store, known, dedupKey, compression, signal } = options;
  const recipients = options.recipients.map((r) => parseRecipient(r));
  const chunker = new ContentChunker(options.sizes ?? DEFAULT_CHUNK_SIZES);
  const refs: ChunkRef[] = [];
  const inFlight = new Set<Promise<void>>();
  const seen = new Set<string>();
  let failure: Error | undefined;
  let plaintextBytes = 0;
  let newChunks = 0;
  let uploadedBytes = 0;

  const upload = async (ref: ChunkRef, plaintext: Buffer) => {
    const sealed = await sealChunk(plaintext, compression, recipients);
    await store.putBuffer(chunkKey(ref.name), sealed, signal ? { signal } : {});
    ref.storedBytes = sealed.length;
    known.set(ref.name, sealed.length);
    newChunks++;
    uploadedBytes += sealed.length;
  };

  const take = async (plaintext: Buffer) => {
    const name = createHmac('sha256', dedupKey).update(plaintext).digest('hex');
    const ref: ChunkRef = { name, plaintextBytes: plaintext.length, storedBytes: known.get(name) ?? 0 };
    refs.push(ref);
    plaintextBytes += plaintext.length;
    options.onProgress?.(plaintextBytes);
    const reused = known.has(name);
    if (reused && (!options.extendRetention || seen.has(name))) return;
    seen.add(name);
    // A name seen in this stream before is uploading already: -1 until its size is known.
    if (!reused) known.set(name, -1);
    const work = reused
      ? store.extendRetention(chunkKey(name), signal ? { signal } : {})
      : upload(ref, plaintext);
    const task = work.catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
    while (inFlight.size >= options.parallel) await Promise.race(inFlight);
  };

  try {
    for await (const data of source as AsyncIterable<Buffer>) {
      if (failure !== undefined) break;
      signal?.throwIfAborted();
      for (const chunk of chunker.push(data)) await take(chunk);
    }
    const last = chunker.end();
    if (last && failure === undefined) await take(last);
  } finally {
    await Promise.allSettled(inFlight);
  }
  if (failure !== undefined) {
    source.destroy();
    throw failure;
  }
  signal?.throwIfAborted();
  // A chunk repeated within the stream took its size from the first upload.
  for (const ref of refs) if (ref.storedBytes <= 0) ref.storedBytes = known.get(ref.name) ?? 0;
  const index = Buffer.from(formatChunkIndex(refs));
  await store.putBuffer(options.indexKey, index, {
    contentType: 'text/plain',
    ...(signal ? { signal } : {}),
  });
  return {
    plaintextBytes,
    storedBytes: index.length + refs.reduce((n, r) => n + r.storedBytes, 0),
    sha256: createHash('sha256').update(index).digest('hex'),
    indexBytes: index.length,
    chunks: refs.length,
    newChunks,
    uploadedBytes,
  };
}
