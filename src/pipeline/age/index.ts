/** age v1 (X25519) encryption and decryption, as streams and of whole buffers: the public surface of this module. */
export { createEncryptStream, encryptBuffer } from './encrypt.ts';
export { createDecryptStream, decryptBuffer } from './decrypt.ts';
export type { DecryptOptions } from './decrypt.ts';
export {
  generateIdentity,
  parseRecipient,
  parseIdentity,
  identityToRecipient,
  readIdentityFile,
  formatIdentityFile,
} from './keys.ts';
export type { Recipient, Identity } from './keys.ts';
export {
  AgeError,
  KeyFormatError,
  HeaderError,
  NoMatchingIdentityError,
  AuthenticationError,
  TruncatedError,
  PayloadFormatError,
} from './errors.ts';
export type { AgeErrorCode } from './errors.ts';
