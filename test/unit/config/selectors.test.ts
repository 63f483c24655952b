// The config shape of container selectors (compose, labels): what loads, what is refused with a
// located error, and what reaches the plan.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, configJsonSchema, parseConfig } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import { fixtureConfig } from '../../helpers/config-fixture.ts';

function issues(yaml: string) {
  try {
    parseConfig(yaml, 'dockvault.yml', {});
  } catch (err) {
    if (err instanceof ConfigError)
      return err.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

test('compose and labels selectors load, beside plain container names; label values become strings', () => {
  const config = fixtureConfig(`  - name: site
    type: standard
    compose: { project: shop, services: [web, db] }
    containers: [legacy-worker]
    volumes: [data]
    hooks:
      preStop: [{ container: shop-db-1, command: sync }]
  - name: marked
    type: standard
    labels: { com.example.backup: true, tier: 1 }
    volumes: [data]
  - name: db
    type: postgres
    compose: { project: shop, services: [db] }
  - name: plain
    type: standard
    containers: [web]
    volumes: [data]
`);
  const [site, marked, db, plain] = config.backupDefinitions;
  assert.deepEqual(site!.compose, { project: 'shop', services: ['web', 'db'] });
  assert.deepEqual(site!.containers, ['legacy-worker']);
  assert.deepEqual(marked!.labels, { 'com.example.backup': 'true', tier: '1' });
  assert.deepEqual(db!.containers, []);

  const plans = config.backupDefinitions.map((d) => buildPlan(config, d));
  assert.deepEqual(plans[0]!.selector, {
    configPath: 'backupDefinitions[0]',
    compose: { project: 'shop', services: ['web', 'db'] },
    labels: undefined,
  });
  assert.equal(plans[1]!.selector?.configPath, 'backupDefinitions[1]');
  assert.equal(plans[2]!.type === 'postgresqldatabase' && plans[2]!.container, '');
  assert.equal(plain!.compose, undefined);
  assert.ok(!('selector' in plans[3]!), 'a plain definition plans exactly as before');
});

test('selector mistakes are located errors', () => {
  const got = issues(`backupDefinitions:
  - name: site
    type: standard
    compose:
      project: Shop!
      service: [web]
    labels: {}
    volumes: [data]
  - name: db
    type: postgres
    containers: [pg]
    compose: { project: shop, services: [] }
  - name: twice
    type: standard
    compose: { project: shop, services: [web, web] }
    volumes: [data]
`);
  assert.deepEqual(got, [
    '5:16 backupDefinitions[0].compose.project: a compose project name must be lowercase letters, digits, "_" and "-", starting with a letter or digit (as `docker compose ls` shows it), got "Shop!"',
    '6:7 backupDefinitions[0].compose.service: unknown key "service" (did you mean "services"?)',
    '7:13 backupDefinitions[0].labels: expected at least one label',
    '11:17 backupDefinitions[1].containers: a postgresqldatabase definition names its one container either in "containers" or with a selector ("compose", "labels"), not both',
    '12:41 backupDefinitions[1].compose.services: expected at least one service; omit "services" to select every service',
    '15:47 backupDefinitions[2].compose.services[1]: duplicate service "web" (also backupDefinitions[2].compose.services[0])',
  ]);
});

test('a plain postgres definition still needs exactly one container, and plain hooks a listed one', () => {
  const got = issues(`backupDefinitions:
  - name: db
    type: postgres
  - name: site
    type: standard
    containers: [web]
    volumes: [data]
    hooks: { preStop: [{ container: other, command: sync }] }
`);
  assert.equal(got.length, 2, got.join('\n'));
  assert.match(got[0]!, /needs exactly one container/);
  assert.match(got[1]!, /container "other" is not in this definition's containers/);
});

test('the JSON Schema for editors describes the selectors', () => {
  const schema = JSON.stringify(configJsonSchema());
  assert.match(schema, /"compose"/);
  assert.match(schema, /"project"/);
  assert.match(schema, /com\.docker\.compose\.project/);
});
