import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Docker from 'dockerode';
import { log } from '@temporalio/activity';
import { inspectContainerWithEnv } from '../docker/containers.ts';
import { ContainerNotFoundError } from '../docker/errors.ts';
import { execCapture, execStream, type ExecStreamResult } from '../docker/exec.ts';
import { chunkAndStore } from '../pipeline/chunk-and-store.ts';
import { sealAndStore, type SealOptions } from '../pipeline/seal-and-store.ts';
import type { PostgresBackupPlan, StoredObject } from '../plan/types.ts';
import {
  MAINTENANCE_DATABASES,
  databaseObjectName,
  globalsObjectName,
  listDatabasesCommand,
  parseDatabaseList,
  parsePgDumpVersion,
  pgDumpAllGlobalsCommand,
  pgDumpCommand,
  pgDumpVersionCommand,
  pgErrorSummary,
  pgIsReadyCommand,
  serverVersionCommand,
} from '../postgres/commands.ts';
import { dumpExtraArgs, pgDumpCompressionLevel } from '../postgres/compression.ts';
import { PasswordFileError, resolveCredentials, type Credentials } from '../postgres/credentials.ts';
import { objectKey } from '../storage/layout.ts';
import {
  chunkedObjectRecord,
  chunkStoreSettings,
  chunkWriterOptions,
  type ChunkStoreDeps,
} from './chunk-store.ts';
import { PreflightError } from './failure.ts';
import { progressHeartbeat } from './heartbeat.ts';
import type { StoreFor } from './stores.ts';

export interface PostgresActivityDeps extends ChunkStoreDeps {
  docker: Docker;
  storeFor: StoreFor;
}

/** What the preflight found: the databases to dump, and versions for the manifest. */
export interface PostgresSource {
  databases: string[];
  serverVersion: string;
  pgDumpVersion: string;
}

/** The dump command failed (non-zero exit, killed, or its output cut short): the object is not a backup. */
export class PgDumpFailedError extends Error {
  override name = 'PgDumpFailedError';
  // pg_dump exited with an error: running it again would mostly repeat it (permissions, a missing
  // object, a bad extra argument); a run that must survive transient faults is simply scheduled again.
  readonly retryable = false;
}

/** pg_isready says the server rejects connections: starting up or shutting down, worth another attempt. */
export class PostgresNotReadyError extends Error {
  override name = 'PostgresNotReadyError';
  readonly retryable = true;
}

type Connection = Pick<PostgresBackupPlan, 'container' | 'osUser' | 'dbUser' | 'passwordFile'>;

/**
 * Passes the dump through and ends only once the command's exit code is known and zero. Until then the
 * upload cannot complete: a pg_dump that fails at its very end aborts the multipart upload instead of
 * leaving a finished object that looks like a dump.
 */
class ExitChecked extends Transform {
  readonly #verdict: () => Promise<void>;
  constructor(verdict: () => Promise<void>) {
    super();
    this.#verdict = verdict;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    this.#verdict().then(
      () => callback(),
      (err: unknown) => callback(err as Error),
    );
  }
}

/** `gzip:1` (pg_dump's custom-format or plain-gzip compression), `none`, or `custom` (a method we do not parse). */
function describePgDumpCompression(extraArgs: readonly string[]): string {
  const level = pgDumpCompressionLevel(extraArgs);
  return level === 0 ? 'none' : level > 0 ? `gzip:${level}` : 'as in extraArgs';
}

