import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from './age/encrypt.ts';
import { createCompressor, type Compression } from './compression.ts';
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

/**
 * The one path data takes to storage: plaintext -> compress -> age-encrypt -> upload, in a single
 * streaming pass with bounded memory. A failure anywhere tears the whole chain down: the upload is
 * aborted (no object, no unfinished multipart upload) and the source stream is destroyed.
 */
export async function sealAndStore(source: Readable, options: SealOptions): Promise<SealedObject> {
  const local = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
  const plaintext = new Meter(options.onProgress, { hash: false });
  const stored = new Meter();
  const flowing = pipeline(
    source,
    plaintext,
    createCompressor(options.compression),
    createEncryptStream(options.recipients),
    stored,
    { signal },
  );
  const uploading = options.store.put(options.key, stored, { signal, sizeHint: options.sizeHint });
  try {
    await Promise.all([flowing, uploading]);
  } catch (err) {
    local.abort(err);
    // Let both sides settle so no stream or request outlives this call.
    await Promise.allSettled([flowing, uploading]);
    throw err;
  }
  return { plaintextBytes: plaintext.bytes, storedBytes: stored.bytes, sha256: stored.digest() };
}
