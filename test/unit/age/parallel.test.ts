// Decryption in a worker thread: runs of 32 chunks opened there must come out in order, fail at the first
// bad chunk, keep the final-chunk rules at run boundaries, hash exactly the input, respect backpressure,
// and leave no thread behind.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import {
  AuthenticationError,
  TruncatedError,
  createDecryptStream,
  generateIdentity,
} from '../../../src/pipeline/age/index.ts';
import { decrypt, encrypt, through } from './helpers.ts';

const key = generateIdentity();
const chunk = 65536;
const enc = chunk + 16;
const run = 32;
const thread = true;

function payloadStart(file: Buffer): number {
  return file.indexOf('\n', file.indexOf('\n--- ') + 1) + 1 + 16;
}

function messagePorts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
}

void describe('age decryption in a worker thread', () => {
  void it('round-trips sizes around run boundaries, whatever the write sizes', async () => {
    for (const size of [0, 1, run * chunk - 1, run * chunk, run * chunk + 1, 3 * run * chunk + 5]) {
      const data = randomBytes(size);
      const file = await encrypt(data, [key.recipient]);
      for (const w of [4096, enc * run + 1, 3 << 20]) {
        const out = await decrypt(file, [key.identity], { thread }, w);
        assert.ok(out.equals(data), `size ${size}, writes of ${w}`);
      }
    }
  });

  void it('hashes exactly its input, in the thread or not, whatever the write sizes', async () => {
    for (const size of [0, 5000, run * chunk, 2 * run * chunk + 7]) {
      const file = await encrypt(randomBytes(size), [key.recipient]);
      const expected = createHash('sha256').update(file).digest('hex');
      for (const [opts, w] of [
        [{ thread: true }, 7],
        [{ thread: true }, 1 << 20],
        [{ thread: false }, 1000],
      ] as const) {
        const stream = createDecryptStream([key.identity], { ...opts, sha256: true });
        await through(stream, file, w);
        assert.equal(stream.sha256(), expected, `size ${size}, thread ${opts.thread}, writes of ${w}`);
      }
    }
  });

  void it('reports the first failing chunk in file order', async () => {
    const file = await encrypt(randomBytes(3 * run * chunk), [key.recipient]);
    const start = payloadStart(file);
    const damaged = Buffer.from(file);
    damaged[start + 70 * enc + 7]! ^= 1;
    await assert.rejects(decrypt(damaged, [key.identity], { thread }), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.equal(err.chunkIndex, 70);
      assert.equal(err.offset, start + 70 * enc);
      return true;
    });
    damaged[start + 3 * enc + 7]! ^= 1;
    await assert.rejects(decrypt(damaged, [key.identity], { thread }), (err: unknown) => {
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.equal(err.chunkIndex, 3);
      return true;
    });
  });

  void it('a file cut at a run boundary has no final chunk; data after the final chunk is refused', async () => {
    const file = await encrypt(randomBytes(3 * run * chunk), [key.recipient]);
    const start = payloadStart(file);
    for (const runs of [1, 2]) {
      await assert.rejects(
        decrypt(file.subarray(0, start + runs * run * enc), [key.identity], { thread }),
        (err: unknown) => err instanceof TruncatedError && /without a final chunk/.test(err.message),
      );
    }
    const aligned = await encrypt(randomBytes(run * chunk), [key.recipient]);
    await assert.rejects(
      decrypt(Buffer.concat([aligned, randomBytes(100)]), [key.identity], { thread }),
      (err: unknown) => err instanceof TruncatedError && /trailing data/.test(err.message),
    );
  });

  void it('buffers a bounded number of runs for a slow consumer', async () => {
    const plain = randomBytes(32 << 20);
    const file = await encrypt(plain, [key.recipient]);
    const decryptor = createDecryptStream([key.identity], { thread });
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
        write(c: Buffer, _enc, cb) {
          out += c.length;
          maxBuffered = Math.max(maxBuffered, decryptor.readableLength + decryptor.writableLength);
          setTimeout(cb, 1);
        },
      }),
    );
    assert.equal(out, plain.length);
    // Three runs in flight and the one being filled, 2 MiB each, plus the streams' own buffers.
    assert.ok(maxBuffered < 10 << 20, `decryptor buffered ${maxBuffered} bytes`);
  });

  void it('stops its thread when the stream ends, fails or is destroyed', async () => {
    const before = messagePorts();
    const file = await encrypt(randomBytes(2 * run * chunk), [key.recipient]);
    await decrypt(file, [key.identity], { thread });
    const damaged = Buffer.from(file);
    damaged[payloadStart(file) + 40 * enc]! ^= 1;
    await assert.rejects(decrypt(damaged, [key.identity], { thread }), AuthenticationError);
    const stream = createDecryptStream([key.identity], { thread });
    stream.write(file.subarray(0, file.length >> 1));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(messagePorts() > before, 'the thread runs while the stream does');
    stream.destroy();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(messagePorts(), before);
  });
});
