// The prune step after every successful backup, and `dockvault prune [--dry-run]`, through a real worker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

test('each backup prunes by retention; `dockvault prune --dry-run` shows keep/delete and deletes nothing', async () => {
  const { fixtures, tag } = env;
  const vol = await fixtures.volume(`${tag}-data`);
  await fixtures.sh([vol], `echo hello > /${vol}/file`);
  const app = await fixtures.sleeper(`${tag}-app`, [vol]);
  const definition = { name: 'site', type: 'standard', containers: [app], volumes: [vol] };
  await env.writeConfig([{ ...definition, retention: { keepLast: 1 } }]);
  await env.startWorker();

  const first = await runCli(['run', 'site', '--config', env.configPath]);
  assert.equal(first.code, 0, first.stdout);
  const [firstId] = (await env.backups('site')).manifests;
  const second = await runCli(['run', 'site', '--config', env.configPath]);
  assert.equal(second.code, 0, second.stdout);
  const after = await env.backups('site');
  assert.equal(after.manifests.length, 1, 'keepLast 1: the first backup was pruned');
  assert.notEqual(after.manifests[0], firstId);
  assert.deepEqual(after.prefixes, after.manifests, 'its objects went too');
  const keptId = after.manifests[0]!.split('/')[1]!;

  // Now keep everything (no policy), put the pruned one's place back with a third run, and dry-run keepLast 1.
  await env.writeConfig([definition]);
  const third = await runCli(['run', 'site', '--config', env.configPath]);
  assert.equal(third.code, 0, third.stdout);
  assert.equal((await env.backups('site')).manifests.length, 2, 'an empty policy keeps everything');
  await env.writeConfig([{ ...definition, retention: { keepLast: 1 } }]);
  const dry = await runCli(['prune', '--all', '--dry-run', '--config', env.configPath]);
  assert.equal(dry.code, 0, dry.stdout + dry.stderr);
  assert.match(dry.stdout, /^site: keepLast 1 \(dry run: nothing deleted\)$/m);
  assert.match(dry.stdout, /^ {2}keep {4}\S+ {2}last$/m);
  assert.match(dry.stdout, new RegExp(`^  delete  ${keptId}$`, 'm'));
  assert.equal((await env.backups('site')).manifests.length, 2);

  const real = await runCli(['prune', 'site', '--config', env.configPath]);
  assert.equal(real.code, 0, real.stdout + real.stderr);
  assert.match(real.stdout, new RegExp(`^  deleted ${keptId}$`, 'm'));
  assert.equal((await env.backups('site')).manifests.length, 1);
  await env.worker!.stop();
});
