// Failures before and during a standard backup: nothing is stopped on bad input, and a failed run
// restarts the containers and leaves no manifest, no unfinished upload and no staged data behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StoppedRecord } from '../../../src/docker/stopped-record.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { stack } from '../../helpers/stack-env.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

async function startedAt(container: string): Promise<string> {
  return (await env.fixtures.docker.getContainer(container).inspect()).State.StartedAt;
}

test('a typo in a container or volume name fails the preflight; nothing is stopped', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-typo`);
  const app = await fixtures.sleeper(`${tag}-typo-app`, [vol]);
  const before = await startedAt(app);
  await env.writeConfig([
    { name: 'typo-container', type: 'standard', containers: [app, `${tag}-nope`], volumes: [vol] },
    { name: 'typo-volume', type: 'standard', containers: [app], volumes: [vol, `${tag}-missing-vol`] },
  ]);
  await env.startWorker();

  const badContainer = await runCli(['run', 'typo-container', '--config', env.configPath]);
  assert.equal(badContainer.code, 1);
  assert.match(badContainer.stdout, new RegExp(`container "${tag}-nope" does not exist`));
  assert.match(badContainer.stdout, /nothing was stopped/);

  const badVolume = await runCli(['run', 'typo-volume', '--config', env.configPath]);
  assert.equal(badVolume.code, 1);
  assert.match(badVolume.stdout, new RegExp(`volume "${tag}-missing-vol" does not exist`));

  assert.equal(await startedAt(app), before, 'the container was never stopped or restarted');
  assert.equal(await fixtures.isRunning(app), true);
  for (const def of ['typo-container', 'typo-volume']) {
    assert.deepEqual(await env.backups(def), { manifests: [], prefixes: [], uploads: 0 });
  }
  await env.worker!.stop();
});

test('an archive that fails for real (staging disk full) restarts the containers and leaves nothing', async () => {
  const { fixtures, tag } = env;
  // A 16 MiB tmpfs as staging: the preflight sees room for the 1 MiB volume, then a pre-stop hook
  // grows the volume to 40 MiB, so tar hits ENOSPC while the containers are stopped.
  const small = join(env.dir, 'small-staging');
  await mkdir(small);
  await exec('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', small]);
  try {
    const vol = await fixtures.volume(`${tag}-grow`);
    await fixtures.sh([vol], `head -c 1048576 /dev/urandom > /${vol}/seed`);
    const app = await fixtures.sleeper(`${tag}-grow-app`, [vol]);
    const db = await fixtures.sleeper(`${tag}-grow-db`, [vol]);
    await env.writeConfig(
      [
        {
          name: 'enospc',
          type: 'standard',
          containers: [app, db],
          volumes: [vol],
          staging: { dir: small, minFreeMiB: 0 },
          hooks: { preStop: [{ container: app, command: `head -c 41943040 /dev/urandom > /${vol}/grown` }] },
        },
      ],
      {},
    );
    await env.startWorker();
    const run = await runCli(['run', 'enospc', '--config', env.configPath]);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /FAILED enospc/);
    assert.match(run.stdout, /No space left on device/i);
    assert.equal(await fixtures.isRunning(app), true, 'app restarted');
    assert.equal(await fixtures.isRunning(db), true, 'db restarted');
    assert.deepEqual(await env.backups('enospc'), { manifests: [], prefixes: [], uploads: 0 });
    assert.deepEqual(await readdir(small), [], 'staging is empty');
    await env.worker!.stop();
  } finally {
    await exec('umount', [small]);
  }
});

test('a container started by someone else while its volumes are read fails the run; it keeps running', async () => {
  const { fixtures, tag } = env;
  const proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  try {
    const vol = await fixtures.volume(`${tag}-race`);
    await fixtures.sh([vol], `head -c 20971520 /dev/urandom > /${vol}/data`);
    const app = await fixtures.sleeper(`${tag}-race-app`, [vol], { restartPolicy: 'always' });
    // Streaming mode keeps the containers stopped for the whole (throttled) upload.
    await env.writeConfig(
      [{ name: 'race', type: 'standard', containers: [app], volumes: [vol], staging: 'none' }],
      {},
      { endpoint: proxy.url },
    );
    await env.startWorker();
    // Throttled from the start, so the upload cannot finish before the container is started under it.
    proxy.throttle(1024 * 1024);
    const workflowId = await env.startRun('race');
    await waitFor(async () => !(await fixtures.isRunning(app)), 30_000, 'the container to be stopped');
    await fixtures.docker.getContainer(app).start();
    proxy.throttle(Infinity);
    const client = await env.client();
    await assert.rejects(client.workflow.getHandle(workflowId).result(), (err: Error) => {
      const text = `${err.message} ${(err.cause as Error | undefined)?.message ?? ''} ${((err.cause as Error | undefined)?.cause as Error | undefined)?.message ?? ''}`;
      assert.match(text, /started again while their volumes were being archived/);
      return true;
    });
    assert.equal(await fixtures.isRunning(app), true);
    assert.deepEqual((await env.backups('race')).manifests, []);
    await env.worker!.stop();
  } finally {
    await proxy.close();
  }
});

test('a container that exits right after its restart is started again, and the run ends only once it stays up', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-flaky`);
  // Counts its starts in the volume and exits at once on the second: the restart after the backup.
  const app = await fixtures.sleeper(`${tag}-flaky-app`, [vol], {
    command: [
      'sh',
      '-c',
      `n=$(($(cat /${vol}/starts 2>/dev/null || echo 0) + 1)); echo $n > /${vol}/starts; ` +
        `[ $n -eq 2 ] && exit 3; exec sleep 100000`,
    ],
  });
  await waitFor(
    async () => existsSync(join(await fixtures.mountpoint(vol), 'starts')),
    10_000,
    'the first start',
  );
  await env.writeConfig([{ name: 'flaky', type: 'standard', containers: [app], volumes: [vol] }]);
  await env.startWorker();

  const run = await runCli(['run', 'flaky', '--config', env.configPath]);
  assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  assert.equal(await fixtures.isRunning(app), true);
  const starts = await readFile(join(await fixtures.mountpoint(vol), 'starts'), 'utf8');
  assert.equal(starts.trim(), '3', 'started once more after it exited right after the restart');
  assert.deepEqual(await new StoppedRecord(env.stateDir).list(), [], 'no container left for the reconciler');
  assert.equal((await env.backups('flaky')).manifests.length, 1);
  await env.worker!.stop();
});
