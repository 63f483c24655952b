// Candidate markers of the chunk collection (docs/FORMAT.md, "Prune"): every prune records the chunks
// that no backup referenced, each with the tag of its stored version, in one object under `_chunks-gc/`.
// A later prune deletes a chunk only when a marker at least the grace period old lists it with the tag
// it still has; while any marker lists a chunk, backups store it again instead of reusing it.
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { ObjectNotFoundError, type BackupStore } from './store.ts';

export const MARKERS_DIR = '_chunks-gc';

const MARKER_NAME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)-[0-9a-f]{8}\.candidates$/;
const MARKER_LINE = /^([0-9a-f]{64}(?:\.pack)?) (\S+)$/;

export interface CandidateMarker {
  key: string;
  /** When the prune that wrote it had listed the chunks (its name says so). */
  writtenAt: Date;
  /** Chunk name -> the tag of the version that was unreferenced. */
  candidates: Map<string, string>;
}

export function markerKey(at: Date): string {
  return `${MARKERS_DIR}/${at.toISOString()}-${randomBytes(4).toString('hex')}.candidates`;
}

/** One line per chunk or pack, `<name> <tag>`: names and tags only, like the bucket listing itself. */
export function formatMarker(candidates: Map<string, string>): string {
  return [...candidates].map(([name, etag]) => `${name} ${etag}\n`).join('');
}

function parseMarker(body: string): Map<string, string> | undefined {
  const candidates = new Map<string, string>();
  if (body !== '' && !body.endsWith('\n')) return undefined;
  for (const line of body.split('\n').slice(0, -1)) {
    const m = MARKER_LINE.exec(line);
    if (!m) return undefined;
    candidates.set(m[1]!, m[2]!);
  }
  return candidates;
}

export interface MarkerListing {
  markers: CandidateMarker[];
  /** Objects under `_chunks-gc/` that are not markers dockvault wrote: never used to delete anything. */
  unreadable: string[];
}

/**
 * Every marker of the prefix, oldest first. A marker removed between the listing and its read (by
 * another prune, after it used it) is left out.
 */
export async function readMarkers(store: BackupStore): Promise<MarkerListing> {
  const markers: CandidateMarker[] = [];
  const unreadable: string[] = [];
  for await (const object of store.list(`${MARKERS_DIR}/`)) {
    const written = MARKER_NAME.exec(object.key.slice(MARKERS_DIR.length + 1));
    if (!written) {
      unreadable.push(object.key);
      continue;
    }
    let body: string;
    try {
      body = await text(await store.get(object.key, { size: object.size }));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) continue;
      throw err;
    }
    const candidates = parseMarker(body);
    if (candidates) markers.push({ key: object.key, writtenAt: new Date(written[1]!), candidates });
    else unreadable.push(object.key);
  }
  return { markers: markers.sort((a, b) => a.writtenAt.getTime() - b.writtenAt.getTime()), unreadable };
}
