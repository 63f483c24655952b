// Children that a run holds while it does something only one run (or N) may do at a time: the
// definition lock, a host's slots. Their ids are fixed, and the Temporal server refuses to start a
// second child with a running id, at once and consistently (a visibility query trails the server by
// about a second). A child ends when its run lets go, or is terminated with its run (ParentClosePolicy
// TERMINATE), so a terminated or timed-out run never leaves one held.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  CancellationScope,
  type ChildWorkflowHandle,
  type ExternalWorkflowHandle,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';

/** A held child; its result, once let go, names the runs waiting for it (none for the lock). */
export type HeldChild = ChildWorkflowHandle<() => Promise<string[] | void>>;

const releaseSignal = defineSignal('release');
/** A refused run asks who holds the child: the holder's id is only known to the child itself. */
const whoHoldsSignal = defineSignal<[askerWorkflowId: string]>('whoHolds');
const heldBySignal = defineSignal<[holderWorkflowId: string]>('heldBy');
/** A run waiting for this child to end asks to be told; `freed` is the answer. */
const tellWhenFreeSignal = defineSignal<[waiterWorkflowId: string]>('tellWhenFree');
const freedSignal = defineSignal('freed');

/**
 * The body of every lock-like child (this lock, a host's slots): it ends when its holder lets go, with
 * the runs that asked to be told (`tellWhenFree`) as its result. It does not tell them itself: a run
 * told while this child still ran would find its id taken, ask again and be told again, and with many
 * runs waiting those answers kept the child from ever ending. Its holder tells them once it has ended.
 * Started by hand (no parent), e.g. to hold backups off during maintenance, it holds itself.
 */
export async function heldUntilReleased(): Promise<string[]> {
  const holder = workflowInfo().parent?.workflowId ?? workflowInfo().workflowId;
  let released = false;
  const waiters = new Set<string>();
  setHandler(releaseSignal, () => void (released = true));
  setHandler(whoHoldsSignal, (asker) => answer(asker, (run) => run.signal(heldBySignal, holder)));
  setHandler(tellWhenFreeSignal, (waiter) => void waiters.add(waiter));
  await condition(() => released);
  await condition(allHandlersFinished);
  return [...waiters];
}

async function answer(asker: string, send: (run: ExternalWorkflowHandle) => Promise<void>): Promise<void> {
  try {
    await send(getExternalWorkflowHandle(asker));
  } catch (err) {
    log.info('the run that asked has already ended', { asker, error: (err as Error).message });
  }
}

/**
 * Resolves once one of the held children `ids` has been let go, or after `fallbackMs` (a child that
 * is terminated with its run tells no one). Resolves at once when one of them has already ended.
 */
export async function untilOneIsFree(ids: string[], fallbackMs: number): Promise<void> {
  let freed = false;
  setHandler(freedSignal, () => void (freed = true));
  const me = workflowInfo().workflowId;
  for (const id of ids) {
    try {
      await getExternalWorkflowHandle(id).signal(tellWhenFreeSignal, me);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return;
    }
  }
  await condition(() => freed, fallbackMs);
}

/** The holder's workflow id, or undefined when the lock did not answer (it ended meanwhile). */
export async function askHolder(lockId: string): Promise<string | undefined> {
  let holder: string | undefined;
  setHandler(heldBySignal, (id) => void (holder = id));
  try {
    await getExternalWorkflowHandle(lockId).signal(whoHoldsSignal, workflowInfo().workflowId);
  } catch {
    return undefined;
  }
  await condition(() => holder !== undefined, '10 seconds');
  return holder;
}

/**
 * Starts the lock-like child `workflowId` for this run, or undefined when the server refuses it
 * because another run holds it. Not cancelled with the run: what it guards stays held until a
 * cancelled run has cleaned up.
 */
export async function tryToHold(
  workflow: () => Promise<string[] | void>,
  workflowId: string,
  staticSummary: string,
): Promise<HeldChild | undefined> {
  try {
    return await CancellationScope.nonCancellable(() =>
      startChild(workflow, { workflowId, parentClosePolicy: ParentClosePolicy.TERMINATE, staticSummary }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw err;
  }
}

/**
 * Waits for the child to end, so that once this run goes on (or closes) the next one finds it free,
 * then tells the runs that wait for it.
 */
export async function letGo(held: HeldChild, what: string): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    let waiters: string[] | void = undefined;
    try {
      await held.signal(releaseSignal);
      waiters = await held.result();
    } catch (err) {
      log.warn(`${what} not released; it ends with this run`, {
        workflowId: held.workflowId,
        error: (err as Error).message,
      });
    }
    await Promise.all((waiters ?? []).map((waiter) => answer(waiter, (run) => run.signal(freedSignal))));
  });
}
