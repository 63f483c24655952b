import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkKey, formatChunkIndex, parseChunkIndex } from '../../../src/storage/chunks.ts';
import { loadDedupKey } from '../../../src/storage/dedup-key.ts';
import { ManifestSchema, MANIFEST_V1, MANIFEST_V2 } from '../../../src/storage/manifest.ts';

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
