import type Docker from 'dockerode';
import type { ClosedRuns } from '../closed-runs.ts';
import type { StoppedRecord } from '../docker/stopped-record.ts';
import { createContainerActivities } from './containers.ts';
import { createHostPresenceActivities } from './host.ts';
import { createNotifyActivities, type NotifyDeps } from './notify.ts';
import { createPostgresActivities } from './postgres.ts';
import { createPruneActivities } from './prune.ts';
import { createRestoreActivities } from './restore.ts';
import { createRestorePostgresActivities } from './restore-postgres.ts';
import { createStorageActivities } from './storage.ts';
import { cachedStores, type StoreFor } from './stores.ts';
import { createTransferActivities } from './transfer.ts';
import { createVerifyActivities } from './verify.ts';

export interface HostActivityDeps {
  docker: Docker;
  stopped: StoppedRecord;
  /** Which recorded runs have ended: a container one left stopped is adopted by the next run. */
  closedRuns: ClosedRuns;
  storeFor?: StoreFor;
  /** The worker's webhooks and metrics; without them outcomes are only logged. */
  notify?: NotifyDeps;
  /** The key chunk names are computed with (storage/dedup-key.ts), read when a chunked backup needs it. */
  dedupKey: () => Promise<Buffer>;
  /** The worker's state directory (records of chunked volumes' last backups, pack trailers read). */
  stateDir: string;
}

/** All activities a host's worker serves on its `dockvault.<host>` queue. */
export function createHostActivities({
  docker,
  stopped,
  closedRuns,
  storeFor = cachedStores(),
  notify,
  dedupKey,
  stateDir,
}: HostActivityDeps) {
  return {
    ...createHostPresenceActivities(),
    ...createContainerActivities({ docker, stopped, closedRuns }),
    ...createTransferActivities({ docker, storeFor, dedupKey, stateDir }),
    ...createStorageActivities({ storeFor }),
    ...createRestoreActivities({ docker, storeFor, stopped, closedRuns }),
    ...createRestorePostgresActivities({ docker, storeFor }),
    ...createVerifyActivities({ storeFor }),
    ...createPostgresActivities({ docker, storeFor, dedupKey, stateDir }),
    ...createPruneActivities({ storeFor }),
    ...createNotifyActivities(notify),
  };
}
