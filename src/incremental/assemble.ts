// Builds a chunked volume from a read plan: the groups the last backup stored are listed by their
// chunks, the others are cut from the tar of just their entries (large files by the content chunker,
// small entries one chunk a group), then the archive's end. The result is the chunk list of the tar
// stream a full archive of the volume would be, and the groups to record for the next backup.
import type { Readable } from 'node:stream';
import type { ChunkWriter } from '../pipeline/chunk-writer.ts';
import { ContentChunker, DEFAULT_CHUNK_SIZES } from '../pipeline/content-chunker.ts';
import type { ChunkRef } from '../storage/chunks.ts';
import type { GroupCut, ReadPlan } from './read-plan.ts';
import { TarEntrySplitter, TarFormatError } from './tar-entries.ts';

/**
 * The archive's end: two zero blocks. tar also pads its output to whole records of 20 blocks, which
 * readers do not need; without the padding the end is the same chunk in every backup.
 */
const END_OF_ARCHIVE = Buffer.alloc(1024);

/** Blocks of files written in place: 16 pages of 4 KiB (SQLite, ext4), 8 of PostgreSQL's 8 KiB. */
export const BLOCK_BYTES = 64 * 1024;

/** Cuts a file's data into fixed blocks counted from its first data byte (its headers are a chunk alone). */
class BlockCutter {
  private parts: Buffer[] = [];
  private bytes = 0;

  push(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let rest = data;
    while (rest.length > 0) {
      const n = Math.min(rest.length, BLOCK_BYTES - this.bytes);
      this.parts.push(rest.subarray(0, n));
      this.bytes += n;
      rest = rest.subarray(n);
      if (this.bytes === BLOCK_BYTES) out.push(this.take());
    }
    return out;
  }

  end(): Buffer | undefined {
    return this.bytes > 0 ? this.take() : undefined;
  }

  private take(): Buffer {
    const block = Buffer.concat(this.parts);
    this.parts = [];
    this.bytes = 0;
    return block;
  }
}

export interface Assembled {
  /** Groups (by key) and their chunks, for the next backup's reuse. */
  recorded: Map<string, ChunkRef[]>;
  /** Large files the plan cut by content that were found stored in blocks, and so cut in blocks. */
  cutInBlocks: Set<string>;
  plaintextBytes: number;
}

/** Splits `tar` into its entries, checking each is the one the plan listed, in order. */
async function* keptEntries(tar: Readable, plan: ReadPlan, what: string) {
  const names = plan.list.length > 0 ? plan.list.subarray(0, -1).toString('binary').split('\0') : [];
  const dropped = new Set(plan.dropped);
  const splitter = new TarEntrySplitter(what);
  for await (const data of tar as AsyncIterable<Buffer>) {
    for (const piece of splitter.push(data)) {
      if (piece.entry === -1) continue;
      if (piece.entry >= names.length)
        throw new TarFormatError(`${what}: tar wrote more entries than listed`);
      if (piece.name && piece.name.toString('binary') !== names[piece.entry]) {
        throw new TarFormatError(
          `${what}: tar entry ${piece.entry + 1} is ${JSON.stringify(piece.name.toString())}, ` +
            `the scan listed ${JSON.stringify(Buffer.from(names[piece.entry]!, 'binary').toString())}`,
        );
      }
      if (!dropped.has(piece.entry)) yield piece;
    }
  }
  splitter.end();
}

export async function assembleChunks(
  plan: ReadPlan,
  tar: Readable,
  writer: ChunkWriter,
  what: string,
): Promise<Assembled> {
  const recorded = new Map<string, ChunkRef[]>();
  const cutInBlocks = new Set<string>();
  let length = 0;
  let next = 0; // the group to write next
  // Lists the reused groups from `next` on, up to the next group to read.
  const reuseUntilRead = async () => {
    for (; next < plan.groups.length; next++) {
      const g = plan.groups[next]!;
      if (!g.reuse) return;
      for (const ref of g.reuse) {
        await writer.reuse(ref, what);
        length += ref.plaintextBytes;
      }
      recorded.set(g.key, g.reuse);
    }
  };
  const entries = keptEntries(tar, plan, what);
  for (;;) {
    await reuseUntilRead();
    const g = plan.groups[next];
    if (!g) break;
    const refs: ChunkRef[] = [];
    const take = async (plaintext: Buffer) => {
      refs.push(await writer.add(plaintext));
      length += plaintext.length;
    };
    let cut = g.cut;
    let chunker: { push(data: Buffer): Buffer[]; end(): Buffer | undefined } | undefined;
    const start = (as: GroupCut) => {
      cut = as;
      chunker =
        as === 'blocks'
          ? new BlockCutter()
          : as === 'content'
            ? new ContentChunker(DEFAULT_CHUNK_SIZES)
            : undefined;
    };
    start(cut);
    // A large file the record does not show written in place may still be stored in blocks (by another
    // definition, or before the record was lost): its first block tells.
    let probe: { header: Buffer; data: Buffer[]; bytes: number } | undefined;
    const decide = async () => {
      const { header, data } = probe!;
      probe = undefined;
      const first = Buffer.concat(data).subarray(0, BLOCK_BYTES);
      if (first.length === BLOCK_BYTES && writer.isStored(first)) {
        start('blocks');
        await take(header);
      } else for (const c of chunker!.push(header)) await take(c);
      for (const d of data) for (const c of chunker!.push(d)) await take(c);
    };
    const small: Buffer[] = [];
    let ended = 0;
    while (ended < g.entries) {
      const { value: piece, done } = await entries.next();
      if (done) throw new TarFormatError(`${what}: tar wrote fewer entries than listed`);
      if (cut === 'content' && piece.name) probe = { header: Buffer.from(piece.data), data: [], bytes: 0 };
      else if (probe) {
        probe.data.push(piece.data);
        probe.bytes += piece.data.length;
        if (probe.bytes >= BLOCK_BYTES) await decide();
      } else if (cut === 'blocks' && piece.name) await take(Buffer.from(piece.data));
      else if (chunker) for (const c of chunker.push(piece.data)) await take(c);
      else small.push(piece.data);
      if (piece.last) ended++;
    }
    if (probe) await decide();
    const rest = chunker ? chunker.end() : Buffer.concat(small);
    if (rest && rest.length > 0) await take(rest);
    if (cut === 'blocks' && g.cut !== 'blocks' && g.file !== undefined) cutInBlocks.add(g.file);
    if (g.record) recorded.set(g.key, refs);
    next++;
  }
  if (!(await entries.next()).done) throw new TarFormatError(`${what}: tar wrote more entries than listed`);
  await writer.add(END_OF_ARCHIVE);
  return { recorded, cutInBlocks, plaintextBytes: length + END_OF_ARCHIVE.length };
}
