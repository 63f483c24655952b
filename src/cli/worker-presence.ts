import type { Client } from '@temporalio/client';
import proto, { type temporal as api } from '@temporalio/proto';

// A CommonJS module: its namespace comes as the default export.
const { temporal } = proto;

/** No worker serves a queue a command needs: starting anything would only wait, maybe for hours. */
export class NoWorkerError extends Error {
  override name = 'NoWorkerError';
}

/**
 * A poller the server saw this recently counts as a live worker: workers long-poll without pause, so
 * an older last poll is a worker that has gone (the server keeps listing pollers for minutes).
 */
const LIVE_WITHIN_MS = 90_000;

async function hasLivePoller(
  client: Client,
  taskQueue: string,
  type: api.api.enums.v1.TaskQueueType,
): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: type,
  });
  const now = Date.now();
  return (res.pollers ?? []).some((p) => {
    const seconds = Number(p.lastAccessTime?.seconds ?? 0);
    return now - seconds * 1000 < LIVE_WITHIN_MS;
  });
}

/**
 * Refuses, before anything is started, when no worker polls the workflow queue or a host's activity
 * queue, and says which command starts one.
 */
export async function requireWorkers(
  client: Client,
  workflowQueue: string,
  hosts: { host: string; activityTaskQueue: string }[],
): Promise<void> {
  const { TaskQueueType } = temporal.api.enums.v1;
  const missing: string[] = [];
  if (!(await hasLivePoller(client, workflowQueue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))) {
    missing.push(`no worker runs workflows on task queue "${workflowQueue}"`);
  }
  const seen = new Set<string>();
  for (const { host, activityTaskQueue: taskQueue } of hosts) {
    if (seen.has(taskQueue)) continue;
    seen.add(taskQueue);
    if (!(await hasLivePoller(client, taskQueue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY))) {
      missing.push(`no worker for host "${host}" polls task queue "${taskQueue}"`);
    }
  }
  if (missing.length === 0) return;
  const hostsNamed = [...new Set(hosts.map((h) => h.host))];
  throw new NoWorkerError(
    `${missing.join('; ')}: nothing was started. Start one on ${hostsNamed.length === 1 ? 'that host' : 'each host'}: ` +
      hostsNamed.map((h) => `\`dockvault worker --host ${h}\``).join(', ') +
      ' (or `docker compose up -d dockvault` there)',
  );
}
