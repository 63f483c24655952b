// Standard-backup benchmark on the real stack, against baselines measured in the same run:
//   throughput  vs `tar -c | zstd -3 -T0 | age -r KEY > file`   (target >= 0.8x)
//   throughput  vs the same piped into `aws s3 cp -` to the same S3 server (the fair baseline)
//   the S3 floor: uploading that pipe's output alone to the same S3 server (bounds every ratio above)
//   throughput  vs `restic backup` into the same S3 server       (target >= 1.3x)
//   downtime    vs a plain `tar -c` of the volume to local disk  (target <= 1.3x)
//   worker peak RSS at 1 GB and at 3 GB                          (target <= 250 MB, no growth)
// Usage: bash scripts/bench.sh backup-throughput [GB=1] [BIG_GB=3]   (installs restic and the aws CLI)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { generateIdentity } from '../src/pipeline/age/keys.ts';
import { listBackups } from '../src/storage/manifest.ts';
import { createS3Store } from '../src/storage/s3-store.ts';
import { s3TestTarget } from '../test/helpers/stack-env.ts';
import { flushWrites, requireStackEnv, sh } from './shell.ts';
import { startWorker, runCli } from '../test/helpers/worker-process.ts';

const GB = Number(process.argv[2] ?? 1);
const BIG_GB = Number(process.argv[3] ?? 3);
const MB = 1024 * 1024;
const tag = `bench-${randomBytes(3).toString('hex')}`;
const work = `/var/tmp/dockvault-${tag}`;
const docker = new Docker();
const env = process.env;
requireStackEnv();

/** Mixed content: 30% compressible text in many small files, 70% incompressible large files. */
async function makeVolume(name: string, gigabytes: number): Promise<{ mountpoint: string; bytes: number }> {
  await docker.createVolume({ Name: name });
  const mountpoint = (await docker.getVolume(name).inspect()).Mountpoint;
  const textFiles = Math.round((gigabytes * 1024 * 0.3 * MB) / (100 * 1024));
  const bigFiles = Math.max(1, Math.round((gigabytes * 1024 * 0.7) / 100));
  const words = 'backup restore volume container postgres schedule temporal archive encrypt stream ';
  const line = (i: number) => `${i}: ${words.repeat(3)}\n`;
  const text = Buffer.from(Array.from({ length: 400 }, (_, i) => line(i)).join('')).subarray(0, 100 * 1024);
  for (let i = 0; i < textFiles; i++) {
    const dir = join(mountpoint, 'docs', String(i % 50));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `doc-${i}.txt`), text);
  }
  mkdirSync(join(mountpoint, 'blobs'), { recursive: true });
  sh(
    `for i in $(seq 1 ${bigFiles}); do head -c ${100 * MB} /dev/urandom > "${mountpoint}/blobs/blob-$i.bin"; done`,
  );
  const bytes = Number(execFileSync('du', ['-sb', mountpoint]).toString().split('\t')[0]);
  return { mountpoint, bytes };
}

async function sleeper(name: string, volume: string) {
  const c = await docker.createContainer({
    name,
    Image: env.DOCKVAULT_BUSYBOX_IMAGE!,
    Cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done'],
    HostConfig: { Binds: [`${volume}:/data`] },
  });
  await c.start();
}

