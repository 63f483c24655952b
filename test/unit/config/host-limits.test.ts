import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, describePlan, parseConfig } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import { fixtureEnv } from '../../helpers/config-fixture.ts';

const config = (top: string) => `${top}
backupDefinitions:
  - name: site
    type: standard
    host: web1
    volumes: [data]
  - name: db
    type: postgres
    containers: [pg]
`;

function issues(yaml: string) {
  try {
    parseConfig(yaml, 'dockvault.yml', fixtureEnv);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.path}:${i.line ?? '-'}: ${i.message}`);
  }
  assert.fail('the config loaded');
}

test("a host's concurrency reaches the plans of its definitions; other hosts take the default of 2", () => {
  const loaded = parseConfig(config('hosts:\n  web1:\n    concurrency: 1'), 'dockvault.yml', fixtureEnv);
  const [site, db] = loaded.backupDefinitions.map((d) => buildPlan(loaded, d));
  assert.equal(site!.hostConcurrency, 1);
  assert.equal(db!.host, 'local');
  assert.equal(db!.hostConcurrency, 2);
  const described = describePlan(loaded);
  assert.match(described, /host: {7}web1 \(task queue dockvault\.web1; 1 data-moving step\(s\) at once\)/);
  assert.match(described, /host: {7}local \(task queue dockvault\.local; 2 data-moving step\(s\) at once\)/);
});

test('an entry without concurrency takes the default', () => {
  const loaded = parseConfig(config('hosts:\n  web1: {}'), 'dockvault.yml', fixtureEnv);
  assert.deepEqual(loaded.hosts, { web1: { concurrency: 2 } });
});

test('a concurrency below 1 is refused, naming its path', () => {
  assert.deepEqual(issues(config('hosts:\n  web1:\n    concurrency: 0')), [
    'hosts.web1.concurrency:3: expected a number greater than 0, got 0',
  ]);
});

test('an entry for a host no definition runs on is refused, with the likely one named', () => {
  assert.deepEqual(issues(config('hosts:\n  web01:\n    concurrency: 1')), [
    'hosts.web01:2: no backup definition runs on host "web01" (did you mean "web1"?); definitions run on: web1, local',
  ]);
});
