/**
 * Restore throughput: dockvault's restore path (S3 get -> sha256 -> age decrypt -> zstd -> tar -x into a
 * staging directory next to the volume's data, as stageVolumeRestore does) against the reference
 * pipeline `age -d -i key obj | zstd -d | tar -x --numeric-owner -p -C DIR` reading the same object from
 * local disk. Same volume, same object, one run, alternating rounds.
 *
 *   . .stack/env && node bench/restore-throughput.ts [MiB] [rounds]     (default 1024 MiB, 2 rounds)
 *
 * The volume holds 80% random data (big files) and 20% compressible text in 1 MiB files. Needs root,
 * Docker, versitygw (DOCKVAULT_S3_ENDPOINT) and the age, zstd, tar CLIs. Everything it creates is removed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { EXTRACT_TAR_ARGS } from '../src/activities/restore.ts';
import { archiveVolume } from '../src/docker/archive.ts';
import { generateIdentity, parseIdentity } from '../src/pipeline/age/index.ts';
import { sealAndStore } from '../src/pipeline/seal-and-store.ts';
import { readerSink } from '../src/restore/child-sink.ts';
import { readBackupObject } from '../src/restore/read-object.ts';
import { freshStaging, restorePaths } from '../src/restore/swap.ts';
import { createS3Store } from '../src/storage/s3-store.ts';

const exec = promisify(execFile);
const mib = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 2);
const tag = `dvbench-${randomBytes(4).toString('hex')}`;
const docker = new Docker();
const store = createS3Store({
  bucket: process.env.DOCKVAULT_S3_BUCKET ?? 'dockvault',
  prefix: tag,
  endpoint: process.env.DOCKVAULT_S3_ENDPOINT,
  region: 'us-east-1',
  forcePathStyle: true,
  partSizeMiB: 16,
  queueSize: 4,
});

async function fill(volume: string) {
  const random = Math.round(mib * 0.8);
  const text = mib - random;
  const script = `cd /v; i=0; while [ $i -lt 4 ]; do head -c $((${random} * 262144)) /dev/urandom > big-$i.bin; i=$((i+1)); done
    yes 'some compressible text for a restore benchmark, line after line' | head -c 1048576 > t0
    i=1; while [ $i -lt ${text} ]; do cp t0 "t$i"; i=$((i+1)); done`;
  const c = await docker.createContainer({
    Image: process.env.DOCKVAULT_BUSYBOX_IMAGE,
    Cmd: ['sh', '-euc', script],
    HostConfig: { Binds: [`${volume}:/v`] },
  });
  await c.start();
  await c.wait();
  await c.remove({ force: true });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main() {
  const volume = tag;
  const dir = await mkdtemp(join(tmpdir(), `${tag}-`));
  await docker.createVolume({ Name: volume });
  try {
    console.log(`filling volume ${volume} with ${mib} MiB...`);
    await fill(volume);
    const { identity, recipient } = generateIdentity();
    const identityPath = join(dir, 'key.txt');
    await writeFile(identityPath, `${identity}\n`, { mode: 0o600 });
    const key = 'volume.tar.zst.age';
    const archive = await archiveVolume(docker, volume, { method: 'host' });
    const sealed = await sealAndStore(archive.stream, {
      store,
      key,
      compression: { algorithm: 'zstd', level: 3 },
      recipients: [recipient],
    });
    await archive.done;
    const object = {
      name: key,
      kind: 'volume' as const,
      source: volume,
      format: 'tar' as const,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      ...sealed,
    };
    const local = join(dir, key);
    await pipeline(await store.get(key), createWriteStream(local));
    const mountpoint = (await docker.getVolume(volume).inspect()).Mountpoint;
    const paths = restorePaths(mountpoint, 'bench');
    const manualDir = join(dir, 'manual');
    const plainMiB = sealed.plaintextBytes / 2 ** 20;
    console.log(
      `object: ${plainMiB.toFixed(0)} MiB of tar, ${(sealed.storedBytes / 2 ** 20).toFixed(0)} MiB stored`,
    );

    const ours: number[] = [];
    const oursLocal: number[] = [];
    const reference: number[] = [];
    // The same restore path fed from the local file: the pipeline's own cost, without S3's.
    const localStore = {
      ...store,
      get: () => Promise.resolve(createReadStream(local, { highWaterMark: 1024 * 1024 })),
    } as unknown as typeof store;
    for (let round = 0; round < rounds; round++) {
      await freshStaging(paths);
      ours.push(
        await timed(() =>
          readBackupObject({
            store,
            key,
            object,
            compression: 'zstd',
            identities: [parseIdentity(identity)],
            sink: readerSink('zstd', ['tar', ...EXTRACT_TAR_ARGS, `--directory=${paths.staging}`], 'bench'),
          }),
        ),
      );
      await rm(paths.staging, { recursive: true, force: true });
      await freshStaging(paths);
      oursLocal.push(
        await timed(() =>
          readBackupObject({
            store: localStore,
            key,
            object,
            compression: 'zstd',
            identities: [parseIdentity(identity)],
            sink: readerSink('zstd', ['tar', ...EXTRACT_TAR_ARGS, `--directory=${paths.staging}`], 'bench'),
          }),
        ),
      );
      await rm(paths.staging, { recursive: true, force: true });
      await rm(manualDir, { recursive: true, force: true });
      await mkdir(manualDir);
      reference.push(
        await timed(() =>
          exec('bash', [
            '-o',
            'pipefail',
            '-c',
            'age -d -i "$1" "$2" | zstd -d | tar -x --numeric-owner -p -C "$3"',
            'bench',
            identityPath,
            local,
            manualDir,
          ]),
        ),
      );
      await rm(manualDir, { recursive: true, force: true });
      console.log(
        `round ${round + 1}: dockvault ${(plainMiB / ours[round]!).toFixed(0)} MiB/s, ` +
          `dockvault from local file ${(plainMiB / oursLocal[round]!).toFixed(0)} MiB/s, ` +
          `age|zstd|tar ${(plainMiB / reference[round]!).toFixed(0)} MiB/s`,
      );
    }
    const best = (xs: number[]) => Math.min(...xs);
    const a = plainMiB / best(ours);
    const b = plainMiB / best(reference);
    const c = plainMiB / best(oursLocal);
    console.log(
      `best of ${rounds}: dockvault restore (from S3) ${a.toFixed(0)} MiB/s (${(a / b).toFixed(2)}x), ` +
        `dockvault pipeline from the local file ${c.toFixed(0)} MiB/s (${(c / b).toFixed(2)}x), ` +
        `age -d | zstd -d | tar -x (local file) ${b.toFixed(0)} MiB/s`,
    );
  } finally {
    await docker
      .getVolume(volume)
      .remove({ force: true })
      .catch(() => {});
    await rm(dir, { recursive: true, force: true });
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    if (keys.length > 0) await store.deleteMany(keys);
  }
}

await main();
