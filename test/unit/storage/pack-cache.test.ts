import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PackCache } from '../../../src/storage/pack-cache.ts';

const chunks = [
  { name: 'a'.repeat(64), plaintextBytes: 100, storedBytes: 300, offset: 0 },
  { name: 'b'.repeat(64), plaintextBytes: 50, storedBytes: 250, offset: 300 },
];

test('the pack cache answers for a pack only in the version it read, and forgets packs gone from the listing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dockvault-pack-cache-'));
  try {
    const cache = await PackCache.load(dir, 's3://bucket/prefix');
    assert.equal(cache.get('p1', '"e1"', 550), undefined);
    cache.set('p1', '"e1"', 550, chunks);
    cache.set('p2', '"e2"', 550, chunks);
    cache.set('p3', undefined, 550, chunks); // no ETag: nothing to check a later listing against
    await cache.save(new Set(['p1', 'p2', 'p3']));

    const again = await PackCache.load(dir, 's3://bucket/prefix');
    assert.deepEqual(again.get('p1', '"e1"', 550), chunks);
    assert.equal(again.get('p1', '"other"', 550), undefined, 'stored again under its name');
    assert.equal(again.get('p1', '"e1"', 551), undefined, 'another size');
    assert.equal(again.get('p1', undefined, 550), undefined);
    assert.equal(again.get('p3', undefined, 550), undefined);
    assert.equal((await PackCache.load(dir, 's3://bucket/other')).get('p1', '"e1"', 550), undefined);

    await again.save(new Set(['p2'])); // p1 deleted by a prune
    const after = await PackCache.load(dir, 's3://bucket/prefix');
    assert.equal(after.get('p1', '"e1"', 550), undefined);
    assert.deepEqual(after.get('p2', '"e2"', 550), chunks);

    // A cache that cannot be written is no error either (a file where its directory would be).
    const blocked = await mkdtemp(join(tmpdir(), 'dockvault-pack-cache-'));
    await writeFile(join(blocked, 'pack-trailers'), 'not a directory');
    const unwritable = await PackCache.load(blocked, 's3://bucket/prefix');
    unwritable.set('p1', '"e1"', 550, chunks);
    await unwritable.save(new Set(['p1']));
    await rm(blocked, { recursive: true, force: true });

    // A damaged file is no cache, not an error.
    const [file] = await readdir(join(dir, 'pack-trailers'));
    await writeFile(join(dir, 'pack-trailers', file!), '{"version": 1, "pac');
    assert.equal((await PackCache.load(dir, 's3://bucket/prefix')).get('p2', '"e2"', 550), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
