// Webhook alerts from a real worker: a failing backup delivers its error (JSON and Slack payloads),
// a webhook answering 500 is retried, a webhook that never works does not change the backup's result,
// and a definition without a recent success is reported stale.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli, startWorker } from '../../helpers/worker-process.ts';

interface Received {
  path: string;
  body: Record<string, unknown>;
  status: number;
}

let env: BackupTestEnv;
let server: Server;
let base = '';
const received: Received[] = [];
let slackCalls = 0;

before(async () => {
  env = await BackupTestEnv.create();
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      // /slack fails twice, then works; /down never works.
      const status = path === '/down' || (path === '/slack' && ++slackCalls <= 2) ? 500 : 200;
      received.push({ path, body: JSON.parse(text) as Record<string, unknown>, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await env.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const delivered = (path: string, pred: (b: Record<string, unknown>) => boolean) =>
  received.filter((r) => r.path === path && r.status === 200 && pred(r.body));

test('failure, success and stale notifications; retried on 500; a dead webhook never fails the backup', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-data`);
  await fixtures.sh([vol], `echo hello > /${vol}/file`);
  const app = await fixtures.sleeper(`${tag}-app`, [vol]);
  await env.writeConfig(
    [
      { name: 'ok', type: 'standard', containers: [app], volumes: [vol] },
      { name: 'broken', type: 'standard', containers: [app], volumes: [`${tag}-missing`] },
    ],
    {
      notifications: {
        webhooks: [
          { url: `${base}/json`, format: 'json', on: ['failure', 'success', 'stale'], staleAfter: '3s' },
          { url: `${base}/slack`, format: 'slack', on: ['failure'] },
          { url: `${base}/down`, format: 'json', on: ['success'] },
        ],
      },
    },
  );
  env.worker = await startWorker(env.configPath, env.stateDir, ['--stale-check-interval', '1s']);

  const broken = await runCli(['run', 'broken', '--config', env.configPath]);
  assert.equal(broken.code, 1, broken.stdout);
  await waitFor(() => delivered('/slack', () => true).length > 0, 60_000, 'the Slack failure notice');
  const [failure] = delivered('/json', (b) => b.event === 'failure');
  assert.ok(failure, JSON.stringify(received));
  assert.equal(failure.body.definition, 'broken');
  assert.equal(failure.body.type, 'standard');
  assert.equal(failure.body.host, tag);
  assert.match(String(failure.body.error), new RegExp(`volume "${tag}-missing" does not exist`));
  assert.match(
    String(failure.body.workflowUrl),
    /^http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/backup-broken-/,
  );
  assert.equal(typeof failure.body.durationSeconds, 'number');
  assert.match(String(failure.body.backupId), /^\d{8}T\d{6}Z-/);

  // Slack: 500, 500, then delivered by the activity's retries; one message, with the error and the link.
  assert.equal(received.filter((r) => r.path === '/slack').length, 3);
  const slack = delivered('/slack', () => true)[0]!.body as { text: string; blocks: unknown[] };
  assert.match(slack.text, /standard backup "broken" on .* FAILED after \d+s: .*does not exist/);
  assert.ok(JSON.stringify(slack.blocks).includes('Open the run in the Temporal Web UI'));

  const ok = await runCli(['run', 'ok', '--config', env.configPath]);
  assert.equal(ok.code, 0, ok.stdout);
  await waitFor(() => received.filter((r) => r.path === '/down').length >= 4, 60_000, '4 attempts at /down');
  const [success] = delivered('/json', (b) => b.event === 'success' && b.definition === 'ok');
  assert.ok(success);
  assert.equal(typeof success.body.storedBytes, 'number');
  assert.equal(typeof success.body.downtimeSeconds, 'number');
  assert.deepEqual((await env.backups('ok')).manifests.length, 1, 'the backup stands');
  assert.match(ok.stdout, /ok/);

  // "broken" never succeeded: stale once the worker has run for longer than staleAfter, alerted once.
  await waitFor(
    () => delivered('/json', (b) => b.event === 'stale' && b.definition === 'broken').length > 0,
    30_000,
    'the stale notice',
  );
  const stale = delivered('/json', (b) => b.event === 'stale' && b.definition === 'broken');
  assert.equal(stale.length, 1);
  assert.equal(stale[0]!.body.lastSuccessAt, undefined);
  assert.equal(stale[0]!.body.staleAfterSeconds, 3);
  await env.worker.stop();
});
