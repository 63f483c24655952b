// Builds the S3Client for a target. Credentials come only from the worker's environment / the AWS default
// chain (env vars, shared config, web identity, instance metadata): a target is a description that may
// travel through workflow input, so it never carries secrets.
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Target } from './store.ts';

export interface S3ClientTuning {
  maxAttempts: number;
  /** Time to establish the TCP/TLS connection. */
  connectionTimeoutMs: number;
  /** Socket idle time before a request fails; 0 = none (large streams may stall on a slow consumer). */
  requestTimeoutMs: number;
}

export const DEFAULT_TUNING: S3ClientTuning = {
  maxAttempts: 3,
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 0,
};

/** Preflight must fail in seconds when the endpoint is down, not after minutes of retries. */
export const PREFLIGHT_TUNING: S3ClientTuning = {
  maxAttempts: 2,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 10_000,
};

export function createS3Client(target: S3Target, tuning: S3ClientTuning = DEFAULT_TUNING): S3Client {
  return new S3Client({
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    maxAttempts: tuning.maxAttempts,
    requestHandler: {
      connectionTimeout: tuning.connectionTimeoutMs,
      requestTimeout: tuning.requestTimeoutMs,
    },
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
  });
}
