// Chunked backups read only what changed while the containers are stopped: an unchanged volume's
// second backup reads no file and uploads no chunk; a lost or stale record of the last backup on the
// worker makes the next backup read everything, never a restore point that misses a change.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import type { StagedArchive } from '../../../src/activities/transfer.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { demandingTree, restoreCli, runBackup } from '../restore/helpers.ts';

const suffix = randomBytes(3).toString('hex');
const SCAN = `cr-scan-${suffix}`;
const STALE = `cr-stale-${suffix}`;
let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

/** What the archive step of a backup's run returned, per volume (from the workflow's history). */
async function stagedArchives(manifest: Manifest): Promise<StagedArchive[]> {
  const client = await env.client();
  const history = await client.workflow.getHandle(manifest.workflowId, manifest.runId).fetchHistory();
  const types = new Map<number, string>();
  const results: StagedArchive[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) types.set(Number(e.eventId), s.activityType?.name ?? '');
    const done = e.activityTaskCompletedEventAttributes;
    if (done && types.get(Number(done.scheduledEventId)) === 'archiveVolumeToStaging') {
      results.push(defaultPayloadConverter.fromPayload<StagedArchive>(done.result!.payloads![0]!));
    }
  }
  return results;
}

function chunkedOf(manifest: Manifest) {
  const object = manifest.objects.find((o) => o.kind === 'volume');
  assert.ok(object?.chunked, 'a chunked volume');
  return object.chunked;
}

async function assertRestores(definition: string, manifest: Manifest, volume: string, tree: unknown) {
  const copy = await env.fixtures.volume(`${env.tag}-copy-${randomBytes(3).toString('hex')}`);
  const restore = await restoreCli(env, [
    definition,
    '--backup',
    manifest.backupId,
    '--to-volume',
    `${volume}=${copy}`,
  ]);
  assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
  assert.deepEqual(
    await describeTree(await env.fixtures.mountpoint(copy)),
    tree,
    `${manifest.backupId} restores exactly`,
  );
}

test('the second backup of an unchanged volume reads no file and uploads no chunk', async () => {
  const { fixtures, tag } = env;
  const data = await fixtures.volume(`${tag}-scan`);
  await fixtures.sh(
    [data],
    `${demandingTree(data, 8)}
     i=0; while [ $i -lt 500 ]; do head -c 3000 /dev/urandom > /${data}/small-$i; i=$((i+1)); done`,
  );
  const app = await fixtures.sleeper(`${tag}-scan-app`, [data]);
  await env.writeConfig([{ name: SCAN, type: 'standard', containers: [app], volumes: [data] }], {
    volumeFormat: 'chunked',
  });
  await env.startWorker();
  // Entries changed within a second of a scan are read again next time (their times may not show a change yet).
  await new Promise((r) => setTimeout(r, 1500));
  const first = await runBackup(env, SCAN);
  const [firstRead] = await stagedArchives(first);
  assert.ok(firstRead?.reads, 'the archive step scanned the volume');
  assert.equal(firstRead.reads.readEntries, firstRead.reads.entries, 'the first backup reads everything');
  assert.match(firstRead.reads.fullReadBecause ?? '', /no record/);

  const second = await runBackup(env, SCAN);
  const [secondRead] = await stagedArchives(second);
  assert.ok(secondRead?.reads);
  assert.equal(secondRead.reads.readEntries, 0, 'no entry read while the containers were stopped');
  assert.equal(secondRead.reads.reusedGroups, secondRead.reads.groups);
  assert.ok(secondRead.bytes <= 10240, `the staged archive holds only tar's end (${secondRead.bytes} bytes)`);
  assert.equal(chunkedOf(second).newChunks, 0, 'no chunk uploaded');
  assert.equal(chunkedOf(second).uploadedBytes, 0);
  assert.equal(
    second.objects[0]!.sha256,
    first.objects[0]!.sha256,
    'the same chunk index as the first backup',
  );
  await assertRestores(SCAN, second, data, await describeTree(await fixtures.mountpoint(data)));

  // One file changed: only its group is read.
  await fixtures.sh([data], `head -c 3000 /dev/urandom > /${data}/small-250`);
  await new Promise((r) => setTimeout(r, 1500));
  const third = await runBackup(env, SCAN);
  const [thirdRead] = await stagedArchives(third);
  assert.ok(thirdRead?.reads);
  // Small entries are stored in groups of 512 KiB or more: the changed file's group is read (~130 of these files).
  assert.ok(
    thirdRead.reads.readEntries > 0 &&
      thirdRead.reads.readEntries < thirdRead.reads.entries / 2 &&
      thirdRead.reads.readBytes < 1024 * 1024,
    `${thirdRead.reads.readEntries} of ${thirdRead.reads.entries} entries read, ${thirdRead.reads.readBytes} bytes`,
  );
  assert.ok(
    chunkedOf(third).newChunks >= 1 && chunkedOf(third).newChunks <= 3,
    `${chunkedOf(third).newChunks} new chunks`,
  );
  await assertRestores(SCAN, third, data, await describeTree(await fixtures.mountpoint(data)));
});

