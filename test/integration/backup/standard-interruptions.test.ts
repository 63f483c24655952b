// The always-restart promise under interruption: a cancelled workflow, a SIGKILLed worker and a
// terminated workflow all end with the containers running again. Streaming mode through a throttled
// proxy keeps the containers stopped long enough to interrupt them there.
import { after, afterEach, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { stack } from '../../helpers/stack-env.ts';
import { waitFor } from '../../helpers/wait.ts';

let env: BackupTestEnv;
let proxy: TcpProxy;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});
beforeEach(async () => {
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  proxy.throttle(512 * 1024);
});
afterEach(async () => {
  await env.worker?.stop('SIGKILL');
  await proxy.close();
});

/** Two running containers on a 16 MiB volume, a streaming definition through the proxy, a worker. */
async function setUp(name: string, definition: Record<string, unknown> = {}) {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-${name}`);
  await fixtures.sh([vol], `head -c 16777216 /dev/urandom > /${vol}/data`);
  const web = await fixtures.sleeper(`${tag}-${name}-web`, [vol]);
  const db = await fixtures.sleeper(`${tag}-${name}-db`, [vol]);
  await env.writeConfig(
    [{ name, type: 'standard', containers: [web, db], volumes: [vol], staging: 'none', ...definition }],
    {},
    {
      endpoint: proxy.url,
    },
  );
  await env.startWorker();
  const workflowId = await env.startRun(name);
  await waitFor(
    async () => !(await fixtures.isRunning(web)) && !(await fixtures.isRunning(db)),
    30_000,
    'both containers to be stopped',
  );
  const handle = (await env.client()).workflow.getHandle(workflowId);
  const bothRunning = async () => (await fixtures.isRunning(web)) && (await fixtures.isRunning(db));
  return { handle, bothRunning };
}

test('cancelling the workflow while containers are stopped restarts them and cleans up', async () => {
  const { handle, bothRunning } = await setUp('cancelled');
  await handle.cancel();
  await assert.rejects(handle.result(), /cancel/i);
  assert.equal(await bothRunning(), true);
  const left = await env.backups('cancelled');
  assert.deepEqual(left.manifests, []);
  assert.equal(left.uploads, 0, 'no unfinished multipart upload');
  assert.deepEqual(left.prefixes, [], 'no partial objects');
});

test('SIGKILL of the worker while containers are stopped: a new worker restarts them within a minute', async () => {
  const { handle, bothRunning } = await setUp('killed');
  await env.worker!.stop('SIGKILL');
  proxy.throttle(Infinity);
  const killedAt = Date.now();
  await env.startWorker();
  await waitFor(bothRunning, 60_000, 'the containers to run again after the worker was killed');
  assert.ok(Date.now() - killedAt < 60_000);
  // The run either completes (the retried attempt finished the job) or fails cleanly.
  const outcome = await handle.result().then(
    () => 'completed',
    () => 'failed',
  );
  const left = await env.backups('killed');
  assert.equal(left.manifests.length, outcome === 'completed' ? 1 : 0, `outcome ${outcome}`);
  assert.equal(await bothRunning(), true);
});

test('terminating the workflow while containers are stopped: the reconciler restarts them', async () => {
  const { handle, bothRunning } = await setUp('terminated');
  await handle.terminate('test: terminate while stopped');
  const terminatedAt = Date.now();
  await waitFor(bothRunning, 30_000, 'the reconciler to restart the containers');
  assert.ok(Date.now() - terminatedAt < 30_000);
  assert.match(env.worker!.output(), /reconciler: restarted .*terminated/);
  assert.deepEqual((await env.backups('terminated')).manifests, []);
});

test('timeoutMinutes: a run that takes longer is stopped, restarts the containers and says why', async () => {
  const { handle, bothRunning } = await setUp('overdue', { timeoutMinutes: 1 });
  // 16 MiB at 64 KiB/s takes four minutes: far past the one-minute limit.
  proxy.throttle(64 * 1024);
  await assert.rejects(handle.result(), (err: Error) => {
    assert.match(String(err.cause), /overdue: the run took longer than its timeoutMinutes \(1\)/);
    return true;
  });
  assert.equal(await bothRunning(), true);
  const left = await env.backups('overdue');
  assert.deepEqual(left.manifests, []);
  assert.equal(left.uploads, 0, 'no unfinished multipart upload');
  assert.deepEqual(left.prefixes, [], 'no partial objects');
});
