import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { writeHealthReport } from './health-file.ts';

/** temporal.api.enums.v1.TaskQueueType */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

export interface PollingWorker {
  worker: Worker;
  taskQueue: string;
  kind: 'workflow' | 'activity';
}

export interface HealthDeps {
  client: Client;
  namespace: string;
  /** The identity both workers poll with, as the server lists it among a queue's pollers. */
  identity: string;
  workers: PollingWorker[];
}

/**
 * Healthy when every worker runs with its poller polling (the SDK's view) and the server answers and
 * lists this process among the pollers of each task queue (Temporal's view): connected and polling.
 */
export async function checkWorkerHealth({ client, namespace, identity, workers }: HealthDeps) {
  const found: string[] = [];
  for (const { worker, taskQueue, kind } of workers) {
    const status = worker.getStatus();
    const poller = kind === 'workflow' ? status.workflowPollerState : status.activityPollerState;
    if (status.runState !== 'RUNNING' || poller !== 'POLLING') {
      return {
        healthy: false,
        detail: `${kind} worker on "${taskQueue}" is ${status.runState}, poller ${poller}`,
      };
    }
    let pollers: { identity?: string | null }[];
    try {
      const described = await client.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: TASK_QUEUE_TYPE[kind],
      });
      pollers = described.pollers ?? [];
    } catch (err) {
      return { healthy: false, detail: `Temporal does not answer: ${(err as Error).message}` };
    }
    if (!pollers.some((p) => p.identity === identity)) {
      return {
        healthy: false,
        detail: `Temporal lists no poll from ${identity} on ${kind} queue "${taskQueue}"`,
      };
    }
    found.push(`${kind} queue "${taskQueue}"`);
  }
  return { healthy: true, detail: `connected, polling ${found.join(' and ')} as ${identity}` };
}

/** Writes a report into the state directory every `intervalMs` until `signal` aborts, then one saying so. */
export async function runHealthChecks(
  deps: HealthDeps & { stateDir: string; log?: (message: string) => void },
  intervalMs: number,
  signal: AbortSignal,
): Promise<void> {
  let lastHealthy: boolean | undefined;
  // The pollers reach the server a moment after the workers start.
  await sleep(Math.min(intervalMs, 2000), undefined, { signal }).catch(() => {});
  while (!signal.aborted) {
    const report = await checkWorkerHealth(deps);
    if (report.healthy !== lastHealthy)
      deps.log?.(`dockvault worker: ${report.healthy ? 'healthy' : 'unhealthy'}: ${report.detail}`);
    lastHealthy = report.healthy;
    await writeHealthReport(deps.stateDir, report).catch((err: unknown) =>
      deps.log?.(`dockvault worker: cannot write the health report: ${(err as Error).message}`),
    );
    await sleep(intervalMs, undefined, { signal }).catch(() => {});
  }
  await writeHealthReport(deps.stateDir, { healthy: false, detail: 'the worker is shutting down' }).catch(
    () => {},
  );
}
