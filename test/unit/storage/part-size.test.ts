import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partSizeFor } from '../../../src/storage/multipart-upload.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Total bytes that `parts` parts can hold. */
function capacity(parts: number, min: number, hint?: number): number {
  let sum = 0;
  for (let n = 1; n <= parts; n++) sum += partSizeFor(n, min, hint);
  return sum;
}

test('without a size hint, parts start at the configured size and still reach 5 TiB in 10,000', () => {
  assert.equal(partSizeFor(1, 5 * MiB), 5 * MiB);
  assert.equal(partSizeFor(900, 5 * MiB), 5 * MiB);
  assert.equal(partSizeFor(901, 5 * MiB), 10 * MiB);
  assert.ok(capacity(10_000, 5 * MiB) >= 5 * 1024 * GiB);
  assert.ok(partSizeFor(10_000, 5 * MiB) <= 5 * GiB, 'S3 caps a part at 5 GiB');
});

test('a size hint picks whole-MiB parts that fit it with headroom, never below the configured size', () => {
  assert.equal(partSizeFor(1, 8 * MiB, 1 * GiB), 8 * MiB);
  const forBig = partSizeFor(1, 8 * MiB, 200 * GiB);
  assert.equal(forBig % MiB, 0);
  assert.ok(capacity(9000, 8 * MiB, 200 * GiB) >= 200 * GiB * 1.1);
  assert.ok(forBig < 32 * MiB, `not oversized: ${forBig / MiB} MiB`);
});
