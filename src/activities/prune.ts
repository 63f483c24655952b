// Prune: applies a definition's retention policy to its backups in storage, sweeps what failed
// runs left behind, then collects the prefix's unreferenced chunks. A backup's manifest goes first,
// then its objects, chunks last: a crash half-way leaves objects without a manifest (an incomplete
// leftover, swept later) or unreferenced chunks, never a half backup that lists.
import { log } from '@temporalio/activity';
import type { PrunePlan } from '../plan/types.ts';
import { applyRetention, describePolicy } from '../retention/policy.ts';
import { backupPrefix, manifestKey, parseBackupId } from '../storage/layout.ts';
import { collectChunks, DEFAULT_CHUNK_GRACE_MS, type ChunkGcResult } from '../storage/chunk-gc.ts';
import { listBackups, listIncomplete } from '../storage/manifest.ts';
import { DeleteObjectsError, StorageAccessError, type BackupStore } from '../storage/store.ts';
import type { StoreFor } from './stores.ts';

/** Objects without a manifest younger than this may belong to a run still uploading: never touched. */
const INCOMPLETE_GRACE_MS = 86_400_000;

export type PruneAction = 'keep' | 'delete' | 'deleted' | 'locked' | 'failed';

export interface PrunedBackup {
  backupId: string;
  time: string;
  action: PruneAction;
  /** Why it is kept (retention rules), or what stopped its deletion. */
  reasons: string[];
}

export interface PrunedLeftover {
  backupId: string;
  objects: number;
  bytes: number;
  newestObjectAt: string;
  action: 'in progress' | 'delete' | 'deleted' | 'locked' | 'failed';
  detail?: string | undefined;
}

export interface PruneResult {
  definition: string;
  policy: string;
  dryRun: boolean;
  /** Complete backups, newest first. */
  backups: PrunedBackup[];
  leftovers: PrunedLeftover[];
  /** Unfinished multipart uploads older than a day: aborted, or would be in a dry run. */
  abortedUploads: number;
  /** The prefix's chunks (absent in results of versions before chunk collection). */
  chunks?: ChunkGcResult | undefined;
  warnings: string[];
}

/**
 * A deletion refused because of Object Lock retention: per-key AccessDenied in a DeleteObjects answer,
 * or (versitygw, for a single key) the whole request denied with a message naming the lock.
 */
function isLockDenial(err: unknown): boolean {
  if (err instanceof DeleteObjectsError) return err.failures.some((f) => f.code === 'AccessDenied');
  return err instanceof StorageAccessError && /object lock|retention/i.test(err.message);
}

async function deletePrefix(store: BackupStore, prefix: string): Promise<number> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  if (keys.length > 0) await store.deleteMany(keys);
  return keys.length;
}

/** In a dry run, the prefixes the real run would have removed: their chunks count as unreferenced. */
function wouldDelete(definition: string, result: PruneResult): Set<string> {
  return new Set(
    [
      ...result.backups.filter((b) => b.action === 'delete').map((b) => b.backupId),
      ...result.leftovers.filter((l) => l.action === 'delete').map((l) => l.backupId),
    ].map((id) => backupPrefix(definition, id)),
  );
}

export interface PruneOptions {
  now?: Date;
  log?: (message: string, attrs?: Record<string, unknown>) => void;
}