/** Activities over a PostgreSQL server in a container: preflight, and dumps streamed to storage. */
export function createPostgresActivities({ docker, storeFor, ...chunkDeps }: PostgresActivityDeps) {
  /** The container's state and environment; a missing container is a preflight error. */
  async function containerInfo(name: string): Promise<{ running: boolean; status: string; env: string[] }> {
    try {
      const { state, env } = await inspectContainerWithEnv(docker, name);
      return { running: state.running, status: state.status, env };
    } catch (err) {
      if (err instanceof ContainerNotFoundError) {
        throw new PreflightError(`container "${name}" does not exist; nothing was dumped`);
      }
      throw err;
    }
  }

  async function connect(conn: Connection): Promise<Credentials> {
    const info = await containerInfo(conn.container);
    if (!info.running) {
      throw new PreflightError(
        `container "${conn.container}" is not running (status: ${info.status}); pg_dump runs inside the ` +
          'PostgreSQL container, so it must be up; nothing was dumped',
      );
    }
    try {
      return await resolveCredentials(conn, info.env);
    } catch (err) {
      if (err instanceof PasswordFileError) throw new PreflightError(err.message);
      throw err;
    }
  }

  async function capture(conn: Connection, creds: Credentials, cmd: string[]) {
    return execCapture(docker, conn.container, cmd, { user: conn.osUser, env: creds.env, timeoutMs: 60_000 });
  }

  /** Discovery through the first maintenance database that lets us in, as pg_dumpall does. */
  async function listDatabases(conn: Connection, creds: Credentials) {
    const candidates = [...MAINTENANCE_DATABASES];
    let lastError = '';
    for (const db of candidates) {
      const result = await capture(conn, creds, listDatabasesCommand(creds, db));
      if (result.exitCode === 0) {
        const version = await capture(conn, creds, serverVersionCommand(creds, db));
        return {
          databases: parseDatabaseList(result.stdout),
          serverVersion: version.stdout.trim() || 'unknown',
        };
      }
      lastError = pgErrorSummary(result.stderr);
    }
    throw new PreflightError(
      `cannot list the databases in container "${conn.container}" as OS user "${conn.osUser}"` +
        `${creds.dbUser ? ` and role "${creds.dbUser}"` : ''}: ${lastError}`,
    );
  }

  async function dumpToStorage(input: {
    plan: PostgresBackupPlan;
    creds: Credentials;
    recipients: string[];
    backupId: string;
    name: string;
    kind: 'database' | 'globals';
    source: string;
    format: StoredObject['format'];
    command: string[];
    details: Record<string, string>;
    /** Through the chunk store (postgres.storage: chunked): `name` is then the chunk index. */
    chunked: boolean;
  }): Promise<StoredObject> {
    const { plan } = input;
    const what =
      input.kind === 'globals' ? 'pg_dumpall --globals-only' : `pg_dump of database "${input.source}"`;
    const failed = (code: number, stderr: string) =>
      new PgDumpFailedError(
        `${what} in container "${plan.container}" failed with exit code ${code}: ${pgErrorSummary(stderr)}`,
      );
    const startedAt = new Date().toISOString();
    const progress = progressHeartbeat('dumping', input.source);
    let dump: ExecStreamResult | undefined;
    try {
      const options: SealOptions = {
        store: storeFor(plan.target),
        key: objectKey(plan.definition, input.backupId, input.name),
        compression: plan.compression,
        recipients: input.recipients,
        signal: progress.signal,
        onProgress: progress.update,
      };
      // The store is listed before pg_dump starts, which would otherwise wait on a full pipe meanwhile.
      const chunks = input.chunked
        ? await chunkWriterOptions({ ...options, ...(await chunkStoreSettings(plan.target, chunkDeps)) })
        : undefined;
      dump = await execStream(docker, plan.container, input.command, {
        user: plan.osUser,
        env: input.creds.env,
      });
      const running = dump;
      const checked = new ExitChecked(async () => {
        let code: number;
        try {
          code = await running.exitCode();
        } catch (err) {
          // The output was cut short (connection to the engine lost, or the exec still running):
          // not pg_dump's verdict, so another attempt may well succeed.
          throw new Error(
            `${what} in container "${plan.container}" did not finish cleanly: ${(err as Error).message}`,
            { cause: err },
          );
        }
        if (code !== 0) throw failed(code, running.stderrTail());
      });
      const feeding = pipeline(running.stdout, checked);
      feeding.catch(() => undefined); // a failure reaches sealAndStore through `checked`
      // Chunked, the index is written only after the last chunk, so after the zero exit too.
      const sealed = chunks
        ? chunkedObjectRecord(await chunkAndStore(checked, chunks))
        : await sealAndStore(checked, options);
      // Belt and braces: the upload only completes after a zero exit (ExitChecked); should that ever
      // not hold, the object goes at once (and the workflow's clean-up removes the whole backup).
      const code = await running.exitCode();
      if (code !== 0) {
        await storeFor(plan.target).deleteMany([objectKey(plan.definition, input.backupId, input.name)]);
        throw failed(code, running.stderrTail());
      }
      const messages = running.stderrTail().trim();
      if (messages) log.warn(`${what} succeeded with messages: ${pgErrorSummary(messages)}`);
      return {
        name: input.name,
        kind: input.kind,
        source: input.source,
        format: input.format,
        startedAt,
        finishedAt: new Date().toISOString(),
        ...sealed,
        details: input.details,
      };
    } catch (err) {
      // pg_dump's own account beats the stream error its death caused ("closed early", "truncated").
      if (err instanceof PgDumpFailedError || !dump) throw err;
      const code = await dump.exitCode().catch(() => undefined);
      if (code !== undefined && code !== 0) throw failed(code, dump.stderrTail());
      throw err;
    } finally {
      progress.stop();
    }
  }

  return {
    /**
     * Preflight: the container runs, PostgreSQL answers in it, the configured databases exist (all
     * missing ones named in one error). Returns the databases to dump: the configured list, or every
     * database that is not a template.
     */
    async inspectPostgres(input: {
      container: string;
      databases: string[] | 'all';
      osUser: string;
      dbUser?: string | undefined;
      passwordFile?: string | undefined;
    }): Promise<PostgresSource> {
      const creds = await connect(input);
      const ready = await capture(input, creds, pgIsReadyCommand(creds));
      if (ready.exitCode === 1) {
        // Starting up or shutting down: worth another attempt in a moment.
        throw new PostgresNotReadyError(
          `PostgreSQL in container "${input.container}" is rejecting connections (starting up or shutting down?): ${ready.stdout.trim()}`,
        );
      }
      if (ready.exitCode !== 0) {
        const said = `${ready.stdout} ${ready.stderr}`.trim();
        throw new PreflightError(
          ready.exitCode === 126 || ready.exitCode === 127
            ? `pg_isready cannot run in container "${input.container}" (is it a PostgreSQL container?): ${said}`
            : `PostgreSQL does not answer in container "${input.container}" (pg_isready exit code ${ready.exitCode}): ${said}`,
        );
      }
      const { databases: found, serverVersion } = await listDatabases(input, creds);
      const version = await capture(input, creds, pgDumpVersionCommand);
      const pgDumpVersion = parsePgDumpVersion(version.stdout);
      let databases: string[];
      if (input.databases === 'all') {
        databases = found.filter((d) => !d.template).map((d) => d.name);
      } else {
        const names = new Set(found.map((d) => d.name));
        const missing = input.databases.filter((d) => !names.has(d));
        if (missing.length > 0) {
          throw new PreflightError(
            `${missing.map((d) => `database "${d}"`).join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist ` +
              `in container "${input.container}" (it has: ${found
                .filter((d) => !d.template)
                .map((d) => d.name)
                .join(', ')}); nothing was dumped`,
          );
        }
        databases = [...input.databases];
      }
      log.info('postgres preflight', { container: input.container, databases, serverVersion, pgDumpVersion });
      return { databases, serverVersion, pgDumpVersion };
    },

    /**
     * pg_dump of one database, streamed from the container through compression and age to S3: one
     * object, or (postgres.storage: chunked) deduplicated chunks and their index.
     */
    async dumpDatabase(input: {
      plan: PostgresBackupPlan;
      recipients: string[];
      backupId: string;
      database: string;
      serverVersion: string;
      pgDumpVersion: string;
    }): Promise<StoredObject> {
      const { plan, database } = input;
      const creds = await connect(plan);
      const extraArgs = dumpExtraArgs(plan);
      const storage = plan.storage ?? 'object';
      return dumpToStorage({
        plan,
        creds,
        recipients: input.recipients,
        backupId: input.backupId,
        name: databaseObjectName(database, plan.format, extraArgs, plan.compression.algorithm, storage),
        kind: 'database',
        source: database,
        format: plan.format === 'custom' ? 'pg_dump-custom' : 'sql',
        command: pgDumpCommand(database, creds, plan.format, extraArgs),
        details: {
          database,
          serverVersion: input.serverVersion,
          pgDumpVersion: input.pgDumpVersion,
          pgDumpCompression: describePgDumpCompression(extraArgs),
        },
        chunked: storage === 'chunked',
      });
    },

    /** Roles and tablespaces (pg_dumpall --globals-only), as plain SQL for psql. */
    async dumpGlobals(input: {
      plan: PostgresBackupPlan;
      recipients: string[];
      backupId: string;
      serverVersion: string;
      pgDumpVersion: string;
    }): Promise<StoredObject> {
      const { plan } = input;
      const creds = await connect(plan);
      return dumpToStorage({
        plan,
        creds,
        recipients: input.recipients,
        backupId: input.backupId,
        name: globalsObjectName(plan.compression.algorithm),
        kind: 'globals',
        source: 'globals',
        format: 'sql',
        command: pgDumpAllGlobalsCommand(creds),
        details: { serverVersion: input.serverVersion, pgDumpVersion: input.pgDumpVersion },
        // A few KiB, written anew by every backup: nothing to share.
        chunked: false,
      });
    },
  };
}

export type PostgresActivities = ReturnType<typeof createPostgresActivities>;
