// S3 going away during the upload: a short outage is ridden out by the activity retry policy; a
// permanent one fails the run cleanly after it, with no manifest. The containers are long restarted
// by then (staged mode uploads after the restart).
import { after, afterEach, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { stack } from '../../helpers/stack-env.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let proxy: TcpProxy;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});
beforeEach(async () => {
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
});
afterEach(async () => {
  await env.worker?.stop('SIGKILL');
  await proxy.close();
});

/** Starts a staged backup through the throttled proxy and returns once the upload is under way. */
async function startUploading(name: string) {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-${name}`);
  await fixtures.sh([vol], `head -c 16777216 /dev/urandom > /${vol}/data`);
  const app = await fixtures.sleeper(`${tag}-${name}-app`, [vol]);
  await env.writeConfig(
    [{ name, type: 'standard', containers: [app], volumes: [vol] }],
    {},
    { endpoint: proxy.url },
  );
  await env.startWorker();
  proxy.throttle(512 * 1024);
  // Compared by start time, not by polling for a stopped container: the stop can be shorter than
  // a poll interval.
  const startedBefore = await fixtures.startedAt(app);
  const run = runCli(['run', name, '--config', env.configPath]);
  await waitFor(
    async () => (await fixtures.isRunning(app)) && (await fixtures.startedAt(app)) !== startedBefore,
    60_000,
    'the container to be stopped and restarted (the upload follows)',
  );
  return { run, app };
}

test('S3 unreachable for 20 s during the upload: the backup completes', async () => {
  const { run, app } = await startUploading('outage');
  await proxy.cut();
  await new Promise((r) => setTimeout(r, 20_000));
  proxy.throttle(Infinity);
  await proxy.restore();
  const result = await run;
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}\n${env.worker!.output()}`);
  assert.equal((await env.backups('outage')).manifests.length, 1);
  assert.equal(await env.fixtures.isRunning(app), true);
});

test('S3 unreachable for good: the run fails cleanly after the retry policy, with no manifest', async () => {
  const { run, app } = await startUploading('gone');
  await proxy.cut();
  const result = await run;
  assert.equal(result.code, 1);
  assert.match(result.stdout, /FAILED gone/);
  assert.match(result.stdout, /ECONNREFUSED|unreachable|connect/i);
  // Checked on the real server, past the dead proxy.
  assert.deepEqual((await env.backups('gone')).manifests, []);
  assert.equal(await env.fixtures.isRunning(app), true);
});
