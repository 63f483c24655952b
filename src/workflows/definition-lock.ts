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
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  defineSignal,
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

/** The lock: runs until its parent releases it. */
export async function definitionLockWorkflow(): Promise<void> {
  // Started by hand (no parent), e.g. to hold backups off during maintenance: the lock holds itself.
  const holder = workflowInfo().parent?.workflowId ?? workflowInfo().workflowId;
  let released = false;
  setHandler(releaseSignal, () => void (released = true));
  setHandler(whoHoldsSignal, async (asker) => {
    try {
      await getExternalWorkflowHandle(asker).signal(heldBySignal, holder);
    } catch (err) {
      log.info('the run that asked has already ended', { asker, error: (err as Error).message });
    }
  });
  await condition(() => released);
  await condition(allHandlersFinished);
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
    // Waits for the lock to end, so that once this run has closed the next one finds it free.
    await CancellationScope.nonCancellable(async () => {
      try {
        await lock.signal(releaseSignal);
        await lock.result();
      } catch (err) {
        log.warn('definition lock not released; it ends with this run', {
          lockId: lock.workflowId,
          error: (err as Error).message,
        });
      }
    });
  }
}

async function acquireLock(scope: LockScope): Promise<ChildWorkflowHandle<typeof definitionLockWorkflow>> {
  const lockId = definitionLockId(scope);
  let holder: string | undefined;
  // A lock that ended while we asked is free again: take it. Three refusals without an answer: busy.
  for (let attempt = 1; attempt <= 3 && holder === undefined; attempt++) {
    try {
      // Not cancelled with the run: the lock stays held until a cancelled run has cleaned up.
      return await CancellationScope.nonCancellable(() =>
        startChild(definitionLockWorkflow, {
          workflowId: lockId,
          parentClosePolicy: ParentClosePolicy.TERMINATE,
          staticSummary: `lock of ${scope.definition} on ${scope.host}, held by ${workflowInfo().workflowId}`,
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      holder = await askHolder(lockId);
    }
  }
  throw ApplicationFailure.create({
    type: 'DefinitionBusyError',
    nonRetryable: true,
    message: `${definitionBusy(scope.definition, holder)}; this run stopped before touching anything (lock ${lockId})`,
    details: [{ definition: scope.definition, host: scope.host, holder: holder ?? null, lockId }],
  });
}
