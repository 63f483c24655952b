// PostgreSQL dumps through the chunk store: does an uncompressed custom-format dump, cut by the content
// chunker and stored once per chunk, store less over a week than today's one sealed object per backup?
// One database of about MB megabytes (an append-only events table with jsonb and text, a users table
// updated in place, an items table with three indexes) gets DAYS daily changes of one pattern:
//   append     1% new rows appended to events, 0.1% of the users updated
//   scattered  1% of the rows of events (the big table) updated at random
// After each change (and the VACUUM ANALYZE a day's autovacuum would do) it takes, one after another,
// through Docker's exec API as dockvault reads a dump:
//   (a) today's dump: pg_dump --format=custom --compress=1, age-encrypted (what dockvault stores);
//       also cut into chunks as is, to show whether a compressed dump deduplicates at all
//   (b) pg_dump --format=custom --compress=0, cut by ContentChunker (FastCDC 512 KiB/1 MiB/8 MiB),
//       chunks named by chunkName with a fixed key; chunks not seen on an earlier day (or earlier in
//       the same dump) are sealed as the chunk store seals them (zstd 3 with checksum, then age)
//   (p) pg_dump --format=plain --compress=0, chunked and sealed the same way
// Nothing is uploaded: "stored" is the bytes the store would hold (sealed objects, chunk indexes).
// Per day: dump wall time, bytes stored by (a), new chunks and their sealed bytes for (b) and (p), the
// chunker's CPU (cut + HMAC, main thread), the wall time of sealing the new chunks and this process's
// CPU per dump; then the totals after DAYS days and the ratios against (a) measured in the same run.
// Usage: . .stack/env && flock -x /work/heavy.lock node bench/pg-dump-dedup.ts [append|scattered|both] [MB=300] [DAYS=7]
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import Docker from 'dockerode';
import { execStream } from '../src/docker/exec.ts';
import { createEncryptStream } from '../src/pipeline/age/encrypt.ts';
import { generateIdentity, parseRecipient } from '../src/pipeline/age/keys.ts';
import { chunkName } from '../src/pipeline/chunk-writer.ts';
import type { CompressionAlgorithm } from '../src/pipeline/compression.ts';
import { ContentChunker } from '../src/pipeline/content-chunker.ts';
import { pgDumpCommand, type DumpFormat } from '../src/postgres/commands.ts';
import { formatChunkIndex, type ChunkRef } from '../src/storage/chunks.ts';
import { PostgresFixtures } from '../test/helpers/postgres-fixtures.ts';

const patterns = (process.argv[2] ?? 'both') === 'both' ? ['append', 'scattered'] : [process.argv[2]!];
const TARGET_MB = Number(process.argv[3] ?? 300);
const DAYS = Number(process.argv[4] ?? 7);
for (const p of patterns) if (p !== 'append' && p !== 'scattered') throw new Error(`unknown pattern ${p}`);
if (!process.env.DOCKVAULT_POSTGRES_IMAGE)
  throw new Error("DOCKVAULT_POSTGRES_IMAGE is not set: '. .stack/env'");

const tag = `pgd-${randomBytes(3).toString('hex')}`;
const docker = new Docker();
const pg = new PostgresFixtures();
const MiB = 1024 * 1024;
const zstdCompress = promisify(zlib.zstdCompress);
const recipient = parseRecipient(generateIdentity().recipient);
// Fixed, so that a rerun names the same chunks (any key would deduplicate the same way).
const DEDUP_KEY = Buffer.alloc(32, 7);
// As the chunk writer: this many chunks sealing at once.
const PARALLEL = 2;

// Rows per MB of database on disk (tables + indexes), measured with this schema: 62% events, 22% users,
// 16% items.
const EVENTS_PER_MB = 2115;
const USERS_PER_MB = 595;
const ITEMS_PER_MB = 810;
const counts = {
  events: Math.round(TARGET_MB * EVENTS_PER_MB),
  users: Math.round(TARGET_MB * USERS_PER_MB),
  items: Math.round(TARGET_MB * ITEMS_PER_MB),
};

