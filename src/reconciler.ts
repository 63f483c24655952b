import type Docker from 'dockerode';
import type { ClosedRuns } from './closed-runs.ts';
import { inspectContainer, startContainer } from './docker/containers.ts';
import { ContainerNotFoundError } from './docker/errors.ts';
import type { StoppedRecord } from './docker/stopped-record.ts';

export interface ReconcileDeps {
  docker: Docker;
  stopped: StoppedRecord;
  closedRuns: ClosedRuns;
  log?: (message: string) => void;
}

/** What one tick did and cost: the reconciler runs every few seconds on every host. */
export interface ReconcileTick {
  restarted: string[];
  /** Describe RPCs to Temporal: one per distinct run in the record, none when it is empty. */
  describes: number;
  ms: number;
}

/**
 * The backstop of the always-restart promise: a container dockvault stopped whose workflow no longer
 * runs (terminated, timed out, its host rebooted mid-run) is started again. A workflow that still
 * runs owns its containers and restarts them itself, and so does one that stopped (or adopted) a
 * container after a closed run did: the closed run's entry is then only dropped. Each decision is
 * taken on the record as it is under `stopped.exclusive`, so a run that records and stops the
 * container meanwhile is seen, and its archive never disturbed.
 */
export async function reconcileStoppedContainers(deps: ReconcileDeps): Promise<ReconcileTick> {
  const { docker, stopped, closedRuns, log = () => {} } = deps;
  const started = performance.now();
  const restarted: string[] = [];
  const entries = await stopped.list();
  // The common case, every few seconds: nothing stopped, nothing to ask Temporal.
  if (entries.length === 0) return { restarted, describes: 0, ms: performance.now() - started };
  const describes = new Set(entries.map((e) => e.runId)).size;
  const closed = await closedRuns(entries);
  const containers = new Set(entries.filter((e) => closed.has(e.runId)).map((e) => e.container));
  for (const container of containers) {
    await stopped.exclusive(container, async () => {
      const now = (await stopped.list()).filter((e) => e.container === container);
      const dead = now.filter((e) => closed.has(e.runId));
      // Not described this tick (recorded since) or open: that run restarts the container.
      const owner = now.find((e) => !closed.has(e.runId));
      if (!owner && dead.length > 0) {
        try {
          if (!(await inspectContainer(docker, container)).running) {
            await startContainer(docker, container);
            restarted.push(container);
            const by = dead.map((e) => `${e.workflowId} (${closed.get(e.runId)!.toLowerCase()})`);
            log(`reconciler: restarted ${container}, stopped by ${by.join(', ')}`);
          }
        } catch (err) {
          if (!(err instanceof ContainerNotFoundError)) throw err;
          log(`reconciler: ${container} no longer exists; forgetting it`);
        }
      }
      for (const e of dead) await stopped.remove(e.container, e.workflowId);
    });
  }
  return { restarted, describes, ms: performance.now() - started };
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
