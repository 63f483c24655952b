import { createHash, createSecretKey, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { openRun, type PayloadContext } from './decrypt-chunks.ts';
import { DecryptThread } from './decrypt-thread.ts';
import {
  AuthenticationError,
  HeaderError,
  KeyFormatError,
  NoMatchingIdentityError,
  TruncatedError,
} from './errors.ts';
import { HeaderParser, headerMac } from './header.ts';
import type { Header } from './header.ts';
import { parseIdentity } from './keys.ts';
import type { Identity } from './keys.ts';
import { encryptedChunkSize, payloadKey, payloadNonceSize } from './stream.ts';

export interface DecryptOptions {
  /** What to call the input in error messages, e.g. the S3 key. */
  name?: string;
  /**
   * Open the payload chunks (and hash) in a worker thread instead of the calling one: for large inputs
   * whose reader has other work on its thread, receiving the data and writing the plaintext.
   */
  thread?: boolean;
  /** Also compute the SHA-256 of the encrypted input, read with `sha256()` once the stream finished. */
  sha256?: boolean;
}

/** An age decryption Transform. */
export interface DecryptStream extends Transform {
  /** Hex SHA-256 of all input, once the input ended; only with `sha256: true`. */
  sha256(): string;
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

/** Chunks per run handed to the thread: 2 MiB, enough to make the hand-over cheap. */
const RUN_CHUNKS = 32;
/** Runs in flight: one being opened and the next ones waiting, while this thread frames more. */
const RUNS_IN_FLIGHT = 3;

interface PendingRun {
  done: boolean;
  plaintexts?: Buffer[];
  error?: Error;
}

/**
 * A complete age v1 file in, authenticated plaintext out. Nothing is emitted before the header
 * MAC verifies, and each chunk is emitted only after its tag verifies.
 *
 * The payload is cut into runs of whole chunks; a run is opened only once more input follows it, so
 * only the run that ends the input can hold the final chunk. On the calling thread a run is one chunk
 * (memory: one encrypted chunk plus the header). With `thread`, runs of RUN_CHUNKS go to a worker
 * thread, a bounded number at a time, and their plaintexts are emitted in order; the first failing run
 * fails the stream. The SHA-256 of the input, when asked for, is computed where the chunks are opened.
 */
class AgeDecryptStream extends Transform implements DecryptStream {
  readonly #identities: Identity[];
  readonly #name: string;
  readonly #useThread: boolean;
  readonly #wantHash: boolean;
  /** Hashes the input as it comes, when the chunks are opened on this thread. */
  readonly #hash: Hash | undefined;
  #digest: string | undefined;
  #parser: HeaderParser | null = new HeaderParser();
  #fileKey: Buffer | null = null;
  #payloadStart = 0;
  readonly #payloadNonce = Buffer.allocUnsafe(payloadNonceSize);
  #payloadNonceFill = 0;
  #ctx: PayloadContext | null = null;
  #thread: DecryptThread | null = null;
  /** The input before the payload (header and nonce), to be hashed in the thread before the runs. */
  #prefix: Buffer[] = [];
  #run: Buffer = Buffer.allocUnsafe(encryptedChunkSize);
  #fill = 0;
  /** Index of the first chunk of the run being filled. */
  #first = 0;
  readonly #inFlight: PendingRun[] = [];
  #writeCallback: TransformCallback | null = null;
  #flushCallback: TransformCallback | null = null;

  constructor(identities: Identity[], name: string, opts: DecryptOptions) {
    super();
    this.#identities = identities;
    this.#name = name;
    this.#useThread = opts.thread ?? false;
    this.#wantHash = opts.sha256 ?? false;
    this.#hash = this.#wantHash && !this.#useThread ? createHash('sha256') : undefined;
  }

  sha256(): string {
    if (!this.#wantHash) throw new Error('this decryptor was not asked to hash its input');
    if (this.#digest === undefined) {
      if (!this.#hash || !this.writableFinished) throw new Error('the SHA-256 is known once the input ended');
      this.#digest = this.#hash.digest('hex');
    }
    return this.#digest;
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
    if (this.#ctx) return chunk;
    const take = Math.min(payloadNonceSize - this.#payloadNonceFill, chunk.length);
    chunk.copy(this.#payloadNonce, this.#payloadNonceFill, 0, take);
    this.#payloadNonceFill += take;
    if (this.#payloadNonceFill < payloadNonceSize) return null;
    const key = payloadKey(this.#fileKey ?? Buffer.alloc(0), this.#payloadNonce);
    this.#ctx = { key: createSecretKey(key), name: this.#name, payloadStart: this.#payloadStart };
    if (this.#useThread) {
      this.#thread = new DecryptThread({
        key,
        name: this.#name,
        payloadStart: this.#payloadStart,
        sha256: this.#wantHash,
      });
      this.#run = this.#thread.runBuffer(RUN_CHUNKS * encryptedChunkSize);
    }
    return chunk.subarray(take);
  }

  /** Frames payload bytes into runs; a full run is opened (or sent off) only when more bytes follow it. */
  #payload(chunk: Buffer, ctx: PayloadContext): void {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (this.#fill === this.#run.length) this.#openRun(false);
      if (!this.#thread && this.#fill === 0 && n - off > encryptedChunkSize) {
        // A whole chunk of the input with more after it: opened where it lies, without a copy.
        const data = chunk.subarray(off, off + encryptedChunkSize);
        for (const p of openRun(ctx, { first: this.#first, data, final: false })) this.push(p);
        this.#first++;
        off += encryptedChunkSize;
        continue;
      }
      const take = Math.min(this.#run.length - this.#fill, n - off);
      chunk.copy(this.#run, this.#fill, off, off + take);
      this.#fill += take;
      off += take;
    }
  }

  #openRun(final: boolean): void {
    const ctx = this.#ctx!;
    const run = { first: this.#first, data: this.#run.subarray(0, this.#fill), final };
    this.#first += this.#fill / encryptedChunkSize;
    this.#fill = 0;
    if (!this.#thread) {
      for (const p of openRun(ctx, run)) this.push(p);
      return;
    }
    // The run's buffer moves to the worker thread: the next run needs another one.
    this.#run = this.#thread.runBuffer(RUN_CHUNKS * encryptedChunkSize);
    const pending: PendingRun = { done: false };
    this.#inFlight.push(pending);
    this.#thread.open(run).then(
      (plaintexts) => {
        pending.done = true;
        pending.plaintexts = plaintexts;
        this.#emitInOrder();
      },
      (err: Error) => {
        pending.done = true;
        pending.error = err;
        this.#emitInOrder();
      },
    );
  }

  /** Emits the runs that are done, in file order; releases a waiting write or flush when there is room. */
  #emitInOrder(): void {
    if (this.destroyed) return;
    while (this.#inFlight[0]?.done) {
      const { plaintexts, error } = this.#inFlight.shift()!;
      if (error) {
        this.#fail(error);
        return;
      }
      for (const p of plaintexts!) this.push(p);
    }
    if (this.#writeCallback && this.#inFlight.length < RUNS_IN_FLIGHT) {
      const callback = this.#writeCallback;
      this.#writeCallback = null;
      callback();
    }
    if (this.#flushCallback && this.#inFlight.length === 0) {
      const callback = this.#flushCallback;
      this.#flushCallback = null;
      const done = (err?: Error) => {
        this.#closeThread();
        callback(err);
      };
      if (!this.#wantHash) return done();
      this.#thread!.digest().then((digest) => {
        this.#digest = digest;
        done();
      }, done);
    }
  }

  #fail(err: Error): void {
    this.#inFlight.length = 0;
    this.#closeThread();
    const callback = this.#writeCallback ?? this.#flushCallback;
    this.#writeCallback = this.#flushCallback = null;
    if (callback) callback(err);
    else this.destroy(err);
  }

  #closeThread(): void {
    this.#thread?.close();
    this.#thread = null;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#hash?.update(chunk);
      const inPayload = this.#ctx !== null;
      let data = this.#readHeader(chunk);
      if (data) data = this.#readPayloadNonce(data);
      if (!inPayload && this.#thread && this.#wantHash) this.#hashPrefix(chunk, data);
      else if (!inPayload && this.#useThread && this.#wantHash) this.#prefix.push(Buffer.from(chunk));
      if (data && data.length > 0 && this.#ctx) this.#payload(data, this.#ctx);
    } catch (err) {
      callback(err as Error);
      return;
    }
    if (this.#thread && this.#inFlight.length >= RUNS_IN_FLIGHT) this.#writeCallback = callback;
    else callback();
  }

  /** The payload has just started in `chunk`: the thread hashes everything before it first. */
  #hashPrefix(chunk: Buffer, payload: Buffer | null): void {
    this.#prefix.push(chunk.subarray(0, chunk.length - (payload?.length ?? 0)));
    this.#thread!.hash(Buffer.concat(this.#prefix));
    this.#prefix = [];
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#checkComplete();
      this.#openRun(true);
    } catch (err) {
      this.#closeThread();
      callback(err as Error);
      return;
    }
    if (!this.#thread) return callback();
    this.#flushCallback = callback;
    this.#emitInOrder();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#closeThread();
    callback(err);
  }

  /** At the end of the input: the header and the payload nonce must be complete. */
  #checkComplete(): void {
    const name = this.#name;
    if (this.#parser) {
      const seen = this.#parser.bytesSeen;
      if (seen === 0) throw new HeaderError(`${name}: empty input: not an age file`);
      throw new TruncatedError(
        `${name}: truncated: input ends inside the age header (after ${seen} bytes)`,
        seen,
      );
    }
    if (!this.#ctx) {
      throw new TruncatedError(
        `${name}: truncated: input ends inside the payload nonce`,
        this.#payloadStart - payloadNonceSize + this.#payloadNonceFill,
      );
    }
  }
}

/**
 * An age decryption Transform. `identities` are parsed identities or `AGE-SECRET-KEY-1...` strings;
 * `opts.name` names the input in error messages.
 */
export function createDecryptStream(
  identities: Identity[] | string[],
  opts: DecryptOptions = {},
): DecryptStream {
  if (identities.length === 0)
    throw new KeyFormatError('no identities given: age decryption needs at least one');
  const parsed = identities.map((i) => (typeof i === 'string' ? parseIdentity(i) : i));
  return new AgeDecryptStream(parsed, opts.name ?? 'input', opts);
}
