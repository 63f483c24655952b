import { readFile } from 'node:fs/promises';
import { Writable, type Duplex, type Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { BoundedTail, DockerStreamDemuxer } from './demux.ts';
import { ContainerNotFoundError, ExecFailedError, mapDockerError, statusCodeOf } from './errors.ts';

export interface ExecOptions {
  user?: string;
  /** KEY=value pairs. Never logged nor put in error messages (they may carry secrets such as PGPASSWORD). */
  env?: string[];
}

export interface ExecCaptureOptions extends ExecOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Per stream; default 1 MiB. stdout keeps its first bytes, stderr its last ones. */
  maxOutputBytes?: number;
}

export interface ExecCaptureResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A command fed from this process (pg_restore, psql): its stdin, and how it ended. */
export interface ExecSink {
  /** Ending it closes the command's stdin (half-close of the hijacked connection). */
  stdin: Writable;
  /** Resolves with the exit code and the last 64 KiB of stdout and stderr together, once it ended. */
  result: Promise<{ exitCode: number; output: string }>;
}

export interface ExecStreamResult {
  /** The command's stdout, demultiplexed; the command blocks when this is not read (backpressure). */
  stdout: Readable;
  /** The last 64 KiB of stderr so far. */
  stderrTail: () => string;
  /** The exit code, once stdout has ended (rejects if the stream failed). */
  exitCode: () => Promise<number>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT = 1024 * 1024;
const STDERR_TAIL_BYTES = 64 * 1024;
const KILL_GRACE_MS = 2_000;

async function startExec(
  docker: Docker,
  container: string,
  cmd: string[],
  opts: ExecOptions & { stdin?: boolean },
): Promise<{ exec: Docker.Exec; socket: Duplex; containerId: string }> {
  const stdin = opts.stdin ?? false;
  const target = docker.getContainer(container);
  let exec: Docker.Exec;
  try {
    exec = await target.exec({
      Cmd: cmd,
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: stdin,
      Tty: false,
      ...(opts.user ? { User: opts.user } : {}),
      ...(opts.env ? { Env: opts.env } : {}),
    });
  } catch (err) {
    if (statusCodeOf(err) === 409) {
      throw new ExecFailedError(
        container,
        'not-running',
        `cannot exec in container '${container}': it is not running`,
        {
          cause: err,
        },
      );
    }
    throw mapDockerError(
      err,
      `creating an exec in container '${container}'`,
      () => new ContainerNotFoundError(container),
    );
  }
  try {
    const socket = await exec.start({ hijack: true, stdin });
    const info = await exec.inspect();
    return { exec, socket, containerId: info.ContainerID };
  } catch (err) {
    throw mapDockerError(
      err,
      `starting an exec in container '${container}'`,
      () => new ContainerNotFoundError(container),
    );
  }
}

/** How long the engine may take to record an exit after the command's output ended. */
const EXIT_WAIT_MS = 5_000;

async function readExitCode(exec: Docker.Exec, container: string, cmd: string[]): Promise<number> {
  // The stream can end a moment before the engine records the exit.
  for (let waited = 0; ; waited += 20) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    if (waited >= EXIT_WAIT_MS) {
      throw new ExecFailedError(
        container,
        'api',
        `'${cmd[0] ?? ''}' in container '${container}' still reported running ${EXIT_WAIT_MS} ms after its output ended`,
      );
    }
    await delay(20);
  }
}

/**
 * Kills an exec'd process. The Docker API has no call for it, so this works only when the worker runs
 * on the Docker host with the host's PID namespace (as root): exec inspect gives the host PID, which is
 * checked to belong to the container's cgroup (against PID reuse), then sent SIGTERM and, after 2 s,
 * SIGKILL. Returns false when that is not possible (the process may keep running in the container).
 */
async function killExecProcess(exec: Docker.Exec, containerId: string): Promise<boolean> {
  let pid: number;
  try {
    pid = (await exec.inspect()).Pid;
  } catch {
    return false;
  }
  if (!pid) return false;
  const ownedByContainer = async () => {
    try {
      return (await readFile(`/proc/${pid}/cgroup`, 'utf8')).includes(containerId);
    } catch {
      return false;
    }
  };
  if (!(await ownedByContainer())) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  for (let waited = 0; waited < KILL_GRACE_MS; waited += 100) {
    await delay(100);
    if (!(await ownedByContainer())) return true;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
  return true;
}

/**
 * Runs a short command (hooks, small queries) and captures its output. A non-zero exit code is returned,
 * not thrown. After `timeoutMs` the process is killed where possible (see killExecProcess) and an
 * ExecFailedError('timeout') is thrown.
 */
export async function execCapture(
  docker: Docker,
  container: string,
  cmd: string[],
  opts: ExecCaptureOptions = {},
): Promise<ExecCaptureResult> {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { exec, socket, containerId } = await startExec(docker, container, cmd, opts);
  const stderr = new BoundedTail(max);
  const stdoutChunks: Buffer[] = [];
  let stdoutSize = 0;
  let stdoutDropped = 0;
  const demux = new DockerStreamDemuxer((chunk) => stderr.push(chunk));
  demux.on('data', (chunk: Buffer) => {
    const room = max - stdoutSize;
    if (room > 0) {
      const kept = chunk.subarray(0, room);
      stdoutChunks.push(kept);
      stdoutSize += kept.length;
    }
    stdoutDropped += Math.max(0, chunk.length - Math.max(0, room));
  });
  const finished = new Promise<void>((resolve, reject) => {
    demux.once('end', resolve);
    demux.once('error', reject);
    socket.once('error', reject);
  });
  finished.catch(() => undefined); // raced below; a late failure after a timeout is irrelevant
  socket.pipe(demux);

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([finished.then(() => 'finished' as const), timedOut]);
    if (outcome === 'timeout') {
      const killed = await killExecProcess(exec, containerId);
      socket.destroy();
      throw new ExecFailedError(
        container,
        'timeout',
        `command '${cmd[0] ?? ''}' in container '${container}' did not finish within ${timeoutMs} ms; ` +
          (killed ? 'it was killed' : 'it could not be killed from this worker and may still be running'),
      );
    }
  } catch (err) {
    socket.destroy();
    if (err instanceof ExecFailedError) throw err;
    throw mapDockerError(err, `reading the output of '${cmd[0] ?? ''}' in container '${container}'`);
  } finally {
    clearTimeout(timer);
  }
  let stdout = Buffer.concat(stdoutChunks).toString('utf8');
  if (stdoutDropped > 0) stdout += `\n[dockvault: ${stdoutDropped} more bytes of stdout dropped]`;
  let stderrText = stderr.toString();
  if (stderr.droppedBytes > 0)
    stderrText = `[dockvault: first ${stderr.droppedBytes} bytes of stderr dropped]\n${stderrText}`;
  return { exitCode: await readExitCode(exec, container, cmd), stdout, stderr: stderrText };
}

