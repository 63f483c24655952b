import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { discard } from '../../../src/pipeline/discard.ts';
import { ContentChunker } from '../../../src/pipeline/content-chunker.ts';

test('discard frees a buffer that starts its own memory, and every view of that memory', () => {
  const own = Buffer.allocUnsafeSlow(256 * 1024);
  const view = own.subarray(1000, 2000);
  discard(own);
  assert.equal(own.buffer.detached, true);
  assert.equal(own.length, 0);
  assert.equal(view.length, 0);
  discard(own); // a second time is harmless
});

test('discard leaves alone what other buffers may share: a slice past the start, Node pool, shared memory', () => {
  const big = Buffer.allocUnsafeSlow(256 * 1024);
  const tail = big.subarray(4096);
  discard(tail);
  assert.equal(big.buffer.detached, false);
  assert.equal(tail.length, 256 * 1024 - 4096);

  const a = Buffer.allocUnsafe(100);
  const b = Buffer.allocUnsafe(100);
  assert.equal(a.buffer, b.buffer, 'small buffers share the pool');
  discard(Buffer.from(a.buffer, 0, 10));
  assert.equal(a.buffer.detached, false);
  assert.equal(b.length, 100);

  const shared = Buffer.from(new SharedArrayBuffer(256 * 1024));
  discard(shared);
  assert.equal(shared.length, 256 * 1024);
});

test('the chunker tells the chunks it joined (its own copies) from views of the input', () => {
  const sizes = { min: 2048, avg: 8192, max: 32768 };
  const data = randomBytes(200_000);
  // One input holding many chunks: each chunk is a view of it.
  const whole = new ContentChunker(sizes);
  const views = whole.push(data);
  assert.ok(views.length > 2);
  for (const c of views) assert.equal(whole.joined(c), false);
  // Small inputs of their own (as a stream reads them): every chunk spans several and is joined.
  const pieces = new ContentChunker(sizes);
  const joined: Buffer[] = [];
  for (let o = 0; o < data.length; o += 1000) {
    const piece = Buffer.allocUnsafeSlow(Math.min(1000, data.length - o));
    data.copy(piece, 0, o);
    joined.push(...pieces.push(piece));
  }
  assert.ok(joined.length > 2);
  for (const c of joined) {
    assert.equal(pieces.joined(c), true);
    assert.notEqual(c.buffer, data.buffer);
  }
});
