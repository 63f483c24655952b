import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { through } from './helpers.ts';
import {
  createDecryptStream,
  createEncryptStream,
  generateIdentity,
} from '../../../src/pipeline/age/index.ts';

const MiB = 1 << 20;
const total = 256 * MiB;

/**
 * RSS between collections also holds garbage V8 has not reclaimed yet (node:crypto allocates every
 * output chunk), which says nothing about what the pipeline keeps. Collecting before each sample
 * measures what is retained.
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

void describe('age streaming memory', () => {
  void it('encrypting 256 MiB into a slow consumer keeps RSS growth under 64 MiB', async () => {
    const { recipient } = generateIdentity();
    const pool = randomBytes(MiB);
    let produced = 0;
    let consumed = 0;
    let maxInFlight = 0;
    let writes = 0;

    function* source(): Generator<Buffer> {
      while (produced < total) {
        const chunk = Buffer.allocUnsafe(MiB);
        pool.copy(chunk);
        chunk.writeUInt32BE(produced / MiB, 0);
        produced += MiB;
        yield chunk;
      }
    }

    await sleep(10);
    gc();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    await pipeline(
      Readable.from(source()),
      createEncryptStream([recipient]),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          consumed += chunk.length;
          maxInFlight = Math.max(maxInFlight, produced - consumed);
          if (++writes % 256 === 0) {
            gc();
            peak = Math.max(peak, process.memoryUsage().rss);
          }
          // Slower than the encryptor: a pause every few writes.
          if (writes % 8 === 0) setTimeout(cb, 1);
          else cb();
        },
      }),
    );
    gc();
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = peak - baseline;
    assert.ok(consumed > total, 'all data reached the consumer');
    assert.ok(maxInFlight < 16 * MiB, `in flight between producer and consumer: ${maxInFlight} bytes`);
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    console.log(
      `# RSS growth ${(growth / MiB).toFixed(1)} MiB, max in flight ${(maxInFlight / MiB).toFixed(1)} MiB`,
    );
  });

  void it('decryption applies backpressure too', async () => {
    const { identity, recipient } = generateIdentity();
    const plain = randomBytes(8 * MiB);
    const file = await through(createEncryptStream([recipient]), plain);
    const decryptor = createDecryptStream([identity]);
    let maxBuffered = 0;
    let out = 0;
    await pipeline(
      Readable.from(
        (function* () {
          for (let off = 0; off < file.length; off += 100_000) yield file.subarray(off, off + 100_000);
        })(),
      ),
      decryptor,
      new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _enc, cb) {
          out += chunk.length;
          maxBuffered = Math.max(maxBuffered, decryptor.readableLength + decryptor.writableLength);
          setTimeout(cb, 0);
        },
      }),
    );
    assert.equal(out, plain.length);
    assert.ok(maxBuffered < 1 * MiB, `decryptor buffered ${maxBuffered} bytes`);
  });
});
