// Which requests read a chunk index's chunks: one per chunk stored alone, and for chunks in packs one
// ranged read per pack for all of its chunks listed a little further on. The blocks of a file written
// in place come from the packs of every day that rewrote some of them (the last point of the
// benchmark: 2,535 packed chunks in 74 packs, 2,080 runs of neighbours); a request costs about a
// millisecond of CPU, so one read per pack and window instead of one per run.
import type { ChunkRef } from '../storage/chunks.ts';

export interface ChunkRead {
  /** The first chunk it serves: its object (storedKey) is what is read. */
  first: ChunkRef;
  /** The bytes of a pack to read; a chunk alone is read whole. */
  range?: { offset: number; length: number } | undefined;
  /** Index positions it serves, in order; `first` is the first. */
  positions: number[];
}

/** Chunks of one pack listed within this many stored bytes of the first are read with it. */
export const PACK_READ_WINDOW = 32 * 1024 * 1024;
/** A range read of a pack spans at most this many bytes... */
const MAX_RANGE = 8 * 1024 * 1024;
/** ...and, past 1 MiB, at most this many times what it serves (chunks far apart in a pack). */
const MAX_WASTE = 4;

export function planChunkReads(refs: ChunkRef[], window = PACK_READ_WINDOW): ChunkRead[] {
  const byPack = new Map<string, number[]>();
  refs.forEach((ref, i) => {
    if (ref.pack !== undefined) byPack.set(ref.pack, [...(byPack.get(ref.pack) ?? []), i]);
  });
  // Where each chunk starts in the stream of stored bytes.
  const at: number[] = [];
  refs.reduce((n, ref, i) => ((at[i] = n), n + ref.storedBytes), 0);
  const taken = new Uint8Array(refs.length);
  const nextOfPack = new Map<string, number>();
  const reads: ChunkRead[] = [];
  refs.forEach((first, i) => {
    if (taken[i]) return;
    if (first.pack === undefined) {
      reads.push({ first, positions: [i] });
      return;
    }
    const list = byPack.get(first.pack)!;
    let k = nextOfPack.get(first.pack) ?? 0;
    let from = Infinity;
    let to = 0;
    let served = 0;
    const positions: number[] = [];
    for (; k < list.length; k++) {
      const j = list[k]!;
      const ref = refs[j]!;
      const lo = Math.min(from, ref.offset!);
      const hi = Math.max(to, ref.offset! + ref.storedBytes);
      const span = hi - lo;
      if (
        positions.length > 0 &&
        (at[j]! - at[i]! > window ||
          span > MAX_RANGE ||
          (span > 1024 * 1024 && span > MAX_WASTE * (served + ref.storedBytes)))
      )
        break;
      [from, to] = [lo, hi];
      served += ref.storedBytes;
      positions.push(j);
      taken[j] = 1;
    }
    nextOfPack.set(first.pack, k);
    reads.push({ first, range: { offset: from, length: to - from }, positions });
  });
  return reads;
}
