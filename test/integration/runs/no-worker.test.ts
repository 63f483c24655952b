// A definition whose host has no worker: `run` says so at once and starts nothing; a scheduled run
// fails cleanly after `workerWait` with "no worker for host", alerts through the worker that runs the
// workflows, releases its lock; the next scheduled run, once the host's worker is back, runs on time.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { waitFor } from '../../helpers/wait.ts';
import { webhookReceiver } from '../../helpers/webhook-receiver.ts';
import { runCli, startWorker, type WorkerProcess } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let client: Client;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let received: Record<string, unknown>[] = [];
let hostB = '';
let app = '';
let workerB: WorkerProcess | undefined;
const scheduleId = () => `dockvault-${env.tag}-away`;

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  hook = await webhookReceiver();
  received = hook.received;
  const { fixtures, tag } = env;
  hostB = `${tag}-b`;
  const vol = await fixtures.volume(`${tag}-away`);
  await fixtures.sh([vol], `echo away > /${vol}/f`);
  app = await fixtures.sleeper(`${tag}-away-app`, [vol]);
  await env.writeConfig(
    [
      {
        name: `${tag}-away`,
        type: 'standard',
        host: hostB,
        containers: [app],
        volumes: [vol],
        schedule: { cron: '0 3 1 1 *' },
      },
    ],
    {
      workerWait: '5s',
      notifications: {
        webhooks: [{ url: hook.url, on: ['failure'] }],
      },
    },
  );
});
after(async () => {
  await client.schedule
    .getHandle(scheduleId())
    .delete()
    .catch(() => {});
  await workerB?.stop('SIGKILL');
  await env.close();
  await hook.close();
});

test('run refuses at once when no worker serves the host, naming the command that starts one', async () => {
  await env.startWorker(); // serves the workflows and host env.tag, not host b
  const started = Date.now();
  const r = await runCli(['run', `${env.tag}-away`, '--config', env.configPath]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.ok(Date.now() - started < 15_000, 'at once, not after a wait');
  assert.match(r.stderr, new RegExp(`no worker for host "${hostB}" polls task queue "dockvault.${hostB}"`));
  assert.match(r.stderr, new RegExp(`dockvault worker --host ${hostB}`));
  assert.match(r.stderr, /nothing was started/);
  const listed = await client.workflow.count(`DockvaultHost = "${hostB}"`);
  assert.equal(listed.count, 0, 'no workflow was started');
});

test('a scheduled run fails cleanly after workerWait and alerts; the next one runs once the worker is back', async () => {
  const sync = await runCli(['schedules', 'sync', '--config', env.configPath]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  const schedule = client.schedule.getHandle(scheduleId());
  const startedBefore = (await env.fixtures.docker.getContainer(app).inspect()).State.StartedAt;

  await schedule.trigger();
  let first = '';
  await waitFor(
    async () => {
      first = (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId ?? '';
      return first !== '';
    },
    20_000,
    'the first scheduled run',
  );
  const t0 = Date.now();
  await assert.rejects(client.workflow.getHandle(first).result(), (err: Error) => {
    const text = `${err.message} ${String((err.cause as Error | undefined)?.message)}`;
    assert.match(text, new RegExp(`no worker for host "${hostB}"`));
    assert.match(text, /nothing was stopped/);
    return true;
  });
  assert.ok(Date.now() - t0 < 60_000, 'fails after the configured wait, not hours later');
  assert.equal(
    (await env.fixtures.docker.getContainer(app).inspect()).State.StartedAt,
    startedBefore,
    'the container was never stopped',
  );
  await waitFor(() => received.length > 0, 15_000, 'the failure alert');
  assert.equal(received[0]!.event, 'failure');
  assert.match(String(received[0]!.error), new RegExp(`no worker for host "${hostB}"`));

  workerB = await startWorker(env.configPath, join(env.dir, 'state-b'), ['--host', hostB]);
  await schedule.trigger();
  let second = '';
  await waitFor(
    async () => {
      const actions = (await schedule.describe()).info.recentActions;
      second = actions.length > 1 ? actions[actions.length - 1]!.action.workflow.workflowId : '';
      return second !== '' && second !== first;
    },
    20_000,
    'the second scheduled run',
  );
  const result = (await client.workflow.getHandle(second).result()) as { backupId: string };
  assert.ok(result.backupId, 'the run after the worker came back backs up');
  assert.equal(await env.fixtures.isRunning(app), true);
});
