import { Writable, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { BoundedTail, DockerStreamDemuxer } from '../docker/demux.ts';
import { ContainerNotFoundError, mapDockerError } from '../docker/errors.ts';
import { ReaderFailedError } from './errors.ts';

const OUTPUT_TAIL = 64 * 1024;

export interface ExecSink {
  /** The command's stdin: ending it closes the command's stdin (half-close of the hijacked connection). */
  stdin: Writable;
  /** Resolves with the exit code and the output's tail once the command ended. */
  result: Promise<{ exitCode: number; output: string }>;
}

/**
 * Runs a command in a container with its stdin fed from this process (pg_restore, psql): the reverse
 * direction of execStream. stdout and stderr are kept as one bounded tail for messages; environment
 * values (PGPASSWORD) are never logged.
 */
export async function execWithStdin(
  docker: Docker,
  container: string,
  cmd: string[],
  opts: { user?: string; env?: string[] } = {},
): Promise<ExecSink> {
  let exec: Docker.Exec;
  let socket: Duplex;
  try {
    exec = await docker.getContainer(container).exec({
      Cmd: cmd,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      ...(opts.user ? { User: opts.user } : {}),
      ...(opts.env ? { Env: opts.env } : {}),
    });
    socket = await exec.start({ hijack: true, stdin: true });
  } catch (err) {
    throw mapDockerError(
      err,
      `running ${cmd[0] ?? ''} in container '${container}'`,
      () => new ContainerNotFoundError(container),
    );
  }
  const output = new BoundedTail(OUTPUT_TAIL);
  const demux = new DockerStreamDemuxer((chunk) => output.push(chunk));
  demux.on('data', (chunk: Buffer) => output.push(chunk));
  socket.pipe(demux);
  const ended = new Promise<void>((resolve, reject) => {
    demux.once('end', resolve);
    demux.once('error', reject);
    socket.once('error', reject);
  });
  const result = ended.then(async () => {
    for (let i = 0; i < 100; i++) {
      const info = await exec.inspect();
      if (!info.Running && info.ExitCode !== null)
        return { exitCode: info.ExitCode, output: output.toString() };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new ReaderFailedError(
      `${cmd[0] ?? ''} in container '${container}': no exit code after its output ended`,
    );
  });
  result.catch(() => undefined);
  let closed = false;
  socket.once('close', () => (closed = true));
  const stdin = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      // The command may exit early (an error): what is left goes nowhere, its exit code tells.
      if (closed || socket.write(chunk)) return callback();
      socket.once('drain', () => callback());
    },
    final(callback) {
      if (!closed) socket.end();
      callback();
    },
    destroy(err, callback) {
      if (err) socket.destroy();
      callback(err);
    },
  });
  return { stdin, result };
}
