import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream } from '../../../src/pipeline/age/index.ts';
import type { DecryptOptions, Identity } from '../../../src/pipeline/age/index.ts';

/** Runs data through a Transform, written in slices of `writeSize` bytes, and collects the output. */
export async function through(transform: Transform, data: Buffer, writeSize = 1 << 20): Promise<Buffer> {
  const out: Buffer[] = [];
  function* slices(): Generator<Buffer> {
    for (let off = 0; off < data.length; off += writeSize) yield data.subarray(off, off + writeSize);
  }
  await pipeline(
    Readable.from(slices()),
    transform,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

export function encrypt(data: Buffer, recipients: string[], writeSize?: number): Promise<Buffer> {
  return through(createEncryptStream(recipients), data, writeSize);
}

export function decrypt(
  data: Buffer,
  identities: Identity[] | string[],
  opts?: DecryptOptions,
  writeSize?: number,
): Promise<Buffer> {
  return through(createDecryptStream(identities, opts), data, writeSize);
}

/** Runs a command with stdin, returns stdout; rejects with stderr on a non-zero exit. */
export function run(cmd: string, args: string[], input: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.on('error', () => {}); // the child may exit before reading everything; 'close' reports it
    child.stdin.end(input);
  });
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'dockvault-age-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
