// A PostgreSQL restore that fails, on the real stack, with a sealed dump (the default storage) large
// enough that the restore is still streaming it when pg_restore stops: pg_restore failing early is
// reported with PostgreSQL's own error, not the closed pipe of the stream that fed it; a dump damaged
// in the middle fails the restore before anything is touched, and the database it would have replaced
// keeps its rows; a damaged globals object of a server with many roles creates none of them, also
// when the backup holds no database to restore (the globals alone). The tests run in order: the
// second damages the backup the first restores.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest, ManifestObject } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { flipBytes } from '../../helpers/flip-bytes.ts';
import { PostgresFixtures } from '../../helpers/postgres-fixtures.ts';
import { stack } from '../../helpers/stack-env.ts';
import { restoreCli, runBackup } from './helpers.ts';

// Definition names are workflow ids and S3 keys on the shared stack: unique to this run.
const PG = `pgf-${randomBytes(3).toString('hex')}`;
const OWNER = 'ledger_owner';
/** In the globals only: a restore that applied them would create it again. */
const READER = 'ledger_reader';

let env: BackupTestEnv;
const pg = new PostgresFixtures();
let source: string;
let manifest: Manifest;
let dump: ManifestObject;
let key: string;
const ledger = () => ({
  name: PG,
  type: 'postgresqldatabase',
  containers: [source],
  postgres: { databases: ['ledger'] },
});

/** What a restore that changed nothing leaves: the rows, including one added after the backup. */
const rowsOf = async (container: string) =>
  (
    await pg.sql(
      container,
      'ledger',
      `SELECT count(*) || ' ' || coalesce(md5(string_agg(id || ':' || md5(body), ',' ORDER BY id)), '-') FROM entries`,
    )
  ).trim();

before(async () => {
  env = await BackupTestEnv.create('pgf');
  source = await pg.server(`${env.tag}-src`);
  await pg.sql(
    source,
    'postgres',
    `CREATE ROLE ${OWNER} LOGIN; CREATE ROLE ${READER} LOGIN; CREATE DATABASE ledger OWNER ${OWNER};`,
  );
  // 80,000 rows of 1 KiB of random hex: pg_dump's compression halves it, about 45 MB stored, far more
  // than the pipes and buffers between the worker and pg_restore hold.
  await pg.sql(
    source,
    'ledger',
    `CREATE TABLE entries (id int PRIMARY KEY, body text NOT NULL);
     INSERT INTO entries SELECT g, string_agg(md5(random()::text), '') FROM generate_series(1, 80000) g,
       generate_series(1, 32) GROUP BY g;
     ALTER TABLE entries OWNER TO ${OWNER};`,
  );
  await env.writeConfig([ledger()]);
  await env.startWorker();
  manifest = await runBackup(env, PG);
  const found = manifest.objects.find((o) => o.kind === 'database' && o.source === 'ledger');
  assert.ok(found, `${manifest.backupId} holds ledger`);
  dump = found;
  assert.equal(dump.chunked, undefined, 'a sealed dump');
  assert.ok(dump.storedBytes > 30 * 1048576, `a dump of ${dump.storedBytes} bytes`);
  key = `${PG}/${manifest.backupId}/${dump.name}`;
});
after(async () => {
  await pg.cleanup();
  await env.close();
});

// A feeder that waits for room in a pipe nobody reads any more waits forever: fail instead.
test(
  "pg_restore failing early while the dump still streams: the restore reports pg_restore's error",
  { timeout: 180_000 },
  async () => {
    // Without the globals the owner of the database and its table does not exist there.
    const target = await pg.server(`${env.tag}-norole`);
    const result = await restoreCli(env, [PG, '--to-container', target, '--no-globals']);
    const said = result.stdout + result.stderr;
    assert.equal(result.code, 1, `${said}\n${env.worker!.output()}`);
    assert.ok(
      said.includes(`pg_restore of ${key} in container "${target}" failed with exit code 1:`),
      `names pg_restore, the object and the container: ${said}`,
    );
    assert.match(said, new RegExp(`role "${OWNER}" does not exist`));
    assert.doesNotMatch(said, /EPIPE|write after end|premature close|reads no more input/i);
  },
);

test('a sealed dump damaged in the middle: restore --clean fails naming it, and the database keeps its rows', async () => {
  await pg.sql(source, 'ledger', `INSERT INTO entries VALUES (0, 'after the backup')`);
  await pg.sql(source, 'postgres', `DROP ROLE ${READER}`);
  const rows = await rowsOf(source);
  assert.match(rows, /^80001 /);
  const file = join(stack.s3DataDir, stack.s3Bucket, env.tag, key);
  const size = (await stat(file)).size;
  assert.equal(size, dump.storedBytes);
  // Half way: pg_restore, fed as the dump is read, would by then have dropped the database and
  // refilled part of it.
  await flipBytes(file, Math.floor(size / 2));

  const result = await restoreCli(env, [PG, '--clean']);
  const said = result.stdout + result.stderr;
  assert.equal(result.code, 1, `${said}\n${env.worker!.output()}`);
  assert.equal(await rowsOf(source), rows, `the database keeps its rows: ${said}`);
  assert.equal(
    (await pg.sql(source, 'postgres', `SELECT count(*) FROM pg_roles WHERE rolname = '${READER}'`)).trim(),
    '0',
    'the globals were not restored',
  );
  // The manifest's sha256 tells, or first the checksum S3 stored with the object where it has one.
  assert.match(
    said,
    new RegExp(
      `${key.replace(/\./g, '\\.')}: (stored object does not match the manifest: sha256|stored bytes do not match: checksum mismatch).*; nothing was restored`,
    ),
  );
});

