// Manifests on the real S3 server: a backup exists exactly when its valid manifest does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { manifestKey, newBackupId, objectKey } from '../../../src/storage/layout.ts';
import {
  listBackups,
  listIncomplete,
  ManifestSchema,
  readManifest,
  writeManifest,
} from '../../../src/storage/manifest.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { createS3Store } from '../../../src/storage/s3-store.ts';
import type { S3Store } from '../../../src/storage/s3-store.ts';
import { CorruptManifestError, ObjectNotFoundError } from '../../../src/storage/store.ts';
import { s3TestTarget } from '../../helpers/stack-env.ts';

const runPrefix = `test-storage-${randomBytes(4).toString('hex')}`;

function manifest(definition: string, backupId: string, startedAt: Date): Manifest {
  const finishedAt = new Date(startedAt.getTime() + 60_000).toISOString();
  return {
    format: 'dockvault-manifest/v1',
    tool: { name: 'dockvault', version: '0.1.0' },
    definition,
    type: 'standard',
    backupId,
    host: 'local',
    workflowId: `backup-${definition}-${backupId}`,
    runId: '5f0c3f5e-0000-4000-8000-000000000000',
    startedAt: startedAt.toISOString(),
    finishedAt,
    downtimeMs: 1234,
    containers: { stopped: ['app', 'db'], notRunning: ['worker'] },
    encryption: {
      format: 'age-v1',
      recipients: ['age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq'],
    },
    compression: { algorithm: 'zstd', level: 3 },
    objects: [
      {
        name: 'volumes/data.tar.zst.age',
        kind: 'volume',
        source: 'data',
        format: 'tar',
        plaintextBytes: 1000,
        storedBytes: 400,
        sha256: 'a'.repeat(64),
        startedAt: startedAt.toISOString(),
        finishedAt,
        details: { files: 12, sparse: false, note: 'x' },
      },
      {
        name: 'volumes/logs.tar.zst.age',
        kind: 'volume',
        source: 'logs',
        format: 'tar',
        plaintextBytes: 50,
        storedBytes: 90,
        sha256: 'b'.repeat(64),
        startedAt: startedAt.toISOString(),
        finishedAt,
      },
    ],
    totals: { plaintextBytes: 1050, storedBytes: 490 },
  };
}

