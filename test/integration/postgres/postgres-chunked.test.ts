// PostgreSQL dumps through the chunk store (postgres.storage: chunked) on the real stack: a round trip
// with `dockvault restore` (custom and plain format) and by hand as docs/FORMAT.md gives it; a second
// dump of the unchanged database uploads (almost) nothing, one after a change of 1% of the rows little;
// prune with keep rules over several dumps and a chunked volume of the same prefix keeps what the kept
// points need and collects the rest after the grace period; a damaged chunk fails verify and restore,
// naming the backup and the chunk, before anything reaches the server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { listStoredChunks, parseChunkIndex, storedKey, type ChunkRef } from '../../../src/storage/chunks.ts';
import type { Manifest, ManifestObject } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { flipBytes } from '../../helpers/flip-bytes.ts';
import { PostgresFixtures, run } from '../../helpers/postgres-fixtures.ts';
import { stack } from '../../helpers/stack-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { download, restoreCli, runBackup, verifyCli } from '../restore/helpers.ts';

const GRACE_S = 20;
// Definition names are workflow ids and S3 keys on the shared stack: unique to this run.
const suffix = randomBytes(3).toString('hex');
const PG = `pgc-${suffix}`;
const PLAIN = `pgc-plain-${suffix}`;
const SITE = `pgc-site-${suffix}`;

let env: BackupTestEnv;
const pg = new PostgresFixtures();
let source: string;
let volume: string;
let definitions: object[];
/** The backups of PG in order, with the data each holds. */
const points: { manifest: Manifest; data: Record<string, string> }[] = [];

// ~45 MB of dump: text, bytea (1 KiB of random bytes a row), numbers, in three tables (thousands of rows each).
const SHOP = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, note text);
INSERT INTO customers SELECT g, 'Kunde ' || g, repeat('Grüße ✓ ' || md5(g::text), 1 + g % 4) FROM generate_series(1, 60000) g;
CREATE TABLE documents (id int PRIMARY KEY, title text, body bytea);
INSERT INTO documents SELECT g, 'doc ' || g, (SELECT decode(string_agg(md5(g || '-' || i), ''), 'hex') FROM generate_series(1, 64) i)
  FROM generate_series(1, 16000) g;
CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz);
INSERT INTO events SELECT g, 'kind-' || g % 17, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 80000) g;
GRANT SELECT ON customers TO reporter;
`;

/** The database's data, plus an explicit checksum of the bytea column (fingerprint covers it too). */
async function dataOf(container: string): Promise<Record<string, string>> {
  return {
    ...(await pg.fingerprint(container, 'shop')),
    documents: (
      await pg.sql(
        container,
        'shop',
        `SELECT count(*) || ' ' || md5(string_agg(md5(body), ',' ORDER BY id)) FROM documents`,
      )
    ).trim(),
  };
}

function dumpOf(manifest: Manifest): ManifestObject {
  const dump = manifest.objects.find((o) => o.kind === 'database' && o.source === 'shop');
  assert.ok(dump, `${manifest.backupId} holds shop`);
  return dump;
}

async function indexOf(
  definition: string,
  manifest: Manifest,
  object = dumpOf(manifest),
): Promise<ChunkRef[]> {
  return parseChunkIndex(
    await text(await env.store.get(`${definition}/${manifest.backupId}/${object.name}`)),
    object.name,
  );
}

/** The objects of the chunk store a backup needs: its chunks stored alone, and the packs of the others. */
async function storedObjectsOf(definition: string, manifest: Manifest): Promise<Set<string>> {
  const names = new Set<string>();
  for (const object of manifest.objects.filter((o) => o.chunked)) {
    for (const ref of await indexOf(definition, manifest, object)) names.add(ref.pack ?? ref.name);
  }
  return names;
}

async function chunkStore(): Promise<Set<string>> {
  return new Set((await listStoredChunks(env.store)).keys());
}

async function backupPg(): Promise<Manifest> {
  const manifest = await runBackup(env, PG);
  points.push({ manifest, data: await dataOf(source) });
  await sleep(1100); // backup ids are to the second
  return manifest;
}

async function restoreInto(backupId: string): Promise<string> {
  const target = await pg.server(`${env.tag}-dst-${backupId.slice(-8)}-${points.length}`);
  const restore = await restoreCli(env, [PG, '--backup', backupId, '--to-container', target]);
  assert.equal(restore.code, 0, `restore of ${backupId}:\n${restore.stdout}\n${restore.stderr}`);
  return target;
}

before(async () => {
  env = await BackupTestEnv.create('pgc');
  source = await pg.server(`${env.tag}-src`);
  await pg.sql(
    source,
    'postgres',
    `CREATE ROLE reporter LOGIN PASSWORD 'reporter-pw'; CREATE DATABASE shop;`,
  );
  await pg.sql(source, 'shop', SHOP);
  volume = await env.fixtures.volume(`${env.tag}-data`);
  await env.fixtures.sh(
    [volume],
    `head -c 3145728 /dev/urandom > /${volume}/data.bin; echo hi > /${volume}/a.txt`,
  );
  const app = await env.fixtures.sleeper(`${env.tag}-app`, [volume]);
  definitions = [
    { name: PG, type: 'postgresqldatabase', containers: [source], postgres: { storage: 'chunked' } },
    {
      name: PLAIN,
      type: 'postgresqldatabase',
      containers: [source],
      postgres: { storage: 'chunked', format: 'plain', databases: ['shop'], globals: false },
    },
    { name: SITE, type: 'standard', containers: [app], volumes: [volume], volumeFormat: 'chunked' },
  ];
  await env.writeConfig(definitions, {}, { chunkGrace: `${GRACE_S}s` });
  await env.startWorker();
});
after(async () => {
  await pg.cleanup();
  await env.close();
});

test('round trip: a chunked dump restores with dockvault restore and by hand, the data compares equal', async () => {
  const manifest = await backupPg();
  assert.equal(
    manifest.format,
    'dockvault-manifest/v3',
    'the small dump of database postgres is a chunk in a pack',
  );
  assert.deepEqual(manifest.compression, { algorithm: 'zstd', level: 3 }, 'dockvault compresses each chunk');
  assert.deepEqual(
    manifest.objects.map((o) => [o.kind, o.source, o.name, o.format, o.chunked !== undefined]),
    [
      ['globals', 'globals', 'globals.sql.zst.age', 'sql', false],
      ['database', 'postgres', 'databases/postgres.dump.chunks', 'pg_dump-custom', true],
      ['database', 'shop', 'databases/shop.dump.chunks', 'pg_dump-custom', true],
    ],
  );
  const dump = dumpOf(manifest);
  assert.equal(dump.details?.pgDumpCompression, 'none', 'pg_dump --compress=0');
  assert.ok(dump.plaintextBytes > 10 * 1048576, `a dump of ${dump.plaintextBytes} bytes`);
  const index = await indexOf(PG, manifest);
  assert.equal(index.length, dump.chunked?.chunks);
  assert.ok(index.length >= 8, `${index.length} chunks`);
  assert.equal(
    index.reduce((n, r) => n + r.plaintextBytes, 0),
    dump.plaintextBytes,
  );

  const target = await restoreInto(manifest.backupId);
  assert.deepEqual(await dataOf(target), points[0]!.data, 'restored data');
  assert.match(points[0]!.data['public.customers']!, /^60000 /);
  assert.match(points[0]!.data.documents!, /^16000 /);
  assert.equal(await pg.schema(target, 'shop'), await pg.schema(source, 'shop'));
  assert.equal(
    (await pg.sql(target, 'postgres', `SELECT rolcanlogin FROM pg_roles WHERE rolname = 'reporter'`)).trim(),
    't',
    'the globals came back',
  );

  // docs/FORMAT.md, "Restoring by hand": the listed chunks in order, decrypted, zstd -d, into pg_restore.
  const local = join(env.dir, 'manual');
  for await (const o of env.store.list('_chunks/')) {
    await mkdir(join(local, dirname(o.key)), { recursive: true });
    await download(env, o.key, join(local, o.key));
  }
  await download(env, `${PG}/${manifest.backupId}/${dump.name}`, join(local, 'shop.dump.chunks'));
  const manual = await pg.server(`${env.tag}-manual`);
  await pg.sql(manual, 'postgres', 'CREATE ROLE reporter LOGIN');
  const script = `set -o pipefail
