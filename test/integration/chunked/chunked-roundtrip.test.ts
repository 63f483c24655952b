// Chunked volumes end to end on the real stack: a series of backups with changes in between, each point
// restored by `dockvault restore` and by the README's manual loop (age, zstd, tar); chunks shared
// between points and between definitions; a failed run's chunks reused by the next one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import {
  CHUNKS_DIR,
  isPackName,
  listChunks,
  listStoredChunks,
  parseChunkIndex,
  storedKey,
} from '../../../src/storage/chunks.ts';
import { MANIFEST_V3, type Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { describeTree, type TreeEntry } from '../../helpers/tree.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { demandingTree, download, restoreCli, runBackup } from '../restore/helpers.ts';

const exec = promisify(execFile);
// Definition names are workflow ids and S3 keys on the shared stack: unique to this run.
const suffix = randomBytes(3).toString('hex');
const [SITE, MIRROR, FAILING, STAGED, STREAMED] = ['site', 'mirror', 'failing', 'staged', 'streamed'].map(
  (n) => `ck-${n}-${suffix}`,
) as [string, string, string, string, string];
let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

/** The README's manual restore of a chunked volume, exactly as written there. */
async function readmeLoop(): Promise<string> {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.includes('while read -r name plain stored pack offset'));
  assert.ok(block, 'README.md has the manual restore loop of chunked volumes');
  return block;
}

let manualRestores = 0;

/** Runs the README's loop in a fresh directory holding a copy of the chunks and the index. */
async function restoreByHand(
  definition: string,
  backupId: string,
  volume: string,
): Promise<Map<string, TreeEntry>> {
  const dir = join(env.dir, `by-hand-${++manualRestores}`);
  await mkdir(dir);
  await download(env, `${definition}/${backupId}/volumes/${volume}.tar.chunks`, join(dir, 'data.tar.chunks'));
  const index = parseChunkIndex(await readFile(join(dir, 'data.tar.chunks'), 'utf8'), 'index');
  // The chunks and packs it lists, each once: what `aws s3 sync` of the chunk store would bring.
  for (const key of new Set(index.map((ref) => storedKey(ref)))) {
    await mkdir(join(dir, dirname(key)), { recursive: true });
    await download(env, key, join(dir, key));
  }
  await exec('cp', [env.identityPath, join(dir, 'key.txt')]);
  await exec('bash', ['-c', await readmeLoop()], { cwd: dir });
  return describeTree(join(dir, 'restored'));
}

function volumeObject(manifest: Manifest, volume: string) {
  const object = manifest.objects.find((o) => o.source === volume);
  assert.ok(object?.chunked, `the manifest lists ${volume} as a chunked object`);
  return { ...object, chunked: object.chunked };
}

