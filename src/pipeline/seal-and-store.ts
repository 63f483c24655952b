import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from './age/encrypt.ts';
import { createCompressor, type Compression } from './compression.ts';
import { feedFile } from './file-source.ts';
import { Meter } from './meter.ts';
import type { BackupStore } from '../storage/store.ts';

export interface SealOptions {
  store: BackupStore;
  key: string;
  compression: Compression;
  recipients: string[];
  signal?: AbortSignal | undefined;
  /** Plaintext size, if known: compression only shrinks it, so it bounds the stored size for the store. */
  sizeHint?: number | undefined;
  /** Called with the plaintext bytes read so far. */
  onProgress?: ((plaintextBytes: number) => void) | undefined;
}

export interface SealedObject {
  plaintextBytes: number;
  storedBytes: number;
  /** SHA-256 of the stored (encrypted) bytes, so verification needs no key. */
  sha256: string;
}

/** Plaintext to seal: a stream, or a whole file on local disk (read into reused buffers). */
export type SealSource = Readable | { file: string };

/**
 * The one path data takes to storage: plaintext -> compress -> age-encrypt -> upload, in a single
 * streaming pass with bounded memory. A failure anywhere tears the whole chain down: the upload is
 * aborted (no object, no unfinished multipart upload) and the source stream is destroyed.
 */
export async function sealAndStore(source: SealSource, options: SealOptions): Promise<SealedObject> {
  const local = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
  // Without compression the plaintext goes straight to the cipher: a PassThrough would hand on the
  // file source's reused buffers instead of consuming them.
  const sealing: Transform[] = [
    ...(options.compression.algorithm === 'none' ? [] : [createCompressor(options.compression)]),
    createEncryptStream(options.recipients),
  ];
  const stored = new Meter();
  let flowing: Promise<void>;
  let feeding: Promise<number>;
  if ('file' in source) {
    flowing = pipeline([...sealing, stored], { signal });
    feeding = feedFile(source.file, sealing[0]!, { signal, onBytes: options.onProgress });
  } else {
    const plaintext = new Meter(options.onProgress, { hash: false });
    flowing = pipeline([source, plaintext, ...sealing, stored], { signal });
    feeding = flowing.then(() => plaintext.bytes);
  }
  const uploading = options.store.put(options.key, stored, { signal, sizeHint: options.sizeHint });
  let plaintextBytes: number;
  try {
    [plaintextBytes] = await Promise.all([feeding, flowing, uploading]);
  } catch (err) {
    local.abort(err);
    // Let every side settle so no stream, file or request outlives this call.
    await Promise.allSettled([feeding, flowing, uploading]);
    throw err;
  }
  return { plaintextBytes, storedBytes: stored.bytes, sha256: stored.digest() };
}
