// Streams a body of unknown length into one S3 object. Parts are filled in a few buffers that are reused
// for the whole upload (lib-storage allocated and concatenated a new buffer for every part: twice the
// memory, and a copy of every byte that made the garbage collector run a full mark-compact about every
// 30 MB), and part sizes grow with the object so that no size runs out of S3's 10,000 parts.
import { finished } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;
const MAX_PART_SIZE = 5 * 1024 * MiB;
/** Parts per size step; the size doubles after each step. */
const PARTS_PER_STEP = 900;

export type UploadParams = Pick<
  PutObjectCommandInput,
  'Bucket' | 'Key' | 'ContentType' | 'ObjectLockMode' | 'ObjectLockRetainUntilDate'
>;

export interface MultipartUploadOptions {
  client: S3Client;
  params: UploadParams;
  /** Size of the first parts (S3's minimum is 5 MiB). */
  minPartSize: number;
  /** Parts uploading at once; memory is about (queueSize + 1) parts. */
  queueSize: number;
  /** Expected object size, if known: parts start large enough for it to fit in 9,100 of them. */
  sizeHint?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Bytes stored so far, after each part. */
  onProgress?: ((bytes: number) => void) | undefined;
  /** Turns an SDK failure of `what` into the caller's typed error. */
  storageError: (err: unknown, what: string) => Error;
}

/**
 * Size of part `partNumber` (1-based): the first step is big enough for `sizeHint` with 10% headroom,
 * then every 900 parts the size doubles, so an unknown or underestimated size still fits (5 MiB
 * parts reach 5 TiB, S3's object limit, within the 10,000).
 */
export function partSizeFor(partNumber: number, minPartSize: number, sizeHint?: number): number {
  const fitHint = sizeHint ? Math.ceil((sizeHint * 1.1) / (MAX_PARTS - PARTS_PER_STEP) / MiB) * MiB : 0;
  const base = Math.max(minPartSize, fitHint);
  return Math.min(MAX_PART_SIZE, base * 2 ** Math.floor((partNumber - 1) / PARTS_PER_STEP));
}

/**
 * Uploads `body` and resolves with its size. One part or less goes up as a single PUT. On any failure
 * (the source's error, a part that failed after the SDK's retries, the signal) the body is destroyed,
 * the parts in flight are waited for and the multipart upload is aborted, so nothing is left behind;
 * the source's own error is rethrown unchanged.
 */
