// Chunks (alone, and in packs) missing, tampered with or truncated in the S3 server's own storage
// (behind versitygw's back):
// verify reports each backup with the chunk that is wrong, restore refuses naming it and changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chunkKey, parseChunkIndex } from '../../../src/storage/chunks.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { flipBytes } from '../../helpers/flip-bytes.ts';
import { stack } from '../../helpers/stack-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { restoreCli, runBackup, verifyCli } from '../restore/helpers.ts';

let env: BackupTestEnv;
const damaged = new Map<string, { manifest: Manifest; chunk: string }>();
let intact: Manifest;
// Definition names are workflow ids and S3 keys on the shared stack: unique to this run.
const suffix = randomBytes(3).toString('hex');
const definition = (name: string) => `ck-${name}-${suffix}`;
const fileOf = (key: string) => join(stack.s3DataDir, stack.s3Bucket, env.tag, key);
// A chunk stored alone, and a small chunk inside a pack: each missing, flipped and truncated.
const DAMAGES = ['missing', 'flipped', 'truncated', 'pack-missing', 'pack-flipped', 'pack-truncated'];

before(async () => {
  env = await BackupTestEnv.create();
  const { fixtures, tag } = env;
  const backups = new Map<string, { vol: string; manifest: Manifest }>();
  for (const name of ['intact', ...DAMAGES]) {
    const vol = await fixtures.volume(`${tag}-${name}`);
    // Random data of its own: no chunk is shared with another definition's.
    await fixtures.sh([vol], `head -c 3000000 /dev/urandom > /${vol}/data.bin; echo ${name} > /${vol}/name`);
    const app = await fixtures.sleeper(`${tag}-${name}-app`, [vol]);
    backups.set(name, { vol, manifest: undefined as unknown as Manifest });
    await env.writeConfig(
      [...backups.entries()].map(([n, b]) => ({
        name: definition(n),
        type: 'standard',
        containers: [n === name ? app : `${tag}-${n}-app`],
        volumes: [b.vol],
      })),
      { volumeFormat: 'chunked' },
    );
    if (!env.worker) await env.startWorker();
    backups.get(name)!.manifest = await runBackup(env, definition(name));
  }
  intact = backups.get('intact')!.manifest;
  const indexOf = async (name: string) => {
    const { manifest } = backups.get(name)!;
    return parseChunkIndex(
      await readFile(fileOf(`${definition(name)}/${manifest.backupId}/${manifest.objects[0]!.name}`), 'utf8'),
      'index',
    );
  };
  // Packs holding chunks of the intact backup (the archive's end is the same chunk in every backup).
  const shared = new Set((await indexOf('intact')).flatMap((r) => (r.pack ? [r.pack] : [])));
  const places = new Map<string, { file: string; from: number; to: number }>();
  for (const name of DAMAGES) {
    const { manifest } = backups.get(name)!;
    const index = await indexOf(name);
    assert.ok(index.length >= 2, `${name} has ${index.length} chunks`);
    if (name.startsWith('pack-')) {
      // A chunk in a pack of this backup's own: the small group of the file `name`.
      const ref = index.find((r) => r.pack !== undefined && !shared.has(r.pack));
      assert.ok(ref, `${name}: a chunk in a pack of its own`);
      damaged.set(name, { manifest, chunk: chunkKey(ref.pack!) });
      places.set(name, {
        file: fileOf(chunkKey(ref.pack!)),
        from: ref.offset!,
        to: ref.offset! + ref.storedBytes,
      });
    } else {
      assert.equal(index[1]!.pack, undefined, `${name}: chunk 2 is data.bin's, stored alone`);
      damaged.set(name, { manifest, chunk: chunkKey(index[1]!.name) });
      const file = fileOf(chunkKey(index[1]!.name));
      places.set(name, { file, from: 0, to: (await stat(file)).size });
    }
  }
  for (const name of DAMAGES) {
    const { file, from, to } = places.get(name)!;
    if (name.endsWith('missing')) await rm(file);
    else if (name.endsWith('truncated')) await truncate(file, to - 100);
    else {
      // Inside the chunk's last encrypted piece: its authentication fails.
      await flipBytes(file, Math.max(from, to - 40));
    }
  }
  for (const name of DAMAGES) {
    await fixtures.sh([backups.get(name)!.vol], `echo changed > /${backups.get(name)!.vol}/name`);
  }
});
after(async () => {
  await env.close();
});

test('verify names the backup and the chunk that is missing, tampered with or truncated', async () => {
  const ok = await verifyCli(env, [definition('intact')]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  for (const [name, { manifest, chunk }] of damaged) {
    const verify = await verifyCli(env, [definition(name)]);
    assert.equal(verify.code, 1, `${name}: ${verify.stdout}${verify.stderr}`);
    const line = verify.stdout.split('\n').find((l) => l.includes('FAILED')) ?? '';
    assert.ok(
      line.includes(`${definition(name)}/${manifest.backupId}/`),
      `${name}: the backup is named: ${verify.stdout}`,
    );
    assert.ok(line.includes(chunk), `${name}: the chunk is named: ${verify.stdout}`);
    const why = {
      missing: /missing from the store/,
      flipped: /checksum|authentication|decryption/i,
      truncated: /truncated/,
    };
    assert.match(line, why[name.replace('pack-', '') as keyof typeof why], `${name}: ${line}`);
  }
  assert.ok(intact.objects[0]!.chunked, 'the backups are chunked');
});

test('restore refuses a damaged backup naming the chunk, and changes nothing', async () => {
  const { fixtures, tag } = env;
  for (const [name, { chunk }] of damaged) {
    const vol = `${tag}-${name}`;
    const before = await describeTree(await fixtures.mountpoint(vol));
    const restore = await restoreCli(env, [definition(name)]);
    assert.notEqual(restore.code, 0, `${name}: ${restore.stdout}`);
    assert.ok(
      (restore.stdout + restore.stderr).includes(chunk),
      `${name}: ${restore.stdout}${restore.stderr}`,
    );
    assert.deepEqual(
      await describeTree(await fixtures.mountpoint(vol)),
      before,
      `${name}: the volume is unchanged`,
    );
    assert.equal(await fixtures.isRunning(`${tag}-${name}-app`), true, `${name}: its container still runs`);
  }
});
