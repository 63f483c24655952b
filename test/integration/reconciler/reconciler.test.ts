// The reconciler against a real Temporal server and Docker engine: it restarts only what a closed run
// left stopped, never a container a live run has stopped since (a stale entry of a terminated run must
// not start a container in the middle of the next run's archive), and what one tick costs.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  Client,
  Connection,
  type ConnectionOptions,
  makeGrpcRetryInterceptor,
  defaultGrpcRetryOptions,
} from '@temporalio/client';
import Docker from 'dockerode';
import { laterOpenOwner, leftByClosedRun } from '../../../src/activities/adopt.ts';
import { closedRunsVia } from '../../../src/closed-runs.ts';
import { reconcileStoppedContainers } from '../../../src/reconciler.ts';
import { StoppedRecord, type StoppedEntry } from '../../../src/docker/stopped-record.ts';
import { DockerFixtures } from '../../helpers/docker-fixtures.ts';
import { uniqueTag } from '../../helpers/scratch.ts';
import { stack } from '../../helpers/stack-env.ts';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

const tag = uniqueTag('dvt-rec');
const fixtures = new DockerFixtures();
const docker = new Docker();
/** Every RPC the reconciler's client sends, by method path. */
const rpcs: string[] = [];
let connection: Connection;
let client: Client;
let dir: string;

// The call nextCall returns is the InterceptingCall gRPC expects; its class is not ours to import.
const countRpcs = ((options: { method_definition: { path: string } }, nextCall: (o: unknown) => unknown) => {
  rpcs.push(options.method_definition.path);
  return nextCall(options);
}) as unknown as Interceptor;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), `${tag}-`));
  connection = await Connection.connect({
    address: stack.temporalAddress,
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), countRpcs],
  });
  client = new Client({ connection });
});
after(async () => {
  await connection.close();
  await fixtures.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** A workflow that stays RUNNING until terminated: nothing polls its task queue. */
async function openRun(name: string) {
  return client.workflow.start('idleForTest', { taskQueue: `${tag}-nobody`, workflowId: `${tag}-${name}` });
}

function entry(
  container: string,
  run: { workflowId: string; firstExecutionRunId: string },
  stoppedAt = new Date(),
): StoppedEntry {
  return {
    container,
    containerId: container,
    workflowId: run.workflowId,
    runId: run.firstExecutionRunId,
    stoppedAt: stoppedAt.toISOString(),
  };
}

test('a stale entry of a terminated run never starts a container a live run has stopped since', async () => {
  const record = new StoppedRecord(join(dir, 'stale'));
  const app = await fixtures.sleeper(`${tag}-app`, []);
  const dead = await openRun('dead');
  const live = await openRun('live');
  await dead.terminate('test: the run that stopped the container first');
  // The dead run stopped the container, the live one found it stopped, adopted it and stopped it again.
  await record.add(entry(app, dead));
  await record.add(entry(app, live));
  await docker.getContainer(app).stop();

  await reconcileStoppedContainers({ docker, stopped: record, closedRuns: closedRunsVia(client) });
  assert.equal(await fixtures.isRunning(app), false, 'the live run owns the restart: still stopped');
  assert.deepEqual(
    (await record.list()).map((e) => e.workflowId),
    [live.workflowId],
    "the dead run's entry is dropped, the live run's kept",
  );

  await live.terminate('test: the second run dies too');
  await reconcileStoppedContainers({ docker, stopped: record, closedRuns: closedRunsVia(client) });
  assert.equal(await fixtures.isRunning(app), true, 'nobody left to restart it: the reconciler does');
  assert.deepEqual(await record.list(), []);
});

test('an empty record costs no RPC; otherwise one describe per distinct recorded run', async () => {
  const record = new StoppedRecord(join(dir, 'cost'));
  rpcs.length = 0;
  const emptyTicks: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await reconcileStoppedContainers({ docker, stopped: record, closedRuns: closedRunsVia(client) });
    emptyTicks.push(performance.now() - t);
  }
  assert.equal(rpcs.length, 0, `an empty record asks Temporal nothing: ${rpcs.join(', ')}`);

  // Ten containers stopped by two runs that are still running: two describes, nothing started.
  const a = await openRun('cost-a');
  const b = await openRun('cost-b');
  for (let i = 0; i < 10; i++) await record.add(entry(`${tag}-c${i}`, i % 2 ? a : b));
  rpcs.length = 0;
  const t = performance.now();
  const tick = await reconcileStoppedContainers({
    docker,
    stopped: record,
    closedRuns: closedRunsVia(client),
  });
  const busyTick = performance.now() - t;
  const describes = rpcs.filter((p) => p.endsWith('/DescribeWorkflowExecution'));
  assert.equal(describes.length, 2, rpcs.join(', '));
  assert.equal(rpcs.length, 2, rpcs.join(', '));
  assert.deepEqual(tick.restarted, []);
  assert.equal(tick.describes, 2);
  assert.equal((await record.list()).length, 10);
  const median = emptyTicks.sort((x, y) => x - y)[10]!;
  console.log(
    `reconciler tick: empty record ${median.toFixed(2)} ms (median of 20), 0 RPCs; ` +
      `10 entries of 2 open runs ${busyTick.toFixed(1)} ms, ${rpcs.length} RPCs`,
  );
  await a.terminate('test done');
  await b.terminate('test done');
});

test("adoption: a container only closed runs left stopped is the next run's; a later open stopper owns the restart", async () => {
  const record = new StoppedRecord(join(dir, 'adopt'));
  const closedRuns = closedRunsVia(client);
  const dead = await openRun('adopt-dead');
  const other = await openRun('adopt-other');
  const next = await openRun('adopt-next');
  await dead.terminate('test: left the container stopped');
  const self = { workflowId: next.workflowId, runId: next.firstExecutionRunId };

  await record.add(entry('c', dead, new Date(Date.now() - 10_000)));
  assert.deepEqual(
    (await leftByClosedRun(record, closedRuns, 'c', self)).map((e) => e.workflowId),
    [dead.workflowId],
  );
  // An open run stopped it too: that run restarts it, the next run must leave it alone.
  await record.add(entry('c', other, new Date(Date.now() - 5_000)));
  assert.deepEqual(await leftByClosedRun(record, closedRuns, 'c', self), []);
  await record.remove('c', other.workflowId);

  // The next run adopted and stopped it: a late start by the dead run's activity would disturb it.
  await record.add(entry('c', next));
  assert.equal(
    (await laterOpenOwner(record, closedRuns, 'c', { workflowId: dead.workflowId }))?.workflowId,
    next.workflowId,
  );
  assert.equal(await laterOpenOwner(record, closedRuns, 'c', { workflowId: next.workflowId }), undefined);
  await next.terminate('test: the owner died as well');
  assert.equal(await laterOpenOwner(record, closedRuns, 'c', { workflowId: dead.workflowId }), undefined);
  await other.terminate('test done');
});
