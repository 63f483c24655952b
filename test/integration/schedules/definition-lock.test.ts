// Two runs of a definition never overlap, whoever starts them: a scheduled run and one started
// directly (as `temporal workflow start` would, past `run`'s own check) at the same moment: one backs
// up, the other fails at once having run no activity. A restore waits its turn too, and a terminated
// backup takes its lock with it, so the next run backs up.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { definitionLockHolder, startBackup } from '../../../src/client.ts';
import { loadConfigFile } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import type { BackupPlan } from '../../../src/plan/types.ts';
import { definitionLockId } from '../../../src/workflows/definition-lock.ts';
import { progressQuery } from '../../../src/workflows/progress.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { waitFor, waitForScheduledRun } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let client: Client;
let proxy: TcpProxy;
let app = '';
let name = '';
let scheduleId = '';
let plan: BackupPlan;
let taskQueue = '';

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  const { fixtures, tag } = env;
  const volume = await fixtures.volume(`${tag}-data`);
  // Random bytes do not compress: through the throttled proxy the upload holds the lock for a while.
  await fixtures.sh([volume], `head -c 3145728 /dev/urandom > /${volume}/random.bin`);
  app = await fixtures.sleeper(`${tag}-app`, [volume]);
  name = `${tag}-site`;
  scheduleId = `dockvault-${name}`;
  await env.writeConfig(
    [{ name, type: 'standard', containers: [app], volumes: [volume], schedule: { cron: '0 0 1 1 *' } }],
    {},
    { endpoint: proxy.url },
  );
  const config = await loadConfigFile(env.configPath);
  plan = buildPlan(config, config.backupDefinitions[0]!);
  taskQueue = config.temporal.taskQueue;
  await env.startWorker();
  const synced = await runCli(['schedules', 'sync', '--config', env.configPath]);
  assert.equal(synced.code, 0, synced.stderr);
});
after(async () => {
  await client.schedule
    .getHandle(scheduleId)
    .delete()
    .catch(() => {});
  await proxy.close();
  await env.close();
});

/** The first of the runs to end, and how. */
function firstToEnd(handles: WorkflowHandle[]) {
  return Promise.race(
    handles.map((handle) =>
      handle.result().then(
        () => ({ handle, error: undefined }),
        (error: unknown) => ({ handle, error }),
      ),
    ),
  );
}

async function activitiesRun(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length;
}

test('a scheduled and a direct start at the same moment: one backs up, the other fails at once and touches nothing', async () => {
  proxy.throttle(64 * 1024);
  const [, direct] = await Promise.all([
    client.schedule.getHandle(scheduleId).trigger(),
    startBackup(client, taskQueue, plan),
  ]);
  const scheduledId = await waitForScheduledRun(client, scheduleId);
  const runs = [client.workflow.getHandle(scheduledId), client.workflow.getHandle(direct.workflowId)];

  const refused = await firstToEnd(runs);
  const winner = runs.find((h) => h !== refused.handle)!;
  assert.ok(
    refused.error instanceof WorkflowFailedError,
    `the first run to end failed: ${String(refused.error)}`,
  );
  const cause = refused.error.cause;
  assert.ok(cause instanceof ApplicationFailure, String(cause));
  assert.equal(cause.type, 'DefinitionBusyError');
  assert.equal(cause.nonRetryable, true);
  assert.match(cause.message, new RegExp(`^${name} is busy: ${winner.workflowId} holds its lock`));
  assert.equal(
    await activitiesRun(refused.handle),
    0,
    'the refused run stopped nothing and uploaded nothing',
  );
  assert.equal(await definitionLockHolder(client, plan), winner.workflowId);
  assert.equal((await winner.describe()).status.name, 'RUNNING');

  proxy.throttle(Infinity);
  const result = (await winner.result()) as { backupId: string };
  const { manifests } = await env.backups(name);
  assert.equal(manifests.length, 1, manifests.join(', '));
  assert.ok(manifests[0]!.includes(result.backupId));
  assert.equal(await env.fixtures.isRunning(app), true, 'the container runs again');
  const lock = await client.workflow.getHandle(definitionLockId(plan)).describe();
  assert.equal(lock.status.name, 'COMPLETED', 'released by the run that held it');
  assert.equal(lock.parentExecution?.workflowId, winner.workflowId);
});

test('a restore waits its turn; a terminated backup releases the lock and the next run backs up', async () => {
  proxy.throttle(64 * 1024);
  const held = await env.startRun(name);
  const handle = client.workflow.getHandle(held);
  await waitFor(
    async () => /uploading/.test((await handle.query(progressQuery).catch(() => undefined))?.phase ?? ''),
    60_000,
    'the upload of the held run',
  );

  const restore = await runCli(['restore', name, '--identity', env.identityPath, '--config', env.configPath]);
  assert.equal(restore.code, 1, restore.stdout);
  assert.match(restore.stdout, new RegExp(`FAILED ${name}: .*${name} is busy: ${held} holds its lock`));
  const refusedRestore = /started (\S+)/.exec(restore.stdout)?.[1];
  assert.ok(refusedRestore, restore.stdout);
  assert.equal(await activitiesRun(client.workflow.getHandle(refusedRestore)), 0);

  await handle.terminate('a backup killed from the outside');
  await waitFor(
    async () => (await definitionLockHolder(client, plan)) === undefined,
    30_000,
    'the lock to end',
  );
  const lock = await client.workflow.getHandle(definitionLockId(plan)).describe();
  assert.equal(lock.status.name, 'TERMINATED', 'ended with its terminated parent');
  assert.equal(lock.parentExecution?.workflowId, held);

  proxy.throttle(Infinity);
  const next = await runCli(['run', name, '--config', env.configPath]);
  assert.equal(next.code, 0, `${next.stdout}${next.stderr}`);
  assert.match(next.stdout, new RegExp(`OK +${name} `));
  assert.equal((await env.backups(name)).manifests.length, 2);
  assert.equal(await env.fixtures.isRunning(app), true);
});
