// checkWritable: the preflight that runs before anything is stopped. It must pass on a usable target and
// fail fast, with the right typed error and without secrets, on every kind of unusable one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createS3Store } from '../../../src/storage/s3-store.ts';
import {
  BucketNotFoundError,
  StorageAccessError,
  StorageError,
  StorageUnreachableError,
} from '../../../src/storage/store.ts';
import type { S3Target } from '../../../src/storage/store.ts';
import { s3TestTarget, stack } from '../../helpers/stack-env.ts';

const runPrefix = `test-storage-${randomBytes(4).toString('hex')}`;

function target(overrides: Partial<S3Target> = {}): S3Target {
  return s3TestTarget(runPrefix, overrides);
}

function assertNoSecret(message: string): void {
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  assert.ok(secret && !message.includes(secret), 'the secret key is not in the message');
}

test('checkWritable passes on the stack bucket and leaves no probe behind', async () => {
  const store = createS3Store(target());
  try {
    await store.checkWritable();
    const left: string[] = [];
    for await (const o of store.list('')) left.push(o.key);
    assert.deepEqual(left, []);
  } finally {
    store.destroy();
  }
});

test('checkWritable on a missing bucket: BucketNotFoundError naming the location', async () => {
  const bucket = `dockvault-missing-${randomBytes(4).toString('hex')}`;
  const store = createS3Store(target({ bucket }));
  try {
    await assert.rejects(store.checkWritable(), (err) => {
      assert.ok(err instanceof BucketNotFoundError, String(err));
      assert.equal(err.code, 'BUCKET_NOT_FOUND');
      assert.equal(err.retryable, false);
      assert.ok(err.message.includes(`s3://${bucket}/${runPrefix}`), err.message);
      assert.match(err.message, /NoSuchBucket/);
      assertNoSecret(err.message);
      return true;
    });
  } finally {
    store.destroy();
  }
});

test('checkWritable on a closed port: StorageUnreachableError within seconds', async () => {
  const store = createS3Store(target({ endpoint: 'http://127.0.0.1:1' }));
  const started = Date.now();
  try {
    await assert.rejects(store.checkWritable(), (err) => {
      assert.ok(err instanceof StorageUnreachableError, String(err));
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, 'STORAGE_UNREACHABLE');
      assert.equal(err.retryable, true);
      assert.match(err.message, /ECONNREFUSED/);
      assert.ok(err.message.includes(store.location), err.message);
      return true;
    });
    assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
  } finally {
    store.destroy();
  }
});

test('checkWritable on an unresolvable host: StorageUnreachableError', async () => {
  const store = createS3Store(target({ endpoint: 'http://dockvault-no-such-host.invalid:7070' }));
  try {
    await assert.rejects(store.checkWritable(), StorageUnreachableError);
  } finally {
    store.destroy();
  }
});

// Credentials only come from the environment, so the wrong ones are given to a child process.
const probeScript = `
import { createS3Store } from ${JSON.stringify(fileURLToPath(new URL('../../../src/storage/s3-store.ts', import.meta.url)))};
const store = createS3Store(JSON.parse(process.argv[1]));
try {
  await store.checkWritable();
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(JSON.stringify({ name: err.name, code: err.code, retryable: err.retryable, message: err.message }));
} finally {
  store.destroy();
}
`;

async function checkWithEnv(
  env: Record<string, string>,
): Promise<{ name?: string; code?: string; retryable?: boolean; message?: string; ok?: boolean }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--no-warnings', '-e', probeScript, JSON.stringify(target())],
    { env: { ...process.env, ...env }, timeout: 30_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Awaited<ReturnType<typeof checkWithEnv>>;
}

test('checkWritable with a wrong secret key: StorageAccessError, and the secret is not in the message', async () => {
  const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;
  const result = await checkWithEnv({ AWS_SECRET_ACCESS_KEY: wrongSecret });
  assert.equal(result.name, StorageAccessError.name, JSON.stringify(result));
  assert.equal(result.code, 'STORAGE_ACCESS_DENIED');
  assert.equal(result.retryable, false);
  assert.ok(result.message?.includes(`s3://${stack.s3Bucket}/${runPrefix}`), result.message);
  assert.ok(!result.message?.includes(wrongSecret), result.message);
  assertNoSecret(result.message ?? '');
});

test('checkWritable with an unknown access key: StorageAccessError', async () => {
  const result = await checkWithEnv({
    AWS_ACCESS_KEY_ID: 'dvunknownkey',
    AWS_SECRET_ACCESS_KEY: 'x'.repeat(40),
  });
  assert.equal(result.name, StorageAccessError.name, JSON.stringify(result));
  assert.ok(!result.message?.includes('x'.repeat(40)));
});

test('the same child with the right environment passes (the child harness itself works)', async () => {
  assert.deepEqual(await checkWithEnv({}), { ok: true });
});

test('a known secret never appears in a storage error message even if the server echoes it', async () => {
  const { redactSecrets } = await import('../../../src/storage/s3-errors.ts');
  const secret = process.env.AWS_SECRET_ACCESS_KEY ?? '';
  assert.ok(!redactSecrets(`server said ${secret} oops`).includes(secret));
});
