// Records the history of every workflow path on the real stack (Docker, Temporal, S3) into
// test/replay/histories/<commit>/, for test/replay/replay-histories.test.ts: run it on a release whose
// runs must keep replaying after the next upgrade (README.md, "Upgrading"), then commit the files:
//   . .stack/env && node test/replay/record-histories.ts
// A new workflow or path gets its run below, and the recording is done again on the commit that adds it.
import { mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { BackupTestEnv } from '../helpers/backup-env.ts';
import { PostgresFixtures } from '../helpers/postgres-fixtures.ts';
import { stack } from '../helpers/stack-env.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { runCli } from '../helpers/worker-process.ts';
import { hostTaskQueue } from '../../src/config/index.ts';
import { definitionLockId } from '../../src/workflows/definition-lock.ts';
import { historyFile, historyToObject, type RecordedHistory } from './histories.ts';

const env = await BackupTestEnv.create();
const pg = new PostgresFixtures();
const proxy = new TcpProxy(stack.s3Endpoint);
const overdueProxy = new TcpProxy(stack.s3Endpoint);
const git = (args: string[]) =>
  execFileSync('git', args, { cwd: fileURLToPath(new URL('.', import.meta.url)), encoding: 'utf8' }).trim();
// The histories stand for a commit's workflow code: code that is not committed has no name to record under.
if (git(['status', '--porcelain', '--', '../../src']) !== '') {
  throw new Error('src/ has uncommitted changes: commit them, then record');
}
// Named after the last commit that changed src/: the code the histories stand for.
const commit = git(['log', '-1', '--format=%h', '--', '../../src']);

async function save(name: string, description: string, handle: WorkflowHandle): Promise<void> {
  const history = historyToObject(await handle.fetchHistory());
  const recorded: RecordedHistory = {
    description,
    recordedAt: commit,
    workflowId: handle.workflowId,
    history,
  };
  const file = historyFile(commit, name);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(recorded, null, 2)}\n`);
  console.log(`recorded ${name} (${handle.workflowId})`);
}

function check(result: { code: number; stdout: string; stderr: string }, what: string, expected = 0) {
  if (result.code !== expected) {
    throw new Error(
      `${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}\n${env.worker?.output()}`,
    );
  }
  return result.stdout;
}

/** The workflow a CLI command started, found by its id prefix among the runs of our task queue. */
async function latest(client: Client, prefix: string): Promise<WorkflowHandle> {
  for await (const w of client.workflow.list({ query: `TaskQueue = '${env.tag}'` })) {
    if (w.workflowId.startsWith(prefix)) return client.workflow.getHandle(w.workflowId, w.runId);
  }
  throw new Error(`no workflow ${prefix}* on ${env.tag}`);
}

async function listed(client: Client, prefix: string): Promise<WorkflowHandle> {
  let handle: WorkflowHandle | undefined;
  await waitFor(
    async () => (handle = await latest(client, prefix).catch(() => undefined)) !== undefined,
    10_000,
    `${prefix} to be listed`,
  );
  return handle!;
}

try {
  await proxy.start();
  await overdueProxy.start();
  const { fixtures, tag } = env;
  const client = await env.client();
  const vol = await fixtures.volume(`${tag}-data`);
  await fixtures.sh(
    [vol],
    `mkdir -p /${vol}/d; echo hello > /${vol}/d/f; head -c 3145728 /dev/urandom > /${vol}/big`,
  );
  const web = await fixtures.sleeper(`${tag}-web`, [vol]);
  const db = await fixtures.sleeper(`${tag}-db`, [vol]);
  const chunkedVol = await fixtures.volume(`${tag}-chunked`);
  await fixtures.sh([chunkedVol], `mkdir -p /${chunkedVol}/d; echo one > /${chunkedVol}/d/f`);
  const slowVol = await fixtures.volume(`${tag}-slow`);
  await fixtures.sh([slowVol], `head -c 8388608 /dev/urandom > /${slowVol}/data`);
  const slowApp = await fixtures.sleeper(`${tag}-slow-app`, [slowVol]);
  const overdueVol = await fixtures.volume(`${tag}-overdue`);
  await fixtures.sh([overdueVol], `head -c 2097152 /dev/urandom > /${overdueVol}/data`);
  const overdueApp = await fixtures.sleeper(`${tag}-overdue-app`, [overdueVol]);
  const source = await pg.server(`${tag}-pg`);
  await pg.sql(source, 'postgres', 'CREATE DATABASE shop;');
  await pg.sql(source, 'shop', `CREATE TABLE t (v text); INSERT INTO t VALUES ('x');`);
  const target = await pg.server(`${tag}-pg-dst`);
  // Its own target: the restore of 'pg' leaves shop on the other one.
  const chunkedTarget = await pg.server(`${tag}-pgchunked-dst`);
  await fixtures.sleeper(`${tag}-labelled`, [vol], { labels: { [`${tag}.backup`]: 'yes' } });
  const hook = (container: string, command: string) => ({ container, command, timeoutSeconds: 20 });
  const definitions = [
    {
      name: 'staged',
      type: 'standard',
      containers: [web, db],
      volumes: [vol],
      timeoutMinutes: 30,
      retention: { keepLast: 1 },
      hooks: { preStop: [hook(web, 'true')], postStart: [hook(db, 'true')] },
    },
    { name: 'streaming', type: 'standard', containers: [web, db], volumes: [vol], staging: 'none' },
    {
      name: 'chunked',
      type: 'standard',
      containers: [web],
      volumes: [vol, chunkedVol],
      volumeFormat: 'chunked',
    },
    {
      name: 'failing',
      type: 'standard',
      containers: [web],
      volumes: [vol],
      hooks: { preStop: [hook(web, 'exit 3')] },
    },
    { name: 'pg', type: 'postgresqldatabase', containers: [source], postgres: { databases: ['shop'] } },
    {
      name: 'pgchunked',
      type: 'postgresqldatabase',
      containers: [source],
      postgres: { databases: ['shop'], storage: 'chunked' },
    },
    { name: 'slow', type: 'standard', containers: [slowApp], volumes: [slowVol], staging: 'none' },
    {
      name: 'labelled',
      type: 'standard',
      labels: { [`${tag}.backup`]: 'yes' },
      volumes: [vol],
      staging: 'none',
    },
    {
      name: 'overdue',
      type: 'standard',
      containers: [overdueApp],
      volumes: [overdueVol],
      staging: 'none',
      timeoutMinutes: 1,
    },
  ];
  await env.writeConfig(definitions);
  await env.startWorker();
  const cli = (args: string[], expected = 0) =>
    runCli([...args, '--config', env.configPath]).then((r) => check(r, args.join(' '), expected));
  // Runs past its one-minute limit (2 MiB at 16 KiB/s) beside everything else; collected at the end.
  overdueProxy.throttle(16 * 1024);
  await env.writeConfig(definitions, {}, { endpoint: overdueProxy.url });
  const overdue = client.workflow.getHandle(
    /started (\S+)/.exec(await cli(['run', 'overdue', '--no-wait']))![1]!,
  );
  await env.writeConfig(definitions);
  const identity = ['--identity', env.identityPath];
  const record = async (name: string, description: string, run: () => Promise<WorkflowHandle>) =>
    save(name, description, await run());
  /** A run of one CLI command, recorded as the workflow it started (found by its id prefix). */
  const recordCli = (name: string, description: string, args: string[], prefix: string, expected = 0) =>
    record(name, description, async () => {
      await cli(args, expected);
      return latest(client, prefix);
    });

  await record(
    'standard-staged',
    'staged backup: hooks, stop, archive to staging, restart, upload, manifest, prune, notify, run deadline',
    async () => {
      await cli(['run', 'staged']);
      // The second run's prune deletes the first backup (keepLast 1).
      await cli(['run', 'staged']);
      return latest(client, 'backup-staged-');
    },
  );
  await record('definition-lock', 'the lock child of a backup, released by its parent', () =>
    Promise.resolve(client.workflow.getHandle(definitionLockId({ host: tag, definition: 'staged' }))),
  );
  await recordCli(
    'standard-streaming',
    'streaming backup (staging: none): containers stopped until the upload ends',
    ['run', 'streaming'],
    'backup-streaming-',
  );
  await recordCli(
    'standard-failed-hook',
    'a failing preStop hook: nothing stopped, clean-up, failure notified',
    ['run', 'failing'],
    'backup-failing-',
    1,
  );
  await recordCli(
    'postgres-backup',
    'PostgreSQL backup: globals and one pg_dump, manifest, prune, notify',
    ['run', 'pg'],
    'backup-pg-',
  );
  await record(
    'standard-chunked',
    'chunked volumes, second run: scan while stopped, archive only what changed, chunks after the restart',
    async () => {
      await cli(['run', 'chunked']);
      await fixtures.sh([chunkedVol], `echo two > /${chunkedVol}/d/g`);
      await cli(['run', 'chunked']);
      return latest(client, 'backup-chunked-');
    },
  );
  await recordCli(
    'verify-chunked',
    'verify --all of two backups of chunked volumes: each shared chunk read once',
    ['verify', 'chunked', '--all', ...identity],
    'verify-chunked-',
  );
  await recordCli(
    'verify',
    'verify of the latest staged backup',
    ['verify', 'staged', ...identity],
    'verify-staged-',
  );
  await recordCli(
    'restore-volumes',
    'in-place restore of volumes: stage, stop, swap, restart, settle',
    ['restore', 'staged', ...identity],
    'restore-staged-',
  );
  await recordCli(
    'restore-postgres',
    'PostgreSQL restore onto another server container: globals, database',
    ['restore', 'pg', '--to-container', target, ...identity],
    'restore-pg-',
  );
  await recordCli(
    'postgres-chunked-backup',
    'PostgreSQL backup with postgres.storage: chunked: globals and one dump through the chunk store',
    ['run', 'pgchunked'],
    'backup-pgchunked-',
  );
  await recordCli(
    'restore-postgres-chunked',
    'PostgreSQL restore of a chunked dump onto another server container: dumps and globals checked, globals, database',
    ['restore', 'pgchunked', '--to-container', chunkedTarget, ...identity],
    'restore-pgchunked-',
  );
  await record('prune', 'dockvault prune', async () => {
    await cli(['prune', 'staged']);
    return listed(client, 'prune-staged-');
  });

  // A run cancelled while its containers are stopped, and a second run refused by its lock meanwhile:
  // storage through a throttled proxy keeps the containers stopped long enough.
  proxy.throttle(256 * 1024);
  await env.writeConfig(definitions, {}, { endpoint: proxy.url });
  const started = /started (\S+)/.exec(await cli(['run', 'slow', '--no-wait']))![1]!;
  const running = client.workflow.getHandle(started);
  await waitFor(
    async () => !(await fixtures.isRunning(slowApp)),
    30_000,
    'the slow run to stop its container',
  );
  const startEvent = (await running.fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
  const plan = defaultPayloadConverter.fromPayload(startEvent.input!.payloads![0]!);
  const refused = await client.workflow.start('standardBackupWorkflow', {
    taskQueue: tag,
    workflowId: `backup-slow-refused-${tag}`,
    args: [plan],
  });
  await refused.result().then(
    () => {
      throw new Error('the second run of a busy definition completed');
    },
    () => undefined,
  );
  await save('standard-busy', 'a run refused by the lock of a running one (asks who holds it)', refused);
  await running.cancel();
  await running.result().then(
    () => {
      throw new Error('the cancelled run completed');
    },
    () => undefined,
  );
  await waitFor(() => fixtures.isRunning(slowApp), 30_000, 'the cancelled run to restart its container');
  await save('standard-cancelled', 'streaming backup cancelled while its containers are stopped', running);
  await save(
    'definition-lock-asked',
    'a lock asked who holds it by a refused run, then released',
    client.workflow.getHandle(definitionLockId({ host: tag, definition: 'slow' })),
  );
  await record(
    'definition-lock-by-hand',
    'a lock started by hand (no parent), released by a signal',
    async () => {
      const handle = await client.workflow.start('definitionLockWorkflow', {
        taskQueue: tag,
        workflowId: definitionLockId({ host: tag, definition: 'maintenance' }),
      });
      await handle.signal('release');
      await handle.result();
      return handle;
    },
  );
  await recordCli(
    'standard-labels',
    'a definition whose containers are chosen by labels, resolved on the host first',
    ['run', 'labelled'],
    'backup-labelled-',
  );
  await record(
    'standard-no-worker',
    'a backup for a host whose worker never answers: NoWorkerError after workerWait, alert, nothing stopped',
    async () => {
      // `dockvault run` refuses at once when no worker polls the host, so the run is started directly.
      const streaming = (await latest(client, 'backup-streaming-').then((h) => h.fetchHistory())).events![0]!;
      const plan = defaultPayloadConverter.fromPayload<Record<string, unknown>>(
        streaming.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
      );
      const absent = `${tag}-absent`;
      const handle = await client.workflow.start('standardBackupWorkflow', {
        taskQueue: tag,
        workflowId: `backup-no-worker-${tag}`,
        args: [{ ...plan, host: absent, activityTaskQueue: hostTaskQueue(absent), workerWaitMs: 3000 }],
      });
      await handle.result().then(
        () => {
          throw new Error('a backup without a host worker completed');
        },
        () => undefined,
      );
      return handle;
    },
  );
  await recordCli(
    'backup-run',
    'a run of two definitions in turn: one child workflow each, one summary',
    ['run', 'staged', 'streaming'],
    'run-2-definitions-',
  );
  await recordCli(
    'backup-run-with-failure',
    'a run whose first definition fails: the next one still runs',
    ['run', 'failing', 'pg'],
    'run-2-definitions-',
    1,
  );
  await record(
    'standard-timed-out',
    'a run past its timeoutMinutes: cancelled from inside, cleaned up, RunTimeoutError',
    async () => {
      await overdue.result().then(
        () => {
          throw new Error('the overdue run completed');
        },
        () => undefined,
      );
      await waitFor(() => fixtures.isRunning(overdueApp), 30_000, 'the overdue run to restart its container');
      return overdue;
    },
  );

  // With a limit of one, a PostgreSQL run waits for the slot a slow run holds, and takes it when told.
  await env.writeConfig(definitions, { hosts: { [tag]: { concurrency: 1 } } }, { endpoint: proxy.url });
  const holding = client.workflow.getHandle(
    /started (\S+)/.exec(await cli(['run', 'slow', '--no-wait']))![1]!,
  );
  await waitFor(async () => !(await fixtures.isRunning(slowApp)), 30_000, 'the slow run to hold the slot');
  const waiting = client.workflow.getHandle(/started (\S+)/.exec(await cli(['run', 'pg', '--no-wait']))![1]!);
  await waitFor(
    async () =>
      !!(await waiting.query<{ phase: string }>('progress').catch(() => undefined))?.phase.startsWith(
        'waiting for a host slot',
      ),
    30_000,
    'the PostgreSQL run to wait for the slot',
  );
  await holding.result();
  await waiting.result();
  await save('postgres-waited-for-slot', 'a PostgreSQL run that waited for the host slot', waiting);
  const slotRuns: { runId: string; startTime: Date }[] = [];
  await waitFor(
    async () => {
      slotRuns.length = 0;
      for await (const w of client.workflow.list({ query: `WorkflowId = "slot-1@${tag}"` })) slotRuns.push(w);
      return slotRuns.length >= 2;
    },
    10_000,
    'the slot runs to be listed',
  );
  const told = slotRuns.sort((a, b) => a.startTime.getTime() - b.startTime.getTime()).at(-2)!;
  await save(
    'host-slot-told',
    'a host slot a waiting run asked to be told about, then released',
    client.workflow.getHandle(`slot-1@${tag}`, told.runId),
  );
} finally {
  await pg.cleanup();
  await env.close();
  await proxy.close();
  await overdueProxy.close();
}
