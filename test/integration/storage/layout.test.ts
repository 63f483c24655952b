// Key naming: backup ids sort by time and parse back; keys stay inside their backup's prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backupPrefix,
  manifestKey,
  newBackupId,
  objectKey,
  parseBackupId,
} from '../../../src/storage/layout.ts';

test('backup ids are UTC, second-precise, sortable and parse back', () => {
  const at = new Date('2026-11-26T05:37:30.789Z');
  const id = newBackupId(at, 'ab12');
  assert.equal(id, '20261126T053730Z-ab12');
  assert.deepEqual(parseBackupId(id), new Date('2026-11-26T05:37:30Z'));
  const later = newBackupId(new Date('2026-12-01T00:00:00Z'), 'zzzzzzzz');
  assert.ok(later > id);
  assert.equal(parseBackupId('20261326T053730Z-ab12'), undefined, 'month 13');
  assert.equal(parseBackupId('20260230T000000Z-ab12'), undefined, 'February 30');
  assert.equal(parseBackupId('20261126T053730Z-AB12'), undefined);
  assert.equal(parseBackupId('20261126T053730Z-ab1'), undefined);
  assert.equal(parseBackupId('latest'), undefined);
  assert.throws(() => newBackupId(at, 'AB12'), TypeError);
  assert.throws(() => newBackupId(at, 'abc'), TypeError);
  assert.throws(() => newBackupId(new Date(Number.NaN), 'abcd'), TypeError);
});

test('keys live under <definition>/<backupId>/', () => {
  const id = '20261126T053730Z-ab12';
  assert.equal(backupPrefix('backup1', id), `backup1/${id}/`);
  assert.equal(manifestKey('backup1', id), `backup1/${id}/manifest.json`);
  assert.equal(
    objectKey('backup1', id, 'volumes/data.tar.zst.age'),
    `backup1/${id}/volumes/data.tar.zst.age`,
  );
  assert.throws(() => objectKey('backup1', id, '../other/x'), TypeError);
  assert.throws(() => objectKey('backup1', id, '/abs'), TypeError);
  assert.throws(() => backupPrefix('a/b', id), TypeError);
  assert.throws(() => backupPrefix('', id), TypeError);
});
