import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { inspect } from 'node:util';
import { x25519 } from '@noble/curves/ed25519.js';
import { bech32 } from '@scure/base';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { HeaderError, KeyFormatError } from './errors.ts';

/** One recipient stanza of an age header: `-> type args...` followed by a base64 body. */
export interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

const wrapInfo = 'age-encryption.org/v1/X25519';
const zeroNonce = Buffer.alloc(12);
const fileKeySize = 16;
const tagSize = 16;

function encodeRecipient(publicKey: Uint8Array): string {
  return bech32.encode('age', bech32.toWords(publicKey), false);
}

function wrapKey(sharedSecret: Uint8Array, share: Uint8Array, recipient: Uint8Array): Buffer {
  const salt = Buffer.concat([share, recipient]);
  return Buffer.from(hkdfSync('sha256', sharedSecret, salt, wrapInfo, 32));
}

/** An X25519 public key (`age1...`): what backups are encrypted to. */
export class X25519Recipient {
  readonly type = 'X25519';
  readonly publicKey: Uint8Array;
  /** The `age1...` encoding. */
  readonly recipient: string;

  constructor(publicKey: Uint8Array) {
    this.publicKey = publicKey;
    this.recipient = encodeRecipient(publicKey);
  }

  wrap(fileKey: Uint8Array): Stanza {
    const ephemeral = x25519.utils.randomSecretKey();
    const share = x25519.getPublicKey(ephemeral);
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(ephemeral, this.publicKey);
    } catch (cause) {
      throw new KeyFormatError(`recipient ${this.recipient} is not a valid X25519 public key`, { cause });
    }
    const cipher = createCipheriv('chacha20-poly1305', wrapKey(shared, share, this.publicKey), zeroNonce, {
      authTagLength: tagSize,
    });
    const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
    return { type: 'X25519', args: [encodeBase64(share)], body };
  }

  toString(): string {
    return this.recipient;
  }
}

/**
 * An X25519 private key. The secret stays in a private field so that logging, JSON or
 * util.inspect of an identity shows only its public key.
 */
export class X25519Identity {
  readonly type = 'X25519';
  readonly publicKey: Uint8Array;
  /** The `age1...` public key of this identity. */
  readonly recipient: string;
  readonly #secretKey: Uint8Array;

  constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKey = x25519.getPublicKey(secretKey);
    this.recipient = encodeRecipient(this.publicKey);
  }

  /** The `AGE-SECRET-KEY-1...` encoding. Handle with care: this is the secret. */
  encode(): string {
    return bech32.encode('age-secret-key-', bech32.toWords(this.#secretKey), false).toUpperCase();
  }

  /**
   * Returns the file key if the stanza was made for this identity, null if it was not.
   * A stanza of type X25519 that is malformed is a broken header, not a mismatch.
   */
  unwrap(stanza: Stanza): Buffer | null {
    if (stanza.type !== 'X25519') return null;
    if (stanza.args.length !== 1)
      throw new HeaderError('malformed header: X25519 stanza needs exactly one argument');
    const share = decodeBase64(stanza.args[0] ?? '', 'X25519 stanza argument');
    if (share.length !== 32)
      throw new HeaderError('malformed header: X25519 ephemeral share is not 32 bytes');
    if (stanza.body.length !== fileKeySize + tagSize) {
      throw new HeaderError('malformed header: X25519 stanza body is not 32 bytes');
    }
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(this.#secretKey, share);
    } catch (cause) {
      throw new HeaderError('malformed header: X25519 ephemeral share is a low-order point', { cause });
    }
    const decipher = createDecipheriv(
      'chacha20-poly1305',
      wrapKey(shared, share, this.publicKey),
      zeroNonce,
      {
        authTagLength: tagSize,
      },
    );
    decipher.setAuthTag(stanza.body.subarray(fileKeySize));
    const fileKey = decipher.update(stanza.body.subarray(0, fileKeySize));
    try {
      decipher.final();
    } catch {
      return null;
    }
    return fileKey;
  }

  toString(): string {
    return `[X25519Identity ${this.recipient}]`;
  }

  toJSON(): { type: string; recipient: string } {
    return { type: this.type, recipient: this.recipient };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
