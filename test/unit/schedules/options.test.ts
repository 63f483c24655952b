import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backupWorkflowOptions } from '../../../src/client.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import { desiredSchedule, scheduleIdFor } from '../../../src/schedules/options.ts';
import { fixtureConfig } from '../../helpers/config-fixture.ts';

function config(schedule: string) {
  return fixtureConfig(`  - name: site
    type: standard
    containers: [web]
    volumes: [data]
${schedule}
  - name: db
    type: postgres
    containers: [pg]
`);
}

const daily = `    schedule:
      cron: "0 3 * * *"
      every: 6h
      timezone: Europe/Berlin
      jitter: 5m
      catchupWindow: 1h
      pauseOnFailure: true`;

test('a schedule maps onto spec, policies, state and the same workflow start as `run`', () => {
  const c = config(daily);
  const def = c.backupDefinitions[0]!;
  const desired = desiredSchedule(c, def)!;
  const { options } = desired;
  assert.equal(options.scheduleId, 'dockvault-site');
  assert.equal(scheduleIdFor('site'), 'dockvault-site');
  assert.deepEqual(options.spec, {
    cronExpressions: ['0 3 * * *'],
    intervals: [{ every: 6 * 3_600_000 }],
    timezone: 'Europe/Berlin',
    jitter: 300_000,
  });
  assert.deepEqual(options.policies, { overlap: 'SKIP', catchupWindow: 3_600_000, pauseOnFailure: true });
  assert.equal(options.state?.paused, false);
  assert.deepEqual(options.memo, { managedBy: 'dockvault', definition: 'site', taskQueue: 'dockvault' });

  const start = backupWorkflowOptions(c.temporal.taskQueue, buildPlan(c, def));
  assert.equal(options.action.workflowType, 'standardBackupWorkflow');
  assert.equal(options.action.workflowId, 'backup-site');
  assert.deepEqual(options.action.args, start.args);
  assert.equal(options.action.taskQueue, start.taskQueue);
  assert.equal(options.action.staticSummary, start.staticSummary);
  assert.equal(options.action.staticDetails, start.staticDetails);
  assert.deepEqual(options.action.typedSearchAttributes, start.typedSearchAttributes);
  assert.equal(options.action.memo.configHash, desired.configHash);
  assert.match(options.action.memo.spec, /cron "0 3 \* \* \*", every 6h, in Europe\/Berlin, jitter 5m/);

  assert.equal(desiredSchedule(c, c.backupDefinitions[1]!), undefined, 'no schedule, nothing desired');
});

test('the config hash is stable and changes with the spec, the policies, the plan and paused', () => {
  const hash = (schedule: string, mutate?: (yaml: string) => string) => {
    const c = config(mutate ? mutate(schedule) : schedule);
    return desiredSchedule(c, c.backupDefinitions[0]!)!.configHash;
  };
  const base = hash(daily);
  assert.equal(hash(daily), base);
  assert.notEqual(hash(daily.replace('0 3', '0 4')), base);
  assert.notEqual(hash(daily.replace('pauseOnFailure: true', 'pauseOnFailure: false')), base);
  assert.notEqual(hash(`${daily}\n      paused: true`), base);
  assert.notEqual(hash(`${daily}\n      overlap: bufferOne`), base);
  assert.notEqual(hash(daily.replace('    schedule:', '    stopTimeoutSeconds: 7\n    schedule:')), base);
});
