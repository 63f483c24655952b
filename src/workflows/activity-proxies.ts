// How the workflows call activities: which queue, which timeouts, how often and how long to retry.
// Activities that touch a Docker host run on that host's queue; their types come from the factories,
// so a renamed activity is a type error here. Whether a failure is retried at all is its error class's
// decision (activities/failure.ts): no policy here lists error types.
import {
  ActivityCancellationType,
  patched,
  proxyActivities,
  type ActivityOptions,
  type WorkflowInfo,
} from '@temporalio/workflow';
import type { ContainerActivities } from '../activities/containers.ts';
import type { NotifyActivities } from '../activities/notify.ts';
import type { PruneActivities } from '../activities/prune.ts';
import type { RestoreActivities } from '../activities/restore.ts';
import type { RestorePostgresActivities } from '../activities/restore-postgres.ts';
import type { PostgresActivities } from '../activities/postgres.ts';
import type { StorageActivities } from '../activities/storage.ts';
import type { TransferActivities } from '../activities/transfer.ts';
import type { VerifyActivities } from '../activities/verify.ts';
import type { HookPlan } from '../plan/types.ts';
import { newBackupId } from '../storage/layout.ts';

/**
 * Every host activity heartbeats each second (the worker's liveness interceptor), so whatever it is
 * doing, a killed worker's attempt is retried elsewhere within seconds, not after its start-to-close
 * timeout while the application stays stopped.
 */
const heartbeatTimeout = '10 seconds';

/** Short calls: minutes at most, a few quick retries. */
function quickCall(taskQueue: string): ActivityOptions {
  return {
    taskQueue,
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout,
    retry: { initialInterval: '2 seconds', maximumAttempts: 5 },
  };
}

/**
 * Activities that move data: long, retried across a minute-long storage outage. A cancelled one is
 * waited for until it has stopped writing, so the clean-up after it finds everything it left.
 */
function movingData(taskQueue: string): ActivityOptions {
  return {
    taskQueue,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout,
    // 2 + 4 + 8 + 16 + 32 s between six attempts.
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 6,
    },
  };
}

/** Restarts and clean-ups whose failure would leave a service down: retried for minutes. */
const persistentRetry = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 20,
};

/** Per hook on top of its own timeout: creating the exec, and killing it once its time is up. */
const HOOK_OVERHEAD_SECONDS = 10;
/** Per activity: the worker picking it up, heartbeats, slack for a slow host. */
const HOOKS_MARGIN_SECONDS = 60;

/**
 * The hooks of one stage run one after another in one activity, so its bound is the sum of their
 * own timeouts plus room for the exec plumbing: it never fires while a hook is still within its own
 * timeout. A retried attempt resumes after the last finished hook (see runHooksOnce), so no hook
 * runs twice because the activity timed out or its worker died.
 */
export function hooksTimeoutSeconds(hooks: Pick<HookPlan, 'timeoutSeconds'>[]): number {
  return hooks.reduce((sum, h) => sum + h.timeoutSeconds + HOOK_OVERHEAD_SECONDS, HOOKS_MARGIN_SECONDS);
}

export function containerActivities(taskQueue: string, stopTimeoutSeconds: number) {
  const quick = proxyActivities<ContainerActivities>({
    taskQueue,
    startToCloseTimeout: `${stopTimeoutSeconds + 60} seconds`,
    heartbeatTimeout,
    retry: { initialInterval: '1 second', maximumAttempts: 5 },
  });
  // Restarting is the promise we keep whatever happens: retry for minutes, then the reconciler takes over.
  const restart = proxyActivities<ContainerActivities>({
    taskQueue,
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout,
    retry: persistentRetry,
  });
  return {
    resolveBackupSources: quick.resolveBackupSources,
    inspectBackupSources: quick.inspectBackupSources,
    stopContainer: quick.stopContainer,
    checkStillStopped: quick.checkStillStopped,
    // Options only: the commands a workflow issues are the same as with one shared proxy.
    runHooks: (hooks: HookPlan[], stage: 'preStop' | 'postStart') =>
      proxyActivities<ContainerActivities>({
        taskQueue,
        startToCloseTimeout: `${hooksTimeoutSeconds(hooks)} seconds`,
        heartbeatTimeout,
        retry: { initialInterval: '1 second', maximumAttempts: 5 },
      }).runHooks(hooks, stage),
    startContainers: restart.startContainers,
    confirmRestarted: restart.confirmRestarted,
  };
}

