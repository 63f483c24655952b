// Content-defined chunking (FastCDC: a gear rolling hash with normalized chunking), so that an insertion
// or deletion in a stream moves the cut points only near the change and the rest of the chunks are the
// same as before, and can be stored once. See docs/FORMAT.md, "Chunking".
import { createHash } from 'node:crypto';

export interface ChunkSizes {
  min: number;
  avg: number;
  max: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** restic's sizes; docs/FORMAT.md gives the measurements behind keeping them. */
export const DEFAULT_CHUNK_SIZES: ChunkSizes = { min: 512 * KiB, avg: 1 * MiB, max: 8 * MiB };

/**
 * 256 pseudo-random 32-bit values, derived from a fixed label so that every version of dockvault cuts
 * the same data at the same places (another table would only cost deduplication, never correctness).
 */
const GEAR = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    table[i] = createHash('sha256').update(`dockvault-gear-${i}`).digest().readInt32BE(0);
  }
  return table;
})();

/** The top `bits` bits: in a gear hash bit k depends on the last k+1 bytes, so high bits see the most. */
function topBits(bits: number): number {
  return (((1 << bits) - 1) << (32 - bits)) | 0;
}

/**
 * Cuts a byte stream into chunks between `min` and `max` bytes, about `avg` on average, at positions
 * that depend only on the preceding bytes. Before `avg` a cut needs two more zero bits than the average
 * asks for, after it two fewer (FastCDC's normalization level 2): sizes cluster around `avg`.
 * The buffers given to push() are kept (sliced, not copied) until their chunk is complete.
 */
export class ContentChunker {
  readonly #min: number;
  readonly #avg: number;
  readonly #max: number;
  readonly #maskSmall: number;
  readonly #maskLarge: number;
  #pieces: Buffer[] = [];
  readonly #joined = new WeakSet<Buffer>();
  #size = 0;
  #hash = 0;

  constructor(sizes: ChunkSizes = DEFAULT_CHUNK_SIZES) {
    const { min, avg, max } = sizes;
    const bits = Math.log2(avg);
    if (!Number.isInteger(bits) || bits < 8 || bits > 28)
      throw new RangeError(`avg ${avg} must be a power of 2`);
    if (!(min > 0 && min <= avg && avg <= max))
      throw new RangeError(`chunk sizes need 0 < min <= avg <= max`);
    this.#min = min;
    this.#avg = avg;
    this.#max = max;
    this.#maskSmall = topBits(bits + 2);
    this.#maskLarge = topBits(bits - 2);
  }

  /** The chunks completed by `data`, in order. */
  push(data: Buffer): Buffer[] {
    const done: Buffer[] = [];
    let offset = 0;
    while (offset < data.length) {
      if (this.#size < this.#min) {
        // No cut can fall before min: those bytes are not hashed at all.
        const take = Math.min(this.#min - this.#size, data.length - offset);
        this.#append(data.subarray(offset, offset + take));
        offset += take;
        continue;
      }
      const cut = this.#findCut(data, offset);
      if (cut < 0) {
        this.#append(data.subarray(offset));
        break;
      }
      this.#append(data.subarray(offset, cut));
      done.push(this.#take());
      offset = cut;
    }
    return done;
  }

  /** Whether `chunk` is a copy this chunker made (of several inputs), which no input buffer shares. */
  joined(chunk: Buffer): boolean {
    return this.#joined.has(chunk);
  }

  /** The last, possibly short, chunk; undefined for an empty stream or one that ended on a cut. */
  end(): Buffer | undefined {
    return this.#size === 0 ? undefined : this.#take();
  }

  /**
   * The index in `data` just past the cut, or -1 when none falls in `data` (the hash carries over).
   * Called with the current chunk at least min bytes long.
   */
  #findCut(data: Buffer, from: number): number {
    let h = this.#hash;
    let i = from;
    const start = this.#size - from; // chunk position of data[j] is start + j
    const toAvg = Math.min(data.length, Math.max(from, this.#avg - start));
    const toMax = Math.min(data.length, this.#max - start);
    const small = this.#maskSmall;
    for (; i < toAvg; i++) {
      h = ((h << 1) + (GEAR[data[i]!] as number)) | 0;
      if ((h & small) === 0) {
        this.#hash = h;
        return i + 1;
      }
    }
    const large = this.#maskLarge;
    for (; i < toMax; i++) {
      h = ((h << 1) + (GEAR[data[i]!] as number)) | 0;
      if ((h & large) === 0) {
        this.#hash = h;
        return i + 1;
      }
    }
    this.#hash = h;
    return start + toMax === this.#max ? toMax : -1;
  }

  #append(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#size += piece.length;
    // The bytes before min and the rest of a chunk are often two slices of one input buffer: joined as
    // one view, a chunk that lies within one input is handed out without a copy.
    const last = this.#pieces.at(-1);
    if (last && last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
      this.#pieces[this.#pieces.length - 1] = Buffer.from(
        last.buffer,
        last.byteOffset,
        last.length + piece.length,
      );
      return;
    }
    this.#pieces.push(piece);
  }

  #take(): Buffer {
    let chunk = this.#pieces[0]!;
    if (this.#pieces.length > 1) {
      chunk = Buffer.concat(this.#pieces, this.#size);
      this.#joined.add(chunk);
    }
    this.#pieces = [];
    this.#size = 0;
    this.#hash = 0;
    return chunk;
  }
}
