// Verify of the chunked volumes of several backups at once: every index is read and checked, and every
// chunk they list is read and authenticated once, however many backups list it (the chunks of a pack in
// a few ranged reads of it); a damaged chunk is reported for every object that lists it.
import type { Identity } from '../pipeline/age/keys.ts';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import type { VerifiedObject } from '../plan/types.ts';
import type { ChunkRef } from '../storage/chunks.ts';
import { objectKey } from '../storage/layout.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import { mapLimit } from '../storage/map-limit.ts';
import { StorageError, type BackupStore } from '../storage/store.ts';
import { RestoreError } from './errors.ts';
import { planChunkReads } from './chunk-reads.ts';
import { checkChunkRead, chunkProblem, readIndex } from './read-chunks.ts';

/** Reads at once (a chunk, or up to 8 MiB of a pack): about this many x 2 x 8 MiB of memory. */
const PARALLEL_READS = 4;

export interface ChunkedObjectToVerify {
  backupId: string;
  compression: CompressionAlgorithm;
  object: ManifestObject;
}

export interface SharedChunkVerify {
  objects: VerifiedObject[];
  /** Distinct chunks read (each once). */
  chunksRead: number;
  /** Chunks listed by all the indexes together: what reading each backup on its own would read. */
  chunksListed: number;
}

interface Listing {
  item: number;
  key: string;
  position: number;
  of: number;
  ref: ChunkRef;
}

/** A failure that is the object's (or chunk's) own, as opposed to storage that is down for now. */
export function isDefinite(err: unknown): boolean {
  return err instanceof RestoreError || (err instanceof StorageError && !err.retryable);
}

export async function verifyChunksOnce(opts: {
  store: BackupStore;
  definition: string;
  items: ChunkedObjectToVerify[];
  identities: Identity[];
  signal?: AbortSignal | undefined;
  onProgress?: ((storedBytes: number) => void) | undefined;
}): Promise<SharedChunkVerify> {
  const { store, items } = opts;
  const errors = items.map((): string[] => []);
  // One entry per chunk as stored: a name listed with other sizes, in another place, or under another
  // compression, is another read (and fails its own size check).
  const chunks = new Map<string, Listing[]>();
  let listed = 0;
  for (const [item, { backupId, compression, object }] of items.entries()) {
    const key = objectKey(opts.definition, backupId, object.name);
    if (!object.chunked) throw new TypeError(`${key} is not a chunked object`);
    let refs: ChunkRef[];
    try {
      refs = await readIndex({
        store,
        key,
        object: { ...object, chunked: object.chunked },
        signal: opts.signal,
      });
    } catch (err) {
      if (!isDefinite(err)) throw err;
      errors[item]!.push((err as Error).message);
      continue;
    }
    listed += refs.length;
    refs.forEach((ref, position) => {
      const id = `${compression} ${ref.name} ${ref.storedBytes} ${ref.plaintextBytes} ${ref.pack} ${ref.offset}`;
      chunks.set(id, [...(chunks.get(id) ?? []), { item, key, position, of: refs.length, ref }]);
    });
  }
  // Chunks in packs sorted by pack and place, so that the read plan reads each pack in few ranges
  // (one per 8 MiB) instead of a request per chunk; one plan per compression, as chunks are opened.
  const byCompression = new Map<CompressionAlgorithm, Listing[][]>();
  for (const listings of chunks.values()) {
    const compression = items[listings[0]!.item]!.compression;
    byCompression.set(compression, [...(byCompression.get(compression) ?? []), listings]);
  }
  const work = [...byCompression].flatMap(([compression, entries]) => {
    entries.sort(
      ({ 0: a }, { 0: b }) =>
        (a!.ref.pack ?? '').localeCompare(b!.ref.pack ?? '') || (a!.ref.offset ?? 0) - (b!.ref.offset ?? 0),
    );
    const refs = entries.map((listings) => listings[0]!.ref);
    return planChunkReads(refs).map((read) => ({ compression, read, refs, entries }));
  });
  let storedBytes = 0;
  await mapLimit(work, PARALLEL_READS, async ({ compression, read, refs, entries }) => {
    const source = { store, compression, identities: opts.identities, signal: opts.signal };
    const found = await checkChunkRead(source, read, refs);
    read.positions.forEach((position, k) => {
      const problem = found[k];
      if (problem) {
        for (const l of entries[position]!)
          errors[l.item]!.push(chunkProblem(l.key, l.ref, l.position, l.of, problem.message));
      }
      storedBytes += refs[position]!.storedBytes;
    });
    opts.onProgress?.(storedBytes);
  });
  const objects = items.map(({ backupId, object }, i): VerifiedObject => {
    const found = errors[i]!;
    if (found.length === 0)
      return { backupId, name: object.name, ok: true, plaintextBytes: object.plaintextBytes };
    const key = objectKey(opts.definition, backupId, object.name);
    // Positions in index order; the report names the object once, in front of what is wrong with it.
    const first = found.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))[0]!;
    const more = found.length > 1 ? ` (and ${found.length - 1} more damaged chunk(s))` : '';
    return {
      backupId,
      name: object.name,
      ok: false,
      plaintextBytes: 0,
      error: `${first.startsWith(`${key}: `) ? first.slice(key.length + 2) : first}${more}`,
    };
  });
  return { objects, chunksRead: chunks.size, chunksListed: listed };
}
