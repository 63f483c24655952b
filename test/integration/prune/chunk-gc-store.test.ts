// Chunk collection against real S3 (no worker): what counts as a reference (every definition's complete
// backups, a run that may still be uploading), a chunk stored again after it was marked, a malformed
// index, a dry run, and Object Lock refusing a deletion.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { collectChunks, type ChunkGcOptions } from '../../../src/storage/chunk-gc.ts';
import { MARKERS_DIR } from '../../../src/storage/chunk-markers.ts';
import {
  chunkKey,
  formatChunkIndex,
  listChunks,
  listStoredChunks,
  type ChunkRef,
} from '../../../src/storage/chunks.ts';
import { OpenPack } from '../../../src/storage/pack.ts';
import { createS3Store, type S3Store } from '../../../src/storage/s3-store.ts';
import type { BackupStore } from '../../../src/storage/store.ts';
import { uniqueTag } from '../../helpers/scratch.ts';
import { s3TestTarget, stack } from '../../helpers/stack-env.ts';

const GRACE = 1500;
const HOUR = 3_600_000;
const stores: S3Store[] = [];

async function emptied(store: BackupStore): Promise<void> {
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  if (keys.length > 0) await store.deleteMany(keys);
}

after(async () => {
  for (const store of stores) {
    await emptied(store);
    store.destroy();
  }
});

function newStore(): S3Store {
  const store = createS3Store(s3TestTarget(uniqueTag('gc-store')));
  stores.push(store);
  return store;
}

const name = () => randomBytes(32).toString('hex');

async function putChunk(store: BackupStore, chunk: string): Promise<void> {
  await store.putBuffer(chunkKey(chunk), randomBytes(100 + Math.floor(Math.random() * 100)));
}

/** A backup prefix whose one chunked volume lists `chunks`; `complete` writes its manifest too. */
async function backup(
  store: BackupStore,
  prefix: string,
  chunks: (string | ChunkRef)[],
  complete = true,
): Promise<void> {
  const index = formatChunkIndex(
    chunks.map((c) => (typeof c === 'string' ? { name: c, plaintextBytes: 10, storedBytes: 10 } : c)),
  );
  await store.putBuffer(`${prefix}volumes/data.tar.chunks`, index);
  if (complete) await store.putJson(`${prefix}manifest.json`, { format: 'dockvault-manifest/v2' });
}

const options = (extra: Partial<ChunkGcOptions> = {}): ChunkGcOptions => ({
  graceMs: GRACE,
  inProgressMs: HOUR,
  dryRun: false,
  now: new Date(),
  ...extra,
});

async function markerKeys(store: BackupStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(`${MARKERS_DIR}/`)) keys.push(o.key);
  return keys;
}

