import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STOPPED_RECORD_FILE, StoppedRecord } from '../../../src/docker/stopped-record.ts';
import type { StoppedEntry } from '../../../src/docker/stopped-record.ts';
import { StateFileError } from '../../../src/docker/errors.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dv-dockertest-record-'));
});
after(() => rm(root, { recursive: true, force: true }));

const entry = (container: string, workflowId = 'wf-1'): StoppedEntry => ({
  container,
  containerId: `${container}-id`,
  workflowId,
  runId: 'run-1',
  stoppedAt: '2026-01-01T00:00:00.000Z',
});

test('add, list and remove; a missing file is an empty record', async () => {
  const dir = join(root, 'basic', 'state');
  const record = new StoppedRecord(dir);
  assert.deepEqual(await record.list(), []);
  await record.add(entry('web'));
  await record.add(entry('db'));
  await record.add(entry('web')); // retried activity: replaces, does not duplicate
  await record.add(entry('web', 'wf-2'));
  assert.deepEqual(
    (await record.list()).map((e) => `${e.container}/${e.workflowId}`),
    ['db/wf-1', 'web/wf-1', 'web/wf-2'],
  );
  await record.remove('web', 'wf-1');
  await record.remove('web', 'wf-1'); // idempotent
  await record.remove('nothing', 'wf-9');
  assert.deepEqual(await record.list(), [entry('db'), entry('web', 'wf-2')]);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(dir, STOPPED_RECORD_FILE))).mode & 0o777, 0o600);
});

test('concurrent adds in one process all land, and a new instance reads them', async () => {
  const dir = join(root, 'concurrent');
  const record = new StoppedRecord(dir);
  const names = Array.from({ length: 50 }, (_, i) => `c${i}`);
  await Promise.all(names.map((n) => record.add(entry(n))));
  await Promise.all([record.remove('c0', 'wf-1'), record.add(entry('late')), record.remove('c1', 'wf-1')]);
  const reread = await new StoppedRecord(dir).list();
  assert.deepEqual(reread.map((e) => e.container).sort(), [...names.slice(2), 'late'].sort());
  const onDisk = JSON.parse(await readFile(join(dir, STOPPED_RECORD_FILE), 'utf8')) as { version: number };
  assert.equal(onDisk.version, 1);
});

test('a damaged file is an error, never an empty list', async () => {
  const dir = join(root, 'damaged');
  const record = new StoppedRecord(dir);
  await record.add(entry('web'));
  await writeFile(join(dir, STOPPED_RECORD_FILE), '{"entries": [');
  await assert.rejects(() => record.list(), StateFileError);
  await assert.rejects(() => record.add(entry('db')), StateFileError);
  await writeFile(join(dir, STOPPED_RECORD_FILE), '{"version":1,"entries":[]}');
  assert.deepEqual(await record.list(), []); // the queue survived the failures
});
