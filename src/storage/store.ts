// The storage backend seen by the rest of dockvault: a small interface plus the typed errors every
// backend reports, so activities can decide retry vs. fail without knowing about S3.
import type { Readable } from 'node:stream';

export interface S3Target {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  partSizeMiB: number;
  queueSize: number;
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
  /** s3.chunkGrace: how long prune waits before deleting an unreferenced chunk (absent in older plans). */
  chunkGraceMs?: number | undefined;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
  /** The store's tag of this version of the object (listings): a new upload of the same key has another. */
  etag?: string | undefined;
}

export interface PutOptions {
  onProgress?: (bytesSent: number) => void;
  /** Expected size in bytes, if known: lets the store choose parts that fit (S3 allows 10,000). */
  sizeHint?: number | undefined;
  signal?: AbortSignal;
  contentType?: string;
  /** Not under the target's Object Lock retention: objects dockvault removes itself (prune's markers). */
  unlocked?: boolean;
}

export interface GetOptions {
  signal?: AbortSignal | undefined;
  /** The size the object was stored with (the manifest's storedBytes). */
  size?: number | undefined;
  /**
   * Only these bytes (a chunk in a pack, a pack's trailer): fewer than `length` is ObjectIntegrityError
   * (the object is shorter than it was written). The store's checksum covers whole objects only.
   */
  range?: { offset: number; length: number } | undefined;
  /**
   * The caller authenticates the bytes itself (a chunk, by its age encryption): the store's CRC32 of
   * the object is not asked for, one pass less over them (0.26 s of a 1 GB restore's 8.7 s of CPU).
   * Archives keep it: a mismatch there tells damage in storage apart from a bad upload.
   */
  selfChecked?: boolean | undefined;
}

export interface UnfinishedUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** Keys are relative to the target's prefix; the store prepends it and strips it from what it returns. */
export interface BackupStore {
  /** e.g. "s3://dockvault/backups", for messages. */
  readonly location: string;
  put(key: string, body: Readable, opts?: PutOptions): Promise<{ key: string; size: number }>;
  /**
   * The object's bytes. With `size`, an object of another size fails at once; bytes that fail the
   * checksum stored with the object fail the stream. Both are ObjectIntegrityError.
   */
  get(key: string, opts?: GetOptions): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Common prefixes one level below `prefix` (relative, ending in "/"). */
  listPrefixes(prefix: string): Promise<string[]>;
  deleteMany(keys: string[]): Promise<void>;
  /** A small object in one PUT (no multipart upload): manifests, chunk indexes, chunks. */
  putBuffer(
    key: string,
    data: Buffer | string,
    opts?: Pick<PutOptions, 'signal' | 'contentType' | 'unlocked'>,
  ): Promise<void>;
  putJson(key: string, value: unknown): Promise<void>;
  /**
   * With `objectLock`: the object is retained at least the target's period from now (a chunk that a new
   * backup reuses must stay as long as that backup). A longer retention is left as it is; without
   * `objectLock` nothing happens.
   */
  extendRetention(key: string, opts?: Pick<PutOptions, 'signal'>): Promise<void>;
  getJson(key: string): Promise<unknown>;
  listUnfinishedUploads(prefix: string): Promise<UnfinishedUpload[]>;
  abortUnfinishedUploads(prefix: string, opts?: { olderThan?: Date }): Promise<number>;
  checkWritable(): Promise<void>;
}

interface StorageErrorOptions {
  location: string;
  key?: string;
  cause?: unknown;
  retryable?: boolean;
}

/**
 * Base of every storage failure. `name` is the class name, so Temporal's failure type (and
 * `nonRetryableErrorTypes`) can match it; messages carry the location and key, never credentials.
 */
export class StorageError extends Error {
  readonly code: string = 'STORAGE_ERROR';
  readonly retryable: boolean;
  readonly location: string;
  readonly key: string | undefined;

  constructor(message: string, opts: StorageErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.location = opts.location;
    this.key = opts.key;
    this.retryable = opts.retryable ?? false;
  }
}

export class ObjectNotFoundError extends StorageError {
  override readonly code = 'OBJECT_NOT_FOUND';
  constructor(message: string, opts: StorageErrorOptions) {
    super(message, { ...opts, retryable: false });
  }
}

export class BucketNotFoundError extends StorageError {
  override readonly code = 'BUCKET_NOT_FOUND';
  constructor(message: string, opts: StorageErrorOptions) {
    super(message, { ...opts, retryable: false });
  }
}

/** Connection refused, DNS failure, timeout: worth retrying later. */
export class StorageUnreachableError extends StorageError {
  override readonly code = 'STORAGE_UNREACHABLE';
  constructor(message: string, opts: StorageErrorOptions) {
    super(message, { ...opts, retryable: true });
  }
}

/** 403, unknown access key, bad signature: retrying will not help. */
export class StorageAccessError extends StorageError {
  override readonly code = 'STORAGE_ACCESS_DENIED';
  constructor(message: string, opts: StorageErrorOptions) {
    super(message, { ...opts, retryable: false });
  }
}

/** An object that exists but cannot be used as what it should be (e.g. not JSON). */
export class CorruptObjectError extends StorageError {
  override readonly code: string = 'CORRUPT_OBJECT';
  constructor(message: string, opts: StorageErrorOptions) {
    super(message, { ...opts, retryable: false });
  }
}

export class CorruptManifestError extends CorruptObjectError {
  override readonly code = 'CORRUPT_MANIFEST';
}

/**
 * The stored bytes are not the ones written: they fail the checksum stored with them or the manifest's
 * sha256, or have another size (a failing disk, a provider's fault, tampering). Reading again returns
 * the same bytes, so it is never retried. `what` says what is wrong, without the key.
 */
export class ObjectIntegrityError extends StorageError {
  override readonly code = 'OBJECT_DAMAGED';
  readonly what: string;
  constructor(what: string, opts: StorageErrorOptions & { key: string }) {
    super(`${opts.key}: ${what}`, { ...opts, retryable: false });
    this.what = what;
  }
}

/** DeleteObjects answered with per-key errors (e.g. AccessDenied for objects under retention). */
export class DeleteObjectsError extends StorageError {
  override readonly code = 'DELETE_FAILED';
  readonly failures: { key: string; code: string; message: string }[];
  constructor(message: string, opts: StorageErrorOptions & { failures: DeleteObjectsError['failures'] }) {
    super(message, {
      ...opts,
      retryable: opts.failures.every((f) => f.code !== 'AccessDenied'),
    });
    this.failures = opts.failures;
  }
}
