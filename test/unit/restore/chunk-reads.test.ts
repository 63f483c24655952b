import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChunkRef } from '../../../src/storage/chunks.ts';
import { planChunkReads } from '../../../src/restore/chunk-reads.ts';

const KiB = 1024;
const name = (i: number) => i.toString(16).padStart(64, '0');
const packA = `${'a'.repeat(64)}.pack`;
const packB = `${'b'.repeat(64)}.pack`;
const alone = (i: number, bytes = 1024 * KiB): ChunkRef => ({
  name: name(i),
  plaintextBytes: bytes,
  storedBytes: bytes,
});
const inPack = (i: number, pack: string, offset: number, bytes = 64 * KiB): ChunkRef => ({
  name: name(i),
  plaintextBytes: bytes,
  storedBytes: bytes,
  pack,
  offset,
});

test('chunks alone are read one by one; a pack is read once for its chunks listed between others', () => {
  // Blocks of a file from two days' packs, interleaved in file order, between two chunks alone.
  const refs = [
    alone(0),
    inPack(1, packA, 0),
    inPack(2, packB, 640 * KiB),
    inPack(3, packA, 128 * KiB),
    inPack(4, packB, 704 * KiB),
    inPack(5, packA, 192 * KiB),
    alone(6),
  ];
  const reads = planChunkReads(refs);
  assert.deepEqual(
    reads.map((r) => [r.first.name, r.range, r.positions]),
    [
      [name(0), undefined, [0]],
      [name(1), { offset: 0, length: 256 * KiB }, [1, 3, 5]],
      [name(2), { offset: 640 * KiB, length: 128 * KiB }, [2, 4]],
      [name(6), undefined, [6]],
    ],
  );
  const served = reads.flatMap((r) => r.positions).sort((a, b) => a - b);
  assert.deepEqual(served, [0, 1, 2, 3, 4, 5, 6], 'every chunk is read exactly once');
});

test('a pack read takes only the chunks within the window, and no range mostly of chunks not needed', () => {
  const refs = [inPack(1, packA, 0), alone(2, 3 * 1024 * KiB), inPack(3, packA, 64 * KiB)];
  assert.deepEqual(
    planChunkReads(refs, 2 * 1024 * KiB).map((r) => r.positions),
    [[0], [1], [2]],
    'the second block of the pack is 3 MiB of stream later: a read of its own',
  );
  assert.deepEqual(
    planChunkReads(refs).map((r) => r.positions),
    [[0, 2], [1]],
  );
  // Two blocks 3 MiB apart in one pack: reading the 3 MiB between them would be mostly waste.
  const far = [inPack(1, packA, 0), inPack(2, packA, 3 * 1024 * KiB)];
  assert.deepEqual(
    planChunkReads(far).map((r) => [r.positions, r.range]),
    [
      [[0], { offset: 0, length: 64 * KiB }],
      [[1], { offset: 3 * 1024 * KiB, length: 64 * KiB }],
    ],
  );
  // The same chunk listed twice (a repeated block): one range serves both.
  const twice = [inPack(1, packA, 0), inPack(1, packA, 0)];
  assert.deepEqual(
    planChunkReads(twice).map((r) => [r.positions, r.range]),
    [[[0, 1], { offset: 0, length: 64 * KiB }]],
  );
});
