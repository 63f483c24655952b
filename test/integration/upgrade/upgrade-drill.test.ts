// The upgrade of a Docker host while a backup runs: the previous release's worker starts the backup
// and is killed while the containers are stopped (the old process is gone, as after replacing the
// binary or the image); the current worker takes the run over from its history.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { checkoutRelease, type ReleaseCheckout } from '../../helpers/release-checkout.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { runOutcome, waitFor } from '../../helpers/wait.ts';
import { startWorker } from '../../helpers/worker-process.ts';

// The last release before workflow versioning: the one test/replay/histories/ was recorded on.
const PREVIOUS_RELEASE = 'ac35665c4cd03e8ecfa9caa17f416ea0f676021b';

let env: BackupTestEnv;
let proxy: TcpProxy;
let release: ReleaseCheckout;

before(async () => {
  env = await BackupTestEnv.create();
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  release = await checkoutRelease(PREVIOUS_RELEASE);
});
after(async () => {
  await env.close();
  await proxy.close();
  await release.remove();
});

test('a backup started by the previous release, whose worker is killed while containers are stopped, is finished by the current worker', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-drill`);
  await fixtures.sh([vol], `head -c 16777216 /dev/urandom > /${vol}/data`);
  const web = await fixtures.sleeper(`${tag}-drill-web`, [vol]);
  const db = await fixtures.sleeper(`${tag}-drill-db`, [vol]);
  // Streaming through a throttled proxy: the containers stay stopped while the data moves.
  proxy.throttle(512 * 1024);
  await env.writeConfig(
    [{ name: 'drill', type: 'standard', containers: [web, db], volumes: [vol], staging: 'none' }],
    {},
    { endpoint: proxy.url },
  );
  env.worker = await startWorker(env.configPath, env.stateDir, [], release.bin);
  // Started with the previous release's CLI too: its plan is what the run's history holds.
  const { stdout } = await promisify(execFile)(process.execPath, [
    release.bin,
    'run',
    'drill',
    '--no-wait',
    '--config',
    env.configPath,
  ]);
  const workflowId = /started (\S+)/.exec(stdout)![1]!;
  const bothRunning = async () => (await fixtures.isRunning(web)) && (await fixtures.isRunning(db));
  await waitFor(
    async () => !(await fixtures.isRunning(web)) && !(await fixtures.isRunning(db)),
    30_000,
    'the previous release to stop both containers',
  );

  await env.worker.stop('SIGKILL');
  proxy.throttle(Infinity);
  const upgradedAt = Date.now();
  await env.startWorker();
  await waitFor(bothRunning, 60_000, 'the current worker to run the containers again');
  const handle = (await env.client()).workflow.getHandle(workflowId);
  const outcome = await runOutcome(handle, 90_000);
  console.log(
    `upgrade drill: ${outcome} in ${Date.now() - upgradedAt} ms after the upgrade (${release.install})`,
  );
  assert.ok(outcome === 'completed' || outcome.startsWith('failed'), outcome);
  assert.equal(await bothRunning(), true);
  const left = await env.backups('drill');
  if (outcome === 'completed') {
    assert.equal(left.manifests.length, 1);
  } else {
    assert.deepEqual(left.manifests, [], 'a failed run leaves no manifest');
    assert.deepEqual(left.prefixes, [], 'a failed run leaves no objects');
  }
  assert.equal(left.uploads, 0, 'no unfinished multipart upload');

  // The current worker replayed the old worker's history: it completed workflow tasks, none failed
  // (a nondeterminism error fails every workflow task of the run).
  const events = (await handle.fetchHistory()).events ?? [];
  const failedTasks = events.filter((e) => e.workflowTaskFailedEventAttributes);
  assert.deepEqual(
    failedTasks.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
    [],
    'failed workflow tasks',
  );
  const identities = new Set(
    events.flatMap((e) => e.workflowTaskCompletedEventAttributes?.identity ?? []).filter(Boolean),
  );
  assert.ok(identities.size >= 2, `workflow tasks completed by ${[...identities].join(', ')}`);
});
