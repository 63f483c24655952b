// A backup run (`dockvault run --all`, several names, the top-level schedule): one parent workflow whose
// children are the definitions' own backups. One failing definition never stops the others; the result
// and one summary notification name it and why; cancelling the run restarts what its child stopped;
// the default "runs a user started" query shows the run without its children and lock workflows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { BackupRunResult } from '../../../src/plan/types.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { PostgresFixtures } from '../../helpers/postgres-fixtures.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { waitFor, waitForScheduledRun } from '../../helpers/wait.ts';
import { webhookReceiver } from '../../helpers/webhook-receiver.ts';
import { runCli } from '../../helpers/worker-process.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;
let client: Client;
const pg = new PostgresFixtures();
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let received: Record<string, unknown>[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  hook = await webhookReceiver();
  received = hook.received;
});
after(async () => {
  for (const c of cleanups) await c().catch(() => {});
  await env.close();
  await pg.cleanup();
  await hook.close();
});

const webhooks = () => ({ notifications: { webhooks: [{ url: hook.url, on: ['failure', 'success'] }] } });

test('a run over two standard and one PostgreSQL definition: the failing one is named, the others complete, one summary', async () => {
  const { fixtures, tag } = env;
  const site = await fixtures.volume(`${tag}-site`);
  const media = await fixtures.volume(`${tag}-media`);
  await fixtures.sh([site, media], `echo site > /${site}/a; echo media > /${media}/b`);
  const web = await fixtures.sleeper(`${tag}-web`, [site]);
  const db = await pg.server(`${tag}-pg`);
  await pg.sql(db, 'postgres', 'CREATE DATABASE shop');
  await env.writeConfig(
    [
      { name: 'site', type: 'standard', containers: [web], volumes: [site], after: ['db'] },
      { name: 'broken', type: 'standard', containers: [web], volumes: [`${tag}-missing`] },
      { name: 'db', type: 'postgresqldatabase', containers: [db], postgres: { databases: ['shop'] } },
    ],
    webhooks(),
  );
  await env.startWorker();
  received.length = 0;

  const r = await runCli(['run', '--all', '--config', env.configPath]);
  assert.equal(r.code, 1, `one definition fails, so run exits 1:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /started (run-all-\S+)/);
  assert.match(r.stdout, /backup run of all definitions: 2 ok, 1 failed/);
  assert.match(r.stdout, /OK {5}site \S+: 1 object/);
  assert.match(r.stdout, /OK {5}db \S+: /);
  assert.match(r.stdout, new RegExp(`FAILED broken: .*${tag}-missing`));
  const runId = /started (run-all-\S+)/.exec(r.stdout)![1]!;

  const result = (await client.workflow.getHandle(runId).result()) as BackupRunResult;
  assert.deepEqual(
    result.outcomes.map((o) => [o.definition, o.status]),
    [
      ['site', 'ok'],
      ['broken', 'failed'],
      ['db', 'ok'],
    ],
  );
  assert.match(result.outcomes[1]!.error ?? '', new RegExp(`${tag}-missing`));
  // `site` runs after `db`: its child started only once db's had ended.
  const [siteRun, dbRun] = await Promise.all(
    ['site', 'db'].map((d) =>
      client.workflow.getHandle(result.outcomes.find((o) => o.definition === d)!.workflowId).describe(),
    ),
  );
  assert.ok(siteRun!.startTime >= dbRun!.closeTime!, 'site started after db ended');
  assert.equal(siteRun!.parentExecution?.workflowId, runId, 'the definitions are children of the run');
  assert.equal((await env.backups('site')).manifests.length, 1);
  assert.equal((await env.backups('db')).manifests.length, 1);
  assert.equal(await fixtures.isRunning(web), true);

  await waitFor(() => received.length > 0, 10_000, 'the summary notification');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(received.length, 1, `one notification for the whole run, got ${JSON.stringify(received)}`);
  const summary = received[0]!;
  assert.equal(summary.event, 'failure');
  assert.equal(summary.kind, 'run');
  assert.equal(summary.ok, 2);
  assert.equal(summary.failed, 1);
  const failed = (summary.definitions as { definition: string; status: string; error?: string }[]).find(
    (d) => d.status === 'failed',
  );
  assert.equal(failed?.definition, 'broken');
  assert.match(failed?.error ?? '', new RegExp(`${tag}-missing`));

  // The one query for "runs a user started": the run, not its children nor the lock workflows.
  const { stdout } = await exec('temporal', [
    'workflow',
    'list',
    '--address',
    stack.temporalAddress,
    '--query',
    `ParentWorkflowId IS NULL AND WorkflowId STARTS_WITH "run-all-" AND StartTime >= "${new Date(Date.now() - 600_000).toISOString()}"`,
  ]);
  assert.match(stdout, new RegExp(runId));
  const list = (query: string) =>
    exec('temporal', ['workflow', 'list', '--address', stack.temporalAddress, '--query', query]);
  const ours = `DockvaultDefinition IN ("site", "db", "broken") AND DockvaultHost = "${tag}"`;
  assert.match((await list(ours)).stdout, /backup-site-/, 'without the filter the children are listed');
  const topLevel = await list(`ParentWorkflowId IS NULL AND ${ours}`);
  assert.doesNotMatch(topLevel.stdout, /backup-|lock-/, 'children and locks are not top-level rows');
  const locks = await list(`ParentWorkflowId IS NULL AND WorkflowId STARTS_WITH "lock-site@${tag}"`);
  assert.doesNotMatch(locks.stdout, /lock-/, 'lock workflows are children of their backups');
});

test('cancelling the run while a child has containers stopped: they run again, nothing is left half done', async () => {
  const { fixtures, tag } = env;
  const proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  proxy.throttle(512 * 1024);
  cleanups.push(() => proxy.close());
  const vol = await fixtures.volume(`${tag}-slow`);
  await fixtures.sh([vol], `head -c 16777216 /dev/urandom > /${vol}/data`);
  const app = await fixtures.sleeper(`${tag}-slow-app`, [vol]);
  const later = await fixtures.volume(`${tag}-later`);
  await env.writeConfig(
    [
      { name: 'slow', type: 'standard', containers: [app], volumes: [vol], staging: 'none' },
      { name: 'later', type: 'standard', volumes: [later] },
    ],
    {},
    { endpoint: proxy.url },
  );
  await env.worker?.stop('SIGKILL');
  await env.startWorker();
  const started = await runCli(['run', 'slow', 'later', '--no-wait', '--config', env.configPath]);
  const runId = /started (\S+)/.exec(started.stdout)?.[1];
  assert.ok(runId, started.stdout + started.stderr);
  await waitFor(async () => !(await fixtures.isRunning(app)), 30_000, 'the container to be stopped');
  const handle = client.workflow.getHandle(runId);
  await handle.cancel();
  await assert.rejects(handle.result(), /cancel/i);
  assert.equal(await fixtures.isRunning(app), true, 'the stopped container runs again');
  const slow = await env.backups('slow');
  assert.deepEqual(
    slow,
    { manifests: [], prefixes: [], uploads: 0 },
    'no object, no manifest, no upload left',
  );
  assert.deepEqual((await env.backups('later')).prefixes, [], 'the queued definition never started');
});

test('the top-level schedule runs every definition as one run', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-nightly`);
  await fixtures.sh([vol], `echo nightly > /${vol}/n`);
  await env.writeConfig(
    [
      { name: 'n1', type: 'standard', volumes: [vol] },
      { name: 'n2', type: 'standard', volumes: [vol] },
    ],
    { schedule: { cron: '0 3 1 1 *' } },
  );
  await env.worker?.stop('SIGKILL');
  await env.startWorker();
  const sync = await runCli(['schedules', 'sync', '--config', env.configPath]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  assert.match(sync.stdout, /created\s+dockvault-run:all/);
  cleanups.push(() => client.schedule.getHandle('dockvault-run:all').delete());
  await client.schedule.getHandle('dockvault-run:all').trigger();
  const workflowId = await waitForScheduledRun(client, 'dockvault-run:all');
  assert.ok(workflowId.startsWith('run-all-'), workflowId);
  const result = (await client.workflow.getHandle(workflowId).result()) as BackupRunResult;
  assert.equal(result.ok, 2, JSON.stringify(result));
  assert.equal((await env.backups('n1')).manifests.length, 1);
  assert.equal((await env.backups('n2')).manifests.length, 1);
});
