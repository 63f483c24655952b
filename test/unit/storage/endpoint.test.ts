import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveEndpoint } from '../../../src/storage/s3-client.ts';
import type { S3Target } from '../../../src/storage/store.ts';

const target: S3Target = {
  bucket: 'b',
  prefix: 'p',
  region: 'us-east-1',
  forcePathStyle: false,
  partSizeMiB: 8,
  queueSize: 4,
};

test("the config's endpoint wins; without one, this process's DOCKVAULT_S3_ENDPOINT applies, path-style", () => {
  const env = { DOCKVAULT_S3_ENDPOINT: 'http://s3:7070' };
  assert.deepEqual(resolveEndpoint({ ...target, endpoint: 'https://s3.example.com' }, env), {
    endpoint: 'https://s3.example.com',
    forcePathStyle: false,
  });
  assert.deepEqual(resolveEndpoint(target, env), { endpoint: 'http://s3:7070', forcePathStyle: true });
  assert.deepEqual(resolveEndpoint(target, { DOCKVAULT_S3_ENDPOINT: '' }), {
    endpoint: undefined,
    forcePathStyle: false,
  });
});
