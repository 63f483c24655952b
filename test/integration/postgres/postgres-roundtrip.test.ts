// A PostgreSQL backup end to end on the real stack: `dockvault run` dumps every database and the
// globals of a live server (not stopped), then each stored object is opened with the reference tools
// (age, zstd) and restored with psql/pg_restore into a fresh server: same schema, same data, same roles.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { manifestKey } from '../../../src/storage/layout.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { PostgresFixtures, run } from '../../helpers/postgres-fixtures.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
const pg = new PostgresFixtures();

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await pg.cleanup();
  await env.close();
});

/** The manual restore's first steps, as the README gives them: age, then zstd/gunzip by file name. */
function decryptCommand(name: string): string {
  const steps = ['age -d -i "$1" "$2"'];
  if (name.endsWith('.zst.age')) steps.push('zstd -d');
  if (name.endsWith('.gz.age')) steps.push('gzip -d');
  return steps.join(' | ');
}

async function onlyBackup(definition: string): Promise<Manifest> {
  const prefixes = await env.store.listPrefixes(`${definition}/`);
  assert.equal(prefixes.length, 1, `expected one backup of ${definition}, found ${prefixes.join(', ')}`);
  const id = prefixes[0]!.replace(/\/$/, '').split('/').pop()!;
  return (await env.store.getJson(manifestKey(definition, id))) as Manifest;
}

const SHOP = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, note text);
CREATE INDEX customers_lower_name ON customers (lower(name));
INSERT INTO customers (name, email, note)
  SELECT 'Kunde ' || g, 'c' || g || '@example.org', CASE WHEN g % 7 = 0 THEN 'Grüße, 日本語 ✓ — ' || g END
  FROM generate_series(1, 50000) g;
CREATE SEQUENCE invoice_no START 1000;
SELECT setval('invoice_no', 4242);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, amount numeric(12,2),
  placed_at timestamptz, payload jsonb);
INSERT INTO orders (customer_id, amount, placed_at, payload)
  SELECT 1 + g % 50000, (g % 10000) / 100.0, '2026-01-01'::timestamptz + g * interval '1 minute',
         jsonb_build_object('g', g, 'tag', 'ü' || g % 13)
  FROM generate_series(1, 300000) g;
CREATE INDEX orders_placed_at ON orders (placed_at);
CREATE VIEW big_spenders AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id HAVING sum(amount) > 1000;
CREATE FUNCTION order_total(c int) RETURNS numeric LANGUAGE sql STABLE
  AS $$ SELECT coalesce(sum(amount), 0) FROM orders WHERE customer_id = c $$;
