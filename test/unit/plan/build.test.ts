import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';

const env = { DOCKVAULT_S3_ENDPOINT: 'http://127.0.0.1:7070' };

const config = parseConfig(
  `encryption:
  recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]
backupDefinitions:
  - name: site
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
`,
  'dockvault.yml',
  env,
);

test('the timeouts of the config reach the plan the workflow runs by', () => {
  const [site, db, plain] = config.backupDefinitions.map((d) => buildPlan(config, d, env));
  assert.equal(site!.timeoutMinutes, 90);
  assert.equal(db!.timeoutMinutes, 240);
  assert.equal(db!.type === 'postgresqldatabase' && db!.dumpTimeoutMinutes, 60);
  assert.equal(plain!.timeoutMinutes, undefined, 'no limit unless configured');
});
