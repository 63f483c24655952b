// Times archiving one ~400 MB volume (2000 text files of ~100 KB + 4 x 50 MB random) to a staging file
// with the 'host' and 'docker' methods of src/docker/archive.ts, against a plain `tar -cf FILE -C mountpoint .`.
// Run: . .stack/env && node bench/archive-methods.ts [rounds]
// Absolute MB/s are noisy on a shared machine: read the ratios, measured in one run.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { archiveVolumeToFile } from '../src/docker/archive.ts';
import { estimateVolumeSize, inspectVolume } from '../src/docker/volumes.ts';

const run = promisify(execFile);
const docker = new Docker();
const image = process.env.DOCKVAULT_BUSYBOX_IMAGE ?? 'dockvault-busybox:1';
const rounds = Number(process.argv[2] ?? 3);
const volume = `dv-bench-${randomBytes(4).toString('hex')}`;

const FILL = `
set -e
cd /data
seq 1 19000 > /tmp/base
for d in $(seq 0 19); do mkdir -p text/d$d; done
i=0
while [ $i -lt 2000 ]; do
  { echo "file $i"; cat /tmp/base; } > text/d$((i % 20))/f$i.txt
  i=$((i + 1))
done
mkdir big
for n in 1 2 3 4; do head -c 52428800 /dev/urandom > big/random$n.bin; done
`;

async function fill(): Promise<void> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['sh', '-c', FILL],
    HostConfig: { Binds: [`${volume}:/data`] },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    if (StatusCode !== 0) throw new Error(`filling the volume failed with status ${StatusCode}`);
  } finally {
    await container.remove({ force: true });
  }
}

async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  await docker.createVolume({ Name: volume });
  const scratch = await mkdtemp(join(tmpdir(), 'dv-bench-'));
  try {
    await fill();
    const { mountpoint } = await inspectVolume(docker, volume);
    const dataBytes = await estimateVolumeSize(docker, volume);
    const file = join(scratch, 'staging.tar');
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['tar -cf (baseline)', () => run('tar', ['-cf', file, '-C', mountpoint, '.'])],
      [
        'tar -cf + fsync',
        () => run('sh', ['-c', `tar -cf "$1" -C "$2" . && sync "$1"`, 'sh', file, mountpoint]),
      ],
      ["archiveVolumeToFile 'host'", () => archiveVolumeToFile(docker, volume, file, { method: 'host' })],
      ["archiveVolumeToFile 'docker'", () => archiveVolumeToFile(docker, volume, file, { method: 'docker' })],
    ];
    await cases[0]?.[1](); // warm the page cache
    const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, action] of cases) {
        await rm(file, { force: true });
        times.get(name)?.push(await timed(action));
      }
    }
    await rm(file, { force: true });
    const mb = dataBytes / 1e6;
    const base = median(times.get(cases[0]?.[0] ?? '') ?? []);
    console.log(
      `volume: ${mb.toFixed(0)} MB of data (2000 text files + 4 x 50 MB random), ${rounds} rounds, median`,
    );
    console.log('method                         seconds     MB/s   vs baseline');
    for (const [name] of cases) {
      const t = median(times.get(name) ?? []);
      console.log(
        `${name.padEnd(30)} ${t.toFixed(2).padStart(7)} ${(mb / t).toFixed(0).padStart(8)}   ${(base / t).toFixed(2)}x`,
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await docker.getVolume(volume).remove({ force: true });
  }
}

await main();
