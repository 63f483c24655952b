// Hooks run one after another in one activity: its time bound follows from the hooks' own timeouts,
// and no hook runs twice because that activity timed out or was retried. Two pre-stop hooks of 40 s
// each take longer than stopTimeoutSeconds + 60 s.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { startBackup } from '../../../src/client.ts';
import { loadConfigFile } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { waitFor } from '../../helpers/wait.ts';

let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});
afterEach(async () => {
  await env.worker?.stop('SIGKILL');
});

test('two pre-stop hooks of 40 s each: the run succeeds and each hook ran exactly once', async () => {
  const { fixtures, tag } = env;
  const volume = await fixtures.volume(`${tag}-data`);
  const app = await fixtures.sleeper(`${tag}-app`, [volume]);
  const log = `/${volume}/hooks.log`;
  const hook = (n: number) => ({
    container: app,
    command: `echo start-${n} >> ${log}; sleep 40; echo end-${n} >> ${log}`,
    timeoutSeconds: 60,
  });
  const name = `${tag}-slow-hooks`;
  await env.writeConfig([
    { name, type: 'standard', containers: [app], volumes: [volume], hooks: { preStop: [hook(1), hook(2)] } },
  ]);
  const config = await loadConfigFile(env.configPath);
  await env.startWorker();
  const client = await env.client();
  const handle = await startBackup(
    client,
    config.temporal.taskQueue,
    buildPlan(config, config.backupDefinitions[0]!),
  );

  // What the hooks wrote, in order (the raw container log carries stream headers around the text).
  const lines = async () =>
    Array.from(
      (await fixtures.sh([volume], `touch ${log}; cat ${log}`)).matchAll(/(start|end)-\d/g),
      (m) => m[0],
    );
  // Fails as soon as a hook starts a second time, rather than after every retry has timed out.
  let done = false;
  const watch = (async () => {
    while (!done) {
      const seen = await lines();
      const starts = seen.filter((l) => l.startsWith('start-'));
      if (new Set(starts).size !== starts.length) throw new Error(`a hook ran twice: ${seen.join(', ')}`);
      await new Promise((r) => setTimeout(r, 3000));
    }
  })();
  try {
    await Promise.race([handle.result(), watch]);
  } finally {
    done = true;
  }
  await watch;
  assert.deepEqual(await lines(), ['start-1', 'end-1', 'start-2', 'end-2']);
  assert.equal(await fixtures.isRunning(app), true);
  assert.equal((await env.backups(name)).manifests.length, 1);
});

test('a worker killed during the second hook: the retried attempt resumes there, the first hook ran once', async () => {
  const { fixtures, tag } = env;
  const volume = await fixtures.volume(`${tag}-killed`);
  const app = await fixtures.sleeper(`${tag}-killed-app`, [volume]);
  const log = `/${volume}/hooks.log`;
  const hook = (n: number, seconds: number) => ({
    container: app,
    command: `echo start-${n} >> ${log}; sleep ${seconds}; echo end-${n} >> ${log}`,
    timeoutSeconds: 60,
  });
  const name = `${tag}-killed-hooks`;
  await env.writeConfig([
    {
      name,
      type: 'standard',
      containers: [app],
      volumes: [volume],
      hooks: { preStop: [hook(1, 2), hook(2, 8)] },
    },
  ]);
  const config = await loadConfigFile(env.configPath);
  await env.startWorker();
  const client = await env.client();
  const handle = await startBackup(
    client,
    config.temporal.taskQueue,
    buildPlan(config, config.backupDefinitions[0]!),
  );
  const lines = async () =>
    Array.from(
      (await fixtures.sh([volume], `touch ${log}; cat ${log}`)).matchAll(/(start|end)-\d/g),
      (m) => m[0],
    );
  await waitFor(async () => (await lines()).includes('start-2'), 60_000, 'the second hook to start');
  // The checkpoint after the first hook reaches Temporal with the next heartbeat (at most 2 s).
  await new Promise((r) => setTimeout(r, 3000));
  await env.worker!.stop('SIGKILL');
  await env.startWorker();
  await handle.result();
  const seen = await lines();
  assert.deepEqual(
    seen.filter((l) => l.endsWith('-1')),
    ['start-1', 'end-1'],
    `the first hook ran once: ${seen.join(', ')}`,
  );
  // The interrupted hook ran again (nobody knew whether it had finished); nothing ran a third time.
  assert.equal(seen.filter((l) => l === 'start-2').length, 2, seen.join(', '));
  assert.equal(await fixtures.isRunning(app), true);
});
