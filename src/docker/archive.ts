import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm, statfs } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { Readable, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dirname } from 'node:path';
import type Docker from 'dockerode';
import { containersUsingVolume } from './containers.ts';
import { BoundedTail, lastLines } from './demux.ts';
import {
  ArchiveError,
  DockerAdapterError,
  mapDockerError,
  statusCodeOf,
  VolumeNotFoundError,
} from './errors.ts';
import { inspectVolume, isMountpointReadable } from './volumes.ts';

export type ArchiveMethod = 'host' | 'docker';

export interface ArchiveOptions {
  method: ArchiveMethod;
  signal?: AbortSignal;
  /** Image of the temporary container of the 'docker' method (only created, never started). */
  helperImage?: string;
  /**
   * Only these entries (NUL-terminated names as tar gives them, `.` and `./dir/file`), in this order,
   * directories without their contents; 'host' method only.
   */
  paths?: Buffer;
}

export interface VolumeArchive {
  /** A POSIX (pax) tar stream; entries are `./`, `./dir/`, `./dir/file`. Errors instead of ending if the producer failed. */
  stream: Readable;
  /** Resolves once the producer finished successfully; rejects (ArchiveError) if the archive is incomplete. */
  done: Promise<void>;
}

/** Flags of the 'host' method: pax keeps long unicode names and sub-second mtimes, --sparse keeps holes small. */
export const HOST_TAR_ARGS = [
  '--create',
  '--file=-',
  '--numeric-owner',
  '--sparse',
  '--xattrs',
  '--acls',
  '--one-file-system',
  '--format=posix',
  // Reading a file changes its atime, a chmod its ctime; tar restores neither. Without them an
  // unchanged tree gives the same bytes every time, which chunked backups deduplicate.
  '--pax-option=delete=atime,delete=ctime',
  // Sparse format 1.0 names each sparse member after tar's pid (GNUSparseFile.<pid>/); 0.0 keeps the
  // name, so that the bytes stay the same too. GNU tar extracts both.
  '--sparse-version=0.0',
  // Byte order of names, as the engine's archive: same entry order for both methods, reproducible archives.
  '--sort=name',
];

/** Where the 'docker' method mounts the volume in its helper container. */
const HELPER_MOUNT = '/dockvault-volume';
const STDERR_TAIL_BYTES = 16 * 1024;

export async function chooseArchiveMethod(docker: Docker, volume: string): Promise<ArchiveMethod> {
  const info = await inspectVolume(docker, volume);
  return (await isMountpointReadable(info)) ? 'host' : 'docker';
}

/**
 * Passes the producer's bytes through, and only ends once the producer reported success: a consumer
 * piping `stream` somewhere gets an error, never a clean end, when the archive is truncated.
 */
function gatedStream(done: Promise<void>, onEarlyClose: () => void): Transform {
  let finished = false;
  const gate = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      done.then(
        () => {
          finished = true;
          callback();
        },
        (err: unknown) => callback(err as Error),
      );
    },
  });
  gate.on('close', () => {
    if (!finished) onEarlyClose();
  });
  return gate;
}

function abortError(volume: string, signal: AbortSignal): ArchiveError {
  return new ArchiveError(volume, `archive of volume '${volume}' aborted`, true, { cause: signal.reason });
}

interface HostTar {
  /** tar's stdout when no file descriptor was given. */
  stdout: Readable | null;
  done: Promise<void>;
  kill: (reason: Error) => void;
}

/** Runs GNU tar on the volume's mountpoint, writing to a pipe or straight into an open file. */
async function spawnHostTar(
  docker: Docker,
  volume: string,
  signal: AbortSignal | undefined,
  output: 'pipe' | number,
  paths: Buffer | undefined,
): Promise<HostTar> {
  const info = await inspectVolume(docker, volume);
  signal?.throwIfAborted();
  const what = paths ? ['--no-recursion', '--null', '--verbatim-files-from', '--files-from=-'] : ['.'];
  const child = spawn('tar', [...HOST_TAR_ARGS, `--directory=${info.mountpoint}`, ...what], {
    stdio: [paths ? 'pipe' : 'ignore', output, 'pipe'],
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
  });
  // A tar that dies early closes its stdin: the error is tar's to report, not the write's.
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(paths);
  const stderr = new BoundedTail(STDERR_TAIL_BYTES);
  const childStderr = child.stderr!;
  childStderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let killedBecause: Error | undefined;
  const kill = (reason: Error) => {
    if (child.exitCode === null && child.signalCode === null) {
      killedBecause ??= reason;
      child.kill('SIGKILL');
    }
  };
  const onAbort = () => signal && kill(abortError(volume, signal));
  signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(
        new ArchiveError(volume, `cannot run tar for volume '${volume}': ${err.message}`, false, {
          cause: err,
        }),
      ),
    );
    // Not 'close': that waits for stdout to be drained, and a failed tar must be reported even when
    // the consumer stopped reading. stderr is read to its end first, for the message.
    const stderrClosed = new Promise<void>((ok) => childStderr.once('close', () => ok()));
    child.once('exit', (code, sig) => {
      void stderrClosed.then(() => settle(code, sig));
    });
    const settle = (code: number | null, sig: NodeJS.Signals | null) => {
      signal?.removeEventListener('abort', onAbort);
      if (killedBecause) return reject(killedBecause);
      if (code === 0) return resolve();
      // GNU tar exits 1 when a file changed while it was read: not a consistent archive either.
      const how = code === null ? `was killed by ${sig}` : `exited with status ${code}`;
      reject(
        new ArchiveError(
          volume,
          `tar of volume '${volume}' (${info.mountpoint}) ${how}: ${lastLines(stderr.toString(), 20) || '(no stderr)'}`,
        ),
      );
    };
  });
  done.catch(() => undefined); // observed through the stream or by the caller
  return { stdout: child.stdout, done, kill };
}

