// A PostgreSQL restore that fails, on the real stack, with a sealed dump (the default storage) large
// enough that the restore is still streaming it when pg_restore stops: pg_restore failing early is
// reported with PostgreSQL's own error, not the closed pipe of the stream that fed it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Manifest, ManifestObject } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { PostgresFixtures } from '../../helpers/postgres-fixtures.ts';
import { restoreCli, runBackup } from './helpers.ts';

// Definition names are workflow ids and S3 keys on the shared stack: unique to this run.
const PG = `pgf-${randomBytes(3).toString('hex')}`;
const OWNER = 'ledger_owner';

let env: BackupTestEnv;
const pg = new PostgresFixtures();
let source: string;
let manifest: Manifest;
let dump: ManifestObject;
let key: string;

before(async () => {
  env = await BackupTestEnv.create('pgf');
  source = await pg.server(`${env.tag}-src`);
  await pg.sql(source, 'postgres', `CREATE ROLE ${OWNER} LOGIN; CREATE DATABASE ledger OWNER ${OWNER};`);
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
  await env.writeConfig([
    { name: PG, type: 'postgresqldatabase', containers: [source], postgres: { databases: ['ledger'] } },
  ]);
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
