// The S3 store against the stack's real S3 server (versitygw): streaming multipart uploads, their clean-up
// on failure and cancellation, listing, deletion and JSON documents.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createS3Store } from '../../../src/storage/s3-store.ts';
import type { S3Store } from '../../../src/storage/s3-store.ts';
import {
  BucketNotFoundError,
  CorruptObjectError,
  ObjectNotFoundError,
  StorageError,
} from '../../../src/storage/store.ts';
import type { S3Target } from '../../../src/storage/store.ts';
import { s3TestTarget, stack } from '../../helpers/stack-env.ts';

const MiB = 1024 * 1024;
const runPrefix = `test-storage-${randomBytes(4).toString('hex')}`;

function target(overrides: Partial<S3Target> = {}): S3Target {
  return s3TestTarget(runPrefix, overrides);
}

/** `total` pseudo-random bytes in 1 MiB chunks, hashed as they are produced: never held whole. */
function generated(
  total: number,
  hooks: { beforeChunk?: (sent: number) => Promise<void>; closed?: () => void } = {},
) {
  const hash = createHash('sha256');
  async function* chunks() {
    try {
      let sent = 0;
      while (sent < total) {
        await hooks.beforeChunk?.(sent);
        const chunk = randomBytes(Math.min(MiB, total - sent));
        hash.update(chunk);
        sent += chunk.length;
        yield chunk;
      }
    } finally {
      hooks.closed?.();
    }
  }
  return { stream: Readable.from(chunks()), digest: () => hash.digest('hex') };
}

