// After every backup run: update the worker's metrics and deliver the webhooks configured for the
// outcome. Webhook URLs come from this worker's config, never from the workflow (they are secrets).
import { log } from '@temporalio/activity';
import type { BackupMetrics } from '../metrics/backup-metrics.ts';
import type { BackupOutcome, Notice, RunSummaryNotice } from '../notify/outcome.ts';
import { summaryLine } from '../notify/payload.ts';
import { deliverWebhook, type WebhookTarget } from '../notify/webhook.ts';

export interface NotifySettings {
  webhooks: WebhookTarget[];
  /** For links to runs: `<uiUrl>/namespaces/<namespace>/workflows/<workflow id>`. */
  uiUrl: string;
  namespace: string;
}

export interface NotifyDeps {
  settings?: NotifySettings | undefined;
  metrics?: BackupMetrics | undefined;
  timeoutMs?: number;
}

function runUrl(settings: NotifySettings, workflowId: string): string {
  return `${settings.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * Sends `notice` to every webhook subscribed to its event. Webhooks already served for `dedupeKey`
 * (an earlier attempt of the same activity) are skipped; the rest are tried, and if any fails the
 * call throws after trying all of them, so a retry only repeats the failed ones.
 */
async function notifyWebhooks(
  settings: NotifySettings,
  notice: Notice,
  opts: { delivered?: Set<string>; dedupeKey?: string; timeoutMs?: number } = {},
): Promise<number> {
  const ctx = {
    workflowUrl: notice.event === 'stale' ? undefined : runUrl(settings, notice.workflowId),
  };
  const errors: string[] = [];
  let sent = 0;
  for (const [index, webhook] of settings.webhooks.entries()) {
    if (!webhook.on.includes(notice.event)) continue;
    const key = `${opts.dedupeKey ?? ''}#${index}`;
    if (opts.delivered?.has(key)) continue;
    try {
      await deliverWebhook(webhook, index, notice, ctx, opts.timeoutMs);
      opts.delivered?.add(key);
      sent++;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(`notification not delivered: ${errors.join('; ')}`);
  return sent;
}

export function createNotifyActivities({ settings, metrics, timeoutMs }: NotifyDeps = {}) {
  const delivered = new Set<string>();
  return {
    /** Metrics first (counted once per run), then webhooks; a failed webhook makes Temporal retry. */
    async reportBackupOutcome(
      outcome: BackupOutcome & { summarizedByRun?: boolean },
    ): Promise<{ notified: number }> {
      const { summarizedByRun, ...notice } = outcome;
      metrics?.record(notice);
      // A definition backed up as part of a run is told in the run's summary instead.
      if (!settings || summarizedByRun) return { notified: 0 };
      return send(notice);
    },

    async reportRunSummary(summary: RunSummaryNotice): Promise<{ notified: number }> {
      return send(summary);
    },
  };

  async function send(notice: BackupOutcome | RunSummaryNotice): Promise<{ notified: number }> {
    if (!settings) return { notified: 0 };
    if (delivered.size > 10_000) delivered.clear();
    const notified = await notifyWebhooks(settings, notice, {
      delivered,
      dedupeKey: `${notice.runId}/${notice.event}`,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    if (notified > 0) log.info('notified', { webhooks: notified, summary: summaryLine(notice) });
    return { notified };
  }
}

export type NotifyActivities = ReturnType<typeof createNotifyActivities>;
