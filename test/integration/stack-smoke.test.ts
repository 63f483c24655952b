// Proves the local stack is real: a Docker engine that runs containers with volumes, a Temporal server
// that runs a workflow on a real Worker, and an S3 server that takes a checksummed multipart upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { Connection, Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { S3Client, GetObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { stack } from '../helpers/stack-env.ts';
import * as smokeActivities from './fixtures/smoke-activities.ts';
import type { smokeWorkflow } from './fixtures/smoke-workflows.ts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

test('docker: a container from the local image writes to a named volume that outlives it', async () => {
  const docker = new Docker();
  const volumeName = `dockvault-smoke-${Date.now()}`;
  await docker.createVolume({ Name: volumeName });
  try {
    const run = async (cmd: string[]) => {
      const container = await docker.createContainer({
        Image: stack.busyboxImage,
        Cmd: cmd,
        HostConfig: { Binds: [`${volumeName}:/data`] },
      });
      try {
        await container.start();
        const result = (await container.wait()) as { StatusCode: number };
        const logs = await container.logs({ stdout: true, stderr: false });
        return { code: result.StatusCode, out: logs.toString('utf8') };
      } finally {
        await container.remove({ force: true });
      }
    };
    assert.equal((await run(['sh', '-c', 'echo persisted > /data/file'])).code, 0);
    const read = await run(['cat', '/data/file']);
    assert.equal(read.code, 0);
    assert.match(read.out, /persisted/);
  } finally {
    await docker.getVolume(volumeName).remove();
  }
});

test('temporal: a workflow runs on a real Worker against the dev server', async () => {
  const address = stack.temporalAddress;
  const taskQueue = `smoke-${Date.now()}`;
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./fixtures/smoke-workflows.ts', import.meta.url)),
    activities: smokeActivities,
  });
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const result = await worker.runUntil(
      client.workflow.execute<typeof smokeWorkflow>('smokeWorkflow', {
        taskQueue,
        workflowId: taskQueue,
        args: ['dockvault'],
      }),
    );
    assert.match(result, /^workflow says: hello, dockvault \(pid \d+\)$/);
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
});

test('s3: a 20 MB multipart upload with default checksums reads back byte-identical', async () => {
  const s3 = new S3Client({ endpoint: stack.s3Endpoint, forcePathStyle: true, region: 'us-east-1' });
  const body = randomBytes(20 * 1024 * 1024);
  const Key = `smoke/${Date.now()}.bin`;
  try {
    const upload = new Upload({
      client: s3,
      params: { Bucket: stack.s3Bucket, Key, Body: body },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    let parts = 0;
    upload.on('httpUploadProgress', () => parts++);
    await upload.done();
    assert.ok(parts >= 4, `expected a multipart upload, saw ${parts} progress events`);
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.s3Bucket, Key }));
    const bytes = await got.Body!.transformToByteArray();
    assert.equal(bytes.length, body.length);
    assert.equal(sha256(bytes), sha256(body));
  } finally {
    await s3.send(new DeleteObjectCommand({ Bucket: stack.s3Bucket, Key }));
    s3.destroy();
  }
});
