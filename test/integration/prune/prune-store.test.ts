// Prune against real S3 (no worker): retention deletes manifests first, then objects; leftovers and
// unfinished uploads are swept only once they are older than a day; Object Lock is respected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { pruneDefinition } from '../../../src/activities/prune.ts';
import type { PrunePlan } from '../../../src/plan/types.ts';
import { writeManifest, type Manifest } from '../../../src/storage/manifest.ts';
import { createS3Store, type S3Store } from '../../../src/storage/s3-store.ts';
import type { S3Target } from '../../../src/storage/store.ts';
import { uniqueTag } from '../../helpers/scratch.ts';
import { s3TestTarget, stack } from '../../helpers/stack-env.ts';

const DAY = 86_400_000;
const tag = uniqueTag('dvprune');
const region = process.env.AWS_REGION ?? 'us-east-1';
const target: S3Target = s3TestTarget(tag);
let store: S3Store;
let raw: S3Client;

before(() => {
  store = createS3Store(target);
  raw = new S3Client({ endpoint: stack.s3Endpoint, forcePathStyle: true, region });
});
after(async () => {
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  if (keys.length > 0) await store.deleteMany(keys);
  await store.abortUnfinishedUploads('');
  store.destroy();
  raw.destroy();
});

/** A complete backup: one object and its manifest, as a real run writes them. */
async function fakeBackup(s: S3Store, definition: string, backupId: string): Promise<void> {
  const name = 'volumes/data.tar.zst.age';
  await s.put(`${definition}/${backupId}/${name}`, Readable.from([randomBytes(64)]));
  const time = `${backupId.slice(0, 4)}-${backupId.slice(4, 6)}-${backupId.slice(6, 8)}T${backupId.slice(9, 11)}:${backupId.slice(11, 13)}:${backupId.slice(13, 15)}Z`;
  const manifest: Manifest = {
    format: 'dockvault-manifest/v1',
    tool: { name: 'dockvault', version: 'test' },
    definition,
    type: 'standard',
    backupId,
    host: 'local',
    workflowId: 'wf',
    runId: 'run',
    startedAt: time,
    finishedAt: new Date().toISOString(),
    downtimeMs: 0,
    containers: { stopped: [], notRunning: [] },
    encryption: { format: 'age-v1', recipients: ['age1test'] },
    compression: { algorithm: 'zstd', level: 3 },
    objects: [
      {
        name,
        kind: 'volume',
        source: 'data',
        format: 'tar',
        plaintextBytes: 64,
        storedBytes: 64,
        sha256: '0'.repeat(64),
        startedAt: time,
        finishedAt: time,
      },
    ],
    totals: { plaintextBytes: 64, storedBytes: 64 },
  };
  await writeManifest(s, manifest);
}

function plan(definition: string, t: S3Target, extra: Partial<PrunePlan> = {}): PrunePlan {
  return {
    definition,
    host: 'local',
    activityTaskQueue: 'unused',
    target: t,
    retention: { keepLast: 1, keepDaily: 2 },
    timeZone: 'UTC',
    dryRun: false,
    ...extra,
  };
}

async function keysOf(s: S3Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of s.list(prefix)) keys.push(o.key);
  return keys.sort();
}

test('retention deletes what no rule keeps (manifest and objects); dry run deletes nothing', async () => {
  const ids = [
    '20261126T120000Z-aaaa0001',
    '20261126T060000Z-aaaa0002',
    '20261125T120000Z-aaaa0003',
    '20261124T120000Z-aaaa0004',
  ];
  for (const id of ids) await fakeBackup(store, 'site', id);

  const dry = await pruneDefinition(store, plan('site', target, { dryRun: true }));
  assert.deepEqual(
    dry.backups.map((b) => [b.backupId, b.action, b.reasons]),
    [
      [ids[0], 'keep', ['last', 'daily (2026-11-26)']],
      [ids[1], 'delete', []],
      [ids[2], 'keep', ['daily (2026-11-25)']],
      [ids[3], 'delete', []],
    ],
  );
  assert.equal((await keysOf(store, 'site/')).length, 8, 'a dry run deletes nothing');

  const real = await pruneDefinition(store, plan('site', target));
  assert.deepEqual(
    real.backups.map((b) => b.action),
    ['keep', 'deleted', 'keep', 'deleted'],
  );
  assert.deepEqual(real.warnings, []);
  assert.deepEqual((await store.listPrefixes('site/')).sort(), [`site/${ids[2]}/`, `site/${ids[0]}/`].sort());
});

