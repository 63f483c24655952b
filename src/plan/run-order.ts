// Which definitions of a backup run may start now. Pure: the run workflow calls it after every change.
import { DEFAULT_HOST_CONCURRENCY } from '../config/resolve.ts';
import type { RunStep } from './types.ts';

export interface RunProgress {
  started: ReadonlySet<string>;
  ended: ReadonlySet<string>;
}

/**
 * Sequential runs start one definition at a time, the first in config order whose `after` have all
 * ended; parallel runs start every such definition at once. An `after` naming a definition that is not
 * in this run (a run of some definitions only) does not hold anything up. With `withinHostLimits`, a
 * parallel run starts no more definitions of a host than the host's limit: a child started beyond it
 * would only wait for a slot, and many waiting children cost the Temporal server far more than the
 * backups themselves (measured: 348 history events a backup instead of ~110).
 */
export function startableSteps(
  steps: RunStep[],
  parallel: boolean,
  progress: RunProgress,
  withinHostLimits = false,
): RunStep[] {
  const inRun = new Set(steps.map((s) => s.plan.definition));
  const running = [...progress.started].some((d) => !progress.ended.has(d));
  if (!parallel && running) return [];
  const ready = steps.filter(
    (s) =>
      !progress.started.has(s.plan.definition) &&
      s.after.every((a) => !inRun.has(a) || progress.ended.has(a)),
  );
  if (!parallel) return ready.slice(0, 1);
  if (!withinHostLimits) return ready;
  const inFlight = new Map<string, number>();
  for (const s of steps) {
    const d = s.plan.definition;
    if (progress.started.has(d) && !progress.ended.has(d))
      inFlight.set(s.plan.host, (inFlight.get(s.plan.host) ?? 0) + 1);
  }
  return ready.filter((s) => {
    const n = inFlight.get(s.plan.host) ?? 0;
    if (n >= (s.plan.hostConcurrency ?? DEFAULT_HOST_CONCURRENCY)) return false;
    inFlight.set(s.plan.host, n + 1);
    return true;
  });
}
