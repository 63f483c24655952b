// Object lock: with `objectLock` configured, every object the store writes (multipart or not) carries a
// retention the server enforces. Runs in a bucket of its own: locked objects cannot be deleted from the
// shared one, while here a bucket policy grants this test the governance bypass for its clean-up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { generateIdentity } from '../../../src/pipeline/age/keys.ts';
import { ChunkWriter } from '../../../src/pipeline/chunk-writer.ts';
import { isPackName, listChunks, listStoredChunks } from '../../../src/storage/chunks.ts';
import { createS3Store } from '../../../src/storage/s3-store.ts';
import type { S3Store } from '../../../src/storage/s3-store.ts';
import { StorageError } from '../../../src/storage/store.ts';
import { s3TestTarget, stack } from '../../helpers/stack-env.ts';

const MiB = 1024 * 1024;
const Bucket = `dockvault-locktest-${randomBytes(4).toString('hex')}`;
let raw: S3Client;
let store: S3Store;

before(async () => {
  raw = new S3Client({
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
  store = createS3Store(
    s3TestTarget('locked', { bucket: Bucket, objectLock: { mode: 'GOVERNANCE', days: 1 } }),
  );
});

after(async () => {
  const listed = await raw.send(new ListObjectsV2Command({ Bucket }));
  for (const o of listed.Contents ?? []) {
    await raw.send(new DeleteObjectCommand({ Bucket, Key: o.Key, BypassGovernanceRetention: true }));
  }
  await raw.send(new DeleteBucketCommand({ Bucket }));
  store.destroy();
  raw.destroy();
});

async function retention(key: string) {
  return (await raw.send(new GetObjectRetentionCommand({ Bucket, Key: `locked/${key}` }))).Retention;
}

test('multipart puts and JSON documents carry the configured retention', async () => {
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < 12; i++) yield randomBytes(MiB);
    })(),
  );
  await store.put('b/1/volumes/data.tar.zst.age', body);
  await store.putJson('b/1/manifest.json', { ok: true });
  for (const key of ['b/1/volumes/data.tar.zst.age', 'b/1/manifest.json']) {
    const r = await retention(key);
    assert.equal(r?.Mode, 'GOVERNANCE', key);
    const inADay = Date.now() + 86_400_000;
    assert.ok(r?.RetainUntilDate && Math.abs(r.RetainUntilDate.getTime() - inADay) < 5 * 60_000, key);
  }
});

test('deleting locked objects fails with a non-retryable StorageError, and the objects stay', async () => {
  await assert.rejects(store.deleteMany(['b/1/volumes/data.tar.zst.age', 'b/1/manifest.json']), (err) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.retryable, false);
    assert.match(err.message, /AccessDenied/);
    return true;
  });
  assert.ok(await store.head('b/1/manifest.json'));
});

test('the preflight probe is not locked: checkWritable passes and leaves nothing behind', async () => {
  await store.checkWritable();
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  assert.deepEqual(keys.sort(), ['b/1/manifest.json', 'b/1/volumes/data.tar.zst.age']);
});

test('a chunk (and a pack) reused by a later backup is retained as long as that backup, never shorter', async () => {
  // Content-cut chunks stored alone, and a 64 KiB block stored in a pack.
  const data = randomBytes(3 * MiB);
  const block = randomBytes(64 * 1024);
  const backup = async (days: number, id: string) => {
    const locked = createS3Store(
      s3TestTarget('locked', { bucket: Bucket, objectLock: { mode: 'GOVERNANCE', days } }),
    );
    try {
      const writer = new ChunkWriter({
        store: locked,
        indexKey: `c/${id}/volumes/data.tar.chunks`,
        known: await listChunks(locked),
        dedupKey: Buffer.alloc(32, 7),
        compression: { algorithm: 'zstd', level: 3 },
        recipients: [generateIdentity().recipient],
        parallel: 2,
        extendRetention: true,
      });
      for (let at = 0; at < data.length; at += MiB) await writer.add(data.subarray(at, at + MiB));
      await writer.add(block);
      return await writer.finish();
    } finally {
      locked.destroy();
    }
  };
  const retained = async () =>
    Promise.all(
      [...(await listStoredChunks(store)).values()].map(async ({ key }) =>
        (await retention(key))!.RetainUntilDate!.getTime(),
      ),
    );
  const first = await backup(1, '1');
  assert.ok(first.newChunks >= 2, `${first.newChunks} chunks`);
  assert.ok([...(await listStoredChunks(store)).keys()].some(isPackName), 'a pack is stored');
  const second = await backup(3, '2');
  assert.equal(second.newChunks, 0, 'every chunk is reused');
  const inThreeDays = Date.now() + 3 * 86_400_000;
  for (const until of await retained())
    assert.ok(Math.abs(until - inThreeDays) < 5 * 60_000, new Date(until).toISOString());
  await backup(1, '3');
  for (const until of await retained())
    assert.ok(Math.abs(until - inThreeDays) < 5 * 60_000, 'not shortened');
});
