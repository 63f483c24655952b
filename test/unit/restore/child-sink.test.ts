// The reader sink's child process: what it reads arrives whole, its failure carries its stderr, and
// destroying the sink (a cancelled or failed restore) kills the pipeline it started, not just bash;
// the same with blocking writes through a ring (a reading thread's sink).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ReaderFailedError } from '../../../src/restore/errors.ts';
import { readerSink } from '../../../src/restore/child-sink.ts';

const exec = promisify(execFile);
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockvault-sink-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** pids of processes whose command line holds `marker`; pgrep exits 1 when there are none. */
async function running(marker: string): Promise<string> {
  return exec('pgrep', ['-f', marker]).then(
    (r) => r.stdout.trim(),
    () => '',
  );
}

for (const blocking of [false, true]) {
  // blocking: the reading thread's sink, fed through the ring of shared memory (ring-writer.ts).
  void describe(`readerSink${blocking ? ' with blocking writes' : ''}`, () => {
    const opts = { blocking };

    void it('delivers every byte, in 64 KiB writes or larger ones', async () => {
      // More than the ring holds, in writes of sizes that do not divide it: every wrap is crossed.
      const data = randomBytes(21 * 1024 * 1024 + 17);
      const out = join(dir, `out-${blocking}.bin`);
      const sizes = [65536, 1048576 + 3, 4999, 3 * 1048576];
      const chunks: Buffer[] = [];
      for (let off = 0, i = 0; off < data.length; off += sizes[i++ % sizes.length]!)
        chunks.push(data.subarray(off, off + sizes[i % sizes.length]!));
      await pipeline(
        Readable.from(chunks),
        readerSink('none', ['sh', '-c', 'cat > "$0"', out], 'test', opts),
      );
      assert.ok((await readFile(out)).equals(data));
    });

    void it('a reader that stops reading and exits 0 still lets the sink finish', async () => {
      const data = randomBytes(12 * 1024 * 1024);
      const chunks = Array.from({ length: 12 }, (_, i) => data.subarray(i * 1048576, (i + 1) * 1048576));
      await pipeline(Readable.from(chunks), readerSink('none', ['head', '-c', '100'], 'test', opts));
    });

    // A stall would hang: the timeout makes it a failure.
    void it(
      'a reader that writes much to stderr while it does not read its input is not stalled',
      { timeout: 20_000 },
      async () => {
        const data = randomBytes(12 * 1024 * 1024);
        const chunks = Array.from({ length: 12 }, (_, i) => data.subarray(i * 1048576, (i + 1) * 1048576));
        const noisy = 'head -c 2000000 /dev/zero | tr "\\0" w >&2; cat > /dev/null';
        await pipeline(Readable.from(chunks), readerSink('none', ['sh', '-c', noisy], 'test', opts));
      },
    );

    void it("a failing reader fails the sink with the reader's stderr", async () => {
      await assert.rejects(
        pipeline(
          Readable.from([Buffer.from('x')]),
          readerSink('none', ['sh', '-c', 'echo disk full >&2; exit 2'], 'extracting k', opts),
        ),
        (err) =>
          err instanceof ReaderFailedError &&
          /extracting k: .*exited with status 2: disk full/.test(err.message),
      );
    });

    void it('destroying the sink kills the reader and what it started', async () => {
      const marker = `sleep 7${Math.floor(Math.random() * 1000) + 1000}`;
      const sink = readerSink('zstd', ['sh', '-c', `cat > /dev/null; ${marker}`], 'test', opts);
      sink.write(Buffer.alloc(0));
      await new Promise((r) => setTimeout(r, 300));
      sink.destroy();
      for (let i = 0; i < 20 && (await running(marker)) !== ''; i++)
        await new Promise((r) => setTimeout(r, 100));
      const left = await running(marker);
      // Left over, they would keep this test's process alive: end them before failing.
      for (const pid of left.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      assert.equal(left, '', 'nothing of the pipeline is left');
    });
  });
}
