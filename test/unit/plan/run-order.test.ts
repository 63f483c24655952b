import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startableSteps } from '../../../src/plan/run-order.ts';
import { buildRunPlan } from '../../../src/plan/run.ts';
import { fixtureConfig } from '../../helpers/config-fixture.ts';

const config = fixtureConfig(`  - name: app
    type: standard
    containers: [web]
    volumes: [data]
    after: [db]
  - name: db
    type: postgres
    containers: [pg]
  - name: media
    type: standard
    volumes: [media]
`);

const names = (steps: { plan: { definition: string } }[]) => steps.map((s) => s.plan.definition);

test('a run lists its definitions in config order, whatever order they were named in', () => {
  const [media, app] = [config.backupDefinitions[2]!, config.backupDefinitions[0]!];
  const plan = buildRunPlan(config, [media, app]);
  assert.deepEqual(names(plan.steps), ['app', 'media']);
  assert.equal(plan.label, 'app, media');
  assert.equal(buildRunPlan(config, config.backupDefinitions).label, 'all definitions');
  assert.equal(plan.notifyTaskQueue, 'dockvault.local');
});

test('sequential: one at a time, config order, each after what it names', () => {
  const { steps } = buildRunPlan(config, config.backupDefinitions);
  const started = new Set<string>();
  const ended = new Set<string>();
  const order: string[] = [];
  for (;;) {
    const next = startableSteps(steps, false, { started, ended });
    if (next.length === 0) break;
    assert.equal(next.length, 1, 'one at a time');
    const name = next[0]!.plan.definition;
    order.push(name);
    started.add(name);
    assert.deepEqual(startableSteps(steps, false, { started, ended }), [], 'nothing starts while one runs');
    ended.add(name);
  }
  assert.deepEqual(order, ['db', 'app', 'media'], 'app waits for db; media keeps its place after app');
});

test('parallel: everything whose "after" has ended starts at once', () => {
  const { steps } = buildRunPlan(config, config.backupDefinitions);
  const started = new Set<string>();
  const ended = new Set<string>();
  assert.deepEqual(names(startableSteps(steps, true, { started, ended })), ['db', 'media']);
  started.add('db').add('media');
  assert.deepEqual(startableSteps(steps, true, { started, ended }), []);
  ended.add('media');
  assert.deepEqual(startableSteps(steps, true, { started, ended }), [], 'app still waits for db');
  ended.add('db');
  assert.deepEqual(names(startableSteps(steps, true, { started, ended })), ['app']);
});

test('an "after" outside the run holds nothing up', () => {
  const plan = buildRunPlan(config, [config.backupDefinitions[0]!]);
  assert.deepEqual(names(startableSteps(plan.steps, false, { started: new Set(), ended: new Set() })), [
    'app',
  ]);
});

test('parallel within host limits: no more definitions of a host in flight than its limit', () => {
  const limited = fixtureConfig(
    `  - { name: a1, type: standard, volumes: [a1] }
  - { name: a2, type: standard, volumes: [a2] }
  - { name: a3, type: standard, volumes: [a3] }
  - { name: b1, type: standard, host: b, volumes: [b1] }
  - { name: b2, type: standard, host: b, volumes: [b2] }
`,
    'hosts: { local: { concurrency: 2 }, b: { concurrency: 1 } }\n',
  );
  const { steps } = buildRunPlan(limited, limited.backupDefinitions);
  const started = new Set<string>();
  const ended = new Set<string>();
  assert.deepEqual(names(startableSteps(steps, true, { started, ended })), ['a1', 'a2', 'a3', 'b1', 'b2']);
  assert.deepEqual(names(startableSteps(steps, true, { started, ended }, true)), ['a1', 'a2', 'b1']);
  started.add('a1').add('a2').add('b1');
  assert.deepEqual(startableSteps(steps, true, { started, ended }, true), [], 'both hosts are full');
  ended.add('a1');
  assert.deepEqual(
    names(startableSteps(steps, true, { started, ended }, true)),
    ['a3'],
    'a freed place goes to the next of its host',
  );
  ended.add('b1');
  assert.deepEqual(names(startableSteps(steps, true, { started, ended }, true)), ['a3', 'b2']);
});
