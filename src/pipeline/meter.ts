import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes bytes through unchanged while counting them and hashing them with SHA-256, so one pass over the
 * data yields the sizes and digests the manifest records.
 */
export class Meter extends Transform {
  bytes = 0;
  readonly #hash = createHash('sha256');
  readonly #onBytes: ((bytes: number) => void) | undefined;

  constructor(onBytes?: (bytes: number) => void) {
    super();
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.#hash.update(chunk);
    this.#onBytes?.(this.bytes);
    callback(null, chunk);
  }

  /** The hex SHA-256 of everything that passed; call once, after the stream ended. */
  digest(): string {
    return this.#hash.digest('hex');
  }
}
