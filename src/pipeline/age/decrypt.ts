import { timingSafeEqual, type KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import {
  AuthenticationError,
  HeaderError,
  KeyFormatError,
  NoMatchingIdentityError,
  PayloadFormatError,
  TruncatedError,
} from './errors.ts';
import { discard } from '../discard.ts';
import { HeaderParser, headerMac } from './header.ts';
import type { Header } from './header.ts';
import { parseIdentity } from './keys.ts';
import type { Identity } from './keys.ts';
import {
  ChunkNonce,
  encryptedChunkSize,
  openChunk,
  payloadKey,
  payloadNonceSize,
  tagSize,
} from './stream.ts';

export interface DecryptOptions {
  /** What to call the input in error messages, e.g. the S3 key. */
  name?: string;
}

function countTypes(header: Header): Record<string, number> {
  const counts: Record<string, number> = { X25519: 0 };
  for (const s of header.stanzas) counts[s.type] = (counts[s.type] ?? 0) + 1;
  return counts;
}

function noMatch(name: string, header: Header, identities: Identity[]): NoMatchingIdentityError {
  const counts = countTypes(header);
  const summary = Object.entries(counts)
    .map(([type, n]) => `${type} stanzas: ${n}`)
    .join(', ');
  const tried = identities.map((i) => i.recipient);
  let hint = '';
  if ((counts.scrypt ?? 0) > 0)
    hint = '; it is passphrase-encrypted (scrypt), which dockvault does not decrypt';
  else if (Object.keys(counts).some((t) => t.startsWith('ssh-'))) {
    hint = '; it is encrypted to SSH keys, which dockvault does not support';
  } else if (counts.X25519 === 0) hint = '; it has no X25519 stanzas (plugin recipients are not supported)';
  const who = identities.length === 1 ? 'this identity' : 'these identities';
  return new NoMatchingIdentityError(
    `${name}: not encrypted to ${who}: recipients are unknown (${summary})${hint}; tried identities with public keys ${tried.join(', ')}`,
    tried,
    counts,
  );
}

/**
 * A complete age v1 file in, authenticated plaintext out to `emit`. Nothing is emitted before the
 * header MAC verifies, and each chunk is emitted only after its tag verifies. Memory: one encrypted
 * chunk buffer (64 KiB + 16) plus the header. push() and end() throw the age errors.
 */
class AgeDecryptor {
  readonly #emit: (data: Buffer) => void;
  readonly #identities: Identity[];
  readonly #name: string;
  #parser: HeaderParser | null = new HeaderParser();
  #fileKey: Buffer | null = null;
  #payloadStart = 0;
  readonly #payloadNonce = Buffer.allocUnsafe(payloadNonceSize);
  #payloadNonceFill = 0;
  #key: KeyObject | null = null;
  readonly #nonce = new ChunkNonce();
  readonly #pending = Buffer.allocUnsafe(encryptedChunkSize);
  #fill = 0;

  constructor(identities: Identity[], name: string, emit: (data: Buffer) => void) {
    this.#identities = identities;
    this.#name = name;
    this.#emit = emit;
  }

  #chunkOffset(): number {
    return this.#payloadStart + this.#nonce.index * encryptedChunkSize;
  }

  #readHeader(chunk: Buffer): Buffer | null {
    const parser = this.#parser;
    if (!parser) return chunk;
    let parsed;
    try {
      parsed = parser.push(chunk);
    } catch (err) {
      if (err instanceof HeaderError) throw new HeaderError(`${this.#name}: ${err.message}`, { cause: err });
      throw err;
    }
    if (!parsed) return null;
    const { header, rest } = parsed;
    if (header.stanzas.some((s) => s.type === 'scrypt') && header.stanzas.length > 1) {
      throw new HeaderError(`${this.#name}: malformed header: an scrypt stanza must be the only stanza`);
    }
    let fileKey: Buffer | null = null;
    try {
      for (const identity of this.#identities) {
        for (const stanza of header.stanzas) {
          fileKey = identity.unwrap(stanza);
          if (fileKey) break;
        }
        if (fileKey) break;
      }
    } catch (err) {
      if (err instanceof HeaderError) throw new HeaderError(`${this.#name}: ${err.message}`, { cause: err });
      throw err;
    }
    if (!fileKey) throw noMatch(this.#name, header, this.#identities);
    const mac = headerMac(fileKey, header.macInput);
    if (!timingSafeEqual(mac, header.mac)) {
      throw new AuthenticationError(
        `${this.#name}: header MAC mismatch (header bytes 0..${header.length}): the header was modified or corrupted`,
        header.footerOffset,
      );
    }
    this.#fileKey = fileKey;
    this.#payloadStart = header.length + payloadNonceSize;
    this.#parser = null;
    return rest;
  }

  /** Consumes the 16-byte payload nonce; returns what follows it, or null if more input is needed. */
  #readPayloadNonce(chunk: Buffer): Buffer | null {
    if (this.#key) return chunk;
    const take = Math.min(payloadNonceSize - this.#payloadNonceFill, chunk.length);
    chunk.copy(this.#payloadNonce, this.#payloadNonceFill, 0, take);
    this.#payloadNonceFill += take;
    if (this.#payloadNonceFill < payloadNonceSize) return null;
    this.#key = payloadKey(this.#fileKey ?? Buffer.alloc(0), this.#payloadNonce);
    return chunk.subarray(take);
  }

  /** Opens a full chunk known to be followed by more input: it must be a non-final chunk. */
  #openMiddle(ciphertext: Buffer, key: KeyObject): void {
    const plaintext = openChunk(key, this.#nonce, ciphertext, false);
    if (plaintext) {
      this.#emit(plaintext);
      this.#nonce.next();
      return;
    }
    const offset = this.#chunkOffset();
    if (openChunk(key, this.#nonce, ciphertext, true)) {
      throw new TruncatedError(
        `${this.#name}: trailing data after the final chunk (chunk ${this.#nonce.index} ends at byte ${offset + encryptedChunkSize})`,
        offset + encryptedChunkSize,
      );
    }
    throw this.#authError(offset);
  }

  #authError(offset: number, hint = ''): AuthenticationError {
    const index = this.#nonce.index;
    return new AuthenticationError(
      `${this.#name}: payload chunk ${index} (bytes ${offset}..${offset + encryptedChunkSize}, plaintext offset ${index * (encryptedChunkSize - tagSize)}) failed authentication: the file is corrupted or was tampered with${hint}`,
      offset,
      index,
    );
  }

  #payload(chunk: Buffer, key: KeyObject): void {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (this.#fill === encryptedChunkSize) {
        this.#openMiddle(this.#pending, key);
        this.#fill = 0;
      }
      if (this.#fill === 0 && n - off > encryptedChunkSize) {
        this.#openMiddle(chunk.subarray(off, off + encryptedChunkSize), key);
        off += encryptedChunkSize;
        continue;
      }
      const take = Math.min(encryptedChunkSize - this.#fill, n - off);
      chunk.copy(this.#pending, this.#fill, off, off + take);
      this.#fill += take;
      off += take;
    }
  }

  push(chunk: Buffer): void {
    let data = this.#readHeader(chunk);
    if (data) data = this.#readPayloadNonce(data);
    if (data && data.length > 0 && this.#key) this.#payload(data, this.#key);
  }

  end(): void {
    const name = this.#name;
    if (this.#parser) {
      const seen = this.#parser.bytesSeen;
      if (seen === 0) throw new HeaderError(`${name}: empty input: not an age file`);
      throw new TruncatedError(
        `${name}: truncated: input ends inside the age header (after ${seen} bytes)`,
        seen,
      );
    }
    const key = this.#key;
    if (!key) {
      throw new TruncatedError(
        `${name}: truncated: input ends inside the payload nonce`,
        this.#payloadStart - payloadNonceSize + this.#payloadNonceFill,
      );
    }
    const offset = this.#chunkOffset();
    const last = this.#pending.subarray(0, this.#fill);
    if (this.#fill < tagSize) {
      const what = this.#fill === 0 ? 'no final chunk' : `${this.#fill} bytes, shorter than a chunk tag`;
      throw new TruncatedError(
        `${name}: truncated: input ends at byte ${offset + this.#fill} (${what})`,
        offset,
      );
    }
    const plaintext = openChunk(key, this.#nonce, last, true);
    if (plaintext) {
      if (plaintext.length === 0 && this.#nonce.index > 0) {
        throw new PayloadFormatError(
          `${name}: malformed payload: final chunk ${this.#nonce.index} is empty`,
          offset,
        );
      }
      this.#emit(plaintext);
      return;
    }
    if (this.#fill === encryptedChunkSize && openChunk(key, this.#nonce, last, false)) {
      throw new TruncatedError(
        `${name}: truncated: input ends at byte ${offset + encryptedChunkSize}, after chunk ${this.#nonce.index}, without a final chunk`,
        offset + encryptedChunkSize,
      );
    }
    throw this.#authError(offset, ', or truncated');
  }
}

class AgeDecryptStream extends Transform {
  readonly #decryptor: AgeDecryptor;

  constructor(identities: Identity[], name: string) {
    super();
    this.#decryptor = new AgeDecryptor(identities, name, (data) => this.push(data));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#decryptor.push(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#decryptor.end();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

function parseIdentities(identities: Identity[] | string[]): Identity[] {
  if (identities.length === 0)
    throw new KeyFormatError('no identities given: age decryption needs at least one');
  return identities.map((i) => (typeof i === 'string' ? parseIdentity(i) : i));
}

/**
 * An age decryption Transform. `identities` are parsed identities or `AGE-SECRET-KEY-1...` strings;
 * `opts.name` names the input in error messages.
 */
export function createDecryptStream(identities: Identity[] | string[], opts: DecryptOptions = {}): Transform {
  return new AgeDecryptStream(parseIdentities(identities), opts.name ?? 'input');
}

/**
 * The plaintext of a whole age file already in memory (a chunk), checked exactly as the stream checks
 * it, with the same errors; without a stream's per-piece work.
 */
export function decryptBuffer(
  data: Buffer,
  identities: Identity[] | string[],
  opts: DecryptOptions = {},
): Buffer {
  const parts: Buffer[] = [];
  const decryptor = new AgeDecryptor(parseIdentities(identities), opts.name ?? 'input', (p) => parts.push(p));
  decryptor.push(data);
  decryptor.end();
  if (parts.length === 1) return parts[0]!;
  const plaintext = Buffer.concat(parts);
  discard(...parts);
  return plaintext;
}
