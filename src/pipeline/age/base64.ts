import { HeaderError } from './errors.ts';

/** Standard alphabet, no padding, as every base64 string in an age header. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

const alphabet = /^[A-Za-z0-9+/]*$/;

/**
 * Strict decoding: Buffer's decoder silently skips junk and accepts padding or non-zero trailing
 * bits, which would let two different headers carry the same bytes. Only the canonical encoding passes.
 */
export function decodeBase64(s: string, what: string): Buffer {
  if (!alphabet.test(s) || s.length % 4 === 1)
    throw new HeaderError(`malformed header: invalid base64 in ${what}`);
  const bytes = Buffer.from(s, 'base64');
  if (encodeBase64(bytes) !== s) throw new HeaderError(`malformed header: non-canonical base64 in ${what}`);
  return bytes;
}
