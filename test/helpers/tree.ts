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

/** Everything a backup must preserve about a directory tree, keyed by relative path (the root is "."). */
export async function describeTree(root: string): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const inodes = new Map<bigint, string[]>();
  const walk = async (rel: string) => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const base = { mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
    const mtimeSec = Number(st.mtimeNs / 1_000_000_000n);
    if (st.isDirectory()) {
      // A directory's mtime changes when its entries are extracted in a different order: not compared.
      entries.set(rel, { type: 'dir', ...base, mtimeSec: 0 });
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