async function archiveOnHost(
  docker: Docker,
  volume: string,
  signal: AbortSignal | undefined,
  paths: Buffer | undefined,
): Promise<VolumeArchive> {
  const tar = await spawnHostTar(docker, volume, signal, 'pipe', paths);
  const stdout = tar.stdout!;
  const stream = gatedStream(tar.done, () =>
    tar.kill(new ArchiveError(volume, `archive stream of volume '${volume}' closed early`)),
  );
  stdout.on('error', (err) => stream.destroy(err));
  stdout.pipe(stream);
  tar.done.catch((err: unknown) => stream.destroy(err as Error));
  return { stream, done: tar.done };
}

/**
 * tar reports a full disk as a short write ("Wrote only 4096 of 10240 bytes"), without the cause:
 * name it, since it is the one failure the user fixes by hand.
 */
async function explainFullDisk(err: unknown, volume: string, dir: string): Promise<unknown> {
  const fs = await statfs(dir).catch(() => undefined);
  if (!fs || fs.bavail * fs.bsize >= 1024 * 1024) return err;
  return new ArchiveError(
    volume,
    `${(err as Error).message.trim()}: no space left on device in ${dir} (${fs.bavail * fs.bsize} bytes free)`,
    true,
    { cause: err },
  );
}

/**
 * 'host' to a file: tar writes into the file descriptor itself, so no byte passes through Node and
 * the archive (the time containers are stopped) runs at tar's own disk speed.
 */
async function archiveOnHostToFile(
  docker: Docker,
  volume: string,
  path: string,
  opts: ArchiveToFileOptions,
): Promise<number> {
  const handle = await open(path, 'wx', 0o600);
  const progress = setInterval(() => {
    handle.stat().then(
      (st) => opts.onProgress?.(st.size),
      () => undefined,
    );
  }, 100);
  try {
    const tar = await spawnHostTar(docker, volume, opts.signal, handle.fd, opts.paths);
    await tar.done.catch(async (err: unknown) => {
      throw await explainFullDisk(err, volume, dirname(path));
    });
    const { size } = await handle.stat();
    opts.onProgress?.(size);
    return size;
  } finally {
    clearInterval(progress);
    await handle.close();
  }
}

async function createHelper(docker: Docker, volume: string, helperImage?: string): Promise<Docker.Container> {
  const candidates: string[] = [];
  if (helperImage) candidates.push(helperImage);
  else {
    for (const c of await containersUsingVolume(docker, volume)) candidates.push(c.image);
    if (process.env.DOCKVAULT_BUSYBOX_IMAGE) candidates.push(process.env.DOCKVAULT_BUSYBOX_IMAGE);
  }
  const tried: string[] = [];
  for (const image of [...new Set(candidates)]) {
    try {
      return await docker.createContainer({
        name: `dockvault-archive-${randomBytes(6).toString('hex')}`,
        Image: image,
        // Never started: any command will do, the image need not contain one.
        Cmd: ['/dockvault-never-started'],
        Labels: { 'dockvault.helper': 'archive', 'dockvault.volume': volume },
        NetworkDisabled: true,
        HostConfig: {
          NetworkMode: 'none',
          // NoCopy: an empty volume must not be filled with the image's files at the mount path.
          Mounts: [
            {
              Type: 'volume',
              Source: volume,
              Target: HELPER_MOUNT,
              ReadOnly: true,
              VolumeOptions: { NoCopy: true } as Docker.MountSettings['VolumeOptions'],
            },
          ],
        },
      });
    } catch (err) {
      // The volume was inspected just before, so a 404 here means the image is not present locally.
      if (statusCodeOf(err) === 404) {
        tried.push(image);
        continue;
      }
      throw mapDockerError(err, `creating the archive helper container for volume '${volume}'`);
    }
  }
  throw new ArchiveError(
    volume,
    `no helper image available locally to archive volume '${volume}' (tried: ${tried.join(', ') || 'none'}); pass helperImage or set DOCKVAULT_BUSYBOX_IMAGE`,
    false,
  );
}

