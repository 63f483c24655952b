import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import { ReaderFailedError } from './errors.ts';

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
function childSink(
  command: string,
  args: string[],
  what: string,
  opts: { cwd?: string; label?: string } = {},
): Writable {
  const label = opts.label ?? command;
  const child = spawn(command, args, {
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true,
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-STDERR_TAIL);
  });
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
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new ReaderFailedError(`${what}: cannot run ${label}: ${err.message}`)),
    );
    child.once('close', (code, signal) => {
      stdinOpen = false;
      release();
      if (code === 0) return resolve();
      const how = code === null ? `was killed by ${signal}` : `exited with status ${code}`;
      reject(
        new ReaderFailedError(
          `${what}: ${label} ${how}: ${stderr.trim().split('\n').slice(-10).join('\n') || '(no output)'}`,
        ),
      );
    });
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
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
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
export function readerSink(compression: CompressionAlgorithm, reader: string[], what: string): Writable {
  // Already decompressed (chunked volumes): the reader alone, not `cat | reader`, which copies every
  // byte through one more pipe and process.
  if (compression === 'none') return childSink(reader[0]!, reader.slice(1), what);
  return childSink(
    'bash',
    ['-o', 'pipefail', '-c', `${DECOMPRESS[compression]} | "$@"`, 'dockvault-reader', ...reader],
    what,
    { label: `${DECOMPRESS[compression].split(' ')[0]!} | ${reader[0]!}` },
  );
}
