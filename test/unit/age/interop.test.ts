import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  decryptBuffer,
  encryptBuffer,
  generateIdentity,
  identityToRecipient,
  readIdentityFile,
} from '../../../src/pipeline/age/index.ts';
import { decrypt, encrypt, run } from './helpers.ts';

const sizes = [0, 1, 65535, 65536, 65537, 2 * 65536, (1 << 20) + 7, 20 << 20];

interface Key {
  identity: string;
  recipient: string;
  file: string;
}

async function ageKeygen(file: string): Promise<Key> {
  await run('age-keygen', ['-o', file]);
  const [identity] = (await readIdentityFile(file)).map((i) => i.encode());
  assert.ok(identity);
  const recipient = (await run('age-keygen', ['-y', file])).toString().trim();
  return { identity, recipient, file };
}

async function ourKey(file: string): Promise<Key> {
  const { identity, recipient } = generateIdentity();
  await writeFile(file, `# test key\n\n${identity}\n`, { mode: 0o600 });
  return { identity, recipient, file };
}

void describe('interop with the age CLI', () => {
  let dir = '';
  const keys: Record<'ours' | 'ageKeygen', Key[]> = { ours: [], ageKeygen: [] };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dockvault-age-interop-'));
    keys.ours = [await ourKey(join(dir, 'ours1.txt')), await ourKey(join(dir, 'ours2.txt'))];
    keys.ageKeygen = [await ageKeygen(join(dir, 'age1.txt')), await ageKeygen(join(dir, 'age2.txt'))];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  void it('age-keygen identities derive the public key age-keygen prints', () => {
    for (const k of [...keys.ours, ...keys.ageKeygen])
      assert.equal(identityToRecipient(k.identity), k.recipient);
  });

  for (const kind of ['ours', 'ageKeygen'] as const) {
    for (const size of sizes) {
      void it(`${kind} key, ${size} bytes: our encrypt -> age -d`, async () => {
        const [key] = keys[kind];
        assert.ok(key);
        const data = randomBytes(size);
        const enc = await encrypt(data, [key.recipient]);
        const dec = await run('age', ['-d', '-i', key.file], enc);
        assert.ok(dec.equals(data), 'age -d output differs from the input');
        const whole = encryptBuffer(data, [key.recipient]);
        assert.equal(whole.length, enc.length, 'encryptBuffer and the stream differ in length');
        assert.ok((await run('age', ['-d', '-i', key.file], whole)).equals(data), 'age -d of encryptBuffer');
      });

      void it(`${kind} key, ${size} bytes: age -r -> our decrypt`, async () => {
        const [key] = keys[kind];
        assert.ok(key);
        const data = randomBytes(size);
        const enc = await run('age', ['-r', key.recipient], data);
        assert.ok((await decrypt(enc, [key.identity])).equals(data));
        assert.ok(decryptBuffer(enc, [key.identity]).equals(data), 'decryptBuffer of age -r');
        // Odd write sizes exercise every way a chunk boundary can fall inside a write.
        if (size <= 2 * 65536) assert.ok((await decrypt(enc, [key.identity], {}, 7919)).equals(data));
      });
    }
  }

  for (const size of [0, 65536, (1 << 20) + 7]) {
    void it(`age -R with two recipients, ${size} bytes: each identity decrypts with ours`, async () => {
      const [a, b] = [keys.ours[0], keys.ageKeygen[1]];
      assert.ok(a && b);
      const recipientsFile = join(dir, 'recipients.txt');
      await writeFile(recipientsFile, `# two keys\n${a.recipient}\n\n${b.recipient}\n`);
      const data = randomBytes(size);
      const enc = await run('age', ['-R', recipientsFile], data);
      assert.ok((await decrypt(enc, [a.identity])).equals(data));
      assert.ok((await decrypt(enc, [b.identity])).equals(data));
      assert.ok((await decrypt(enc, await readIdentityFile(b.file))).equals(data));
    });

    void it(`our encrypt to three recipients, ${size} bytes: each identity decrypts, with ours and with age`, async () => {
      const all = [...keys.ours, ...keys.ageKeygen].slice(0, 3);
      const data = randomBytes(size);
      const enc = await encrypt(
        data,
        all.map((k) => k.recipient),
      );
      for (const k of all) {
        assert.ok((await decrypt(enc, [k.identity])).equals(data));
        assert.ok((await run('age', ['-d', '-i', k.file], enc)).equals(data));
      }
    });
  }

  void it('decrypts with the second of several identities', async () => {
    const data = randomBytes(1000);
    const [a, b] = keys.ageKeygen;
    assert.ok(a && b);
    const enc = await run('age', ['-r', b.recipient], data);
    assert.ok((await decrypt(enc, [a.identity, b.identity])).equals(data));
  });
});
