import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type Docker from 'dockerode';
import { syncFilesystem } from '../sync-filesystem.ts';

/** Past this the stop goes ahead and pays for the rest, as it would have anyway. */
const FLUSH_WAIT_MS = 30_000;

/**
 * Writes the dirty page cache of the filesystem under the engine's data root to disk. The engine's
 * stop unmounts the container's overlay filesystem, which syncs that whole filesystem: with a few GB
 * waiting (a busy host, a previous backup's staging) `docker stop` took 4-5 s instead of 0.3 s, all of
 * it downtime. Flushing first, while the containers still run, leaves the stop little to wait for.
 * Best effort: where the data root is not on this machine (Docker Desktop) or sync fails, nothing
 * changes but the time the stop takes.
 */
export async function flushEngineFilesystem(docker: Docker): Promise<void> {
  try {
    const root = ((await docker.info()) as { DockerRootDir?: string }).DockerRootDir;
    if (!root || !existsSync(root)) return;
    const flushed = syncFilesystem(root).catch(() => undefined);
    await Promise.race([flushed, delay(FLUSH_WAIT_MS, undefined, { ref: false })]);
  } catch {
    // The engine's info is only a hint here; the stop itself reports real engine problems.
  }
}
