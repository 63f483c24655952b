// The manifest: the record of one backup, written last. A backup exists exactly when its manifest does.
import { z } from 'zod';
import { CHUNK_INDEX_SUFFIX, isChunkIndexName } from './chunks.ts';
import { backupPrefix, manifestKey, MANIFEST_NAME, parseBackupId } from './layout.ts';
import { CorruptManifestError, CorruptObjectError, ObjectNotFoundError } from './store.ts';
import type { BackupStore } from './store.ts';
import { mapLimit } from './map-limit.ts';

const isoTime = z.iso.datetime({ offset: true });
const bytes = z.number().int().nonnegative();
const objectName = z
  .string()
  .min(1)
  .refine((n) => !n.startsWith('/') && n.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), {
    message: 'must be a relative path without empty, "." or ".." segments',
  })
  .refine((n) => n !== MANIFEST_NAME, { message: `must not be ${MANIFEST_NAME}` });

const StoredObjectSchema = z.strictObject({
  name: objectName,
  kind: z.enum(['volume', 'database', 'globals']),
  source: z.string().min(1),
  format: z.enum(['tar', 'pg_dump-custom', 'sql']),
  plaintextBytes: bytes,
  storedBytes: bytes,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  startedAt: isoTime,
  finishedAt: isoTime,
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /**
   * v2: the object is a chunk index (docs/FORMAT.md): `sha256` is the index's, `storedBytes` the
   * index's plus those of every chunk it lists.
   */
  chunked: z
    .strictObject({
      indexBytes: bytes,
      chunks: bytes,
      /** What this backup uploaded; the other chunks were in the store already. */
      newChunks: bytes,
      uploadedBytes: bytes,
      /** v3: index lines that name a pack, and the packs this backup stored. */
      packed: bytes.optional(),
      newPacks: bytes.optional(),
    })
    .optional(),
});

export const MANIFEST_V1 = 'dockvault-manifest/v1';
/** v2 adds chunked objects; a backup without any is still written as v1, readable by older versions. */
export const MANIFEST_V2 = 'dockvault-manifest/v2';
/**
 * v3 adds packs: a chunk index may name a chunk's pack and offset. A backup without such lines is
 * still written as v2 (or v1), readable by older versions.
 */
export const MANIFEST_V3 = 'dockvault-manifest/v3';

export const ManifestSchema = z
  .strictObject({
    format: z.enum([MANIFEST_V1, MANIFEST_V2, MANIFEST_V3]),
    tool: z.strictObject({ name: z.literal('dockvault'), version: z.string().min(1) }),
    definition: z.string().min(1),
    type: z.enum(['standard', 'postgresqldatabase']),
    backupId: z.string().min(1),
    host: z.string().min(1),
    workflowId: z.string(),
    runId: z.string(),
    startedAt: isoTime,
    finishedAt: isoTime,
    downtimeMs: z.number().nonnegative(),
    /** In stop order; the restart ran in reverse. */
    containers: z.strictObject({ stopped: z.array(z.string()), notRunning: z.array(z.string()) }),
    encryption: z.strictObject({
      format: z.literal('age-v1'),
      recipients: z.array(z.string().min(1)).min(1),
    }),
    compression: z.strictObject({
      algorithm: z.enum(['zstd', 'gzip', 'none']),
      level: z.number().int().optional(),
    }),
    objects: z.array(StoredObjectSchema),
    totals: z.strictObject({ plaintextBytes: bytes, storedBytes: bytes }),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.objects.forEach((o, i) => {
      if (o.chunked && m.format === MANIFEST_V1)
        ctx.addIssue({ code: 'custom', path: ['objects', i, 'chunked'], message: `needs ${MANIFEST_V2}` });
      if (o.chunked?.packed && m.format !== MANIFEST_V3)
        ctx.addIssue({
          code: 'custom',
          path: ['objects', i, 'chunked', 'packed'],
          message: `needs ${MANIFEST_V3}`,
        });
      // Chunk collection finds the indexes by name (a run still uploading has no manifest to read them
      // from): an index named otherwise would leave its chunks unreferenced.
      if (o.chunked && !isChunkIndexName(o.name))
        ctx.addIssue({
          code: 'custom',
          path: ['objects', i, 'name'],
          message: `a chunked object's name must end in ${CHUNK_INDEX_SUFFIX}`,
        });
      if (seen.has(o.name))
        ctx.addIssue({ code: 'custom', path: ['objects', i, 'name'], message: 'duplicate name' });
      seen.add(o.name);
    });
    const sum = (f: (o: (typeof m.objects)[number]) => number) => m.objects.reduce((n, o) => n + f(o), 0);
    if (m.totals.plaintextBytes !== sum((o) => o.plaintextBytes)) {
      ctx.addIssue({
        code: 'custom',
        path: ['totals', 'plaintextBytes'],
        message: 'is not the sum of the objects',
      });
    }
    if (m.totals.storedBytes !== sum((o) => o.storedBytes)) {
      ctx.addIssue({
        code: 'custom',
        path: ['totals', 'storedBytes'],
        message: 'is not the sum of the objects',
      });
    }
  });