/** n events after the last one: structured jsonb (repeated keys, few distinct values) and some free text. */
function eventRows(n: number): string {
  return `INSERT INTO events (at, kind, user_id, payload, note)
    SELECT timestamptz '2026-01-01' + (s.base + g) * interval '1 second',
      (ARRAY['view','click','buy','login','logout','error'])[1 + floor(random() * 6)::int],
      1 + floor(random() * ${counts.users})::int,
      jsonb_build_object('path', '/shop/item/' || floor(random() * 5000)::int,
        'ip', '10.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int,
        'ua', (ARRAY['Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0','Mozilla/5.0 (Windows NT 10.0) Chrome/131.0','curl/8.5.0'])[1 + floor(random() * 3)::int],
        'ms', floor(random() * 2000)::int, 'session', md5(random()::text), 'ok', random() < 0.97),
      CASE WHEN random() < 0.3 THEN 'customer wrote: ' || repeat(md5(random()::text) || ' ', 1 + floor(random() * 4)::int) END
    FROM (SELECT coalesce(max(id), 0) AS base FROM events) s, generate_series(1, ${n}) g;`;
}

const BUILD = `SELECT setseed(0.5);
  CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, user_id int NOT NULL, payload jsonb NOT NULL, note text);
  ${eventRows(counts.events)}
  CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, balance numeric(12,2) NOT NULL,
    updated_at timestamptz NOT NULL, profile jsonb NOT NULL);
  INSERT INTO users SELECT g, 'user ' || g || ' ' || substr(md5(g::text), 1, 8), 'u' || g || '@example.' || (ARRAY['com','org','net'])[1 + g % 3],
    round((random() * 10000)::numeric, 2), timestamptz '2025-06-01' + g * interval '1 minute',
    jsonb_build_object('lang', (ARRAY['en','de','fr','es'])[1 + g % 4], 'newsletter', g % 5 = 0, 'bio', repeat(md5((g * 7)::text), 2))
    FROM generate_series(1, ${counts.users}) g;
  CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL UNIQUE, category int NOT NULL, price numeric(10,2) NOT NULL, descr text NOT NULL);
  INSERT INTO items SELECT g, 'SKU-' || lpad(g::text, 9, '0'), floor(random() * 200)::int, round((random() * 500)::numeric, 2),
    'item ' || g || ' ' || md5(g::text) || ' in stock' FROM generate_series(1, ${counts.items}) g;
  CREATE INDEX items_category ON items (category);
  CREATE INDEX items_price ON items (price);
  CREATE INDEX events_user ON events (user_id);
  VACUUM ANALYZE;`;

/** Random ids of a table, n of them, as a subquery (duplicates only make the change a little smaller). */
const randomIds = (n: number, of: number) =>
  `SELECT 1 + floor(random() * ${of})::bigint FROM generate_series(1, ${Math.max(1, Math.round(n))})`;

function dailyChange(pattern: string, day: number): string {
  const at = `timestamptz '2026-02-01' + interval '${day} days'`;
  const change =
    pattern === 'append'
      ? `${eventRows(Math.round(counts.events * 0.01))}
         UPDATE users SET balance = balance + 1.25, updated_at = ${at} WHERE id IN (${randomIds(counts.users * 0.001, counts.users)});`
      : `UPDATE events SET payload = payload || jsonb_build_object('status', 'reviewed', 'day', ${day})
           WHERE id IN (${randomIds(counts.events * 0.01, counts.events)});`;
  return `SELECT setseed(${day / 100}); ${change} VACUUM ANALYZE;`;
}

interface ChunkStats {
  chunks: number;
  newChunks: number;
  newPlainBytes: number;
  /** Sealed bytes of the new chunks plus this dump's chunk index. */
  newStored: number;
  /** Main-thread time in the chunker and chunkName. */
  cutMs: number;
  /** Wall time of sealing each new chunk, summed (zstd on libuv's pool, age here; PARALLEL at once). */
  sealMs: number;
}

/** A chunk store seen from one stream of dumps: the chunk names stored so far. */
class ChunkTally {
  readonly seen = new Set<string>();
  stored = 0;
  readonly algorithm: CompressionAlgorithm;
  constructor(algorithm: CompressionAlgorithm) {
    this.algorithm = algorithm;
  }