/**
 * A server with 1,500 roles backed up as the definition `${PG}-${name}` (dumping `databases`), its
 * globals object damaged half way, then restored into a new server: what the restore said, and how
 * many of the roles it created there.
 */
async function damagedGlobalsRestore(
  name: string,
  databases: string[],
  prepare: (container: string) => Promise<void> = async () => {},
) {
  const roles = await pg.server(`${env.tag}-${name}`);
  const many = `${PG}-${name}`;
  // Names and comments of random hex, so that compression leaves well over two age chunks (64 KiB of
  // plaintext each): psql would have run the first chunk's CREATE ROLEs by the time the damage came.
  await pg.sql(
    roles,
    'postgres',
    `DO $$ BEGIN FOR i IN 1..1500 LOOP
       EXECUTE format('CREATE ROLE %I LOGIN', 'many_' || i || '_' || md5(random()::text));
     END LOOP; END $$;
     DO $$ DECLARE r text; BEGIN FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'many\\_%' LOOP
       EXECUTE format('COMMENT ON ROLE %I IS %L', r, md5(random()::text) || md5(random()::text) || md5(random()::text));
     END LOOP; END $$;`,
  );
  await prepare(roles);
  await env.writeConfig([
    ledger(),
    { name: many, type: 'postgresqldatabase', containers: [roles], postgres: { databases } },
  ]);
  const backup = await runBackup(env, many);
  const globals = backup.objects.find((o) => o.kind === 'globals');
  assert.ok(globals, `${backup.backupId} holds the globals`);
  const file = join(stack.s3DataDir, stack.s3Bucket, env.tag, many, backup.backupId, globals.name);
  // Half way must lie past the first chunk (its header, 64 KiB and a 16-byte tag).
  assert.ok(globals.storedBytes > 2 * (65536 + 16) + 512, `globals of ${globals.storedBytes} bytes`);
  await flipBytes(file, Math.floor(globals.storedBytes / 2));

  const target = await pg.server(`${env.tag}-${name}-dst`);
  const result = await restoreCli(env, [many, '--to-container', target]);
  const said = result.stdout + result.stderr;
  const created = (
    await pg.sql(target, 'postgres', `SELECT count(*) FROM pg_roles WHERE rolname LIKE 'many\\_%'`)
  ).trim();
  assert.equal(result.code, 1, `${said}\n${env.worker!.output()}`);
  return { many, backup, said, created, target };
}

/** The restore of damagedGlobalsRestore failed naming the globals object, and created no role. */
function assertGlobalsRefused(many: string, backup: Manifest, said: string, created: string): void {
  const globals = backup.objects.find((o) => o.kind === 'globals')!;
  const globalsKey = `${many}/${backup.backupId}/${globals.name}`;
  assert.match(
    said,
    new RegExp(
      `${globalsKey.replace(/\./g, '\\.')}: (stored object does not match the manifest: sha256|stored bytes do not match: checksum mismatch).*; nothing was restored`,
    ),
    `${created} of 1500 roles created`,
  );
  assert.equal(created, '0', `roles created before the damage was found: ${said}`);
}

test('a globals object damaged after its first 64 KiB: the restore fails naming it, and no role is created', async () => {
  const { many, backup, said, created, target } = await damagedGlobalsRestore(
    'roles',
    ['notes'],
    async (roles) => {
      await pg.sql(roles, 'postgres', 'CREATE DATABASE notes;');
      await pg.sql(roles, 'notes', `CREATE TABLE n (v text); INSERT INTO n VALUES ('kept');`);
    },
  );
  assertGlobalsRefused(many, backup, said, created);
  assert.equal(
    (await pg.sql(target, 'postgres', `SELECT count(*) FROM pg_database WHERE datname = 'notes'`)).trim(),
    '0',
    'the database was not restored',
  );
});

// Nothing but the maintenance database is dumped, so no dump is restored: the globals are still
// checked whole before psql applies them.
test('a damaged globals object of a backup with no database to restore: the restore fails naming it, and no role is created', async () => {
  const { many, backup, said, created } = await damagedGlobalsRestore('globals-only', ['postgres']);
  assert.equal(
    backup.objects.filter((o) => o.kind === 'database' && o.source !== 'postgres').length,
    0,
    'no database but the maintenance one',
  );
  assertGlobalsRefused(many, backup, said, created);
});
