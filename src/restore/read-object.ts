import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AgeError } from '../pipeline/age/errors.ts';
import { createDecryptStream } from '../pipeline/age/decrypt.ts';
import type { Identity } from '../pipeline/age/keys.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import { Meter } from '../pipeline/meter.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import { type BackupStore, ObjectIntegrityError } from '../storage/store.ts';
import { CorruptBackupObjectError } from './errors.ts';
import { readChunkedObject } from './read-chunks.ts';

export interface ReadObjectOptions {
  store: BackupStore;
  /** The object's key in the store, which is also how messages name it. */
  key: string;
  object: ManifestObject;
  compression: CompressionAlgorithm;
  identities: Identity[];
  /** Where the plaintext goes: tar -x, tar -t, pg_restore --list, or nowhere (decompressed, if chunked). */
  sink: Writable;
  signal?: AbortSignal | undefined;
  onProgress?: ((plaintextBytes: number) => void) | undefined;
}

function isDecompressionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_') || code.includes('ZSTD'))
  );
}

/** After the whole object was read: its bytes must be the ones the manifest describes. */
export function checkStoredObject(
  location: string,
  key: string,
  object: ManifestObject,
  stored: Meter,
): void {
  const sha256 = stored.digest();
  if (stored.bytes < object.storedBytes) {
    throw new ObjectIntegrityError(`truncated: ${stored.bytes} of ${object.storedBytes} bytes`, {
      location,
      key,
    });
  }
  if (sha256 !== object.sha256 || stored.bytes !== object.storedBytes) {
    throw new ObjectIntegrityError(
      `stored object does not match the manifest: sha256 ${sha256} (${stored.bytes} bytes), ` +
        `manifest says ${object.sha256} (${object.storedBytes} bytes)`,
      { location, key },
    );
  }
}

/**
 * A sealed object read to its end and only hashed: its stored bytes against the manifest's sha256 and
 * length, without decrypting. Bytes that match are the ones the backup wrote (the manifest records the
 * sha256 of what it stored), so the read that restores them next meets no damage half-way (unless
 * they change in between: that read checks them again).
 */
export async function checkSealedObject(
  opts: Pick<ReadObjectOptions, 'store' | 'key' | 'object' | 'signal' | 'onProgress'>,
): Promise<void> {
  const { store, key, object } = opts;
  const stored = new Meter(opts.onProgress);
  const body = await store.get(key, { signal: opts.signal, size: object.storedBytes });
  const nowhere = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(body, stored, nowhere, opts.signal ? { signal: opts.signal } : {});
  checkStoredObject(store.location, key, object, stored);
}

/**
 * The one path data takes back from storage: get -> sha256 of the stored bytes -> age decrypt (every
 * chunk authenticated before it is passed on) -> sink (decompress -> reader), in one streaming pass
 * with bounded memory. After the stream ended, the stored bytes must hash to the manifest's sha256; the caller
 * discards what the sink produced when this throws. Errors name the object.
 */
export async function readBackupObject(opts: ReadObjectOptions): Promise<{ storedBytes: number }> {
  const { key, object } = opts;
  const { chunked } = object;
  if (chunked) return readChunkedObject({ ...opts, object: { ...object, chunked } });
  const stored = new Meter(opts.onProgress);
  const body = await opts.store.get(key, { signal: opts.signal, size: object.storedBytes });
  try {
    await pipeline(
      body,
      stored,
      createDecryptStream(opts.identities, { name: key }),
      opts.sink,
      opts.signal ? { signal: opts.signal } : {},
    );
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    // An authenticated stream that does not decompress: no retry can help.
    if (err instanceof AgeError) throw new CorruptBackupObjectError(err.message, { cause: err });
    if (isDecompressionError(err)) {
      throw new CorruptBackupObjectError(
        `${key}: decompression (${opts.compression}) failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
  checkStoredObject(opts.store.location, key, object, stored);
  return { storedBytes: stored.bytes };
}