while read -r name plain stored pack offset; do
  if [ -n "$pack" ]; then
    dd if="_chunks/\${pack:0:2}/$pack" iflag=skip_bytes,count_bytes skip="$offset" count="$stored" bs=1M status=none
  else
    cat "_chunks/\${name:0:2}/$name"
  fi | age -d -i "$1" | zstd -d || exit 1
done < shop.dump.chunks | docker exec -i -u postgres "$2" pg_restore --create --exit-on-error -d postgres`;
  const r = await run('bash', ['-c', `cd "${local}" && ${script}`, 'manual', env.identityPath, manual]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await dataOf(manual), points[0]!.data, 'restored by hand');
});

test('plain format stays plain: chunks of SQL, restored through psql', async () => {
  const manifest = await runBackup(env, PLAIN);
  assert.deepEqual(
    manifest.objects.map((o) => [o.name, o.format, o.details?.pgDumpCompression]),
    [['databases/shop.sql.chunks', 'sql', 'none']],
  );
  const target = await pg.server(`${env.tag}-plain-dst`);
  await pg.sql(target, 'postgres', 'CREATE ROLE reporter LOGIN');
  const restore = await restoreCli(env, [PLAIN, '--to-container', target]);
  assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
  assert.deepEqual(await dataOf(target), points[0]!.data);
});

test('the next dump of the unchanged database is deduplicated; after 1% of the rows changed it uploads little', async (t) => {
  const first = dumpOf(points[0]!.manifest);
  const before = await chunkStore();
  const second = dumpOf(await backupPg());
  const added = [...(await chunkStore())].filter((n) => !before.has(n));
  assert.ok(
    second.chunked!.newChunks <= 2,
    `${second.chunked!.newChunks} new chunks (the dump's header has its time)`,
  );
  assert.ok(added.length <= 2, `${added.length} new objects under _chunks/`);
  assert.ok(
    second.chunked!.uploadedBytes < first.chunked!.uploadedBytes / 10,
    `uploaded ${second.chunked!.uploadedBytes} bytes, the first ${first.chunked!.uploadedBytes}`,
  );

  // 1% of the rows: a run of 600 customers rewritten, and 160 documents.
  await pg.sql(
    source,
    'shop',
    `UPDATE customers SET note = note || ' (moved)' WHERE id BETWEEN 30001 AND 30600;
     UPDATE documents SET title = title || ' v2' WHERE id BETWEEN 4001 AND 4160;`,
  );
  const third = dumpOf(await backupPg());
  assert.ok(
    third.chunked!.uploadedBytes < first.chunked!.uploadedBytes / 4,
    `uploaded ${third.chunked!.uploadedBytes} bytes, the first ${first.chunked!.uploadedBytes}`,
  );
  for (const [i, d] of [first, second, third].entries())
    t.diagnostic(`dump ${i + 1}: ${d.plaintextBytes} bytes, ${JSON.stringify(d.chunked)}`);
  assert.ok(
    third.chunked!.newChunks < third.chunked!.chunks / 2,
    `${third.chunked!.newChunks} of ${third.chunked!.chunks} chunks new`,
  );
});

