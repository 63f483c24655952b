// `dockvault restore` of a PostgreSQL backup on the real stack: onto an empty server container (globals
// and databases), onto the same server (refused without --clean, replaced with it), and `verify`
// reading the dumps through pg_restore --list.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { PostgresFixtures, run } from '../../helpers/postgres-fixtures.ts';
import { join } from 'node:path';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { download, restoreCli, runBackup, verifyCli } from './helpers.ts';

let env: BackupTestEnv;
const pg = new PostgresFixtures();
let source: string;
let manifest: Manifest;
const expected: Record<string, { schema: string; data: Record<string, string> }> = {};
const DATABASES = ['shop', 'café'];

before(async () => {
  env = await BackupTestEnv.create();
  source = await pg.server(`${env.tag}-pg-src`);
  await pg.sql(
    source,
    'postgres',
    `CREATE ROLE reporter LOGIN PASSWORD 'reporter-pw'; CREATE DATABASE shop OWNER reporter; CREATE DATABASE "café";`,
  );
  await pg.sql(
    source,
    'shop',
    `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, note text);
     INSERT INTO customers (name, note) SELECT 'Kunde ' || g, 'Grüße ✓ ' || g FROM generate_series(1, 20000) g;
     CREATE VIEW few AS SELECT * FROM customers WHERE id < 10;
     SELECT lo_from_bytea(0, convert_to(repeat('large object ✓ ', 1000), 'UTF8'));
     GRANT SELECT ON customers TO reporter;`,
  );
  await pg.sql(source, 'café', `CREATE TABLE menu (dish text); INSERT INTO menu VALUES ('crème brûlée');`);
  for (const db of DATABASES) {
    expected[db] = { schema: await pg.schema(source, db), data: await pg.fingerprint(source, db) };
  }
  await env.writeConfig([{ name: 'pg', type: 'postgresqldatabase', containers: [source] }]);
  await env.startWorker();
  manifest = await runBackup(env, 'pg');
});
after(async () => {
  await pg.cleanup();
  await env.close();
});

async function matchesBackup(container: string) {
  for (const db of DATABASES) {
    assert.equal(await pg.schema(container, db), expected[db]!.schema, `schema of ${db} in ${container}`);
    assert.deepEqual(
      await pg.fingerprint(container, db),
      expected[db]!.data,
      `data of ${db} in ${container}`,
    );
  }
}

test('verify reads every dump through pg_restore', async () => {
  const result = await verifyCli(env, ['pg']);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /OK +pg\/\S+\/databases\/shop\.dump/);
  assert.match(result.stdout, /OK +pg\/\S+\/globals\.sql/);
});

test('restore onto an empty server container: roles, schema and data come back', async () => {
  const target = await pg.server(`${env.tag}-pg-dst`);
  const result = await restoreCli(env, ['pg', '--to-container', target]);
  assert.equal(
    result.code,
    0,
    `restore failed:\n${result.stdout}\n${result.stderr}\n${env.worker!.output()}`,
  );
  assert.match(result.stdout, /existing roles left alone: postgres/);
  await matchesBackup(target);
  assert.equal(
    (await pg.sql(target, 'postgres', `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'reporter'`)).trim(),
    't',
  );
  assert.equal(
    (
      await pg.sql(
        target,
        'postgres',
        `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'`,
      )
    ).trim(),
    'reporter',
  );
});

test('restore onto the same server: refused without --clean, replaced with it', async () => {
  await pg.sql(source, 'shop', `DELETE FROM customers WHERE id % 2 = 0; DROP VIEW few;`);
  await pg.sql(source, 'café', `INSERT INTO menu VALUES ('later');`);
  const refused = await restoreCli(env, ['pg']);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stdout, /database\(s\) café, shop already exist in container .*--clean/);
  assert.equal((await pg.sql(source, 'café', 'SELECT count(*) FROM menu')).trim(), '2', 'nothing changed');

  const result = await restoreCli(env, ['pg', '--clean']);
  assert.equal(
    result.code,
    0,
    `restore failed:\n${result.stdout}\n${result.stderr}\n${env.worker!.output()}`,
  );
  assert.match(result.stdout, /database shop into .* \(replaced\)/);
  await matchesBackup(source);
});

test('--database picks one; a database not in the backup is named', async () => {
  const bad = await restoreCli(env, ['pg', '--database', 'nope', '--clean']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /database\(s\) nope not in this backup; it holds .*shop/);
  await pg.sql(source, 'café', `DELETE FROM menu;`);
  const one = await restoreCli(env, ['pg', '--database', 'café', '--clean', '--no-globals']);
  assert.equal(one.code, 0, one.stdout + one.stderr);
  assert.deepEqual(await pg.fingerprint(source, 'café'), expected['café']!.data);
});

test('the documented manual restore (age -d | pg_restore --create) gives the same databases', async () => {
  const target = await pg.server(`${env.tag}-pg-manual`);
  await pg.sql(target, 'postgres', `CREATE ROLE reporter LOGIN`);
  for (const o of manifest.objects.filter((x) => x.kind === 'database' && x.source !== 'postgres')) {
    const stored = join(env.dir, o.name.replaceAll('/', '_'));
    await download(env, `pg/${manifest.backupId}/${o.name}`, stored);
    const r = await run('bash', [
      '-o',
      'pipefail',
      '-c',
      'age -d -i "$1" "$2" | docker exec -i -u postgres "$3" pg_restore --create --exit-on-error -d template1',
      'manual',
      env.identityPath,
      stored,
      target,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  await matchesBackup(target);
});
