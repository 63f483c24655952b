// What a workflow's history says about its activities: which queue each ran on, which worker ran it
// (ActivityTaskStarted carries the identity of the worker that took the final attempt), and when.
import type { Client } from '@temporalio/client';

export interface ActivityRun {
  type: string;
  taskQueue: string;
  /** Worker identity of the attempt that ended the activity (`<pid>@<hostname>` for dockvault). */
  identity: string;
  attempt: number;
  startedMs: number;
  closedMs: number;
}

export interface WorkflowActivities {
  runs: ActivityRun[];
  events: number;
  /** Workflow tasks the workers completed for this run (WorkflowTaskCompleted events). */
  workflowTasks: number;
  /** Events that Temporal Cloud bills as actions besides the start and the activities. */
  timers: number;
  searchAttributeUpserts: number;
  signals: number;
  /** Child workflows it started (e.g. a backup's definition lock), to be read the same way. */
  children: { workflowId: string; runId: string }[];
  startedMs: number;
  closedMs: number;
}

function ms(time: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(time?.seconds ?? 0) * 1000 + (time?.nanos ?? 0) / 1e6;
}

export async function workflowActivities(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<WorkflowActivities> {
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const scheduled = new Map<number, { type: string; taskQueue: string }>();
  const started = new Map<number, { identity: string; attempt: number; at: number }>();
  const runs: ActivityRun[] = [];
  const children: { workflowId: string; runId: string }[] = [];
  const count = { workflowTasks: 0, timers: 0, searchAttributeUpserts: 0, signals: 0 };
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) count.workflowTasks++;
    if (e.timerStartedEventAttributes) count.timers++;
    if (e.upsertWorkflowSearchAttributesEventAttributes) count.searchAttributeUpserts++;
    if (e.workflowExecutionSignaledEventAttributes) count.signals++;
    const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId && child.runId) children.push({ workflowId: child.workflowId, runId: child.runId });
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      scheduled.set(Number(e.eventId), {
        type: s.activityType?.name ?? '?',
        taskQueue: s.taskQueue?.name ?? '?',
      });
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      started.set(Number(st.scheduledEventId), {
        identity: st.identity ?? '',
        attempt: st.attempt ?? 0,
        at: ms(e.eventTime),
      });
    }
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closed) {
      const id = Number(closed.scheduledEventId);
      const start = started.get(id);
      const what = scheduled.get(id);
      if (!what) continue;
      runs.push({
        ...what,
        identity: start?.identity ?? '',
        attempt: start?.attempt ?? 0,
        startedMs: start?.at ?? ms(e.eventTime),
        closedMs: ms(e.eventTime),
      });
    }
  }
  return {
    runs,
    ...count,
    children,
    events: events.length,
    startedMs: ms(events[0]?.eventTime),
    closedMs: ms(events.at(-1)?.eventTime),
  };
}
