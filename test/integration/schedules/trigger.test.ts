// A schedule created by sync, triggered with the `temporal` CLI, runs a real backup on a real worker;
// pause and unpause made with the CLI show in `dockvault schedules list` and survive a sync.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { waitForScheduledRun } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;
let client: Client;
let scheduleId = '';

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
});
after(async () => {
  if (scheduleId)
    await client.schedule
      .getHandle(scheduleId)
      .delete()
      .catch(() => {});
  await env.close();
});

async function cli(...args: string[]) {
  const r = await runCli([...args, '--config', env.configPath]);
  assert.equal(r.code, 0, `${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const temporal = (...args: string[]) =>
  exec('temporal', ['schedule', ...args, '--address', process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233']);

test('temporal schedule trigger runs a real backup; pause and unpause show in schedules list', async () => {
  const { fixtures, tag } = env;
  const volume = await fixtures.volume(`${tag}-data`);
  await fixtures.sh([volume], `echo scheduled > /${volume}/file.txt`);
  const app = await fixtures.sleeper(`${tag}-app`, [volume]);
  const name = `${tag}-nightly`;
  scheduleId = `dockvault-${name}`;
  await env.writeConfig([
    { name, type: 'standard', containers: [app], volumes: [volume], schedule: { cron: '0 0 1 1 *' } },
  ]);
  await env.startWorker();
  assert.match(await cli('schedules', 'sync'), new RegExp(`created\\s+${scheduleId}`));

  await temporal('trigger', '--schedule-id', scheduleId);
  const workflowId = await waitForScheduledRun(client, scheduleId);
  assert.ok(workflowId.startsWith(`backup-${name}-`), `scheduled run id ${workflowId}`);
  const result = (await client.workflow.getHandle(workflowId).result()) as {
    backupId: string;
    objects: number;
  };
  assert.equal(result.objects, 1);
  const { manifests } = await env.backups(name);
  assert.equal(manifests.length, 1, 'the manifest of the scheduled backup is in S3');
  assert.ok(manifests[0]!.includes(result.backupId));
  assert.equal(await fixtures.isRunning(app), true, 'the container runs again');

  const listed = await cli('schedules', 'list');
  assert.match(listed, new RegExp(`${scheduleId} `));
  assert.match(listed, /paused: +no/);
  assert.match(listed, new RegExp(`last run: ${workflowId} scheduled \\S+: COMPLETED`));
  assert.match(listed, /next: +\d{4}-01-01T00:00:00Z, \d{4}-01-01T00:00:00Z, \d{4}-01-01T00:00:00Z/);

  await temporal('toggle', '--schedule-id', scheduleId, '--pause', '--reason', 'maintenance window');
  assert.match(await cli('schedules', 'list'), /paused: +yes \(maintenance window\)/);
  assert.match(await cli('schedules', 'sync'), new RegExp(`unchanged\\s+${scheduleId}`));
  assert.match(await cli('schedules', 'list'), /paused: +yes/, 'a manual pause survives a sync');

  await temporal('toggle', '--schedule-id', scheduleId, '--unpause', '--reason', 'done');
  assert.match(await cli('schedules', 'list'), /paused: +no/);
});
