// Translates AWS SDK failures into the store's typed errors, with the location and key in the message.
import {
  BucketNotFoundError,
  ObjectIntegrityError,
  ObjectNotFoundError,
  StorageAccessError,
  StorageError,
  StorageUnreachableError,
} from './store.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const ACCESS_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'InvalidSecurity',
  'AllAccessDisabled',
  // versitygw answers an unknown access key id with this (HTTP 404) where AWS says InvalidAccessKeyId (403).
  'XAdminUserNotFound',
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  errors?: unknown[];
}

function asSdkError(err: unknown): SdkLikeError {
  return typeof err === 'object' && err !== null ? err : { message: String(err) };
}

/** Defence in depth: no SDK message should hold a secret, but never let one through if it does. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const secret = process.env[name];
    if (secret && secret.length >= 8) out = out.split(secret).join('[redacted]');
  }
  return out;
}

function sdkMessage(err: unknown): string {
  const e = asSdkError(err);
  const name = e.name && e.name !== 'Error' ? e.name : (e.code ?? e.Code);
  let message = e.message ?? '';
  // AggregateError (e.g. happy-eyeballs connect to ::1 and 127.0.0.1) has an empty message of its own.
  if (!message && Array.isArray(e.errors))
    message = e.errors.map((x) => asSdkError(x).message ?? '').join('; ');
  if (!message) message = String(err);
  const status = e.$metadata?.httpStatusCode;
  return redactSecrets([name, status ? `(HTTP ${status})` : '', message].filter(Boolean).join(' ').trim());
}

function isNetworkError(err: unknown): boolean {
  const e = asSdkError(err);
  if ((e.code && NETWORK_CODES.has(e.code)) || (e.name && NETWORK_CODES.has(e.name))) return true;
  if (Array.isArray(e.errors)) return e.errors.some(isNetworkError);
  return false;
}

export function httpStatus(err: unknown): number | undefined {
  return asSdkError(err).$metadata?.httpStatusCode;
}

export function errorName(err: unknown): string | undefined {
  const e = asSdkError(err);
  return e.name ?? e.Code;
}

/**
 * The SDK's flexible checksums validate a downloaded body against the checksum the server stored at
 * upload (x-amz-checksum-crc32) and fail the stream with a plain Error when they differ.
 */
function isChecksumMismatch(err: unknown): boolean {
  return err instanceof Error && /^Checksum mismatch: expected /.test(err.message);
}

/**
 * @param what    what was being done, e.g. `get backups/x/manifest.json`
 * @param key     the relative key (for ObjectNotFoundError and the error's `key` field)
 */
export function toStorageError(err: unknown, ctx: { location: string; what: string; key?: string }): Error {
  if (err instanceof StorageError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const opts = { location: ctx.location, key: ctx.key, cause: err };
  if (isChecksumMismatch(err)) {
    return new ObjectIntegrityError('stored bytes do not match: checksum mismatch (damaged in storage)', {
      ...opts,
      key: ctx.key ?? ctx.what,
    });
  }
  const detail = `${ctx.what} at ${ctx.location}: ${sdkMessage(err)}`;
  const name = errorName(err);
  const status = httpStatus(err);
  if (isNetworkError(err)) return new StorageUnreachableError(`storage unreachable: ${detail}`, opts);
  if (name === 'NoSuchBucket') return new BucketNotFoundError(`bucket not found: ${detail}`, opts);
  if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) {
    return new ObjectNotFoundError(`object not found: ${ctx.key ?? ''} (${detail})`, opts);
  }
  if ((name && ACCESS_NAMES.has(name)) || status === 403 || status === 401) {
    return new StorageAccessError(`access denied: ${detail}`, opts);
  }
  const retryable = status === undefined || status >= 500 || status === 429 || name === 'SlowDown';
  return new StorageError(`storage error: ${detail}`, { ...opts, retryable });
}
