// Two Docker hosts, one Temporal server: the main engine is host a, a second dockerd on this machine
// (its own socket, data root and bridge) is host b, each with its own `dockvault worker --host`.
// One backup run covers the definitions of both; every Docker and data activity runs on its own host's
// worker, and a restore on each host gives back the same tree. With host b's worker killed while its
// containers are stopped, host a's definitions finish; b's wait, and once b's worker is back its
// containers run again and its backups complete.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { BackupRunResult } from '../../../src/plan/types.ts';
import { workflowActivities, type ActivityRun } from '../../helpers/activity-history.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { DockerFixtures } from '../../helpers/docker-fixtures.ts';
import { secondDockerEngine, type DockerEngine } from '../../helpers/second-docker-engine.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { describeTree } from '../../helpers/tree.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli, startWorker, type WorkerProcess } from '../../helpers/worker-process.ts';
import { damage, demandingTree, restoreCli } from '../restore/helpers.ts';

const rand = randomBytes(3).toString('hex');
const hostA = `mh-a-${rand}`;
const hostB = `mh-b-${rand}`;
const name = (what: string) => `mh-${rand}-${what}`;

let env: BackupTestEnv;
let client: Client;
let engineB: DockerEngine;
let onA: DockerFixtures;
let onB: DockerFixtures;
const workers: Record<'a' | 'b', WorkerProcess | undefined> = { a: undefined, b: undefined };
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  engineB = await secondDockerEngine();
  onA = env.fixtures;
  onB = new DockerFixtures(engineB.docker);
});
after(async () => {
  for (const w of Object.values(workers)) await w?.stop('SIGKILL');
  for (const c of cleanups) await c().catch(() => {});
  await onB.cleanup();
  await env.close();
});

function startHostWorker(host: 'a' | 'b'): Promise<WorkerProcess> {
  return startWorker(
    env.configPath,
    join(env.dir, `state-${host}`),
    ['--host', host === 'a' ? hostA : hostB],
    undefined,
    host === 'b' ? { DOCKER_HOST: engineB.dockerHost } : {},
  );
}

/** A volume with `script` run in it and a running container using it, on one engine. */
async function volumeWithApp(fixtures: DockerFixtures, what: string, script: string) {
  const volume = await fixtures.volume(name(what));
  await fixtures.sh([volume], script);
  const app = await fixtures.sleeper(name(`${what}-app`), [volume]);
  return { volume, app };
}

const identityOf = (w: WorkerProcess) => `${w.child.pid}@${hostname()}`;

/** Every activity of a definition's workflow ran on its host's queue, by one of the given workers. */
function assertRanOnHost(runs: ActivityRun[], host: string, identities: string[], definition: string) {
  assert.ok(runs.length >= 5, `${definition}: its activities are in the history (${runs.length})`);
  for (const run of runs) {
    assert.equal(run.taskQueue, `dockvault.${host}`, `${definition}: ${run.type} ran on its host's queue`);
    assert.ok(
      identities.includes(run.identity),
      `${definition}: ${run.type} ran on ${run.identity}, not on host ${host}'s worker (${identities.join(', ')})`,
    );
  }
}

