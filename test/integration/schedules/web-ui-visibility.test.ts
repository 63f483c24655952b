// What the Temporal Web UI shows of a backup, read through the same APIs it uses: typed search
// attributes a visibility query finds, the static summary and details, the workflow's current details
// (the phase), and the pending activity's heartbeat details (phase, bytes) while an upload is slowed;
// and `run` refusing to start a second backup of the definition while this one holds its lock.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TransferProgress } from '../../../src/activities/heartbeat.ts';
import { definitionKey, hostKey, typeKey } from '../../../src/search-attributes.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let client: Client;
let proxy: TcpProxy;

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
});
after(async () => {
  await proxy.close();
  await env.close();
});

test('a running backup shows its search attributes, summary, current phase and heartbeat progress', async () => {
  const { fixtures, tag } = env;
  const volume = await fixtures.volume(`${tag}-data`);
  // Random bytes do not compress: the upload moves about this much through the throttled proxy.
  await fixtures.sh([volume], `head -c 3145728 /dev/urandom > /${volume}/random.bin`);
  const app = await fixtures.sleeper(`${tag}-app`, [volume]);
  const name = `${tag}-visible`;
  await env.writeConfig(
    [{ name, type: 'standard', containers: [app], volumes: [volume] }],
    {},
    { endpoint: proxy.url },
  );
  await env.startWorker();
  proxy.throttle(256 * 1024);
  const workflowId = await env.startRun(name);
  const handle = client.workflow.getHandle(workflowId);

  // Heartbeat details of the pending upload carry phase and bytes.
  let progress: TransferProgress | undefined;
  await waitFor(
    async () => {
      const d = await handle.describe();
      for (const a of d.raw.pendingActivities ?? []) {
        const payload = a.heartbeatDetails?.payloads?.[0];
        if (!payload) continue;
        // Activities that report no progress beat with empty details, only to show they are alive.
        const p = defaultPayloadConverter.fromPayload<TransferProgress | undefined>(payload);
        if (p && p.bytes > 0 && /upload|encrypt/i.test(p.phase)) progress = p;
      }
      return progress !== undefined;
    },
    60_000,
    'heartbeat details with uploaded bytes',
  );
  assert.ok(progress!.bytes > 0);
  assert.equal(typeof progress!.bytesPerSecond, 'number');

  // The workflow's current details (what the UI shows as "Current Details") carry the phase.
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  assert.match(metadata.currentDetails ?? '', /\*\*compressing, encrypting and uploading\*\*/);
  assert.match(metadata.currentDetails ?? '', new RegExp(`backup \`${name}/`));

  // Typed search attributes: the UI's filter `DockvaultDefinition = "<name>"` finds the run.
  let found: string[] = [];
  await waitFor(
    async () => {
      found = [];
      for await (const w of client.workflow.list({ query: `DockvaultDefinition = "${name}"` })) {
        found.push(`${w.workflowId} ${w.status.name}`);
      }
      return found.length > 0;
    },
    15_000,
    'the visibility query',
  );
  assert.deepEqual(found, [`${workflowId} RUNNING`]);
  const running = await handle.describe();
  assert.equal(running.typedSearchAttributes.get(definitionKey), name);
  assert.equal(running.typedSearchAttributes.get(typeKey), 'standard');
  assert.equal(running.typedSearchAttributes.get(hostKey), tag);
  assert.equal(await running.staticSummary(), `standard backup of ${name} on ${tag}`);
  assert.match((await running.staticDetails()) ?? '', new RegExp(`volumes: ${volume}`));

  // `run` reads the definition's lock and does not start a second backup next to this one.
  const refused = await runCli(['run', name, '--no-wait', '--config', env.configPath]);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, new RegExp(`${name} is busy: ${workflowId} holds its lock`));
  assert.doesNotMatch(refused.stdout, /started/);

  proxy.throttle(Infinity);
  const result = (await handle.result()) as { definition: string };
  assert.equal(result.definition, name);
});
