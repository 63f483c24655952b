// Which definitions of a backup run may start now. Pure: the run workflow calls it after every change.
import type { RunStep } from './types.ts';

export interface RunProgress {
  started: ReadonlySet<string>;
  ended: ReadonlySet<string>;
}

/**
 * Sequential runs start one definition at a time, the first in config order whose `after` have all
 * ended; parallel runs start every such definition at once. An `after` naming a definition that is not
 * in this run (a run of some definitions only) does not hold anything up.
 */
export function startableSteps(steps: RunStep[], parallel: boolean, progress: RunProgress): RunStep[] {
  const inRun = new Set(steps.map((s) => s.plan.definition));
  const running = [...progress.started].some((d) => !progress.ended.has(d));
  if (!parallel && running) return [];
  const ready = steps.filter(
    (s) =>
      !progress.started.has(s.plan.definition) &&
      s.after.every((a) => !inRun.has(a) || progress.ended.has(a)),
  );
  return parallel ? ready : ready.slice(0, 1);
}
