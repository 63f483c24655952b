// `verify --all` of chunked backups that share most of their chunks: every object that holds them (a
// chunk alone, a pack) is fetched from S3 once (counted on the wire, through a proxy in front of the
// worker), and a damaged shared chunk is reported for every backup that lists it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import { chunkKey, CHUNKS_DIR, parseChunkIndex } from '../../../src/storage/chunks.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { runBackup, verifyCli } from '../restore/helpers.ts';

const SITE = `gc-verify-${randomBytes(3).toString('hex')}`;

test('verify --all reads each shared chunk once, and names every backup a damaged chunk belongs to', async (t) => {
  const env = await BackupTestEnv.create('gc');
  const proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  try {
    const { fixtures, tag } = env;
    const data = await fixtures.volume(`${tag}-data`);
    await fixtures.sh([data], `head -c 12582912 /dev/urandom > /${data}/big.bin; echo 0 > /${data}/n`);
    const app = await fixtures.sleeper(`${tag}-app`, [data]);
    await env.writeConfig(
      [{ name: SITE, type: 'standard', containers: [app], volumes: [data] }],
      { volumeFormat: 'chunked' },
      { endpoint: proxy.url },
    );
    await env.startWorker();
    const manifests: Manifest[] = [];
    const indexes: string[][] = [];
    // The objects that hold them: a chunk stored alone, or a pack (of at most 4 MiB: one read).
    const stored = new Set<string>();
    for (let i = 0; i < 3; i++) {
      if (i > 0) await fixtures.sh([data], `echo ${i} > /${data}/n`);
      const manifest = await runBackup(env, SITE);
      const object = manifest.objects[0]!;
      const index = await text(await env.store.get(`${SITE}/${manifest.backupId}/${object.name}`));
      manifests.push(manifest);
      const refs = parseChunkIndex(index, object.name);
      indexes.push(refs.map((c) => c.name));
      for (const c of refs) stored.add(c.pack ?? c.name);
      await sleep(1100); // backup ids are to the second
    }
    const distinct = new Set(indexes.flat());
    const listed = indexes.flat().length;
    const shared = indexes[0]!.filter((n) => indexes.every((names) => names.includes(n)));
    assert.ok(shared.length >= 5, `${shared.length} chunks are listed by all three backups`);

    const chunkGets = proxy.countRequests(new RegExp(`^GET /${stack.s3Bucket}/${tag}/${CHUNKS_DIR}/`, 'm'));
    const ok = await verifyCli(env, [SITE, '--all']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /verified 3 object\(s\) in 3 backup\(s\)/);
    assert.match(
      ok.stdout,
      new RegExp(`read ${distinct.size} chunk\\(s\\) once for the ${listed} the chunk indexes list`),
    );
    assert.ok(stored.size < distinct.size, `some of the ${distinct.size} chunks share a pack`);
    assert.equal(
      chunkGets(),
      stored.size,
      `${stored.size} GETs for the ${listed} listed chunks in ${stored.size} objects`,
    );
    t.diagnostic(`verify --all of 3 backups: ${chunkGets()} GETs for ${listed} listed chunks`);

    // Damage one chunk all three share, behind the S3 server's back.
    const victim = shared[1]!;
    const file = await open(join(stack.s3DataDir, stack.s3Bucket, tag, chunkKey(victim)), 'r+');
    try {
      const b = Buffer.alloc(4);
      await file.read(b, 0, 4, 2000);
      for (let i = 0; i < 4; i++) b[i] = b[i]! ^ 0x5a;
      await file.write(b, 0, 4, 2000);
    } finally {
      await file.close();
    }
    const damagedGets = proxy.countRequests(new RegExp(`^GET /${stack.s3Bucket}/${tag}/${CHUNKS_DIR}/`, 'm'));
    const bad = await verifyCli(env, [SITE, '--all']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    const failed = bad.stdout.split('\n').filter((l) => l.startsWith('FAILED'));
    assert.equal(failed.length, 3, bad.stdout);
    for (const [i, manifest] of manifests.entries()) {
      const line = failed.find((l) => l.includes(`${SITE}/${manifest.backupId}/`));
      assert.ok(line, `backup ${manifest.backupId} is reported:\n${bad.stdout}`);
      const position = indexes[i]!.indexOf(victim) + 1;
      assert.ok(line.includes(`chunk ${position} of ${indexes[i]!.length} (${chunkKey(victim)})`), line);
    }
    assert.match(bad.stdout, /3 problem\(s\) in 3 backup\(s\)/);
    assert.equal(damagedGets(), stored.size, 'the damaged chunk, too, is read once');
  } finally {
    await env.close();
    await proxy.close();
  }
});