async function archiveThroughDocker(
  docker: Docker,
  volume: string,
  signal: AbortSignal | undefined,
  helperImage: string | undefined,
): Promise<VolumeArchive> {
  await inspectVolume(docker, volume);
  signal?.throwIfAborted();
  const helper = await createHelper(docker, volume, helperImage);
  const removeHelper = () => helper.remove({ force: true, v: false }).catch(() => undefined);
  let response: NodeJS.ReadableStream & Readable;
  try {
    // "<mount>/." makes the engine name entries "./", "./dir/file" (hard link targets too), as GNU tar does.
    response = (await helper.getArchive({ path: `${HELPER_MOUNT}/.` })) as NodeJS.ReadableStream & Readable;
  } catch (err) {
    await removeHelper();
    throw mapDockerError(
      err,
      `reading the archive of volume '${volume}'`,
      () => new VolumeNotFoundError(volume),
    );
  }
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    response.destroy(failure);
  };
  const onAbort = () => signal && fail(abortError(volume, signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    let ended = false;
    response.once('end', () => (ended = true));
    response.once('error', (err) => fail(err));
    response.once('close', () => {
      signal?.removeEventListener('abort', onAbort);
      void removeHelper().then(() => {
        if (failure) {
          reject(
            failure instanceof DockerAdapterError
              ? failure
              : new ArchiveError(
                  volume,
                  `archive stream of volume '${volume}' failed: ${failure.message}`,
                  true,
                  {
                    cause: failure,
                  },
                ),
          );
        } else if (!ended) {
          reject(new ArchiveError(volume, `archive stream of volume '${volume}' ended prematurely`));
        } else resolve();
      });
    });
  });
  done.catch(() => undefined);
  const stream = gatedStream(done, () =>
    fail(new ArchiveError(volume, `archive stream of volume '${volume}' closed early`)),
  );
  response.pipe(stream);
  done.catch((err: unknown) => stream.destroy(err as Error));
  return { stream, done };
}

/**
 * A tar stream of a volume's contents, entries relative to the volume root (`./`, `./dir/file`), the
 * same names with either method. `done` rejects with an ArchiveError when the producer failed, and the
 * stream then errors instead of ending, so a truncated archive is never mistaken for a complete one.
 */
export async function archiveVolume(
  docker: Docker,
  volume: string,
  opts: ArchiveOptions,
): Promise<VolumeArchive> {
  if (opts.method === 'host') return archiveOnHost(docker, volume, opts.signal, opts.paths);
  if (opts.paths) throw new TypeError('archives of chosen entries need the host method');
  return archiveThroughDocker(docker, volume, opts.signal, opts.helperImage);
}

export interface ArchiveToFileOptions extends ArchiveOptions {
  onProgress?: (bytes: number) => void;
}

/**
 * Writes a volume's archive to a staging file: created fresh with mode 0600 (a previous attempt's file
 * is replaced), not fsynced (see below). On any failure the partial file is deleted.
 */
export async function archiveVolumeToFile(
  docker: Docker,
  volume: string,
  path: string,
  opts: ArchiveToFileOptions,
): Promise<{ bytes: number; method: ArchiveMethod }> {
  await rm(path, { force: true });
  let bytes = 0;
  try {
    if (opts.method === 'host') {
      return { bytes: await archiveOnHostToFile(docker, volume, path, opts), method: opts.method };
    }
    const archive = await archiveVolume(docker, volume, opts);
    const count = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        bytes += chunk.length;
        opts.onProgress?.(bytes);
        callback(null, chunk);
      },
    });
    // 'wx': created fresh with mode 0600 whatever an earlier attempt left. No fsync: it doubled the
    // time containers stay stopped, and staging is scratch; a host crash before the upload is caught
    // by the boot id the staging activities record (src/activities/transfer.ts).
    const out = createWriteStream(path, {
      flags: 'wx',
      mode: 0o600,
      highWaterMark: 1024 * 1024,
    });
    await pipeline(archive.stream, count, out, opts.signal ? { signal: opts.signal } : {});
    await archive.done;
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return { bytes, method: opts.method };
}
