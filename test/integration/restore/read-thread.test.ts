// readBackupObjectInThread on the real S3 server: an object made with the reference zstd and age CLIs
// comes out of the thread byte for byte into the reader command, and every failure comes back as the
// class the activities branch on (corrupt, checksum, missing, reader failed), with no thread or reader
// left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { generateIdentity } from '../../../src/pipeline/age/keys.ts';
import { CorruptBackupObjectError, ReaderFailedError } from '../../../src/restore/errors.ts';
import {
  readBackupObjectInThread,
  readBackupObjectInto,
  type CommandReadOptions,
} from '../../../src/restore/read-thread.ts';
import type { ManifestObject } from '../../../src/storage/manifest.ts';
import { createS3Store, type S3Store } from '../../../src/storage/s3-store.ts';
import { ObjectIntegrityError, ObjectNotFoundError } from '../../../src/storage/store.ts';
import { scratchDir, uniqueTag } from '../../helpers/scratch.ts';
import { s3TestTarget } from '../../helpers/stack-env.ts';
import { waitFor } from '../../helpers/wait.ts';

const exec = promisify(execFile);
const tag = uniqueTag('dvt-read');
const target = s3TestTarget(tag);
let store: S3Store;
let dir: string;
let cleanup: () => Promise<void>;
let identityFile: string;
let recipient: string;
let plain: Buffer;
let stored: Buffer;
let object: ManifestObject;

/** Made by the reference CLIs: `zstd | age -r`, of `mib` MiB of random bytes. */
async function makeObject(name: string, mib: number): Promise<{ plain: Buffer; stored: Buffer }> {
  const plainPath = join(dir, `${name}.bin`);
  await exec('bash', ['-c', `head -c ${mib * 1048576} /dev/urandom > "$0"`, plainPath]);
  const out = join(dir, `${name}.zst.age`);
  await exec('bash', [
    '-o',
    'pipefail',
    '-c',
    'zstd -q -c "$0" | age -r "$1" > "$2"',
    plainPath,
    recipient,
    out,
  ]);
  return { plain: await readFile(plainPath), stored: await readFile(out) };
}

