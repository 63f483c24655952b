import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  chunkKey,
  formatChunkIndex,
  isChunkIndexName,
  isPackName,
  parseChunkIndex,
} from '../../../src/storage/chunks.ts';
import { OpenPack, parsePackTrailer } from '../../../src/storage/pack.ts';
import { loadDedupKey } from '../../../src/storage/dedup-key.ts';
import {
  ManifestSchema,
  manifestFormat,
  MANIFEST_V1,
  MANIFEST_V2,
  MANIFEST_V3,
} from '../../../src/storage/manifest.ts';

const name = 'ab'.repeat(32);

test('chunk keys are sharded by the first two hex digits; anything but 64 hex digits is refused', () => {
  assert.equal(chunkKey(name), `_chunks/ab/${name}`);
  assert.throws(() => chunkKey('../x'), /64 hex digits/);
  assert.throws(() => chunkKey(name.toUpperCase()), /64 hex digits/);
});

test('the chunk index round-trips and refuses malformed lines', () => {
  const refs = [
    { name, plaintextBytes: 1048576, storedBytes: 1000 },
    { name: 'cd'.repeat(32), plaintextBytes: 5, storedBytes: 240 },
  ];
  const text = formatChunkIndex(refs);
  assert.equal(text, `${name} 1048576 1000\n${'cd'.repeat(32)} 5 240\n`);
  assert.deepEqual(parseChunkIndex(text, 'i'), refs);
  assert.throws(() => parseChunkIndex(text.slice(0, -1), 'i'), /does not end with a newline/);
  assert.throws(() => parseChunkIndex(`${name} 1 2 3\n`, 'i'), /line 1/);
  assert.throws(() => parseChunkIndex(`${name} 0 2\n`, 'i'), /line 1/);
  assert.throws(() => parseChunkIndex(`${name} 1 2\nzz 1 2\n`, 'i'), /line 2/);
});

test('index lines of chunks in packs name the pack and the offset; bad ones are refused', () => {
  const pack = `${'ef'.repeat(32)}.pack`;
  const refs = [
    { name, plaintextBytes: 65536, storedBytes: 65700, pack, offset: 0 },
    { name: 'cd'.repeat(32), plaintextBytes: 1048576, storedBytes: 1000 },
    { name: '01'.repeat(32), plaintextBytes: 1024, storedBytes: 300, pack, offset: 65700 },
  ];
  const text = formatChunkIndex(refs);
  assert.equal(text.split('\n')[0], `${name} 65536 65700 ${pack} 0`);
  assert.deepEqual(parseChunkIndex(text, 'i'), refs);
  assert.equal(chunkKey(pack), `_chunks/ef/${pack}`);
  assert.equal(isPackName(pack), true);
  assert.equal(isPackName(name), false);
  assert.throws(() => parseChunkIndex(`${name} 1 2 ${pack}\n`, 'i'), /line 1/);
  assert.throws(() => parseChunkIndex(`${name} 1 2 ${pack} -1\n`, 'i'), /line 1/);
  assert.throws(() => parseChunkIndex(`${name} 1 2 ${'ef'.repeat(32)} 0\n`, 'i'), /line 1/);
  assert.throws(() => parseChunkIndex(`${name} 1 2 ${pack} 0 9\n`, 'i'), /line 1/);
  assert.throws(() => chunkKey(`${name}.pak`), /64 hex digits/);
});

test('a pack holds its chunks one after another, then a trailer that lists them; damage is refused', () => {
  const pack = new OpenPack();
  const chunks = [randomBytes(700), randomBytes(65_600), randomBytes(5)];
  const names = ['aa', 'bb', 'cc'].map((c) => c.repeat(32));
  const offsets = chunks.map((c, i) => pack.add(names[i]!, 1000 + i, c));
  assert.deepEqual(offsets, [0, 700, 66_300]);
  const body = pack.seal();
  assert.deepEqual(body.subarray(0, 66_305), Buffer.concat(chunks), 'the chunks come first, as stored');
  const listed = parsePackTrailer(body, body.length, 'p');
  assert.deepEqual(listed, [
    { name: names[0], plaintextBytes: 1000, storedBytes: 700, offset: 0 },
    { name: names[1], plaintextBytes: 1001, storedBytes: 65_600, offset: 700 },
    { name: names[2], plaintextBytes: 1002, storedBytes: 5, offset: 66_300 },
  ]);
  // Read from the end: a tail that does not reach the trailer's start says where it starts.
  const needed = parsePackTrailer(body.subarray(body.length - 100), body.length, 'p');
  assert.equal(typeof needed, 'number');
  assert.deepEqual(
    parsePackTrailer(body.subarray(body.length - (needed as number)), body.length, 'p'),
    listed,
  );

  const flip = (at: number) => {
    const copy = Buffer.from(body);
    copy[at] = copy[at]! ^ 1;
    return copy;
  };
  assert.throws(() => parsePackTrailer(flip(66_310), body.length, 'p'), /p: its trailer fails its hash/);
  assert.throws(() => parsePackTrailer(flip(body.length - 2), body.length, 'p'), /p: /);
  assert.throws(() => parsePackTrailer(body.subarray(0, -1), body.length - 1, 'p'), /pack footer/);
  assert.throws(() => parsePackTrailer(body, body.length + 10, 'p'), /p: its trailer lists 66305 bytes/);
  assert.throws(() => parsePackTrailer(Buffer.from('x'), 1, 'p'), /too short/);
  assert.equal(new OpenPack().name === pack.name, false, 'every pack has a name of its own');
  assert.match(pack.name, /^[0-9a-f]{64}\.pack$/);
});

