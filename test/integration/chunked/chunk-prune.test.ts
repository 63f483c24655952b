// Chunk collection by prune on the real stack: a series of chunked backups pruned by keep rules, every
// kept point restored exactly; chunks only deleted backups used go once the grace period has passed,
// never before; a worker killed in the middle of the chunk deletion loses nothing a kept point needs
// and the prune finishes afterwards; a failed run's chunks are collected after the grace period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { listStoredChunks, parseChunkIndex } from '../../../src/storage/chunks.ts';
import { MARKERS_DIR } from '../../../src/storage/chunk-markers.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { describeTree, type TreeEntry } from '../../helpers/tree.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { demandingTree, restoreCli, runBackup } from '../restore/helpers.ts';

const GRACE_S = 20;
const suffix = randomBytes(3).toString('hex');

/** The chunk names a backup's volume lists. */
/** The objects of the chunk store a backup needs: the chunks it lists stored alone, and their packs. */
async function chunksOf(env: BackupTestEnv, definition: string, manifest: Manifest): Promise<Set<string>> {
  const names = new Set<string>();
  for (const object of manifest.objects.filter((o) => o.chunked)) {
    const index = await text(await env.store.get(`${definition}/${manifest.backupId}/${object.name}`));
    for (const ref of parseChunkIndex(index, object.name)) names.add(ref.pack ?? ref.name);
  }
  assert.ok(names.size > 0, `${manifest.backupId} lists chunks`);
  return names;
}

async function stored(env: BackupTestEnv): Promise<Set<string>> {
  return new Set((await listStoredChunks(env.store)).keys());
}

async function markers(env: BackupTestEnv): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of env.store.list(`${MARKERS_DIR}/`)) keys.push(o.key);
  return keys;
}

async function prune(env: BackupTestEnv, definition: string, ...flags: string[]): Promise<string> {
  const run = await runCli(['prune', definition, ...flags, '--config', env.configPath]);
  assert.equal(run.code, 0, `prune failed:\n${run.stdout}\n${run.stderr}\n${env.worker?.output()}`);
  return run.stdout;
}

/** `chunks  R (..) referenced, C (..) unreferenced, deleted D (..), locked L (..)` as numbers. */
function chunkLine(output: string): {
  referenced: number;
  unreferenced: number;
  deleted: number;
  locked: number;
} {
  const m =
    /chunks {2}(\d+) \([^)]*\) referenced, (\d+) \([^)]*\) unreferenced, (?:deleted|would delete) (\d+) \([^)]*\), locked (\d+)/.exec(
      output,
    );
  assert.ok(m, `prune prints its chunk counts:\n${output}`);
  const [referenced, unreferenced, deleted, locked] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { referenced, unreferenced, deleted, locked };
}

async function restoresExactly(
  env: BackupTestEnv,
  definition: string,
  volume: string,
  points: { manifest: Manifest; tree: Map<string, TreeEntry> }[],
): Promise<void> {
  for (const [i, { manifest, tree }] of points.entries()) {
    const copy = await env.fixtures.volume(`${env.tag}-copy-${manifest.backupId.slice(-6)}-${i}`);
    const restore = await restoreCli(env, [
      definition,
      '--backup',
      manifest.backupId,
      '--to-volume',
      `${volume}=${copy}`,
    ]);
    assert.equal(
      restore.code,
      0,
      `restore of ${manifest.backupId} failed:\n${restore.stdout}\n${restore.stderr}`,
    );
    assert.deepEqual(
      await describeTree(await env.fixtures.mountpoint(copy)),
      tree,
      `kept point ${manifest.backupId}`,
    );
  }
}

async function withEnv(body: (env: BackupTestEnv) => Promise<void>): Promise<void> {
  const env = await BackupTestEnv.create('gc');
  try {
    await body(env);
  } finally {
    await env.close();
  }
}