describe('manifests on versitygw', () => {
  let store: S3Store;
  const t0 = new Date('2026-11-20T01:00:00Z');
  const at = (hours: number) => new Date(t0.getTime() + hours * 3_600_000);
  const ids = {
    oldest: newBackupId(at(0), 'aaaa'),
    middle: newBackupId(at(1), 'bbbb'),
    newest: newBackupId(at(2), 'cccc'),
    otherDef: newBackupId(at(1.5), 'dddd'),
    corruptJson: newBackupId(at(0.5), 'eeee'),
    corruptShape: newBackupId(at(0.7), 'ffff'),
    incomplete: newBackupId(at(3), 'gggg'),
  };

  before(async () => {
    store = createS3Store(s3TestTarget(`${runPrefix}/backups`));
    // Written out of order: the listing must sort, not rely on S3's key order.
    for (const [id, hours] of [
      [ids.middle, 1],
      [ids.newest, 2],
      [ids.oldest, 0],
    ] as const) {
      await store.putJson(objectKey('app', id, 'volumes/data.tar.zst.age'), 'payload');
      await writeManifest(store, manifest('app', id, at(hours)));
    }
    await writeManifest(store, manifest('db', ids.otherDef, at(1.5)));
    await store.put(
      manifestKey('app', ids.corruptJson),
      Readable.from([Buffer.from('{"format": "dockvault-man')]),
    );
    const bad = { ...manifest('app', ids.corruptShape, at(0.7)) } as Record<string, unknown>;
    (bad.objects as { sha256: string }[])[1]!.sha256 = 'not-a-hash';
    await store.putJson(manifestKey('app', ids.corruptShape), bad);
    await store.put(
      objectKey('app', ids.incomplete, 'volumes/data.tar.zst.age'),
      Readable.from([randomBytes(100)]),
    );
    await store.put(
      objectKey('app', ids.incomplete, 'volumes/logs.tar.zst.age'),
      Readable.from([randomBytes(50)]),
    );
  });

  after(async () => {
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    await store.deleteMany(keys);
    store.destroy();
  });

  test('write then read returns the same manifest', async () => {
    const read = await readManifest(store, 'app', ids.middle);
    assert.deepEqual(read, manifest('app', ids.middle, at(1)));
    assert.deepEqual(await store.getJson(manifestKey('app', ids.middle)), read, 'stored as plain JSON');
  });

  test('reading a backup that does not exist: ObjectNotFoundError naming backup, definition and location', async () => {
    await assert.rejects(readManifest(store, 'app', newBackupId(at(9), 'zzzz')), (err) => {
      assert.ok(err instanceof ObjectNotFoundError);
      assert.equal(err.message, `no backup ${newBackupId(at(9), 'zzzz')} of app at ${store.location}`);
      return true;
    });
    await assert.rejects(readManifest(store, 'app', ids.incomplete), ObjectNotFoundError);
  });

  test('a manifest that is not JSON, or not a valid manifest: CorruptManifestError with key and path', async () => {
    await assert.rejects(readManifest(store, 'app', ids.corruptJson), (err) => {
      assert.ok(err instanceof CorruptManifestError);
      assert.equal(err.code, 'CORRUPT_MANIFEST');
      assert.equal(err.retryable, false);
      assert.ok(err.message.includes(manifestKey('app', ids.corruptJson)), err.message);
      assert.match(err.message, /not valid JSON/);
      return true;
    });
    await assert.rejects(readManifest(store, 'app', ids.corruptShape), (err) => {
      assert.ok(err instanceof CorruptManifestError);
      assert.ok(err.message.includes(manifestKey('app', ids.corruptShape)), err.message);
      assert.ok(err.message.includes('objects[1].sha256'), err.message);
      return true;
    });
  });

  test('a manifest stored under another backup id is corrupt', async () => {
    const moved = newBackupId(at(5), 'mmmm');
    await store.putJson(manifestKey('moved', moved), manifest('moved', ids.oldest, at(0)));
    await assert.rejects(readManifest(store, 'moved', moved), /describes backup/);
    await store.deleteMany([manifestKey('moved', moved)]);
  });

  test('writeManifest refuses an invalid manifest and writes nothing', async () => {
    const id = newBackupId(at(7), 'hhhh');
    const m = manifest('app', id, at(7));
    m.totals.storedBytes += 1;
    await assert.rejects(writeManifest(store, m), (err) => {
      assert.ok(err instanceof CorruptManifestError);
      assert.match(err.message, /totals\.storedBytes/);
      return true;
    });
    await assert.rejects(
      writeManifest(store, { ...manifest('app', id, at(7)), extra: true } as Manifest),
      CorruptManifestError,
    );
    assert.equal(await store.head(manifestKey('app', id)), undefined);
  });

  test('the schema is strict and checks each field', () => {
    const good = manifest('app', ids.oldest, at(0));
    assert.ok(ManifestSchema.safeParse(good).success);
    assert.ok(!ManifestSchema.safeParse({ ...good, format: 'dockvault-manifest/v4' }).success);
    assert.ok(!ManifestSchema.safeParse({ ...good, startedAt: 'yesterday' }).success);
    assert.ok(!ManifestSchema.safeParse({ ...good, compression: { algorithm: 'xz' } }).success);
    assert.ok(
      !ManifestSchema.safeParse({ ...good, encryption: { format: 'age-v1', recipients: [] } }).success,
    );
    const dup = { ...good, objects: [good.objects[0], good.objects[0]] };
    assert.ok(!ManifestSchema.safeParse(dup).success);
    const escaping = { ...good, objects: [{ ...good.objects[0], name: '../x' }, good.objects[1]] };
    assert.ok(!ManifestSchema.safeParse(escaping).success);
    assert.ok(
      !ManifestSchema.safeParse({ ...good, objects: [{ ...good.objects[0], extra: 1 }, good.objects[1]] })
        .success,
    );
  });

  test('listBackups of one definition: newest first, corrupt manifests listed with an error', async () => {
    const listed = await listBackups(store, 'app');
    assert.deepEqual(
      listed.map((b) => b.backupId),
      [ids.newest, ids.middle, ids.corruptShape, ids.corruptJson, ids.oldest],
    );
    for (const b of listed) assert.equal(b.definition, 'app');
    assert.deepEqual(listed[0]?.manifest, manifest('app', ids.newest, at(2)));
    const corrupt = listed.filter((b) => b.error !== undefined);
    assert.deepEqual(
      corrupt.map((b) => b.backupId),
      [ids.corruptShape, ids.corruptJson],
    );
    assert.ok(corrupt.every((b) => b.manifest === undefined));
    assert.match(corrupt[0]?.error ?? '', /objects\[1\]\.sha256/);
    assert.ok(
      !listed.some((b) => b.backupId === ids.incomplete),
      'a prefix without manifest is not a backup',
    );
  });

  test('listBackups of every definition merges them newest first', async () => {
    const listed = await listBackups(store);
    assert.deepEqual(
      listed.map((b) => `${b.definition}/${b.backupId}`),
      [
        `app/${ids.newest}`,
        `db/${ids.otherDef}`,
        `app/${ids.middle}`,
        `app/${ids.corruptShape}`,
        `app/${ids.corruptJson}`,
        `app/${ids.oldest}`,
      ],
    );
    assert.deepEqual(await listBackups(store, 'nothing-here'), []);
  });

  test('listIncomplete: prefixes with objects but no manifest, with their newest object time', async () => {
    const incomplete = await listIncomplete(store, 'app');
    assert.equal(incomplete.length, 1);
    const [only] = incomplete;
    assert.equal(only?.definition, 'app');
    assert.equal(only?.backupId, ids.incomplete);
    assert.equal(only?.objects, 2);
    assert.equal(only?.bytes, 150);
    assert.ok(only && Math.abs(only.newestObjectAt.getTime() - Date.now()) < 5 * 60_000);
    assert.deepEqual(await listIncomplete(store, 'db'), []);
  });
});
