import { readFile } from 'node:fs/promises';
import { bech32 } from '@scure/base';
import { KeyFormatError } from './errors.ts';
import { randomSecretKey, X25519Identity, X25519Recipient } from './x25519.ts';

export type Recipient = X25519Recipient;
export type Identity = X25519Identity;

const identityPrefix = 'AGE-SECRET-KEY-1';

/** A fresh X25519 key pair in age's encodings. */
export function generateIdentity(): { identity: string; recipient: string } {
  const id = new X25519Identity(randomSecretKey());
  return { identity: id.encode(), recipient: id.recipient };
}

function decode32(s: string, prefix: string): Uint8Array | null {
  try {
    const { prefix: hrp, words } = bech32.decode(s as `${string}1${string}`, false);
    if (hrp !== prefix.toLowerCase()) return null;
    const bytes = bech32.fromWords(words);
    return bytes.length === 32 ? bytes : null;
  } catch {
    // The decoder's messages can quote the input, which may be a secret: never pass them on.
    return null;
  }
}

/** Parses an `age1...` X25519 public key. */
export function parseRecipient(s: string): Recipient {
  const text = s.trim();
  if (text.startsWith('ssh-') || text.startsWith('ecdsa-')) {
    throw new KeyFormatError(
      `SSH public keys are not supported as recipients; use an age X25519 key (age1...)`,
    );
  }
  if (text.toUpperCase().startsWith('AGE-SECRET-KEY-')) {
    throw new KeyFormatError(
      'this is a private key (AGE-SECRET-KEY-1...), not a recipient: use its public key (age1...) and keep the private key out of the config',
    );
  }
  if (/^age1[a-z0-9]+1/.test(text)) {
    throw new KeyFormatError(`plugin recipients are not supported: ${text.slice(0, 20)}...`);
  }
  if (!text.startsWith('age1')) {
    throw new KeyFormatError(
      `invalid recipient '${text.slice(0, 80)}': expected an age X25519 public key (age1...)`,
    );
  }
  const key = decode32(text, 'age');
  if (!key) {
    throw new KeyFormatError(
      `invalid recipient '${text.slice(0, 80)}': bad bech32 encoding, checksum or length`,
    );
  }
  return new X25519Recipient(key);
}

/** Parses an `AGE-SECRET-KEY-1...` X25519 identity. Errors never echo the input. */
export function parseIdentity(s: string): Identity {
  const text = s.trim();
  if (text.startsWith('-----BEGIN') || text.startsWith('ssh-')) {
    throw new KeyFormatError(
      'SSH keys are not supported as identities; use an age X25519 identity (AGE-SECRET-KEY-1...)',
    );
  }
  if (text.startsWith('AGE-PLUGIN-')) {
    throw new KeyFormatError('plugin identities (AGE-PLUGIN-...) are not supported');
  }
  if (text.startsWith('age1')) {
    throw new KeyFormatError(
      'this is a public key (age1...), not an identity: decryption needs the private key (AGE-SECRET-KEY-1...)',
    );
  }
  if (!text.startsWith(identityPrefix)) {
    throw new KeyFormatError('invalid identity: expected an age X25519 identity (AGE-SECRET-KEY-1...)');
  }
  const key = decode32(text, 'AGE-SECRET-KEY-');
  if (!key) throw new KeyFormatError('invalid identity: bad bech32 encoding, checksum or length');
  return new X25519Identity(key);
}

/** The `age1...` public key of an `AGE-SECRET-KEY-1...` identity. */
export function identityToRecipient(identity: string): string {
  return parseIdentity(identity).recipient;
}

/**
 * Reads an identity file as written by age-keygen or `dockvault keygen`: one identity per line,
 * `#` comments and blank lines ignored.
 */
export async function readIdentityFile(path: string): Promise<Identity[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new KeyFormatError(`${path}: cannot read identity file (${code})`, { cause });
  }
  if (text.startsWith('age-encryption.org/') || text.startsWith('-----BEGIN AGE ENCRYPTED FILE-----')) {
    throw new KeyFormatError(`${path}: this identity file is itself age-encrypted; decrypt it first`);
  }
  const identities: Identity[] = [];
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      identities.push(parseIdentity(line));
    } catch (err) {
      if (err instanceof KeyFormatError) throw new KeyFormatError(`${path}: line ${i + 1}: ${err.message}`);
      throw err;
    }
  }
  if (identities.length === 0) throw new KeyFormatError(`${path}: no identities found`);
  return identities;
}

/** The identity file format of age-keygen. */
export function formatIdentityFile(identity: string, recipient: string, created: Date = new Date()): string {
  const stamp = created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `# created: ${stamp}\n# public key: ${recipient}\n${identity}\n`;
}
