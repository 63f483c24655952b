// Creates the S3 bucket the stack's tests use, if it is missing. Reads endpoint and credentials from the env.
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

const bucket = process.argv[2];
const endpoint = process.env.DOCKVAULT_S3_ENDPOINT;
if (!bucket || !endpoint) {
  console.error('usage: DOCKVAULT_S3_ENDPOINT=... node scripts/ensure-bucket.ts BUCKET');
  process.exit(2);
}
const s3 = new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
try {
  await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  console.log(`bucket ${bucket} exists`);
} catch {
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  console.log(`bucket ${bucket} created`);
}