test('prune keeps every chunk of the kept dumps and of a chunked volume; the others go after the grace period', async () => {
  const site = await runBackup(env, SITE);
  const siteTree = await describeTree(await env.fixtures.mountpoint(volume));
  await pg.sql(source, 'shop', `DELETE FROM events WHERE id % 100 = 0;`);
  await backupPg();
  assert.equal(points.length, 4);
  const kept = points.slice(2);
  const keptObjects = new Set([
    ...(await storedObjectsOf(SITE, site)),
    ...(await storedObjectsOf(PLAIN, (await backupsOf(PLAIN))[0]!)),
  ]);
  for (const p of kept) for (const n of await storedObjectsOf(PG, p.manifest)) keptObjects.add(n);
  const onlyDeleted = new Set<string>();
  for (const p of points.slice(0, 2)) {
    for (const n of await storedObjectsOf(PG, p.manifest)) if (!keptObjects.has(n)) onlyDeleted.add(n);
  }
  assert.ok(onlyDeleted.size >= 1, 'the rows changed since the first two dumps are in chunks only they list');
  assert.deepEqual(
    await chunkStore(),
    new Set([...keptObjects, ...onlyDeleted]),
    'the store holds exactly these',
  );

  await env.writeConfig(
    definitions.map((d) => ((d as { name: string }).name === PG ? { ...d, retention: { keepLast: 2 } } : d)),
    {},
    { chunkGrace: `${GRACE_S}s` },
  );
  const first = await prune(PG);
  assert.match(first, new RegExp(`deleted ${points[0]!.manifest.backupId}`));
  assert.deepEqual(
    await chunkStore(),
    new Set([...keptObjects, ...onlyDeleted]),
    'nothing deleted before the grace',
  );
  await sleep(GRACE_S * 1000 + 1000);
  await prune(PG);
  assert.deepEqual(await chunkStore(), keptObjects, "every kept point's chunks remain, the others are gone");

  for (const p of kept) assert.deepEqual(await dataOf(await restoreInto(p.manifest.backupId)), p.data);
  const copy = await env.fixtures.volume(`${env.tag}-copy`);
  const restore = await restoreCli(env, [SITE, '--to-volume', `${volume}=${copy}`]);
  assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
  assert.deepEqual(await describeTree(await env.fixtures.mountpoint(copy)), siteTree, 'the volume restores');
});

test('a damaged chunk: verify and restore name the backup and the chunk, and nothing reaches the server', async () => {
  const all = await verifyCli(env, [PG, '--all']);
  assert.equal(all.code, 0, `${all.stdout}\n${all.stderr}`);
  assert.match(all.stdout, /OK +\S+\/databases\/shop\.dump\.chunks/);

  const { manifest } = points.at(-1)!;
  const index = await indexOf(PG, manifest);
  const middle = index.slice(1, -1).filter((r) => r.pack === undefined);
  const ref = middle[Math.floor(middle.length / 2)]!;
  assert.ok(ref, 'a chunk stored alone in the middle of the dump');
  const chunk = storedKey(ref);
  const file = join(stack.s3DataDir, stack.s3Bucket, env.tag, chunk);
  // Inside the chunk's last encrypted piece: its authentication fails.
  await flipBytes(file, ref.storedBytes - 40);

  const backup = `${PG}/${manifest.backupId}/`;
  const verify = await verifyCli(env, [PG, '--backup', manifest.backupId]);
  assert.equal(verify.code, 1, `${verify.stdout}${verify.stderr}`);
  const line = verify.stdout.split('\n').find((l) => l.includes('FAILED')) ?? '';
  assert.ok(line.includes(`${backup}databases/shop.dump.chunks`), `the backup is named: ${verify.stdout}`);
  assert.ok(line.includes(chunk), `the chunk is named: ${verify.stdout}`);
  assert.match(line, /authentication|decryption/i);

  const target = await pg.server(`${env.tag}-damaged-dst`);
  const restore = await restoreCli(env, [PG, '--backup', manifest.backupId, '--to-container', target]);
  const said = restore.stdout + restore.stderr;
  assert.notEqual(restore.code, 0, said);
  assert.ok(said.includes(`${backup}databases/shop.dump.chunks`) && said.includes(chunk), said);
  assert.equal(
    (await pg.sql(target, 'postgres', `SELECT count(*) FROM pg_database WHERE datname = 'shop'`)).trim(),
    '0',
    'the database was not created',
  );
  assert.equal(
    (await pg.sql(target, 'postgres', `SELECT count(*) FROM pg_roles WHERE rolname = 'reporter'`)).trim(),
    '0',
    'not even the globals were restored',
  );
});

async function prune(definition: string): Promise<string> {
  const result = await runCli(['prune', definition, '--config', env.configPath]);
  assert.equal(result.code, 0, `prune failed:\n${result.stdout}\n${result.stderr}\n${env.worker?.output()}`);
  return result.stdout;
}

/** The manifests of a definition's backups, newest first. */
async function backupsOf(definition: string): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const p of await env.store.listPrefixes(`${definition}/`)) {
    const key = `${p}manifest.json`;
    if (await env.store.head(key)) manifests.push((await env.store.getJson(key)) as Manifest);
  }
  return manifests.sort((a, b) => b.backupId.localeCompare(a.backupId));
}
