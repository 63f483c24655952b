// The chunk store inside a target prefix: `_chunks/<first 2 hex>/<name>` (a definition
// name never starts with "_", so the chunks never pass for a definition), shared by every definition and
// host writing to the prefix; and the chunk index of a chunked object (a volume's tar, a database's
// dump), the ordered list of its chunks.
// A stored object there is a chunk alone (`<name>`) or a pack of small chunks (`<hex>.pack`, see
// pack.ts); the store-wide rules (listing, markers, collection, retention) are the same for both.
import { readMarkers } from './chunk-markers.ts';
import { listPackedChunks } from './pack.ts';
import type { PackCache } from './pack-cache.ts';
import type { BackupStore, ObjectInfo } from './store.ts';

export const CHUNKS_DIR = '_chunks';

/**
 * How every chunk index ends: `volumes/<volume>.tar.chunks`, `databases/<db>.dump.chunks`. The
 * manifest's schema holds every chunked object to it, so one listing finds the indexes of complete
 * backups and of runs that have no manifest yet alike (chunk collection, chunk-gc.ts).
 */
export const CHUNK_INDEX_SUFFIX = '.chunks';

export function isChunkIndexName(name: string): boolean {
  return name.endsWith(CHUNK_INDEX_SUFFIX);
}

const CHUNK_NAME = /^[0-9a-f]{64}$/;
const PACK_NAME = /^[0-9a-f]{64}\.pack$/;
/** A name in the chunk store: a chunk's, or a pack's. */
const STORED_NAME = /^[0-9a-f]{64}(\.pack)?$/;

export interface ChunkRef {
  /** Hex HMAC-SHA256 of the plaintext under the dedup key. */
  name: string;
  plaintextBytes: number;
  storedBytes: number;
  /** Where a small chunk is stored: inside this pack (its name), from byte `offset`; else alone. */
  pack?: string | undefined;
  offset?: number | undefined;
}

/** Where a chunk's stored bytes are; a chunk uploading in this backup has storedBytes -1 until stored. */
export type ChunkLocation = Pick<ChunkRef, 'storedBytes' | 'pack' | 'offset'>;

export function isPackName(name: string): boolean {
  return PACK_NAME.test(name);
}

/** The object of a chunk stored alone, or of a pack. */
export function chunkKey(name: string): string {
  if (!STORED_NAME.test(name))
    throw new TypeError(`chunk name ${JSON.stringify(name)} is not 64 hex digits (or a pack's name)`);
  return `${CHUNKS_DIR}/${name.slice(0, 2)}/${name}`;
}

/** The object that holds a chunk's stored bytes: its pack's, or its own. */
export function storedKey(ref: Pick<ChunkRef, 'name' | 'pack'>): string {
  return chunkKey(ref.pack ?? ref.name);
}

/** A chunk's place in messages: its object, and for a chunk in a pack its name and bytes there. */
export function describeStored(ref: ChunkRef): string {
  if (ref.pack === undefined) return chunkKey(ref.name);
  const from = ref.offset ?? 0;
  return `chunk ${ref.name} in ${chunkKey(ref.pack)}, bytes ${from}-${from + ref.storedBytes - 1}`;
}

/** Every object under `dir` (all of `_chunks/` by default), chunks and packs, by name: size, time and tag. */
export async function listStoredChunks(
  store: BackupStore,
  dir = `${CHUNKS_DIR}/`,
): Promise<Map<string, ObjectInfo>> {
  const found = new Map<string, ObjectInfo>();
  for await (const object of store.list(dir)) {
    const name = object.key.slice(object.key.lastIndexOf('/') + 1);
    if (STORED_NAME.test(name) && object.key === chunkKey(name)) found.set(name, object);
  }
  return found;
}

