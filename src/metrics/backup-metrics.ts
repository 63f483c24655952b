// dockvault's own series, per definition (labels definition, type, host). They live in the worker
// process that runs the host's activities; the outcome activity updates them after every run.
import { Counter, Gauge, Registry } from 'prom-client';
import type { BackupOutcome } from '../notify/outcome.ts';

export type DefinitionLabels = {
  definition: string;
  type: string;
  host: string;
};

const labelNames = ['definition', 'host', 'type'] as const;

/** prom-client writes labels in the order of the first set: keep them sorted, as scrapes always saw them. */
function sorted({ definition, host, type }: DefinitionLabels): DefinitionLabels {
  return { definition, host, type };
}

export class BackupMetrics {
  /** The worker's own registry: prom-client's global one is shared with anything else in the process. */
  readonly registry = new Registry();
  readonly lastSuccess = this.#gauge(
    'dockvault_last_success_timestamp_seconds',
    'Unix time the last successful backup finished.',
  );
  readonly lastDuration = this.#gauge(
    'dockvault_last_duration_seconds',
    'Duration of the last successful backup.',
  );
  readonly lastDowntime = this.#gauge(
    'dockvault_last_downtime_seconds',
    'Time the containers were stopped during the last successful backup.',
  );
  readonly uploadedBytes = this.#counter(
    'dockvault_uploaded_bytes_total',
    'Bytes uploaded to storage (encrypted, compressed) by successful backups.',
  );
  readonly failures = this.#counter('dockvault_backups_failed_total', 'Failed backup runs.');
  readonly successes = this.#counter('dockvault_backups_succeeded_total', 'Successful backup runs.');
  /** Activities are retried: a run's outcome is counted once. */
  readonly #recorded = new Set<string>();
  /** prom-client reads values back only asynchronously; seeding compares with these. */
  readonly #lastSuccessSeconds = new Map<string, number>();

  #gauge(name: string, help: string) {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  #counter(name: string, help: string) {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  record(outcome: BackupOutcome): void {
    const key = `${outcome.runId}/${outcome.event}`;
    if (this.#recorded.has(key)) return;
    this.#recorded.add(key);
    if (this.#recorded.size > 10_000) this.#recorded.delete(this.#recorded.values().next().value as string);
    const labels = sorted(outcome);
    this.ensure(labels);
    if (outcome.event === 'failure') {
      this.failures.inc(labels);
      return;
    }
    const finished = Date.parse(outcome.finishedAt);
    this.successes.inc(labels);
    this.#setLastSuccess(labels, finished / 1000);
    this.lastDuration.set(labels, (finished - Date.parse(outcome.startedAt)) / 1000);
    this.lastDowntime.set(labels, (outcome.downtimeMs ?? 0) / 1000);
    this.uploadedBytes.inc(labels, outcome.storedBytes ?? 0);
  }

  /** Counters start at 0 so rate() and increase() see the first failure. */
  ensure(labels: DefinitionLabels): void {
    for (const counter of [this.failures, this.successes, this.uploadedBytes]) counter.inc(sorted(labels), 0);
  }

  /** From storage at start (the newest manifest), so a restarted worker does not look stale. */
  seedLastSuccess(labels: DefinitionLabels, finishedAt: Date): void {
    this.ensure(labels);
    const current = this.#lastSuccessSeconds.get(JSON.stringify(sorted(labels))) ?? 0;
    if (finishedAt.getTime() / 1000 > current)
      this.#setLastSuccess(sorted(labels), finishedAt.getTime() / 1000);
  }

  #setLastSuccess(labels: DefinitionLabels, seconds: number): void {
    this.#lastSuccessSeconds.set(JSON.stringify(labels), seconds);
    this.lastSuccess.set(labels, seconds);
  }
}