function describe(bytes: Buffer, plaintextBytes: number): ManifestObject {
  return {
    name: 'data.zst.age',
    kind: 'volume',
    source: 'data',
    format: 'tar',
    plaintextBytes,
    storedBytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

/** A reading thread shows as a MessagePort until it has ended. */
async function noThreadLeft(): Promise<void> {
  const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
  await waitFor(() => ports() === 0, 2000, 'the reading thread to end');
}

/** Reads `key` into `cat > out` (in a thread unless `read` says otherwise), returning what the reader got. */
async function read(
  key: string,
  overrides: Partial<CommandReadOptions> = {},
  how: (o: CommandReadOptions) => Promise<{ storedBytes: number }> = readBackupObjectInThread,
) {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const progress: number[] = [];
  const result = await how({
    store,
    target,
    key,
    object,
    compression: 'zstd',
    identityFile,
    reader: ['sh', '-c', 'cat > "$0"', out],
    what: `reading ${key}`,
    onProgress: (b) => progress.push(b),
    ...overrides,
  });
  return { result, output: await readFile(out), progress };
}

before(async () => {
  ({ dir, cleanup } = await scratchDir(tag));
  store = createS3Store(target);
  const generated = generateIdentity();
  recipient = generated.recipient;
  identityFile = join(dir, 'identity.txt');
  await writeFile(identityFile, `${generated.identity}\n`, { mode: 0o600 });
  ({ plain, stored } = await makeObject('small', 6));
  object = describe(stored, plain.length);
  await store.put('data.zst.age', Readable.from([stored]));
});
after(async () => {
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  if (keys.length > 0) await store.deleteMany(keys);
  store.destroy();
  await cleanup();
});

test('the plaintext reaches the reader byte for byte; progress ends at the stored size', async () => {
  const { result, output, progress } = await read('data.zst.age');
  assert.equal(result.storedBytes, stored.length);
  assert.ok(output.equals(plain));
  assert.equal(progress.at(-1), stored.length);
  await noThreadLeft();
});

test('readBackupObjectInto reads a large object in a thread, a small one here, with the same result', async () => {
  const big = await makeObject('big', 72);
  await store.put('big.zst.age', Readable.from([big.stored]));
  const ports: number[] = [];
  const sample = setInterval(
    () => ports.push(process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length),
    20,
  );
  try {
    const large = await read(
      'big.zst.age',
      { object: describe(big.stored, big.plain.length) },
      readBackupObjectInto,
    );
    assert.ok(large.output.equals(big.plain));
    assert.ok(Math.max(...ports) > 0, 'the large object was read in a thread');
    ports.length = 0;
    const small = await read('data.zst.age', {}, readBackupObjectInto);
    assert.ok(small.output.equals(plain));
    assert.equal(Math.max(0, ...ports), 0, 'the small object was read on this thread');
  } finally {
    clearInterval(sample);
  }
});

test('failures come back as their classes, naming the object', async () => {
  const flipped = Buffer.from(stored);
  flipped[stored.length - 100]! ^= 1;
  await store.put('flipped.zst.age', Readable.from([flipped]));
  await assert.rejects(read('flipped.zst.age', { object: describe(flipped, plain.length) }), (err) => {
    assert.ok(err instanceof CorruptBackupObjectError, String(err));
    assert.match(err.message, /flipped\.zst\.age: payload chunk/);
    return true;
  });
  await assert.rejects(read('data.zst.age', { object: { ...object, sha256: '0'.repeat(64) } }), (err) => {
    assert.ok(err instanceof ObjectIntegrityError, String(err));
    assert.match(err.message, /does not match the manifest/);
    return true;
  });
  await assert.rejects(read('missing.zst.age'), (err) => {
    assert.ok(err instanceof ObjectNotFoundError, String(err));
    assert.equal(err.retryable, false);
    assert.match(err.message, /missing\.zst\.age/);
    return true;
  });
  await assert.rejects(
    read('data.zst.age', { reader: ['sh', '-c', 'cat > /dev/null; echo no room >&2; exit 3'] }),
    (err) => {
      assert.ok(err instanceof ReaderFailedError, String(err));
      assert.match(err.message, /exited with status 3: no room/);
      return true;
    },
  );
  const other = join(dir, 'other.txt');
  await writeFile(other, `${generateIdentity().identity}\n`, { mode: 0o600 });
  await assert.rejects(read('data.zst.age', { identityFile: other }), (err) => {
    assert.ok(err instanceof CorruptBackupObjectError, String(err));
    assert.match(err.message, /not encrypted to this identity/);
    return true;
  });
  await noThreadLeft();
});

test('a reader that stops reading without exiting: an abort still frees the thread blocked writing to it', async () => {
  const controller = new AbortController();
  const reason = new Error('cancelled by the test');
  const reading = read('data.zst.age', {
    // Never reads its stdin: the thread's writes block once the pipe is full.
    reader: ['sh', '-c', 'sleep 602'],
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(reason), 1500);
  const started = Date.now();
  await assert.rejects(reading, (err) => err === reason);
  assert.ok(Date.now() - started < 10_000, 'the abort took effect at once');
  await noThreadLeft();
  const left = await exec('pgrep', ['-f', 'sleep 602']).then(
    (r) => r.stdout.trim(),
    () => '',
  );
  assert.equal(left, '', 'the reader was killed');
});

test('an abort stops the thread and its reader, and rejects with the reason', async () => {
  const controller = new AbortController();
  const reason = new Error('cancelled by the test');
  const reading = read('data.zst.age', {
    // A reader that never finishes on its own.
    reader: ['sh', '-c', 'cat > /dev/null; sleep 601'],
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(reason), 1500);
  await assert.rejects(reading, (err) => err === reason);
  await noThreadLeft();
  // pgrep exits 1 when nothing matches.
  const left = await exec('pgrep', ['-f', 'sleep 601']).then(
    (r) => r.stdout.trim(),
    () => '',
  );
  assert.equal(left, '', 'the reader and what it started were killed');
});
