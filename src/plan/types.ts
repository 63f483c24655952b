// What a workflow is asked to do: names and settings only, never secrets (they stay on the worker).
import type { Compression } from '../pipeline/compression.ts';
import type { RetentionPolicy } from '../retention/policy.ts';
import type { ContainerSelector } from '../selectors/types.ts';
import type { S3Target } from '../storage/store.ts';

export interface HookPlan {
  container: string;
  command: string[];
  timeoutSeconds: number;
  user?: string | undefined;
}

/** Runs that move data on a host take one of its slots first (src/workflows/host-slot.ts). */
export interface HostLimited {
  host: string;
  /**
   * The host's `hosts.<host>.concurrency`. Absent in plans made before host limits existed (a
   * schedule synced earlier): those take the default.
   */
  hostConcurrency?: number | undefined;
}

interface PlanBase extends HostLimited {
  definition: string;
  /** The per-host queue whose worker reaches this host's Docker engine. */
  activityTaskQueue: string;
  target: S3Target;
  /** Resolved on the worker (inline keys + recipientsFile + DOCKVAULT_AGE_RECIPIENTS there). */
  encryption: { recipients: string[]; recipientsFile?: string | undefined };
  compression: Compression;
  hooks: { preStop: HookPlan[]; postStart: HookPlan[] };
  /** Applied by the prune step after every successful run; absent or empty keeps everything. */
  retention?: RetentionPolicy | undefined;
  /** Retention periods are wall-clock periods here (schedule.timezone, else UTC). */
  timeZone?: string | undefined;
  /** The definition's timeoutMinutes: the run is stopped (and cleaned up) when it takes longer. */
  timeoutMinutes?: number | undefined;
  /** The config's workerWait (ms): the run fails when no host worker takes its first step by then. */
  workerWaitMs?: number | undefined;
  /**
   * compose / labels: resolved by the host's worker in the preflight, into containers (stop order)
   * and real volume names. Absent for definitions that only name containers.
   */
  selector?: ContainerSelector | undefined;
}

export type Staging = { mode: 'staged'; dir: string; minFreeMiB: number } | { mode: 'streaming' };

export interface StandardBackupPlan extends PlanBase {
  type: 'standard';
  containers: string[];
  volumes: string[];
  stopTimeoutSeconds: number;
  staging: Staging;
  /** Absent in plans of older versions: whole archives. */
  volumeFormat?: VolumeFormat | undefined;
}

/** archive: one age(zstd(tar)) object per volume; chunked: deduplicated chunks (docs/FORMAT.md). */
export type VolumeFormat = 'archive' | 'chunked';

/** object: one age(compress(dump)) object per database; chunked: the dump in deduplicated chunks. */
export type DumpStorage = 'object' | 'chunked';

export interface PostgresBackupPlan extends PlanBase {
  type: 'postgresqldatabase';
  container: string;
  databases: string[] | 'all';
  globals: boolean;
  osUser: string;
  dbUser?: string | undefined;
  passwordFile?: string | undefined;
  format: 'custom' | 'plain';
  extraArgs: string[];
  /** Absent in plans of older versions, and for `object`: one sealed object per dump. */
  storage?: DumpStorage | undefined;
  /** postgres.timeoutMinutes: the bound of one database's dump. */
  dumpTimeoutMinutes?: number | undefined;
}

export type BackupPlan = StandardBackupPlan | PostgresBackupPlan;

/** `dockvault prune` and the prune step of a backup: one definition's retention, applied in storage. */
export interface PrunePlan {
  definition: string;
  host: string;
  activityTaskQueue: string;
  target: S3Target;
  retention: RetentionPolicy;
  timeZone: string;
  /** Decide and report, delete nothing. */
  dryRun: boolean;
}

/** One stored object of a backup, as the manifest records it. */
export interface StoredObject {
  name: string;
  kind: 'volume' | 'database' | 'globals';
  source: string;
  format: 'tar' | 'pg_dump-custom' | 'sql';
  plaintextBytes: number;
  storedBytes: number;
  sha256: string;
  startedAt: string;
  finishedAt: string;
  details?: Record<string, string | number | boolean>;
  /** A chunked volume (manifest v2; v3 with `packed`): the object is the chunk index. */
  chunked?: {
    indexBytes: number;
    chunks: number;
    newChunks: number;
    uploadedBytes: number;
    /** Index lines that name a pack, and the packs this backup stored (only when some do). */
    packed?: number;
    newPacks?: number;
  };
}

