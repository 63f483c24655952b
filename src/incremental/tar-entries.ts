// Splits a POSIX (pax) tar stream, as GNU tar writes it, into its entries without copying their data:
// each entry is its extended header (if any), its ustar header and its data blocks. Used to cut chunk
// boundaries at entry boundaries and to tell which bytes belong to which file.

const BLOCK = 512;

export class TarFormatError extends Error {
  override name = 'TarFormatError';
  readonly retryable = false;
}

export interface TarPiece {
  /** The entry's position in the stream (0-based), or -1 for the end-of-archive blocks. */
  entry: number;
  /** On an entry's first piece: its name as stored (pax `path`, else ustar prefix/name), without a trailing '/'. */
  name?: Buffer;
  data: Buffer;
  /** The entry's last piece. */
  last: boolean;
}

function parseSize(field: Buffer, what: string): number {
  if (field[0]! & 0x80) {
    // base-256, big-endian, for sizes beyond 8 GiB without a pax size
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (!/^[0-7]*$/.test(text))
    throw new TarFormatError(`${what}: size field ${JSON.stringify(text)} is not octal`);
  return text === '' ? 0 : parseInt(text, 8);
}

function cString(field: Buffer): Buffer {
  const end = field.indexOf(0);
  return end === -1 ? field : field.subarray(0, end);
}

/** The records of a pax extended header: `<length> <key>=<value>\n`, length counting the whole record. */
function parsePax(data: Buffer, what: string): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length && data[at] !== 0) {
    const space = data.indexOf(0x20, at);
    const length = space === -1 ? NaN : Number(data.toString('latin1', at, space));
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) {
      throw new TarFormatError(`${what}: malformed pax record at byte ${at}`);
    }
    const record = data.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals === -1) throw new TarFormatError(`${what}: pax record without '=' at byte ${at}`);
    records.set(record.toString('utf8', 0, equals), record.subarray(equals + 1));
    at += length;
  }
  return records;
}

function stripSlash(name: Buffer): Buffer {
  return name.length > 1 && name[name.length - 1] === 0x2f ? name.subarray(0, -1) : name;
}

/** Links, devices, directories and FIFOs: their size field says nothing about data blocks. */
const NO_DATA = new Set(['1', '2', '3', '4', '5', '6']);

const roundUp = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/**
 * push() the stream's bytes in order; each call returns the pieces completed so far. Bytes after the
 * first zero block (the end of the archive, and the padding of its last record) are entry -1.
 */
export class TarEntrySplitter {
  private entry = 0;
  private header: Buffer[] = [];
  private headerBytes = 0;
  /** Bytes of the block or pax data being collected, and how many are wanted. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private want = BLOCK;
  private mode: 'header' | 'pax' | 'data' | 'tail' = 'header';
  private pax = new Map<string, Buffer>();
  private dataLeft = 0;

  private readonly what: string;

  constructor(what: string) {
    this.what = what;
  }

  push(input: Buffer): TarPiece[] {
    const out: TarPiece[] = [];
    let buf = input;
    while (buf.length > 0) {
      if (this.mode === 'tail') {
        out.push({ entry: -1, data: buf, last: false });
        break;
      }
      if (this.mode === 'data') {
        const n = Math.min(buf.length, this.dataLeft);
        this.dataLeft -= n;
        out.push({ entry: this.entry, data: buf.subarray(0, n), last: this.dataLeft === 0 });
        buf = buf.subarray(n);
        if (this.dataLeft === 0) this.nextEntry();
        continue;
      }
      const n = Math.min(buf.length, this.want - this.pendingBytes);
      this.pending.push(buf.subarray(0, n));
      this.pendingBytes += n;
      buf = buf.subarray(n);
      if (this.pendingBytes < this.want) break;
      const block = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.header.push(block);
      this.headerBytes += block.length;
      const piece = this.mode === 'pax' ? this.onPaxData(block) : this.onHeader(block);
      if (piece) out.push(piece);
    }
    return out;
  }

  /** Throws unless the stream ended after a complete archive. */
  end(): void {
    if (this.mode !== 'tail') {
      throw new TarFormatError(`${this.what}: the tar stream ends inside entry ${this.entry + 1}`);
    }
  }

  private onPaxData(block: Buffer): undefined {
    for (const [key, value] of parsePax(block, this.what)) this.pax.set(key, value);
    this.mode = 'header';
    this.want = BLOCK;
    return undefined;
  }

  private onHeader(block: Buffer): TarPiece | undefined {
    if (block.every((b) => b === 0)) {
      if (this.headerBytes !== BLOCK)
        throw new TarFormatError(`${this.what}: end of archive after an extended header`);
      this.mode = 'tail';
      this.header = [];
      return { entry: -1, data: block, last: false };
    }
    const type = String.fromCharCode(block[156]!);
    const size = parseSize(block.subarray(124, 136), this.what);
    if (type === 'x') {
      this.want = size > 0 ? roundUp(size) : BLOCK;
      if (size > 0) this.mode = 'pax';
      return undefined;
    }
    if (type === 'g' || type === 'L' || type === 'K') {
      throw new TarFormatError(
        `${this.what}: unexpected tar header type '${type}' in entry ${this.entry + 1}`,
      );
    }
    const paxSize = this.pax.get('size');
    const dataBytes = paxSize !== undefined ? Number(paxSize.toString('latin1')) : size;
    let name = this.pax.get('path');
    if (name === undefined) {
      const prefix = cString(block.subarray(345, 500));
      const base = cString(block.subarray(0, 100));
      name = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), base]) : base;
    }
    const header = Buffer.concat(this.header);
    this.dataLeft = NO_DATA.has(type) ? 0 : roundUp(dataBytes);
    const piece: TarPiece = {
      entry: this.entry,
      name: stripSlash(name),
      data: header,
      last: this.dataLeft === 0,
    };
    if (this.dataLeft === 0) this.nextEntry();
    else this.mode = 'data';
    return piece;
  }

  private nextEntry(): void {
    this.entry++;
    this.header = [];
    this.headerBytes = 0;
    this.pax = new Map();
    this.mode = 'header';
    this.want = BLOCK;
  }
}
