import { PassThrough, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type Docker from 'dockerode';
import { log } from '@temporalio/activity';
import { inspectContainerWithEnv } from '../docker/containers.ts';
import { ContainerNotFoundError } from '../docker/errors.ts';
import { execCapture, execWithStdin } from '../docker/exec.ts';
import { createDecompressor, type CompressionAlgorithm } from '../pipeline/compression.ts';
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
import { checkSealedObject, readBackupObject } from '../restore/read-object.ts';
import { SkipExistingRoles } from '../restore/pg-globals.ts';
import { checkIdentityMatches } from '../restore/select.ts';
import { isDefinite, verifyChunksOnce } from '../restore/verify-chunks.ts';
import { objectKey } from '../storage/layout.ts';
import type { ManifestObject } from '../storage/manifest.ts';
import { StorageError, type S3Target } from '../storage/store.ts';
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

/** The backup object is damaged or cannot be read from storage: that, not what it did downstream, is the error. */
function isDamage(err: unknown): boolean {
  return err instanceof CorruptBackupObjectError || err instanceof StorageError;
}

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

  /**
   * The object's plaintext (readBackupObject: sha256 or every chunk checked, decrypted) -> decompress
   * (a chunked object arrives decompressed, chunk by chunk) [-> more] -> a command's stdin in the container.
   */
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
    try {
      const sink = await execWithStdin(docker, input.conn.container, input.command, {
        user: input.conn.osUser,
        env: input.creds.env,
      });
      const plaintext = new PassThrough({ highWaterMark: 1024 * 1024 });
      const feeding = pipeline([
        plaintext,
        ...(input.object.chunked ? [] : [createDecompressor(input.compression)]),
        ...input.extra,
        sink.stdin,
      ]);
      const reading = readBackupObject({
        store: storeFor(input.target),
        key: input.key,
        object: input.object,
        compression: input.compression,
        identities,
        sink: plaintext,
        signal: progress.signal,
        onProgress: progress.update,
      });
      const [read, fed] = await Promise.allSettled([reading, feeding]);
      const failed = (exitCode: number, output: string) =>
        new ReaderFailedError(
          `${input.command[0] ?? ''} of ${input.key} in container "${input.conn.container}" failed with exit code ${exitCode}: ${pgErrorSummary(output)}`,
        );
      // What the object is (damaged, not the one in the manifest) first: the reader's failure follows
      // from it. A cancelled restore is cancelled, whatever the command said when its input stopped.
      const readFailed = read.status === 'rejected' && (isDamage(read.reason) || progress.signal.aborted);
      if (!readFailed && fed.status === 'rejected') {
        // pg_restore --exit-on-error (psql with ON_ERROR_STOP) stops reading at its first error, and
        // feeding it fails: why is in the command's output, not in the closed pipe.
        const ended = await sink.result.catch(() => undefined);
        if (ended && ended.exitCode !== 0) throw failed(ended.exitCode, ended.output);
      }
      const failure = read.status === 'rejected' ? read : fed.status === 'rejected' ? fed : undefined;
      if (failure) {
        sink.stdin.destroy();
        throw failure.reason;
      }
      const { exitCode, output } = await sink.result;
      if (exitCode !== 0) throw failed(exitCode, output);
      return output;
    } finally {
      progress.stop();
    }
  }

  /**
   * Every dump to restore, read whole before anything is restored: age authenticates 64 KiB at a
   * time, so by the time pg_restore reached damage in the middle of a dump it would have created and
   * half filled the database (with --clean, dropped the old one first). Chunked dumps: every chunk
   * read, authenticated and decompressed, each once. Sealed dumps: their stored bytes hashed against
   * the manifest's sha256 and length (docs/FORMAT.md, "Manifest versions": the sha256 of the stored
   * bytes). The globals, when given, are checked with them: psql applies each statement as it arrives
   * and goes on past errors, so damage after the first 64 KiB of a server with many roles would leave
   * the roles before it created. The manifest is not signed ("Integrity"): like age, this guards
   * against damage, not against a store that rewrites the object and the manifest. Damage fails the
   * restore naming each damaged object and what is wrong with it.
   */
  async function checkPostgresDumps(input: {
    plan: RestorePostgresPlan;
    backupId: string;
    compression: CompressionAlgorithm;
    items: PgRestoreItem[];
    /** The globals the restore will apply: none with --no-globals, nor from runs of earlier releases. */
    globals?: PgRestoreSource['globals'];
  }): Promise<void> {
    const { plan } = input;
    const store = storeFor(plan.target);
    const objects: { key: string; object: ManifestObject }[] = [
      ...(input.globals ? [input.globals] : []),
      ...input.items,
    ];
    const total = objects.reduce((n, i) => n + i.object.storedBytes, 0);
    const progress = progressHeartbeat('checking dumps', input.backupId, total);
    try {
      const damaged: string[] = [];
      const chunked = objects.filter((i) => i.object.chunked);
      let done = 0;
      if (chunked.length > 0) {
        const checked = await verifyChunksOnce({
          store,
          definition: plan.definition,
          items: chunked.map(({ object }) => ({
            backupId: input.backupId,
            compression: input.compression,
            object,
          })),
          identities: await loadIdentities(plan.identityFile),
          signal: progress.signal,
          onProgress: progress.update,
        });
        for (const o of checked.objects) {
          if (!o.ok)
            damaged.push(`${objectKey(plan.definition, o.backupId, o.name)}: ${o.error ?? 'damaged'}`);
        }
        done = chunked.reduce((n, i) => n + i.object.storedBytes, 0);
      }
      for (const { key, object } of objects.filter((i) => !i.object.chunked)) {
        const before = done;
        try {
          await checkSealedObject({
            store,
            key,
            object,
            signal: progress.signal,
            onProgress: (bytes) => progress.update(before + bytes),
          });
        } catch (err) {
          if (!isDefinite(err)) throw err;
          const message = (err as Error).message;
          damaged.push(message.startsWith(`${key}: `) ? message : `${key}: ${message}`);
        }
        done += object.storedBytes;
      }
      if (damaged.length > 0) {
        throw new CorruptBackupObjectError(`${damaged.join('; ')}; nothing was restored`);
      }
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

    checkPostgresDumps,
    /** The same check under the name that runs started by earlier releases schedule (chunked dumps only). */
    checkPostgresChunks: checkPostgresDumps,

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
