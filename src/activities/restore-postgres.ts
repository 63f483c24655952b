import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type Docker from 'dockerode';
import { log } from '@temporalio/activity';
import { inspectContainerWithEnv } from '../docker/containers.ts';
import { ContainerNotFoundError } from '../docker/errors.ts';
import { execCapture, execWithStdin } from '../docker/exec.ts';
import { createDecryptStream } from '../pipeline/age/decrypt.ts';
import { AgeError } from '../pipeline/age/errors.ts';
import { createDecompressor, type CompressionAlgorithm } from '../pipeline/compression.ts';
import { Meter } from '../pipeline/meter.ts';
import type { RestorePostgresPlan } from '../plan/types.ts';
import {
  listDatabasesCommand,
  listRolesCommand,
  parseDatabaseList,
  parseNulRecords,
  pgErrorSummary,
  pgRestoreCommand,
  psqlScriptCommand,
  psqlStatementCommand,
  quoteIdentifier,
} from '../postgres/commands.ts';
import { PasswordFileError, resolveCredentials, type Credentials } from '../postgres/credentials.ts';
import {
  CorruptBackupObjectError,
  ReaderFailedError,
  RestoreError,
  RestoreSelectionError,
} from '../restore/errors.ts';
import { findBackup } from '../restore/find-backup.ts';
import { loadIdentities } from '../restore/identity.ts';
import { checkStoredObject } from '../restore/read-object.ts';
import { SkipExistingRoles } from '../restore/pg-globals.ts';
import { checkIdentityMatches } from '../restore/select.ts';
import { objectKey } from '../storage/layout.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import type { S3Target } from '../storage/store.ts';
import { progressHeartbeat } from './heartbeat.ts';
import type { StoreFor } from './stores.ts';

export interface RestorePostgresDeps {
  docker: Docker;
  storeFor: StoreFor;
}

export interface PgRestoreItem {
  database: string;
  key: string;
  object: ManifestObject;
  /** The database exists on the target now (it is replaced only with --clean). */
  exists: boolean;
}

export interface PgRestoreSource {
  backupId: string;
  compression: CompressionAlgorithm;
  globals?: { key: string; object: ManifestObject } | undefined;
  databases: PgRestoreItem[];
}

type Conn = Pick<RestorePostgresPlan, 'container' | 'osUser' | 'dbUser' | 'passwordFile'>;

/** The maintenance database pg_restore --create connects to: never one that is dropped. */
const MAINTENANCE_DB = 'template1';

