// What a workflow is asked to do: names and settings only, never secrets (they stay on the worker).
import type { Compression } from '../pipeline/compression.ts';
import type { S3Target } from '../storage/store.ts';

export interface HookPlan {
  container: string;
  command: string[];
  timeoutSeconds: number;
  user?: string | undefined;
}

interface PlanBase {
  definition: string;
  host: string;
  /** The per-host queue whose worker reaches this host's Docker engine. */
  activityTaskQueue: string;
  target: S3Target;
  /** Resolved on the worker (inline keys + recipientsFile + DOCKVAULT_AGE_RECIPIENTS there). */
  encryption: { recipients: string[]; recipientsFile?: string | undefined };
  compression: Compression;
  hooks: { preStop: HookPlan[]; postStart: HookPlan[] };
}

export type Staging = { mode: 'staged'; dir: string; minFreeMiB: number } | { mode: 'streaming' };

export interface StandardBackupPlan extends PlanBase {
  type: 'standard';
  containers: string[];
  volumes: string[];
  stopTimeoutSeconds: number;
  staging: Staging;
}

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
}

export type BackupPlan = StandardBackupPlan | PostgresBackupPlan;

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