test('a lost or stale record of the last backup: the next backup reads everything and misses nothing', async () => {
  const { fixtures, tag } = env;
  const data = await fixtures.volume(`${tag}-stale`);
  await fixtures.sh([data], `${demandingTree(data, 6)}`);
  const app = await fixtures.sleeper(`${tag}-stale-app`, [data]);
  await env.writeConfig([{ name: STALE, type: 'standard', containers: [app], volumes: [data] }], {
    volumeFormat: 'chunked',
  });
  if (!env.worker) await env.startWorker();
  const records = join(env.stateDir, 'chunked-volumes');
  const recordsBefore = new Set(await readdir(records).catch(() => []));
  await new Promise((r) => setTimeout(r, 1500));
  await runBackup(env, STALE);
  const [record] = (await readdir(records)).filter((f) => !recordsBefore.has(f));
  assert.ok(record, 'the backup left a record in the state directory');
  await copyFile(join(records, record), join(env.dir, 'old-record'));

  // A change, backed up; then the record of the first backup put back (a restored state directory).
  await fixtures.sh(
    [data],
    `echo changed-after-first > /${data}/a-new-file; echo x >> /${data}/dir/sub/file.txt`,
  );
  await runBackup(env, STALE);
  await copyFile(join(env.dir, 'old-record'), join(records, record));
  // Another change the stale record knows nothing about.
  await fixtures.sh([data], `echo second-change > /${data}/b-new-file; rm /${data}/a-new-file`);
  const third = await runBackup(env, STALE);
  const [read] = await stagedArchives(third);
  assert.ok(read?.reads);
  assert.match(read.reads.fullReadBecause ?? '', /record is of backup/);
  assert.equal(read.reads.readEntries, read.reads.entries);
  await assertRestores(STALE, third, data, await describeTree(await fixtures.mountpoint(data)));

  // The record deleted.
  await rm(join(records, record));
  await fixtures.sh([data], `echo third-change > /${data}/c-new-file`);
  const fourth = await runBackup(env, STALE);
  const [lost] = await stagedArchives(fourth);
  assert.match(lost?.reads?.fullReadBecause ?? '', /no record/);
  assert.equal(lost!.reads!.readEntries, lost!.reads!.entries);
  assert.equal(chunkedOf(fourth).newChunks <= 3, true, 'reading everything still stores only the new chunks');
  await assertRestores(STALE, fourth, data, await describeTree(await fixtures.mountpoint(data)));
});

test('a large file written in place costs about its rewritten pages', async () => {
  const { fixtures, tag } = env;
  const data = await fixtures.volume(`${tag}-pages`);
  await fixtures.sh([data], `head -c 33554432 /dev/urandom > /${data}/db.sqlite; echo x > /${data}/note`);
  const app = await fixtures.sleeper(`${tag}-pages-app`, [data]);
  const name = `cr-pages-${suffix}`;
  await env.writeConfig([{ name, type: 'standard', containers: [app], volumes: [data] }], {
    volumeFormat: 'chunked',
  });
  if (!env.worker) await env.startWorker();
  const rewrite = (pages: number[]) =>
    fixtures.sh(
      [data],
      pages
        .map(
          (p) =>
            `head -c 4096 /dev/urandom | dd of=/${data}/db.sqlite bs=4096 seek=${p} conv=notrunc 2>/dev/null`,
        )
        .join('\n'),
    );
  await runBackup(env, name);
  // The first write in place is seen as one (same inode, new mtime): from then on, blocks.
  await rewrite([10]);
  const switched = await runBackup(env, name);
  assert.ok(
    chunkedOf(switched).chunks > 500,
    `${chunkedOf(switched).chunks} chunks: the file is cut in 64 KiB blocks`,
  );
  await rewrite([3, 1000, 5000, 8000]);
  const tree = await describeTree(await fixtures.mountpoint(data));
  const pages = await runBackup(env, name);
  const { newChunks, uploadedBytes } = chunkedOf(pages);
  // Four pages in four blocks, plus the file's tar header.
  assert.ok(newChunks <= 6, `${newChunks} new chunks`);
  assert.ok(uploadedBytes < 512 * 1024, `${uploadedBytes} bytes uploaded for 16 KiB rewritten`);
  await assertRestores(name, pages, data, tree);
});