  /** A Writable that chunks what it is given, sealing new chunks as the chunk writer would. */
  sink(): { writable: Writable; stats: ChunkStats } {
    const chunker = new ContentChunker();
    const stats: ChunkStats = {
      chunks: 0,
      newChunks: 0,
      newPlainBytes: 0,
      newStored: 0,
      cutMs: 0,
      sealMs: 0,
    };
    const refs: ChunkRef[] = [];
    const inFlight = new Set<Promise<void>>();
    const take = async (chunk: Buffer) => {
      const t0 = performance.now();
      const name = chunkName(DEDUP_KEY, this.algorithm, chunk);
      stats.cutMs += performance.now() - t0;
      stats.chunks++;
      const ref: ChunkRef = { name, plaintextBytes: chunk.length, storedBytes: 0 };
      refs.push(ref);
      if (this.seen.has(name)) return;
      this.seen.add(name);
      stats.newChunks++;
      stats.newPlainBytes += chunk.length;
      const task = this.seal(chunk).then(({ bytes, ms }) => {
        ref.storedBytes = bytes;
        stats.newStored += bytes;
        stats.sealMs += ms;
      });
      inFlight.add(task);
      void task.finally(() => inFlight.delete(task));
      while (inFlight.size >= PARALLEL) await Promise.race(inFlight);
    };
    const writable = new Writable({
      write: (data: Buffer, _enc, callback) => {
        const t0 = performance.now();
        const done = chunker.push(data);
        stats.cutMs += performance.now() - t0;
        (async () => {
          for (const c of done) await take(c);
        })().then(() => callback(), callback);
      },
      final: (callback) => {
        const last = chunker.end();
        (async () => {
          if (last) await take(last);
          await Promise.all(inFlight);
          stats.newStored += formatChunkIndex(refs).length;
          this.stored += stats.newStored;
        })().then(() => callback(), callback);
      },
    });
    return { writable, stats };
  }

  private async seal(chunk: Buffer): Promise<{ bytes: number; ms: number }> {
    const t0 = performance.now();
    const compressed =
      this.algorithm === 'zstd'
        ? await zstdCompress(chunk, {
            params: {
              [zlib.constants.ZSTD_c_compressionLevel]: 3,
              [zlib.constants.ZSTD_c_checksumFlag]: 1,
            },
          })
        : chunk;
    const sealed = await buffer(Readable.from([compressed]).pipe(createEncryptStream([recipient])));
    return { bytes: sealed.length, ms: performance.now() - t0 };
  }
}

/** Counts what passes (the age-encrypted (a) object). */
function counter(): { writable: Writable; bytes: () => number } {
  let n = 0;
  return {
    writable: new Writable({
      write: (d: Buffer, _e, cb) => {
        n += d.length;
        cb();
      },
    }),
    bytes: () => n,
  };
}

interface DumpRun {
  secs: number;
  /** CPU of this process (all threads) during the dump. */
  cpuSecs: number;
  bytes: number;
}

/** One pg_dump read through the exec API as dockvault reads it, into `consume` (which may tee). */
async function dump(
  container: string,
  database: string,
  format: DumpFormat,
  extraArgs: string[],
  consume: (source: Readable) => Promise<void>,
): Promise<DumpRun> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const exec = await execStream(docker, container, pgDumpCommand(database, {}, format, extraArgs), {
    user: 'postgres',
    env: ['PGHOST=/var/run/postgresql'],
  });
  let bytes = 0;
  exec.stdout.on('data', (d: Buffer) => (bytes += d.length));
  await consume(exec.stdout);
  const code = await exec.exitCode();
  if (code !== 0)
    throw new Error(`pg_dump ${format} ${extraArgs.join(' ')} exited ${code}: ${exec.stderrTail()}`);
  const cpu = process.cpuUsage(cpu0);
  return { secs: (performance.now() - t0) / 1000, cpuSecs: (cpu.user + cpu.system) / 1e6, bytes };
}

const mib = (b: number) => (b / MiB).toFixed(1);
const s1 = (x: number) => x.toFixed(1);