/** Activities of `dockvault restore` for PostgreSQL: preflight, globals, one database at a time. */
export function createRestorePostgresActivities({ docker, storeFor }: RestorePostgresDeps) {
  async function credentials(conn: Conn): Promise<Credentials> {
    const { state, env } = await inspectContainerWithEnv(docker, conn.container).catch((err: unknown) => {
      if (err instanceof ContainerNotFoundError) {
        throw new RestoreError(`container "${conn.container}" does not exist`);
      }
      throw err;
    });
    if (!state.running) throw new RestoreError(`container "${conn.container}" is not running`);
    try {
      return await resolveCredentials(conn, env);
    } catch (err) {
      if (err instanceof PasswordFileError) throw new RestoreError(err.message);
      throw err;
    }
  }

  async function capture(conn: Conn, creds: Credentials, cmd: string[]) {
    const result = await execCapture(docker, conn.container, cmd, { user: conn.osUser, env: creds.env });
    if (result.exitCode !== 0) {
      throw new RestoreError(
        `${cmd[0] ?? ''} in container "${conn.container}" failed (exit ${result.exitCode}): ${pgErrorSummary(result.stderr)}`,
      );
    }
    return result.stdout;
  }

  /** get -> sha256 -> decrypt -> decompress [-> more] -> a command's stdin in the container. */
  async function streamInto(input: {
    target: S3Target;
    key: string;
    object: ManifestObject;
    compression: CompressionAlgorithm;
    identityFile: string;
    conn: Conn;
    creds: Credentials;
    command: string[];
    extra: Transform[];
  }): Promise<string> {
    const identities = await loadIdentities(input.identityFile);
    const progress = progressHeartbeat('restoring', input.object.source, input.object.storedBytes);
    const stored = new Meter(progress.update);
    try {
      const sink = await execWithStdin(docker, input.conn.container, input.command, {
        user: input.conn.osUser,
        env: input.creds.env,
      });
      const store = storeFor(input.target);
      try {
        await pipeline(
          await store.get(input.key, { signal: progress.signal, size: input.object.storedBytes }),
          stored,
          createDecryptStream(identities, { name: input.key }),
          createDecompressor(input.compression),
          ...input.extra,
          sink.stdin,
          { signal: progress.signal },
        );
      } catch (err) {
        sink.stdin.destroy();
        if (err instanceof AgeError) throw new CorruptBackupObjectError(err.message, { cause: err });
        throw err;
      }
      const { exitCode, output } = await sink.result;
      checkStoredObject(store.location, input.key, input.object, stored);
      if (exitCode !== 0) {
        throw new ReaderFailedError(
          `${input.command[0] ?? ''} of ${input.key} in container "${input.conn.container}" failed with exit code ${exitCode}: ${pgErrorSummary(output)}`,
        );
      }
      return output;
    } finally {
      progress.stop();
    }
  }

  return {
    /**
     * Preflight: the backup, the identity, the databases asked for, and the target server. Databases
     * that exist there are refused (all named in one error) unless the plan says clean.
     */
    async loadPostgresRestore(input: { plan: RestorePostgresPlan }): Promise<PgRestoreSource> {
      const { plan } = input;
      const identities = await loadIdentities(plan.identityFile);
      const manifest = await findBackup(storeFor(plan.target), plan.definition, plan.backup);
      if (manifest.type !== 'postgresqldatabase') {
        throw new RestoreError(
          `${plan.definition}/${manifest.backupId} is a ${manifest.type} backup, not a PostgreSQL one`,
        );
      }
      checkIdentityMatches(
        manifest,
        identities.map((i) => i.recipient),
        plan.identityFile,
      );
      const dbObjects = manifest.objects.filter((o) => o.kind === 'database');
      const inBackup = dbObjects.map((o) => o.source);
      const missing = plan.databases.filter((d) => !inBackup.includes(d));
      if (missing.length > 0) {
        throw new RestoreSelectionError(
          `${plan.definition}/${manifest.backupId}: database(s) ${missing.join(', ')} not in this backup; it holds ${inBackup.join(', ') || '(none)'}`,
        );
      }
      const chosen =
        plan.databases.length > 0
          ? dbObjects.filter((o) => plan.databases.includes(o.source))
          : dbObjects.filter((o) => o.source !== 'postgres');
      const creds = await credentials(plan);
      const existing = new Set(
        parseDatabaseList(await capture(plan, creds, listDatabasesCommand(creds, MAINTENANCE_DB))).map(
          (d) => d.name,
        ),
      );
      const conflicts = chosen.filter((o) => existing.has(o.source)).map((o) => o.source);
      if (conflicts.length > 0 && !plan.clean) {
        throw new RestoreError(
          `database(s) ${conflicts.join(', ')} already exist in container "${plan.container}"; nothing was changed. ` +
            'Pass --clean to drop and replace them, --database to choose others, or --to-container to restore into another server',
        );
      }
      const globals = plan.globals ? manifest.objects.find((o) => o.kind === 'globals') : undefined;
      return {
        backupId: manifest.backupId,
        compression: manifest.compression.algorithm,
        globals: globals && {
          key: objectKey(plan.definition, manifest.backupId, globals.name),
          object: globals,
        },
        databases: chosen.map((o) => ({
          database: o.source,
          key: objectKey(plan.definition, manifest.backupId, o.name),
          object: o,
          exists: existing.has(o.source),
        })),
      };
    },

    /** Roles and tablespaces; roles that exist on the target are left exactly as they are. */
    async restorePostgresGlobals(input: {
      plan: RestorePostgresPlan;
      compression: CompressionAlgorithm;
      key: string;
      object: ManifestObject;
    }): Promise<{ skippedRoles: string[]; warnings: string[] }> {
      const { plan } = input;
      const creds = await credentials(plan);
      const roles = parseNulRecords(await capture(plan, creds, listRolesCommand(creds, MAINTENANCE_DB)));
      const filter = new SkipExistingRoles(roles);
      const output = await streamInto({
        target: plan.target,
        key: input.key,
        object: input.object,
        compression: input.compression,
        identityFile: plan.identityFile,
        conn: plan,
        creds,
        command: psqlScriptCommand(creds, MAINTENANCE_DB, { stopOnError: false }),
        extra: [filter],
      });
      const warnings = output.split('\n').filter((l) => /\bERROR\b/.test(l));
      for (const w of warnings) log.warn(`globals: ${w}`);
      return { skippedRoles: [...filter.skipped], warnings };
    },

    /**
     * One database: custom-format dumps through `pg_restore --create` (with --clean: dropped and
     * created again); plain dumps through psql into a freshly created database.
     */
    async restorePostgresDatabase(input: {
      plan: RestorePostgresPlan;
      compression: CompressionAlgorithm;
      item: PgRestoreItem;
    }): Promise<void> {
      const { plan, item } = input;
      const creds = await credentials(plan);
      const base = {
        target: plan.target,
        key: item.key,
        object: item.object,
        compression: input.compression,
        identityFile: plan.identityFile,
        conn: plan,
        creds,
      };
      if (item.object.format === 'pg_dump-custom') {
        await streamInto({
          ...base,
          command: pgRestoreCommand(creds, MAINTENANCE_DB, plan.clean),
          extra: [],
        });
        return;
      }
      const quoted = quoteIdentifier(item.database);
      if (plan.clean) {
        await capture(
          plan,
          creds,
          psqlStatementCommand(creds, MAINTENANCE_DB, `DROP DATABASE IF EXISTS ${quoted}`),
        );
      }
      await capture(plan, creds, psqlStatementCommand(creds, MAINTENANCE_DB, `CREATE DATABASE ${quoted}`));
      await streamInto({
        ...base,
        command: psqlScriptCommand(creds, item.database, { stopOnError: true }),
        // pg_dump gzipped the plain script itself (the object name says .sql.gz).
        extra: item.object.name.includes('.sql.gz') ? [zlib.createGunzip()] : [],
      });
    },
  };
}

export type RestorePostgresActivities = ReturnType<typeof createRestorePostgresActivities>;