export type Manifest = z.infer<typeof ManifestSchema>;

/** The oldest version that can hold these objects, so older versions read what they can. */
export function manifestFormat(objects: Pick<Manifest['objects'][number], 'chunked'>[]): Manifest['format'] {
  if (objects.some((o) => (o.chunked?.packed ?? 0) > 0)) return MANIFEST_V3;
  return objects.some((o) => o.chunked) ? MANIFEST_V2 : MANIFEST_V1;
}
export type ManifestObject = z.infer<typeof StoredObjectSchema>;

export interface BackupListing {
  definition: string;
  backupId: string;
  manifest?: Manifest;
  /** Set instead of `manifest` when the manifest exists but cannot be read as one. */
  error?: string;
}

export interface IncompleteBackup {
  definition: string;
  backupId: string;
  objects: number;
  bytes: number;
  /** The newest object's LastModified: a run still uploading looks recent. */
  newestObjectAt: Date;
}

/** `objects[2].sha256: must be 64 lowercase hex digits; ...` */
function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
      .join('');
    return `${path || '(root)'}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}

export async function writeManifest(store: BackupStore, manifest: Manifest): Promise<void> {
  const key = manifestKey(manifest.definition, manifest.backupId);
  const parsed = ManifestSchema.safeParse(manifest);
  if (!parsed.success) {
    throw new CorruptManifestError(
      `refusing to write an invalid manifest ${key} to ${store.location}: ${describeIssues(parsed.error)}`,
      { location: store.location, key },
    );
  }
  await store.putJson(key, parsed.data);
}

export async function readManifest(
  store: BackupStore,
  definition: string,
  backupId: string,
): Promise<Manifest> {
  const key = manifestKey(definition, backupId);
  const ctx = { location: store.location, key };
  let raw: unknown;
  try {
    raw = await store.getJson(key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new ObjectNotFoundError(`no backup ${backupId} of ${definition} at ${store.location}`, {
        ...ctx,
        cause: err,
      });
    }
    if (err instanceof CorruptObjectError) {
      throw new CorruptManifestError(`corrupt manifest ${key} at ${store.location}: ${err.message}`, {
        ...ctx,
        cause: err,
      });
    }
    throw err;
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CorruptManifestError(
      `corrupt manifest ${key} at ${store.location}: ${describeIssues(parsed.error)}`,
      ctx,
    );
  }
  if (parsed.data.definition !== definition || parsed.data.backupId !== backupId) {
    throw new CorruptManifestError(
      `corrupt manifest ${key} at ${store.location}: it describes backup ${parsed.data.backupId} of ${parsed.data.definition}`,
      ctx,
    );
  }
  return parsed.data;
}

export interface PrefixScan {
  backupId: string;
  hasManifest: boolean;
  objects: number;
  bytes: number;
  newest: Date;
  /** Keys of the chunk indexes under the prefix (`*.chunks`: volumes' and databases'). */
  chunkIndexes: string[];
}

/** One paginated listing of a definition, grouped by backup id. */
export async function scanDefinition(store: BackupStore, definition: string): Promise<PrefixScan[]> {
  const scans = new Map<string, PrefixScan>();
  const dir = `${definition}/`;
  for await (const obj of store.list(dir)) {
    const rest = obj.key.slice(dir.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue; // an object directly under the definition: not part of a backup
    const backupId = rest.slice(0, slash);
    let scan = scans.get(backupId);
    if (!scan) {
      scan = {
        backupId,
        hasManifest: false,
        objects: 0,
        bytes: 0,
        newest: new Date(0),
        chunkIndexes: [],
      };
      scans.set(backupId, scan);
    }
    if (rest.slice(slash + 1) === MANIFEST_NAME) scan.hasManifest = true;
    if (isChunkIndexName(obj.key)) scan.chunkIndexes.push(obj.key);
    scan.objects++;
    scan.bytes += obj.size;
    if (obj.lastModified > scan.newest) scan.newest = obj.lastModified;
  }
  return [...scans.values()];
}

/**
 * The definitions with objects in the store. Definition names start with a letter or digit, so the
 * prefix's own directories (`_chunks/`, `_chunks-gc/`) are never among them.
 */
export async function listDefinitions(store: BackupStore): Promise<string[]> {
  return (await store.listPrefixes(''))
    .map((p) => p.slice(0, -1))
    .filter((d) => d !== '' && !d.startsWith('_'));
}

async function definitionsOf(store: BackupStore, definition: string | undefined): Promise<string[]> {
  if (definition === undefined) return listDefinitions(store);
  backupPrefix(definition, 'x'); // validates the name
  return [definition];
}

function backupTime(backupId: string, manifest?: Manifest): number {
  return parseBackupId(backupId)?.getTime() ?? (manifest ? Date.parse(manifest.startedAt) : 0);
}

/**
 * Backups (prefixes with a manifest), newest first. A corrupt manifest is listed with `error`;
 * unreachable storage or denied access still throws.
 */
export async function listBackups(store: BackupStore, definition?: string): Promise<BackupListing[]> {
  const found: { definition: string; backupId: string }[] = [];
  for (const def of await definitionsOf(store, definition)) {
    for (const scan of await scanDefinition(store, def)) {
      if (scan.hasManifest) found.push({ definition: def, backupId: scan.backupId });
    }
  }
  const listed = await mapLimit(
    found,
    8,
    async ({ definition: def, backupId }): Promise<BackupListing | undefined> => {
      try {
        return { definition: def, backupId, manifest: await readManifest(store, def, backupId) };
      } catch (err) {
        if (err instanceof CorruptManifestError) return { definition: def, backupId, error: err.message };
        // Deleted between the listing and the read (a concurrent prune): no longer a backup.
        if (err instanceof ObjectNotFoundError) return undefined;
        throw err;
      }
    },
  );
  return listed
    .filter((b): b is BackupListing => b !== undefined)
    .sort(
      (a, b) =>
        backupTime(b.backupId, b.manifest) - backupTime(a.backupId, a.manifest) ||
        (a.backupId < b.backupId ? 1 : a.backupId > b.backupId ? -1 : 0) ||
        a.definition.localeCompare(b.definition),
    );
}

/** The newest backup id of `definition` with a manifest (ids sort by time), from one listing. */
export async function latestBackupId(store: BackupStore, definition: string): Promise<string | undefined> {
  let latest: string | undefined;
  for (const scan of await scanDefinition(store, definition)) {
    if (scan.hasManifest && (latest === undefined || scan.backupId > latest)) latest = scan.backupId;
  }
  return latest;
}

/**
 * Prefixes of `definition` holding objects but no manifest: failed runs, or runs still in progress
 * (compare `newestObjectAt` with the present before deleting anything). Newest first.
 */
export async function listIncomplete(store: BackupStore, definition: string): Promise<IncompleteBackup[]> {
  await definitionsOf(store, definition);
  return (await scanDefinition(store, definition))
    .filter((s) => !s.hasManifest)
    .map((s) => ({
      definition,
      backupId: s.backupId,
      objects: s.objects,
      bytes: s.bytes,
      newestObjectAt: s.newest,
    }))
    .sort((a, b) => b.newestObjectAt.getTime() - a.newestObjectAt.getTime());
}
