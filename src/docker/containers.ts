import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { ContainerNotFoundError, ContainerStartError, mapDockerError, statusCodeOf } from './errors.ts';
import { demuxBuffer, lastLines } from './demux.ts';
import { inspectVolume } from './volumes.ts';

export interface ContainerMount {
  type: string;
  name?: string;
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface ContainerState {
  name: string;
  id: string;
  running: boolean;
  status: string;
  startedAt: string;
  image: string;
  restartPolicy: string;
  mounts: ContainerMount[];
}

const LOG_TAIL_LINES = 20;
const DEFAULT_SETTLE_MS = 1500;

function toState(info: Docker.ContainerInspectInfo): ContainerState {
  const mounts: ContainerMount[] = (info.Mounts ?? []).map((m) => {
    const mount: ContainerMount = {
      type: m.Type,
      source: m.Source,
      destination: m.Destination,
      readOnly: !m.RW,
    };
    if (m.Name) mount.name = m.Name;
    return mount;
  });
  return {
    name: info.Name.replace(/^\//, ''),
    id: info.Id,
    // A container in a restart loop reports Running=true between attempts: it is not "up".
    running: info.State.Running && !info.State.Restarting,
    status: info.State.Status,
    startedAt: info.State.StartedAt,
    image: info.Config.Image,
    restartPolicy: info.HostConfig.RestartPolicy?.Name || 'no', // the API leaves it empty for 'no'
    mounts,
  };
}

/** The one inspect call of dockvault: a missing container is a ContainerNotFoundError. */
async function inspectInfo(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo> {
  try {
    return await docker.getContainer(name).inspect();
  } catch (err) {
    throw mapDockerError(err, `inspecting container '${name}'`, () => new ContainerNotFoundError(name));
  }
}

export async function inspectContainer(docker: Docker, name: string): Promise<ContainerState> {
  return toState(await inspectInfo(docker, name));
}

/**
 * A container's state and its environment, where PostgreSQL images keep their credentials. The
 * environment holds secrets: it is read inside an activity and never returned from one.
 */
export async function inspectContainerWithEnv(
  docker: Docker,
  name: string,
): Promise<{ state: ContainerState; env: string[] }> {
  const info = await inspectInfo(docker, name);
  return { state: toState(info), env: info.Config.Env ?? [] };
}

/** Stops a container (SIGTERM, then SIGKILL after `timeoutSeconds`). Already stopped (304) is success. */
export async function stopContainer(docker: Docker, name: string, timeoutSeconds: number): Promise<void> {
  try {
    await docker.getContainer(name).stop({ t: timeoutSeconds });
  } catch (err) {
    if (statusCodeOf(err) === 304) return;
    throw mapDockerError(err, `stopping container '${name}'`, () => new ContainerNotFoundError(name));
  }
}

async function logsTail(docker: Docker, name: string): Promise<string> {
  try {
    const container = docker.getContainer(name);
    const raw = await container.logs({ stdout: true, stderr: true, tail: LOG_TAIL_LINES, follow: false });
    return lastLines(demuxBuffer(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))), LOG_TAIL_LINES);
  } catch {
    return '(logs unavailable)';
  }
}

/**
 * Starts a container (already running, 304, is success), waits `waitMs` (default 1.5 s) and checks it
 * is still running, so a container that exits or crash-loops right away is reported, with its logs,
 * instead of counting as restarted.
 */
export async function startContainer(
  docker: Docker,
  name: string,
  opts: { waitMs?: number } = {},
): Promise<void> {
  try {
    await docker.getContainer(name).start();
  } catch (err) {
    const status = statusCodeOf(err);
    if (status !== 304) {
      const mapped = mapDockerError(
        err,
        `starting container '${name}'`,
        () => new ContainerNotFoundError(name),
      );
      if (status === 500 || status === 400) {
        // The engine refused to run it (missing binary, bad mount, port in use...).
        throw new ContainerStartError(
          name,
          `failed to start: ${mapped.message}`,
          await logsTail(docker, name),
          {
            cause: err,
          },
        );
      }
      throw mapped;
    }
  }
  await delay(opts.waitMs ?? DEFAULT_SETTLE_MS);
  const state = await inspectContainer(docker, name);
  if (!state.running) {
    throw new ContainerStartError(
      name,
      `is not running ${opts.waitMs ?? DEFAULT_SETTLE_MS} ms after start (status: ${state.status})`,
      await logsTail(docker, name),
    );
  }
}

/** Every container on the host that mounts the named volume, running or not. */
export async function containersUsingVolume(docker: Docker, volume: string): Promise<ContainerState[]> {
  await inspectVolume(docker, volume);
  let listed: Docker.ContainerInfo[];
  try {
    listed = await docker.listContainers({ all: true, filters: { volume: [volume] } });
  } catch (err) {
    throw mapDockerError(err, `listing containers that use volume '${volume}'`);
  }
  const states: ContainerState[] = [];
  for (const entry of listed) {
    let state: ContainerState;
    try {
      state = await inspectContainer(docker, entry.Id);
    } catch (err) {
      if (err instanceof ContainerNotFoundError) continue; // removed since the listing
      throw err;
    }
    // The engine's filter also matches a mount destination equal to the name: keep real uses.
    if (state.mounts.some((m) => m.type === 'volume' && m.name === volume)) states.push(state);
  }
  return states;
}
