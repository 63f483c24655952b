// The worker's periodic stale check: a definition is stale when its newest complete backup (or, with
// none, the worker's start) is older than a webhook's `staleAfter`. Each stale episode alerts once per
// webhook (until a newer backup appears). The same scan seeds the last-success metric after a restart.
import type { BackupMetrics } from '../metrics/backup-metrics.ts';
import { readManifest } from '../storage/manifest.ts';
import { CorruptManifestError, ObjectNotFoundError } from '../storage/store.ts';
import type { BackupStore, S3Target } from '../storage/store.ts';
import type { StaleNotice } from './outcome.ts';
import { deliverWebhook, type WebhookTarget } from './webhook.ts';

export interface WatchedDefinition {
  definition: string;
  type: string;
  host: string;
  target: S3Target;
}

export interface StaleCheckOptions {
  definitions: WatchedDefinition[];
  webhooks: WebhookTarget[];
  storeFor: (target: S3Target) => BackupStore;
  metrics?: BackupMetrics | undefined;
  log: (message: string) => void;
  startedAt?: Date;
}

/**
 * The newest complete backup of a definition: one listing of its backup ids (they sort by time) and
 * manifest reads from the newest down, skipping runs in progress and unreadable manifests.
 */
async function newestBackup(
  store: BackupStore,
  definition: string,
): Promise<{ backupId: string; finishedAt: string } | undefined> {
  const ids = (await store.listPrefixes(`${definition}/`))
    .map((p) => p.slice(definition.length + 1, -1))
    .sort()
    .reverse();
  for (const backupId of ids) {
    try {
      const manifest = await readManifest(store, definition, backupId);
      return { backupId, finishedAt: manifest.finishedAt };
    } catch (err) {
      if (err instanceof ObjectNotFoundError || err instanceof CorruptManifestError) continue;
      throw err;
    }
  }
  return undefined;
}

/** One pass; returns the notices sent. `alerted` remembers episodes across passes. */
async function checkStale(
  opts: StaleCheckOptions,
  alerted: Set<string>,
  now = new Date(),
): Promise<StaleNotice[]> {
  const sent: StaleNotice[] = [];
  const startedAt = opts.startedAt ?? now;
  for (const def of opts.definitions) {
    let newest: { backupId: string; finishedAt: string } | undefined;
    try {
      newest = await newestBackup(opts.storeFor(def.target), def.definition);
    } catch (err) {
      opts.log(`stale check: cannot list backups of ${def.definition}: ${(err as Error).message}`);
      continue;
    }
    const labels = { definition: def.definition, type: def.type, host: def.host };
    if (newest) opts.metrics?.seedLastSuccess(labels, new Date(newest.finishedAt));
    else opts.metrics?.ensure(labels);
    const since = newest ? Date.parse(newest.finishedAt) : startedAt.getTime();
    for (const [index, webhook] of opts.webhooks.entries()) {
      if (!webhook.on.includes('stale') || webhook.staleAfter === undefined) continue;
      if (now.getTime() - since <= webhook.staleAfter) continue;
      const episode = `${def.definition}|${newest?.backupId ?? 'none'}|${index}`;
      if (alerted.has(episode)) continue;
      const notice: StaleNotice = {
        event: 'stale',
        ...labels,
        lastBackupId: newest?.backupId,
        lastSuccessAt: newest?.finishedAt,
        staleAfterMs: webhook.staleAfter,
        checkedAt: now.toISOString(),
      };
      try {
        await deliverWebhook(webhook, index, notice, {});
        alerted.add(episode);
        sent.push(notice);
      } catch (err) {
        opts.log(`stale check: ${(err as Error).message} (retried on the next check)`);
      }
    }
  }
  return sent;
}

/** Runs checkStale now and every `intervalMs` until `signal` aborts. */
export async function runStaleChecks(
  opts: StaleCheckOptions,
  intervalMs: number,
  signal: AbortSignal,
): Promise<void> {
  const alerted = new Set<string>();
  const options = { ...opts, startedAt: opts.startedAt ?? new Date() };
  while (!signal.aborted) {
    try {
      for (const n of await checkStale(options, alerted)) {
        opts.log(`stale: ${n.definition} (last success ${n.lastSuccessAt ?? 'never'}), notified`);
      }
    } catch (err) {
      opts.log(`stale check failed: ${(err as Error).message}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