async function sha256Of(stream: Readable): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hex: hash.digest('hex'), bytes };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('S3 store on versitygw', () => {
  let store: S3Store;
  let raw: S3Client;

  before(() => {
    store = createS3Store(target());
    raw = new S3Client({
      endpoint: stack.s3Endpoint,
      forcePathStyle: true,
      region: process.env.AWS_REGION ?? 'us-east-1',
    });
  });

  after(async () => {
    await store.abortUnfinishedUploads('');
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    await store.deleteMany(keys);
    store.destroy();
    raw.destroy();
  });

  test('location names the bucket and prefix', () => {
    assert.equal(store.location, `s3://${stack.s3Bucket}/${runPrefix}`);
    assert.equal(createS3Store(target({ prefix: '/a/b/' })).location, `s3://${stack.s3Bucket}/a/b`);
    assert.equal(createS3Store(target({ prefix: '' })).location, `s3://${stack.s3Bucket}`);
  });

  test('a 40 MiB generated stream uploads in 5 MiB parts and reads back identical', async () => {
    const total = 40 * MiB + 12_345; // 9 parts, the last one short
    const source = generated(total);
    const progress: number[] = [];
    const result = await store.put('big/stream.bin', source.stream, { onProgress: (n) => progress.push(n) });
    assert.deepEqual(result, { key: 'big/stream.bin', size: total });
    assert.equal(Math.max(...progress), total, 'progress reaches the full size');
    assert.ok(progress.length >= 9, `one progress event per part at least, saw ${progress.length}`);

    const head = await raw.send(
      new HeadObjectCommand({ Bucket: stack.s3Bucket, Key: `${runPrefix}/big/stream.bin` }),
    );
    assert.match(head.ETag ?? '', /-9"?$/, `a 9-part multipart object, ETag ${head.ETag}`);
    const info = await store.head('big/stream.bin');
    assert.equal(info?.size, total);
    assert.ok(info && Math.abs(info.lastModified.getTime() - Date.now()) < 5 * 60_000);

    const back = await sha256Of(await store.get('big/stream.bin'));
    assert.equal(back.bytes, total);
    assert.equal(back.hex, source.digest());
  });

  test('get with an abort signal: aborting mid-read ends the stream with an error', async () => {
    if (!(await store.head('big/stream.bin'))) await store.put('big/stream.bin', generated(40 * MiB).stream);
    const controller = new AbortController();
    const stream = await store.get('big/stream.bin', { signal: controller.signal });
    let read = 0;
    await assert.rejects(async () => {
      for await (const chunk of stream) {
        read += (chunk as Buffer).length;
        if (read >= MiB) controller.abort(new Error('restore cancelled'));
      }
    });
    assert.ok(read < 40 * MiB, `stopped early, read ${read}`);
    const already = new AbortController();
    already.abort(new Error('gone'));
    await assert.rejects(store.get('big/stream.bin', { signal: already.signal }), /gone/);
  });

  test('a small stream (below one part) goes up in a single PUT and reads back identical', async () => {
    const source = generated(1000);
    const progress: number[] = [];
    const result = await store.put('small/one.bin', source.stream, {
      contentType: 'text/plain',
      onProgress: (n) => progress.push(n),
    });
    assert.equal(result.size, 1000);
    assert.equal(progress.at(-1), 1000);
    const back = await sha256Of(await store.get('small/one.bin'));
    assert.equal(back.hex, source.digest());
    const head = await raw.send(
      new HeadObjectCommand({ Bucket: stack.s3Bucket, Key: `${runPrefix}/small/one.bin` }),
    );
    assert.equal(head.ContentType, 'text/plain');
  });

  test('a source that fails midway: put rejects with its error, the multipart upload is aborted, no object', async () => {
    const key = 'failing/source.bin';
    const progress: number[] = [];
    const sourceError = new Error('disk read failed at 12 MiB');
    let uploadsWhileRunning = -1;
    const source = generated(100 * MiB, {
      beforeChunk: async (sent) => {
        if (sent === 12 * MiB) {
          // Parts are on the server now: the failure has a real multipart upload to clean up.
          await until(() => progress.some((n) => n >= 5 * MiB), 'the first part');
          uploadsWhileRunning = (await store.listUnfinishedUploads(key)).length;
          throw sourceError;
        }
      },
    });
    await assert.rejects(
      store.put(key, source.stream, { onProgress: (n) => progress.push(n) }),
      (err) => err === sourceError,
    );
    assert.equal(uploadsWhileRunning, 1, 'a multipart upload existed while the put ran');
    assert.deepEqual(await store.listUnfinishedUploads(key), []);
    assert.equal(await store.head(key), undefined);
  });

  test('a source that fails at once or after a few bytes: put rejects with that very error', async () => {
    for (const failAfter of [0, 1, 100_000]) {
      const sourceError = new Error(`failed after ${failAfter} bytes`);
      const source = Readable.from(
        (async function* () {
          await sleep(1);
          if (failAfter > 0) yield randomBytes(failAfter);
          throw sourceError;
        })(),
      );
      await assert.rejects(store.put(`failing/early-${failAfter}.bin`, source), (err) => err === sourceError);
      assert.equal(await store.head(`failing/early-${failAfter}.bin`), undefined);
    }
    const broken = new Readable({ read() {} });
    const brokenError = new Error('already broken');
    broken.destroy(brokenError);
    await assert.rejects(store.put('failing/broken.bin', broken), (err) => err === brokenError);
  });

  test('an abort signal midway: put rejects with its reason, the upload is aborted, the source is closed', async () => {
    const key = 'aborted/stream.bin';
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    let sourceClosed = false;
    let uploadsWhileRunning = -1;
    const progress: number[] = [];
    const source = generated(200 * MiB, { closed: () => (sourceClosed = true) });
    const put = store.put(key, source.stream, {
      signal: controller.signal,
      onProgress: (n) => progress.push(n),
    });
    const rejected = assert.rejects(put, (err) => err === reason);
    await until(() => progress.some((n) => n >= 10 * MiB), 'two parts');
    uploadsWhileRunning = (await store.listUnfinishedUploads(key)).length;
    controller.abort(reason);
    await rejected;
    assert.equal(uploadsWhileRunning, 1, 'a multipart upload existed while the put ran');
    assert.deepEqual(await store.listUnfinishedUploads(key), []);
    assert.equal(await store.head(key), undefined);
    await until(() => sourceClosed, 'the source to be closed', 5_000);
    assert.ok(Math.max(...progress) < 200 * MiB, 'the upload stopped early');
  });

  test('an already aborted signal: put rejects at once and uploads nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const source = generated(10 * MiB);
    await assert.rejects(store.put('aborted/before.bin', source.stream, { signal: controller.signal }), {
      name: 'AbortError',
    });
    assert.equal(await store.head('aborted/before.bin'), undefined);
    assert.ok(source.stream.destroyed);
  });

  test('a put into a missing bucket: BucketNotFoundError, and the source is released', async () => {
    const missing = createS3Store(target({ bucket: `dockvault-missing-${randomBytes(4).toString('hex')}` }));
    try {
      for (const total of [1000, 12 * MiB]) {
        let closed = false;
        const source = generated(total, { closed: () => (closed = true) });
        await assert.rejects(missing.put('x.bin', source.stream), (err) => {
          assert.ok(err instanceof BucketNotFoundError, String(err));
          assert.ok(err.message.includes(missing.location), err.message);
          return true;
        });
        await until(() => closed || source.stream.destroyed, 'the source to be released', 5_000);
      }
    } finally {
      missing.destroy();
    }
  });

  test('get of a missing key: ObjectNotFoundError naming the key', async () => {
    await assert.rejects(store.get('nothing/here.bin'), (err) => {
      assert.ok(err instanceof ObjectNotFoundError);
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, 'OBJECT_NOT_FOUND');
      assert.equal(err.retryable, false);
      assert.equal(err.key, 'nothing/here.bin');
      assert.match(err.message, /nothing\/here\.bin/);
      assert.ok(err.message.includes(store.location));
      return true;
    });
    await assert.rejects(store.getJson('nothing/here.json'), ObjectNotFoundError);
    assert.equal(await store.head('nothing/here.bin'), undefined);
  });

  test('putJson/getJson round trip; a non-JSON object is a CorruptObjectError naming the key', async () => {
    const value = { format: 'x/v1', n: 42, nested: { list: [1, 'two', true, null] } };
    await store.putJson('json/doc.json', value);
    assert.deepEqual(await store.getJson('json/doc.json'), value);
    const head = await raw.send(
      new HeadObjectCommand({ Bucket: stack.s3Bucket, Key: `${runPrefix}/json/doc.json` }),
    );
    assert.equal(head.ContentType, 'application/json');

    await store.put('json/not.json', Readable.from([Buffer.from('{"truncated": ')]));
    await assert.rejects(store.getJson('json/not.json'), (err) => {
      assert.ok(err instanceof CorruptObjectError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /json\/not\.json/);
      assert.match(err.message, /not valid JSON/);
      return true;
    });
  });

  test('list and deleteMany page through more than 1000 keys; listPrefixes gives one level', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}.json`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => store.putJson(k, { k })));
    }
    await store.putJson('many/sub-a/x.json', 1);
    await store.putJson('many/sub-b/deeper/y.json', 2);

    const listed: string[] = [];
    for await (const o of store.list('many/')) {
      assert.ok(o.size > 0 && o.lastModified instanceof Date);
      listed.push(o.key);
    }
    assert.equal(listed.length, 1007);
    assert.ok(listed.includes('many/1004.json') && listed.includes('many/sub-b/deeper/y.json'));
    assert.ok(
      listed.every((k) => !k.startsWith(runPrefix)),
      'keys come back relative to the prefix',
    );

    assert.deepEqual(await store.listPrefixes('many/'), ['many/sub-a/', 'many/sub-b/']);
    assert.deepEqual(await store.listPrefixes('many'), ['many/sub-a/', 'many/sub-b/']);
    assert.ok((await store.listPrefixes('')).includes('many/'));

    await store.deleteMany([...listed, 'many/never-existed.json']);
    const left: string[] = [];
    for await (const o of store.list('many/')) left.push(o.key);
    assert.deepEqual(left, []);
    await store.deleteMany([]);
  });

  test('abortUnfinishedUploads: an upload left behind by a crashed writer is listed, then aborted', async () => {
    const Key = `${runPrefix}/crashed/left-behind.bin`;
    const created = await raw.send(new CreateMultipartUploadCommand({ Bucket: stack.s3Bucket, Key }));
    const UploadId = created.UploadId!;
    await raw.send(
      new UploadPartCommand({
        Bucket: stack.s3Bucket,
        Key,
        UploadId,
        PartNumber: 1,
        Body: randomBytes(5 * MiB),
      }),
    );

    const listed = await store.listUnfinishedUploads('crashed/');
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.key, 'crashed/left-behind.bin');
    assert.equal(listed[0]?.uploadId, UploadId);
    assert.ok(listed[0]?.initiated instanceof Date);

    assert.equal(
      await store.abortUnfinishedUploads('crashed/', { olderThan: new Date(Date.now() - 3_600_000) }),
      0,
    );
    assert.equal((await store.listUnfinishedUploads('crashed/')).length, 1, 'a recent upload is left alone');
    assert.equal(await store.abortUnfinishedUploads('crashed/'), 1);
    assert.deepEqual(await store.listUnfinishedUploads('crashed/'), []);
    await assert.rejects(raw.send(new ListPartsCommand({ Bucket: stack.s3Bucket, Key, UploadId })), {
      name: 'NoSuchUpload',
    });
  });
});
