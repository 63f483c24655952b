/**
 * Typed failures of age encryption and decryption. Callers branch on the class (or on `code`);
 * messages name the object being read and never contain key material.
 */
export type AgeErrorCode =
  'KEY_FORMAT' | 'HEADER' | 'NO_MATCHING_IDENTITY' | 'AUTHENTICATION' | 'TRUNCATED' | 'PAYLOAD_FORMAT';

export class AgeError extends Error {
  override name = 'AgeError';
  readonly code: AgeErrorCode;
  constructor(code: AgeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A recipient, identity or identity file that is not a usable age X25519 key. */
export class KeyFormatError extends AgeError {
  override name = 'KeyFormatError';
  constructor(message: string, options?: ErrorOptions) {
    super('KEY_FORMAT', message, options);
  }
}

/** The input is not an age v1 file, or its header is malformed. */
export class HeaderError extends AgeError {
  override name = 'HeaderError';
  constructor(message: string, options?: ErrorOptions) {
    super('HEADER', message, options);
  }
}

/** No stanza of the header could be unwrapped with any of the identities given. */
export class NoMatchingIdentityError extends AgeError {
  override name = 'NoMatchingIdentityError';
  /** Public keys (age1...) of the identities that were tried. */
  readonly triedRecipients: readonly string[];
  /** How many stanzas of each type the header holds, e.g. `{ X25519: 2 }`. */
  readonly stanzaTypes: Readonly<Record<string, number>>;
  constructor(message: string, triedRecipients: string[], stanzaTypes: Record<string, number>) {
    super('NO_MATCHING_IDENTITY', message);
    this.triedRecipients = triedRecipients;
    this.stanzaTypes = stanzaTypes;
  }
}

/** The header MAC or a payload chunk failed authentication: corrupted or tampered with. */
export class AuthenticationError extends AgeError {
  override name = 'AuthenticationError';
  /** Index of the failing payload chunk; undefined when the header MAC failed. */
  readonly chunkIndex: number | undefined;
  /** Byte offset in the encrypted input where the failing part starts. */
  readonly offset: number;
  constructor(message: string, offset: number, chunkIndex?: number) {
    super('AUTHENTICATION', message);
    this.offset = offset;
    this.chunkIndex = chunkIndex;
  }
}

/** The input ended before the final chunk, or data follows the final chunk. */
export class TruncatedError extends AgeError {
  override name = 'TruncatedError';
  /** Byte offset in the encrypted input where the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('TRUNCATED', message);
    this.offset = offset;
  }
}

/** The payload authenticates but breaks a rule of the format (e.g. an empty final chunk). */
export class PayloadFormatError extends AgeError {
  override name = 'PayloadFormatError';
  readonly offset: number;
  constructor(message: string, offset: number) {
    super('PAYLOAD_FORMAT', message);
    this.offset = offset;
  }
}
