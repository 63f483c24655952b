// A worker SIGKILLed in the middle of a restore: the containers run again afterwards, and the volume
// holds either its old contents or the complete backup, never a mix.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { describeTree, type TreeEntry } from '../../helpers/tree.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { damage, demandingTree, runBackup } from './helpers.ts';

let env: BackupTestEnv;
let vol: string;
let fast: string;
let slow: string;
let backedUp: Map<string, TreeEntry>;

before(async () => {
  env = await BackupTestEnv.create();
  const { fixtures, tag } = env;
  vol = await fixtures.volume(`${tag}-vol`);
  await fixtures.sh([vol], demandingTree(vol, 160));
  // Ignores SIGTERM, so `docker stop` takes the full grace period (5 s): a window with one container
  // stopped and the workflow busy stopping the other.
  slow = `${tag}-slow`;
  await fixtures.docker.createContainer({
    name: slow,
    Image: stack.busyboxImage,
    Cmd: ['sh', '-c', 'trap "" TERM; sleep 100000 & wait'],
    HostConfig: { Binds: [`${vol}:/${vol}`] },
  });
  await fixtures.docker.getContainer(slow).start();
  fast = await fixtures.sleeper(`${tag}-fast`, [vol]);
  await env.writeConfig([{ name: 'app', type: 'standard', containers: [fast], volumes: [vol] }]);
  await env.startWorker();
  await runBackup(env, 'app');
  backedUp = await describeTree(await env.fixtures.mountpoint(vol));
});
after(async () => {
  await env.fixtures.docker
    .getContainer(slow)
    .remove({ force: true })
    .catch(() => {});
  await env.close();
});

async function startRestore(): Promise<string> {
  const started = await runCli([
    'restore',
    'app',
    '--no-wait',
    '--identity',
    env.identityPath,
    '--config',
    env.configPath,
  ]);
  const id = /started (\S+)/.exec(started.stdout)?.[1];
  assert.ok(started.code === 0 && id, `${started.stdout}${started.stderr}`);
  return id;
}

async function leftovers(): Promise<string[]> {
  const mp = await env.fixtures.mountpoint(vol);
  return (await readdir(dirname(mp))).filter((n) => n.startsWith('.dockvault-'));
}

async function bothRunning(): Promise<boolean> {
  return (await env.fixtures.isRunning(fast)) && (await env.fixtures.isRunning(slow));
}

/** After the run: containers up, no leftovers, and the volume is the old tree or the backup's. */
async function checkAfter(workflowId: string, old: Map<string, TreeEntry>) {
  const handle = (await env.client()).workflow.getHandle(workflowId);
  const outcome = await handle.result().then(
    () => 'completed',
    (err: Error) => `failed: ${err.message}`,
  );
  await waitFor(bothRunning, 60_000, 'both containers to run again');
  const now = await describeTree(await env.fixtures.mountpoint(vol));
  if (outcome === 'completed') assert.deepEqual(now, backedUp, 'a completed restore left the backup state');
  else {
    const isOld = JSON.stringify([...now]) === JSON.stringify([...old]);
    const isNew = JSON.stringify([...now]) === JSON.stringify([...backedUp]);
    assert.ok(isOld || isNew, `after "${outcome}" the volume is neither the old nor the new state`);
  }
  assert.deepEqual(await leftovers(), [], 'no staging or old trees are left');
  return outcome;
}

test(
  'SIGKILL while extracting to staging: the retried activity finishes the restore',
  { timeout: 240_000 },
  async () => {
    await env.fixtures.sh([vol], damage(vol));
    const old = await describeTree(await env.fixtures.mountpoint(vol));
    const workflowId = await startRestore();
    await waitFor(
      async () => (await leftovers()).some((n) => n.startsWith('.dockvault-restore-')),
      60_000,
      'staging to begin',
    );
    await env.worker!.stop('SIGKILL');
    assert.equal(await bothRunning(), true, 'nothing was stopped while staging');
    await env.startWorker();
    const outcome = await checkAfter(workflowId, old);
    assert.equal(outcome, 'completed');
  },
);

test(
  'SIGKILL while containers are stopped: the containers run again, the volume is old or new',
  { timeout: 300_000 },
  async () => {
    await env.fixtures.sh([vol], damage(vol));
    const old = await describeTree(await env.fixtures.mountpoint(vol));
    const workflowId = await startRestore();
    await waitFor(
      async () => (await env.fixtures.isRunning(fast)) !== (await env.fixtures.isRunning(slow)),
      120_000,
      'one container stopped while the other is stopping',
    );
    await env.worker!.stop('SIGKILL');
    await env.startWorker();
    const outcome = await checkAfter(workflowId, old);
    console.log(`# restore after SIGKILL while stopped: ${outcome}`);
  },
);
