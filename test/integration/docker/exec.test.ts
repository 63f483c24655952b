import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execCapture, execStream } from '../../../src/docker/exec.ts';
import { ContainerNotFoundError, ExecFailedError } from '../../../src/docker/errors.ts';
import { Resources, docker } from './helpers.ts';

const res = new Resources();
let box: string;
before(async () => {
  box = await res.container('exec', ['sleep', '3600']);
});
after(() => res.cleanup());

test('execCapture returns exit code, stdout and stderr', async () => {
  const result = await execCapture(docker, box, ['sh', '-c', 'echo "out $GREETING"; echo err >&2; exit 3'], {
    env: ['GREETING=hello'],
  });
  assert.deepEqual(result, { exitCode: 0 + 3, stdout: 'out hello\n', stderr: 'err\n' });
  const whoami = await execCapture(docker, box, ['id', '-u'], { user: '1234' });
  assert.equal(whoami.stdout.trim(), '1234');
});

test('execCapture caps its output', async () => {
  const result = await execCapture(docker, box, ['sh', '-c', 'head -c 100000 /dev/zero | tr "\\0" a'], {
    maxOutputBytes: 1000,
  });
  assert.equal(result.exitCode, 0);
  assert.ok(result.stdout.startsWith('a'.repeat(1000) + '\n[dockvault: 99000 more bytes'));
});

test('execCapture times out, kills the process and throws', async () => {
  const started = Date.now();
  await assert.rejects(
    () => execCapture(docker, box, ['sleep', '47'], { timeoutMs: 500 }),
    (err: unknown) => {
      assert.ok(err instanceof ExecFailedError);
      assert.equal(err.reason, 'timeout');
      assert.match(err.message, new RegExp(`'${box}'.*was killed`));
      return true;
    },
  );
  assert.ok(Date.now() - started < 4000);
  const ps = await execCapture(docker, box, ['ps', '-o', 'args']);
  assert.doesNotMatch(ps.stdout, /sleep 47/);
});

test('exec in a missing or stopped container fails with a typed error', async () => {
  await assert.rejects(() => execCapture(docker, `${res.prefix}-missing`, ['true']), ContainerNotFoundError);
  const stopped = await res.container('stopped', ['true'], [], false);
  await assert.rejects(
    () => execCapture(docker, stopped, ['true']),
    (err: unknown) => err instanceof ExecFailedError && err.reason === 'not-running',
  );
});

test('execStream delivers 50 MB intact through a slow consumer, with bounded buffering', async () => {
  const prep = await execCapture(docker, box, [
    'sh',
    '-c',
    'head -c 50000000 /dev/urandom > /tmp/blob && sha256sum /tmp/blob',
  ]);
  assert.equal(prep.exitCode, 0, prep.stderr);
  const expected = prep.stdout.split(' ')[0];

  const run = await execStream(docker, box, ['cat', '/tmp/blob']);
  const hash = createHash('sha256');
  let bytes = 0;
  let maxBuffered = 0;
  let chunks = 0;
  const slow = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      maxBuffered = Math.max(maxBuffered, run.stdout.readableLength);
      // Every 8th chunk waits: the consumer is slower than the producer, backpressure must hold.
      if (++chunks % 8 === 0) setTimeout(callback, 2);
      else callback();
    },
  });
  await pipeline(run.stdout, slow);
  assert.equal(bytes, 50_000_000);
  assert.equal(hash.digest('hex'), expected);
  assert.equal(await run.exitCode(), 0);
  assert.ok(maxBuffered <= 1024 * 1024, `demuxer buffered ${maxBuffered} bytes`);
});

test('execStream reports a non-zero exit code and the stderr tail', async () => {
  const run = await execStream(docker, box, [
    'sh',
    '-c',
    'echo partial; echo "pg_dump: error: boom" >&2; exit 7',
  ]);
  let out = '';
  for await (const chunk of run.stdout) out += (chunk as Buffer).toString();
  assert.equal(out, 'partial\n');
  assert.equal(await run.exitCode(), 7);
  assert.match(run.stderrTail(), /pg_dump: error: boom/);
});
