// A standard backup end to end on the real stack: stop, archive, restart, encrypt, upload, manifest;
// then the stored objects are opened with the reference tools (age, zstd, tar) and compared byte for byte.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { manifestKey } from '../../../src/storage/layout.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { runCli } from '../../helpers/worker-process.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

async function onlyBackup(definition: string): Promise<Manifest> {
  const ids: string[] = [];
  for (const p of await env.store.listPrefixes(`${definition}/`))
    ids.push(p.replace(/\/$/, '').split('/').pop()!);
  assert.equal(ids.length, 1, `expected one backup of ${definition}, found ${ids.join(', ')}`);
  return (await env.store.getJson(manifestKey(definition, ids[0]!))) as Manifest;
}

async function download(key: string, path: string): Promise<void> {
  await pipeline(await env.store.get(key), createWriteStream(path));
}

test('two containers sharing two volumes: backup, then age -d | zstd -d | tar -x gives identical trees', async () => {
  const { fixtures, tag } = env;
  const data = await fixtures.volume(`${tag}-data`);
  const media = await fixtures.volume(`${tag}-media`);
  const marker = `DOCKVAULT-PLAINTEXT-MARKER-${tag}`;
  await fixtures.sh(
    [data, media],
    `cd /${data}
     mkdir -p dir/sub empty 'données'
     echo hello > dir/sub/file.txt; chmod 600 dir/sub/file.txt
     printf '#!/bin/sh\\necho hi\\n' > tool.sh; chmod 4755 tool.sh
     ln -s dir/sub/file.txt link-to-file; ln -s /nonexistent dangling
     ln dir/sub/file.txt hardlink.txt
     echo unicode > 'données/日本語 ✓.txt'
     echo owned > owned.txt; chown 1234:5678 owned.txt; chown 1234:5678 dir
     echo '${marker}' > marker.txt
     head -c 209715200 /dev/urandom > big.bin
     dd if=/dev/zero of=sparse.img bs=1 count=0 seek=268435456 2>/dev/null
     touch -d '2001-02-03 04:05:06' dir/sub/file.txt
     cd /${media}
     i=0; while [ $i -lt 300 ]; do echo "line $i of some compressible text $i" > "text-$i.txt"; i=$((i+1)); done
     echo '${marker}' >> text-7.txt`,
  );
  const web = await fixtures.sleeper(`${tag}-web`, [data, media]);
  const app = await fixtures.sleeper(`${tag}-app`, [data, media]);
  const idle = await fixtures.sleeper(`${tag}-idle`, [data], { start: false });
  await env.writeConfig([
    { name: 'site', type: 'standard', containers: [web, app, idle], volumes: [data, media] },
  ]);
  await env.startWorker();

  const run = await runCli(['run', 'site', '--config', env.configPath]);
  assert.equal(run.code, 0, `run failed:\n${run.stdout}\n${run.stderr}\nworker:\n${env.worker!.output()}`);
  assert.match(run.stdout, /OK +site/);

  assert.equal(await fixtures.isRunning(web), true, 'web is running again');
  assert.equal(await fixtures.isRunning(app), true, 'app is running again');
  assert.equal(await fixtures.isRunning(idle), false, 'a container that was stopped before stays stopped');

  const manifest = await onlyBackup('site');
  assert.deepEqual(manifest.containers.stopped, [web, app]);
  assert.deepEqual(manifest.containers.notRunning, [idle]);
  assert.deepEqual(manifest.encryption.recipients, [env.recipient]);
  assert.ok(manifest.downtimeMs > 0, 'downtime is measured');
  assert.equal(manifest.objects.length, 2);

  for (const [volume, object] of [
    [data, manifest.objects[0]!],
    [media, manifest.objects[1]!],
  ] as const) {
    assert.equal(object.source, volume);
    const stored = join(env.dir, `${volume}.tar.zst.age`);
    await download(`site/${manifest.backupId}/${object.name}`, stored);
    const bytes = await readFile(stored);
    assert.equal(bytes.length, object.storedBytes, 'stored size matches the manifest');
    assert.equal(bytes.includes(marker), false, `plaintext marker found in stored object ${object.name}`);
    assert.equal(
      createHash('sha256').update(bytes).digest('hex'),
      object.sha256,
      'sha256 matches the manifest',
    );

    const out = join(env.dir, `restored-${volume}`);
    await mkdir(out);
    await exec('bash', [
      '-o',
      'pipefail',
      '-c',
      `age -d -i "$1" "$2" | zstd -d | tar -x --numeric-owner -p -C "$3"`,
      'restore',
      env.identityPath,
      stored,
      out,
    ]);
    const expected = await describeTree(await fixtures.mountpoint(volume));
    const actual = await describeTree(out);
    assert.deepEqual(actual, expected, `restored tree of ${volume} differs`);
  }
  // The sparse image must not have been stored as 256 MiB of zeros.
  assert.ok(manifest.objects[0]!.storedBytes < 230 * 1024 * 1024, 'sparse file stayed small');

  const list = await runCli(['list', '--config', env.configPath]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`site\\t${manifest.backupId}`));
});

test('streaming mode (staging: none) stores the same archive without a staging disk', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-stream`);
  await fixtures.sh(
    [vol],
    `cd /${vol}; mkdir d; echo a > d/a; head -c 12582912 /dev/urandom > rnd; ln -s d/a l`,
  );
  const app = await fixtures.sleeper(`${tag}-stream-app`, [vol]);
  await env.writeConfig([
    {
      name: 'streamed',
      type: 'standard',
      containers: [app],
      volumes: [vol],
      staging: 'none',
      // A failing post-start hook is reported, not fatal: the backup itself is good.
      hooks: { postStart: [{ container: app, command: 'echo cache warm-up failed >&2; exit 3' }] },
    },
  ]);
  await env.worker?.stop();
  await env.startWorker();
  const run = await runCli(['run', 'streamed', '--config', env.configPath]);
  assert.equal(run.code, 0, `run failed:\n${run.stdout}\n${run.stderr}\nworker:\n${env.worker!.output()}`);
  assert.match(run.stdout, /warning: postStart hook .* exit code 3: cache warm-up failed/);
  assert.equal(await fixtures.isRunning(app), true);
  const manifest = await onlyBackup('streamed');
  const object = manifest.objects[0]!;
  const stored = join(env.dir, 'streamed.age');
  await download(`streamed/${manifest.backupId}/${object.name}`, stored);
  const out = join(env.dir, 'restored-streamed');
  await mkdir(out);
  await exec('bash', [
    '-o',
    'pipefail',
    '-c',
    `age -d -i "$1" "$2" | zstd -d | tar -x --numeric-owner -p -C "$3"`,
    'x',
    env.identityPath,
    stored,
    out,
  ]);
  assert.deepEqual(await describeTree(out), await describeTree(await fixtures.mountpoint(vol)));
});
