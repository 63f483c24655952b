// A second Docker engine on this machine, so a test can drive two Docker hosts with one Temporal server:
// its own socket, data root, exec root (and so its own containerd), pid file and bridge. It leaves the
// main engine (scripts/stack.sh) alone: a bridge of its own instead of docker0, and no iptables rules,
// so neither engine's chains, NAT or isolation rules are rewritten by the other. Started on demand by
// the first test that needs it and reused by the next ones; `scripts/stack.sh down` stops it.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { stack } from './stack-env.ts';

const exec = promisify(execFile);
const repoStack = fileURLToPath(new URL('../../.stack/', import.meta.url));
const root = join(repoStack, 'docker-b');
const socketPath = join(root, 'docker.sock');
const logFile = join(repoStack, 'logs', 'dockerd-b.log');
/** scripts/stack.sh `down` stops the engine by this file (dockerd writes it). */
const pidFile = join(root, 'docker.pid');
/** Outside docker0 and every pool the main engine takes user networks from (172.17-31/16, 192.168/16). */
export const ENGINE_B_BRIDGE = { name: 'dvb0', cidr: '10.213.0.1/24' };

export interface DockerEngine {
  /** What a process that should use this engine gets as DOCKER_HOST. */
  dockerHost: string;
  socketPath: string;
  docker: Docker;
}

/**
 * The second engine, started as root if nothing answers on its socket, with `images` (default the
 * busybox image) present in it: copied from the main engine with `docker save | docker load`.
 */
export async function secondDockerEngine(images: string[] = [stack.busyboxImage]): Promise<DockerEngine> {
  const docker = new Docker({ socketPath });
  await withStartLock(async () => {
    if (!(await answers(docker))) await startEngine(docker);
  });
  for (const image of images) await copyImage(docker, image);
  return { dockerHost: `unix://${socketPath}`, socketPath, docker };
}

async function answers(docker: Docker): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  return docker.ping().then(
    () => true,
    () => false,
  );
}

async function startEngine(docker: Docker): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(`a second Docker engine needs root (dockerd); nothing answers on ${socketPath}`);
  }
  await mkdir(join(repoStack, 'logs'), { recursive: true });
  await mkdir(root, { recursive: true });
  await ensureBridge();
  // A socket left by a killed engine would make dockerd refuse to start.
  await rm(socketPath, { force: true });
  const log = await open(logFile, 'a');
  const child = spawn(
    'dockerd',
    [
      `--host=unix://${socketPath}`,
      `--data-root=${join(root, 'data')}`,
      `--exec-root=${join(root, 'exec')}`,
      `--pidfile=${pidFile}`,
      `--bridge=${ENGINE_B_BRIDGE.name}`,
      '--iptables=false',
      '--ip-masq=false',
      // Its containers' cgroups apart from the main engine's /docker/<id>.
      '--cgroup-parent=/dockvault-engine-b',
    ],
    { detached: true, stdio: ['ignore', log.fd, log.fd] },
  );
  child.unref();
  await log.close();
  const deadline = Date.now() + 60_000;
  while (!(await answers(docker))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-25).join('\n');
      throw new Error(
        `the second dockerd (${socketPath}) did not start${child.exitCode !== null ? ` (exit ${child.exitCode})` : ' within 60 s'}; last lines of ${logFile}:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** `--bridge` names an existing interface: dockerd attaches to it and takes its address as the subnet. */
async function ensureBridge(): Promise<void> {
  const { name, cidr } = ENGINE_B_BRIDGE;
  const shown = await exec('ip', ['-o', 'addr', 'show', 'dev', name]).catch(() => undefined);
  if (shown?.stdout.includes(cidr)) return;
  if (!shown) await exec('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
  await exec('ip', ['addr', 'add', cidr, 'dev', name]);
  await exec('ip', ['link', 'set', name, 'up']);
}

async function copyImage(docker: Docker, image: string): Promise<void> {
  const present = await docker
    .getImage(image)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  if (present) return;
  await exec('bash', [
    '-o',
    'pipefail',
    '-c',
    `docker save "$1" | docker -H "unix://$2" load >/dev/null`,
    'copy-image',
    image,
    socketPath,
  ]).catch((err: Error & { stderr?: string }) => {
    throw new Error(`cannot copy image ${image} into the second engine: ${err.stderr || err.message}`);
  });
}

/** Test files in other processes may ask at the same moment: one of them starts the engine. */
async function withStartLock(fn: () => Promise<void>): Promise<void> {
  await mkdir(root, { recursive: true });
  const lock = join(root, 'start.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(lock, 'utf8').catch(() => '0'));
      if (!isAlive(holder)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lock} is held by pid ${holder} for 2 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
