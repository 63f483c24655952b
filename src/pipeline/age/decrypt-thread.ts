import { Worker } from 'node:worker_threads';
import type { PayloadRun } from './decrypt-chunks.ts';
import { AuthenticationError, PayloadFormatError, TruncatedError } from './errors.ts';

/** What the decryption thread is started with: the payload key, never the identity or the file key. */
export interface DecryptThreadData {
  key: Buffer;
  name: string;
  payloadStart: number;
  /** Also hash the encrypted input, in order: the header bytes, then every run. */
  sha256: boolean;
}

export type DecryptThreadRequest =
  | { type: 'hash'; data: Uint8Array }
  | { type: 'run'; id: number; first: number; data: Uint8Array; final: boolean }
  | { type: 'digest'; id: number };

/** An age error as it crosses the thread boundary (structured clone keeps neither class nor fields). */
export interface RunFailure {
  name: string;
  message: string;
  offset?: number | undefined;
  chunkIndex?: number | undefined;
}

/** A run's reply hands its buffer back too, for the next run: fewer allocations, fewer collections. */
export type DecryptThreadReply =
  | { id: number; plaintexts: Uint8Array[]; ciphertext: Uint8Array }
  | { id: number; error: RunFailure }
  | { id: number; digest: string };

function revive(f: RunFailure): Error {
  const offset = f.offset ?? 0;
  switch (f.name) {
    case 'AuthenticationError':
      return new AuthenticationError(f.message, offset, f.chunkIndex);
    case 'TruncatedError':
      return new TruncatedError(f.message, offset);
    case 'PayloadFormatError':
      return new PayloadFormatError(f.message, offset);
    default:
      return new Error(f.message);
  }
}

/**
 * A worker thread that opens runs of payload chunks, in the order they are sent, and hashes the
 * encrypted bytes on the way: the decryptor's CPU work leaves the thread that receives the data and
 * writes the plaintext. Runs are handed over and their plaintexts handed back by transferring the
 * buffers, never copying them. One thread: the hash needs the bytes in order, and two cores were
 * measured to gain nothing from a second one.
 */
export class DecryptThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: (value: never) => void; reject: (e: Error) => void }>();
  readonly #spare: Buffer[] = [];
  #nextId = 0;
  #closed = false;

  constructor(data: DecryptThreadData) {
    this.#worker = new Worker(new URL('./decrypt-worker.ts', import.meta.url), { workerData: data });
    this.#worker.on('message', (reply: DecryptThreadReply) => this.#settle(reply));
    this.#worker.on('error', (err: Error) => this.#failAll(err));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#failAll(new Error(`age decryption thread exited with code ${code}`));
    });
  }

  /** A buffer of `size` bytes for the next run: one the thread handed back, else a new one. */
  runBuffer(size: number): Buffer {
    const spare = this.#spare.pop();
    return spare && spare.length === size ? spare : Buffer.allocUnsafeSlow(size);
  }

  /** Bytes to hash before the next run (the header and payload nonce); they are copied. */
  hash(bytes: Buffer): void {
    const request: DecryptThreadRequest = { type: 'hash', data: Uint8Array.from(bytes) };
    this.#worker.postMessage(request, [request.data.buffer as ArrayBuffer]);
  }

  /** Opens a run into its chunks' plaintexts; `run.data` must own its whole ArrayBuffer, which moves to the thread. */
  open(run: PayloadRun): Promise<Buffer[]> {
    const data = run.data;
    return this.#request<Buffer[]>(
      (id) => ({ type: 'run', id, first: run.first, data, final: run.final }),
      [data.buffer as ArrayBuffer],
    );
  }

  /** The SHA-256 (hex) of everything hashed and opened so far. */
  digest(): Promise<string> {
    return this.#request<string>((id) => ({ type: 'digest', id }));
  }

  #request<T>(make: (id: number) => DecryptThreadRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the age decryption thread is closed'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve, reject });
      this.#worker.postMessage(make(id), transfer);
    });
  }

  #settle(reply: DecryptThreadReply): void {
    const waiter = this.#waiting.get(reply.id);
    if (!waiter) return;
    this.#waiting.delete(reply.id);
    if ('error' in reply) waiter.reject(revive(reply.error));
    else if ('digest' in reply) waiter.resolve(reply.digest as never);
    else {
      this.#spare.push(Buffer.from(reply.ciphertext.buffer));
      waiter.resolve(reply.plaintexts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)) as never);
    }
  }

  #failAll(err: Error): void {
    for (const waiter of this.#waiting.values()) waiter.reject(err);
    this.#waiting.clear();
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#worker.terminate();
  }
}
