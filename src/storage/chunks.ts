// The chunk store inside a target prefix: `_chunks/<first 2 hex>/<name>` (a definition
// name never starts with "_", so the chunks never pass for a definition), shared by every definition and
// host writing to the prefix; and the chunk index of a chunked volume, the ordered list of its chunks.
import { readMarkers } from './chunk-markers.ts';
import type { BackupStore, ObjectInfo } from './store.ts';

export const CHUNKS_DIR = '_chunks';

/** How the object of a chunked volume, its chunk index, is named: `volumes/<volume>.tar.chunks`. */
export const CHUNK_INDEX_SUFFIX = '.tar.chunks';

const CHUNK_NAME = /^[0-9a-f]{64}$/;

export interface ChunkRef {
  /** Hex HMAC-SHA256 of the plaintext under the dedup key. */
  name: string;
  plaintextBytes: number;
  storedBytes: number;
}

export function chunkKey(name: string): string {
  if (!CHUNK_NAME.test(name)) throw new TypeError(`chunk name ${JSON.stringify(name)} is not 64 hex digits`);
  return `${CHUNKS_DIR}/${name.slice(0, 2)}/${name}`;
}

/** Every chunk object under `dir` (all of `_chunks/` by default), by name: size, time and tag. */
export async function listStoredChunks(
  store: BackupStore,
  dir = `${CHUNKS_DIR}/`,
): Promise<Map<string, ObjectInfo>> {
  const found = new Map<string, ObjectInfo>();
  for await (const object of store.list(dir)) {
    const name = object.key.slice(object.key.lastIndexOf('/') + 1);
    if (CHUNK_NAME.test(name) && object.key === chunkKey(name)) found.set(name, object);
  }
  return found;
}

/**
 * The chunks a backup may reuse, and their stored sizes: one paginated listing (1,000 chunks a page).
 * A chunk a prune has marked as unreferenced, in the version it marked, is left out, so the backup
 * stores it again: that version may be deleted once the grace period has passed, a new upload has
 * another tag and is not (docs/FORMAT.md, "Prune"). The markers are read before the listing.
 */
export async function listChunks(store: BackupStore): Promise<Map<string, number>> {
  return (await listChunkStore(store)).reusable;
}

/**
 * listChunks, and every chunk stored (marked or not): a chunk the definition's latest backup lists is
 * never deleted while that backup is kept, so the next backup of the same definition may list it
 * unread even when a prune marked it during the backup that stored it.
 */
export async function listChunkStore(
  store: BackupStore,
): Promise<{ reusable: Map<string, number>; stored: Map<string, number> }> {
  const { markers } = await readMarkers(store);
  const reusable = new Map<string, number>();
  const stored = new Map<string, number>();
  for (const [name, object] of await listStoredChunks(store)) {
    stored.set(name, object.size);
    const marked = object.etag !== undefined && markers.some((m) => m.candidates.get(name) === object.etag);
    if (!marked) reusable.set(name, object.size);
  }
  return { reusable, stored };
}

/**
 * The index is text, one chunk a line, `<name> <plaintext bytes> <stored bytes>`, so a shell loop can
 * read it (`while read -r name plain stored`).
 */
export function formatChunkIndex(chunks: ChunkRef[]): string {
  return chunks.map((c) => `${c.name} ${c.plaintextBytes} ${c.storedBytes}\n`).join('');
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
      const [name, plain, stored, ...rest] = line.split(' ');
      const plaintextBytes = Number(plain);
      const storedBytes = Number(stored);
      if (
        rest.length > 0 ||
        !CHUNK_NAME.test(name ?? '') ||
        !Number.isSafeInteger(plaintextBytes) ||
        plaintextBytes <= 0 ||
        !Number.isSafeInteger(storedBytes) ||
        storedBytes <= 0
      ) {
        throw new ChunkIndexError(
          `${what}: line ${i + 1} of the chunk index is not "<name> <bytes> <bytes>"`,
        );
      }
      return { name: name!, plaintextBytes, storedBytes };
    });
}
