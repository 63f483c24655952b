import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import {
  KeyFormatError,
  createDecryptStream,
  createEncryptStream,
  formatIdentityFile,
  generateIdentity,
  identityToRecipient,
  parseIdentity,
  parseRecipient,
  readIdentityFile,
} from '../../../src/pipeline/age/index.ts';
import { run, withTempDir } from './helpers.ts';

// Built at run time: the repository holds nothing that looks like a private key.
const sshKeyHeader = ['-----BEGIN', 'OPENSSH', 'PRIVATE', 'KEY-----'].join(' ');

void describe('age keys', () => {
  void it('generates identities in age encodings', () => {
    const { identity, recipient } = generateIdentity();
    assert.match(identity, /^AGE-SECRET-KEY-1[0-9AC-HJ-NP-Z]{58}$/);
    assert.match(recipient, /^age1[0-9ac-hj-np-z]{58}$/);
    assert.equal(identityToRecipient(identity), recipient);
    assert.equal(parseIdentity(identity).encode(), identity);
    assert.equal(parseRecipient(recipient).toString(), recipient);
    assert.notEqual(generateIdentity().identity, identity);
  });

  void it('derives the same public key as age-keygen -y', async () => {
    await withTempDir(async (dir) => {
      const { identity, recipient } = generateIdentity();
      const file = join(dir, 'key.txt');
      await writeFile(file, formatIdentityFile(identity, recipient));
      assert.equal((await run('age-keygen', ['-y', file])).toString().trim(), recipient);
    });
  });

  void it('never shows the secret through inspect, JSON or String', () => {
    const { identity, recipient } = generateIdentity();
    const parsed = parseIdentity(identity);
    for (const shown of [inspect(parsed), JSON.stringify(parsed), String(parsed), inspect({ parsed })]) {
      assert.ok(!shown.includes(identity), shown);
      assert.ok(!shown.toLowerCase().includes(identity.toLowerCase().slice(16, 40)), shown);
      assert.ok(shown.includes(recipient), shown);
    }
  });

  void it('rejects malformed recipients with clear errors', () => {
    const { identity, recipient } = generateIdentity();
    const cases: Array<[string, RegExp]> = [
      ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb', /SSH public keys are not supported/],
      [identity, /private key .* not a recipient/],
      ['age1yubikey1qwerty', /plugin recipients are not supported/],
      ['hello', /expected an age X25519 public key/],
      [recipient.slice(0, -1) + (recipient.endsWith('q') ? 'p' : 'q'), /bad bech32/],
      [recipient.slice(0, -5), /bad bech32/],
      [recipient.toUpperCase(), /expected an age X25519 public key/],
      ['', /expected an age X25519 public key/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => parseRecipient(input),
        (err) => err instanceof KeyFormatError && message.test(err.message),
      );
    }
    assert.equal(parseRecipient(`  ${recipient}\n`).toString(), recipient);
    assert.throws(() => createEncryptStream([]), KeyFormatError);
    assert.throws(() => createEncryptStream(['nope']), KeyFormatError);
  });

  void it('rejects malformed identities without echoing them', () => {
    const { identity, recipient } = generateIdentity();
    const badChecksum = identity.slice(0, -1) + (identity.endsWith('Q') ? 'P' : 'Q');
    const cases: Array<[string, RegExp]> = [
      [sshKeyHeader, /SSH keys are not supported/],
      ['AGE-PLUGIN-YUBIKEY-1QWERTY', /plugin identities/],
      [recipient, /public key .* not an identity/],
      [badChecksum, /bad bech32/],
      [identity.toLowerCase(), /expected an age X25519 identity/],
      [identity.slice(0, 40), /bad bech32/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => parseIdentity(input),
        (err) =>
          err instanceof KeyFormatError &&
          message.test(err.message) &&
          !err.message.includes(input.slice(16)),
      );
    }
    assert.throws(() => createDecryptStream([]), KeyFormatError);
    assert.throws(() => createDecryptStream([badChecksum]), KeyFormatError);
  });

  void it('reads identity files, skipping comments and blank lines', async () => {
    await withTempDir(async (dir) => {
      const a = generateIdentity();
      const b = generateIdentity();
      const file = join(dir, 'ids.txt');
      await writeFile(
        file,
        `# created: now\n# public key: ${a.recipient}\n${a.identity}\n\n   \n${b.identity}\r\n`,
      );
      const ids = await readIdentityFile(file);
      assert.deepEqual(
        ids.map((i) => i.recipient),
        [a.recipient, b.recipient],
      );

      const ageFile = join(dir, 'age-keygen.txt');
      await run('age-keygen', ['-o', ageFile]);
      const [fromAge] = await readIdentityFile(ageFile);
      assert.equal(fromAge?.recipient, (await run('age-keygen', ['-y', ageFile])).toString().trim());
    });
  });

  void it('names the file and line of a bad identity, and empty or unreadable files', async () => {
    await withTempDir(async (dir) => {
      const a = generateIdentity();
      const bad = join(dir, 'bad.txt');
      await writeFile(bad, `# ok\n${a.identity}\n${a.recipient}\n`);
      await assert.rejects(readIdentityFile(bad), (err: Error) => {
        assert.ok(err instanceof KeyFormatError);
        assert.match(err.message, new RegExp(`^${bad}: line 3: this is a public key`));
        return true;
      });
      const empty = join(dir, 'empty.txt');
      await writeFile(empty, '# nothing here\n\n');
      await assert.rejects(readIdentityFile(empty), /no identities found/);
      await assert.rejects(
        readIdentityFile(join(dir, 'missing.txt')),
        /cannot read identity file \(ENOENT\)/,
      );
      const ssh = join(dir, 'id_ed25519');
      await writeFile(ssh, `${sshKeyHeader}\n${randomBytes(30).toString('base64')}\n`);
      await assert.rejects(readIdentityFile(ssh), /line 1: SSH keys are not supported/);
      const encrypted = join(dir, 'key.age');
      await writeFile(encrypted, 'age-encryption.org/v1\n-> scrypt abc 18\n');
      await assert.rejects(readIdentityFile(encrypted), /itself age-encrypted/);
    });
  });

  void it('formats identity files like age-keygen', () => {
    const { identity, recipient } = generateIdentity();
    const text = formatIdentityFile(identity, recipient, new Date('2026-01-02T03:04:05.678Z'));
    assert.equal(text, `# created: 2026-01-02T03:04:05Z\n# public key: ${recipient}\n${identity}\n`);
  });
});