export async function uploadStream(body: Readable, opts: MultipartUploadOptions): Promise<number> {
  const { client, params, signal } = opts;
  const send = { abortSignal: signal };
  const free: Buffer[] = [];
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let uploadId: string | undefined;
  let partFailure: Error | undefined;
  let current: Buffer | undefined;
  let fill = 0;
  let partNumber = 1;
  let total = 0;
  let stored = 0;

  const bufferFor = (size: number): Buffer => {
    let b = free.pop();
    while (b && b.length !== size) b = free.pop();
    return b ?? Buffer.allocUnsafe(size);
  };

  const uploadPart = async (data: Buffer, n: number, id: string): Promise<void> => {
    try {
      const res = await client.send(
        new UploadPartCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: id,
          PartNumber: n,
          Body: data,
          ChecksumAlgorithm: 'CRC32',
        }),
        send,
      );
      if (!res.ETag) throw new Error(`the server returned no ETag for part ${n}`);
      parts.push({
        PartNumber: n,
        ETag: res.ETag,
        ...(res.ChecksumCRC32 ? { ChecksumCRC32: res.ChecksumCRC32 } : {}),
      });
      stored += data.length;
      opts.onProgress?.(stored);
    } catch (err) {
      partFailure ??= opts.storageError(err, `upload of part ${n} of ${params.Key}`);
    }
  };

  const dispatch = async (data: Buffer): Promise<void> => {
    if (uploadId === undefined) {
      try {
        // As lib-storage does: parts carry the SDK's CRC32, and the object is created to expect them.
        const created = await client.send(
          new CreateMultipartUploadCommand({ ...params, ChecksumAlgorithm: 'CRC32' }),
          send,
        );
        uploadId = created.UploadId;
      } catch (err) {
        throw opts.storageError(err, `start of the upload of ${params.Key}`);
      }
      if (uploadId === undefined) throw new Error(`the server returned no upload id for ${params.Key}`);
    }
    while (inFlight.size >= opts.queueSize) await Promise.race(inFlight);
    if (partFailure) throw partFailure;
    const whole = data.buffer.byteLength === data.length ? data : undefined;
    const running = uploadPart(data, partNumber++, uploadId).finally(() => {
      inFlight.delete(running);
      if (whole) free.push(whole);
    });
    inFlight.add(running);
  };

  try {
    if (signal?.aborted) throw signal.reason;
    for await (const chunk of chunksOf(body)) {
      if (partFailure) throw partFailure;
      let off = 0;
      while (off < chunk.length) {
        if (current && fill === current.length) {
          // Dispatched only once more data exists: an object of exactly one part stays a single PUT.
          await dispatch(current);
          current = undefined;
        }
        if (!current) {
          current = bufferFor(partSizeFor(partNumber, opts.minPartSize, opts.sizeHint));
          fill = 0;
        }
        const n = chunk.copy(current, fill, off);
        fill += n;
        off += n;
        total += n;
      }
    }
    if (uploadId === undefined) {
      const data = current ? current.subarray(0, fill) : Buffer.alloc(0);
      try {
        await client.send(new PutObjectCommand({ ...params, Body: data, ContentLength: data.length }), send);
      } catch (err) {
        throw opts.storageError(err, `upload of ${params.Key}`);
      }
      opts.onProgress?.(data.length);
      return total;
    }
    if (current && fill > 0) await dispatch(current.subarray(0, fill));
    current = undefined;
    while (inFlight.size > 0) await Promise.race(inFlight);
    if (partFailure) throw partFailure;
    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    try {
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        send,
      );
    } catch (err) {
      throw opts.storageError(err, `completion of the upload of ${params.Key}`);
    }
    return total;
  } catch (err) {
    body.destroy();
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined) await abortQuietly(client, params, uploadId);
    throw err;
  }
}

/**
 * The body's chunks one by one. Readable's own async iterator joins everything buffered into one new
 * Buffer on every read: a copy and a large allocation per step, which the parts copy once more anyway.
 */
async function* chunksOf(body: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    body.pause();
    wake?.();
  };
  body.on('data', onData);
  const stopWatching = finished(body, (err) => {
    if (err) failure = err;
    ended = true;
    wake?.();
  });
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        if (queue.length === 0 && !ended) body.resume();
        yield chunk;
      } else if (failure) {
        throw failure;
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    }
  } finally {
    body.off('data', onData);
    stopWatching();
  }
}

/**
 * Aborts until the server no longer knows the upload. A part whose request was cancelled can still be
 * running on the server and store itself after the abort (AWS documents that an abort may have to be
 * repeated; versitygw listed such an upload again after a clean abort), so each abort is checked with
 * ListParts. What is still left after five rounds (an S3 outage) is removed by prune's sweep a day later.
 */
async function abortQuietly(client: S3Client, params: UploadParams, uploadId: string): Promise<void> {
  const upload = { Bucket: params.Bucket, Key: params.Key, UploadId: uploadId };
  for (let round = 1; round <= 5; round++) {
    try {
      await client.send(new AbortMultipartUploadCommand(upload));
    } catch (err) {
      if (!isNoSuchUpload(err)) {
        await delay(200 * round);
        continue;
      }
    }
    try {
      await client.send(new ListPartsCommand({ ...upload, MaxParts: 1 }));
    } catch (err) {
      if (isNoSuchUpload(err)) return;
    }
    await delay(200 * round);
  }
}

function isNoSuchUpload(err: unknown): boolean {
  return (err as { name?: string }).name === 'NoSuchUpload';
}