test('prune keeps every chunk of the kept points and deletes the others only after the grace period', () =>
  withEnv(async (env) => {
    const SITE = `gc-site-${suffix}`;
    const { fixtures, tag } = env;
    const data = await fixtures.volume(`${tag}-data`);
    await fixtures.sh([data], `${demandingTree(data, 4)}; head -c 3145728 /dev/urandom > /${data}/gen-0.bin`);
    const app = await fixtures.sleeper(`${tag}-app`, [data]);
    const definition = { name: SITE, type: 'standard', containers: [app], volumes: [data] };
    await env.writeConfig([definition], { volumeFormat: 'chunked' }, { chunkGrace: `${GRACE_S}s` });
    await env.startWorker();

    // Each point has a generation file of its own: chunks that only it lists.
    const points: { manifest: Manifest; tree: Map<string, TreeEntry>; chunks: Set<string> }[] = [];
    for (let i = 0; i < 4; i++) {
      if (i > 0) {
        await fixtures.sh(
          [data],
          `cd /${data}; rm gen-${i - 1}.bin; head -c 3145728 /dev/urandom > gen-${i}.bin; echo ${i} > text-${i}.txt`,
        );
      }
      const tree = await describeTree(await fixtures.mountpoint(data));
      const manifest = await runBackup(env, SITE);
      points.push({ manifest, tree, chunks: await chunksOf(env, SITE, manifest) });
      await sleep(1100); // backup ids are to the second
    }
    const kept = points.slice(2);
    const keptChunks = new Set(kept.flatMap((p) => [...p.chunks]));
    const onlyDeleted = new Set(
      points.slice(0, 2).flatMap((p) => [...p.chunks].filter((n) => !keptChunks.has(n))),
    );
    assert.ok(onlyDeleted.size >= 4, `${onlyDeleted.size} chunks only the two oldest points list`);
    assert.deepEqual(
      await stored(env),
      new Set([...keptChunks, ...onlyDeleted]),
      'the store holds exactly these',
    );

    await env.writeConfig(
      [{ ...definition, retention: { keepLast: 2 } }],
      { volumeFormat: 'chunked' },
      { chunkGrace: `${GRACE_S}s` },
    );
    const first = await prune(env, SITE);
    assert.match(first, new RegExp(`deleted ${points[0]!.manifest.backupId}`));
    assert.match(first, new RegExp(`keep +${points[3]!.manifest.backupId}`));
    assert.deepEqual(chunkLine(first), {
      referenced: keptChunks.size,
      unreferenced: onlyDeleted.size,
      deleted: 0,
      locked: 0,
    });
    assert.deepEqual(
      await stored(env),
      new Set([...keptChunks, ...onlyDeleted]),
      'nothing deleted before the grace',
    );
    assert.equal((await markers(env)).length, 1, 'the candidates are marked');
    const again = await prune(env, SITE);
    assert.equal(chunkLine(again).deleted, 0, 'a second prune within the grace deletes nothing');
    await restoresExactly(env, SITE, data, kept);

    await sleep(GRACE_S * 1000 + 1000);
    const before = await markers(env);
    const dry = await prune(env, SITE, '--dry-run');
    assert.deepEqual(chunkLine(dry), {
      referenced: keptChunks.size,
      unreferenced: onlyDeleted.size,
      deleted: onlyDeleted.size,
      locked: 0,
    });
    assert.deepEqual(
      await stored(env),
      new Set([...keptChunks, ...onlyDeleted]),
      'a dry run deletes nothing',
    );
    assert.deepEqual(await markers(env), before, 'a dry run writes nothing');

    const last = await prune(env, SITE);
    assert.deepEqual(chunkLine(last), {
      referenced: keptChunks.size,
      unreferenced: onlyDeleted.size,
      deleted: onlyDeleted.size,
      locked: 0,
    });
    assert.deepEqual(await stored(env), keptChunks, "every kept point's chunk remains, the others are gone");
    assert.deepEqual(await markers(env), [], 'used markers are removed, and nothing is left to mark');
    await restoresExactly(env, SITE, data, kept);
  }));

