// What the integration tests need from the local stack (scripts/stack.sh up writes it to .stack/env).
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
};
