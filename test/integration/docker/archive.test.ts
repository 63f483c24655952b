import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { archiveVolume, archiveVolumeToFile, chooseArchiveMethod } from '../../../src/docker/archive.ts';
import type { ArchiveMethod } from '../../../src/docker/archive.ts';
import { ArchiveError, VolumeNotFoundError } from '../../../src/docker/errors.ts';
import { estimateVolumeSize, inspectVolume } from '../../../src/docker/volumes.ts';
import { Resources, docker } from './helpers.ts';
import { describeTree, diffTrees } from '../../helpers/tree.ts';

const run = promisify(execFile);
const res = new Resources();
let scratch: string;
let volume: string;
let mountpoint: string;

const LONG_DIR = 'long-' + 'd'.repeat(120);
const FILL = `
set -e
cd /data
mkdir -p a/b/c empty "données" "${LONG_DIR}/sub"
echo hello > a/b/c/deep.txt
echo "$(seq 1 2000)" > "${LONG_DIR}/sub/$(printf 'n%.0s' $(seq 1 120)).txt"
echo secret > m600 && chmod 600 m600
printf '#!/bin/sh\\necho hi\\n' > m755 && chmod 755 m755
echo suid > m4755 && chmod 4755 m4755
echo owned > owned && chown 1234:5678 owned
mkdir owned-dir && chown 1234:5678 owned-dir && chmod 750 owned-dir
echo 'unicode ✓' > "données/日本語 ✓.txt"
ln -s a/b/c/deep.txt link
ln -s /nonexistent/target dangling
ln a/b/c/deep.txt hard
head -c 31457280 /dev/urandom > random30m
dd if=/dev/urandom of=sparse bs=4096 count=2 seek=100000 2>/dev/null
truncate -s 1G sparse
touch -d '2020-01-02 03:04:05' a/b/c/deep.txt
`;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), `${res.prefix}-`));
  volume = await res.volume('archive');
  await res.runInVolume(volume, FILL);
  mountpoint = (await inspectVolume(docker, volume)).mountpoint;
  // A container that uses the volume: its image becomes the docker method's default helper image.
  await res.container('user', ['sleep', '3600'], [`${volume}:/data`], false);
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
  await res.cleanup();
});

test('chooseArchiveMethod picks host when this root process can read the mountpoint', async () => {
  assert.equal(await chooseArchiveMethod(docker, volume), 'host');
  await assert.rejects(() => chooseArchiveMethod(docker, `${res.prefix}-novol`), VolumeNotFoundError);
});

test('estimateVolumeSize counts apparent sizes, hard links once', async () => {
  const size = await estimateVolumeSize(docker, volume);
  assert.ok(size > 1024 ** 3 + 30 * 1024 ** 2, `size ${size}`);
  assert.ok(size < 1024 ** 3 + 32 * 1024 ** 2, `size ${size}`);
});

const sizes: Partial<Record<ArchiveMethod, number>> = {};
for (const method of ['host', 'docker'] as const) {
  test(`method '${method}': the archive extracts to an identical tree`, async () => {
    const file = join(scratch, `${method}.tar`);
    let lastProgress = 0;
    const result = await archiveVolumeToFile(docker, volume, file, {
      method,
      onProgress: (bytes) => (lastProgress = bytes),
    });
    assert.equal(result.method, method);
    assert.equal(result.bytes, (await stat(file)).size);
    assert.equal(lastProgress, result.bytes);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    sizes[method] = result.bytes;

    const { stdout: listing } = await run('tar', ['-tf', file], { maxBuffer: 1 << 20 });
    const names = listing.trim().split('\n');
    assert.equal(names[0], './');
    assert.ok(
      names.every((n) => n.startsWith('./')),
      'entries relative to the volume root',
    );
    assert.ok(names.includes('./données/日本語 ✓.txt'));

    const out = join(scratch, `${method}-extracted`);
    await mkdir(out);
    await run('tar', ['-x', '--numeric-owner', '--same-permissions', '-f', file, '-C', out]);
    const problems = diffTrees(
      await describeTree(mountpoint, { dirMtimes: true }),
      await describeTree(out, { dirMtimes: true }),
    );
    assert.deepEqual(problems, []);
    await rm(out, { recursive: true, force: true });
    await rm(file, { force: true });
  });
}