export function dataActivities(taskQueue: string) {
  const options = movingData(taskQueue);
  const data = proxyActivities<TransferActivities>(options);
  // While containers are stopped every retry is downtime: one more attempt (a dead worker's), then
  // restart them and fail the run rather than keep the application down.
  const whileStopped = proxyActivities<TransferActivities>({
    ...options,
    retry: { ...options.retry, initialInterval: '1 second', maximumAttempts: 2 },
  });
  // proxyActivities returns a Proxy with no own keys: spreading it would copy nothing.
  return {
    prepareStaging: data.prepareStaging,
    uploadStagedVolume: data.uploadStagedVolume,
    streamVolumeToStorage: data.streamVolumeToStorage,
    removeStaging: data.removeStaging,
    archiveVolumeToStaging: whileStopped.archiveVolumeToStaging,
  };
}

/** `dumpTimeoutMinutes` bounds one database's dump (postgres.timeoutMinutes); unset, a generous 12 hours. */
export function postgresActivities(taskQueue: string, dumpTimeoutMinutes?: number) {
  const preflight = proxyActivities<PostgresActivities>({
    taskQueue,
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout,
    retry: { initialInterval: '2 seconds', maximumAttempts: 5 },
  });
  const dumps = proxyActivities<PostgresActivities>({
    taskQueue,
    startToCloseTimeout: dumpTimeoutMinutes === undefined ? '12 hours' : `${dumpTimeoutMinutes} minutes`,
    heartbeatTimeout,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 5,
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
    heartbeatTimeout,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 5,
    },
  });
}

export function restoreActivities(taskQueue: string) {
  const quick = proxyActivities<RestoreActivities>(quickCall(taskQueue));
  const moving = proxyActivities<RestoreActivities>(movingData(taskQueue));
  // Clean-up keeps a volume from being left without its data directory: retried like a restart.
  const settling = proxyActivities<RestoreActivities>({
    taskQueue,
    startToCloseTimeout: '1 hour',
    heartbeatTimeout,
    retry: persistentRetry,
  });
  return {
    loadVolumeRestore: quick.loadVolumeRestore,
    runningContainersUsing: quick.runningContainersUsing,
    swapRestoredVolumes: quick.swapRestoredVolumes,
    stageVolumeRestore: moving.stageVolumeRestore,
    settleVolumeRestore: settling.settleVolumeRestore,
  };
}

export function verifyActivities(taskQueue: string) {
  const quick = proxyActivities<VerifyActivities>(quickCall(taskQueue));
  const moving = proxyActivities<VerifyActivities>(movingData(taskQueue));
  return {
    listBackupsToVerify: quick.listBackupsToVerify,
    verifyObject: moving.verifyObject,
    verifyChunkedObjects: moving.verifyChunkedObjects,
  };
}

export function restorePostgresActivities(taskQueue: string) {
  const quick = proxyActivities<RestorePostgresActivities>(quickCall(taskQueue));
  // A restore that fails half-way is not resumed or repeated: pg_restore into a half-filled database
  // would fail differently. The preflight caught what it could; the rest is reported as it happened.
  const once = proxyActivities<RestorePostgresActivities>({
    taskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout,
    retry: { maximumAttempts: 1 },
  });
  // Reads only: safe to repeat after a storage outage or a lost worker.
  const reading = proxyActivities<RestorePostgresActivities>({
    taskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout,
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
  });
  return {
    loadPostgresRestore: quick.loadPostgresRestore,
    checkPostgresDumps: reading.checkPostgresDumps,
    checkPostgresChunks: reading.checkPostgresChunks,
    restorePostgresGlobals: once.restorePostgresGlobals,
    restorePostgresDatabase: once.restorePostgresDatabase,
  };
}

export function pruneActivities(taskQueue: string) {
  return proxyActivities<PruneActivities>({
    taskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout,
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 3,
    },
  });
}

/** Webhooks: a few quick attempts (each webhook has its own 10 s timeout); then the run goes on. */
export function notifyActivities(taskQueue: string) {
  return proxyActivities<NotifyActivities>({
    taskQueue,
    startToCloseTimeout: '1 minute',
    heartbeatTimeout,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 4 },
  });
}

/**
 * Sortable, unique per run, and the same on every replay. Run ids are UUIDs; in a UUIDv7 the leading
 * digits are the millisecond clock, so runs started in the same second shared them (and their staging):
 * the suffix comes from the random tail. Runs recorded before that keep the id they started with.
 */
export function backupIdFor(info: WorkflowInfo): string {
  const hex = info.runId.replace(/-/g, '');
  return newBackupId(
    info.startTime,
    patched('backup-id-random-suffix') ? runSuffix(info.runId, 8) : hex.slice(0, 8),
  );
}

/** The last `length` hex digits of a run id: random in UUIDv4 and UUIDv7 alike. */
export function runSuffix(runId: string, length: number): string {
  return runId.replace(/-/g, '').slice(-length);
}
