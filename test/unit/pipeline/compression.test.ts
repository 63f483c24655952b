import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  createCompressor,
  createDecompressor,
  type CompressionAlgorithm,
} from '../../../src/pipeline/compression.ts';
import { Meter } from '../../../src/pipeline/meter.ts';

// Half compressible text, half random, in uneven chunks: what a tar stream looks like to the stage.
const input = Buffer.concat([Buffer.from('dockvault '.repeat(300_000)), randomBytes(3_000_000)]);
const chunks = () =>
  Readable.from(Array.from({ length: 61 }, (_, i) => input.subarray(i * 100_003, (i + 1) * 100_003)));

const cli: Record<CompressionAlgorithm, string[] | undefined> = {
  zstd: ['zstd', '-d', '-q', '-c'],
  gzip: ['gzip', '-d', '-c'],
  none: undefined,
};

for (const algorithm of ['zstd', 'gzip', 'none'] as const) {
  test(`${algorithm}: round trip, and the reference CLI reads what it wrote`, async () => {
    const compressed = await buffer(chunks().pipe(createCompressor({ algorithm })));
    if (algorithm !== 'none') assert.ok(compressed.length < input.length * 0.7, 'text half compressed');
    assert.ok((await buffer(Readable.from([compressed]).pipe(createDecompressor(algorithm)))).equals(input));
    const command = cli[algorithm];
    if (command) {
      const [bin, ...args] = command;
      assert.ok(execFileSync(bin!, args, { input: compressed, maxBuffer: 64 << 20 }).equals(input));
    }
  });
}

test('Meter counts and hashes exactly what passes through', async () => {
  const meter = new Meter();
  const out = await buffer(chunks().pipe(meter));
  assert.ok(out.equals(input));
  assert.equal(meter.bytes, input.length);
  assert.equal(meter.digest(), execFileSync('sha256sum', { input }).toString().split(' ')[0]);
});