export interface BackupResult {
  definition: string;
  backupId: string;
  downtimeMs: number;
  objects: number;
  plaintextBytes: number;
  storedBytes: number;
  hookWarnings: string[];
}

/** One definition in a backup run: its plan, and the definitions of the same run it waits for. */
export interface RunStep {
  plan: BackupPlan;
  after: string[];
}

/** `dockvault run` over several definitions (or the config's top-level schedule): one parent workflow. */
export interface BackupRunPlan {
  /** What the run covers, for people: "all definitions", "site, db". */
  label: string;
  /** In the order the config lists them; run one after the other unless `parallel`. */
  steps: RunStep[];
  parallel: boolean;
  /** The host queue whose worker sends the run's summary notification (the config's own host). */
  notifyTaskQueue: string;
}

export interface DefinitionOutcome {
  definition: string;
  type: BackupPlan['type'];
  host: string;
  workflowId: string;
  status: 'ok' | 'failed' | 'not started';
  result?: BackupResult | undefined;
  error?: string | undefined;
}

export interface BackupRunResult {
  label: string;
  ok: number;
  failed: number;
  outcomes: DefinitionOutcome[];
}

/** `dockvault restore` of a standard backup: which backup, which volumes, into which volumes. */
export interface RestoreVolumesPlan extends HostLimited {
  definition: string;
  activityTaskQueue: string;
  target: S3Target;
  /** A backup id, or 'latest' (resolved by the worker from the manifests in storage). */
  backup: string;
  /** Path of the age identity file on the worker; the key itself never enters the workflow. */
  identityFile: string;
  /** Volumes of the backup to restore (by their name at backup time); empty means all of them. */
  volumes: string[];
  /** Restore a backed-up volume into another volume (created if missing), leaving the original alone. */
  mappings: { from: string; to: string }[];
  stopTimeoutSeconds: number;
}

export interface RestoredVolume {
  source: string;
  volume: string;
  object: string;
  plaintextBytes: number;
  created: boolean;
}

export interface RestoreResult {
  definition: string;
  backupId: string;
  volumes: RestoredVolume[];
  /** Containers stopped for the swap, in stop order (restarted in reverse). */
  stopped: string[];
  downtimeMs: number;
}

/** `dockvault verify`: which backups of one definition to check end to end, without writing anything. */
export interface VerifyPlan {
  definition: string;
  host: string;
  activityTaskQueue: string;
  target: S3Target;
  /** Backup ids, or 'latest', or 'all'. */
  backups: string[] | 'latest' | 'all';
  identityFile: string;
}

export interface VerifiedObject {
  backupId: string;
  name: string;
  ok: boolean;
  plaintextBytes: number;
  error?: string | undefined;
}

export interface VerifyResult {
  definition: string;
  backupIds: string[];
  objects: VerifiedObject[];
  /** Problems of a whole backup (unreadable manifest, wrong identity), by backup id. */
  backupErrors: { backupId: string; error: string }[];
  /**
   * Chunked volumes of several backups, verified together: distinct chunks read, and chunks their
   * indexes list (absent when each object was read on its own).
   */
  chunks?: { read: number; listed: number } | undefined;
}

/** `dockvault restore` of a PostgreSQL backup: globals, then each database, with pg_restore in the container. */
export interface RestorePostgresPlan extends HostLimited {
  definition: string;
  activityTaskQueue: string;
  target: S3Target;
  backup: string;
  identityFile: string;
  /** The server to restore into: --to-container, else the definition's container. */
  container: string;
  osUser: string;
  dbUser?: string | undefined;
  passwordFile?: string | undefined;
  /** Databases of the backup to restore; empty: all of them but `postgres` (which every server has). */
  databases: string[];
  /** Replace databases that exist on the target; without it they are refused. */
  clean: boolean;
  globals: boolean;
}

export interface RestorePostgresResult {
  definition: string;
  backupId: string;
  container: string;
  globals?: { skippedRoles: string[]; warnings: string[] } | undefined;
  databases: { database: string; object: string; replaced: boolean }[];
}
