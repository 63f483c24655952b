import { closeSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';

/**
 * The ring's size. The reading thread of a restore measured 2.2 s of 10.1 s blocked in write(2)
 * while tar created files (a pipe holds 64 KiB); with this much between them, it decrypts the next
 * chunks meanwhile.
 */
const RING_BYTES = 8 * 1024 * 1024;

// One Int32 word holds the bytes in the ring and the flags, so that a wait on it wakes for either.
const USED = 0;
const ERRNO = 1;
const END = 1 << 30;
const STOP = 1 << 29;
const BROKEN = 1 << 28;
const FLAGS = END | STOP | BROKEN;
const LAYOUT = { USED, ERRNO, END, STOP, BROKEN, FLAGS };

export interface RingWriterInput {
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  fd: number;
  /** Where the control words and flags are: the thread has no other copy of them. */
  layout: typeof LAYOUT;
}

/** A failed write(2) of the writing thread, under its system error name (EPIPE, ENOSPC...). */
export class RingWriteError extends Error {
  override name = 'RingWriteError';
  readonly code: string;
  constructor(code: string) {
    super(`write to the reader failed: ${code}`);
    this.code = code;
  }
}

/**
 * Writes to a blocking file descriptor (the FIFO a reader command reads) from a thread of its own,
 * through a ring of shared memory: write() copies into the ring and waits only while it is full, so
 * the calling thread keeps working while the reader is busy. The descriptor is closed here (where it
 * was opened: Node warns of a descriptor closed by another thread) once the thread has stopped.
 */
export class RingWriter {
  readonly #bytes: Uint8Array;
  readonly #ctrl: Int32Array;
  readonly #exited: Promise<void>;
  #at = 0;

  constructor(fd: number, capacity = RING_BYTES) {
    const ring = new SharedArrayBuffer(capacity);
    const control = new SharedArrayBuffer(8);
    this.#bytes = new Uint8Array(ring);
    this.#ctrl = new Int32Array(control);
    const workerData: RingWriterInput = { ring, control, fd, layout: LAYOUT };
    const thread = new Worker(new URL('./ring-writer-thread.js', import.meta.url), { workerData });
    this.#exited = new Promise<void>((resolve, reject) => {
      thread.once('error', reject);
      thread.once('exit', () => resolve());
    }).finally(() => closeSync(fd));
    this.#exited.catch(() => undefined); // seen by end()
  }

  /**
   * Copies data into the ring, waiting while it is full. False once the reader stopped reading
   * (EPIPE: its exit status tells whether that was a failure); any other failed write throws.
   */
  write(data: Uint8Array): boolean {
    const ctrl = this.#ctrl;
    const capacity = this.#bytes.length;
    for (let off = 0; off < data.length;) {
      const word = Atomics.load(ctrl, USED);
      if (word & BROKEN) return this.#broken();
      const room = capacity - (word & ~FLAGS);
      if (room === 0) {
        Atomics.wait(ctrl, USED, word);
        continue;
      }
      const n = Math.min(room, capacity - this.#at, data.length - off);
      this.#bytes.set(data.subarray(off, off + n), this.#at);
      this.#at = (this.#at + n) % capacity;
      off += n;
      Atomics.add(ctrl, USED, n);
      Atomics.notify(ctrl, USED);
    }
    return true;
  }

  /** No more data: resolves once the thread has written the rest and the descriptor is closed. */
  async end(): Promise<void> {
    this.#flag(END);
    await this.#exited;
    if (Atomics.load(this.#ctrl, USED) & BROKEN) this.#broken();
  }

  /** Closes the descriptor without writing what the ring still holds. */
  stop(): void {
    this.#flag(STOP);
  }

  #flag(flag: number): void {
    Atomics.or(this.#ctrl, USED, flag);
    Atomics.notify(this.#ctrl, USED);
  }

  #broken(): false {
    const code = getSystemErrorName(-Atomics.load(this.#ctrl, ERRNO));
    if (code === 'EPIPE') return false;
    throw new RingWriteError(code);
  }
}