SELECT lo_from_bytea(0, convert_to(repeat('large object ✓ ', 10000), 'UTF8'));
GRANT SELECT ON orders TO reporter;
`;

const ANALYTICS = `
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text, body text, at timestamptz DEFAULT '2026-02-03');
INSERT INTO events (kind, body) SELECT 'kind-' || g % 17, repeat('ñandú ' || g, 3) FROM generate_series(1, 120000) g;
CREATE MATERIALIZED VIEW events_per_kind AS SELECT kind, count(*) FROM events GROUP BY kind;
`;

test('all databases and globals of a live server: back up, decrypt with age, restore with pg_restore, compare', async () => {
  const { tag } = env;
  const marker = `DOCKVAULT-PLAINTEXT-MARKER-${tag}`;
  const source = await pg.server(`${tag}-pg-src`);
  await pg.sql(
    source,
    'postgres',
    `CREATE ROLE reporter LOGIN PASSWORD 'reporter-pw';
    CREATE DATABASE shop; CREATE DATABASE analytics; CREATE DATABASE "café";`,
  );
  await pg.sql(
    source,
    'shop',
    `${SHOP}\nCREATE TABLE notes (t text); INSERT INTO notes VALUES ('${marker}');`,
  );
  await pg.sql(source, 'analytics', ANALYTICS);
  await pg.sql(
    source,
    'café',
    `CREATE TABLE menu (dish text); INSERT INTO menu VALUES ('crème brûlée'), ('${marker}');`,
  );
  const startedAt = (await pg.docker.getContainer(source).inspect()).State.StartedAt;

  await env.writeConfig([{ name: 'pg', type: 'postgresqldatabase', containers: [source] }]);
  await env.startWorker();
  const result = await runCli(['run', 'pg', '--config', env.configPath]);
  assert.equal(
    result.code,
    0,
    `run failed:\n${result.stdout}\n${result.stderr}\nworker:\n${env.worker!.output()}`,
  );
  assert.match(result.stdout, /OK +pg/);
  assert.equal(
    (await pg.docker.getContainer(source).inspect()).State.StartedAt,
    startedAt,
    'the server was never stopped',
  );

  const manifest = await onlyBackup('pg');
  assert.equal(manifest.type, 'postgresqldatabase');
  assert.equal(manifest.downtimeMs, 0);
  assert.deepEqual(manifest.containers, { stopped: [], notRunning: [] });
  assert.deepEqual(
    manifest.objects.map((o) => [o.kind, o.source, o.name, o.format]),
    [
      ['globals', 'globals', 'globals.sql.age', 'sql'],
      ['database', 'analytics', 'databases/analytics.dump.age', 'pg_dump-custom'],
      ['database', 'café', 'databases/caf%C3%A9.dump.age', 'pg_dump-custom'],
      ['database', 'postgres', 'databases/postgres.dump.age', 'pg_dump-custom'],
      ['database', 'shop', 'databases/shop.dump.age', 'pg_dump-custom'],
    ],
  );
  assert.deepEqual(
    manifest.compression,
    { algorithm: 'none' },
    'pg_dump compressed, dockvault only encrypted',
  );
  for (const o of manifest.objects) {
    assert.match(String(o.details?.serverVersion), /^15\./);
    assert.match(String(o.details?.pgDumpVersion), /^15\./);
    if (o.kind === 'database') {
      assert.equal(o.details?.database, o.source);
      assert.equal(o.details?.pgDumpCompression, 'gzip:1');
    }
  }

  // A fresh server to restore into, reached over TCP with a password, like a real restore host.
  const target = await pg.server(`${tag}-pg-dst`);
  await pg.sql(target, 'postgres', `ALTER ROLE postgres PASSWORD 'restore-pw'`);
  const host = await pg.ip(target);
  const conn = ['-h', host, '-U', 'postgres'];
  process.env.PGPASSWORD = 'restore-pw';
  for (const o of manifest.objects) {
    const stored = join(env.dir, o.name.replaceAll('/', '_'));
    await pipeline(await env.store.get(`pg/${manifest.backupId}/${o.name}`), createWriteStream(stored));
    const bytes = await readFile(stored);
    assert.equal(bytes.length, o.storedBytes);
    assert.equal(bytes.includes(marker), false, `plaintext marker found in stored object ${o.name}`);
    const decrypt = decryptCommand(o.name);
    if (o.kind === 'globals') {
      // pg_dumpall's CREATE ROLE postgres fails on any server (it exists): the documented, harmless error.
      const r = await run('bash', [
        '-o',
        'pipefail',
        '-c',
        `${decrypt} | psql -X -q -d postgres ${conn.join(' ')}`,
        'x',
        env.identityPath,
        stored,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const errors = r.stderr.split('\n').filter((l) => l.includes('ERROR'));
      assert.deepEqual(errors, ['ERROR:  role "postgres" already exists'], r.stderr);
    } else if (o.source !== 'postgres') {
      const r = await run('bash', [
        '-o',
        'pipefail',
        '-c',
        `${decrypt} | pg_restore --create --exit-on-error -d postgres ${conn.join(' ')}`,
        'x',
        env.identityPath,
        stored,
      ]);
      assert.equal(r.code, 0, `pg_restore of ${o.source} failed: ${r.stderr}`);
    }
  }

  for (const db of ['shop', 'analytics', 'café']) {
    assert.equal(await pg.schema(target, db), await pg.schema(source, db), `schema of ${db} differs`);
    assert.deepEqual(
      await pg.fingerprint(target, db),
      await pg.fingerprint(source, db),
      `data of ${db} differs`,
    );
  }
  const fp = await pg.fingerprint(target, 'shop');
  assert.match(fp['public.orders']!, /^300000 /);
  assert.match(fp['(large objects)']!, /^1 /);
  // The role came back with its password and its grant.
  const login = await run('bash', [
    '-c',
    `PGPASSWORD=reporter-pw psql -X -At -h ${host} -U reporter -d shop -c 'SELECT count(*) FROM orders'`,
  ]);
  assert.equal(login.stdout.trim(), '300000', login.stderr);
  delete process.env.PGPASSWORD;
});

test('plain SQL with dockvault compressing (extraArgs --compress=0): age -d | zstd -d | psql restores it', async () => {
  const { tag } = env;
  const source = await pg.server(`${tag}-pg-plain`);
  await pg.sql(source, 'postgres', 'CREATE DATABASE shop');
  await pg.sql(source, 'shop', SHOP.replace('GRANT SELECT ON orders TO reporter;', ''));
  await env.writeConfig([
    {
      name: 'plain',
      type: 'postgresqldatabase',
      containers: [source],
      postgres: { databases: ['shop'], globals: false, format: 'plain', extraArgs: ['--compress=0'] },
    },
  ]);
  await env.worker?.stop();
  await env.startWorker();
  const result = await runCli(['run', 'plain', '--config', env.configPath]);
  assert.equal(result.code, 0, `run failed:\n${result.stdout}\n${result.stderr}\n${env.worker!.output()}`);
  const manifest = await onlyBackup('plain');
  assert.equal(manifest.compression.algorithm, 'zstd');
  const [object] = manifest.objects;
  assert.equal(object?.name, 'databases/shop.sql.zst.age');
  assert.equal(object.format, 'sql');
  const stored = join(env.dir, 'plain-shop.sql.zst.age');
  await pipeline(await env.store.get(`plain/${manifest.backupId}/${object.name}`), createWriteStream(stored));
  const target = await pg.server(`${tag}-pg-plain-dst`);
  await pg.sql(target, 'postgres', 'CREATE DATABASE shop');
  const r = await run('bash', [
    '-o',
    'pipefail',
    '-c',
    `${decryptCommand(object.name)} | docker exec -i -u postgres "$3" psql -X -q -v ON_ERROR_STOP=1 -d shop`,
    'x',
    env.identityPath,
    stored,
    target,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await pg.schema(target, 'shop'), await pg.schema(source, 'shop'));
  assert.deepEqual(await pg.fingerprint(target, 'shop'), await pg.fingerprint(source, 'shop'));
});
