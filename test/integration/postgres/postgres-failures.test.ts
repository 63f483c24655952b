// Failures of a PostgreSQL backup: bad input fails the preflight with a clear message and uploads
// nothing; a pg_dump that fails (permission denied) or is killed mid-stream fails the run with
// pg_dump's own account and leaves no manifest, no object and no unfinished multipart upload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { PostgresFixtures, run } from '../../helpers/postgres-fixtures.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
const pg = new PostgresFixtures();
const nothing = { manifests: [], prefixes: [], uploads: 0 };

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await pg.cleanup();
  await env.close();
});

test('a missing database, a stopped or missing container: preflight errors naming them; nothing uploaded', async () => {
  const { tag } = env;
  const server = await pg.server(`${tag}-pg-pre`);
  await pg.sql(server, 'postgres', 'CREATE DATABASE shop');
  const stopped = await pg.server(`${tag}-pg-stopped`);
  await pg.docker.getContainer(stopped).stop({ t: 5 });
  await env.writeConfig([
    {
      name: 'missing-db',
      type: 'postgresqldatabase',
      containers: [server],
      postgres: { databases: ['shop', 'nope_db'] },
    },
    { name: 'stopped', type: 'postgresqldatabase', containers: [stopped] },
    { name: 'gone', type: 'postgresqldatabase', containers: [`${tag}-no-such-container`] },
  ]);
  await env.startWorker();

  const missing = await runCli(['run', 'missing-db', '--config', env.configPath]);
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(missing.stdout, /database "nope_db" does not exist in container/);
  assert.match(missing.stdout, /it has: postgres, shop/);

  const notRunning = await runCli(['run', 'stopped', '--config', env.configPath]);
  assert.equal(notRunning.code, 1, notRunning.stdout);
  assert.match(notRunning.stdout, new RegExp(`container "${stopped}" is not running \\(status: exited\\)`));

  const gone = await runCli(['run', 'gone', '--config', env.configPath]);
  assert.equal(gone.code, 1, gone.stdout);
  assert.match(gone.stdout, new RegExp(`container "${tag}-no-such-container" does not exist`));

  for (const def of ['missing-db', 'stopped', 'gone']) assert.deepEqual(await env.backups(def), nothing);
});

test('pg_dump denied a table (role with a password from a worker-side file): fails with its message, leaves nothing', async () => {
  const { tag } = env;
  // PGHOST in the container's environment: the dumping role logs in over TCP with a password.
  const server = await pg.server(`${tag}-pg-deny`, ['PGHOST=127.0.0.1']);
  const password = `pw-${tag}-secret`;
  await pg.sql(
    server,
    'postgres',
    `CREATE ROLE dumper LOGIN PASSWORD '${password}'; CREATE DATABASE shop OWNER postgres;`,
  );
  await pg.sql(
    server,
    'shop',
    `CREATE TABLE a_public (id int); INSERT INTO a_public SELECT generate_series(1, 1000);
     CREATE TABLE secret (s text); INSERT INTO secret VALUES ('x');
     GRANT SELECT ON a_public TO dumper; REVOKE ALL ON secret FROM dumper;`,
  );
  const passwordFile = join(env.dir, 'pg-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  await env.writeConfig([
    {
      name: 'denied',
      type: 'postgresqldatabase',
      containers: [server],
      postgres: { databases: ['shop'], globals: false, dbUser: 'dumper', passwordFile },
    },
  ]);
  await env.worker?.stop();
  await env.startWorker();
  const result = await runCli(['run', 'denied', '--config', env.configPath]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(
    result.stdout,
    /pg_dump of database "shop" in container .* failed with exit code 1: .*permission denied for table secret/,
  );
  assert.deepEqual(await env.backups('denied'), nothing);
  assert.equal(
    `${result.stdout}${result.stderr}${env.worker!.output()}`.includes(password),
    false,
    'password leaked',
  );
  const history = await run('bash', [
    '-c',
    `temporal workflow show --address ${process.env.TEMPORAL_ADDRESS} -w "$1" -o json 2>/dev/null || true`,
    'x',
    /started (\S+)/.exec(result.stdout)?.[1] ?? '',
  ]);
  assert.equal(history.stdout.includes(password), false, 'password in workflow history');
});

test('pg_dump killed mid-stream: the run fails with its exit status, no manifest, no unfinished upload', async () => {
  const { tag } = env;
  const server = await pg.server(`${tag}-pg-kill`);
  await pg.sql(server, 'postgres', 'CREATE DATABASE big');
  await pg.sql(
    server,
    'big',
    `CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 40) AS t FROM generate_series(1, 250000) g`,
  );
  await env.writeConfig([
    { name: 'killed', type: 'postgresqldatabase', containers: [server], postgres: { databases: ['big'] } },
  ]);
  await env.worker?.stop();
  await env.startWorker();
  const running = runCli(['run', 'killed', '--config', env.configPath]);
  const findDump = `for p in /proc/[0-9]*; do case "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" in "pg_dump --format"*) echo \${p#/proc/};; esac; done`;
  let pid = '';
  await waitFor(
    async () => {
      pid = (await run('docker', ['exec', server, 'sh', '-c', findDump])).stdout.trim();
      return pid !== '';
    },
    60_000,
    'pg_dump to start',
  );
  await new Promise((r) => setTimeout(r, 300));
  const kill = await run('docker', ['exec', server, 'sh', '-c', `kill -9 ${pid}`]);
  assert.equal(kill.code, 0, `kill failed (the dump ended first?): ${kill.stderr}`);
  const result = await running;
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, /pg_dump of database "big" in container .* failed with exit code 137/);
  assert.deepEqual(await env.backups('killed'), nothing);
});
