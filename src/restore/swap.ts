import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The directories of one restore into one local volume. All are siblings of the volume's `_data`
 * (its mountpoint) inside the volume's own directory, `/var/lib/docker/volumes/<volume>/`:
 * - on the same filesystem as `_data`, so the swap is two rename(2) calls, not a copy;
 * - outside `_data`, so containers that mount the volume never see them;
 * - removed by Docker together with the volume (`docker volume rm` deletes the whole directory).
 */
export interface RestorePaths {
  data: string;
  /** Extraction in progress: never used for a swap. */
  staging: string;
  /** A complete, checksum-verified extraction, ready to be swapped in. */
  ready: string;
  /** The previous contents, moved away by the swap, deleted afterwards. */
  old: string;
}

export function restorePaths(mountpoint: string, restoreId: string): RestorePaths {
  const parent = dirname(mountpoint);
  return {
    data: mountpoint,
    staging: join(parent, `.dockvault-restore-${restoreId}`),
    ready: join(parent, `.dockvault-ready-${restoreId}`),
    old: join(parent, `.dockvault-old-${restoreId}`),
  };
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A fresh, private staging directory (a previous attempt's partial extraction is removed first). */
export async function freshStaging(paths: RestorePaths): Promise<void> {
  await rm(paths.staging, { recursive: true, force: true });
  await mkdir(paths.staging, { mode: 0o700 });
}

/** Marks the staged tree complete: only a `ready` tree is ever swapped in. */
export async function markReady(paths: RestorePaths): Promise<void> {
  await rm(paths.ready, { recursive: true, force: true });
  await rename(paths.staging, paths.ready);
}

/**
 * Puts the ready tree in place of `_data`: `_data` -> old, ready -> `_data`. Resumable from any point,
 * so a retried attempt after a crash finishes the job: if `_data` is missing and the ready tree exists,
 * the first rename happened and only the second is left. The volume's contents are thus always either
 * the complete old tree or the complete new one (missing only between two consecutive renames, which a
 * retry completes).
 */
export async function swapIn(paths: RestorePaths): Promise<'swapped' | 'already swapped'> {
  const hasData = await exists(paths.data);
  const hasReady = await exists(paths.ready);
  if (!hasReady) {
    if (hasData && (await exists(paths.old))) return 'already swapped';
    throw new Error(`no staged tree at ${paths.ready} to swap into ${paths.data}`);
  }
  if (hasData) {
    await rm(paths.old, { recursive: true, force: true });
    await rename(paths.data, paths.old);
  }
  await rename(paths.ready, paths.data);
  return 'swapped';
}

/**
 * After success or failure: never leave `_data` missing (finish a half-done swap with the ready tree,
 * else put the old tree back), then delete staging, ready and old trees.
 */
export async function settle(paths: RestorePaths): Promise<void> {
  if (!(await exists(paths.data))) {
    if (await exists(paths.ready)) await rename(paths.ready, paths.data);
    else if (await exists(paths.old)) await rename(paths.old, paths.data);
  }
  for (const dir of [paths.staging, paths.ready, paths.old]) await rm(dir, { recursive: true, force: true });
}
