// One run of a definition at a time, whoever starts it (a schedule, `dockvault run`, the `temporal`
// CLI): before anything else a backup or restore holds the child `lock-<definition>@<host>`
// (held-child.ts), so a second run is refused at once and a terminated run never leaves it held.
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { type HeldChild, askHolder, heldUntilReleased, letGo, tryToHold } from './held-child.ts';

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

/** The lock: runs until its parent releases it. */
export async function definitionLockWorkflow(): Promise<void> {
  await heldUntilReleased();
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

async function acquireLock(scope: LockScope): Promise<HeldChild> {
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
