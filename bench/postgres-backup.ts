// Benchmark: dockvault's PostgreSQL dump-and-upload (the real workflow, CLI and worker) against the
// shell baseline `docker exec C pg_dump -Fc DB | age -r KEY > file`, on one database of about 1 GB
// (pgbench tables + a text-heavy table), measured in the same run; plus the worker's peak RSS.
// Usage: . .stack/env && node bench/postgres-backup.ts [pgbench scale, default 40 (~930 MB)]
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupTestEnv } from '../test/helpers/backup-env.ts';
import { PostgresFixtures, run } from '../test/helpers/postgres-fixtures.ts';
import { runCli } from '../test/helpers/worker-process.ts';

const scale = Number(process.argv[2] ?? 40);
const env = await BackupTestEnv.create();
const pg = new PostgresFixtures();
const MB = 1e6;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return [value, Number(process.hrtime.bigint() - start) / 1e9];
}

try {
  const server = await pg.server(`${env.tag}-pg-bench`);
  console.log(`filling database (pgbench scale ${scale} + text table)...`);
  await pg.sql(server, 'postgres', 'CREATE DATABASE bench');
  const init = await run('docker', [
    'exec',
    '-u',
    'postgres',
    server,
    'pgbench',
    '-i',
    '-q',
    '-s',
    String(scale),
    'bench',
  ]);
  if (init.code !== 0) throw new Error(init.stderr);
  await pg.sql(
    server,
    'bench',
    `CREATE TABLE docs AS SELECT g AS id, md5(g::text) || repeat(' lorem ipsum dolor sit amet ' || (g % 1000)::text || ' ', 12) AS body
       FROM generate_series(1, ${scale * 17500}) g; VACUUM ANALYZE;`,
  );
  const size = (await pg.sql(server, 'bench', "SELECT pg_database_size('bench')")).trim();
  console.log(`database size: ${(Number(size) / MB).toFixed(0)} MB`);

  // Baseline: pg_dump's own compression (gzip, -Z default) and the age CLI.
  const out = join(env.dir, 'baseline.dump.age');
  const [, baseline] = await timed(async () => {
    const r = await run('bash', [
      '-o',
      'pipefail',
      '-c',
      `docker exec -u postgres "$1" pg_dump -Fc bench | age -r "$2" > "$3"`,
      'x',
      server,
      env.recipient,
      out,
    ]);
    if (r.code !== 0) throw new Error(r.stderr);
  });
  const baselineBytes = statSync(out).size;

  await env.writeConfig([
    {
      name: 'bench',
      type: 'postgresqldatabase',
      containers: [server],
      postgres: { databases: ['bench'], globals: false },
    },
  ]);
  const worker = await env.startWorker();
  const [result, dockvault] = await timed(() => runCli(['run', 'bench', '--config', env.configPath]));
  if (result.code !== 0) throw new Error(`${result.stdout}${result.stderr}`);
  const status = await readFile(`/proc/${worker.child.pid}/status`, 'utf8');
  const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
  const id = (await env.store.listPrefixes('bench/'))[0]!.split('/')[1]!;
  const manifest = (await env.store.getJson(`bench/${id}/manifest.json`)) as {
    objects: { plaintextBytes: number; storedBytes: number }[];
  };
  const object = manifest.objects[0]!;

  console.log('');
  console.log(
    `baseline  pg_dump -Fc | age -r   ${baseline.toFixed(1)} s, ${(baselineBytes / MB).toFixed(1)} MB stored`,
  );
  console.log(
    `dockvault run (pg_dump -Fc -Z0 -> zstd -3 -> age -> S3)  ${dockvault.toFixed(1)} s (incl. CLI, preflight, manifest), ` +
      `${(object.plaintextBytes / MB).toFixed(0)} MB dumped, ${(object.storedBytes / MB).toFixed(1)} MB stored`,
  );
  console.log(
    `speed ratio (baseline time / dockvault time): ${(baseline / dockvault).toFixed(2)}x (target >= 0.9)`,
  );
  console.log(
    `size ratio (dockvault stored / baseline stored): ${(object.storedBytes / baselineBytes).toFixed(2)}`,
  );
  console.log(`worker peak RSS (VmHWM): ${(hwmKiB / 1024).toFixed(0)} MiB (target <= 250)`);
} finally {
  await pg.cleanup();
  await env.close();
}
