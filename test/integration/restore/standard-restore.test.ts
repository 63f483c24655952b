// `dockvault restore` of a standard backup on the real stack: in place (every container that mounts the
// volume stopped and restarted, byte-identical trees), into another volume, and the same result as the
// documented manual restore with age, zstd and tar.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { damage, demandingTree, download, restoreCli, runBackup } from './helpers.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;
let data: string;
let media: string;
let web: string;
let outsider: string;
let idle: string;
let expected: {
  data: Awaited<ReturnType<typeof describeTree>>;
  media: Awaited<ReturnType<typeof describeTree>>;
};
let backupId: string;

before(async () => {
  env = await BackupTestEnv.create();
  const { fixtures, tag } = env;
  data = await fixtures.volume(`${tag}-data`);
  media = await fixtures.volume(`${tag}-media`);
  await fixtures.sh([data], demandingTree(data));
  await fixtures.sh(
    [media],
    `cd /${media}; i=0; while [ $i -lt 200 ]; do echo "text $i" > "t-$i.txt"; i=$((i+1)); done`,
  );
  web = await fixtures.sleeper(`${tag}-web`, [data, media]);
  // Mounts the volume but is not in the definition: a restore must stop it too.
  outsider = await fixtures.sleeper(`${tag}-outsider`, [data]);
  idle = await fixtures.sleeper(`${tag}-idle`, [data], { start: false });
  await env.writeConfig([{ name: 'site', type: 'standard', containers: [web], volumes: [data, media] }]);
  await env.startWorker();
  const manifest = await runBackup(env, 'site');
  backupId = manifest.backupId;
  expected = {
    data: await describeTree(await fixtures.mountpoint(data)),
    media: await describeTree(await fixtures.mountpoint(media)),
  };
});
after(async () => {
  await env.close();
});

async function startedAt(name: string): Promise<string> {
  return (await env.fixtures.docker.getContainer(name).inspect()).State.StartedAt;
}

test('restore in place: byte-identical trees, every container using the volume stopped and running again', async () => {
  const { fixtures } = env;
  await fixtures.sh([data, media], `${damage(data)}; rm /${media}/t-1*.txt`);
  assert.notDeepEqual(await describeTree(await fixtures.mountpoint(data)), expected.data);
  const before = { web: await startedAt(web), outsider: await startedAt(outsider) };

  const restore = await restoreCli(env, ['site', '--backup', backupId]);
  assert.equal(
    restore.code,
    0,
    `restore failed:\n${restore.stdout}\n${restore.stderr}\n${env.worker!.output()}`,
  );
  assert.match(restore.stdout, new RegExp(`OK +site ${backupId}: ${data} `));

  assert.deepEqual(await describeTree(await fixtures.mountpoint(data)), expected.data);
  assert.deepEqual(await describeTree(await fixtures.mountpoint(media)), expected.media);
  assert.equal(await fixtures.isRunning(web), true);
  assert.equal(await fixtures.isRunning(outsider), true, 'a container outside the definition runs again');
  assert.equal(await fixtures.isRunning(idle), false, 'a stopped container stays stopped');
  assert.notEqual(await startedAt(web), before.web, 'web was restarted');
  assert.notEqual(await startedAt(outsider), before.outsider, 'the outsider was restarted');
  // No staging, ready or old trees are left next to the data directory.
  const mp = await fixtures.mountpoint(data);
  assert.deepEqual(
    (await readdir(dirname(mp))).filter((n) => n.startsWith('.dockvault-')),
    [],
  );
});

test('--to-volume restores into a new volume and leaves the original and its containers alone', async () => {
  const { fixtures, tag } = env;
  await fixtures.sh([data], damage(data));
  const original = await describeTree(await fixtures.mountpoint(data));
  const before = { web: await startedAt(web), outsider: await startedAt(outsider) };
  const copy = `${tag}-copy`;
  await fixtures.volume(copy); // registered for clean-up; removed again so the restore creates it
  await fixtures.docker.getVolume(copy).remove();

  const restore = await restoreCli(env, ['site', '--to-volume', `${data}=${copy}`]);
  assert.equal(
    restore.code,
    0,
    `restore failed:\n${restore.stdout}\n${restore.stderr}\n${env.worker!.output()}`,
  );
  assert.match(restore.stdout, /created/);

  assert.deepEqual(await describeTree(await fixtures.mountpoint(copy)), expected.data);
  assert.deepEqual(
    await describeTree(await fixtures.mountpoint(data)),
    original,
    'the original is untouched',
  );
  assert.equal(await startedAt(web), before.web, 'web was not stopped');
  assert.equal(await startedAt(outsider), before.outsider, 'the outsider was not stopped');
});

test('the documented manual restore (age -d | zstd -d | tar -x) gives the same tree as dockvault restore', async () => {
  const { fixtures } = env;
  await fixtures.sh([data], damage(data));
  const restore = await restoreCli(env, ['site', '--volume', data]);
  assert.equal(restore.code, 0, `restore failed:\n${restore.stdout}\n${restore.stderr}`);
  const byDockvault = await describeTree(await fixtures.mountpoint(data));
  assert.deepEqual(byDockvault, expected.data);

  const stored = join(env.dir, 'data.tar.zst.age');
  await download(env, `site/${backupId}/volumes/${data}.tar.zst.age`, stored);
  const out = join(env.dir, 'manual');
  await mkdir(out);
  await exec('bash', [
    '-o',
    'pipefail',
    '-c',
    'age -d -i "$1" "$2" | zstd -d | tar -x --numeric-owner -p -C "$3"',
    'manual',
    env.identityPath,
    stored,
    out,
  ]);
  assert.deepEqual(await describeTree(out), byDockvault);
});
