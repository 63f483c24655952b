// dockvault's own series, per definition (labels definition, type, host). They live in the worker
// process that runs the host's activities; the outcome activity updates them after every run.
import type { BackupOutcome } from '../notify/outcome.ts';
import { Registry } from './registry.ts';

export type DefinitionLabels = {
  definition: string;
  type: string;
  host: string;
};

export class BackupMetrics {
  readonly registry = new Registry();
  readonly lastSuccess = this.registry.gauge(
    'dockvault_last_success_timestamp_seconds',
    'Unix time the last successful backup finished.',
  );
  readonly lastDuration = this.registry.gauge(
    'dockvault_last_duration_seconds',
    'Duration of the last successful backup.',
  );
  readonly lastDowntime = this.registry.gauge(
    'dockvault_last_downtime_seconds',
    'Time the containers were stopped during the last successful backup.',
  );
  readonly uploadedBytes = this.registry.counter(
    'dockvault_uploaded_bytes_total',
    'Bytes uploaded to storage (encrypted, compressed) by successful backups.',
  );
  readonly failures = this.registry.counter('dockvault_backups_failed_total', 'Failed backup runs.');
  readonly successes = this.registry.counter('dockvault_backups_succeeded_total', 'Successful backup runs.');
  /** Activities are retried: a run's outcome is counted once. */
  readonly #recorded = new Set<string>();

  record(outcome: BackupOutcome): void {
    const key = `${outcome.runId}/${outcome.event}`;
    if (this.#recorded.has(key)) return;
    this.#recorded.add(key);
    if (this.#recorded.size > 10_000) this.#recorded.delete(this.#recorded.values().next().value as string);
    const labels = { definition: outcome.definition, type: outcome.type, host: outcome.host };
    this.ensure(labels);
    if (outcome.event === 'failure') {
      this.failures.inc(labels);
      return;
    }
    const finished = Date.parse(outcome.finishedAt);
    this.successes.inc(labels);
    this.lastSuccess.set(labels, finished / 1000);
    this.lastDuration.set(labels, (finished - Date.parse(outcome.startedAt)) / 1000);
    this.lastDowntime.set(labels, (outcome.downtimeMs ?? 0) / 1000);
    this.uploadedBytes.inc(labels, outcome.storedBytes ?? 0);
  }

  /** Counters start at 0 so rate() and increase() see the first failure. */
  ensure(labels: DefinitionLabels): void {
    this.failures.inc(labels, 0);
    this.successes.inc(labels, 0);
    this.uploadedBytes.inc(labels, 0);
  }

  /** From storage at start (the newest manifest), so a restarted worker does not look stale. */
  seedLastSuccess(labels: DefinitionLabels, finishedAt: Date): void {
    this.ensure(labels);
    const current = this.lastSuccess.get(labels) ?? 0;
    if (finishedAt.getTime() / 1000 > current) this.lastSuccess.set(labels, finishedAt.getTime() / 1000);
  }
}