/** The bench's view of the bucket, with dockvault's default part size and queue. */
function benchStore(prefix: string, partSizeMiB = 8) {
  return createS3Store(s3TestTarget(prefix, { partSizeMiB, queueSize: 2 }));
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  flushWrites();
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function dockvaultBackup(definition: string, volume: string, container: string) {
  const configPath = join(work, `${definition}.yml`);
  const { recipient } = generateIdentity();
  writeFileSync(
    configPath,
    stringify({
      host: tag,
      temporal: { address: env.TEMPORAL_ADDRESS, taskQueue: tag },
      s3: { endpoint: env.DOCKVAULT_S3_ENDPOINT, bucket: env.DOCKVAULT_S3_BUCKET, prefix: tag },
      encryption: { recipients: [recipient] },
      staging: { dir: join(work, 'staging'), minFreeMiB: 0 },
      backupDefinitions: [{ name: definition, type: 'standard', containers: [container], volumes: [volume] }],
    }),
  );
  const worker = await startWorker(configPath, join(work, 'state'));
  try {
    let run = { code: 0, stdout: '', stderr: '' };
    const seconds = await timed(
      async () => (run = await runCli(['run', definition, '--config', configPath])),
    );
    if (run.code !== 0) throw new Error(`backup failed: ${run.stdout}${run.stderr}\n${worker.output()}`);
    const rss = peakRssMb(worker.child.pid!);
    const store = benchStore(tag);
    const [latest] = await listBackups(store, definition);
    store.destroy();
    const manifest = latest!.manifest!;
    const at = (iso: string) => ((Date.parse(iso) - Date.parse(manifest.startedAt)) / 1000).toFixed(1);
    const timeline = [
      `workflow ${at(manifest.startedAt)}-${at(manifest.finishedAt)} s, downtime ${(manifest.downtimeMs / 1000).toFixed(2)} s`,
      ...manifest.objects.map((o) => `${o.name}: upload ${at(o.startedAt)}-${at(o.finishedAt)} s`),
    ].join('; ');
    return { seconds, rss, downtimeMs: manifest.downtimeMs, stored: manifest.totals.storedBytes, timeline };
  } finally {
    await worker.stop();
    if (env.DOCKVAULT_BENCH_WORKER_LOG) writeFileSync(env.DOCKVAULT_BENCH_WORKER_LOG, worker.output());
  }
}

const rate = (bytes: number, seconds: number) => `${(bytes / MB / seconds).toFixed(0)} MB/s`;
const results: string[] = [];
mkdirSync(work, { recursive: true });
try {
  console.log(`building a ${GB} GB volume...`);
  const vol = `${tag}-vol`;
  const { mountpoint, bytes } = await makeVolume(vol, GB);
  await sleeper(`${tag}-app`, vol);
  const { recipient } = generateIdentity();
  sh(`cat "${mountpoint}"/blobs/* > /dev/null; tar -cf - -C "${mountpoint}" . > /dev/null`); // warm the page cache

  const tarSeconds = sh(`tar -cf "${work}/plain.tar" -C "${mountpoint}" . && rm -f "${work}/plain.tar"`);
  const pipeSeconds = sh(
    `tar -cf - -C "${mountpoint}" . | zstd -3 -T0 -q | age -r ${recipient} > "${work}/baseline.age"`,
  );
  // The S3 floor: only moving the pipe's encrypted output from page cache to the same S3 server, nothing
  // else to do; the best of dockvault's uploader (default and 64 MiB parts) and `aws s3 cp`. No backup
  // that stores there can beat it here.
  const floors: number[] = [];
  for (const partSizeMiB of [8, 64]) {
    const store = benchStore(tag, partSizeMiB);
    floors.push(
      await timed(() =>
        store.put(`floor/${partSizeMiB}.age`, createReadStream(`${work}/baseline.age`), {
          sizeHint: statSync(`${work}/baseline.age`).size,
        }),
      ),
    );
    store.destroy();
  }
  floors.push(
    sh(
      `aws --endpoint-url "${env.DOCKVAULT_S3_ENDPOINT}" s3 cp "${work}/baseline.age" "s3://${env.DOCKVAULT_S3_BUCKET}/${tag}-fair/floor.age" --only-show-errors`,
    ),
  );
  const floor = Math.min(...floors);
  rmSync(`${work}/baseline.age`);
  // The fair baseline: the same pipeline's bytes uploaded to the same S3 server, on the same two cores.
  const fairKey = `s3://${env.DOCKVAULT_S3_BUCKET}/${tag}-fair/baseline.age`;
  const fairSeconds = sh(
    `tar -cf - -C "${mountpoint}" . | zstd -3 -T0 -q | age -r ${recipient} | aws --endpoint-url "${env.DOCKVAULT_S3_ENDPOINT}" s3 cp - "${fairKey}" --only-show-errors`,
  );
  const resticRepo = `s3:${env.DOCKVAULT_S3_ENDPOINT}/${env.DOCKVAULT_S3_BUCKET}/${tag}-restic`;
  const resticEnv = { RESTIC_REPOSITORY: resticRepo, RESTIC_PASSWORD: randomBytes(16).toString('hex') };
  sh('restic init -q', resticEnv);
  const resticSeconds = sh(`restic backup -q "${mountpoint}"`, resticEnv);

  const ours = await dockvaultBackup('bench', vol, `${tag}-app`);
  results.push(
    `data: ${(bytes / MB).toFixed(0)} MB (${GB} GB mixed), stored ${(ours.stored / MB).toFixed(0)} MB`,
    `dockvault run (wall, incl. stop/start and Temporal): ${ours.seconds.toFixed(1)} s = ${rate(bytes, ours.seconds)}`,
    `  timeline (from the workflow's start): ${ours.timeline}`,
    `tar | zstd -3 -T0 | age:  ${pipeSeconds.toFixed(1)} s = ${rate(bytes, pipeSeconds)}  -> ratio ${(pipeSeconds / ours.seconds).toFixed(2)}x (target >= 0.8)`,
    `tar | zstd -3 -T0 | age | aws s3 cp - (same S3): ${fairSeconds.toFixed(1)} s = ${rate(bytes, fairSeconds)}  -> ratio ${(fairSeconds / ours.seconds).toFixed(2)}x`,
    `S3 floor (upload of that pipe's output, nothing else; best of ${floors.map((f) => f.toFixed(1)).join(', ')} s): ${floor.toFixed(1)} s -> the best ratio any tool storing in this S3 server could reach: ${(pipeSeconds / floor).toFixed(2)}x`,
    `restic backup to S3:      ${resticSeconds.toFixed(1)} s = ${rate(bytes, resticSeconds)}  -> ratio ${(resticSeconds / ours.seconds).toFixed(2)}x (target >= 1.3)`,
    `downtime ${(ours.downtimeMs / 1000).toFixed(2)} s vs plain tar -c to disk ${tarSeconds.toFixed(2)} s -> ${(ours.downtimeMs / 1000 / tarSeconds).toFixed(2)}x (target <= 1.3)`,
    `worker peak RSS at ${GB} GB: ${ours.rss.toFixed(0)} MB (target <= 250)`,
  );
  if (BIG_GB > 0) {
    console.log(`building a ${BIG_GB} GB volume...`);
    const big = `${tag}-big`;
    await makeVolume(big, BIG_GB);
    await sleeper(`${tag}-bigapp`, big);
    const large = await dockvaultBackup('bench-big', big, `${tag}-bigapp`);
    results.push(
      `worker peak RSS at ${BIG_GB} GB: ${large.rss.toFixed(0)} MB (vs ${ours.rss.toFixed(0)} MB at ${GB} GB)`,
    );
  }
} finally {
  for (const c of await docker.listContainers({ all: true, filters: { name: [tag] } })) {
    await docker.getContainer(c.Id).remove({ force: true });
  }
  for (const v of ['vol', 'big'])
    await docker
      .getVolume(`${tag}-${v}`)
      .remove()
      .catch(() => {});
  rmSync(work, { recursive: true, force: true });
  const store = benchStore('');
  const keys: string[] = [];
  for await (const o of store.list(`${tag}`)) keys.push(o.key);
  if (keys.length > 0) await store.deleteMany(keys);
  store.destroy();
}
console.log(`\n${results.join('\n')}`);