test('a worker killed in the middle of the chunk deletion loses nothing a kept point needs; the prune then finishes', () =>
  withEnv(async (env) => {
    const SITE = `gc-kill-${suffix}`;
    const { fixtures, tag } = env;
    const data = await fixtures.volume(`${tag}-data`);
    await fixtures.sh(
      [data],
      `head -c 41943040 /dev/urandom > /${data}/old.bin; echo kept > /${data}/kept.txt`,
    );
    const app = await fixtures.sleeper(`${tag}-app`, [data]);
    const proxy = new TcpProxy(stack.s3Endpoint);
    await proxy.start();
    try {
      const definition = {
        name: SITE,
        type: 'standard',
        containers: [app],
        volumes: [data],
        retention: { keepLast: 1 },
      };
      // The worker reaches S3 through the proxy, which can stop its chunk deletion half-way.
      await env.writeConfig(
        [definition],
        { volumeFormat: 'chunked' },
        { chunkGrace: `${GRACE_S}s`, endpoint: proxy.url },
      );
      await env.startWorker();
      const old = await runBackup(env, SITE);
      const oldChunks = await chunksOf(env, SITE, old);
      await fixtures.sh([data], `rm /${data}/old.bin; head -c 1048576 /dev/urandom > /${data}/new.bin`);
      await sleep(1100);
      const tree = await describeTree(await fixtures.mountpoint(data));
      const manifest = await runBackup(env, SITE); // its prune deletes the old point and marks its chunks
      const keptChunks = await chunksOf(env, SITE, manifest);
      const doomed = [...oldChunks].filter((n) => !keptChunks.has(n));
      const dirs = new Set(doomed.map((n) => n.slice(0, 2)));
      assert.ok(dirs.size >= 10, `${doomed.length} unreferenced chunks in ${dirs.size} directories`);
      assert.deepEqual(await env.backups(SITE).then((b) => b.manifests), [`${SITE}/${manifest.backupId}/`]);
      assert.equal((await markers(env)).length, 1);

      await sleep(GRACE_S * 1000 + 1000);
      const held = proxy.holdRequests(/^POST \/[^ ]*\?delete/m, 3);
      const pruning = runCli(['prune', SITE, '--config', env.configPath]);
      await held;
      await env.worker!.stop('SIGKILL');
      const left = await stored(env);
      const deleted = doomed.filter((n) => !left.has(n));
      assert.ok(
        deleted.length > 0 && deleted.length < doomed.length,
        `killed after ${deleted.length} of ${doomed.length} deletions`,
      );
      for (const name of keptChunks) assert.ok(left.has(name), `kept chunk ${name} is still stored`);

      // The next worker takes the prune over (its plan names the proxy, which lets requests pass again).
      proxy.stopHolding();
      await env.startWorker();
      const result = await pruning;
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}\n${env.worker!.output()}`);
      const after = await stored(env);
      assert.deepEqual(
        doomed.filter((n) => after.has(n)),
        [],
        'every unreferenced chunk is gone',
      );
      assert.deepEqual(new Set([...after].filter((n) => keptChunks.has(n))), keptChunks);
      assert.deepEqual(await markers(env), []);
      await restoresExactly(env, SITE, data, [{ manifest, tree }]);
      assert.deepEqual(chunkLine(await prune(env, SITE)).deleted, 0);
    } finally {
      await proxy.close();
    }
  }));

test("a failed run's chunks are collected once the grace period has passed, not before", () =>
  withEnv(async (env) => {
    const FAILING = `gc-failing-${suffix}`;
    const { fixtures, tag } = env;
    const first = await fixtures.volume(`${tag}-first`);
    const second = await fixtures.volume(`${tag}-second`);
    await fixtures.sh(
      [first, second],
      `head -c 31457280 /dev/urandom > /${first}/a; head -c 20971520 /dev/urandom > /${second}/b`,
    );
    const app = await fixtures.sleeper(`${tag}-app`, [first, second]);
    await env.writeConfig(
      [{ name: FAILING, type: 'standard', containers: [app], volumes: [first, second] }],
      { volumeFormat: 'chunked' },
      { chunkGrace: `${GRACE_S}s` },
    );
    await env.startWorker();
    const startedAt = async () => (await fixtures.docker.getContainer(app).inspect()).State.StartedAt;
    const firstStart = await startedAt();
    const running = runCli(['run', FAILING, '--config', env.configPath]);
    // Both volumes are staged before the restart; spoiling the second's archive fails its upload after
    // the first volume's chunks are stored.
    await waitFor(async () => (await startedAt()) !== firstStart, 120_000, 'the restart after archiving');
    const [backupDir] = await readdir(env.stagingDir);
    await appendFile(join(env.stagingDir, backupDir!, `${second}.tar`), 'x');
    const run = await running;
    assert.equal(run.code, 1, run.stdout);
    assert.deepEqual((await env.backups(FAILING)).prefixes, [], 'the failed run left no backup prefix');
    const left = await stored(env);
    assert.ok(left.size > 0, 'the failed run left chunks');

    const marked = await prune(env, FAILING);
    assert.deepEqual(chunkLine(marked), { referenced: 0, unreferenced: left.size, deleted: 0, locked: 0 });
    assert.deepEqual(await stored(env), left, 'kept within the grace period');
    await sleep(GRACE_S * 1000 + 1000);
    assert.equal(chunkLine(await prune(env, FAILING)).deleted, left.size);
    assert.equal((await stored(env)).size, 0, "the failed run's chunks are gone");
  }));
