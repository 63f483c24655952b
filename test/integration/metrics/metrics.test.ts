// `dockvault worker --metrics`: after a real successful run and a failed one, one scrape shows the
// per-definition series and the Temporal SDK's worker metrics.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { freePort } from '../../helpers/free-port.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli, startWorker } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

function sample(text: string, name: string, definition: string): number | undefined {
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(`definition="${definition}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('worker --metrics serves dockvault series per definition plus the SDK worker metrics', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-data`);
  await fixtures.sh([vol], `head -c 300000 /dev/urandom > /${vol}/blob`);
  const app = await fixtures.sleeper(`${tag}-app`, [vol]);
  await env.writeConfig([
    { name: 'good', type: 'standard', containers: [app], volumes: [vol] },
    { name: 'bad', type: 'standard', containers: [app], volumes: [`${tag}-missing`] },
  ]);
  const [ours, sdk] = [await freePort(), await freePort()];
  env.worker = await startWorker(env.configPath, env.stateDir, [
    '--metrics',
    `127.0.0.1:${ours}`,
    '--temporal-metrics',
    `127.0.0.1:${sdk}`,
  ]);
  assert.match(env.worker.output(), new RegExp(`dockvault metrics: http://127\\.0\\.0\\.1:${ours}/metrics`));

  const before = Date.now() / 1000;
  const good = await runCli(['run', 'good', '--config', env.configPath]);
  assert.equal(good.code, 0, good.stdout);
  const bad = await runCli(['run', 'bad', '--config', env.configPath]);
  assert.equal(bad.code, 1, bad.stdout);

  const res = await fetch(`http://127.0.0.1:${ours}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /# TYPE dockvault_last_success_timestamp_seconds gauge/);
  assert.match(text, /# TYPE dockvault_backups_failed_total counter/);
  assert.ok(
    text.includes(`dockvault_backups_failed_total{definition="bad",host="${tag}",type="standard"} 1`),
    text,
  );
  assert.equal(sample(text, 'dockvault_backups_failed_total', 'good'), 0);
  const last = sample(text, 'dockvault_last_success_timestamp_seconds', 'good');
  assert.ok(last !== undefined && last >= before - 1 && last <= Date.now() / 1000 + 1, String(last));
  assert.ok((sample(text, 'dockvault_last_duration_seconds', 'good') ?? 0) > 0);
  assert.ok((sample(text, 'dockvault_last_downtime_seconds', 'good') ?? -1) >= 0);
  const uploaded = sample(text, 'dockvault_uploaded_bytes_total', 'good') ?? 0;
  assert.ok(uploaded > 300_000, String(uploaded)); // random data does not compress
  assert.equal(sample(text, 'dockvault_last_success_timestamp_seconds', 'bad'), undefined);
  // The SDK's exporter, appended, and on its own port.
  assert.match(text, /\ntemporal_\w+/);
  assert.match(await (await fetch(`http://127.0.0.1:${sdk}/metrics`)).text(), /temporal_\w+/);
  assert.equal((await fetch(`http://127.0.0.1:${ours}/other`)).status, 404);
  await env.worker.stop();

  // A restarted worker reads the last success from storage (newest manifest): no false staleness.
  env.worker = await startWorker(env.configPath, env.stateDir, ['--metrics', `127.0.0.1:${ours}`]);
  const seeded = async () =>
    sample(
      await (await fetch(`http://127.0.0.1:${ours}/metrics`)).text(),
      'dockvault_last_success_timestamp_seconds',
      'good',
    );
  await waitFor(async () => (await seeded()) !== undefined, 30_000, 'the seeded last-success metric');
  assert.ok(Math.abs((await seeded())! - last) < 1, 'the manifest finish time');
  await env.worker.stop();
});
