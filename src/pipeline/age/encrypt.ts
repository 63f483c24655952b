import { randomBytes, type KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { discard } from '../discard.ts';
import { KeyFormatError } from './errors.ts';
import { formatHeader } from './header.ts';
import { parseRecipient } from './keys.ts';
import type { Recipient } from './keys.ts';
import { ChunkNonce, chunkSize, payloadKey, payloadNonceSize, sealChunk } from './stream.ts';

/**
 * Plaintext in, a complete age v1 file out (header, payload nonce, STREAM chunks), handed to `emit`.
 *
 * Memory: one 64 KiB accumulation buffer. A full chunk is held back until more input arrives,
 * because only at the end of input do we know which chunk is the last one (it carries the flag);
 * large writes are sealed straight from the caller's buffer without copying.
 */
class AgeEncryptor {
  readonly #key: KeyObject;
  readonly #nonce = new ChunkNonce();
  readonly #buf = Buffer.allocUnsafe(chunkSize);
  readonly #emit: (data: Buffer) => void;
  #fill = 0;
  #prefix: Buffer | null;

  constructor(recipients: Recipient[], emit: (data: Buffer) => void) {
    const fileKey = randomBytes(16);
    const header = formatHeader(
      recipients.map((r) => r.wrap(fileKey)),
      fileKey,
    );
    const nonce = randomBytes(payloadNonceSize);
    this.#key = payloadKey(fileKey, nonce);
    this.#prefix = Buffer.concat([header, nonce]);
    this.#emit = emit;
  }

  #seal(plaintext: Buffer, last: boolean): void {
    const [ciphertext, tag] = sealChunk(this.#key, this.#nonce, plaintext, last);
    this.#emit(ciphertext);
    this.#emit(tag);
    this.#nonce.next();
  }

  #emitPrefix(): void {
    if (this.#prefix) {
      this.#emit(this.#prefix);
      this.#prefix = null;
    }
  }

  push(chunk: Buffer): void {
    this.#emitPrefix();
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
  }

  end(): void {
    this.#emitPrefix();
    // Empty input is one empty final chunk; input ending on a boundary ends with a full final chunk.
    this.#seal(this.#buf.subarray(0, this.#fill), true);
    this.#fill = 0;
  }
}

class AgeEncryptStream extends Transform {
  readonly #encryptor: AgeEncryptor;

  constructor(recipients: Recipient[]) {
    super();
    this.#encryptor = new AgeEncryptor(recipients, (data) => this.push(data));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#encryptor.push(chunk);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#encryptor.end();
    callback();
  }
}

function parseRecipients(recipients: Array<string | Recipient>): Recipient[] {
  if (recipients.length === 0)
    throw new KeyFormatError('no recipients given: age encryption needs at least one');
  return recipients.map((r) => (typeof r === 'string' ? parseRecipient(r) : r));
}

/** An age encryption Transform to the given recipients (`age1...` strings or parsed recipients). */
export function createEncryptStream(recipients: Array<string | Recipient>): Transform {
  return new AgeEncryptStream(parseRecipients(recipients));
}

/**
 * A whole age file of `plaintext`, for data already in memory (a chunk): the same bytes a stream
 * would give, without a Readable, a pipe and a collect for every chunk.
 */
export function encryptBuffer(plaintext: Buffer, recipients: Array<string | Recipient>): Buffer {
  const parts: Buffer[] = [];
  const encryptor = new AgeEncryptor(parseRecipients(recipients), (data) => parts.push(data));
  encryptor.push(plaintext);
  encryptor.end();
  const file = Buffer.concat(parts);
  discard(...parts);
  return file;
}