test('leftovers and unfinished uploads: untouched for a day (a run in progress), then swept', async () => {
  await fakeBackup(store, 'db', '20261126T120000Z-bbbb0001');
  // A failed run's object without a manifest, and an unfinished multipart upload.
  await store.put('db/20261126T130000Z-bbbb0002/volumes/a.tar.zst.age', Readable.from([randomBytes(32)]));
  await raw.send(
    new CreateMultipartUploadCommand({
      Bucket: stack.s3Bucket,
      Key: `${tag}/db/20261126T130000Z-bbbb0002/volumes/b.tar.zst.age`,
    }),
  );

  const now = await pruneDefinition(store, plan('db', target));
  assert.deepEqual(
    now.leftovers.map((l) => [l.backupId, l.action]),
    [['20261126T130000Z-bbbb0002', 'in progress']],
  );
  assert.equal(now.abortedUploads, 0);
  assert.equal((await store.listUnfinishedUploads('db/')).length, 1);

  const later = { now: new Date(Date.now() + 2 * DAY) };
  const dry = await pruneDefinition(store, plan('db', target, { dryRun: true }), later);
  assert.deepEqual(
    dry.leftovers.map((l) => l.action),
    ['delete'],
  );
  assert.equal(dry.abortedUploads, 1);
  assert.equal((await store.listUnfinishedUploads('db/')).length, 1, 'a dry run aborts nothing');

  const swept = await pruneDefinition(store, plan('db', target), later);
  assert.deepEqual(
    swept.leftovers.map((l) => l.action),
    ['deleted'],
  );
  assert.equal(swept.abortedUploads, 1);
  assert.deepEqual(await keysOf(store, 'db/'), [
    'db/20261126T120000Z-bbbb0001/manifest.json',
    'db/20261126T120000Z-bbbb0001/volumes/data.tar.zst.age',
  ]);
  assert.equal((await store.listUnfinishedUploads('db/')).length, 0);
  assert.deepEqual(
    swept.backups.map((b) => [b.action, b.reasons]),
    [['keep', ['last', 'daily (2026-11-26)']]],
  );
});

test('Object Lock: locked backups are skipped and reported, never a failure', async () => {
  const Bucket = `dockvault-prunelock-${randomBytes(4).toString('hex')}`;
  await raw.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
  const locked: S3Target = {
    ...target,
    bucket: Bucket,
    prefix: 'locked',
    objectLock: { mode: 'GOVERNANCE', days: 1 },
  };
  const lockedStore = createS3Store(locked);
  // The same bucket seen through a config without objectLock: prune only learns from the denial.
  const unaware = createS3Store({ ...target, bucket: Bucket, prefix: 'locked' });
  try {
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
    await fakeBackup(lockedStore, 'app', '20261126T120000Z-cccc0001');
    await fakeBackup(lockedStore, 'app', '20261125T120000Z-cccc0002');
    const policy = { retention: { keepLast: 1 } };

    const configured = await pruneDefinition(lockedStore, plan('app', locked, policy));
    const old = configured.backups[1]!;
    assert.equal(old.action, 'locked');
    assert.match(old.reasons[0]!, /^locked until 20\d\d-\d\d-\d\dT.* \(GOVERNANCE object lock\)$/);
    const until = Date.parse(old.reasons[0]!.slice('locked until '.length, 'locked until '.length + 24));
    assert.ok(Math.abs(until - (Date.now() + DAY)) < 5 * 60_000, old.reasons[0]);

    const denied = await pruneDefinition(
      unaware,
      plan('app', { ...target, bucket: Bucket, prefix: 'locked' }, policy),
    );
    assert.deepEqual(
      denied.backups.map((b) => [b.action, b.reasons]),
      [
        ['keep', ['last']],
        ['locked', ['object lock: deletion denied']],
      ],
    );
    assert.deepEqual(denied.warnings, []);
    assert.equal((await keysOf(lockedStore, 'app/')).length, 4, 'nothing was deleted');
  } finally {
    const listed = await raw.send(new ListObjectsV2Command({ Bucket }));
    for (const o of listed.Contents ?? []) {
      await raw.send(new DeleteObjectCommand({ Bucket, Key: o.Key, BypassGovernanceRetention: true }));
    }
    await raw.send(new DeleteBucketCommand({ Bucket }));
    lockedStore.destroy();
    unaware.destroy();
  }
});
