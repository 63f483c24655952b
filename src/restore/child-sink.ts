import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, open, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import { ReaderFailedError } from './errors.ts';
import { RingWriter } from './ring-writer.ts';

const STDERR_TAIL = 8 * 1024;

/**
 * A Writable that feeds a child process's stdin (tar -x, tar -t, pg_restore --list) with backpressure
 * and finishes only when the child exited 0. If the child exits early with success (tar stops reading
 * after the end-of-archive blocks), the rest of the input is still consumed and discarded, so the
 * producer reads, hashes and authenticates the whole object. A failing child destroys the sink with an
 * error carrying its stderr tail; destroying the sink kills the child and what it started (the child
 * leads a process group of its own: killing only `bash` of `bash -c 'zstd -d | tar -x'` would leave a
 * cancelled restore's tar writing until its input ran dry).
 */
function childSink(command: string, args: string[], what: string, opts: SinkOptions = {}): Writable {
  if (opts.blocking) return blockingChildSink(command, args, what, opts);
  const label = opts.label ?? command;
  const child = spawn(command, args, {
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  opts.onSpawn?.(child.pid!);
  let stdinOpen = true;
  let waiting: (() => void) | undefined;
  const release = () => {
    const cb = waiting;
    waiting = undefined;
    cb?.();
  };
  child.stdin.on('error', () => {
    // EPIPE: the child stopped reading; its exit status decides whether that was a failure.
    stdinOpen = false;
    release();
  });
  child.stdin.on('drain', release);
  const exited = exitOf(child, what, label, () => {
    stdinOpen = false;
    release();
  });
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (!stdinOpen || child.stdin.write(chunk)) return callback();
      waiting = () => callback();
    },
    // Buffered 64 KiB chunks go to the pipe in one writev(2) call, not one write(2) each.
    writev(chunks, callback) {
      if (!stdinOpen) return callback();
      child.stdin.cork();
      let room = true;
      for (const { chunk } of chunks) room = child.stdin.write(chunk as Buffer);
      child.stdin.uncork();
      if (room || !stdinOpen) return callback();
      waiting = () => callback();
    },
    final(callback) {
      if (stdinOpen) child.stdin.end();
      exited.then(
        () => callback(),
        (err: Error) => callback(err),
      );
    },
    destroy(err, callback) {
      killGroup(child);
      callback(err);
    },
  });
  exited.catch((err: unknown) => sink.destroy(err as Error));
  return sink;
}

interface SinkOptions {
  cwd?: string;
  label?: string;
  /** Feed the child with blocking writes (see blockingChildSink): only on a thread that may block. */
  blocking?: boolean;
  /** The child's pid, once started: its process group is what to kill to stop it. */
  onSpawn?: (pid: number) => void;
}

/** Resolves when the child exited 0; rejects with its stderr tail otherwise. `closed` runs first. */
function exitOf(child: ChildProcess, what: string, label: string, closed: () => void): Promise<void> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-STDERR_TAIL);
  });
  return new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new ReaderFailedError(`${what}: cannot run ${label}: ${err.message}`)),
    );
    child.once('close', (code, signal) => {
      closed();
      if (code === 0) return resolve();
      const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
      reject(
        new ReaderFailedError(
          `${what}: ${label} ${how}: ${stderr.trim().split('\n').slice(-10).join('\n') || '(no output)'}`,
        ),
      );
    });
  });
}

function killGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * childSink with blocking writes into a FIFO the child reads as its stdin. Node's pipe to a child is
 * non-blocking, and a reading thread that writes a GB into it through libuv spent 1.9 s of its 6.5 s
 * CPU collecting garbage (0.4 s into a sink that discards); writing with write(2) into a blocking pipe
 * the same 670 MB restore took 3.9-4.5 s instead of 5.5-5.6 s, 3.7-4.1 s of CPU instead of 6.6-6.8 s.
 * The writes are made by a thread of their own (RingWriter) from 8 MiB of shared memory, so the
 * calling thread blocks only once that is full; a child that stops reading for good is killed by its
 * process group (onSpawn gives the pid to a thread that is not blocked).
 */
function blockingChildSink(command: string, args: string[], what: string, opts: SinkOptions): Writable {
  const label = opts.label ?? command;
  const dir = mkdtempSync(join(tmpdir(), 'dockvault-reader-'));
  const fifo = join(dir, 'stdin');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  // The shell opens the FIFO as the child's stdin (blocking until this side opens it for writing).
  // Its stderr goes through `tail`, which keeps reading: a child writing warnings while this thread
  // waits for room in the ring (and so does not read the child's stderr) never blocks on them.
  const tail = `tail -c ${STDERR_TAIL} >&2`;
  const child = spawn('bash', ['-c', `exec "$@" < "$0" 2> >(${tail})`, fifo, command, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  opts.onSpawn?.(child.pid!);
  let fd: number | undefined;
  let stdinOpen = true;
  const exited = exitOf(child, what, label, () => {
    stdinOpen = false;
    // A child gone before it opened the FIFO: a reader of our own lets the open below return.
    if (fd === undefined) {
      try {
        closeSync(openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK));
      } catch {
        // the FIFO is open, or removed already
      }
    }
  });
  let ring: RingWriter | undefined;
  const writeAll = (chunk: Buffer) => {
    if (stdinOpen && !ring!.write(chunk)) stdinOpen = false;
  };
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    construct(callback) {
      // On the thread pool: the open returns once the child's shell has opened the other end.
      open(fifo, 'w', (err, opened) => {
        rmSync(dir, { recursive: true, force: true });
        if (err) return callback(err);
        fd = opened;
        if (sink.destroyed) {
          closeSync(opened);
          return callback();
        }
        ring = new RingWriter(opened);
        callback();
      });
    },
    write(chunk: Buffer, _encoding, callback) {
      writeAll(chunk);
      callback();
    },
    writev(chunks, callback) {
      for (const { chunk } of chunks) writeAll(chunk as Buffer);
      callback();
    },
    final(callback) {
      ring!
        .end()
        .then(() => exited)
        .then(
          () => callback(),
          (err: Error) => callback(err),
        );
    },
    destroy(err, callback) {
      killGroup(child);
      ring?.stop();
      rmSync(dir, { recursive: true, force: true });
      callback(err);
    },
  });
  exited.catch((err: unknown) => sink.destroy(err as Error));
  return sink;
}

/** The decompressing command of each algorithm, reading stdin and writing stdout. */
const DECOMPRESS: Record<Exclude<CompressionAlgorithm, 'none'>, string> = {
  zstd: 'zstd --decompress --stdout --quiet',
  gzip: 'gzip --decompress --stdout',
};

/**
 * A sink for compressed plaintext: `<decompress> | reader...` as one pipeline with pipefail, so a
 * failure of either process fails the sink. The decompressor (which also checks zstd's frame
 * checksum) and the reader run as separate processes, in parallel with the download and decryption.
 */
export function readerSink(
  compression: CompressionAlgorithm,
  reader: string[],
  what: string,
  opts: Pick<SinkOptions, 'blocking' | 'onSpawn'> = {},
): Writable {
  // Already decompressed (chunked volumes): the reader alone, not `cat | reader`, which copies every
  // byte through one more pipe and process.
  if (compression === 'none') return childSink(reader[0]!, reader.slice(1), what, opts);
  return childSink(
    'bash',
    ['-o', 'pipefail', '-c', `${DECOMPRESS[compression]} | "$@"`, 'dockvault-reader', ...reader],
    what,
    { ...opts, label: `${DECOMPRESS[compression].split(' ')[0]!} | ${reader[0]!}` },
  );
}
