import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Passes bytes through unchanged while counting them and hashing them with SHA-256, so one pass over the
 * data yields the sizes and digests the manifest records.
 */
export class Meter extends Transform {
  bytes = 0;
  readonly #hash: Hash | undefined;
  readonly #onBytes: ((bytes: number) => void) | undefined;

  /** `hash: false` only counts: hashing costs a pass over the data where no digest is needed. */
  constructor(onBytes?: (bytes: number) => void, { hash = true }: { hash?: boolean } = {}) {
    super();
    this.#onBytes = onBytes;
    this.#hash = hash ? createHash('sha256') : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.#hash?.update(chunk);
    this.#onBytes?.(this.bytes);
    callback(null, chunk);
  }

  /** The hex SHA-256 of everything that passed; call once, after the stream ended. */
  digest(): string {
    if (!this.#hash) throw new Error('this Meter only counts bytes');
    return this.#hash.digest('hex');
  }
}
