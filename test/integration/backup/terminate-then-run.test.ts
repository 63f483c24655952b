// A run terminated from the outside releases its definition's lock at once, so the next run can start
// while the container the dead run stopped is still down. The next run must treat that container as
// running (stop it, restart it itself), the reconciler must never start it in the middle of that
// run, and with nobody to restart it the reconciler must within 15 s. The worker runs the default
// reconcile interval here, as in production.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Client, type WorkflowHandle } from '@temporalio/client';
import { startBackup } from '../../../src/client.ts';
import { DEFAULT_RECONCILE_INTERVAL } from '../../../src/cli/commands/worker.ts';
import { loadConfigFile } from '../../../src/config/index.ts';
import { StoppedRecord } from '../../../src/docker/stopped-record.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import type { BackupPlan } from '../../../src/plan/types.ts';
import { manifestKey } from '../../../src/storage/layout.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { progressQuery } from '../../../src/workflows/progress.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let client: Client;
let proxy: TcpProxy;
let app = '';
let name = '';
let plan: BackupPlan;
let taskQueue = '';

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  const { fixtures, tag } = env;
  const volume = await fixtures.volume(`${tag}-data`);
  // Random bytes do not compress: 256 KiB through the throttled proxy keep the container down ~2 s.
  await fixtures.sh([volume], `head -c 262144 /dev/urandom > /${volume}/random.bin`);
  app = await fixtures.sleeper(`${tag}-app`, [volume]);
  name = `${tag}-site`;
  await env.writeConfig(
    [{ name, type: 'standard', containers: [app], volumes: [volume], staging: 'none' }],
    {},
    { endpoint: proxy.url },
  );
  const config = await loadConfigFile(env.configPath);
  plan = buildPlan(config, config.backupDefinitions[0]!);
  taskQueue = config.temporal.taskQueue;
  await env.startWorker(['--reconcile-interval', DEFAULT_RECONCILE_INTERVAL]);
});
after(async () => {
  await proxy.close();
  await env.close();
});

const running = () => env.fixtures.isRunning(app);

async function manifestOf(backupId: string): Promise<Manifest> {
  return (await env.store.getJson(manifestKey(name, backupId))) as Manifest;
}

/** A run slowed by the proxy, once it has stopped the container. */
async function runStoppedMidArchive(): Promise<WorkflowHandle> {
  proxy.throttle(128 * 1024);
  const handle = await startBackup(client, taskQueue, plan);
  await waitFor(async () => !(await running()), 30_000, 'the container to be stopped');
  return handle;
}

/** Terminates a run; one that has just completed on its own is fine (it restarted what it stopped). */
async function terminate(handle: WorkflowHandle) {
  await handle.terminate('test: killed from the outside').catch((err: Error) => {
    if (!/already completed|not found/i.test(err.message)) throw err;
  });
}

test('the run after a terminated one restarts the container the dead run left stopped', async () => {
  const dead = await runStoppedMidArchive();
  await terminate(dead);
  proxy.throttle(Infinity);
  const next = await startBackup(client, taskQueue, plan);
  const result = (await next.result()) as { backupId: string };
  assert.equal(await running(), true, 'running again when the next run ends, not a reconciler tick later');
  const manifest = await manifestOf(result.backupId);
  assert.deepEqual(manifest.containers.stopped, [app], 'the next run stopped (adopted) and restarted it');
  assert.deepEqual(manifest.containers.notRunning, []);
  assert.deepEqual(await new StoppedRecord(env.stateDir).list(), []);
});

test('a restore right after a terminated backup stops and restarts the container the backup left stopped', async () => {
  if ((await env.backups(name)).manifests.length === 0) {
    proxy.throttle(Infinity);
    await (await startBackup(client, taskQueue, plan)).result();
  }
  const dead = await runStoppedMidArchive();
  await terminate(dead);
  proxy.throttle(Infinity);
  const restore = await runCli(['restore', name, '--identity', env.identityPath, '--config', env.configPath]);
  assert.equal(restore.code, 0, `${restore.stdout}${restore.stderr}`);
  assert.match(restore.stdout, new RegExp(`containers stopped: ${app};`), 'the restore stopped it itself');
  assert.equal(await running(), true, 'running again when the restore ends');
  assert.deepEqual(await new StoppedRecord(env.stateDir).list(), []);
});

test('with no next run, a container a terminated run left stopped runs again within 15 s', async () => {
  const measured: number[] = [];
  for (let i = 0; i < 3; i++) {
    const dead = await runStoppedMidArchive();
    await terminate(dead);
    const terminatedAt = Date.now();
    await waitFor(running, 15_000, 'the reconciler to restart the container');
    measured.push(Date.now() - terminatedAt);
    proxy.throttle(Infinity);
  }
  console.log(`running again after a terminate: ${measured.join(', ')} ms`);
  assert.ok(Math.max(...measured) < 15_000, measured.join(', '));
});

test('20 rounds of terminate-then-run-at-once: no run is disturbed, no container ends stopped', async () => {
  const outcomes: string[] = [];
  for (let round = 0; round < 20; round++) {
    const victim = await runStoppedMidArchive();
    if (round % 2 === 1) {
      // Odd rounds: terminated just after its restart, before it confirmed the container stayed up
      // and dropped its stopped-record entry (the moment the reconciler raced in the issue).
      await waitFor(
        async () =>
          (await victim.query(progressQuery).catch(() => undefined))?.phase === 'restarting containers' &&
          (await running()),
        30_000,
        'the victim to restart the container',
      );
    }
    await terminate(victim);
    proxy.throttle(Infinity);
    const next = await startBackup(client, taskQueue, plan);
    const outcome = await next.result().then(
      (r) => `ok ${(r as { backupId: string }).backupId}`,
      (err: Error) => `failed: ${err.message}: ${err.cause instanceof Error ? err.cause.message : ''}`,
    );
    outcomes.push(`round ${round}: ${outcome}`);
    assert.doesNotMatch(
      outcome,
      /started again while their volumes were being archived/,
      outcomes.join('\n'),
    );
    if (outcome.startsWith('ok ')) {
      assert.equal(await running(), true, `round ${round}: the next run ended with the container stopped`);
      const manifest = await manifestOf(outcome.slice(3));
      assert.deepEqual(manifest.containers.stopped, [app], `round ${round}: the next run stopped it itself`);
    } else {
      await waitFor(running, 15_000, `round ${round}: the container to run again`);
    }
  }
  const output = env.worker!.output();
  const adoptions = output.match(/adopting a container a closed run left stopped/g)?.length ?? 0;
  const reconciled = output.match(/reconciler: restarted/g)?.length ?? 0;
  console.log(`${outcomes.join('\n')}\nadoptions ${adoptions}, reconciler restarts ${reconciled}`);
  assert.ok(adoptions > 0, 'some next run found the container stopped by its dead predecessor');
  assert.ok(
    outcomes.every((o) => o.includes(': ok ')),
    outcomes.join('\n'),
  );
  await waitFor(
    async () => (await new StoppedRecord(env.stateDir).list()).length === 0,
    15_000,
    'the stopped record to be empty',
  );
  assert.equal(await running(), true);
});
