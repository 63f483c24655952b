// Objects damaged in the S3 server's own storage, as a failing disk or a provider would damage them:
// bytes changed in place (same size) and a truncated file, behind versitygw's back, so the checksum it
// stored at upload no longer matches. Verify reports every object and does not retry integrity
// failures; restore refuses naming the object and changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { restoreCli, runBackup, verifyCli } from './helpers.ts';

let env: BackupTestEnv;
let manifest: Manifest;
let vols: string[];
let apps: string[];
const keyOf = (vol: string) => `svc/${manifest.backupId}/volumes/${vol}.tar.zst.age`;
/** Where versitygw keeps the object's bytes: the data directory, the bucket, the full key. */
const fileOf = (vol: string) => join(stack.s3DataDir, stack.s3Bucket, env.tag, keyOf(vol));

before(async () => {
  env = await BackupTestEnv.create();
  const { fixtures, tag } = env;
  vols = [];
  apps = [];
  for (const name of ['intact', 'flipped', 'truncated']) {
    const vol = await fixtures.volume(`${tag}-${name}`);
    // Random data: the object is its size again, in several age chunks, one PUT (under the 5 MiB part).
    await fixtures.sh([vol], `head -c 300000 /dev/urandom > /${vol}/data.bin; echo ${name} > /${vol}/name`);
    vols.push(vol);
  }
  apps.push(await fixtures.sleeper(`${tag}-app`, vols));
  await env.writeConfig([{ name: 'svc', type: 'standard', containers: apps, volumes: vols }]);
  await env.startWorker();
  manifest = await runBackup(env, 'svc');
  const [, flipped, truncated] = vols as [string, string, string];
  // The last bytes are the final chunk's tag: only the stored checksum can notice before the end.
  const fh = await open(fileOf(flipped), 'r+');
  try {
    const size = (await fh.stat()).size;
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, size - 4);
    for (let i = 0; i < 4; i++) b[i] = b[i]! ^ 0x5a;
    await fh.write(b, 0, 4, size - 4);
  } finally {
    await fh.close();
  }
  await truncate(fileOf(truncated), (await stat(fileOf(truncated))).size - 1000);
  // State that a failed restore must leave alone, different from the backup.
  for (const vol of vols) await fixtures.sh([vol], `echo changed > /${vol}/name; rm /${vol}/data.bin`);
});
after(async () => {
  await env.close();
});

/** Attempts of each activity type in a workflow's history. */
async function attempts(client: Client, workflowId: string): Promise<Map<string, number[]>> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<number, string>();
  const out = new Map<string, number[]>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(Number(e.eventId), s.activityType?.name ?? '?');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const type = scheduled.get(Number(started.scheduledEventId)) ?? '?';
      out.set(type, [...(out.get(type) ?? []), started.attempt ?? 0]);
    }
  }
  return out;
}

function workflowIdOf(stdout: string): string {
  const id = /started (\S+)/.exec(stdout)?.[1];
  assert.ok(id, stdout);
  return id;
}

test('verify reports every object, the damaged ones FAILED with key and reason, without retrying them', async () => {
  const [intact, flipped, truncated] = vols as [string, string, string];
  const started = Date.now();
  const result = await verifyCli(env, ['svc']);
  const elapsed = Date.now() - started;
  const out = result.stdout;
  assert.equal(result.code, 1, `${out}\n${result.stderr}`);
  assert.match(out, new RegExp(`OK +${keyOf(intact).replace(/\./g, '\\.')} `));
  const failedLine = (vol: string) => out.split('\n').find((l) => l.startsWith(`FAILED ${keyOf(vol)}:`));
  assert.match(
    failedLine(flipped) ?? out,
    /stored bytes do not match: checksum mismatch \(damaged in storage\)/,
  );
  const truncatedSize = (await stat(fileOf(truncated))).size;
  assert.match(
    failedLine(truncated) ?? out,
    new RegExp(`truncated: ${truncatedSize} of ${truncatedSize + 1000} bytes`),
  );
  assert.doesNotMatch(out, /Checksum mismatch: expected/, 'the SDK text is not the report');
  const tries = await attempts(await env.client(), workflowIdOf(out));
  assert.deepEqual(tries.get('verifyObject'), [1, 1, 1], 'each object read once: no retry');
  // Retries would wait 2 + 4 + 8 + 16 + 32 s.
  assert.ok(elapsed < 15_000, `verify took ${elapsed} ms`);
});

for (const which of ['flipped', 'truncated'] as const) {
  test(`restore of a backup with a ${which} object refuses naming it and changes nothing`, async () => {
    const vol = vols.find((v) => v.endsWith(`-${which}`))!;
    const before = await Promise.all(vols.map(async (v) => describeTree(await env.fixtures.mountpoint(v))));
    const result = await restoreCli(env, ['svc', '--volume', vol]);
    const out = result.stdout + result.stderr;
    assert.equal(result.code, 1, out);
    assert.ok(out.includes(keyOf(vol)), `names the object: ${out}`);
    assert.match(
      out,
      which === 'flipped' ? /checksum mismatch \(damaged in storage\)/ : /truncated: \d+ of \d+ bytes/,
    );
    const after = await Promise.all(vols.map(async (v) => describeTree(await env.fixtures.mountpoint(v))));
    assert.deepEqual(after, before, 'every volume is unchanged');
    for (const app of apps) assert.equal(await env.fixtures.isRunning(app), true, `${app} runs`);
    const tries = await attempts(await env.client(), workflowIdOf(result.stdout));
    assert.deepEqual(tries.get('stageVolumeRestore'), [1], 'the damaged object is read once');
  });
}

test('restore of the whole backup refuses at the first damaged object and changes nothing', async () => {
  const before = await Promise.all(vols.map(async (v) => describeTree(await env.fixtures.mountpoint(v))));
  const result = await restoreCli(env, ['svc']);
  const out = result.stdout + result.stderr;
  assert.equal(result.code, 1, out);
  assert.ok(out.includes(keyOf(vols[1]!)) || out.includes(keyOf(vols[2]!)), `names a damaged object: ${out}`);
  const after = await Promise.all(vols.map(async (v) => describeTree(await env.fixtures.mountpoint(v))));
  assert.deepEqual(after, before, 'every volume is unchanged');
  for (const app of apps) assert.equal(await env.fixtures.isRunning(app), true, `${app} runs`);
});
