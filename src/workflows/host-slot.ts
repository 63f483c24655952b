// A host's limit on data-moving steps at once, whoever starts the runs (a backup run, a schedule, the
// CLI, `temporal schedule trigger`): the limit N is N slot workflows per host with fixed ids, held as
// the definition lock is (held-child.ts). A run that finds every slot held waits, having stopped
// nothing yet, so waiting costs no downtime. It asks the held slots to tell it when they are let go:
// it takes a freed slot at once, and its history grows by one round per freed slot, not per poll.
import { patched, workflowInfo } from '@temporalio/workflow';
import type { HostLimited } from '../plan/types.ts';
import { DEFAULT_HOST_CONCURRENCY } from '../config/resolve.ts';
import { heldUntilReleased, letGo, tryToHold, untilOneIsFree } from './held-child.ts';

/** Histories recorded before host limits ran their data-moving steps without a slot. */
const PATCH = 'host-concurrency-slot';
/** A slot terminated with its run tells no one: waiting runs look again this often. */
const RECHECK_MS = 30_000;

/** Host names never contain '@', so no two hosts share a slot. */
export function hostSlotIds({ host, hostConcurrency }: HostLimited): string[] {
  const n = hostConcurrency ?? DEFAULT_HOST_CONCURRENCY;
  return Array.from({ length: n }, (_, i) => `slot-${i + 1}@${host}`);
}

export function waitingForSlotPhase(busy: number): string {
  return `waiting for a host slot (${busy} of ${busy} busy)`;
}

/** One slot of a host, held by a data-moving run until it lets go; ends with the runs waiting for it. */
export async function hostSlotWorkflow(): Promise<string[]> {
  return await heldUntilReleased();
}

/** A held slot (or none, in a history recorded before host limits); `release` may be called again. */
export interface HostSlot {
  release(): Promise<void>;
}

/**
 * Takes one of the host's slots for the run's data-moving steps, waiting first while all are held.
 * The wait is part of the run, so a `timeoutMinutes` deadline covers it.
 */
export async function takeHostSlot(
  plan: HostLimited,
  progress: { phase(phase: string): void },
): Promise<HostSlot> {
  if (!patched(PATCH)) return { release: () => Promise.resolve() };
  const slot = await waitForSlot(plan, progress);
  let released: Promise<void> | undefined;
  return { release: () => (released ??= letGo(slot, 'host slot')) };
}

async function waitForSlot(plan: HostLimited, progress: { phase(phase: string): void }) {
  const ids = hostSlotIds(plan);
  const holder = workflowInfo().workflowId;
  for (let round = 1; ; round++) {
    for (const [i, id] of ids.entries()) {
      const summary = `slot ${i + 1} of ${ids.length} on ${plan.host}, held by ${holder}`;
      const slot = await tryToHold(hostSlotWorkflow, id, summary);
      if (slot) return slot;
    }
    if (round === 1) progress.phase(waitingForSlotPhase(ids.length));
    await untilOneIsFree(ids, RECHECK_MS);
  }
}
