import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { collect } from '../../../src/pipeline/collect.ts';

const pieces = (sizes: number[]) => sizes.map((n, i) => Buffer.alloc(n, i + 1));

test('collect joins the pieces, with or without the size to expect, and returns more or fewer whole', async () => {
  const parts = pieces([3, 5, 1, 7]);
  const whole = Buffer.concat(parts);
  assert.deepEqual(await collect(Readable.from(parts)), whole);
  assert.deepEqual(await collect(Readable.from(parts), 16), whole);
  // Fewer bytes than expected: what came, not a buffer padded to the size.
  assert.deepEqual(await collect(Readable.from(parts), 20), whole);
  // More than expected: every byte, so the caller can say how many there were.
  assert.deepEqual(await collect(Readable.from(parts), 8), whole);
  assert.deepEqual(await collect(Readable.from(parts), 0), whole);
  assert.deepEqual(await collect(Readable.from([]), 4), Buffer.alloc(0));
});
