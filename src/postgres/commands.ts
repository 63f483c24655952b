// The commands dockvault runs inside a PostgreSQL container, as argv arrays (no shell, no quoting):
// pure functions, so the exact pg_dump invocation is unit-tested and documented in one place.
import { compressionSuffix, type CompressionAlgorithm } from '../pipeline/compression.ts';
import type { DumpStorage } from '../plan/types.ts';
import { CHUNK_INDEX_SUFFIX } from '../storage/chunks.ts';
import { DEFAULT_PG_DUMP_COMPRESSION, pgDumpCompressionLevel, userCompressionLevel } from './compression.ts';

export interface ConnectionOptions {
  /** Database role (-U); unset: libpq's default (the OS user's name, or PGUSER in the container). */
  dbUser?: string | undefined;
}

export type DumpFormat = 'custom' | 'plain';

/** Databases tried, in order, for discovery and globals: the ones pg_dumpall itself falls back on. */
export const MAINTENANCE_DATABASES = ['postgres', 'template1'] as const;

/**
 * A libpq connection string naming only the database, so a database called `a=b` or
 * `postgresql://x` is taken as a name, never parsed as connection parameters.
 */
export function dbnameConninfo(database: string): string {
  return `dbname='${database.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function userArgs(conn: ConnectionOptions): string[] {
  return conn.dbUser ? ['--username', conn.dbUser] : [];
}

/** psql running one query, values only; `nulSeparated` ends each record with NUL (a name may hold a newline). */
function psqlQuery(
  conn: ConnectionOptions,
  database: string,
  sql: string,
  opts: { nulSeparated: boolean },
): string[] {
  return [
    'psql',
    '--no-psqlrc',
    '--no-align',
    '--tuples-only',
    ...(opts.nulSeparated ? ['--record-separator-zero'] : []),
    ...userArgs(conn),
    '--dbname',
    dbnameConninfo(database),
    '--command',
    sql,
  ];
}

export function pgIsReadyCommand(conn: ConnectionOptions): string[] {
  return ['pg_isready', ...userArgs(conn)];
}

/**
 * Every database that accepts connections, one NUL-terminated record each: a flag ('t' template,
 * 'n' not) followed by the name. NUL separators because a database name may contain newlines.
 */
export function listDatabasesCommand(conn: ConnectionOptions, maintenanceDb: string): string[] {
  return psqlQuery(
    conn,
    maintenanceDb,
    "SELECT CASE WHEN datistemplate THEN 't' ELSE 'n' END || datname FROM pg_database WHERE datallowconn ORDER BY datname",
    { nulSeparated: true },
  );
}

export function serverVersionCommand(conn: ConnectionOptions, maintenanceDb: string): string[] {
  return psqlQuery(conn, maintenanceDb, 'SHOW server_version', { nulSeparated: false });
}

export const pgDumpVersionCommand = ['pg_dump', '--version'];

/**
 * pg_dump of one database to stdout, compressed by pg_dump itself at level 1 unless extraArgs say
 * otherwise (see compression.ts for why). User extraArgs come last, before the database.
 */
export function pgDumpCommand(
  database: string,
  conn: ConnectionOptions,
  format: DumpFormat,
  extraArgs: readonly string[],
): string[] {
  return [
    'pg_dump',
    `--format=${format}`,
    ...(userCompressionLevel(extraArgs) === undefined ? [`--compress=${DEFAULT_PG_DUMP_COMPRESSION}`] : []),
    ...userArgs(conn),
    ...extraArgs,
    '--dbname',
    dbnameConninfo(database),
  ];
}

/** Roles (with their password hashes) and tablespaces: what a restore into a new cluster needs first. */
export function pgDumpAllGlobalsCommand(conn: ConnectionOptions): string[] {
  return ['pg_dumpall', '--globals-only', ...userArgs(conn)];
}

/** Every role's name, NUL-terminated: the roles a globals restore leaves as they are. */
export function listRolesCommand(conn: ConnectionOptions, maintenanceDb: string): string[] {
  return psqlQuery(conn, maintenanceDb, 'SELECT rolname FROM pg_roles', { nulSeparated: true });
}

/** Records from `--record-separator-zero` output (a role list): the values, in order. */
export function parseNulRecords(stdout: string): string[] {
  return stdout
    .split('\0')
    .map((r) => r.replace(/^\n/, ''))
    .filter((r) => r !== '');
}

/** A double-quoted SQL identifier: any name, quotes and all, stays one identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** One SQL statement run by psql in `database` (CREATE/DROP DATABASE from the maintenance database). */
export function psqlStatementCommand(conn: ConnectionOptions, database: string, sql: string): string[] {
  return ['psql', '--no-psqlrc', ...userArgs(conn), '--dbname', dbnameConninfo(database), '--command', sql];
}

/**
 * psql reading a SQL script (a plain dump, the globals) on stdin. `stopOnError` for a database's dump:
 * the first failed statement ends it; the globals go on past roles that cannot be created.
 */
export function psqlScriptCommand(
  conn: ConnectionOptions,
  database: string,
  opts: { stopOnError: boolean },
): string[] {
  return [
    'psql',
    '--no-psqlrc',
    '--quiet',
    ...(opts.stopOnError ? ['--set', 'ON_ERROR_STOP=1'] : []),
    ...userArgs(conn),
    '--dbname',
    dbnameConninfo(database),
  ];
}

/**
 * pg_restore of a custom-format dump on stdin: `--create` makes the database the dump names, connected
 * through `maintenanceDb`; `clean` drops it first.
 */
export function pgRestoreCommand(conn: ConnectionOptions, maintenanceDb: string, clean: boolean): string[] {
  return [
    'pg_restore',
    '--create',
    '--exit-on-error',
    ...(clean ? ['--clean', '--if-exists'] : []),
    ...userArgs(conn),
    '--dbname',
    dbnameConninfo(maintenanceDb),
  ];
}

/**
 * Reads a custom-format dump on stdin to its end without a server. Not --list: it stops after the
 * table of contents; rendering the whole archive as a script to /dev/null reads every table's data.
 */
export const pgRestoreReadCommand = ['pg_restore', '--file=/dev/null'];

/** Records from `psql --record-separator-zero --tuples-only`: the names, templates flagged. */
export function parseDatabaseList(stdout: string): { name: string; template: boolean }[] {
  return parseNulRecords(stdout)
    .filter((r) => r.length > 1)
    .map((r) => ({ name: r.slice(1), template: r.startsWith('t') }));
}

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` -> `15.18 (Debian 15.18-0+deb12u1)`. */
export function parsePgDumpVersion(stdout: string): string {
  const line = stdout.trim().split('\n')[0] ?? '';
  return line.replace(/^pg_dump \(PostgreSQL\)\s*/, '') || 'unknown';
}

/**
 * A database name as one object-key segment: unreserved characters stay, everything else (including
 * '/' and non-ASCII) is percent-encoded as UTF-8, so distinct names give distinct keys.
 */
export function keySegmentFor(database: string): string {
  const encoded = Array.from(Buffer.from(database, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_.-]/.test(c) && b < 0x80 ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return /^\.+$/.test(encoded) ? encoded.replaceAll('.', '%2E') : encoded;
}

/**
 * `databases/<db>.dump[.zst].age` (custom format: compressed inside, readable by pg_restore as is) or
 * `databases/<db>.sql.gz.age` / `.sql[.zst].age` (plain: pg_dump gzips the whole script when it
 * compresses); stored in chunks, the chunk index `databases/<db>.dump.chunks` / `.sql.chunks` (the
 * dump is raw, each chunk compressed on its own).
 */
export function databaseObjectName(
  database: string,
  format: DumpFormat,
  extraArgs: readonly string[],
  algorithm: CompressionAlgorithm,
  storage: DumpStorage = 'object',
): string {
  const segment = `databases/${keySegmentFor(database)}`;
  if (storage === 'chunked') return `${segment}.${format === 'custom' ? 'dump' : 'sql'}${CHUNK_INDEX_SUFFIX}`;
  const inner = format === 'custom' ? 'dump' : pgDumpCompressionLevel(extraArgs) === 0 ? 'sql' : 'sql.gz';
  return `${segment}.${inner}${compressionSuffix[algorithm]}.age`;
}

export function globalsObjectName(algorithm: CompressionAlgorithm): string {
  return `globals.sql${compressionSuffix[algorithm]}.age`;
}

/**
 * What pg_dump said went wrong: its `error:`/FATAL/ERROR lines (the last three), else the last
 * stderr lines. pg_dump never prints the password, so this is safe for an error message.
 */
export function pgErrorSummary(stderr: string, maxChars = 800): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => /\b(error|FATAL|ERROR|PANIC)\b:?/.test(l) || /^\s*DETAIL:/.test(l));
  const chosen = (errors.length > 0 ? errors : lines).slice(-3).join(' | ');
  return chosen.length > maxChars ? `...${chosen.slice(-maxChars)}` : chosen || '(no output on stderr)';
}