test('one run over two hosts: every Docker and data activity on its own host, restores on both give the same trees', async () => {
  const a1 = await volumeWithApp(onA, 'a1', demandingTree(name('a1'), 1));
  const a2 = await volumeWithApp(onA, 'a2', `echo a2 > /${name('a2')}/f`);
  const b1 = await volumeWithApp(onB, 'b1', demandingTree(name('b1'), 1));
  const b2 = await volumeWithApp(onB, 'b2', `echo b2 > /${name('b2')}/f`);
  // Each engine holds only its own host's volumes: nothing of host b exists on the main engine.
  await assert.rejects(onA.docker.getVolume(b1.volume).inspect(), /no such volume/i);
  assert.ok((await onB.mountpoint(b1.volume)).includes('/.stack/docker-b/'));
  const def = (what: string, host: string, app: { volume: string; app: string }) => ({
    name: name(what),
    type: 'standard',
    host,
    containers: [app.app],
    volumes: [app.volume],
  });
  await env.writeConfig(
    [def('a1', hostA, a1), def('b1', hostB, b1), def('a2', hostA, a2), def('b2', hostB, b2)],
    { host: hostA, parallel: true },
  );
  workers.a = await startHostWorker('a');
  workers.b = await startHostWorker('b');
  const expected = {
    a1: await describeTree(await onA.mountpoint(a1.volume)),
    b1: await describeTree(await onB.mountpoint(b1.volume)),
  };

  const r = await runCli(['run', '--all', '--config', env.configPath]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\nworker b:\n${workers.b.output()}`);
  assert.match(r.stdout, /backup run of all definitions: 4 ok/);
  const runId = /started (run-all-\S+)/.exec(r.stdout)![1]!;
  const result = (await client.workflow.getHandle(runId).result()) as BackupRunResult;
  assert.equal(result.ok, 4, JSON.stringify(result.outcomes));

  const identities = { [hostA]: [identityOf(workers.a)], [hostB]: [identityOf(workers.b)] };
  for (const outcome of result.outcomes) {
    const { runs } = await workflowActivities(client, outcome.workflowId);
    assertRanOnHost(runs, outcome.host, identities[outcome.host]!, outcome.definition);
    const types = new Set(runs.map((x) => x.type));
    for (const t of ['stopContainer', 'archiveVolumeToStaging', 'startContainers', 'uploadStagedVolume']) {
      assert.ok(types.has(t), `${outcome.definition}: ${t} is among its activities`);
    }
    const manifest = (await env.store.getJson(
      `${outcome.definition}/${outcome.result!.backupId}/manifest.json`,
    )) as { host: string };
    assert.equal(manifest.host, outcome.host);
  }
  for (const { app } of [a1, a2]) assert.equal(await onA.isRunning(app), true);
  for (const { app } of [b1, b2]) assert.equal(await onB.isRunning(app), true);

  // A restore on each host: its worker swaps the tree in on its own engine's data root.
  await onA.sh([a1.volume], damage(a1.volume));
  await onB.sh([b1.volume], damage(b1.volume));
  for (const [what, fixtures, volume] of [
    ['a1', onA, a1.volume],
    ['b1', onB, b1.volume],
  ] as const) {
    const restore = await restoreCli(env, [name(what)]);
    assert.equal(restore.code, 0, `restore ${what}:\n${restore.stdout}\n${restore.stderr}`);
    assert.deepEqual(await describeTree(await fixtures.mountpoint(volume)), expected[what], what);
  }
  assert.equal(await onA.isRunning(a1.app), true);
  assert.equal(await onB.isRunning(b1.app), true);
});

test("host b's worker killed while its containers are stopped: host a finishes, b waits, then runs again and completes", async () => {
  // Streaming through a throttled proxy keeps the containers stopped for the whole upload.
  const proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  proxy.throttle(512 * 1024);
  cleanups.push(() => proxy.close());
  const random = (what: string, mib: number) => `head -c ${mib * 1048576} /dev/urandom > /${name(what)}/data`;
  // Larger than b-slow: a-slow is still uploading when host b's worker dies.
  const aSlow = await volumeWithApp(onA, 'a-slow', random('a-slow', 16));
  const aNext = await volumeWithApp(onA, 'a-next', `echo next > /${name('a-next')}/f`);
  const bSlow = await volumeWithApp(onB, 'b-slow', random('b-slow', 8));
  const bSmall = await volumeWithApp(onB, 'b-small', `echo small > /${name('b-small')}/f`);
  const def = (what: string, host: string, app: { volume: string; app: string }, extra = {}) => ({
    name: name(what),
    type: 'standard',
    host,
    containers: [app.app],
    volumes: [app.volume],
    ...extra,
  });
  await env.writeConfig(
    [
      def('a-slow', hostA, aSlow, { staging: 'none' }),
      // Starts only once a-slow has ended, i.e. while host b's worker is away.
      def('a-next', hostA, aNext, { after: [name('a-slow')] }),
      def('b-slow', hostB, bSlow, { staging: 'none' }),
      def('b-small', hostB, bSmall),
    ],
    { host: hostA, parallel: true, workerWait: '5m' },
    { endpoint: proxy.url },
  );
  for (const w of Object.values(workers)) await w?.stop('SIGKILL');
  workers.a = await startHostWorker('a');
  workers.b = await startHostWorker('b');
  const firstB = identityOf(workers.b);

  const started = await runCli(['run', '--all', '--no-wait', '--config', env.configPath]);
  const runId = /started (run-all-\S+)/.exec(started.stdout)?.[1];
  assert.ok(runId, started.stdout + started.stderr);
  await waitFor(
    async () => !(await onA.isRunning(aSlow.app)) && !(await onB.isRunning(bSlow.app)),
    60_000,
    'both slow definitions to have their containers stopped',
  );
  const handle = client.workflow.getHandle(runId);
  const state = await handle.query<{ definition: string; workflowId: string }[]>('runState');
  const ids = new Map(state.map((e) => [e.definition, e.workflowId]));
  const streaming = async (what: string) => {
    const d = await client.workflow.getHandle(ids.get(name(what))!).describe();
    return (d.raw.pendingActivities ?? []).some(
      (a) => a.activityType?.name === 'streamVolumeToStorage' && a.lastHeartbeatTime,
    );
  };
  // Killed while the stream of b-slow beats on host b's worker, not before it was handed out.
  await waitFor(() => streaming('b-slow'), 60_000, "b-slow's stream to run on host b's worker");
  await workers.b.stop('SIGKILL');
  workers.b = undefined;
  const killedAt = Date.now();

  const status = (what: string) =>
    client.workflow
      .getHandle(ids.get(name(what))!)
      .describe()
      .then(
        (d) => d.status.name,
        // A child the run has not started yet (a-next waits for a-slow).
        (err: Error) => (err.name === 'WorkflowNotFoundError' ? 'NOT STARTED' : Promise.reject(err)),
      );
  await waitFor(
    async () => (await status('a-slow')) === 'COMPLETED' && (await status('a-next')) === 'COMPLETED',
    180_000,
    "host a's definitions to complete while host b has no worker",
  );
  const aNextStart = (await client.workflow.getHandle(ids.get(name('a-next'))!).describe()).startTime;
  assert.ok(aNextStart.getTime() > killedAt, "a-next started after host b's worker was killed");
  assert.equal(await status('b-slow'), 'RUNNING', "b-slow waits for its host's worker");
  assert.equal(await onB.isRunning(bSlow.app), false, 'no worker of host b could have restarted it');
  assert.equal(await onA.isRunning(aSlow.app), true);
  assert.equal(await onA.isRunning(aNext.app), true);

  proxy.throttle(Infinity);
  workers.b = await startHostWorker('b');
  const backAt = Date.now();
  await waitFor(() => onB.isRunning(bSlow.app), 90_000, "b-slow's container to run again");
  const runningAt = Date.now();
  const result = (await handle.result()) as BackupRunResult;
  // The retried attempt on the returning worker finishes the job: b's backups complete, not fail.
  assert.deepEqual(
    result.outcomes.map((o) => [o.definition, o.status]).sort(),
    ['a-next', 'a-slow', 'b-slow', 'b-small'].map((w) => [name(w), 'ok']).sort(),
    JSON.stringify(result.outcomes),
  );
  assert.equal(await onB.isRunning(bSmall.app), true);
  for (const what of ['a-slow', 'b-slow']) {
    assert.equal((await env.backups(name(what))).manifests.length, 1, `${what} has its backup`);
  }
  const { runs } = await workflowActivities(client, ids.get(name('b-slow'))!);
  assertRanOnHost(runs, hostB, [firstB, identityOf(workers.b)], 'b-slow');
  const stream = runs.find((x) => x.type === 'streamVolumeToStorage')!;
  assert.equal(stream.identity, identityOf(workers.b), 'the returning worker finished the stream');
  assert.equal(stream.attempt, 2, 'after the killed attempt timed out');
  const downtime = result.outcomes.find((o) => o.definition === name('b-slow'))!.result!.downtimeMs;
  console.log(
    `# worker b away ${((backAt - killedAt) / 1000).toFixed(1)} s; b-slow running again ${((runningAt - backAt) / 1000).toFixed(1)} s after it was back; b-slow downtime ${(downtime / 1000).toFixed(1)} s`,
  );
});
