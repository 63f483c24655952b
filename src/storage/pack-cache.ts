// What packs hold, as read from their trailers before, kept in the worker's state directory: a backup
// reads the trailer of a pack it has not seen yet only. A pack is written once under a random name,
// so what it holds does not change; an entry carries the object's ETag and size, and a pack stored
// again under its name (another ETag) is read again. Losing the file costs one read per pack, never
// a backup: the cache only says where chunks are that the listing shows to exist.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackedChunk } from './pack.ts';

const VERSION = 1;

type Entry = [
  etag: string,
  size: number,
  chunks: [name: string, plain: number, stored: number, offset: number][],
];

interface CacheFile {
  version: number;
  packs: Record<string, Entry>;
}

export class PackCache {
  readonly #path: string | undefined;
  readonly #entries: Map<string, Entry>;
  #changed = false;

  private constructor(path: string | undefined, entries: Map<string, Entry>) {
    this.#path = path;
    this.#entries = entries;
  }

  /** A cache that keeps nothing (no state directory). */
  static none(): PackCache {
    return new PackCache(undefined, new Map());
  }

  /** The cache of one store, empty when there is none yet or it cannot be read. */
  static async load(stateDir: string, location: string): Promise<PackCache> {
    const name = createHash('sha256').update(location).digest('hex').slice(0, 32);
    const path = join(stateDir, 'pack-trailers', `${name}.json`);
    let entries = new Map<string, Entry>();
    try {
      const file = JSON.parse(await readFile(path, 'utf8')) as Partial<CacheFile>;
      if (file.version === VERSION && typeof file.packs === 'object' && file.packs !== null)
        entries = new Map(Object.entries(file.packs));
    } catch {
      // none yet, or unreadable: every trailer is read again
    }
    return new PackCache(path, entries);
  }

  get(pack: string, etag: string | undefined, size: number): PackedChunk[] | undefined {
    const entry = this.#entries.get(pack);
    if (!Array.isArray(entry) || etag === undefined || entry[0] !== etag || entry[1] !== size)
      return undefined;
    if (!Array.isArray(entry[2])) return undefined;
    return entry[2].map(([name, plaintextBytes, storedBytes, offset]) => ({
      name,
      plaintextBytes,
      storedBytes,
      offset,
    }));
  }

  set(pack: string, etag: string | undefined, size: number, chunks: PackedChunk[]): void {
    if (etag === undefined) return;
    this.#entries.set(pack, [
      etag,
      size,
      chunks.map((c) => [c.name, c.plaintextBytes, c.storedBytes, c.offset]),
    ]);
    this.#changed = true;
  }

  /** Writes the cache atomically, without the packs the listing no longer shows (deleted by prune). */
  async save(listed: { has(pack: string): boolean }): Promise<void> {
    for (const pack of this.#entries.keys()) {
      if (listed.has(pack)) continue;
      this.#entries.delete(pack);
      this.#changed = true;
    }
    if (!this.#path || !this.#changed) return;
    const tmp = `${this.#path}.${process.pid}.${Date.now()}.tmp`;
    try {
      await mkdir(join(this.#path, '..'), { recursive: true, mode: 0o700 });
      const file: CacheFile = { version: VERSION, packs: Object.fromEntries(this.#entries) };
      await writeFile(tmp, JSON.stringify(file), { mode: 0o600 });
      await rename(tmp, this.#path);
      this.#changed = false;
    } catch {
      // A cache that cannot be written (a full or read-only disk) costs reads next time, not this backup.
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }
}
