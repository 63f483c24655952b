import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPlan } from '../../../src/plan/build.ts';
import { fixtureConfig } from '../../helpers/config-fixture.ts';

const config = fixtureConfig(`  - name: site
    type: standard
    containers: [web]
    volumes: [data]
    timeoutMinutes: 90
  - name: db
    type: postgres
    containers: [pg]
    timeoutMinutes: 240
    postgres:
      timeoutMinutes: 60
  - name: plain
    type: standard
    volumes: [data]
  - name: deduped
    type: postgres
    containers: [pg]
    postgres:
      storage: chunked
`);

test('the timeouts of the config reach the plan the workflow runs by', () => {
  const [site, db, plain] = config.backupDefinitions.map((d) => buildPlan(config, d));
  assert.equal(site!.timeoutMinutes, 90);
  assert.equal(db!.timeoutMinutes, 240);
  assert.equal(db!.type === 'postgresqldatabase' && db!.dumpTimeoutMinutes, 60);
  assert.equal(plain!.timeoutMinutes, undefined, 'no limit unless configured');
});

test('postgres.storage reaches the plan only when chunked: the plans of other definitions stay as they were', () => {
  const [, db, , deduped] = config.backupDefinitions.map((d) => buildPlan(config, d));
  assert.equal(db!.type, 'postgresqldatabase');
  assert.equal('storage' in db!, false);
  assert.equal(deduped!.type === 'postgresqldatabase' && deduped!.storage, 'chunked');
});
