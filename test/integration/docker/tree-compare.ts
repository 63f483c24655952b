// Compares two directory trees the way a restore must reproduce them: content, mode, owner, mtime to the
// second, symlink targets, and hard links (paths sharing an inode in one tree share one in the other).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: string;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  sha256?: string;
  target?: string;
  ino: number;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function readTree(root: string): Promise<Map<string, TreeEntry>> {
  const tree = new Map<string, TreeEntry>();
  const visit = async (rel: string) => {
    const path = rel === '.' ? root : join(root, rel);
    const st = await lstat(path);
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    const entry: TreeEntry = {
      type,
      mode: (st.mode & 0o7777).toString(8),
      uid: st.uid,
      gid: st.gid,
      size: type === 'dir' ? 0 : st.size,
      mtime: Math.floor(st.mtimeMs / 1000),
      ino: st.ino,
    };
    if (type === 'file') entry.sha256 = await sha256File(path);
    if (type === 'symlink') entry.target = await readlink(path);
    tree.set(rel, entry);
    if (type === 'dir') {
      for (const name of (await readdir(path)).sort()) await visit(rel === '.' ? name : `${rel}/${name}`);
    }
  };
  await visit('.');
  return tree;
}

/** Differences between `expected` and `actual`, one line each (empty when the trees match). */
export function diffTrees(expected: Map<string, TreeEntry>, actual: Map<string, TreeEntry>): string[] {
  const problems: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) {
      problems.push(`${path}: missing`);
      continue;
    }
    for (const key of ['type', 'mode', 'uid', 'gid', 'size', 'mtime', 'sha256', 'target'] as const) {
      if (want[key] !== got[key])
        problems.push(`${path}: ${key} ${String(want[key])} != ${String(got[key])}`);
    }
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`${path}: unexpected`);
  // Hard links: group paths by inode in `expected`, each group must share one inode in `actual`.
  const groups = new Map<number, string[]>();
  for (const [path, entry] of expected) {
    if (entry.type !== 'file') continue;
    groups.set(entry.ino, [...(groups.get(entry.ino) ?? []), path]);
  }
  for (const paths of groups.values()) {
    if (paths.length < 2) continue;
    const inodes = new Set(paths.map((p) => actual.get(p)?.ino));
    if (inodes.size !== 1) problems.push(`hard link group ${paths.join(', ')} not preserved`);
  }
  return problems;
}