test('the dedup key comes from the environment, else is generated once in the state directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ck-dedup-'));
  try {
    assert.deepEqual(
      await loadDedupKey(dir, { DOCKVAULT_DEDUP_KEY: 'k'.repeat(32) }),
      Buffer.from('k'.repeat(32)),
    );
    await assert.rejects(
      loadDedupKey(dir, { DOCKVAULT_DEDUP_KEY: 'short' }),
      /5 characters, at least 32 are needed/,
    );
    const generated = await loadDedupKey(dir, {});
    assert.equal(generated.length, 64);
    assert.deepEqual(await loadDedupKey(dir, {}), generated, 'the same key on the next call');
    assert.equal((await stat(join(dir, 'dedup-key'))).mode & 0o777, 0o600);
    assert.equal((await readFile(join(dir, 'dedup-key'), 'utf8')).trim(), generated.toString());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const manifest = (format: string, chunked?: object) => ({
  format,
  tool: { name: 'dockvault', version: '0.1.0' },
  definition: 'site',
  type: 'standard',
  backupId: '20261202T100000Z-abcd1234',
  host: 'local',
  workflowId: 'w',
  runId: 'r',
  startedAt: '2026-12-02T10:00:00.000Z',
  finishedAt: '2026-12-02T10:00:01.000Z',
  downtimeMs: 1,
  containers: { stopped: [], notRunning: [] },
  encryption: { format: 'age-v1', recipients: ['age1x'] },
  compression: { algorithm: 'zstd', level: 3 },
  objects: [
    {
      name: 'volumes/data.tar.chunks',
      kind: 'volume',
      source: 'data',
      format: 'tar',
      plaintextBytes: 10,
      storedBytes: 20,
      sha256: '0'.repeat(64),
      startedAt: '2026-12-02T10:00:00.000Z',
      finishedAt: '2026-12-02T10:00:01.000Z',
      ...(chunked ? { chunked } : {}),
    },
  ],
  totals: { plaintextBytes: 10, storedBytes: 20 },
});

test('chunked objects need manifest v2; v1 manifests still parse', () => {
  const chunked = { indexBytes: 8, chunks: 1, newChunks: 1, uploadedBytes: 12 };
  assert.equal(ManifestSchema.safeParse(manifest(MANIFEST_V1)).success, true);
  assert.equal(ManifestSchema.safeParse(manifest(MANIFEST_V2, chunked)).success, true);
  const v1 = ManifestSchema.safeParse(manifest(MANIFEST_V1, chunked));
  assert.equal(v1.success, false);
  assert.match(JSON.stringify(v1.error?.issues), /needs dockvault-manifest\/v2/);
});

test('chunk indexes that name packs need manifest v3; the oldest version that fits is written', () => {
  const chunked = { indexBytes: 8, chunks: 2, newChunks: 2, uploadedBytes: 12 };
  const packed = { ...chunked, packed: 1, newPacks: 1 };
  assert.equal(ManifestSchema.safeParse(manifest(MANIFEST_V3, packed)).success, true);
  const v2 = ManifestSchema.safeParse(manifest(MANIFEST_V2, packed));
  assert.equal(v2.success, false);
  assert.match(JSON.stringify(v2.error?.issues), /needs dockvault-manifest\/v3/);
  assert.equal(manifestFormat([{ chunked: packed }]), MANIFEST_V3);
  assert.equal(manifestFormat([{ chunked }, {}]), MANIFEST_V2);
  assert.equal(manifestFormat([{}]), MANIFEST_V1);
});

test('a chunked object of any kind is named as a chunk index, so a listing finds it', () => {
  const chunked = { indexBytes: 8, chunks: 1, newChunks: 1, uploadedBytes: 12 };
  const [volume] = manifest(MANIFEST_V2, chunked).objects;
  const dump = {
    ...volume!,
    name: 'databases/shop.dump.chunks',
    kind: 'database',
    source: 'shop',
    format: 'pg_dump-custom',
  };
  const pg = { ...manifest(MANIFEST_V2, chunked), type: 'postgresqldatabase', objects: [dump] };
  assert.equal(ManifestSchema.safeParse(pg).success, true);
  const misnamed = ManifestSchema.safeParse({
    ...pg,
    objects: [{ ...dump, name: 'databases/shop.dump.age' }],
  });
  assert.equal(misnamed.success, false);
  assert.match(JSON.stringify(misnamed.error?.issues), /a chunked object's name must end in \.chunks/);
  for (const key of [
    'site/20261202T100000Z-abcd1234/volumes/data.tar.chunks',
    'db/x/databases/shop.dump.chunks',
    'db/x/databases/a%2Fb.sql.chunks',
  ])
    assert.equal(isChunkIndexName(key), true, key);
  for (const key of [
    'db/x/databases/shop.dump.age',
    'db/x/databases/x.chunks.dump.zst.age',
    'site/x/manifest.json',
  ])
    assert.equal(isChunkIndexName(key), false, key);
});
