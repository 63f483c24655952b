import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { ContentChunker, type ChunkSizes } from '../../../src/pipeline/content-chunker.ts';

const small: ChunkSizes = { min: 2048, avg: 8192, max: 32768 };

function cut(data: Buffer, pieceSize: number, sizes = small): Buffer[] {
  const chunker = new ContentChunker(sizes);
  const out: Buffer[] = [];
  for (let o = 0; o < data.length; o += pieceSize) out.push(...chunker.push(data.subarray(o, o + pieceSize)));
  const last = chunker.end();
  if (last) out.push(last);
  return out;
}

const digests = (chunks: Buffer[]) => chunks.map((c) => createHash('sha256').update(c).digest('hex'));

test('the chunks concatenate to the input and respect min and max', () => {
  const data = randomBytes(2_000_000);
  const chunks = cut(data, 65536);
  assert.deepEqual(Buffer.concat(chunks), data);
  for (const c of chunks.slice(0, -1)) {
    assert.ok(c.length >= small.min && c.length <= small.max, `chunk of ${c.length} bytes`);
  }
  const avg = data.length / chunks.length;
  assert.ok(avg > small.avg / 2 && avg < small.avg * 2, `average ${avg} is near ${small.avg}`);
});

test('cut points do not depend on how the stream is split into buffers', () => {
  const data = randomBytes(1_000_000);
  const whole = digests(cut(data, data.length));
  for (const piece of [1, 7, 4096, 65537])
    assert.deepEqual(digests(cut(data, piece)), whole, `pieces of ${piece}`);
});

test('data without any cut point is cut at max', () => {
  const chunks = cut(Buffer.alloc(100_000), 10_000);
  assert.deepEqual(
    chunks.map((c) => c.length),
    [32768, 32768, 32768, 1696],
  );
});

test('an insertion changes only the chunks around it', () => {
  const data = randomBytes(3_000_000);
  const changed = Buffer.concat([
    data.subarray(0, 1_500_000),
    Buffer.from('inserted'),
    data.subarray(1_500_000),
  ]);
  const before = new Set(digests(cut(data, 65536)));
  const after = digests(cut(changed, 65536));
  const fresh = after.filter((d) => !before.has(d));
  assert.ok(fresh.length >= 1 && fresh.length <= 2, `${fresh.length} of ${after.length} chunks are new`);
});

test('empty input gives no chunk; sizes that are not a power of two are refused', () => {
  assert.deepEqual(cut(Buffer.alloc(0), 1), []);
  assert.throws(() => new ContentChunker({ min: 1, avg: 1000, max: 4000 }), /power of 2/);
  assert.throws(() => new ContentChunker({ min: 9000, avg: 8192, max: 4000 }), /min <= avg <= max/);
});
