import { CancellationScope } from '@temporalio/workflow';
import type { containerActivities } from './activity-proxies.ts';
import type { trackProgress } from './progress.ts';

export interface Restarted {
  downtimeMs: number;
  /** Settles once every restarted container stayed up; rejects with the restart failure. */
  confirmed: Promise<void>;
}

/**
 * The compensation no cancellation may skip: start again what this run stopped, in reverse stop
 * order. Downtime ends when the starts returned; the check that the containers stayed up (about
 * 1.5 s later) runs on while the caller goes on with work that does not need them, such as the
 * upload, and the caller awaits `confirmed` before it reports success.
 */
export function restartStopped(
  docker: ReturnType<typeof containerActivities>,
  progress: ReturnType<typeof trackProgress>,
  stopped: string[],
  workflowId: string,
): Promise<Restarted> {
  return CancellationScope.nonCancellable(async () => {
    if (stopped.length === 0) return { downtimeMs: 0, confirmed: Promise.resolve() };
    progress.phase('restarting containers');
    const containers = [...stopped].reverse();
    const { downtimeMs } = await docker.startContainers({ containers, workflowId });
    progress.downtimeEnded(downtimeMs);
    const confirmed = docker.confirmRestarted({ containers, workflowId });
    // Awaited later by the caller; until then a failure must not count as unhandled.
    confirmed.catch(() => undefined);
    return { downtimeMs, confirmed };
  });
}
