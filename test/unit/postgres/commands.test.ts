import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  databaseObjectName,
  dbnameConninfo,
  globalsObjectName,
  keySegmentFor,
  listDatabasesCommand,
  listRolesCommand,
  parseDatabaseList,
  parseNulRecords,
  parsePgDumpVersion,
  pgDumpAllGlobalsCommand,
  pgDumpCommand,
  pgErrorSummary,
  pgRestoreCommand,
  psqlScriptCommand,
  psqlStatementCommand,
  quoteIdentifier,
} from '../../../src/postgres/commands.ts';

describe('pg_dump command', () => {
  it('pg_dump compresses at level 1 by default, extra args come last before the database', () => {
    assert.deepEqual(pgDumpCommand('app', {}, 'custom', ['--no-owner']), [
      'pg_dump',
      '--format=custom',
      '--compress=1',
      '--no-owner',
      '--dbname',
      "dbname='app'",
    ]);
  });
  it('plain format, with a role', () => {
    assert.deepEqual(pgDumpCommand('app', { dbUser: 'backup' }, 'plain', []), [
      'pg_dump',
      '--format=plain',
      '--compress=1',
      '--username',
      'backup',
      '--dbname',
      "dbname='app'",
    ]);
  });
  it("the user's compression setting replaces ours", () => {
    assert.deepEqual(pgDumpCommand('app', {}, 'custom', ['-Z0']).slice(0, 3), [
      'pg_dump',
      '--format=custom',
      '-Z0',
    ]);
  });
  it('a database name is never read as connection parameters', () => {
    assert.equal(dbnameConninfo("it's a=b\\c"), "dbname='it\\'s a=b\\\\c'");
    assert.equal(dbnameConninfo('postgresql://evil'), "dbname='postgresql://evil'");
  });
  it('globals and discovery', () => {
    assert.deepEqual(pgDumpAllGlobalsCommand({ dbUser: 'u' }), [
      'pg_dumpall',
      '--globals-only',
      '--username',
      'u',
    ]);
    const list = listDatabasesCommand({}, 'postgres');
    assert.ok(list.includes('--record-separator-zero'));
    assert.equal(list.at(-3), "dbname='postgres'");
  });
});

describe('parsing', () => {
  it('database list: NUL-separated, templates flagged, names with newlines kept', () => {
    assert.deepEqual(parseDatabaseList('nbench\0nline\nbreak\0npostgres\0ttemplate1\0'), [
      { name: 'bench', template: false },
      { name: 'line\nbreak', template: false },
      { name: 'postgres', template: false },
      { name: 'template1', template: true },
    ]);
    assert.deepEqual(parseDatabaseList(''), []);
  });
  it('pg_dump version', () => {
    assert.equal(
      parsePgDumpVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n'),
      '15.18 (Debian 15.18-0+deb12u1)',
    );
  });
  it("error summary keeps pg_dump's error lines", () => {
    const stderr =
      'pg_dump: warning: something harmless\npg_dump: error: query failed: ERROR:  permission denied for table secret\npg_dump: detail: Query was: LOCK TABLE public.secret IN ACCESS SHARE MODE\n';
    assert.equal(
      pgErrorSummary(stderr),
      'pg_dump: error: query failed: ERROR:  permission denied for table secret',
    );
    assert.equal(pgErrorSummary(''), '(no output on stderr)');
    assert.equal(pgErrorSummary('only a line\n'), 'only a line');
  });
});

describe('object names', () => {
  it('one key segment per database, injective and safe', () => {
    assert.equal(keySegmentFor('app_db-1.x'), 'app_db-1.x');
    assert.equal(keySegmentFor('a/b'), 'a%2Fb');
    assert.equal(keySegmentFor('données'), 'donn%C3%A9es');
    assert.equal(keySegmentFor('..'), '%2E%2E');
    assert.equal(keySegmentFor('a%2Fb'), 'a%252Fb');
    assert.equal(databaseObjectName('app', 'custom', [], 'none'), 'databases/app.dump.age');
    assert.equal(databaseObjectName('app', 'custom', ['--compress=0'], 'zstd'), 'databases/app.dump.zst.age');
    assert.equal(databaseObjectName('app', 'plain', [], 'none'), 'databases/app.sql.gz.age');
    assert.equal(databaseObjectName('app', 'plain', ['-Z', '0'], 'zstd'), 'databases/app.sql.zst.age');
    assert.equal(
      databaseObjectName('app', 'custom', ['-Z0'], 'zstd', 'chunked'),
      'databases/app.dump.chunks',
    );
    assert.equal(
      databaseObjectName('a/b', 'plain', ['-Z0'], 'zstd', 'chunked'),
      'databases/a%2Fb.sql.chunks',
    );
    assert.equal(globalsObjectName('zstd'), 'globals.sql.zst.age');
  });
});

describe('restore commands', () => {
  it('pg_restore --create through the maintenance database, --clean on request', () => {
    assert.deepEqual(pgRestoreCommand({ dbUser: 'u' }, 'template1', false), [
      'pg_restore',
      '--create',
      '--exit-on-error',
      '--username',
      'u',
      '--dbname',
      "dbname='template1'",
    ]);
    assert.deepEqual(pgRestoreCommand({}, 'template1', true).slice(3, 5), ['--clean', '--if-exists']);
  });
  it('psql scripts: a dump stops at its first error, the globals go on', () => {
    assert.deepEqual(psqlScriptCommand({}, "it's", { stopOnError: true }), [
      'psql',
      '--no-psqlrc',
      '--quiet',
      '--set',
      'ON_ERROR_STOP=1',
      '--dbname',
      "dbname='it\\'s'",
    ]);
    assert.ok(!psqlScriptCommand({}, 'template1', { stopOnError: false }).includes('ON_ERROR_STOP=1'));
  });
  it('statements name a database as one quoted identifier', () => {
    assert.equal(quoteIdentifier('a"b; DROP'), '"a""b; DROP"');
    assert.deepEqual(psqlStatementCommand({ dbUser: 'u' }, 'template1', 'CREATE DATABASE "x"'), [
      'psql',
      '--no-psqlrc',
      '--username',
      'u',
      '--dbname',
      "dbname='template1'",
      '--command',
      'CREATE DATABASE "x"',
    ]);
  });
  it('roles come NUL-separated', () => {
    assert.equal(listRolesCommand({}, 'template1').at(-1), 'SELECT rolname FROM pg_roles');
    assert.deepEqual(parseNulRecords('postgres\0\napp\0'), ['postgres', 'app']);
  });
});
