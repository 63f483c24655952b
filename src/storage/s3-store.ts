// BackupStore on S3-compatible storage. Uploads stream as multipart uploads from reused part buffers
// (bounded memory: about partSize x (queueSize + 1)) and never leave a multipart upload behind when they fail.
import { randomUUID } from 'node:crypto';
import { PassThrough, Transform, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  GetObjectRetentionCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import type { ListObjectsV2CommandOutput, PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { uploadStream } from './multipart-upload.ts';
import { createS3Client, PREFLIGHT_TUNING } from './s3-client.ts';
import { errorName, httpStatus, toStorageError } from './s3-errors.ts';
import {
  CorruptObjectError,
  DeleteObjectsError,
  ObjectIntegrityError,
  ObjectNotFoundError,
  StorageError,
} from './store.ts';
import type { BackupStore, GetOptions, ObjectInfo, PutOptions, S3Target, UnfinishedUpload } from './store.ts';

const MiB = 1024 * 1024;
const DELETE_BATCH = 1000;
/** JSON documents (manifests) are small; refuse to buffer anything bigger. */
const MAX_JSON_BYTES = 16 * MiB;

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

function checkKey(key: string): string {
  if (key === '' || key.startsWith('/')) throw new TypeError(`invalid storage key ${JSON.stringify(key)}`);
  return key;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

export class S3Store implements BackupStore {
  readonly location: string;
  readonly #target: S3Target;
  readonly #root: string;
  readonly #client: S3Client;
  readonly #preflight: S3Client;

  constructor(target: S3Target) {
    if (!Number.isInteger(target.partSizeMiB) || target.partSizeMiB < 5) {
      throw new TypeError(
        `partSizeMiB must be an integer >= 5 (S3 minimum part size), got ${target.partSizeMiB}`,
      );
    }
    if (!Number.isInteger(target.queueSize) || target.queueSize < 1) {
      throw new TypeError(`queueSize must be an integer >= 1, got ${target.queueSize}`);
    }
    this.#target = target;
    this.#root = normalizePrefix(target.prefix);
    this.location = `s3://${target.bucket}${this.#root ? `/${this.#root.slice(0, -1)}` : ''}`;
    this.#client = createS3Client(target);
    this.#preflight = createS3Client(target, PREFLIGHT_TUNING);
  }

  /** Closes the clients' sockets; the store is unusable afterwards. */
  destroy(): void {
    this.#client.destroy();
    this.#preflight.destroy();
  }

  #full(key: string): string {
    return this.#root + checkKey(key);
  }

  #relative(fullKey: string): string {
    return fullKey.startsWith(this.#root) ? fullKey.slice(this.#root.length) : fullKey;
  }

  #lockParams(): Pick<PutObjectCommandInput, 'ObjectLockMode' | 'ObjectLockRetainUntilDate'> {
    const lock = this.#target.objectLock;
    if (!lock) return {};
    return {
      ObjectLockMode: lock.mode,
      ObjectLockRetainUntilDate: new Date(Date.now() + lock.days * 86_400_000),
    };
  }

  #error(err: unknown, what: string, key?: string): Error {
    return toStorageError(err, { location: this.location, what, ...(key === undefined ? {} : { key }) });
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<{ key: string; size: number }> {
    const fullKey = this.#full(key);
    const { signal } = opts;
    try {
      const size = await uploadStream(body, {
        client: this.#client,
        params: {
          Bucket: this.#target.bucket,
          Key: fullKey,
          ContentType: opts.contentType ?? 'application/octet-stream',
          ...this.#lockParams(),
        },
        minPartSize: this.#target.partSizeMiB * MiB,
        queueSize: this.#target.queueSize,
        sizeHint: opts.sizeHint,
        signal,
        onProgress: opts.onProgress,
        storageError: (err, what) => this.#error(err, what, key),
      });
      return { key, size };
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw err;
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    let body: Readable;
    try {
      const { range } = opts;
      const res = await this.#client
        .send(
          new GetObjectCommand({
            Bucket: this.#target.bucket,
            Key: this.#full(key),
            ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
            ...(opts.selfChecked ? {} : { ChecksumMode: 'ENABLED' as const }),
          }),
          opts.signal ? { abortSignal: opts.signal } : {},
        )
        .catch((err: unknown) => {
          // 416: the range starts at or after the object's end.
          if (range && httpStatus(err) === 416) {
            throw new ObjectIntegrityError(
              `truncated: ends before byte ${range.offset + 1} (${range.length} bytes read from there)`,
              this.#ctx(key),
            );
          }
          throw err;
        });
      if (!res.Body)
        throw new StorageError(`get ${key} at ${this.location}: response has no body`, this.#ctx(key));
      body = res.Body as Readable;
      const stored = res.ContentLength;
      if (range && stored !== range.length) {
        body.destroy();
        throw new ObjectIntegrityError(
          `truncated: ${stored ?? 0} of ${range.length} bytes from byte ${range.offset}`,
          this.#ctx(key),
        );
      }
      if (!range && opts.size !== undefined && stored !== undefined && stored !== opts.size) {
        body.destroy();
        throw new ObjectIntegrityError(
          stored < opts.size
            ? `truncated: ${stored} of ${opts.size} bytes`
            : `${stored} bytes stored where ${opts.size} were written`,
          this.#ctx(key),
        );
      }
    } catch (err) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      throw this.#error(err, `get ${key}`, key);
    }
    return mapBodyErrors(body, (err) => this.#error(err, `read ${key}`, key));
  }

  #ctx(key: string): { location: string; key: string } {
    return { location: this.location, key };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#target.bucket, Key: this.#full(key) }),
      );
      return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0) };
    } catch (err) {
      const mapped = this.#error(err, `head ${key}`, key);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of this.#pages(this.#root + prefix, `list ${prefix || '/'}`)) {
      for (const obj of page.Contents ?? []) {
        if (obj.Key === undefined) continue;
        yield {
          key: this.#relative(obj.Key),
          size: obj.Size ?? 0,
          lastModified: obj.LastModified ?? new Date(0),
          etag: obj.ETag?.replace(/"/g, ''),
        };
      }
    }
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const dir = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    const out: string[] = [];
    for await (const page of this.#pages(this.#root + dir, `list ${dir || '/'}`, '/')) {
      for (const p of page.CommonPrefixes ?? []) {
        if (p.Prefix !== undefined) out.push(this.#relative(p.Prefix));
      }
    }
    return out.sort();
  }

  /** ListObjectsV2 pages through the SDK's paginator, its failures as the store's typed errors. */
  async *#pages(
    fullPrefix: string,
    what: string,
    delimiter?: string,
  ): AsyncIterable<ListObjectsV2CommandOutput> {
    const pages = paginateListObjectsV2(
      { client: this.#client },
      { Bucket: this.#target.bucket, Prefix: fullPrefix, ...(delimiter ? { Delimiter: delimiter } : {}) },
    );
    try {
      for await (const page of pages) yield page;
    } catch (err) {
      throw this.#error(err, what);
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    const unique = [...new Set(keys.map(checkKey))];
    const failures: { key: string; code: string; message: string }[] = [];
    for (let i = 0; i < unique.length; i += DELETE_BATCH) {
      const batch = unique.slice(i, i + DELETE_BATCH);
      let res;
      try {
        res = await this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#target.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.#full(k) })), Quiet: true },
          }),
        );
      } catch (err) {
        throw this.#error(err, `delete ${batch.length} object(s) (${batch[0]} ...)`);
      }
      for (const e of res.Errors ?? []) {
        if (e.Code === 'NoSuchKey') continue;
        failures.push({
          key: e.Key === undefined ? '?' : this.#relative(e.Key),
          code: e.Code ?? 'Unknown',
          message: e.Message ?? '',
        });
      }
    }
    if (failures.length > 0) {
      const shown = failures
        .slice(0, 5)
        .map((f) => `${f.key}: ${f.code} ${f.message}`.trim())
        .join('; ');
      const more = failures.length > 5 ? ` (and ${failures.length - 5} more)` : '';
      throw new DeleteObjectsError(
        `could not delete ${failures.length} of ${unique.length} object(s) at ${this.location}: ${shown}${more}`,
        { location: this.location, key: failures[0]?.key, failures },
      );
    }
  }

  async putBuffer(key: string, data: Buffer | string, opts: PutOptions = {}): Promise<void> {
    const { signal } = opts;
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#target.bucket,
          Key: this.#full(key),
          Body: data,
          ContentType: opts.contentType ?? 'application/octet-stream',
          ...(opts.unlocked ? {} : this.#lockParams()),
        }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw this.#error(err, `put ${key}`, key);
    }
  }

  async extendRetention(key: string, opts: Pick<PutOptions, 'signal'> = {}): Promise<void> {
    const { ObjectLockMode: mode, ObjectLockRetainUntilDate: until } = this.#lockParams();
    if (!mode || !until) return;
    const { signal } = opts;
    const send = signal ? { abortSignal: signal } : {};
    const target = { Bucket: this.#target.bucket, Key: this.#full(key) };
    try {
      const current = await this.#client.send(new GetObjectRetentionCommand(target), send);
      const kept = current.Retention?.RetainUntilDate;
      // S3 refuses to shorten a retention (COMPLIANCE) or needs a bypass (GOVERNANCE): never ask.
      if (kept && kept.getTime() >= until.getTime() && current.Retention?.Mode === mode) return;
      await this.#client.send(
        new PutObjectRetentionCommand({ ...target, Retention: { Mode: mode, RetainUntilDate: until } }),
        send,
      );
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw this.#error(err, `extend the retention of ${key}`, key);
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.putBuffer(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
  }

  async getJson(key: string): Promise<unknown> {
    const stream = await this.get(key);
    let raw: string;
    try {
      raw = await text(limitBytes(stream, MAX_JSON_BYTES, this.location, key));
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.#error(err, `get ${key}`, key);
    }
    try {
      return JSON.parse(raw) as unknown;
    } catch (err) {
      throw new CorruptObjectError(
        `${key} at ${this.location} is not valid JSON: ${(err as Error).message}`,
        {
          ...this.#ctx(key),
          cause: err,
        },
      );
    }
  }

  async listUnfinishedUploads(prefix: string): Promise<UnfinishedUpload[]> {
    // The SDK has no paginator for ListMultipartUploads: its pages continue from two markers.
    const out: UnfinishedUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let res;
      try {
        res = await this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#target.bucket,
            Prefix: this.#root + prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (err) {
        throw this.#error(err, `list unfinished uploads under ${prefix || '/'}`);
      }
      for (const u of res.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined) continue;
        out.push({
          key: this.#relative(u.Key),
          uploadId: u.UploadId,
          ...(u.Initiated ? { initiated: u.Initiated } : {}),
        });
      }
      if (!res.IsTruncated || (!res.NextKeyMarker && !res.NextUploadIdMarker)) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
    return out;
  }

  async abortUnfinishedUploads(prefix: string, opts: { olderThan?: Date } = {}): Promise<number> {
    const { olderThan } = opts;
    let aborted = 0;
    for (const u of await this.listUnfinishedUploads(prefix)) {
      // Without an initiation time we cannot tell a stale upload from a running one: leave it.
      if (olderThan && !(u.initiated && u.initiated < olderThan)) continue;
      try {
        await this.#client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.#target.bucket,
            Key: this.#full(u.key),
            UploadId: u.uploadId,
          }),
        );
        aborted++;
      } catch (err) {
        if (errorName(err) === 'NoSuchUpload') continue;
        throw this.#error(err, `abort upload ${u.uploadId} of ${u.key}`, u.key);
      }
    }
    return aborted;
  }

  async checkWritable(): Promise<void> {
    // A top-level object, not a "directory", so listings of definitions never see it. Never locked.
    const key = `.dockvault-probe-${randomUUID()}`;
    const fullKey = this.#root + key;
    const payload = `dockvault write probe ${new Date().toISOString()}\n`;
    const bucket = this.#target.bucket;
    let step = 'put';
    try {
      await this.#preflight.send(new PutObjectCommand({ Bucket: bucket, Key: fullKey, Body: payload }));
      step = 'get';
      const res = await this.#preflight.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey }));
      const back = await res.Body?.transformToString();
      step = 'delete';
      await this.#preflight.send(new DeleteObjectCommand({ Bucket: bucket, Key: fullKey }));
      if (back !== payload) {
        throw new StorageError(
          `cannot use ${this.location}: the probe object ${key} read back different bytes`,
          {
            ...this.#ctx(key),
          },
        );
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.#error(err, `preflight ${step} of probe object ${key}`, key);
    }
  }
}

/**
 * The body's bytes, failing with the store's typed error (ObjectIntegrityError when the SDK's checksum
 * validation fails at the end, StorageUnreachableError for a reset connection) instead of the SDK's.
 */
function mapBodyErrors(body: Readable, map: (err: unknown) => Error): Readable {
  const out = new PassThrough();
  body.once('error', (err) => out.destroy(map(err)));
  // A reader that stops early (abort, a failed decryption) releases the connection.
  out.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(out);
  return out;
}

/** Passes at most `max` bytes through; more is a CorruptObjectError (a manifest is never that big). */
function limitBytes(source: Readable, max: number, location: string, key: string): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > max) {
        callback(
          new CorruptObjectError(`${key} at ${location} is larger than ${max} bytes: not a JSON document`, {
            location,
            key,
          }),
        );
        return;
      }
      callback(null, chunk);
    },
  });
  pipeline(source, limiter, () => {});
  return limiter;
}

export function createS3Store(target: S3Target): S3Store {
  return new S3Store(target);
}
