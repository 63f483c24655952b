// A worker reads each pack's trailer once: later backups find what the packs hold in the worker's state
// directory (counted on the wire, through a proxy in front of the worker), and without that file they
// read every trailer again and store nothing twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHUNKS_DIR } from '../../../src/storage/chunks.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { runBackup } from '../restore/helpers.ts';

const SITE = `pack-cache-${randomBytes(3).toString('hex')}`;

test('each pack trailer is read once per worker; without the cache all are read again', async () => {
  const env = await BackupTestEnv.create('pc');
  const proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  try {
    const { fixtures, tag } = env;
    const data = await fixtures.volume(`${tag}-data`);
    // Small files: their groups are small chunks, stored in packs; each day rewrites a few.
    await fixtures.sh([data], `for i in $(seq 1 60); do head -c 3000 /dev/urandom > /${data}/f$i; done`);
    const app = await fixtures.sleeper(`${tag}-app`, [data]);
    await env.writeConfig(
      [{ name: SITE, type: 'standard', containers: [app], volumes: [data] }],
      { volumeFormat: 'chunked' },
      { endpoint: proxy.url },
    );
    await env.startWorker();
    const packReads = () =>
      proxy.countRequests(
        new RegExp(`^GET /${stack.s3Bucket}/${tag}/${CHUNKS_DIR}/[0-9a-f]{2}/[0-9a-f]{64}\\.pack`, 'm'),
      );
    const backup = async (day: number) => {
      if (day > 0)
        await fixtures.sh([data], `head -c 3000 /dev/urandom > /${data}/f${day}; echo ${day} > /${data}/day`);
      const reads = packReads();
      const manifest: Manifest = await runBackup(env, SITE);
      await sleep(1100); // backup ids are to the second
      const { chunked } = manifest.objects[0]!;
      return { reads: reads(), newPacks: chunked!.newPacks ?? 0, newChunks: chunked!.newChunks };
    };
    const first = await backup(0);
    assert.ok(first.newPacks >= 1, `the first backup stores packs (${first.newPacks})`);
    assert.equal(first.reads, 0, 'nothing to read before the first backup');
    const second = await backup(1);
    assert.equal(second.reads, first.newPacks, "the second backup reads the first's packs' trailers");
    assert.ok(second.newPacks >= 1, 'the change is stored in a new pack');
    const third = await backup(2);
    assert.equal(third.reads, second.newPacks, 'the third reads only the trailers it has not read before');

    await rm(join(env.stateDir, 'pack-trailers'), { recursive: true });
    const fourth = await backup(3);
    assert.equal(
      fourth.reads,
      first.newPacks + second.newPacks + third.newPacks,
      'without the cache every trailer is read again',
    );
    // Only the rewritten file and the new `day` are new: the rest was found through the trailers.
    assert.ok(
      fourth.newChunks <= third.newChunks + 1,
      `${fourth.newChunks} new chunks vs ${third.newChunks}`,
    );
  } finally {
    await env.close();
    await proxy.close();
  }
});
