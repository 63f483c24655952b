// The Temporal server restarted (killed, then started again on its database file) in the middle of a
// backup, while the containers are stopped and data moves: the run goes on from its history, the
// containers run again and the backup completes. The test runs its own dev server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { TemporalDevServer } from '../../helpers/temporal-dev-server.ts';
import { runOutcome, waitFor } from '../../helpers/wait.ts';

let env: BackupTestEnv;
let proxy: TcpProxy;
let temporal: TemporalDevServer;
let client: Client | undefined;

before(async () => {
  env = await BackupTestEnv.create();
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  temporal = await TemporalDevServer.start();
});
after(async () => {
  await client?.connection.close();
  await env.close();
  await proxy.close();
  await temporal.close();
});

test('a Temporal server killed and restarted while containers are stopped: the backup completes, the containers run', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-restart`);
  await fixtures.sh([vol], `head -c 12582912 /dev/urandom > /${vol}/data`);
  const web = await fixtures.sleeper(`${tag}-restart-web`, [vol]);
  const db = await fixtures.sleeper(`${tag}-restart-db`, [vol]);
  // Streaming at 1 MiB/s: the containers stay stopped for about 12 s while the data moves.
  proxy.throttle(1024 * 1024);
  await env.writeConfig(
    [{ name: 'restart', type: 'standard', containers: [web, db], volumes: [vol], staging: 'none' }],
    { temporal: { address: temporal.address, taskQueue: tag } },
    { endpoint: proxy.url },
  );
  await env.startWorker();
  const workflowId = await env.startRun('restart');
  const bothRunning = async () => (await fixtures.isRunning(web)) && (await fixtures.isRunning(db));
  await waitFor(
    async () => !(await fixtures.isRunning(web)) && !(await fixtures.isRunning(db)),
    30_000,
    'both containers to be stopped',
  );

  await temporal.stop('SIGKILL');
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, 2000));
  await temporal.restart();
  const downMs = Date.now() - killedAt;
  assert.equal(await fixtures.isRunning(web), false, 'the restart came while the containers were stopped');
  proxy.throttle(Infinity);

  client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  const handle = client.workflow.getHandle(workflowId);
  const outcome = await runOutcome(handle, 90_000);
  console.log(
    `temporal restart: server down ${downMs} ms; ${outcome} ${Date.now() - killedAt} ms after the kill`,
  );
  assert.equal(outcome, 'completed', `${outcome}\nworker:\n${env.worker?.output()}`);
  assert.equal(await bothRunning(), true);
  const left = await env.backups('restart');
  assert.equal(left.manifests.length, 1);
  assert.equal(left.uploads, 0, 'no unfinished multipart upload');
});
