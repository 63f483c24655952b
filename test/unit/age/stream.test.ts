import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateIdentity } from '../../../src/pipeline/age/index.ts';
import { decrypt, encrypt } from './helpers.ts';

const key = generateIdentity();
const enc = 65536 + 16;

function headerLength(file: Buffer): number {
  return file.indexOf('\n', file.indexOf('\n--- ') + 1) + 1;
}

void describe('age payload STREAM framing', () => {
  void it('writes exactly the chunks the spec requires', async () => {
    const expected: Array<[number, number]> = [
      [0, 16], // one empty final chunk
      [1, 17],
      [65535, 65535 + 16],
      [65536, enc], // a full final chunk, no empty chunk after it
      [65537, enc + 1 + 16],
      [2 * 65536, 2 * enc],
    ];
    for (const [size, payload] of expected) {
      const file = await encrypt(randomBytes(size), [key.recipient]);
      assert.equal(file.length - headerLength(file) - 16, payload, `payload length for ${size} bytes`);
    }
  });

  void it('round-trips whatever the write sizes on either side', async () => {
    const writeSizes = [1, 13, 4096, 65535, 65536, 65537, enc, enc + 1, 1 << 20];
    for (const size of [0, 1, 65535, 65536, 65537, 2 * 65536, 3 * 65536 + 5]) {
      const data = randomBytes(size);
      for (const w of writeSizes) {
        if (w === 1 && size > 70000) continue; // byte-at-a-time is covered by the smaller sizes
        const file = await encrypt(data, [key.recipient], w);
        assert.ok((await decrypt(file, [key.identity], {}, w)).equals(data), `size ${size}, writes of ${w}`);
      }
    }
  });

  void it('parses a header delivered one byte at a time', async () => {
    const recipients = Array.from({ length: 20 }, () => generateIdentity());
    const data = randomBytes(3000);
    const file = await encrypt(
      data,
      recipients.map((r) => r.recipient),
    );
    const last = recipients.at(-1);
    assert.ok(last);
    assert.ok((await decrypt(file, [last.identity], {}, 1)).equals(data));
  });

  void it('uses a fresh file key and nonce for every file', async () => {
    const data = Buffer.alloc(1000);
    const a = await encrypt(data, [key.recipient]);
    const b = await encrypt(data, [key.recipient]);
    assert.notDeepEqual(a.subarray(headerLength(a)), b.subarray(headerLength(b)));
  });
});