test("the sparse file keeps the 'host' archive small; 'docker' stores it in full", () => {
  assert.ok(sizes.host !== undefined && sizes.docker !== undefined, 'both archives were made');
  assert.ok(sizes.host < 40 * 1024 ** 2, `host archive ${sizes.host} bytes`);
  // The engine's archive (Go archive/tar) has no sparse support: the 1 GiB of holes is written as zeros.
  assert.ok(sizes.docker > 1024 ** 3, `docker archive ${sizes.docker} bytes`);
});

test('both methods produce the same entry names in the same order', async () => {
  const small = await res.volume('small');
  await res.runInVolume(small, 'cd /data && mkdir -p x/y z && echo 1 > x/y/f && ln x/y/f z/h && ln -s x l');
  const lists: string[][] = [];
  for (const method of ['host', 'docker'] as const) {
    const file = join(scratch, `small-${method}.tar`);
    await archiveVolumeToFile(docker, small, file, { method });
    const { stdout } = await run('tar', ['-tvf', file, '--numeric-owner']);
    lists.push(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^.*\d\d:\d\d /, '')),
    );
  }
  assert.deepEqual(lists[0], lists[1]);
  assert.ok(lists[0]?.includes('./z/h link to ./x/y/f'));
});

test('archiving a missing volume is a VolumeNotFoundError and leaves no file', async () => {
  for (const method of ['host', 'docker'] as const) {
    const file = join(scratch, `missing-${method}.tar`);
    await writeFile(file, 'stale partial file of an earlier attempt');
    await assert.rejects(
      () => archiveVolumeToFile(docker, `${res.prefix}-novol`, file, { method }),
      (err: unknown) => err instanceof VolumeNotFoundError && err.message.includes(`${res.prefix}-novol`),
    );
    await assert.rejects(() => stat(file), { code: 'ENOENT' });
  }
});

/** Kills the tar process reading `dir` (found through /proc), as a crash or the OOM killer would. Synchronous, so it can run inside a progress callback. */
function killTarOf(dir: string): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('tar\0') && cmdline.includes(`--directory=${dir}\0`)) {
      process.kill(Number(pid), 'SIGKILL');
      return true;
    }
  }
  return false;
}

test("a killed tar makes 'done' reject and the stream error", async () => {
  const archive = await archiveVolume(docker, volume, { method: 'host' });
  await new Promise((resolve) => setTimeout(resolve, 200)); // tar fills the pipe and blocks
  assert.ok(killTarOf(mountpoint));
  await assert.rejects(
    archive.done,
    (err: unknown) => err instanceof ArchiveError && /SIGKILL/.test(err.message),
  );
  await assert.rejects(async () => {
    for await (const _chunk of archive.stream) {
      // drain
    }
  }, ArchiveError);
});

/**
 * 512 MiB of random data: tar writes a file at disk speed, so the mid-archive tests need a volume
 * that takes long enough to interrupt between two progress reports.
 */
let big: { volume: string; mountpoint: string } | undefined;
async function bigVolume() {
  if (!big) {
    const name = await res.volume('big');
    const mp = (await inspectVolume(docker, name)).mountpoint;
    execFileSync('dd', ['if=/dev/urandom', `of=${join(mp, 'big.bin')}`, 'bs=1M', 'count=512', 'status=none']);
    big = { volume: name, mountpoint: mp };
  }
  return big;
}

test('archiveVolumeToFile rejects on a failed producer and deletes the partial file', async () => {
  const file = join(scratch, 'killed.tar');
  const { volume: bigVol, mountpoint: bigMp } = await bigVolume();
  let killed: boolean | undefined;
  await assert.rejects(
    () =>
      archiveVolumeToFile(docker, bigVol, file, {
        method: 'host',
        onProgress: (bytes) => bytes > 0 && (killed ??= killTarOf(bigMp)),
      }),
    ArchiveError,
  );
  assert.equal(killed, true);
  await assert.rejects(() => stat(file), { code: 'ENOENT' });
});

test('an aborted archive rejects, deletes the file and removes the helper container', async () => {
  const { volume: bigVol } = await bigVolume();
  for (const method of ['host', 'docker'] as const) {
    const file = join(scratch, `aborted-${method}.tar`);
    const controller = new AbortController();
    await assert.rejects(() =>
      archiveVolumeToFile(docker, method === 'host' ? bigVol : volume, file, {
        method,
        signal: controller.signal,
        onProgress: (bytes) => bytes > 5 * 1024 ** 2 && controller.abort(new Error('cancelled by test')),
      }),
    );
    await assert.rejects(() => stat(file), { code: 'ENOENT' });
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const helpers = await docker.listContainers({
    all: true,
    filters: { label: [`dockvault.volume=${volume}`] },
  });
  assert.deepEqual(helpers, []);
});
