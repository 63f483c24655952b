import type { ClosedRuns } from '../closed-runs.ts';
import type { StoppedEntry, StoppedRecord } from '../docker/stopped-record.ts';

/**
 * A stopped container that the stopped record attributes only to runs that have ended (terminated,
 * timed out) was running before dockvault stopped it and nobody will restart it but the reconciler.
 * The run that finds it so treats it as running: it stops it (a no-op), records it as its own and
 * restarts it whatever happens, so no reconciler tick starts it in the middle of that run. A container
 * that an open run stopped is that run's to restart: left alone. Call under `stopped.exclusive`.
 */
export async function leftByClosedRun(
  stopped: StoppedRecord,
  closedRuns: ClosedRuns,
  container: string,
  self: { runId: string },
): Promise<StoppedEntry[]> {
  const { others, closed } = await othersOf(stopped, closedRuns, container, self);
  return others.length > 0 && others.every((e) => closed.has(e.runId)) ? others : [];
}

/** The record's entries for `container` of runs other than `self`, and which of those runs have ended. */
async function othersOf(
  stopped: StoppedRecord,
  closedRuns: ClosedRuns,
  container: string,
  self: { runId: string },
): Promise<{ others: StoppedEntry[]; closed: Map<string, string> }> {
  const others = (await stopped.list()).filter((e) => e.container === container && e.runId !== self.runId);
  return { others, closed: others.length === 0 ? new Map<string, string>() : await closedRuns(others) };
}

/**
 * A run that stopped `container` after `self` did and still runs: it restarts it, and a start by
 * `self` (a late activity of a terminated run, say) would disturb it. Call under `stopped.exclusive`.
 */
export async function laterOpenOwner(
  stopped: StoppedRecord,
  closedRuns: ClosedRuns,
  container: string,
  self: { workflowId: string },
): Promise<StoppedEntry | undefined> {
  const entries = (await stopped.list()).filter((e) => e.container === container);
  const mine = entries.find((e) => e.workflowId === self.workflowId);
  const since = mine ? Date.parse(mine.stoppedAt) : -Infinity;
  const later = entries.filter((e) => e.workflowId !== self.workflowId && Date.parse(e.stoppedAt) >= since);
  if (later.length === 0) return undefined;
  const closed = await closedRuns(later);
  return later.find((e) => !closed.has(e.runId));
}

/**
 * Once `self` has recorded `container` as its own, the entries of closed runs for it are forgotten:
 * the record then names only the run that restarts it, and is empty once that run has. Call under
 * `stopped.exclusive`, after recording `self`.
 */
export async function takeOverFromClosedRuns(
  stopped: StoppedRecord,
  closedRuns: ClosedRuns,
  container: string,
  self: { runId: string },
): Promise<StoppedEntry[]> {
  const { others, closed } = await othersOf(stopped, closedRuns, container, self);
  const taken = others.filter((e) => closed.has(e.runId));
  for (const e of taken) await stopped.remove(e.container, e.workflowId);
  return taken;
}
