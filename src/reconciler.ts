import type Docker from 'dockerode';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { inspectContainer, startContainer } from './docker/containers.ts';
import { ContainerNotFoundError } from './docker/errors.ts';
import type { StoppedRecord } from './docker/stopped-record.ts';

export interface ReconcileDeps {
  docker: Docker;
  stopped: StoppedRecord;
  client: Client;
  log?: (message: string) => void;
}

/**
 * The backstop of the always-restart promise: a container dockvault stopped whose workflow no longer
 * runs (terminated, timed out, its host rebooted mid-run) is started again. A workflow that still
 * runs owns its containers and restarts them itself.
 */
export async function reconcileStoppedContainers({ docker, stopped, client, log = () => {} }: ReconcileDeps) {
  const restarted: string[] = [];
  for (const entry of await stopped.list()) {
    let status: string;
    try {
      status = (await client.workflow.getHandle(entry.workflowId, entry.runId).describe()).status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      status = 'NOT_FOUND';
    }
    if (status === 'RUNNING') continue;
    try {
      const state = await inspectContainer(docker, entry.container);
      if (!state.running) {
        await startContainer(docker, entry.container);
        restarted.push(entry.container);
        log(
          `reconciler: restarted ${entry.container}, stopped by ${entry.workflowId} (${status.toLowerCase()})`,
        );
      }
    } catch (err) {
      if (!(err instanceof ContainerNotFoundError)) throw err;
      log(`reconciler: ${entry.container} no longer exists; forgetting it`);
    }
    await stopped.remove(entry.container, entry.workflowId);
  }
  return restarted;
}

/** Runs the reconciler now and then every intervalMs until the signal aborts; errors are logged, not fatal. */
export function startReconciler(deps: ReconcileDeps, intervalMs: number, signal: AbortSignal): Promise<void> {
  const log = deps.log ?? (() => {});
  return new Promise((resolve) => {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      reconcileStoppedContainers(deps)
        .catch((err: unknown) => log(`reconciler: ${(err as Error).message}`))
        .finally(() => (running = false));
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    signal.addEventListener('abort', () => {
      clearInterval(timer);
      resolve();
    });
  });
}
