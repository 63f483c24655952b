// Backups of different definitions started at the same moment on one host, by `run --all` and by five
// schedules triggered together (definitions scheduled at the same cron time): every run gets its own
// backup id and its own staging, all succeed, and each restore gives that definition's own data.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { waitForScheduledRun } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { restoreCli } from '../restore/helpers.ts';

const COUNT = 5;
let env: BackupTestEnv;
let client: Client;
const definitions: { name: string; volume: string; app: string }[] = [];
const scheduleIds: string[] = [];

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
  const { fixtures, tag } = env;
  for (let i = 0; i < COUNT; i++) {
    const volume = await fixtures.volume(`${tag}-v${i}`);
    // Different content and sizes per definition, so a mixed-up archive cannot pass for another's.
    await fixtures.sh(
      [volume],
      `cd /${volume}; echo "definition ${i}" > owner.txt; head -c $((${i + 1} * 300000)) /dev/urandom > blob.bin`,
    );
    const app = await fixtures.sleeper(`${tag}-app${i}`, [volume]);
    definitions.push({ name: `${tag}-d${i}`, volume, app });
  }
  await env.writeConfig(
    definitions.map((d) => ({
      name: d.name,
      type: 'standard',
      containers: [d.app],
      volumes: [d.volume],
      schedule: { cron: '0 3 1 1 *' },
    })),
    // A run starts its definitions one after the other unless told otherwise: here all at once.
    { parallel: true },
  );
  await env.startWorker();
});
after(async () => {
  for (const id of scheduleIds)
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => {});
  await env.close();
});

async function expectOwnData(backupIds: Map<string, string>) {
  const { fixtures, tag } = env;
  for (const [i, d] of definitions.entries()) {
    const copy = `${tag}-r${i}-${backupIds.size}-${Date.now() % 100000}`;
    await fixtures.volume(copy);
    await fixtures.docker.getVolume(copy).remove();
    const r = await restoreCli(env, [
      d.name,
      '--backup',
      backupIds.get(d.name)!,
      '--to-volume',
      `${d.volume}=${copy}`,
    ]);
    assert.equal(r.code, 0, `restore of ${d.name} failed:\n${r.stdout}\n${r.stderr}`);
    assert.deepEqual(
      await describeTree(await fixtures.mountpoint(copy)),
      await describeTree(await fixtures.mountpoint(d.volume)),
      `the restore of ${d.name} gives its own volume's tree`,
    );
  }
}

async function expectAllRunning() {
  for (const d of definitions) assert.equal(await env.fixtures.isRunning(d.app), true, `${d.app} runs again`);
}

test('run --all with parallel: true: five definitions at once each get their own backup id and staging, all succeed', async () => {
  const r = await runCli(['run', '--all', '--config', env.configPath]);
  assert.equal(r.code, 0, `run --all failed:\n${r.stdout}\n${r.stderr}\n${env.worker!.output()}`);
  const ids = new Map<string, string>();
  for (const d of definitions) {
    const { manifests } = await env.backups(d.name);
    assert.equal(manifests.length, 1, `${d.name} has one backup`);
    ids.set(d.name, manifests[0]!.split('/')[1]!);
  }
  assert.equal(new Set(ids.values()).size, COUNT, `backup ids are unique: ${[...ids.values()].join(', ')}`);
  await expectAllRunning();
  await expectOwnData(ids);
});

test('five schedules triggered at the same moment: all succeed with their own data', async () => {
  const r = await runCli(['schedules', 'sync', '--config', env.configPath]);
  assert.equal(r.code, 0, `schedules sync failed:\n${r.stdout}\n${r.stderr}`);
  for (const d of definitions) scheduleIds.push(`dockvault-${d.name}`);
  await Promise.all(scheduleIds.map((id) => client.schedule.getHandle(id).trigger()));
  const workflowIds = await Promise.all(scheduleIds.map((id) => waitForScheduledRun(client, id)));
  const results = await Promise.allSettled(
    workflowIds.map((id) => client.workflow.getHandle(id).result() as Promise<{ backupId: string }>),
  );
  const failures = results.flatMap((res, i) =>
    res.status === 'rejected'
      ? [`${definitions[i]!.name}: ${String((res.reason as Error).cause ?? res.reason)}`]
      : [],
  );
  assert.deepEqual(failures, [], `every scheduled run succeeds\n${env.worker!.output()}`);
  const ids = new Map(
    results.map((res, i) => [
      definitions[i]!.name,
      (res as PromiseFulfilledResult<{ backupId: string }>).value.backupId,
    ]),
  );
  assert.equal(new Set(ids.values()).size, COUNT, `backup ids are unique: ${[...ids.values()].join(', ')}`);
  await expectAllRunning();
  await expectOwnData(ids);
});