test('references of every definition and of runs in progress are kept; a chunk stored again after it was marked is kept', async () => {
  const store = newStore();
  const [kept, other, inProgress, garbage, stored] = [name(), name(), name(), name(), name()];
  for (const c of [kept, other, inProgress, garbage, stored]) await putChunk(store, c);
  await backup(store, 'site/20261201T000000Z-aaaa/', [kept]);
  await backup(store, 'other-host-db/20261201T000000Z-bbbb/', [other]);
  await backup(store, 'site/20261202T000000Z-cccc/', [inProgress], false);

  const first = await collectChunks(store, options());
  assert.deepEqual([first.referenced.chunks, first.candidates.chunks, first.deleted.chunks], [3, 2, 0]);
  assert.ok(first.marker, 'the candidates are marked');
  assert.deepEqual(first.warnings, []);
  const reusable = await listChunks(store);
  assert.deepEqual(
    [kept, other, inProgress, garbage, stored].map((c) => reusable.has(c)),
    [true, true, true, false, false],
    'a backup does not reuse a marked chunk',
  );

  const early = await collectChunks(store, options());
  assert.equal(early.deleted.chunks, 0, 'nothing is deleted within the grace period');
  assert.equal(early.marker, undefined, 'the marker there lists every candidate already');
  // A backup that skipped the marked chunk stores it again: another version, another ETag.
  await putChunk(store, stored);
  assert.equal((await listChunks(store)).has(stored), true, 'the new version is reusable');
  await sleep(GRACE + 200);

  const dry = await collectChunks(store, options({ dryRun: true }));
  assert.equal(dry.deleted.chunks, 1, 'a dry run tells what it would delete');
  assert.equal((await listStoredChunks(store)).size, 5, 'and deletes nothing');

  const second = await collectChunks(store, options());
  assert.equal(second.deleted.chunks, 1);
  assert.ok(second.deleted.bytes >= 100);
  const left = await listStoredChunks(store);
  assert.deepEqual(
    [kept, other, inProgress, garbage, stored].map((c) => left.has(c)),
    [true, true, true, false, true],
    'only the unchanged marked chunk is gone',
  );
  assert.equal(second.markersRemoved, 1);
  assert.deepEqual(await markerKeys(store), [second.marker], 'the new version is marked in turn');

  // A leftover older than the in-progress window no longer protects its chunks.
  const stale = await collectChunks(store, options({ inProgressMs: 1, dryRun: true }));
  assert.equal(stale.candidates.chunks, 2);
});

test('a marked chunk that a backup completed since lists is unmarked, so the next backup can reuse it', async () => {
  const store = newStore();
  const [reused, garbage] = [name(), name()];
  for (const c of [reused, garbage]) await putChunk(store, c);
  const marked = await collectChunks(store, options());
  assert.equal(marked.candidates.chunks, 2);
  assert.equal((await listChunks(store)).has(reused), false);
  // A run that had listed the chunk before the marker was written completes, listing it.
  await backup(store, 'site/20261201T000000Z-aaaa/', [reused]);
  const next = await collectChunks(store, options());
  assert.deepEqual([next.referenced.chunks, next.candidates.chunks], [1, 1]);
  const reusable = await listChunks(store);
  assert.deepEqual([reusable.has(reused), reusable.has(garbage)], [true, false]);
  await sleep(GRACE + 200);
  assert.equal((await collectChunks(store, options())).deleted.chunks, 1);
  assert.deepEqual([...(await listStoredChunks(store)).keys()], [reused]);
});

test('a pack is kept while an index lists any chunk in it, then marked (its chunks no longer reused) and collected', async () => {
  const store = newStore();
  const pack = new OpenPack();
  const [a, b] = [name(), name()];
  const refs = [a, b].map((n, i): ChunkRef => {
    const sealed = randomBytes(100 + i * 20);
    return {
      name: n,
      plaintextBytes: 10,
      storedBytes: sealed.length,
      pack: pack.name,
      offset: pack.add(n, 10, sealed),
    };
  });
  await store.putBuffer(chunkKey(pack.name), pack.seal());
  const older = 'site/20261201T000000Z-aaaa/';
  const newer = 'site/20261202T000000Z-bbbb/';
  await backup(store, older, [refs[0]!]);
  await backup(store, newer, [refs[1]!]);
  // Any backup of the prefix finds both chunks through the pack's trailer.
  const reusable = await listChunks(store);
  assert.deepEqual(reusable.get(a), { storedBytes: 100, pack: pack.name, offset: 0 });
  assert.deepEqual(reusable.get(b), { storedBytes: 120, pack: pack.name, offset: 100 });

  const drop = async (prefix: string) => {
    const keys: string[] = [];
    for await (const o of store.list(prefix)) keys.push(o.key);
    await store.deleteMany(keys);
  };
  await drop(older);
  assert.equal((await collectChunks(store, options())).candidates.chunks, 0, 'the newer backup lists b');
  await sleep(GRACE + 100);
  const kept = await collectChunks(store, options());
  assert.deepEqual([kept.referenced.chunks, kept.deleted.chunks], [1, 0]);
  assert.ok((await listStoredChunks(store)).has(pack.name), 'the pack is kept for b');

  await drop(newer);
  const marked = await collectChunks(store, options());
  assert.equal(marked.candidates.chunks, 1, 'no index lists a chunk of the pack: it is a candidate');
  assert.ok(marked.marker);
  const after = await listChunks(store);
  assert.equal(after.has(a) || after.has(b), false, 'the chunks of a marked pack are not offered for reuse');
  await sleep(GRACE + 100);
  const swept = await collectChunks(store, options());
  assert.equal(swept.deleted.chunks, 1);
  assert.equal((await listStoredChunks(store)).size, 0, 'the pack is gone');
});

