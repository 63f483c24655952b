import { randomBytes, type KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { KeyFormatError } from './errors.ts';
import { formatHeader } from './header.ts';
import { parseRecipient } from './keys.ts';
import type { Recipient } from './keys.ts';
import { ChunkNonce, chunkSize, payloadKey, payloadNonceSize, sealChunk } from './stream.ts';

/**
 * Plaintext in, a complete age v1 file out (header, payload nonce, STREAM chunks).
 *
 * Memory: one 64 KiB accumulation buffer. A full chunk is held back until more input arrives,
 * because only at the end of input do we know which chunk is the last one (it carries the flag);
 * large writes are sealed straight from the caller's buffer without copying.
 */
class AgeEncryptStream extends Transform {
  readonly #key: KeyObject;
  readonly #nonce = new ChunkNonce();
  readonly #buf = Buffer.allocUnsafe(chunkSize);
  #fill = 0;
  #prefix: Buffer | null;

  constructor(recipients: Recipient[]) {
    super();
    const fileKey = randomBytes(16);
    const header = formatHeader(
      recipients.map((r) => r.wrap(fileKey)),
      fileKey,
    );
    const nonce = randomBytes(payloadNonceSize);
    this.#key = payloadKey(fileKey, nonce);
    this.#prefix = Buffer.concat([header, nonce]);
  }

  #seal(plaintext: Buffer, last: boolean): void {
    const [ciphertext, tag] = sealChunk(this.#key, this.#nonce, plaintext, last);
    this.push(ciphertext);
    this.push(tag);
    this.#nonce.next();
  }

  #pushPrefix(): void {
    if (this.#prefix) {
      this.push(this.#prefix);
      this.#prefix = null;
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pushPrefix();
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (this.#fill === chunkSize) {
        // More input exists, so the held chunk is not the last.
        this.#seal(this.#buf, false);
        this.#fill = 0;
      }
      if (this.#fill === 0 && n - off > chunkSize) {
        this.#seal(chunk.subarray(off, off + chunkSize), false);
        off += chunkSize;
        continue;
      }
      const take = Math.min(chunkSize - this.#fill, n - off);
      chunk.copy(this.#buf, this.#fill, off, off + take);
      this.#fill += take;
      off += take;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#pushPrefix();
    // Empty input is one empty final chunk; input ending on a boundary ends with a full final chunk.
    this.#seal(this.#buf.subarray(0, this.#fill), true);
    this.#fill = 0;
    callback();
  }
}

/** An age encryption Transform to the given recipients (`age1...` strings or parsed recipients). */
export function createEncryptStream(recipients: Array<string | Recipient>): Transform {
  if (recipients.length === 0)
    throw new KeyFormatError('no recipients given: age encryption needs at least one');
  return new AgeEncryptStream(recipients.map((r) => (typeof r === 'string' ? parseRecipient(r) : r)));
}
