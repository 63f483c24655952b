// Restores each volume of a backup with the standard tools (age, zstd, tar) into a temp directory and
// compares it with the live volume: the demo's proof that what was stored comes back.
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Docker from 'dockerode';
import { loadConfigFile } from '../src/config/index.ts';
import { buildPlan } from '../src/plan/build.ts';
import { readManifest } from '../src/storage/manifest.ts';
import { createS3Store } from '../src/storage/s3-store.ts';
import { objectKey } from '../src/storage/layout.ts';

const [configPath, backupId, identity] = process.argv.slice(2);
if (!configPath || !backupId || !identity) throw new Error('usage: demo-check.ts CONFIG BACKUP_ID IDENTITY');
const config = await loadConfigFile(configPath);
const def = config.backupDefinitions[0]!;
const store = createS3Store(buildPlan(config, def).target);
const manifest = await readManifest(store, def.name, backupId);
const docker = new Docker();
const work = await mkdtemp(join(tmpdir(), 'dockvault-demo-'));
try {
  for (const object of manifest.objects) {
    const file = join(work, object.name.replace(/\//g, '_'));
    await pipeline(await store.get(objectKey(def.name, backupId, object.name)), createWriteStream(file));
    const out = join(work, object.source);
    execFileSync('mkdir', ['-p', out]);
    execFileSync('bash', [
      '-o',
      'pipefail',
      '-c',
      'age -d -i "$1" "$2" | zstd -d -q | tar -x --numeric-owner -p -C "$3"',
      'x',
      identity,
      file,
      out,
    ]);
    const mountpoint = (await docker.getVolume(object.source).inspect()).Mountpoint;
    execFileSync('diff', ['-r', '--no-dereference', mountpoint, out], { stdio: 'inherit' });
    const files = execFileSync('find', [out, '-type', 'f']).toString().trim().split('\n').length;
    console.log(`restored ${object.source} from ${object.name}: identical to the volume (${files} files)`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
  store.destroy();
}
