// Which entries a chunked backup must read while the containers are stopped: those of every group the
// worker's record of the last backup does not have. The rest is listed by chunk name, unread.
import type { ChunkRef } from '../storage/chunks.ts';
import type { EntryGroup } from './entry-groups.ts';
import type { LargeFiles } from './volume-state.ts';
import type { ScannedEntry } from './volume-scan.ts';

/**
 * How a read group is cut: small entries as one chunk; a large file by content (insertions move
 * only nearby cuts), or, once it has been seen written in place (a database, a VM image), its data in
 * fixed blocks, so that a few rewritten pages cost about their blocks.
 */
export type GroupCut = 'whole' | 'content' | 'blocks';

export interface PlannedGroup {
  key: string;
  cut: GroupCut;
  /** A large file's name (latin1), the key of its line in `files`. */
  file?: string;
  /** Entries of the group (read groups: that many of the tar's kept entries). */
  entries: number;
  /** The last backup's chunks of this group, when they can be reused. */
  reuse?: ChunkRef[];
  /** Recorded for the next backup (not racy). */
  record: boolean;
}

export interface ReadPlan {
  groups: PlannedGroup[];
  /** The paths to give tar, in archive order, each ending in NUL. */
  list: Buffer;
  /** How many paths the list holds, and which of them (0-based) are read only for tar's hard-link bookkeeping. */
  listed: number;
  dropped: number[];
  readEntries: number;
  /** Bytes of the files read (their sizes). */
  readBytes: number;
  reusedGroups: number;
  /** The large files of this scan and how they are cut, for the next backup's record. */
  files: LargeFiles;
}

/**
 * Plans the reads. A hard link's entry depends on its inode's first name in the archive (tar stores
 * later names as links to it), so when a later name is read and the first is not, the first is read
 * too and its entry dropped: the bytes are those a full archive would have.
 */
export function planReads(
  entries: ScannedEntry[],
  groups: EntryGroup[],
  previous: ReadonlyMap<string, ChunkRef[]> | undefined,
  inPlace: (entry: ScannedEntry) => boolean = () => false,
): ReadPlan {
  const read = new Uint8Array(entries.length); // 1 read, 2 read and dropped
  const planned: PlannedGroup[] = [];
  const files: LargeFiles = {};
  let readEntries = 0;
  let readBytes = 0;
  let reusedGroups = 0;
  for (const g of groups) {
    const reuse = previous?.get(g.key);
    const cut: GroupCut = !g.large ? 'whole' : inPlace(entries[g.first]!) ? 'blocks' : 'content';
    const file = g.large ? entries[g.first]!.path.toString('latin1') : undefined;
    if (file !== undefined) {
      const e = entries[g.first]!;
      files[file] = [String(e.ino), String(e.mtimeNs), cut === 'blocks'];
    }
    planned.push({
      key: g.key,
      cut,
      ...(file !== undefined ? { file } : {}),
      entries: g.count,
      record: !g.racy,
      ...(reuse ? { reuse } : {}),
    });
    if (reuse) {
      reusedGroups++;
      continue;
    }
    for (let i = g.first; i < g.first + g.count; i++) {
      read[i] = 1;
      readEntries++;
      readBytes += entries[i]!.kind === 'file' ? entries[i]!.size : 0;
    }
  }
  const firstName = new Map<string, number>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.kind === 'dir' || e.nlink < 2) continue;
    const inode = `${e.dev}:${e.ino}`;
    const first = firstName.get(inode);
    if (first === undefined) firstName.set(inode, i);
    else if (read[i] === 1 && read[first] === 0) read[first] = 2;
  }
  const paths: Buffer[] = [];
  const dropped: number[] = [];
  for (let i = 0; i < entries.length; i++) {
    if (read[i] === 0) continue;
    if (read[i] === 2) dropped.push(paths.length);
    paths.push(entries[i]!.path, Buffer.from([0]));
  }
  return {
    groups: planned,
    list: Buffer.concat(paths),
    listed: paths.length / 2,
    dropped,
    readEntries,
    readBytes,
    reusedGroups,
    files,
  };
}
