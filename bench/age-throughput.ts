/**
 * age throughput: our streaming Transforms against the reference `age` CLI, same data, same run.
 *
 *   node bench/age-throughput.ts [MB]     (default 512)
 *
 * Data is random and held in memory, fed in 1 MiB writes; outputs go to a discarding sink
 * (ours) or /dev/null (age). The age CLI figures include process start-up and pipe copies,
 * which is also what a shell pipeline with `age` pays.
 */
import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream, generateIdentity } from '../src/pipeline/age/index.ts';

const mb = Number(process.argv[2] ?? 512);
if (!Number.isFinite(mb) || mb <= 0) {
  console.error('usage: node bench/age-throughput.ts [MB]');
  process.exit(2);
}
const sliceSize = 1 << 20;
const totalBytes = Math.round(mb * sliceSize);

function* slices(parts: Buffer[]): Generator<Buffer> {
  yield* parts;
}

function split(data: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += sliceSize) parts.push(data.subarray(off, off + sliceSize));
  return parts;
}

async function timeTransform(parts: Buffer[], transform: Transform, keep?: Buffer[]): Promise<number> {
  const start = process.hrtime.bigint();
  await pipeline(
    Readable.from(slices(parts)),
    transform,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        keep?.push(chunk);
        cb();
      },
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function timeAge(args: string[], parts: Buffer[]): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn('age', args, { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  await pipeline(Readable.from(slices(parts)), child.stdin);
  const code = await exited;
  if (code !== 0) throw new Error(`age ${args.join(' ')} exited with ${code}`);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function rawChacha(data: Buffer): number {
  const key = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const start = process.hrtime.bigint();
  for (let off = 0; off < data.length; off += 65536) {
    nonce.writeUInt32BE(off / 65536, 4);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    c.update(data.subarray(off, off + 65536));
    c.final();
    c.getAuthTag();
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const rate = (seconds: number): number => totalBytes / sliceSize / seconds;
const line = (label: string, seconds: number): string =>
  `${label.padEnd(44)} ${rate(seconds).toFixed(0).padStart(6)} MB/s  (${seconds.toFixed(2)} s)`;

const dir = await mkdtemp(join(tmpdir(), 'dockvault-age-bench-'));
try {
  const { identity, recipient } = generateIdentity();
  const keyFile = join(dir, 'key.txt');
  await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });

  console.log(`age throughput, ${mb} MiB of random data, node ${process.version}`);
  const plain = randomBytes(totalBytes);
  const plainParts = split(plain);

  const raw = rawChacha(plain);
  const oursEnc = await timeTransform(plainParts, createEncryptStream([recipient]));
  const ageEnc = await timeAge(['-r', recipient], plainParts);
  // Collected in an untimed run: holding 512 MiB of fresh output buffers costs page faults, not crypto.
  const ciphertext: Buffer[] = [];
  await timeTransform(plainParts, createEncryptStream([recipient]), ciphertext);
  const encParts = split(Buffer.concat(ciphertext));
  ciphertext.length = 0;
  const oursDec = await timeTransform(encParts, createDecryptStream([identity], { name: 'bench' }));
  const ageDec = await timeAge(['-d', '-i', keyFile], encParts);

  console.log(line('node:crypto chacha20-poly1305, 64 KiB, raw', raw));
  console.log(line('encrypt: dockvault createEncryptStream', oursEnc));
  console.log(line('encrypt: age -r (CLI, stdin -> /dev/null)', ageEnc));
  console.log(`encrypt ratio dockvault / age: ${(ageEnc / oursEnc).toFixed(2)}x`);
  console.log(line('decrypt: dockvault createDecryptStream', oursDec));
  console.log(line('decrypt: age -d -i (CLI, stdin -> /dev/null)', ageDec));
  console.log(`decrypt ratio dockvault / age: ${(ageDec / oursDec).toFixed(2)}x`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
