import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  size?: number;
  sha256?: string;
  target?: string;
  /** Paths of the tree that share this entry's inode (hard links), including itself. */
  links?: string[];
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Everything a backup must preserve about a directory tree, keyed by relative path (the root is ".").
 * Directory mtimes are left out unless asked for: a restore that extracts in another order, then
 * swaps, changes them legitimately; a plain `tar -x` keeps them.
 */
export async function describeTree(
  root: string,
  options: { dirMtimes?: boolean } = {},
): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const inodes = new Map<bigint, string[]>();
  const walk = async (rel: string) => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const base = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
    const mtimeSec = Number(st.mtimeNs / 1_000_000_000n);
    if (st.isDirectory()) {
      entries.set(rel, { type: 'dir', ...base, mtimeSec: options.dirMtimes ? mtimeSec : 0 });
      for (const name of (await readdir(abs)).sort()) await walk(rel === '.' ? name : `${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      entries.set(rel, { type: 'symlink', ...base, mode: 0, mtimeSec: 0, target: await readlink(abs) });
    } else if (st.isFile()) {
      entries.set(rel, {
        type: 'file',
        ...base,
        mtimeSec,
        size: Number(st.size),
        sha256: await sha256File(abs),
      });
      if (st.nlink > 1n) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    } else {
      entries.set(rel, { type: 'other', ...base, mtimeSec });
    }
  };
  await walk('.');
  for (const paths of inodes.values()) for (const p of paths) entries.get(p)!.links = [...paths].sort();
  return entries;
}

/** What differs between two described trees, one line each: empty when they match. */
export function diffTrees(expected: Map<string, TreeEntry>, actual: Map<string, TreeEntry>): string[] {
  const problems: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) {
      problems.push(`${path}: missing`);
      continue;
    }
    for (const key of [
      'type',
      'mode',
      'uid',
      'gid',
      'mtimeSec',
      'size',
      'sha256',
      'target',
      'links',
    ] as const) {
      const [a, b] = [JSON.stringify(want[key]), JSON.stringify(got[key])];
      if (a !== b) problems.push(`${path}: ${key} ${a} != ${b}`);
    }
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`${path}: unexpected`);
  return problems;
}