/**
 * The chunks a backup may reuse, and where they are: one paginated listing (1,000 objects a page),
 * and the contents of each pack (read from its end). A chunk (or pack) a prune has marked as
 * unreferenced, in the version it marked, is left out, so the backup stores it again: that version may
 * be deleted once the grace period has passed, a new upload has another tag and is not
 * (docs/FORMAT.md, "Prune"). The markers are read before the listing.
 */
export async function listChunks(store: BackupStore): Promise<Map<string, ChunkLocation>> {
  return (await listChunkStore(store)).reusable;
}

/**
 * listChunks, and every object stored (marked or not) with its size: a chunk the definition's latest
 * backup lists is never deleted while that backup is kept, so the next backup of the same definition
 * may list it unread even when a prune marked it during the backup that stored it. `warnings` name
 * packs whose contents could not be read (their chunks are not reused: stored again if needed).
 */
export async function listChunkStore(
  store: BackupStore,
  cache?: PackCache,
): Promise<{
  reusable: Map<string, ChunkLocation>;
  stored: Map<string, number>;
  warnings: string[];
}> {
  const { markers } = await readMarkers(store);
  const reusable = new Map<string, ChunkLocation>();
  const stored = new Map<string, number>();
  const packs: { name: string; key: string; size: number; etag?: string | undefined }[] = [];
  for (const [name, object] of await listStoredChunks(store)) {
    stored.set(name, object.size);
    const marked = object.etag !== undefined && markers.some((m) => m.candidates.get(name) === object.etag);
    if (marked) continue;
    if (isPackName(name)) packs.push({ name, key: object.key, size: object.size, etag: object.etag });
    else reusable.set(name, { storedBytes: object.size });
  }
  const { chunks, warnings } = await listPackedChunks(store, packs, cache);
  await cache?.save(stored);
  // A chunk both alone and in a pack is taken alone: one request to read it.
  for (const [name, location] of chunks) if (!reusable.has(name)) reusable.set(name, location);
  return { reusable, stored, warnings };
}

/**
 * The index is text, one chunk a line, `<name> <plaintext bytes> <stored bytes>`, and for a chunk in a
 * pack ` <pack> <offset>` after that, so a shell loop can read it
 * (`while read -r name plain stored pack offset`).
 */
export function formatChunkIndex(chunks: ChunkRef[]): string {
  return chunks
    .map(
      (c) =>
        `${c.name} ${c.plaintextBytes} ${c.storedBytes}${c.pack === undefined ? '' : ` ${c.pack} ${c.offset}`}\n`,
    )
    .join('');
}

/** Index lines that name a pack: a backup with any is written as manifest v3. */
export function countPacked(chunks: ChunkRef[]): number {
  return chunks.reduce((n, c) => n + (c.pack === undefined ? 0 : 1), 0);
}

export class ChunkIndexError extends Error {
  override name = 'ChunkIndexError';
  readonly retryable = false;
}

export function parseChunkIndex(text: string, what: string): ChunkRef[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new ChunkIndexError(`${what}: the chunk index does not end with a newline`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line, i) => {
      const [name, plain, stored, pack, at, ...rest] = line.split(' ');
      const plaintextBytes = Number(plain);
      const storedBytes = Number(stored);
      const offset = Number(at);
      if (
        rest.length > 0 ||
        !CHUNK_NAME.test(name ?? '') ||
        !Number.isSafeInteger(plaintextBytes) ||
        plaintextBytes <= 0 ||
        !Number.isSafeInteger(storedBytes) ||
        storedBytes <= 0 ||
        (pack !== undefined && (!PACK_NAME.test(pack) || !Number.isSafeInteger(offset) || offset < 0))
      ) {
        throw new ChunkIndexError(
          `${what}: line ${i + 1} of the chunk index is not "<name> <bytes> <bytes>" or "<name> <bytes> <bytes> <pack> <offset>"`,
        );
      }
      return pack === undefined
        ? { name: name!, plaintextBytes, storedBytes }
        : { name: name!, plaintextBytes, storedBytes, pack, offset };
    });
}
