// How the workflows call activities: which queue, which timeouts, which retries. Activities that touch
// a Docker host run on that host's queue; their types come from the factories, so a renamed activity
// is a type error here.
import { proxyActivities, type WorkflowInfo } from '@temporalio/workflow';
import type { ContainerActivities } from '../activities/containers.ts';
import type { PostgresActivities } from '../activities/postgres.ts';
import type { StorageActivities } from '../activities/storage.ts';
import type { TransferActivities } from '../activities/transfer.ts';
import { newBackupId } from '../storage/layout.ts';

const notRetryable = ['ContainerNotFoundError', 'VolumeNotFoundError', 'PreflightError', 'HookFailedError'];

export function containerActivities(taskQueue: string, stopTimeoutSeconds: number) {
  const quick = proxyActivities<ContainerActivities>({
    taskQueue,
    startToCloseTimeout: `${stopTimeoutSeconds + 60} seconds`,
    retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: notRetryable },
  });
  // Restarting is the promise we keep whatever happens: retry for minutes, then the reconciler takes over.
  const restart = proxyActivities<ContainerActivities>({
    taskQueue,
    startToCloseTimeout: '2 minutes',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 20,
    },
  });
  return {
    inspectBackupSources: quick.inspectBackupSources,
    stopContainer: quick.stopContainer,
    checkStillStopped: quick.checkStillStopped,
    runHooks: quick.runHooks,
    startContainers: restart.startContainers,
  };
}

export function dataActivities(taskQueue: string) {
  return proxyActivities<TransferActivities>({
    taskQueue,
    startToCloseTimeout: '24 hours',
    // Short enough that a killed worker's attempt is retried elsewhere within seconds, not minutes.
    heartbeatTimeout: '20 seconds',
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 5,
      nonRetryableErrorTypes: notRetryable,
    },
  });
}

export function postgresActivities(taskQueue: string) {
  const preflight = proxyActivities<PostgresActivities>({
    taskQueue,
    startToCloseTimeout: '5 minutes',
    retry: { initialInterval: '2 seconds', maximumAttempts: 5, nonRetryableErrorTypes: notRetryable },
  });
  const dumps = proxyActivities<PostgresActivities>({
    taskQueue,
    // No per-definition timeout in the plan yet: generous, the heartbeat catches a dead worker.
    startToCloseTimeout: '12 hours',
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 5,
      nonRetryableErrorTypes: [...notRetryable, 'PgDumpFailedError'],
    },
  });
  return {
    inspectPostgres: preflight.inspectPostgres,
    dumpGlobals: dumps.dumpGlobals,
    dumpDatabase: dumps.dumpDatabase,
  };
}

export function storageActivities(taskQueue: string) {
  return proxyActivities<StorageActivities>({
    taskQueue,
    startToCloseTimeout: '5 minutes',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 5,
      nonRetryableErrorTypes: [...notRetryable, 'StorageAccessError', 'BucketNotFoundError'],
    },
  });
}

/** Sortable, unique per run, and the same on every replay. */
export function backupIdFor(info: WorkflowInfo): string {
  return newBackupId(info.startTime, info.runId.replace(/-/g, '').slice(0, 8));
}
