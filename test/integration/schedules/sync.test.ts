// `dockvault schedules sync` against the real Temporal dev server: create, idempotent re-sync, update of
// only what changed, delete of what the YAML dropped, --dry-run, and schedules it does not own left alone.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { definitionKey } from '../../../src/search-attributes.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let client: Client;
const created: string[] = [];

before(async () => {
  env = await BackupTestEnv.create();
  client = await env.client();
});
after(async () => {
  for (const id of created)
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => {});
  await env.close();
});

// Times far from now: nothing fires while the test runs (there is no worker).
const yearly = (minute: number) => ({ cron: `${minute} 0 1 1 *` });

function def(name: string, schedule?: object) {
  return { name, type: 'standard', containers: [`${name}-c`], volumes: [`${name}-v`], schedule };
}

async function sync(...flags: string[]) {
  const r = await runCli(['schedules', 'sync', '--config', env.configPath, ...flags]);
  assert.equal(r.code, 0, `sync failed:\n${r.stdout}\n${r.stderr}`);
  const actions = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+)\s+(\S+)/.exec(line);
    if (m && m[2]!.startsWith('dockvault-')) actions.set(m[2]!, m[1]!);
  }
  return { actions, stdout: r.stdout };
}

async function exists(id: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

test('sync creates, stays idempotent, updates only what changed, deletes what the YAML dropped, leaves others alone', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((n) => `${env.tag}-${n}`) as [string, string, string];
  const [idA, idB, idC] = [a, b, c].map((n) => `dockvault-${n}`) as [string, string, string];
  created.push(idA, idB, idC);
  // Not dockvault's: one under dockvault's id prefix without its memo (it even has the id definition c
  // would get), one with another id.
  const foreignIds = [idC, `${env.tag}-foreign`];
  created.push(foreignIds[1]!);
  for (const scheduleId of foreignIds) {
    await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '365d' }] },
      action: { type: 'startWorkflow', workflowType: 'x', taskQueue: `${env.tag}-nothing`, args: [] },
      state: { paused: true },
    });
  }

  await env.writeConfig([def(a, yearly(1)), def(b, { every: '1h', paused: true }), def(c)]);
  const first = await sync();
  assert.equal(first.actions.get(idA), 'created', first.stdout);
  assert.equal(first.actions.get(idB), 'created', first.stdout);
  assert.equal(first.actions.has(idC), false, 'a schedule dockvault did not create is not touched');

  const described = await client.schedule.getHandle(idA).describe();
  assert.deepEqual(described.memo, { managedBy: 'dockvault', definition: a, taskQueue: env.tag });
  assert.equal(described.action.workflowType, 'standardBackupWorkflow');
  assert.equal(described.action.taskQueue, env.tag);
  assert.equal(described.action.workflowId, `backup-${a}`);
  assert.equal(described.policies.overlap, 'SKIP');
  assert.equal(described.spec.calendars?.length, 1);
  assert.equal(described.typedSearchAttributes.get(definitionKey), a, 'the schedule is filterable');
  const startAttributes = described.action.typedSearchAttributes;
  assert.ok(startAttributes instanceof TypedSearchAttributes);
  assert.equal(startAttributes.get(definitionKey), a, 'so is every run it starts');
  assert.equal((await client.schedule.getHandle(idB).describe()).state.paused, true);

  const second = await sync();
  assert.equal(second.actions.get(idA), 'unchanged', second.stdout);
  assert.equal(second.actions.get(idB), 'unchanged', second.stdout);
  const conflictToken = (await client.schedule.getHandle(idB).describe()).raw.conflictToken;

  await env.writeConfig([def(a, yearly(2)), def(b, { every: '1h', paused: true }), def(c)]);
  const third = await sync();
  assert.equal(third.actions.get(idA), 'updated', third.stdout);
  assert.equal(third.actions.get(idB), 'unchanged', third.stdout);
  assert.deepEqual(
    (await client.schedule.getHandle(idB).describe()).raw.conflictToken,
    conflictToken,
    'an unchanged schedule is not written',
  );
  const updated = await client.schedule.getHandle(idA).describe();
  assert.equal(updated.spec.calendars?.[0]?.minute?.[0]?.start, 2);

  await env.writeConfig([def(a, yearly(2)), def(b), def(c)]);
  const fourth = await sync();
  assert.equal(fourth.actions.get(idB), 'deleted', fourth.stdout);
  assert.equal(fourth.actions.get(idA), 'unchanged', fourth.stdout);
  assert.equal(await exists(idB), false);
  for (const id of foreignIds) assert.equal(await exists(id), true, `${id} was left alone`);
});

test('--dry-run reports creates, updates and deletes and changes nothing', async () => {
  const [d, e] = ['d', 'e'].map((n) => `${env.tag}-${n}`) as [string, string];
  const [idD, idE] = [`dockvault-${d}`, `dockvault-${e}`];
  created.push(idD, idE);
  await env.writeConfig([def(d, yearly(3)), def(e, yearly(4))]);
  await sync();
  const before = await client.schedule.getHandle(idD).describe();

  await env.writeConfig([def(d, yearly(5)), def(e), def(`${env.tag}-f`, yearly(6))]);
  const dry = await sync('--dry-run');
  assert.equal(dry.actions.get(idD), 'updated', dry.stdout);
  assert.equal(dry.actions.get(idE), 'deleted', dry.stdout);
  assert.equal(dry.actions.get(`dockvault-${env.tag}-f`), 'created', dry.stdout);
  assert.match(dry.stdout, /dry run: nothing was changed/);

  const after = await client.schedule.getHandle(idD).describe();
  assert.deepEqual(after.raw.conflictToken, before.raw.conflictToken, 'not updated');
  assert.equal(await exists(idE), true, 'not deleted');
  assert.equal(await exists(`dockvault-${env.tag}-f`), false, 'not created');
});