test('a series of chunked backups with changes in between: every point restores to exactly its tree', async () => {
  const { fixtures, tag } = env;
  const data = await fixtures.volume(`${tag}-data`);
  const marker = `DOCKVAULT-PLAINTEXT-MARKER-${tag}`;
  await fixtures.sh(
    [data],
    `${demandingTree(data, 12)}
     head -c 20971520 /dev/urandom > /${data}/db.img
     i=0; while [ $i -lt 300 ]; do echo "line $i of some compressible text ${marker}" > /${data}/text-$i.txt; i=$((i+1)); done`,
  );
  const app = await fixtures.sleeper(`${tag}-app`, [data]);
  await env.writeConfig([{ name: SITE, type: 'standard', containers: [app], volumes: [data] }], {
    volumeFormat: 'chunked',
  });
  await env.startWorker();

  const changes = [
    // Pages of the two large files rewritten in place: from now on they are stored in 64 KiB blocks
    // (this backup stores both once more, in blocks; docs/FORMAT.md, "Reading only what changed").
    `cd /${data}
     head -c 4096 /dev/urandom | dd of=db.img bs=4096 seek=5 conv=notrunc 2>/dev/null
     head -c 4096 /dev/urandom | dd of=big.bin bs=4096 seek=7 conv=notrunc 2>/dev/null`,
    // new, changed, deleted and renamed files, a page of the database rewritten in place, a hard link
    `cd /${data}
     echo new > added.txt; echo changed > text-5.txt; rm text-6.txt; mv text-7.txt renamed-7.txt
     head -c 8192 /dev/urandom | dd of=db.img bs=4096 seek=1000 conv=notrunc 2>/dev/null
     ln text-8.txt text-8-link.txt`,
    // a log appended, a directory replaced by a file, the hard link's other name removed
    `cd /${data}
     head -c 3000000 /dev/urandom >> db.img
     rm -rf empty; echo now-a-file > empty; rm text-8.txt
     head -c 4096 /dev/urandom | dd of=big.bin bs=4096 seek=100 conv=notrunc 2>/dev/null`,
  ];
  const points: { manifest: Manifest; tree: Map<string, TreeEntry> }[] = [];
  for (let i = 0; i <= changes.length; i++) {
    if (i > 0) await fixtures.sh([data], changes[i - 1]!);
    const tree = await describeTree(await fixtures.mountpoint(data));
    const manifest = await runBackup(env, SITE);
    assert.equal(await fixtures.isRunning(app), true, 'app is running again');
    points.push({ manifest, tree });
  }

  const first = volumeObject(points[0]!.manifest, data);
  // Even the first backup has small chunks (the archive's end, tar headers), stored in packs.
  assert.equal(points[0]!.manifest.format, MANIFEST_V3);
  assert.ok((first.chunked.packed ?? 0) > 0, 'small chunks are in packs');
  assert.equal(first.name, `volumes/${data}.tar.chunks`);
  assert.ok(first.chunked.chunks >= 20, `${first.chunked.chunks} chunks for ~33 MiB of tar`);
  const switched = volumeObject(points[1]!.manifest, data);
  // The two files' blocks (512) are stored a few packs at a time, not in a request each.
  assert.ok(
    (switched.chunked.newPacks ?? 0) > 0 &&
      (switched.chunked.newPacks ?? 0) * 32 < switched.chunked.newChunks,
    `${switched.chunked.newChunks} new chunks in ${switched.chunked.newPacks} packs`,
  );
  assert.ok(
    // db.img (20 MiB) and big.bin (12 MiB) are random: their blocks do not compress.
    switched.chunked.uploadedBytes < 33 * 1024 * 1024,
    `the switch to blocks stores the two large files again, not the volume (${switched.chunked.uploadedBytes} bytes)`,
  );
  for (const { manifest } of points.slice(2)) {
    const object = volumeObject(manifest, data);
    // The changes write about 3 MiB (the append) and a few pages and small files: they cost about that.
    assert.ok(
      object.chunked.uploadedBytes < 6 * 1024 * 1024,
      `backup ${manifest.backupId} uploaded ${object.chunked.uploadedBytes} bytes in ${object.chunked.newChunks} of ${object.chunked.chunks} chunks`,
    );
  }
  const chunks = await listChunks(env.store);
  const objects = await listStoredChunks(env.store);
  assert.ok([...objects.keys()].some(isPackName), 'packs are stored');
  for (const { key } of objects.values()) {
    const stored = await buffer(await env.store.get(key));
    assert.equal(stored.includes(marker), false, `plaintext marker found in ${key}`);
  }

  for (const [i, { manifest, tree }] of points.entries()) {
    const byHand = await restoreByHand(SITE, manifest.backupId, data);
    assert.deepEqual(byHand, tree, `point ${i + 1}, restored by the README's steps`);
    const copy = await fixtures.volume(`${tag}-copy-${i}`);
    const restore = await restoreCli(env, [
      SITE,
      '--backup',
      manifest.backupId,
      '--to-volume',
      `${data}=${copy}`,
    ]);
    assert.equal(
      restore.code,
      0,
      `restore failed:\n${restore.stdout}\n${restore.stderr}\n${env.worker!.output()}`,
    );
    assert.deepEqual(
      await describeTree(await fixtures.mountpoint(copy)),
      tree,
      `point ${i + 1}, dockvault restore`,
    );
  }

  const verify = await runCli([
    'verify',
    SITE,
    '--all',
    '--identity',
    env.identityPath,
    '--config',
    env.configPath,
  ]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(
    verify.stdout,
    new RegExp(`verified ${points.length} object\\(s\\) in ${points.length} backup\\(s\\)`),
  );

  // Two definitions with the same data deduplicate against each other: nothing new is uploaded.
  await env.writeConfig(
    [
      { name: SITE, type: 'standard', containers: [app], volumes: [data] },
      { name: MIRROR, type: 'standard', containers: [app], volumes: [data] },
    ],
    { volumeFormat: 'chunked' },
  );
  const mirror = volumeObject(await runBackup(env, MIRROR), data);
  assert.equal(mirror.chunked.newChunks, 0, 'the second definition found every chunk in the store');
  assert.equal(mirror.chunked.uploadedBytes, 0);
  assert.equal(mirror.plaintextBytes, volumeObject(points.at(-1)!.manifest, data).plaintextBytes);
  assert.equal((await listChunks(env.store)).size, chunks.size, 'no chunk was added');
  assert.equal((await listStoredChunks(env.store)).size, objects.size, 'no chunk or pack was stored');
  const list = await runCli(['list', '--config', env.configPath]);
  assert.equal(list.code, 0, list.stderr);
  assert.doesNotMatch(
    list.stdout,
    new RegExp(`^${CHUNKS_DIR}\\b`, 'm'),
    'the chunk store is not a definition',
  );

  // Prune deletes the older points' manifests and indexes and keeps every chunk: the kept point restores.
  await env.writeConfig(
    [{ name: SITE, type: 'standard', containers: [app], volumes: [data], retention: { keepLast: 1 } }],
    {
      volumeFormat: 'chunked',
    },
  );
  const prune = await runCli(['prune', SITE, '--config', env.configPath]);
  assert.equal(prune.code, 0, prune.stdout + prune.stderr);
  assert.deepEqual(
    (await env.backups(SITE)).prefixes,
    [`${SITE}/${points.at(-1)!.manifest.backupId}/`],
    'only the newest point is left',
  );
  // Within the grace period (s3.chunkGrace, default 25h) the older points' chunks are marked, not deleted.
  assert.equal((await listStoredChunks(env.store)).size, objects.size, 'no chunk or pack was deleted');
  assert.deepEqual(await restoreByHand(SITE, points.at(-1)!.manifest.backupId, data), points.at(-1)!.tree);
});

test('a run that fails after some chunks were uploaded leaves no manifest; the next run reuses them', async () => {
  const { fixtures, tag } = env;
  const first = await fixtures.volume(`${tag}-first`);
  const second = await fixtures.volume(`${tag}-second`);
  await fixtures.sh(
    [first, second],
    `head -c 62914560 /dev/urandom > /${first}/a; head -c 41943040 /dev/urandom > /${second}/b`,
  );
  const app = await fixtures.sleeper(`${tag}-fail-app`, [first, second]);
  await env.writeConfig([{ name: FAILING, type: 'standard', containers: [app], volumes: [first, second] }], {
    volumeFormat: 'chunked',
  });
  // The worker of the first test serves this one too: the plan comes from the config the CLI reads.
  if (!env.worker) await env.startWorker();
  const before = new Set((await listChunks(env.store)).keys());
  const startedAt = async () => (await fixtures.docker.getContainer(app).inspect()).State.StartedAt;
  const firstStart = await startedAt();
  const running = runCli(['run', FAILING, '--config', env.configPath]);
  // Both volumes are staged before the containers restart and the first upload starts: then spoil the
  // second's staged archive, so that its upload fails once the first volume's chunks are stored.
  await waitFor(async () => (await startedAt()) !== firstStart, 120_000, 'the restart after archiving');
  const [backupDir] = await readdir(env.stagingDir);
  await appendFile(join(env.stagingDir, backupDir!, `${second}.tar`), 'x');
  const run = await running;
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stdout, new RegExp(`FAILED ${FAILING}`));
  assert.deepEqual((await env.backups(FAILING)).manifests, [], 'no manifest');
  const left = [...(await listChunks(env.store)).keys()].filter((n) => !before.has(n));
  assert.ok(left.length > 0, 'the failed run left chunks');

  const manifest = await runBackup(env, FAILING);
  const reused = volumeObject(manifest, first);
  assert.ok(
    reused.chunked.newChunks < reused.chunked.chunks,
    `the first volume's chunks were reused (${reused.chunked.newChunks} of ${reused.chunked.chunks} uploaded)`,
  );
  const index = parseChunkIndex(
    (await buffer(await env.store.get(`${FAILING}/${manifest.backupId}/${reused.name}`))).toString(),
    'index',
  );
  assert.ok(
    index.some((c) => left.includes(c.name)),
    'the new backup lists chunks the failed run uploaded',
  );
  assert.deepEqual(
    await restoreByHand(FAILING, manifest.backupId, first),
    await describeTree(await fixtures.mountpoint(first)),
  );
});

test('streaming mode (staging: none) stores the same chunks as staged mode', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-stream`);
  await fixtures.sh([vol], `${demandingTree(vol, 4)}`);
  const app = await fixtures.sleeper(`${tag}-stream-app`, [vol]);
  await env.writeConfig(
    [
      { name: STAGED, type: 'standard', containers: [app], volumes: [vol] },
      { name: STREAMED, type: 'standard', containers: [app], volumes: [vol], staging: 'none' },
    ],
    { volumeFormat: 'chunked' },
  );
  if (!env.worker) await env.startWorker();
  const staged = volumeObject(await runBackup(env, STAGED), vol);
  const streamed = await runBackup(env, STREAMED);
  const object = volumeObject(streamed, vol);
  assert.equal(object.chunked.newChunks, 0, 'the streamed tar is the staged one, chunk for chunk');
  assert.equal(object.sha256, staged.sha256, 'the same chunk index');
  assert.equal(await fixtures.isRunning(app), true);
  assert.deepEqual(
    await restoreByHand(STREAMED, streamed.backupId, vol),
    await describeTree(await fixtures.mountpoint(vol)),
  );
});
