// pg_dump runs against a live server: writes that go on during the dump must not tear the backup.
// A loop commits transactions that each insert into two tables and move money between accounts;
// the restored database must hold equal row counts and the original balance sum (one snapshot).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
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

const WRITER = `DO $$ BEGIN
  FOR i IN 1..100000000 LOOP
    INSERT INTO ledger_a (v) VALUES (i);
    INSERT INTO ledger_b (v) VALUES (i);
    UPDATE accounts SET balance = balance - 7 WHERE id = 1 + i % 10;
    UPDATE accounts SET balance = balance + 7 WHERE id = 1 + (i + 3) % 10;
    COMMIT;
  END LOOP;
END $$;`;

const INVARIANT = `SELECT (SELECT count(*) FROM ledger_a) || ' ' || (SELECT count(*) FROM ledger_b) || ' ' || (SELECT sum(balance) FROM accounts)`;

test('writes committed during the dump: the restored database is one consistent snapshot', async () => {
  const { tag } = env;
  const source = await pg.server(`${tag}-pg-live`);
  await pg.sql(source, 'postgres', 'CREATE DATABASE bank');
  await pg.sql(
    source,
    'bank',
    `CREATE TABLE ledger_a (id bigserial PRIMARY KEY, v int);
     CREATE TABLE ledger_b (id bigserial PRIMARY KEY, v int);
     CREATE TABLE accounts (id int PRIMARY KEY, balance bigint);
     INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 10) g;
     CREATE TABLE m_filler AS SELECT g, repeat(md5(g::text), 20) AS t FROM generate_series(1, 200000) g;`,
  );
  const writer = spawn('docker', ['exec', '-i', '-u', 'postgres', source, 'psql', '-X', '-q', '-d', 'bank'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  writer.stdin.end(WRITER);
  try {
    const count = async () => Number((await pg.sql(source, 'bank', 'SELECT count(*) FROM ledger_a')).trim());
    while ((await count()) < 200) await new Promise((r) => setTimeout(r, 200));
    await env.writeConfig([
      { name: 'bank', type: 'postgresqldatabase', containers: [source], postgres: { databases: ['bank'] } },
    ]);
    await env.startWorker();
    const result = await runCli(['run', 'bank', '--config', env.configPath]);
    assert.equal(result.code, 0, `run failed:\n${result.stdout}\n${result.stderr}\n${env.worker!.output()}`);
  } finally {
    writer.kill('SIGKILL');
    await run('docker', [
      'exec',
      source,
      'sh',
      '-c',
      'su postgres -c "psql -X -q -c \\"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \'bank\' AND pid <> pg_backend_pid()\\""',
    ]);
  }
  const [a, b, sum] = (await pg.sql(source, 'bank', INVARIANT)).trim().split(' ').map(Number);
  assert.equal(a, b);
  assert.equal(sum, 10_000);

  const id = (await env.store.listPrefixes('bank/'))[0]!.split('/')[1]!;
  const manifest = (await env.store.getJson(manifestKey('bank', id))) as Manifest;
  const object = manifest.objects.find((o) => o.kind === 'database')!;
  assert.equal(object.name, 'databases/bank.dump.age');
  const stored = join(env.dir, 'bank.dump.age');
  await pipeline(await env.store.get(`bank/${id}/${object.name}`), createWriteStream(stored));
  const target = await pg.server(`${tag}-pg-live-restore`);
  const restore = await run('bash', [
    '-o',
    'pipefail',
    '-c',
    `age -d -i "$1" "$2" | docker exec -i -u postgres "$3" pg_restore --create --exit-on-error -d postgres`,
    'x',
    env.identityPath,
    stored,
    target,
  ]);
  assert.equal(restore.code, 0, restore.stderr);
  const [ra, rb, rsum] = (await pg.sql(target, 'bank', INVARIANT)).trim().split(' ').map(Number);
  assert.ok(ra! >= 200, `restored ${ra} ledger rows`);
  assert.equal(ra, rb, 'both tables of every transaction, or neither');
  assert.equal(rsum, 10_000, 'balances sum to the original total');
  assert.ok(a! > ra!, `writes went on after the snapshot (${a} now, ${ra} restored)`);
});