async function measure(server: string, pattern: string): Promise<string[]> {
  const database = `${tag}-${pattern}`;
  await pg.sql(server, 'postgres', `CREATE DATABASE "${database}" TEMPLATE base`);
  const z1Tally = new ChunkTally('none');
  const z0Tally = new ChunkTally('zstd');
  const plainTally = new ChunkTally('zstd');
  let aStored = 0;
  const sums = { aSecs: 0, aCpu: 0, bSecs: 0, bCpu: 0, pSecs: 0, pCpu: 0, cutMs: 0, sealMs: 0, raw: 0 };
  const rows = [
    `pattern ${pattern}: day | change s | (a) -Fc -Z1 dump s | (a) stored MiB | (a) as chunks: new MiB | ` +
      `(b) -Fc -Z0 dump s | raw MiB | chunks new/all | new plain MiB | new stored MiB | cut CPU s | seal wall s | proc CPU s | ` +
      `(p) plain dump s | raw MiB | new stored MiB`,
  ];
  for (let day = 1; day <= DAYS; day++) {
    const c0 = performance.now();
    if (day > 1) await pg.sql(server, database, dailyChange(pattern, day));
    const changeSecs = (performance.now() - c0) / 1000;

    const sealed = counter();
    const z1 = z1Tally.sink();
    const a = await dump(server, database, 'custom', [], async (src) => {
      // Tee: the sealed object as dockvault stores it, and the same bytes as chunks.
      src.pipe(z1.writable);
      await Promise.all([
        pipeline(src, createEncryptStream([recipient]), sealed.writable),
        new Promise((resolve, reject) => z1.writable.on('finish', resolve).on('error', reject)),
      ]);
    });
    aStored += sealed.bytes();

    const z0 = z0Tally.sink();
    const b = await dump(server, database, 'custom', ['--compress=0'], (src) => pipeline(src, z0.writable));
    const plain = plainTally.sink();
    const p = await dump(server, database, 'plain', ['--compress=0'], (src) => pipeline(src, plain.writable));

    sums.aSecs += a.secs;
    sums.aCpu += a.cpuSecs;
    sums.bSecs += b.secs;
    sums.bCpu += b.cpuSecs;
    sums.pSecs += p.secs;
    sums.pCpu += p.cpuSecs;
    sums.cutMs += z0.stats.cutMs;
    sums.sealMs += z0.stats.sealMs;
    sums.raw += b.bytes;
    rows.push(
      `${day} | ${s1(changeSecs)} | ${s1(a.secs)} | ${mib(sealed.bytes())} | ${mib(z1.stats.newStored)} | ` +
        `${s1(b.secs)} | ${mib(b.bytes)} | ${z0.stats.newChunks}/${z0.stats.chunks} | ${mib(z0.stats.newPlainBytes)} | ` +
        `${mib(z0.stats.newStored)} | ${(z0.stats.cutMs / 1000).toFixed(2)} | ${(z0.stats.sealMs / 1000).toFixed(2)} | ${s1(b.cpuSecs)} | ` +
        `${s1(p.secs)} | ${mib(p.bytes)} | ${mib(plain.stats.newStored)}`,
    );
    console.log(rows.at(-1));
  }
  const dbSize = Number(
    (await pg.sql(server, database, `SELECT pg_database_size(current_database())`)).trim(),
  );
  rows.push(
    `pattern ${pattern}, after ${DAYS} days (database now ${mib(dbSize)} MiB on disk):`,
    `  stored in total: (a) ${mib(aStored)} MiB | (a) as chunks ${mib(z1Tally.stored)} MiB | ` +
      `(b) chunked -Z0 ${mib(z0Tally.stored)} MiB = ${(z0Tally.stored / aStored).toFixed(2)}x (a) | ` +
      `(p) chunked plain ${mib(plainTally.stored)} MiB = ${(plainTally.stored / aStored).toFixed(2)}x (a)`,
    `  dump wall in total: (a) ${s1(sums.aSecs)} s | (b) ${s1(sums.bSecs)} s = ${(sums.bSecs / sums.aSecs).toFixed(2)}x (a) | ` +
      `(p) ${s1(sums.pSecs)} s = ${(sums.pSecs / sums.aSecs).toFixed(2)}x (a)`,
    `  this process's CPU in total: (a) ${s1(sums.aCpu)} s (exec demux, age, tee chunking) | (b) ${s1(sums.bCpu)} s, of which ` +
      `cutting+naming ${s1(sums.cutMs / 1000)} s (${(sums.raw / MiB / (sums.cutMs / 1000)).toFixed(0)} MiB/s) and sealing new chunks ` +
      `${s1(sums.sealMs / 1000)} s wall (${PARALLEL} at once) | (p) ${s1(sums.pCpu)} s`,
  );
  await pg.sql(server, 'postgres', `DROP DATABASE "${database}"`);
  return rows;
}

const results: string[] = [];
try {
  const server = await pg.server(`${tag}-pg`);
  const t0 = performance.now();
  await pg.sql(server, 'postgres', 'CREATE DATABASE base');
  await pg.sql(server, 'base', BUILD);
  const size = Number((await pg.sql(server, 'base', `SELECT pg_database_size('base')`)).trim());
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  results.push(
    `database: ${mib(size)} MiB on disk (events ${counts.events}, users ${counts.users}, items ${counts.items} rows), ` +
      `built in ${s1((performance.now() - t0) / 1000)} s; load average ${load}`,
  );
  console.log(results.at(-1));
  for (const pattern of patterns) results.push(...(await measure(server, pattern)));
  console.log('');
  for (const r of results) console.log(r);
} finally {
  await pg.cleanup();
}
