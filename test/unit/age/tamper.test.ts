import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import {
  AgeError,
  AuthenticationError,
  HeaderError,
  NoMatchingIdentityError,
  PayloadFormatError,
  TruncatedError,
  createDecryptStream,
  decryptBuffer,
  generateIdentity,
  parseRecipient,
} from '../../../src/pipeline/age/index.ts';
import { encodeBase64 } from '../../../src/pipeline/age/base64.ts';
import { formatHeader } from '../../../src/pipeline/age/header.ts';
import { ChunkNonce, payloadKey, sealChunk } from '../../../src/pipeline/age/stream.ts';
import { decrypt, encrypt, run, withTempDir } from './helpers.ts';

const enc = 65536 + 16;
const key = generateIdentity();
const other = generateIdentity();
const name = 's3://bucket/host/backup1/2026-01-01.tar.zst.age';

/** Header length: up to and including the newline of the `--- MAC` line. */
function headerLength(file: Buffer): number {
  const footer = file.indexOf('\n--- ');
  return file.indexOf('\n', footer + 1) + 1;
}

function flip(file: Buffer, offset: number, mask = 0x01): Buffer {
  const copy = Buffer.from(file);
  copy[offset] = (copy[offset] ?? 0) ^ mask;
  return copy;
}

async function rejectsWith<T extends AgeError>(
  file: Buffer,
  type: new (...args: never[]) => T,
  check?: (err: T) => void,
  identities: string[] = [key.identity],
): Promise<void> {
  let streamMessage = '';
  const expected = (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.ok(err instanceof AgeError);
    assert.ok(err.message.startsWith(`${name}: `), `message should name the object: ${err.message}`);
    assert.ok(!err.message.includes(key.identity), 'message must not contain the secret key');
    check?.(err);
    return true;
  };
  await assert.rejects(decrypt(file, identities, { name }), (err: unknown) => {
    streamMessage = (err as Error).message;
    return expected(err);
  });
  // Chunks are decrypted from memory: the same verdict, word for word.
  assert.throws(
    () => decryptBuffer(file, identities, { name }),
    (err: unknown) => expected(err) && (err as Error).message === streamMessage,
  );
}

// Three chunks: two full, one short final chunk.
const plain = randomBytes(2 * 65536 + 1000);
const file = await encrypt(plain, [key.recipient]);
const hlen = headerLength(file);
const payloadStart = hlen + 16;

