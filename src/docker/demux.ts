import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

/**
 * Keeps the last `limit` bytes written to it (stderr of pg_dump, tar, hooks) without growing:
 * chunks are kept until their total exceeds twice the limit, then compacted.
 */
export class BoundedTail {
  readonly limit: number;
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  constructor(limit: number) {
    this.limit = limit;
  }
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.limit) this.compact();
  }
  get droppedBytes(): number {
    return this.dropped + Math.max(0, this.size - this.limit);
  }
  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const keep = all.subarray(Math.max(0, all.length - this.limit));
    this.dropped += all.length - keep.length;
    this.chunks = [Buffer.from(keep)];
    this.size = keep.length;
  }
  toBuffer(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit));
  }
  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}

/** The last `lines` lines of a text. */
export function lastLines(text: string, lines: number): string {
  const all = text.replace(/\n+$/, '').split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

const HEADER = 8;

/**
 * Splits Docker's multiplexed attach/exec stream (8-byte frame headers: stream type, 3 zero bytes,
 * big-endian length) into stdout, pushed downstream, and stderr, handed to `onStderr`.
 *
 * Why not docker.modem.demuxStream: it ignores the return value of stdout.write (no backpressure:
 * a slow consumer of pg_dump output would buffer the whole dump in memory) and concatenates its
 * buffer on every chunk. As a Transform this one only takes the next chunk when the reader has
 * drained, and slices payloads without copying them.
 */
export class DockerStreamDemuxer extends Transform {
  private readonly onStderr: (chunk: Buffer) => void;
  private header = Buffer.alloc(HEADER);
  private headerFill = 0;
  private remaining = 0;
  private streamType = 0;

  constructor(onStderr: (chunk: Buffer) => void) {
    super();
    this.onStderr = onStderr;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - offset);
        const payload = chunk.subarray(offset, offset + take);
        offset += take;
        this.remaining -= take;
        if (this.streamType === 2) this.onStderr(payload);
        else this.push(payload);
        continue;
      }
      const take = Math.min(HEADER - this.headerFill, chunk.length - offset);
      chunk.copy(this.header, this.headerFill, offset, offset + take);
      this.headerFill += take;
      offset += take;
      if (this.headerFill < HEADER) break;
      this.headerFill = 0;
      const type = this.header.readUInt8(0);
      if (type > 2) {
        callback(new Error(`malformed Docker stream: frame type ${type} (is a TTY attached?)`));
        return;
      }
      this.streamType = type;
      this.remaining = this.header.readUInt32BE(4);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.headerFill !== 0 || this.remaining !== 0) {
      callback(new Error('Docker stream ended in the middle of a frame (truncated output)'));
      return;
    }
    callback();
  }
}

/** Demultiplexes a whole buffer (non-follow container logs) into one text, stdout and stderr interleaved. */
export function demuxBuffer(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + HEADER <= buffer.length) {
    const type = buffer.readUInt8(offset);
    const length = buffer.readUInt32BE(offset + 4);
    if (type > 2 || buffer.readUIntBE(offset + 1, 3) !== 0) return buffer.toString('utf8'); // TTY: raw
    parts.push(buffer.subarray(offset + HEADER, offset + HEADER + length));
    offset += HEADER + length;
  }
  if (offset === 0 && buffer.length > 0) return buffer.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}