test('a dry run counts the backups it would delete as gone, and writes nothing', async () => {
  const store = newStore();
  const [old, fresh] = [name(), name()];
  for (const c of [old, fresh]) await putChunk(store, c);
  await backup(store, 'site/20261201T000000Z-aaaa/', [old]);
  await backup(store, 'site/20261202T000000Z-bbbb/', [fresh]);
  const dry = await collectChunks(
    store,
    options({ dryRun: true, ignoring: new Set(['site/20261201T000000Z-aaaa/']) }),
  );
  assert.deepEqual([dry.referenced.chunks, dry.candidates.chunks], [1, 1]);
  assert.equal(dry.marker, undefined);
  assert.deepEqual(await markerKeys(store), []);
});

test('a malformed chunk index stops the collection: an unknown reference is never taken for none', async () => {
  const store = newStore();
  const garbage = name();
  await putChunk(store, garbage);
  await store.putBuffer('site/20261201T000000Z-aaaa/volumes/data.tar.chunks', 'not an index\n');
  await store.putJson('site/20261201T000000Z-aaaa/manifest.json', {});
  const result = await collectChunks(store, options({ graceMs: 0 }));
  assert.match(result.warnings.join('\n'), /chunks not collected: .*data\.tar\.chunks/);
  assert.equal(result.marker, undefined);
  assert.equal((await listStoredChunks(store)).size, 1);
});

test('a chunk whose deletion Object Lock refuses is counted as locked and kept', async () => {
  const Bucket = uniqueTag('gc-lock');
  const raw = new S3Client({
    endpoint: stack.s3Endpoint,
    forcePathStyle: true,
    region: process.env.AWS_REGION ?? 'us-east-1',
  });
  await raw.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
  await raw.send(
    new PutBucketPolicyCommand({
      Bucket,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: [process.env.AWS_ACCESS_KEY_ID] },
            Action: ['s3:BypassGovernanceRetention'],
            Resource: [`arn:aws:s3:::${Bucket}/*`],
          },
        ],
      }),
    }),
  );
  const store = createS3Store(
    s3TestTarget('locked', { bucket: Bucket, objectLock: { mode: 'GOVERNANCE', days: 1 } }),
  );
  try {
    const [locked, kept] = [name(), name()];
    for (const c of [locked, kept]) await putChunk(store, c);
    await backup(store, 'site/20261201T000000Z-aaaa/', [kept]);
    const marked = await collectChunks(store, options());
    assert.equal(marked.candidates.chunks, 1);
    await sleep(GRACE + 200);
    const result = await collectChunks(store, options());
    assert.deepEqual([result.deleted.chunks, result.locked.chunks], [0, 1]);
    assert.deepEqual(result.warnings, []);
    assert.equal((await listStoredChunks(store)).has(locked), true);
    assert.deepEqual(await markerKeys(store), [result.marker], 'the unlocked markers are removed');
  } finally {
    const listed = await raw.send(new ListObjectsV2Command({ Bucket }));
    for (const o of listed.Contents ?? []) {
      await raw.send(new DeleteObjectCommand({ Bucket, Key: o.Key, BypassGovernanceRetention: true }));
    }
    await raw.send(new DeleteBucketCommand({ Bucket }));
    store.destroy();
    raw.destroy();
  }
});
