import { constants } from 'node:fs';
import { access, lstat, opendir } from 'node:fs/promises';
import type Docker from 'dockerode';
import { DockerApiError, VolumeNotFoundError, mapDockerError } from './errors.ts';

export interface VolumeInfo {
  name: string;
  mountpoint: string;
  driver: string;
  labels: Record<string, string>;
}

export async function inspectVolume(docker: Docker, name: string): Promise<VolumeInfo> {
  try {
    const info = await docker.getVolume(name).inspect();
    return {
      name: info.Name,
      mountpoint: info.Mountpoint,
      driver: info.Driver,
      labels: info.Labels ?? {},
    };
  } catch (err) {
    throw mapDockerError(err, `inspecting volume '${name}'`, () => new VolumeNotFoundError(name));
  }
}

/**
 * True when this process can read the volume's data directly: a 'local' driver volume (other drivers
 * only mount their data while a container uses it), a mountpoint this process can list, and root
 * (volume contents belong to arbitrary uids). False on Docker Desktop, a remote DOCKER_HOST, or a
 * worker in a container without /var/lib/docker mounted.
 */
export async function isMountpointReadable(volume: VolumeInfo): Promise<boolean> {
  if (volume.driver !== 'local' || !volume.mountpoint) return false;
  if (process.getuid?.() !== 0) return false;
  try {
    await access(volume.mountpoint, constants.R_OK | constants.X_OK);
    const dir = await opendir(volume.mountpoint);
    await dir.close();
    return true;
  } catch {
    return false;
  }
}

const WALK_BATCH = 64;

/** Apparent size of a tree, hard links counted once, not crossing into other filesystems (like tar --one-file-system). */
async function walkSize(root: string): Promise<number> {
  const rootStat = await lstat(root, { bigint: true });
  const seenInodes = new Set<bigint>();
  let total = 0;
  const dirs = [root];
  while (dirs.length > 0) {
    const dir = dirs.pop() as string;
    const names: string[] = [];
    try {
      for await (const entry of await opendir(dir)) names.push(entry.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while walking
      throw err;
    }
    for (let i = 0; i < names.length; i += WALK_BATCH) {
      const batch = names.slice(i, i + WALK_BATCH).map((n) => `${dir}/${n}`);
      const stats = await Promise.all(batch.map((p) => lstat(p, { bigint: true }).catch(() => undefined)));
      stats.forEach((st, j) => {
        if (!st) return;
        if (st.isDirectory()) {
          if (st.dev === rootStat.dev) dirs.push(batch[j] as string);
          return;
        }
        if (st.nlink > 1n) {
          if (seenInodes.has(st.ino)) return;
          seenInodes.add(st.ino);
        }
        total += Number(st.size);
      });
    }
  }
  return total;
}

interface SystemDfVolume {
  Name: string;
  UsageData?: { Size: number; RefCount: number } | null;
}

/**
 * Bytes of data in a volume (apparent file sizes, hard links once, same meaning as `docker system df -v`).
 * A sparse file counts at its apparent size: a conservative estimate for staging space checks. Walks the
 * mountpoint when this process can read it (fast, current); else asks the engine's /system/df, which walks
 * every volume on the host and can take a while on big hosts.
 */
export async function estimateVolumeSize(docker: Docker, name: string): Promise<number> {
  const volume = await inspectVolume(docker, name);
  if (await isMountpointReadable(volume)) return walkSize(volume.mountpoint);
  let df: { Volumes?: SystemDfVolume[] | null };
  try {
    df = (await docker.df()) as { Volumes?: SystemDfVolume[] | null };
  } catch (err) {
    throw mapDockerError(err, `reading disk usage of volume '${name}'`);
  }
  const entry = (df.Volumes ?? []).find((v) => v.Name === name);
  if (!entry) throw new VolumeNotFoundError(name);
  const size = entry.UsageData?.Size ?? -1;
  if (size < 0) {
    throw new DockerApiError(
      `the Docker engine reports no size for volume '${name}' (driver '${volume.driver}')`,
      undefined,
    );
  }
  return size;
}
