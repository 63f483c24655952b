// What the integration tests need from the local stack (scripts/stack.sh up writes it to .stack/env).
import type { S3Target } from '../../src/storage/store.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: run 'bash scripts/stack.sh up' and '. .stack/env' first (README.md)`,
    );
  }
  return value;
}

export const stack = {
  get temporalAddress(): string {
    return required('TEMPORAL_ADDRESS');
  },
  get s3Endpoint(): string {
    return required('DOCKVAULT_S3_ENDPOINT');
  },
  get s3Bucket(): string {
    return required('DOCKVAULT_S3_BUCKET');
  },
  get busyboxImage(): string {
    return required('DOCKVAULT_BUSYBOX_IMAGE');
  },
  get postgresImage(): string {
    return required('DOCKVAULT_POSTGRES_IMAGE');
  },
  /** The S3 server's own storage (versitygw's posix backend: <dir>/<bucket>/<key>), to damage objects in place. */
  get s3DataDir(): string {
    return required('DOCKVAULT_S3_DATA_DIR');
  },
  /** Compose v2 (scripts/stack.sh builds it when it is missing). */
  get compose(): string {
    return required('DOCKVAULT_COMPOSE');
  },
};

/** The stack's S3 bucket under `prefix`, with parts small enough that a few MiB take several. */
export function s3TestTarget(prefix: string, overrides: Partial<S3Target> = {}): S3Target {
  return {
    bucket: stack.s3Bucket,
    prefix,
    endpoint: stack.s3Endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: true,
    partSizeMiB: 5,
    queueSize: 2,
    ...overrides,
  };
}
