// The reader sink's child process: what it reads arrives whole, its failure carries its stderr, and
// destroying the sink (a cancelled or failed restore) kills the pipeline it started, not just bash.
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

void describe('readerSink', () => {
  void it('delivers every byte, in 64 KiB writes or larger ones', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 17);
    const out = join(dir, 'out.bin');
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) =>
      data.subarray(i * 65536, (i + 1) * 65536),
    );
    await pipeline(Readable.from(chunks), readerSink('none', ['sh', '-c', 'cat > "$0"', out], 'test'));
    assert.ok((await readFile(out)).equals(data));
  });

  void it("a failing reader fails the sink with the reader's stderr", async () => {
    await assert.rejects(
      pipeline(
        Readable.from([Buffer.from('x')]),
        readerSink('none', ['sh', '-c', 'echo disk full >&2; exit 2'], 'extracting k'),
      ),
      (err) =>
        err instanceof ReaderFailedError &&
        /extracting k: .*exited with status 2: disk full/.test(err.message),
    );
  });

  void it('destroying the sink kills the reader and what it started', async () => {
    const marker = `sleep 7${Math.floor(Math.random() * 1000) + 1000}`;
    const sink = readerSink('zstd', ['sh', '-c', `cat > /dev/null; ${marker}`], 'test');
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
