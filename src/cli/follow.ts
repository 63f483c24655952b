import { defaultPayloadConverter } from '@temporalio/common';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TransferProgress } from '../activities/heartbeat.ts';
import type { BackupResult, BackupRunResult } from '../plan/types.ts';
import { progressQuery, type WorkflowProgress } from '../workflows/progress.ts';
import { runStateQuery, type RunEntry } from '../workflows/run-state.ts';
import { formatBytes, formatSeconds } from './format.ts';

export interface Followed {
  definition: string;
  handle: WorkflowHandle;
  url: string;
}

interface Snapshot {
  progress?: WorkflowProgress;
  transfer?: TransferProgress;
  retrying?: string;
}

async function snapshot(handle: WorkflowHandle): Promise<Snapshot> {
  const result: Snapshot = {};
  try {
    result.progress = await handle.query(progressQuery);
  } catch {
    // Not picked up by a worker yet: nothing to show beyond "waiting".
  }
  const description = await handle.describe();
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (payload) result.transfer = defaultPayloadConverter.fromPayload<TransferProgress>(payload);
    if (activity.lastFailure?.message && (activity.attempt ?? 1) > 1) {
      result.retrying = `attempt ${activity.attempt}: ${activity.lastFailure.message}`;
    }
  }
  return result;
}

function line(definition: string, s: Snapshot): string {
  const parts = [definition.padEnd(16), (s.progress?.phase ?? 'waiting for a worker').padEnd(36)];
  const t = s.transfer;
  if (t) {
    const total = t.totalBytes ? ` / ${formatBytes(t.totalBytes)}` : '';
    const bar = t.totalBytes ? ` ${bar20(t.bytes / t.totalBytes)}` : '';
    parts.push(`${t.subject}:${bar} ${formatBytes(t.bytes)}${total} at ${formatBytes(t.bytesPerSecond)}/s`);
  }
  if (s.progress?.stoppedSince) parts.push('(containers stopped)');
  if (s.progress?.downtimeMs !== undefined) parts.push(`downtime ${formatSeconds(s.progress.downtimeMs)}`);
  if (s.retrying) parts.push(`retrying, ${s.retrying}`);
  return parts.join(' ');
}

function bar20(fraction: number): string {
  const filled = Math.max(0, Math.min(20, Math.round(fraction * 20)));
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}]`;
}

export interface Outcome<R = BackupResult> {
  definition: string;
  url: string;
  result?: R;
  error?: string;
}

/**
 * Polls each workflow (its progress query and its activities' heartbeats) and redraws one line per
 * run until all have ended. On a non-terminal output it prints only lines that changed.
 */
export async function followRuns<R = BackupResult>(
  runs: Followed[],
  out: NodeJS.WriteStream = process.stdout,
): Promise<Outcome<R>[]> {
  const outcomes = new Map<string, Outcome<R>>();
  const settled = runs.map((run) =>
    run.handle
      .result()
      .then(
        (result: R) => ({ definition: run.definition, url: run.url, result }),
        (err: unknown) => ({ definition: run.definition, url: run.url, error: describeFailure(err) }),
      )
      .then((outcome) => void outcomes.set(run.definition, outcome)),
  );
  await redrawUntil(
    () =>
      Promise.all(
        runs.map(async (run) => {
          const outcome = outcomes.get(run.definition);
          if (outcome) return `${run.definition.padEnd(16)} ${outcome.error ? 'failed' : 'done'}`;
          return line(run.definition, await snapshot(run.handle).catch(() => ({})));
        }),
      ),
    Promise.all(settled),
    out,
  );
  return runs.map((run) => outcomes.get(run.definition)!);
}

/**
 * Follows a backup run: one line per definition, from the run's own state (queued, running, ended)
 * and, while a definition runs, from its child workflow. Ends when the run ends.
 */
export async function followBackupRun(
  client: Client,
  handle: WorkflowHandle,
  out: NodeJS.WriteStream = process.stdout,
): Promise<{ result?: BackupRunResult; error?: string }> {
  let final: { result?: BackupRunResult; error?: string } = {};
  const done = handle.result().then(
    (result: BackupRunResult) => void (final = { result }),
    (err: unknown) => void (final = { error: describeFailure(err) }),
  );
  let entries: RunEntry[] = [];
  await redrawUntil(
    async () => {
      try {
        entries = await handle.query(runStateQuery);
      } catch {
        // Not picked up by a worker yet.
      }
      if (entries.length === 0) return ['backup run'.padEnd(16) + ' waiting for a worker'];
      return Promise.all(
        entries.map(async (e) => {
          if (e.status !== 'running') {
            return `${e.definition.padEnd(16)} ${e.status}${e.error ? `: ${e.error}` : ''}`;
          }
          const child = client.workflow.getHandle(e.workflowId);
          return line(e.definition, await snapshot(child).catch(() => ({})));
        }),
      );
    },
    done,
    out,
  );
  return final;
}

/** Redraws the lines `rows` gives until `done`; on a non-terminal output only lines that changed. */
async function redrawUntil(
  rows: () => Promise<string[]>,
  done: Promise<unknown>,
  out: NodeJS.WriteStream,
): Promise<void> {
  const tty = out.isTTY;
  let drawn = 0;
  const last = new Map<number, string>();
  const draw = async () => {
    const lines = await rows();
    if (tty) {
      if (drawn > 0) out.write(`\x1b[${drawn}A`);
      for (const l of lines) out.write(`\x1b[2K${l.slice(0, (out.columns || 200) - 1)}\n`);
      drawn = lines.length;
    } else {
      lines.forEach((l, i) => {
        const brief = l.replace(/ \d[\d.]* \w+ \/.*$/, '');
        if (last.get(i) !== brief) out.write(`${l}\n`);
        last.set(i, brief);
      });
    }
  };
  let finished = false;
  // The pause between redraws ends early when the last run ends: a pending timer would keep the
  // process alive for up to its full interval after the summary.
  let wake = () => {};
  void done.then(() => {
    finished = true;
    wake();
  });
  while (!finished) {
    await draw();
    if (finished) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, tty ? 500 : 2000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  await draw();
}

/** The message and every cause: Temporal wraps the activity's error in ActivityFailure. */
function describeFailure(err: unknown): string {
  const messages: string[] = [];
  let current: unknown = err;
  while (current instanceof Error) {
    if (current.message && !messages.includes(current.message)) messages.push(current.message);
    current = current.cause;
  }
  return messages.join(': ') || String(err);
}
