import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/**
 * The age payload is the STREAM construction over ChaCha20-Poly1305: 64 KiB plaintext chunks,
 * nonce = 11-byte big-endian chunk counter || last-chunk flag (0x01 on the final chunk only).
 */
export const chunkSize = 64 * 1024;
export const tagSize = 16;
export const encryptedChunkSize = chunkSize + tagSize;
export const payloadNonceSize = 16;

/**
 * The payload key, imported once as a KeyObject: importing the raw key for every 64 KiB chunk cost a
 * third of the cipher's own time.
 */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32)));
}

/** The running STREAM nonce; one preallocated buffer, incremented in place. */
export class ChunkNonce {
  readonly bytes = Buffer.alloc(12);
  /** Index of the chunk this nonce is for. */
  index = 0;

  next(): void {
    for (let i = 10; i >= 0; i--) {
      const b = (this.bytes[i] ?? 0) + 1;
      this.bytes[i] = b & 0xff;
      if (b <= 0xff) break;
      if (i === 0) throw new RangeError('age STREAM counter overflow');
    }
    this.index++;
  }

  setLast(last: boolean): void {
    this.bytes[11] = last ? 1 : 0;
  }
}

/** Encrypts one chunk; returns ciphertext and tag as two buffers, so nothing is copied twice. */
export function sealChunk(
  key: KeyObject,
  nonce: ChunkNonce,
  plaintext: Buffer,
  last: boolean,
): [Buffer, Buffer] {
  nonce.setLast(last);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce.bytes, { authTagLength: tagSize });
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  return [ciphertext, cipher.getAuthTag()];
}

/** Decrypts and authenticates one chunk (ciphertext || tag); null if authentication fails. */
export function openChunk(key: KeyObject, nonce: ChunkNonce, chunk: Buffer, last: boolean): Buffer | null {
  if (chunk.length < tagSize) return null;
  nonce.setLast(last);
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce.bytes, { authTagLength: tagSize });
  const end = chunk.length - tagSize;
  decipher.setAuthTag(chunk.subarray(end));
  const plaintext = decipher.update(chunk.subarray(0, end));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return plaintext;
}