void describe('age decryption of damaged input', () => {
  void it('the sample decrypts intact', async () => {
    assert.ok((await decrypt(file, [key.identity])).equals(plain));
    assert.equal(file.length, payloadStart + 2 * enc + 1000 + 16);
  });

  void it('a flipped byte in the version line is a HeaderError', async () => {
    await rejectsWith(flip(file, 5), HeaderError);
  });

  void it('a flipped bit in the X25519 share is a HeaderError or no match, never a success', async () => {
    const share = file.indexOf('-> X25519 ') + 10;
    // 'A' <-> 'B' keeps the base64 valid: the stanza no longer unwraps.
    const changed = Buffer.from(file);
    changed[share] = changed[share] === 0x41 ? 0x42 : 0x41;
    await rejectsWith(changed, NoMatchingIdentityError);
    // 0x2d is not base64: the header is malformed.
    const broken = Buffer.from(file);
    broken[share] = 0x2d;
    await rejectsWith(broken, HeaderError);
  });

  void it('an X25519 share that is a low-order point is a HeaderError', async () => {
    const share = file.indexOf('-> X25519 ') + 10;
    const zero = Buffer.from(encodeBase64(Buffer.alloc(32)));
    const changed = Buffer.from(file);
    zero.copy(changed, share);
    await rejectsWith(changed, HeaderError, (err) => assert.match(err.message, /low-order point/));
  });

  void it('a flipped bit in the stanza body means no identity matches', async () => {
    const body = file.indexOf('\n', file.indexOf('-> X25519 ')) + 1;
    const changed = Buffer.from(file);
    changed[body] = changed[body] === 0x41 ? 0x42 : 0x41;
    await rejectsWith(changed, NoMatchingIdentityError);
  });

  void it("a change to another recipient's stanza fails the header MAC", async () => {
    const two = await encrypt(plain, [key.recipient, other.recipient]);
    const second = two.indexOf('-> X25519 ', two.indexOf('-> X25519 ') + 1) + 10;
    const changed = Buffer.from(two);
    changed[second] = changed[second] === 0x41 ? 0x42 : 0x41;
    await rejectsWith(changed, AuthenticationError, (err) => assert.equal(err.chunkIndex, undefined));
    // The other identity cannot unwrap its damaged stanza.
    await rejectsWith(changed, NoMatchingIdentityError, undefined, [other.identity]);
  });

  void it('a flipped bit in the header MAC is an AuthenticationError and emits nothing', async () => {
    const mac = file.indexOf('\n--- ') + 5;
    const changed = Buffer.from(file);
    changed[mac] = changed[mac] === 0x41 ? 0x42 : 0x41;
    await rejectsWith(changed, AuthenticationError, (err) => {
      assert.equal(err.chunkIndex, undefined);
      assert.match(err.message, /header MAC/);
    });
    const stream = createDecryptStream([key.identity], { name });
    let emitted = 0;
    stream.on('data', (c: Buffer) => (emitted += c.length));
    await assert.rejects(pipeline(Readable.from([changed]), stream), AuthenticationError);
    assert.equal(emitted, 0);
  });

  void it('a flipped payload nonce fails chunk 0', async () => {
    await rejectsWith(flip(file, hlen + 3), AuthenticationError, (err) => assert.equal(err.chunkIndex, 0));
  });

  void it('a flipped byte in the first chunk names chunk 0 and its offset', async () => {
    await rejectsWith(flip(file, payloadStart + 100), AuthenticationError, (err) => {
      assert.equal(err.chunkIndex, 0);
      assert.equal(err.offset, payloadStart);
      assert.match(err.message, /chunk 0/);
    });
  });

  void it('a flipped byte in a tag of a middle chunk names that chunk', async () => {
    await rejectsWith(flip(file, payloadStart + 2 * enc - 1), AuthenticationError, (err) => {
      assert.equal(err.chunkIndex, 1);
      assert.equal(err.offset, payloadStart + enc);
    });
  });

  void it('a flipped byte in the last chunk names the last chunk', async () => {
    await rejectsWith(flip(file, file.length - 20), AuthenticationError, (err) => {
      assert.equal(err.chunkIndex, 2);
      assert.equal(err.offset, payloadStart + 2 * enc);
    });
  });

  void it('truncation inside the header or the payload nonce is a TruncatedError', async () => {
    for (const at of [1, 10, 22, 30, hlen - 40, hlen - 1, hlen, hlen + 8]) {
      await rejectsWith(file.subarray(0, at), TruncatedError);
    }
  });

  void it('truncation right after the payload nonce, or inside a tag, is a TruncatedError', async () => {
    await rejectsWith(file.subarray(0, payloadStart), TruncatedError);
    await rejectsWith(file.subarray(0, payloadStart + 15), TruncatedError);
  });

  void it('truncation exactly at a chunk boundary, dropping the final chunk, is a TruncatedError', async () => {
    await rejectsWith(file.subarray(0, payloadStart + enc), TruncatedError, (err) =>
      assert.equal(err.offset, payloadStart + enc),
    );
    await rejectsWith(file.subarray(0, payloadStart + 2 * enc), TruncatedError, (err) =>
      assert.match(err.message, /without a final chunk/),
    );
  });

  void it('truncation inside a chunk fails authentication (or reports truncation)', async () => {
    for (const at of [payloadStart + 1000, payloadStart + enc + 17, file.length - 1]) {
      await assert.rejects(
        decrypt(file.subarray(0, at), [key.identity], { name }),
        (err) => err instanceof AuthenticationError || err instanceof TruncatedError,
      );
    }
  });

  void it('trailing garbage after the final chunk is an error', async () => {
    await rejectsWith(Buffer.concat([file, Buffer.from([0])]), AuthenticationError);
    // A full final chunk followed by more data: the chunk authenticates only as final.
    const aligned = await encrypt(randomBytes(2 * 65536), [key.recipient]);
    await rejectsWith(Buffer.concat([aligned, randomBytes(100)]), TruncatedError, (err) =>
      assert.match(err.message, /trailing data/),
    );
    await rejectsWith(Buffer.concat([aligned, aligned]), TruncatedError);
    const empty = await encrypt(Buffer.alloc(0), [key.recipient]);
    await rejectsWith(Buffer.concat([empty, Buffer.from('x')]), AuthenticationError);
  });

  void it('a wrong identity is a NoMatchingIdentityError naming what was tried', async () => {
    await rejectsWith(
      file,
      NoMatchingIdentityError,
      (err) => {
        assert.match(
          err.message,
          /not encrypted to this identity: recipients are unknown \(X25519 stanzas: 1\)/,
        );
        assert.ok(err.message.includes(other.recipient));
        assert.deepEqual(err.triedRecipients, [other.recipient]);
        assert.ok(!err.message.includes(other.identity));
      },
      [other.identity],
    );
    const two = await encrypt(plain, [key.recipient, other.recipient]);
    const third = generateIdentity();
    const fourth = generateIdentity();
    await rejectsWith(
      two,
      NoMatchingIdentityError,
      (err) => {
        assert.match(err.message, /not encrypted to these identities: .*X25519 stanzas: 2/);
        assert.ok(err.message.includes(third.recipient) && err.message.includes(fourth.recipient));
      },
      [third.identity, fourth.identity],
    );
  });

  void it('input that is not an age file is a HeaderError', async () => {
    await rejectsWith(Buffer.from('hello world, this is a tar file\n'), HeaderError, (err) =>
      assert.match(err.message, /not an age file/),
    );
    await rejectsWith(randomBytes(100000), HeaderError);
    await rejectsWith(Buffer.alloc(0), HeaderError, (err) => assert.match(err.message, /empty/));
    await rejectsWith(Buffer.from('age-encryption.org/v2\n-> X25519 abc\n'), HeaderError, (err) =>
      assert.match(err.message, /unsupported age format version/),
    );
    await rejectsWith(Buffer.from('age-encryption.org/v1\nhello\n'), HeaderError);
    await rejectsWith(Buffer.from('age-encryption.org/v1\n--- ' + 'A'.repeat(43) + '\n'), HeaderError);
    await rejectsWith(
      Buffer.concat([Buffer.from('age-encryption.org/v1\n'), Buffer.alloc(2 << 20, 0x41)]),
      HeaderError,
    );
  });

  void it('ASCII-armored age is a HeaderError that says so', async () => {
    const armored = await run('age', ['-a', '-r', key.recipient], Buffer.from('hi'));
    await rejectsWith(armored, HeaderError, (err) => assert.match(err.message, /armored/));
  });

  void it('passphrase (scrypt) and SSH-encrypted files get a clear NoMatchingIdentityError', async () => {
    const body = encodeBase64(randomBytes(32));
    const mac = encodeBase64(randomBytes(32));
    const scrypt = Buffer.from(
      `age-encryption.org/v1\n-> scrypt ${encodeBase64(randomBytes(16))} 18\n${body}\n--- ${mac}\n`,
    );
    await rejectsWith(Buffer.concat([scrypt, randomBytes(100)]), NoMatchingIdentityError, (err) => {
      assert.match(err.message, /scrypt stanzas: 1/);
      assert.match(err.message, /passphrase/);
    });
    const ssh = Buffer.from(
      `age-encryption.org/v1\n-> ssh-ed25519 AbCdEf ${encodeBase64(randomBytes(32))}\n${body}\n--- ${mac}\n`,
    );
    await rejectsWith(Buffer.concat([ssh, randomBytes(100)]), NoMatchingIdentityError, (err) =>
      assert.match(err.message, /SSH/),
    );
  });

  void it('an empty final chunk after a full chunk is rejected, as age does', async () => {
    const fileKey = randomBytes(16);
    const header = formatHeader([parseRecipient(key.recipient).wrap(fileKey)], fileKey);
    const nonce = randomBytes(16);
    const k = payloadKey(fileKey, nonce);
    const counter = new ChunkNonce();
    const data = randomBytes(65536);
    const first = sealChunk(k, counter, data, false);
    counter.next();
    const last = sealChunk(k, counter, Buffer.alloc(0), true);
    const crafted = Buffer.concat([header, nonce, ...first, ...last]);
    await rejectsWith(crafted, PayloadFormatError);
    await withTempDir(async (dir) => {
      const keyFile = join(dir, 'key.txt');
      await writeFile(keyFile, `${key.identity}\n`);
      await assert.rejects(run('age', ['-d', '-i', keyFile], crafted), /empty|last chunk/i);
      // The same construction with data in the final chunk is what age accepts.
      assert.equal((await run('age', ['-d', '-i', keyFile], file)).length, plain.length);
    });
  });
});
