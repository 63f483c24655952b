// One run of a definition at a time, whoever starts it (a schedule, `dockvault run`, the `temporal`
// CLI): before anything else a backup or restore starts a child workflow whose id is fixed per host
// and definition, and the Temporal server refuses a second one with that id while the first runs, at
// once and consistently (a visibility query trails the server by about a second). The child ends
// when its run releases it, or is terminated with its run (ParentClosePolicy TERMINATE), so a
// terminated or timed-out run never leaves the lock held.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ApplicationFailure,
  CancellationScope,
  type ChildWorkflowHandle,
  type ExternalWorkflowHandle,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  defineSignal,
  isCancellation,
  getExternalWorkflowHandle,
  log,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';

interface LockScope {
  host: string;
  definition: string;
}

/** Host and definition names never contain '@', so no two scopes share a lock. */
export function definitionLockId({ host, definition }: LockScope): string {
  return `lock-${definition}@${host}`;
}

export function definitionBusy(definition: string, holder: string | undefined): string {
  return `${definition} is busy: ${holder ?? 'another run'} holds its lock (one backup or restore of a definition at a time)`;
}

const releaseSignal = defineSignal('release');
/** A refused run asks who holds the lock: the holder's id is only known to the lock itself. */
const whoHoldsSignal = defineSignal<[askerWorkflowId: string]>('whoHolds');
const heldBySignal = defineSignal<[holderWorkflowId: string]>('heldBy');
/** A run waiting for this child to end asks to be told; `freed` is the answer. */
const tellWhenFreeSignal = defineSignal<[waiterWorkflowId: string]>('tellWhenFree');
const freedSignal = defineSignal('freed');

/** The lock: runs until its parent releases it. */
export async function definitionLockWorkflow(): Promise<void> {
  await heldUntilReleased();
}

/**
 * The body of every lock-like child (this lock, a host's slots): it ends when its holder lets go.
 * Started by hand (no parent), e.g. to hold backups off during maintenance, it holds itself.
 */
export async function heldUntilReleased(): Promise<void> {
  const holder = workflowInfo().parent?.workflowId ?? workflowInfo().workflowId;
  let released = false;
  const waiters = new Set<string>();
  const answer = async (asker: string, send: (run: ExternalWorkflowHandle) => Promise<void>) => {
    try {
      await send(getExternalWorkflowHandle(asker));
    } catch (err) {
      log.info('the run that asked has already ended', { asker, error: (err as Error).message });
    }
  };
  const tellFreed = (waiter: string) => answer(waiter, (run) => run.signal(freedSignal));
  setHandler(releaseSignal, () => void (released = true));
  setHandler(whoHoldsSignal, (asker) => answer(asker, (run) => run.signal(heldBySignal, holder)));
  // Asked after the release but before this child ended: the waiter learns at once.
  setHandler(tellWhenFreeSignal, (waiter) => (released ? tellFreed(waiter) : void waiters.add(waiter)));
  await condition(() => released);
  await Promise.all([...waiters].map(tellFreed));
  await condition(allHandlersFinished);
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
async function askHolder(lockId: string): Promise<string | undefined> {
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
 * Runs `body` holding the definition's lock. A run that finds the lock held fails at once, before
 * its body ran, with a non-retryable DefinitionBusyError naming the run that holds it.
 */
export async function withDefinitionLock<T>(scope: LockScope, body: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(scope);
  try {
    return await body();
  } finally {
    await letGo(lock, 'definition lock');
  }
}

/**
 * Starts the lock-like child `workflowId` for this run, or undefined when the server refuses it
 * because another run holds it. Not cancelled with the run: what it guards stays held until a
 * cancelled run has cleaned up.
 */
export async function tryToHold(
  workflow: () => Promise<void>,
  workflowId: string,
  staticSummary: string,
): Promise<ChildWorkflowHandle<() => Promise<void>> | undefined> {
  try {
    return await CancellationScope.nonCancellable(() =>
      startChild(workflow, { workflowId, parentClosePolicy: ParentClosePolicy.TERMINATE, staticSummary }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw err;
  }
}

/** Waits for the child to end, so that once this run goes on (or closes) the next one finds it free. */
export async function letGo(held: ChildWorkflowHandle<() => Promise<void>>, what: string): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    try {
      await held.signal(releaseSignal);
      await held.result();
    } catch (err) {
      log.warn(`${what} not released; it ends with this run`, {
        workflowId: held.workflowId,
        error: (err as Error).message,
      });
    }
  });
}

async function acquireLock(scope: LockScope): Promise<ChildWorkflowHandle<() => Promise<void>>> {
  const lockId = definitionLockId(scope);
  const summary = `lock of ${scope.definition} on ${scope.host}, held by ${workflowInfo().workflowId}`;
  let holder: string | undefined;
  // A lock that ended while we asked is free again: take it. Three refusals without an answer: busy.
  for (let attempt = 1; attempt <= 3 && holder === undefined; attempt++) {
    const lock = await tryToHold(definitionLockWorkflow, lockId, summary);
    if (lock) return lock;
    holder = await askHolder(lockId);
  }
  throw ApplicationFailure.create({
    type: 'DefinitionBusyError',
    nonRetryable: true,
    message: `${definitionBusy(scope.definition, holder)}; this run stopped before touching anything (lock ${lockId})`,
    details: [{ definition: scope.definition, host: scope.host, holder: holder ?? null, lockId }],
  });
}
