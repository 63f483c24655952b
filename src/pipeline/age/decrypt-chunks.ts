import { createDecipheriv, type KeyObject } from 'node:crypto';
import { AuthenticationError, PayloadFormatError, TruncatedError } from './errors.ts';
import { ChunkNonce, chunkSize, encryptedChunkSize, tagSize } from './stream.ts';

/** What opening payload chunks needs besides the bytes: shared by the stream and its worker threads. */
export interface PayloadContext {
  /** The payload key, imported once: a raw key imported per 64 KiB chunk cost a third of the cipher's time. */
  key: KeyObject;
  /** What to call the input in error messages. */
  name: string;
  /** Offset of chunk 0 in the file (header and payload nonce before it), for the offsets errors report. */
  payloadStart: number;
}

/**
 * A run of consecutive encrypted chunks starting at chunk `first`. Every chunk is full size except, when
 * `final`, the last one, which must then be the file's final chunk; a run that is not final is followed
 * by more data, so none of its chunks may be the final one.
 */
export interface PayloadRun {
  first: number;
  data: Buffer;
  final: boolean;
}

function nonceAt(index: number): ChunkNonce {
  const nonce = new ChunkNonce();
  // The counter is the nonce's first 11 bytes, big-endian; 6 bytes hold any index a file can reach.
  nonce.bytes.writeUIntBE(index, 5, 6);
  nonce.index = index;
  return nonce;
}

/** Decrypts and authenticates one chunk (ciphertext || tag); null if authentication fails. */
function open(key: KeyObject, nonce: ChunkNonce, chunk: Buffer, last: boolean): Buffer | null {
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

function authError(ctx: PayloadContext, index: number, hint = ''): AuthenticationError {
  const offset = ctx.payloadStart + index * encryptedChunkSize;
  return new AuthenticationError(
    `${ctx.name}: payload chunk ${index} (bytes ${offset}..${offset + encryptedChunkSize}, plaintext offset ${index * chunkSize}) failed authentication: the file is corrupted or was tampered with${hint}`,
    offset,
    index,
  );
}

/** A full chunk followed by more data: it must open as a non-final chunk. */
function openMiddle(ctx: PayloadContext, nonce: ChunkNonce, chunk: Buffer): Buffer {
  const plaintext = open(ctx.key, nonce, chunk, false);
  if (plaintext) return plaintext;
  if (open(ctx.key, nonce, chunk, true)) {
    const end = ctx.payloadStart + (nonce.index + 1) * encryptedChunkSize;
    throw new TruncatedError(
      `${ctx.name}: trailing data after the final chunk (chunk ${nonce.index} ends at byte ${end})`,
      end,
    );
  }
  throw authError(ctx, nonce.index);
}

/** The last bytes of the file (0..one chunk): they must be the final chunk. */
function openFinal(ctx: PayloadContext, nonce: ChunkNonce, last: Buffer): Buffer {
  const index = nonce.index;
  const offset = ctx.payloadStart + index * encryptedChunkSize;
  if (last.length < tagSize) {
    const what = last.length === 0 ? 'no final chunk' : `${last.length} bytes, shorter than a chunk tag`;
    throw new TruncatedError(
      `${ctx.name}: truncated: input ends at byte ${offset + last.length} (${what})`,
      offset,
    );
  }
  const plaintext = open(ctx.key, nonce, last, true);
  if (plaintext) {
    if (plaintext.length === 0 && index > 0) {
      throw new PayloadFormatError(`${ctx.name}: malformed payload: final chunk ${index} is empty`, offset);
    }
    return plaintext;
  }
  if (last.length === encryptedChunkSize && open(ctx.key, nonce, last, false)) {
    throw new TruncatedError(
      `${ctx.name}: truncated: input ends at byte ${offset + encryptedChunkSize}, after chunk ${index}, without a final chunk`,
      offset + encryptedChunkSize,
    );
  }
  throw authError(ctx, index, ', or truncated');
}

/**
 * Opens a run of chunks, in order, and returns their plaintexts; throws the typed error of the first
 * chunk that fails (authentication, truncation, trailing data, an empty final chunk), naming its index
 * and offset. Nothing of a failing run is returned.
 */
export function openRun(ctx: PayloadContext, run: PayloadRun): Buffer[] {
  const out: Buffer[] = [];
  const nonce = nonceAt(run.first);
  const { data } = run;
  let off = 0;
  // In a final run the last chunk (up to a full one) is the final chunk; everything before it is not.
  while (run.final ? data.length - off > encryptedChunkSize : off < data.length) {
    out.push(openMiddle(ctx, nonce, data.subarray(off, off + encryptedChunkSize)));
    off += encryptedChunkSize;
    nonce.next();
  }
  if (run.final) out.push(openFinal(ctx, nonce, data.subarray(off)));
  return out;
}