/**
 * Runs a long command whose stdout is data (pg_dump). stdout is demultiplexed with backpressure: the
 * command blocks while the consumer is slow. stderr is kept as a bounded tail for error messages.
 * Destroying `stdout` closes the connection; the engine then stops relaying output (the process gets
 * SIGPIPE on its next write).
 */
export async function execStream(
  docker: Docker,
  container: string,
  cmd: string[],
  opts: ExecOptions = {},
): Promise<ExecStreamResult> {
  const { exec, socket } = await startExec(docker, container, cmd, opts);
  const stderr = new BoundedTail(STDERR_TAIL_BYTES);
  const stdout = new DockerStreamDemuxer((chunk) => stderr.push(chunk));
  socket.on('error', (err) => stdout.destroy(err));
  stdout.on('close', () => socket.destroy());
  socket.pipe(stdout);
  const ended = new Promise<void>((resolve, reject) => {
    stdout.once('end', resolve);
    stdout.once('error', reject);
    stdout.once('close', () => {
      if (!stdout.readableEnded)
        reject(new Error(`output stream of '${cmd[0] ?? ''}' in container '${container}' closed early`));
    });
  });
  ended.catch(() => undefined);
  let exit: Promise<number> | undefined;
  return {
    stdout,
    stderrTail: () => stderr.toString(),
    exitCode: () => {
      exit ??= ended.then(() => readExitCode(exec, container, cmd));
      return exit;
    },
  };
}

/**
 * Runs a command with its stdin fed from this process (pg_restore, psql): the reverse direction of
 * execStream. stdout and stderr are kept as one bounded tail for messages. A command that exits early
 * (an error) gets nothing more: writes to `stdin` fail from then on (ExecFailedError 'input-closed'),
 * and `result` has its exit code.
 */
export async function execWithStdin(
  docker: Docker,
  container: string,
  cmd: string[],
  opts: ExecOptions = {},
): Promise<ExecSink> {
  const { exec, socket } = await startExec(docker, container, cmd, { ...opts, stdin: true });
  const output = new BoundedTail(STDERR_TAIL_BYTES);
  const demux = new DockerStreamDemuxer((chunk) => output.push(chunk));
  demux.on('data', (chunk: Buffer) => output.push(chunk));
  socket.pipe(demux);
  // The command exited: the engine ends its side of the connection once the output is sent, and no
  // longer reads ours. A connection that closes first (an engine that resets it when the command
  // exits, a write into it after that) ends the wait too: the exit code is the engine's to tell.
  const ended = new Promise<void>((resolve, reject) => {
    demux.once('end', resolve);
    demux.once('error', reject);
    socket.once('close', () => resolve());
  });
  const result = ended.then(async () => ({
    exitCode: await readExitCode(exec, container, cmd),
    output: output.toString(),
  }));
  result.catch(() => undefined);
  let stopped: ExecFailedError | undefined;
  let waiting: ((err: Error) => void) | undefined;
  const stop = (how: string) => {
    stopped ??= new ExecFailedError(
      container,
      'input-closed',
      `'${cmd[0] ?? ''}' in container '${container}' reads no more input: ${how}`,
    );
    const cb = waiting;
    waiting = undefined;
    cb?.(stopped);
  };
  socket.once('end', () => stop('it exited'));
  socket.once('close', () => stop('the connection to it closed'));
  socket.on('error', (err) => stop(`the connection to it failed: ${err.message}`));
  const stdin = new Writable({
    highWaterMark: 1024 * 1024,
    // Once it stopped, a write would wait for room that never comes (the engine reads no more): it
    // fails instead, so the feeder stops; the command's exit code and output say why it stopped.
    write(chunk: Buffer, _encoding, callback) {
      if (stopped) return callback(stopped);
      if (socket.write(chunk)) return callback();
      waiting = callback;
      socket.once('drain', () => {
        if (waiting !== callback) return;
        waiting = undefined;
        callback();
      });
    },
    // Nothing is left to write: a command that already exited is no failure of the input's.
    final(callback) {
      if (!stopped) socket.end();
      callback();
    },
    destroy(err, callback) {
      if (err) socket.destroy();
      callback(err);
    },
  });
  return { stdin, result };
}
