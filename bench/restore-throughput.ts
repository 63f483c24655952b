/**
 * Restore throughput on the real stack, against the reference pipeline in the same run: one volume is
 * backed up with `dockvault run`, then, in alternating rounds,
 *   - dockvault's restore pipeline as the restore activity runs it (extractVolumeArchive: S3 get ->
 *     sha256 -> age decrypt -> zstd -d | tar -x into a staging directory next to the volume's data),
 *   - the whole `dockvault restore NAME --to-volume V=NEW` (CLI, Temporal, worker, preflight, extraction,
 *     sync, swap, clean-up) into a fresh volume,
 *   - the reference `age -d -i key obj | zstd -d | tar -x --numeric-owner -p -C DIR` of the local copy,
 *   - the S3 floor: the object fetched from the same S3 server and thrown away, which bounds every ratio.
 *
 *   . .stack/env && node bench/restore-throughput.ts [MiB] [rounds]     (default 1024 MiB, 3 rounds)
 *
 * The volume holds 80% random data (big files) and 20% compressible text in 1 MiB files. Needs root,
 * Docker, Temporal, versitygw and the age, zstd, tar CLIs. Everything it creates is removed. Figures are
 * the best round of each, with the CPU seconds the run took (this process and its children; for the
 * whole restore also the worker's): on a shared machine the ratios and the CPU say more than the MiB/s.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { cpuSeconds } from './process-stats.ts';
import { extractVolumeArchive } from '../src/restore/extract.ts';
import { freshStaging, restorePaths } from '../src/restore/swap.ts';
import { objectKey } from '../src/storage/layout.ts';
import { BackupTestEnv } from '../test/helpers/backup-env.ts';
import { runBackup } from '../test/integration/restore/helpers.ts';
import { runCli } from '../test/helpers/worker-process.ts';

const exec = promisify(execFile);
const mib = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 3);
const docker = new Docker();

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

/** Wall seconds of `fn`, and the CPU seconds `pids` (with their threads and reaped children) spent meanwhile. */
async function timed(fn: () => Promise<unknown>, pids: (number | 'self')[] = ['self']) {
  const cpu = () => pids.reduce((sum: number, pid) => sum + cpuSeconds(pid), 0);
  const cpu0 = cpu();
  const start = process.hrtime.bigint();
  await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, cpu: cpu() - cpu0 };
}

function peakRssMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function main() {
  const env = await BackupTestEnv.create();
  const volume = `${env.tag}-vol`;
  const restored = `${env.tag}-restored`;
  try {
    await docker.createVolume({ Name: volume });
    console.log(`filling volume ${volume} with ${mib} MiB...`);
    await fill(volume);
    await env.writeConfig(
      [{ name: 'bench', type: 'standard', containers: [], volumes: [volume] }],
      { encryption: { recipients: [env.recipient], identityFile: env.identityPath } },
      { partSizeMiB: 16 },
    );
    const worker = await env.startWorker();
    console.log('backing it up with dockvault run...');
    const manifest = await runBackup(env, 'bench');
    const object = manifest.objects[0]!;
    const key = objectKey('bench', manifest.backupId, object.name);
    const local = join(env.dir, 'object.age');
    await pipeline(await env.store.get(key), createWriteStream(local));
    const mountpoint = (await docker.getVolume(volume).inspect()).Mountpoint;
    const paths = restorePaths(mountpoint, 'bench');
    const manualDir = join(env.dir, 'manual');
    const plainMiB = object.plaintextBytes / 2 ** 20;
    console.log(
      `object: ${plainMiB.toFixed(0)} MiB of tar, ${(object.storedBytes / 2 ** 20).toFixed(0)} MiB stored`,
    );

    const extract = async () => {
      await freshStaging(paths);
      const run = await timed(() =>
        extractVolumeArchive({
          store: env.store,
          target: env.s3Target(),
          key,
          object,
          compression: manifest.compression.algorithm,
          identityFile: env.identityPath,
          directory: paths.staging,
        }),
      );
      await rm(paths.staging, { recursive: true, force: true });
      return run;
    };
    const cliRestore = async () => {
      await docker
        .getVolume(restored)
        .remove({ force: true })
        .catch(() => {});
      const run = await timed(async () => {
        const r = await runCli([
          'restore',
          'bench',
          '--to-volume',
          `${volume}=${restored}`,
          '--config',
          env.configPath,
        ]);
        if (r.code !== 0) throw new Error(`restore failed:\n${r.stdout}${r.stderr}\n${worker.output()}`);
      }, ['self', worker.child.pid!]);
      await docker.getVolume(restored).remove({ force: true });
      // The activity logs how long the extraction and the final sync took.
      const logged = (field: string) => [...worker.output().matchAll(new RegExp(`${field}: ([0-9.]+)`, 'g'))];
      const phases = {
        extract: Number(logged('extractSeconds').at(-1)?.[1]),
        sync: Number(logged('syncSeconds').at(-1)?.[1]),
      };
      return { ...run, phases };
    };
    const reference = async () => {
      await rm(manualDir, { recursive: true, force: true });
      await mkdir(manualDir);
      const run = await timed(() =>
        exec('bash', [
          '-o',
          'pipefail',
          '-c',
          'age -d -i "$1" "$2" | zstd -d | tar -x --numeric-owner -p -C "$3"',
          'bench',
          env.identityPath,
          local,
          manualDir,
        ]),
      );
      await rm(manualDir, { recursive: true, force: true });
      return run;
    };

    // The S3 floor: only fetching the object from the same S3 server, to nowhere. No restore that reads
    // from this server can beat it, whatever it does with the bytes.
    const fetchOnly = () =>
      timed(async () => {
        await pipeline(
          await env.store.get(key),
          new Writable({ write: (_chunk, _encoding, done) => done() }),
        );
      });

    type Run = { seconds: number; cpu: number; phases?: { extract: number; sync: number } };
    const runs = { s3: [] as Run[], cli: [] as Run[], ref: [] as Run[], floor: [] as Run[] };
    const rate = (r: Run) => `${(plainMiB / r.seconds).toFixed(0)} MiB/s`;
    const show = (r: Run) =>
      `${rate(r)} (${r.seconds.toFixed(1)} s, ${r.cpu.toFixed(1)} s CPU` +
      (r.phases
        ? `; extraction ${r.phases.extract.toFixed(1)} s, final sync ${r.phases.sync.toFixed(1)} s)`
        : ')');
    for (let round = 0; round < rounds; round++) {
      runs.s3.push(await extract());
      runs.cli.push(await cliRestore());
      runs.ref.push(await reference());
      runs.floor.push(await fetchOnly());
      console.log(
        `round ${round + 1}: pipeline from S3 ${show(runs.s3[round]!)}, ` +
          `dockvault restore ${show(runs.cli[round]!)}, age|zstd|tar ${show(runs.ref[round]!)}, ` +
          `S3 get only ${show(runs.floor[round]!)}`,
      );
    }
    const best = (rs: Run[]) => rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const ref = best(runs.ref);
    const ratio = (rs: Run[]) => `${show(best(rs))}: ${(ref.seconds / best(rs).seconds).toFixed(2)}x`;
    console.log(
      `best of ${rounds}: restore pipeline from S3 ${ratio(runs.s3)}; whole dockvault restore ${ratio(runs.cli)}; ` +
        `age -d | zstd -d | tar -x of the local file ${show(ref)}; ` +
        `S3 floor (get only, to nowhere) ${ratio(runs.floor)}, the best ratio any restore from this S3 server could reach; ` +
        `worker peak RSS ${peakRssMiB(worker.child.pid!).toFixed(0)} MiB (incl. the backup)`,
    );
  } finally {
    await env.close();
    for (const v of [volume, restored])
      await docker
        .getVolume(v)
        .remove({ force: true })
        .catch(() => {});
  }
}

await main();
