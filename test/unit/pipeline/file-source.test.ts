import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createEncryptStream, generateIdentity } from '../../../src/pipeline/age/index.ts';
import { createCompressor } from '../../../src/pipeline/compression.ts';
import { feedFile } from '../../../src/pipeline/file-source.ts';

// Several read buffers' worth, ending mid-buffer: every buffer is refilled while its predecessor is
// still being compressed, so a buffer reused too early shows up as corrupt output.
const input = Buffer.concat([
  randomBytes(2_500_000),
  Buffer.from('dockvault '.repeat(400_000)),
  randomBytes(700_001),
]);

async function withFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dockvault-file-source-'));
  try {
    const path = join(dir, 'staged.tar');
    await writeFile(path, input);
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function feedAndCollect(
  path: string,
  sink: Transform,
): Promise<{ bytes: number; out: Buffer; seen: number[] }> {
  const seen: number[] = [];
  const collecting = buffer(sink);
  const bytes = await feedFile(path, sink, {
    signal: new AbortController().signal,
    onBytes: (n) => seen.push(n),
  });
  return { bytes, out: await collecting, seen };
}

for (const [algorithm, decompress] of [
  ['zstd', ['zstd', '-d', '-q', '-c']],
  ['gzip', ['gzip', '-d', '-c']],
] as const) {
  test(`${algorithm}: the reference CLI restores the file fed through reused buffers`, () =>
    withFile(async (path) => {
      const { bytes, out, seen } = await feedAndCollect(path, createCompressor({ algorithm }));
      assert.equal(bytes, input.length);
      assert.equal(seen.at(-1), input.length);
      const [bin, ...args] = decompress;
      assert.ok(execFileSync(bin, args, { input: out, maxBuffer: 64 << 20 }).equals(input));
    }));
}

test('age: the age CLI decrypts the file fed straight into the cipher', () =>
  withFile(async (path) => {
    const { identity, recipient } = generateIdentity();
    const keyFile = `${path}.key`;
    await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
    const { out } = await feedAndCollect(path, createEncryptStream([recipient]));
    assert.ok(execFileSync('age', ['-d', '-i', keyFile], { input: out, maxBuffer: 64 << 20 }).equals(input));
  }));

test('an abort stops the feed and destroys the sink with the reason', () =>
  withFile(async (path) => {
    const controller = new AbortController();
    // A sink that never calls back: the feed is stuck on its first write until the abort.
    const sink = new Writable({ write() {} });
    sink.on('error', () => {});
    const feeding = feedFile(path, sink, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('run cancelled')), 20);
    await assert.rejects(feeding, /run cancelled/);
    assert.ok(sink.destroyed);
  }));

test('a missing file rejects and destroys the sink', async () => {
  const sink = new PassThrough();
  sink.on('error', () => {});
  await assert.rejects(
    feedFile(join(tmpdir(), `dockvault-missing-${process.pid}.tar`), sink, {
      signal: new AbortController().signal,
    }),
    { code: 'ENOENT' },
  );
  assert.ok(sink.destroyed);
});

test('a sink that fails rejects the feed with its error', () =>
  withFile(async (path) => {
    let writes = 0;
    const sink = new Writable({
      write(_chunk, _enc, cb) {
        cb(++writes === 2 ? new Error('disk on fire') : null);
      },
    });
    sink.on('error', () => {});
    await assert.rejects(feedFile(path, sink, { signal: new AbortController().signal }), /disk on fire/);
    assert.ok(sink.destroyed);
  }));
