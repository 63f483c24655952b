import {
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  executeChild,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunSummaryNotice } from '../notify/outcome.ts';
import { startableSteps } from '../plan/run-order.ts';
import type {
  BackupResult,
  BackupRunPlan,
  BackupRunResult,
  DefinitionOutcome,
  RunStep,
} from '../plan/types.ts';
import { backupWorkflowId, backupWorkflowOptions } from '../plan/workflow-options.ts';
import { notifyActivities } from './activity-proxies.ts';
import { runStateQuery, type RunEntry, type RunEntryStatus } from './run-state.ts';
import { failureMessage } from './prune.ts';

const HOST_LIMITS_PATCH = 'run-within-host-limits';

/**
 * The whole backup process: every definition of the run in turn (or together when `parallel`), each as
 * its own child workflow (the standard or PostgreSQL backup, unchanged), then one summary. A failing
 * definition never stops the others; cancelling the run cancels the running children, which restart
 * their containers as always, and waits for them.
 */
export async function backupRunWorkflow(plan: BackupRunPlan): Promise<BackupRunResult> {
  const { startTime } = workflowInfo();
  const startedAt = new Date().toISOString();
  const entries = new Map<string, RunEntry>(
    plan.steps.map(({ plan: p }) => [
      p.definition,
      {
        definition: p.definition,
        type: p.type,
        host: p.host,
        workflowId: backupWorkflowId(p.definition, startTime),
        status: 'queued',
      },
    ]),
  );
  setHandler(runStateQuery, () => [...entries.values()]);
  const publish = () => setCurrentDetails(runDetails(plan.label, [...entries.values()]));
  publish();

  const started = new Set<string>();
  const ended = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let cancelled: Error | undefined;
  try {
    for (;;) {
      // Histories recorded before host limits started every ready definition of a parallel run at once.
      const withinHostLimits = plan.parallel && patched(HOST_LIMITS_PATCH);
      for (const step of startableSteps(plan.steps, plan.parallel, { started, ended }, withinHostLimits)) {
        const name = step.plan.definition;
        started.add(name);
        const entry = entries.get(name)!;
        entry.status = 'running';
        running.set(
          name,
          backUpOne(step, entry).finally(() => {
            ended.add(name);
            running.delete(name);
            publish();
          }),
        );
      }
      publish();
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = err as Error;
    // The children got the cancellation too; wait until each has restarted what it stopped.
    await CancellationScope.nonCancellable(() => Promise.allSettled(running.values()));
  }
  for (const entry of entries.values()) {
    if (entry.status === 'running') {
      entry.status = 'failed';
      entry.error = 'cancelled with the run';
    } else if (entry.status === 'queued') {
      entry.status = 'not started';
      entry.error = cancelled ? 'the run was cancelled' : 'it waits for definitions that never ended';
    }
  }
  publish();
  const outcomes = [...entries.values()] as DefinitionOutcome[];
  const result: BackupRunResult = {
    label: plan.label,
    ok: outcomes.filter((o) => o.status === 'ok').length,
    failed: outcomes.filter((o) => o.status !== 'ok').length,
    outcomes,
  };
  await notifySummary(plan, result, startedAt);
  if (cancelled) throw cancelled;
  return result;
}

async function backUpOne(step: RunStep, entry: RunEntry): Promise<void> {
  const { workflowType, taskQueue, typedSearchAttributes, staticSummary, staticDetails } =
    backupWorkflowOptions(workflowInfo().taskQueue, step.plan);
  try {
    entry.result = await executeChild<(plan: typeof step.plan) => Promise<BackupResult>>(workflowType, {
      workflowId: entry.workflowId,
      taskQueue,
      args: [step.plan],
      typedSearchAttributes,
      staticSummary,
      staticDetails,
      // A cancelled run waits for each child's own clean-up (containers restarted, uploads aborted);
      // a terminated run still asks its children to stop cleanly instead of killing them.
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    entry.status = 'ok';
  } catch (err) {
    if (isCancellation(err)) throw err;
    entry.status = 'failed';
    entry.error = failureMessage(err);
    log.warn('definition failed', { definition: entry.definition, error: entry.error });
  }
}

function runDetails(label: string, entries: RunEntry[]): string {
  const count = (status: RunEntryStatus) => entries.filter((e) => e.status === status).length;
  const counts = (['ok', 'failed', 'running', 'queued', 'not started'] as const)
    .map((s) => [s, count(s)] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const lines = entries.map((e) => {
    const what =
      e.status === 'failed' || e.status === 'not started' ? `${e.status}: ${e.error ?? ''}` : e.status;
    return `- \`${e.definition}\` on ${e.host}: **${what}** (${e.workflowId})`;
  });
  return [`**backup run of ${label}: ${counts}**`, ...lines].join('\n');
}

async function notifySummary(plan: BackupRunPlan, result: BackupRunResult, startedAt: string) {
  const { workflowId, runId } = workflowInfo();
  const summary: RunSummaryNotice = {
    event: result.failed === 0 ? 'success' : 'failure',
    kind: 'run',
    label: plan.label,
    workflowId,
    runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    ok: result.ok,
    failed: result.failed,
    definitions: result.outcomes.map((o) => ({
      definition: o.definition,
      type: o.type,
      host: o.host,
      status: o.status,
      backupId: o.result?.backupId,
      error: o.error,
      downtimeMs: o.result?.downtimeMs,
      storedBytes: o.result?.storedBytes,
    })),
  };
  try {
    await CancellationScope.nonCancellable(() =>
      notifyActivities(plan.notifyTaskQueue).reportRunSummary(summary),
    );
  } catch (err) {
    log.warn('run summary notification failed', { error: failureMessage(err) });
  }
}
