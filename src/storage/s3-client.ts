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

const DEFAULT_TUNING: S3ClientTuning = {
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

/** TLS, or an endpoint that never leaves the host: nothing on the way can alter a request unnoticed. */
function transportProtectsPayload(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return true; // AWS itself: https
  const url = new URL(endpoint);
  if (url.protocol === 'https:') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The target's endpoint, else this process's DOCKVAULT_S3_ENDPOINT (path-style): how the local stack
 * and tests name their server, and how a worker in a container reaches one the host's CLI reaches on
 * another address.
 */
export function resolveEndpoint(
  target: S3Target,
  env: NodeJS.ProcessEnv = process.env,
): { endpoint: string | undefined; forcePathStyle: boolean } {
  if (target.endpoint !== undefined || !env.DOCKVAULT_S3_ENDPOINT)
    return { endpoint: target.endpoint, forcePathStyle: target.forcePathStyle };
  return { endpoint: env.DOCKVAULT_S3_ENDPOINT, forcePathStyle: true };
}

/** The commands whose bodies are data (parts, chunks), not requests whose body is their meaning. */
const unsignedPayloadCommands = new Set(['UploadPartCommand', 'PutObjectCommand']);

export function createS3Client(target: S3Target, tuning: S3ClientTuning = DEFAULT_TUNING): S3Client {
  const { endpoint, forcePathStyle } = resolveEndpoint(target);
  const client = new S3Client({
    region: target.region,
    forcePathStyle,
    maxAttempts: tuning.maxAttempts,
    // A GET's CRC32 is checked when the request asks for it (s3-store.ts: all but selfChecked reads).
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: tuning.connectionTimeoutMs,
      requestTimeout: tuning.requestTimeoutMs,
    },
    ...(endpoint ? { endpoint } : {}),
  });
  if (transportProtectsPayload(endpoint)) {
    // SigV4 otherwise signs a SHA-256 of every part and every chunk: one more hash pass over every
    // stored byte here, and one on the server (measured: 1.8 s of CPU per GB on the two). Each body
    // still carries the SDK's CRC32, which the server checks; the manifest holds our SHA-256 of each
    // whole object, and every chunk is authenticated by its age encryption.
    client.middlewareStack.add(
      (next, context) => (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers;
        if (unsignedPayloadCommands.has(context.commandName ?? '') && headers)
          headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'dockvaultUnsignedParts' },
    );
  }
  return client;
}
