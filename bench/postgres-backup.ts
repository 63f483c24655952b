// Benchmark: dockvault's PostgreSQL dump-and-upload (the real CLI, worker and workflow) against the
// shell baseline `docker exec C pg_dump -Fc DB | age -r KEY > file`, on one database of about 1 GB
// (pgbench tables + a text-heavy table), all measured in the same run, alternating, two rounds:
//   default     pg_dump --compress=1 (gzip inside the container) -> age -> S3
//   zstd        pg_dump --compress=0 -> zstd 3 on the host -> age -> S3   (extraArgs: ['--compress=0'])
// and the worker's memory: VmRSS sampled during each run, and VmHWM (which includes the workflow
// bundling at start-up, before any backup).
// Usage: bash scripts/bench.sh postgres-backup [pgbench scale, default 40 (~950 MB)]
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

async function status(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1]) / 1024;
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
  console.log(
    `database size: ${(Number(size) / MB).toFixed(0)} MB; load average ${(await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')}`,
  );

  const def = (name: string, extraArgs: string[]) => ({
    name,
    type: 'postgresqldatabase',
    containers: [server],
    postgres: { databases: ['bench'], globals: false, extraArgs },
  });
  await env.writeConfig([def('default', []), def('zstd', ['--compress=0'])]);
  const worker = await env.startWorker();
  const pid = worker.child.pid!;
  const idleRss = await status(pid, 'VmRSS');

  async function baseline() {
    const out = join(env.dir, 'baseline.dump.age');
    const [, secs] = await timed(async () => {
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
    return { secs, stored: statSync(out).size };
  }

  async function dockvault(name: string) {
    let peak = 0;
    const sampler = setInterval(() => {
      status(pid, 'VmRSS').then(
        (v) => (peak = Math.max(peak, v)),
        () => undefined,
      );
    }, 100);
    const [result, secs] = await timed(() => runCli(['run', name, '--config', env.configPath]));
    clearInterval(sampler);
    if (result.code !== 0) throw new Error(`${result.stdout}${result.stderr}`);
    const ids = await env.store.listPrefixes(`${name}/`);
    const id = ids.at(-1)!.split('/')[1]!;
    const manifest = (await env.store.getJson(`${name}/${id}/manifest.json`)) as {
      objects: { plaintextBytes: number; storedBytes: number; startedAt: string; finishedAt: string }[];
    };
    const o = manifest.objects[0]!;
    const dumpSecs = (Date.parse(o.finishedAt) - Date.parse(o.startedAt)) / 1000;
    return { secs, dumpSecs, dumped: o.plaintextBytes, stored: o.storedBytes, peakRss: peak };
  }

  const rows: string[] = [];
  for (const round of [1, 2]) {
    const b = await baseline();
    const d = await dockvault('default');
    const z = await dockvault('zstd');
    rows.push(
      `round ${round}: baseline pg_dump -Fc | age        ${b.secs.toFixed(1)} s, ${(b.stored / MB).toFixed(1)} MB`,
      `round ${round}: dockvault default (-Z1, age)      ${d.secs.toFixed(1)} s run, ${d.dumpSecs.toFixed(1)} s dump+upload, ` +
        `${(d.dumped / MB).toFixed(0)} MB dumped, ${(d.stored / MB).toFixed(1)} MB stored, RSS peak ${d.peakRss.toFixed(0)} MiB; ` +
        `ratio ${(b.secs / d.secs).toFixed(2)}x (run) ${(b.secs / d.dumpSecs).toFixed(2)}x (dump+upload)`,
      `round ${round}: dockvault -Z0 + zstd 3 (age)      ${z.secs.toFixed(1)} s run, ${z.dumpSecs.toFixed(1)} s dump+upload, ` +
        `${(z.dumped / MB).toFixed(0)} MB dumped, ${(z.stored / MB).toFixed(1)} MB stored, RSS peak ${z.peakRss.toFixed(0)} MiB; ` +
        `ratio ${(b.secs / z.secs).toFixed(2)}x (run) ${(b.secs / z.dumpSecs).toFixed(2)}x (dump+upload)`,
    );
  }
  console.log('');
  for (const r of rows) console.log(r);
  console.log(
    `worker RSS idle after start ${idleRss.toFixed(0)} MiB, VmHWM (incl. workflow bundling at start) ${(await status(pid, 'VmHWM')).toFixed(0)} MiB`,
  );
  console.log('targets: ratio >= 0.9, RSS <= 250 MiB');
} finally {
  await pg.cleanup();
  await env.close();
}
