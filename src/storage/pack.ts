// Packs: small chunks (blocks of files written in place, tar headers, the archive's end) stored
// several to an object, so that a backup of many small changes costs a few requests rather than one
// per chunk (each request costs about a millisecond of CPU on both sides). A pack is the chunks'
// stored bytes one after another, then a trailer saying what it holds, so that any backup of the prefix
// can find them; chunk indexes name the pack and offset of each chunk, so restores never read a
// trailer. docs/FORMAT.md, "Packs".
import { createHash, randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { mapLimit } from './map-limit.ts';
import { PackCache } from './pack-cache.ts';
import type { ChunkLocation } from './chunks.ts';
import { ObjectNotFoundError, StorageError, type BackupStore } from './store.ts';

/** Chunks of less than this many plaintext bytes are packed (the content chunker cuts none smaller). */
export const PACK_BELOW = 512 * 1024;
/** A pack is stored once it holds this many bytes (or chunks), and at the end of a volume. */
const PACK_TARGET_BYTES = 4 * 1024 * 1024;
const PACK_MAX_CHUNKS = 1024;

const FOOTER_TAG = 'dockvault-pack/v1';
/** `dockvault-pack/v1 <trailer bytes, 10 digits> <sha256 of the trailer>\n` */
const FOOTER_BYTES = FOOTER_TAG.length + 1 + 10 + 1 + 64 + 1;
/** Read from a pack's end at first: the footer and, for up to ~200 chunks, the whole trailer. */
const TAIL_BYTES = 32 * 1024;

export class PackFormatError extends Error {
  override name = 'PackFormatError';
  readonly retryable = false;
}

export interface PackedChunk {
  name: string;
  plaintextBytes: number;
  storedBytes: number;
  offset: number;
}

/** A pack being filled: chunks are placed (their offset known at once) and stored together by seal(). */
export class OpenPack {
  readonly name = `${randomBytes(32).toString('hex')}.pack`;
  private readonly parts: Buffer[] = [];
  private readonly chunks: PackedChunk[] = [];
  private bytes = 0;

  get full(): boolean {
    return this.bytes >= PACK_TARGET_BYTES || this.chunks.length >= PACK_MAX_CHUNKS;
  }

  /** The stored bytes of the chunks placed so far, as given to add(). */
  get placed(): readonly Buffer[] {
    return this.parts;
  }

  /** Places a chunk's stored bytes; returns its offset in the pack. */
  add(name: string, plaintextBytes: number, sealed: Buffer): number {
    const offset = this.bytes;
    this.parts.push(sealed);
    this.chunks.push({ name, plaintextBytes, storedBytes: sealed.length, offset });
    this.bytes += sealed.length;
    return offset;
  }

  /** The pack's bytes: the chunks, the trailer (a line per chunk), the footer. */
  seal(): Buffer {
    const trailer = Buffer.from(
      this.chunks.map((c) => `${c.name} ${c.plaintextBytes} ${c.storedBytes} ${c.offset}\n`).join(''),
    );
    const sha = createHash('sha256').update(trailer).digest('hex');
    const footer = Buffer.from(`${FOOTER_TAG} ${String(trailer.length).padStart(10, '0')} ${sha}\n`);
    return Buffer.concat([...this.parts, trailer, footer]);
  }
}

/** The chunks a pack's trailer lists, checked: its hash, and offsets that tile the pack up to it. */
export function parsePackTrailer(tail: Buffer, packBytes: number, what: string): PackedChunk[] | number {
  const bad = (why: string) => new PackFormatError(`${what}: ${why}`);
  if (packBytes < FOOTER_BYTES || tail.length < FOOTER_BYTES) throw bad('too short to be a pack');
  const footer = tail.subarray(tail.length - FOOTER_BYTES).toString('latin1');
  const m = /^dockvault-pack\/v1 (\d{10}) ([0-9a-f]{64})\n$/.exec(footer);
  if (!m) throw bad('does not end with a pack footer');
  const trailerBytes = Number(m[1]);
  const start = packBytes - FOOTER_BYTES - trailerBytes;
  if (start < 0) throw bad(`its footer names a trailer of ${trailerBytes} bytes, longer than the pack`);
  // The caller reads again from `start` when the tail read first does not reach it.
  if (tail.length < FOOTER_BYTES + trailerBytes) return packBytes - start;
  const trailer = tail.subarray(tail.length - FOOTER_BYTES - trailerBytes, tail.length - FOOTER_BYTES);
  if (createHash('sha256').update(trailer).digest('hex') !== m[2]) throw bad('its trailer fails its hash');
  const chunks: PackedChunk[] = [];
  let at = 0;
  for (const line of trailer.toString('latin1').split('\n').slice(0, -1)) {
    const [name, plain, stored, offset, ...rest] = line.split(' ');
    const c = {
      name: name!,
      plaintextBytes: Number(plain),
      storedBytes: Number(stored),
      offset: Number(offset),
    };
    if (rest.length > 0 || !/^[0-9a-f]{64}$/.test(c.name) || !(c.plaintextBytes > 0) || c.offset !== at)
      throw bad(`line ${chunks.length + 1} of its trailer is not "<name> <bytes> <bytes> <offset>" in order`);
    if (!Number.isSafeInteger(c.storedBytes) || c.storedBytes <= 0) throw bad('a chunk of no bytes');
    at += c.storedBytes;
    chunks.push(c);
  }
  if (at !== start) throw bad(`its trailer lists ${at} bytes of chunks, the pack holds ${start}`);
  return chunks;
}

/** What a stored pack holds, read from its end (one request, two for a long trailer). */
export async function readPackTrailer(
  store: BackupStore,
  key: string,
  packBytes: number,
  signal?: AbortSignal,
): Promise<PackedChunk[]> {
  let want = Math.min(TAIL_BYTES, packBytes);
  for (;;) {
    const tail = await buffer(
      await store.get(key, { range: { offset: packBytes - want, length: want }, signal }),
    );
    const parsed = parsePackTrailer(tail, packBytes, key);
    if (typeof parsed !== 'number') return parsed;
    if (parsed <= want) throw new PackFormatError(`${key}: its trailer cannot be read`);
    want = parsed;
  }
}

/**
 * The chunks held by the given packs (name, object key, stored size, ETag), from the cache where it
 * knows the pack in that version, else from its trailer. A pack that cannot be read as
 * one (damaged, not a pack) is left out with a warning: its chunks are stored again by the backup that
 * needs them. A pack deleted since the listing is left out silently.
 */
export async function listPackedChunks(
  store: BackupStore,
  packs: { name: string; key: string; size: number; etag?: string | undefined }[],
  cache: PackCache = PackCache.none(),
): Promise<{ chunks: Map<string, ChunkLocation>; warnings: string[] }> {
  const chunks = new Map<string, ChunkLocation>();
  const warnings: string[] = [];
  await mapLimit(packs, 8, async ({ name: pack, key, size, etag }) => {
    try {
      let held = cache.get(pack, etag, size);
      if (!held) {
        held = await readPackTrailer(store, key, size);
        cache.set(pack, etag, size, held);
      }
      for (const c of held) {
        chunks.set(c.name, { storedBytes: c.storedBytes, pack, offset: c.offset });
      }
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return;
      if (err instanceof PackFormatError || (err instanceof StorageError && !err.retryable)) {
        warnings.push(`${(err as Error).message}; its chunks are not reused`);
        return;
      }
      throw err;
    }
  });
  return { chunks, warnings };
}
