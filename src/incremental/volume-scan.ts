// The metadata scan of a volume: every entry GNU tar would archive, in the order it archives them
// (--sort=name: a directory, then its entries by byte order of their names, depth first), with what
// tells whether an entry changed since an earlier scan. Names are bytes: Linux names need not be UTF-8.
import { lstat, readdir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';

export type EntryKind = 'file' | 'dir' | 'other';

export interface ScannedEntry {
  /** As tar names it: `.` for the root, `./dir/file` below it. */
  path: Buffer;
  kind: EntryKind;
  size: number;
  /** Mode, owner, size, mtime, ctime, inode, link count: an entry whose line is the same is unchanged. */
  meta: string;
  dev: bigint;
  ino: bigint;
  nlink: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** lstat calls in flight per directory: enough to keep the disk busy, few enough for huge directories. */
const STAT_BATCH = 128;

function kindOf(stats: BigIntStats): EntryKind | 'skip' {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  // GNU tar skips sockets ("socket ignored"), so the scan does too.
  if (stats.isSocket()) return 'skip';
  return 'other';
}

function entryOf(path: Buffer, stats: BigIntStats, kind: EntryKind): ScannedEntry {
  return {
    path,
    kind,
    size: Number(stats.size),
    meta: [
      stats.mode,
      stats.uid,
      stats.gid,
      stats.size,
      stats.mtimeNs,
      stats.ctimeNs,
      stats.ino,
      stats.nlink,
      stats.rdev,
    ].join(' '),
    dev: stats.dev,
    ino: stats.ino,
    nlink: Number(stats.nlink),
    mtimeNs: stats.mtimeNs,
    ctimeNs: stats.ctimeNs,
  };
}

/**
 * Scans the tree at `root` (a volume's mountpoint on this host). Like tar --one-file-system, a
 * directory on another file system is listed but not entered.
 */
export async function scanVolume(root: string): Promise<ScannedEntry[]> {
  const entries: ScannedEntry[] = [];
  const rootStats = await lstat(root, { bigint: true });
  const slash = Buffer.from('/');
  // `dir` is the name tar gives (./a), `where` the absolute path, both as bytes.
  const walk = async (dir: Buffer, where: Buffer) => {
    const names = (await readdir(where, { encoding: 'buffer' })).sort((a, b) => Buffer.compare(a, b));
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      const batch = names.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(
        batch.map((name) => lstat(Buffer.concat([where, slash, name]), { bigint: true })),
      );
      for (let j = 0; j < batch.length; j++) {
        const st = stats[j]!;
        const kind = kindOf(st);
        if (kind === 'skip') continue;
        const path = Buffer.concat([dir, slash, batch[j]!]);
        entries.push(entryOf(path, st, kind));
        if (kind === 'dir' && st.dev === rootStats.dev)
          await walk(path, Buffer.concat([where, slash, batch[j]!]));
      }
    }
  };
  entries.push(entryOf(Buffer.from('.'), rootStats, 'dir'));
  await walk(Buffer.from('.'), Buffer.from(root));
  return entries;
}
