// What restore and verify say when something is wrong: a flipped byte, a re-encrypted object (sha256
// mismatch), a truncated object, a missing object, the wrong identity, an unknown backup id. Every
// failure names what is wrong, and leaves the volume and its containers as they were.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { generateIdentity } from '../../../src/pipeline/age/keys.ts';
import type { Manifest } from '../../../src/storage/manifest.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { describeTree } from '../../helpers/tree.ts';
import { damage, demandingTree, download, restoreCli, runBackup, verifyCli } from './helpers.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;
let vol: string;
let app: string;
let manifest: Manifest;
let key: string;
let original: Buffer;

before(async () => {
  env = await BackupTestEnv.create();
  const { fixtures, tag } = env;
  vol = await fixtures.volume(`${tag}-vol`);
  await fixtures.sh([vol], demandingTree(vol, 2));
  app = await fixtures.sleeper(`${tag}-app`, [vol]);
  await env.writeConfig([{ name: 'svc', type: 'standard', containers: [app], volumes: [vol] }]);
  await env.startWorker();
  manifest = await runBackup(env, 'svc');
  key = `svc/${manifest.backupId}/${manifest.objects[0]!.name}`;
  const path = join(env.dir, 'original.age');
  await download(env, key, path);
  original = await readFile(path);
  // The state a failed restore must leave alone differs from the backup.
  await fixtures.sh([vol], damage(vol));
});
after(async () => {
  await env.close();
});
beforeEach(async () => {
  await env.store.put(key, Readable.from([original]));
});

async function store(bytes: Buffer): Promise<void> {
  await env.store.put(key, Readable.from([bytes]));
}

/** Runs a restore that must fail, and checks nothing changed: the volume's tree, the container. */
async function failingRestore(args: string[] = ['svc']): Promise<string> {
  const before = await describeTree(await env.fixtures.mountpoint(vol));
  const result = await restoreCli(env, args);
  assert.equal(result.code, 1, `restore should fail:\n${result.stdout}\n${result.stderr}`);
  assert.deepEqual(await describeTree(await env.fixtures.mountpoint(vol)), before, 'the volume is unchanged');
  assert.equal(await env.fixtures.isRunning(app), true, 'the container runs');
  return result.stdout + result.stderr;
}

test('verify passes on an intact backup', async () => {
  const result = await verifyCli(env, ['svc']);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, new RegExp(`OK +svc/${manifest.backupId}/volumes/${vol}.tar.zst.age`));
});

test('one flipped byte: verify and restore fail naming the object; the volume is unchanged', async () => {
  const tampered = Buffer.from(original);
  const at = Math.floor(tampered.length / 2);
  tampered[at] = tampered[at]! ^ 0x01;
  await store(tampered);
  const verify = await verifyCli(env, ['svc']);
  assert.equal(verify.code, 1, verify.stdout);
  assert.match(
    verify.stdout,
    new RegExp(`FAILED svc/${manifest.backupId}/volumes/${vol}\\.tar\\.zst\\.age: .*failed authentication`),
  );
  const out = await failingRestore();
  assert.match(out, new RegExp(`${key.replace(/\./g, '\\.')}: payload chunk \\d+ .*failed authentication`));
});

test('a validly re-encrypted object (sha256 differs from the manifest) is refused; the extraction is discarded', async () => {
  const plain = join(env.dir, 'plain.tar.zst');
  const orig = join(env.dir, 'orig.age');
  await writeFile(orig, original);
  await exec('age', ['-d', '-i', env.identityPath, '-o', plain, orig]);
  const reencrypted = join(env.dir, 're.age');
  await exec('age', ['-r', env.recipient, '-o', reencrypted, plain]);
  await store(await readFile(reencrypted));
  const out = await failingRestore();
  assert.match(out, /does not match the manifest: sha256 [0-9a-f]{64}/);
  assert.ok(out.includes(key), out);
  const verify = await verifyCli(env, ['svc']);
  assert.equal(verify.code, 1);
  assert.match(verify.stdout, /FAILED .*does not match the manifest/);
});

test('a truncated object: a clear error naming the object', async () => {
  await store(original.subarray(0, original.length - 1000));
  const out = await failingRestore();
  assert.match(out, /truncated/);
  assert.ok(out.includes(key), out);
});

test('an object missing from storage: named in the error', async () => {
  await env.store.deleteMany([key]);
  const out = await failingRestore();
  assert.ok(out.includes(manifest.objects[0]!.name), out);
  const verify = await verifyCli(env, ['svc']);
  assert.equal(verify.code, 1);
  assert.match(verify.stdout, new RegExp(`FAILED svc/${manifest.backupId}/volumes/`));
});

test('the wrong identity: "not encrypted to this identity", with the recipients from the manifest', async () => {
  const other = generateIdentity();
  const otherPath = join(env.dir, 'other.txt');
  await writeFile(otherPath, `${other.identity}\n`, { mode: 0o600 });
  const result = await restoreCli(env, ['svc'], otherPath);
  assert.equal(result.code, 1);
  const out = result.stdout;
  assert.match(out, /not encrypted to this identity/);
  assert.ok(out.includes(env.recipient), `names the backup's recipient: ${out}`);
  assert.ok(out.includes(other.recipient), `names the identity's public key: ${out}`);
  assert.ok(!out.includes(other.identity), 'never prints the private key');
  const verify = await verifyCli(env, ['svc'], otherPath);
  assert.equal(verify.code, 1);
  assert.match(verify.stdout, /not encrypted to this identity/);
});

test('an unknown backup id lists the available ones', async () => {
  const out = await failingRestore(['svc', '--backup', '20200101T000000Z-abcd1234']);
  assert.match(out, /no backup 20200101T000000Z-abcd1234 of svc/);
  assert.ok(out.includes(manifest.backupId), out);
});
