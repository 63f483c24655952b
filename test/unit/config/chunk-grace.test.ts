import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/index.ts';
import { buildPlan } from '../../../src/plan/build.ts';
import { fixtureEnv } from '../../helpers/config-fixture.ts';

const config = (s3: string, timeout = '') => `s3:
  bucket: backups
${s3}
backupDefinitions:
  - name: site
    type: standard
    volumes: [data]
  - name: big
    type: standard
    volumes: [big]
${timeout}
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

test('s3.chunkGrace defaults to 25 hours and reaches every plan as milliseconds', () => {
  const loaded = parseConfig(config(''), 'dockvault.yml', fixtureEnv);
  assert.equal(buildPlan(loaded, loaded.backupDefinitions[0]!).target.chunkGraceMs, 25 * 3_600_000);
  const short = parseConfig(config('  chunkGrace: 90s'), 'dockvault.yml', fixtureEnv);
  assert.equal(buildPlan(short, short.backupDefinitions[1]!).target.chunkGraceMs, 90_000);
});

test('a chunkGrace shorter than a definition timeoutMinutes is refused, naming both', () => {
  assert.deepEqual(issues(config('  chunkGrace: 2h', '    timeoutMinutes: 180')), [
    's3.chunkGrace:3: 2h is shorter than backupDefinitions[1].timeoutMinutes (180 minutes): prune could delete a chunk a run still in progress reuses; make chunkGrace at least the longest timeoutMinutes',
  ]);
  parseConfig(config('  chunkGrace: 3h', '    timeoutMinutes: 180'), 'dockvault.yml', fixtureEnv);
});

test('a chunkGrace that is not a duration is refused', () => {
  const found = issues(config('  chunkGrace: soon'));
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^s3\.chunkGrace:3: /);
});