/** The store-level prune of one definition; the activity and tests call it. */
export async function pruneDefinition(
  store: BackupStore,
  plan: PrunePlan,
  opts: PruneOptions = {},
): Promise<PruneResult> {
  const now = opts.now ?? new Date();
  const say = opts.log ?? (() => {});
  const result: PruneResult = {
    definition: plan.definition,
    policy: describePolicy(plan.retention),
    dryRun: plan.dryRun,
    backups: [],
    leftovers: [],
    abortedUploads: 0,
    warnings: [],
  };
  const listings = await listBackups(store, plan.definition);
  const complete = listings.flatMap((b) =>
    b.manifest
      ? [
          {
            id: b.backupId,
            time: parseBackupId(b.backupId) ?? new Date(b.manifest.startedAt),
            finishedAt: b.manifest.finishedAt,
          },
        ]
      : [],
  );
  for (const b of listings) {
    if (!b.manifest) {
      result.warnings.push(`${b.backupId}: unreadable manifest, not pruned (${b.error ?? 'unknown error'})`);
    }
  }
  const lock = plan.target.objectLock;
  for (const decision of applyRetention(complete, plan.retention, plan.timeZone)) {
    const { id, time, finishedAt } = decision.backup;
    const entry: PrunedBackup = {
      backupId: id,
      time: time.toISOString(),
      action: decision.keep ? 'keep' : 'delete',
      reasons: decision.reasons,
    };
    result.backups.push(entry);
    if (decision.keep || plan.dryRun) continue;
    // Objects are locked from their upload; the manifest, written last, is released last.
    const lockedUntil = lock ? Date.parse(finishedAt) + lock.days * 86_400_000 + 60_000 : 0;
    if (lockedUntil > now.getTime()) {
      entry.action = 'locked';
      entry.reasons = [`locked until ${new Date(lockedUntil).toISOString()} (${lock?.mode} object lock)`];
      continue;
    }
    try {
      await store.deleteMany([manifestKey(plan.definition, id)]);
    } catch (err) {
      entry.action = isLockDenial(err) ? 'locked' : 'failed';
      entry.reasons = [isLockDenial(err) ? 'object lock: deletion denied' : (err as Error).message];
      if (entry.action === 'failed') result.warnings.push(`${id}: ${(err as Error).message}`);
      continue;
    }
    try {
      const objects = await deletePrefix(store, backupPrefix(plan.definition, id));
      entry.action = 'deleted';
      say('pruned backup', { definition: plan.definition, backupId: id, objects: objects + 1 });
    } catch (err) {
      // The backup no longer exists (its manifest is gone); what is left is swept as a leftover.
      entry.action = 'deleted';
      entry.reasons = [`some objects remain: ${(err as Error).message}`];
      result.warnings.push(`${id}: manifest deleted, objects remain: ${(err as Error).message}`);
    }
  }

  const graceEnd = now.getTime() - INCOMPLETE_GRACE_MS;
  for (const leftover of await listIncomplete(store, plan.definition)) {
    const entry: PrunedLeftover = {
      backupId: leftover.backupId,
      objects: leftover.objects,
      bytes: leftover.bytes,
      newestObjectAt: leftover.newestObjectAt.toISOString(),
      action: leftover.newestObjectAt.getTime() > graceEnd ? 'in progress' : 'delete',
    };
    result.leftovers.push(entry);
    if (entry.action !== 'delete' || plan.dryRun) continue;
    try {
      await deletePrefix(store, backupPrefix(plan.definition, leftover.backupId));
      entry.action = 'deleted';
    } catch (err) {
      entry.action = isLockDenial(err) ? 'locked' : 'failed';
      entry.detail = isLockDenial(err) ? 'object lock: deletion denied' : (err as Error).message;
      if (entry.action === 'failed') result.warnings.push(`leftover ${leftover.backupId}: ${entry.detail}`);
    }
  }

  const olderThan = new Date(graceEnd);
  const dir = `${plan.definition}/`;
  result.abortedUploads = plan.dryRun
    ? (await store.listUnfinishedUploads(dir)).filter((u) => u.initiated && u.initiated < olderThan).length
    : await store.abortUnfinishedUploads(dir, { olderThan });

  const chunks = await collectChunks(store, {
    graceMs: plan.target.chunkGraceMs ?? DEFAULT_CHUNK_GRACE_MS,
    inProgressMs: INCOMPLETE_GRACE_MS,
    dryRun: plan.dryRun,
    now,
    ignoring: plan.dryRun ? wouldDelete(plan.definition, result) : undefined,
  });
  result.chunks = chunks;
  result.warnings.push(...chunks.warnings);
  if (chunks.deleted.chunks + chunks.locked.chunks > 0 || chunks.marker) {
    say('collected chunks', {
      deleted: chunks.deleted.chunks,
      locked: chunks.locked.chunks,
      candidates: chunks.candidates.chunks,
    });
  }
  return result;
}

export interface PruneActivityDeps {
  storeFor: StoreFor;
}

export function createPruneActivities({ storeFor }: PruneActivityDeps) {
  return {
    async pruneBackups(plan: PrunePlan): Promise<PruneResult> {
      return pruneDefinition(storeFor(plan.target), plan, {
        log: (m, a) => {
          log.info(m, a);
        },
      });
    },
  };
}

export type PruneActivities = ReturnType<typeof createPruneActivities>;
