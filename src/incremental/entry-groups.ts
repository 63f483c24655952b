// Groups a scan's entries into the units a chunked volume is stored and reused in: a large file alone
// (cut inside by the content chunker), small entries together (one chunk each group). Group boundaries
// depend only on the entries' names and sizes near them, as content-defined cuts do on bytes, so a
// change regroups only the entries around it and every other group is the same as in the last backup.
import { createHash } from 'node:crypto';
import type { ScannedEntry } from './volume-scan.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A regular file at least this big is a group of its own; below it, files share groups. */
export const LARGE_FILE_BYTES = 1 * MiB;
/** No cut between small entries before a group holds this much, a forced cut at GROUP_MAX. */
const GROUP_MIN = 512 * KiB;
const GROUP_MAX = 4 * MiB;
/** Past GROUP_MIN, one entry name in CUT_ONE_IN ends a group. */
const CUT_ONE_IN = 8;

/** Changed within this long before the scan: not recorded as reusable (the file's times may not move on its next change). */
const RACY_NS = 1_000_000_000n;

export interface EntryGroup {
  first: number;
  count: number;
  large: boolean;
  /** Hash of the entries' names and metadata (and of `salt`): the same key, the same tar bytes. */
  key: string;
  /** An entry changed so close to the scan that its metadata may not show its next change. */
  racy: boolean;
}

/** About what an entry takes in the tar stream (headers plus data blocks); only a weight for cutting. */
function weightOf(entry: ScannedEntry): number {
  return 1024 + (entry.kind === 'file' ? Math.ceil(entry.size / 512) * 512 : 0);
}

function endsGroup(entry: ScannedEntry): boolean {
  return createHash('sha1').update(entry.path).digest()[0]! % CUT_ONE_IN === 0;
}

/**
 * `salt` names everything besides the entries that decides their bytes (tar's flags): another salt,
 * other keys, nothing reused. `scanStartedMs` is when the scan began, for the racy test.
 */
export function groupEntries(entries: ScannedEntry[], salt: string, scanStartedMs: number): EntryGroup[] {
  const groups: EntryGroup[] = [];
  const racyFrom = BigInt(scanStartedMs) * 1_000_000n - RACY_NS;
  let first = 0;
  let weight = 0;
  const close = (end: number, large: boolean) => {
    if (end === first) return;
    const hash = createHash('sha256').update(salt).update('\n');
    let racy = false;
    for (let i = first; i < end; i++) {
      const e = entries[i]!;
      hash.update(e.path).update('\0').update(e.meta).update('\n');
      if (e.ctimeNs >= racyFrom) racy = true;
    }
    groups.push({ first, count: end - first, large, key: hash.digest('hex'), racy });
    first = end;
    weight = 0;
  };
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.kind === 'file' && entry.size >= LARGE_FILE_BYTES) {
      close(i, false);
      close(i + 1, true);
      continue;
    }
    weight += weightOf(entry);
    if (weight >= GROUP_MAX || (weight >= GROUP_MIN && endsGroup(entry))) close(i + 1, false);
  }
  close(entries.length, false);
  return groups;
}
