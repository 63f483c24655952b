// Definitions that select containers by compose project, service and label: the containers and the
// stop order are resolved on the host before anything is stopped, dependents stop first and start
// last, compose volume names resolve to `<project>_<name>`, and a selector that cannot resolve fails
// the run with a clear error while every container keeps running.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { composeContainer, composeVolume, nanos } from '../../helpers/compose-fixtures.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { readManifest } from '../../../src/storage/manifest.ts';

let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
after(async () => {
  await env.close();
});

async function state(container: string) {
  return (await env.fixtures.docker.getContainer(container).inspect()).State;
}

/** Names sorted by a State timestamp, earliest first. */
async function orderedBy(containers: string[], field: 'StartedAt' | 'FinishedAt'): Promise<string[]> {
  const stamps = await Promise.all(containers.map(async (c) => [c, nanos((await state(c))[field])] as const));
  return stamps.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([c]) => c);
}

test('a backup by compose project stops dependents first (depends_on, network_mode) and restarts in reverse', async () => {
  const { fixtures, tag } = env;
  const project = `${tag}-shop`;
  const data = await composeVolume(fixtures, project, 'data');
  await fixtures.sh([data], `echo hello > /${data}/greeting`);
  const db = await composeContainer(fixtures, project, { service: 'db', volumes: [data] });
  const cache = await composeContainer(fixtures, project, { service: 'cache' });
  const web1 = await composeContainer(fixtures, project, { service: 'web', dependsOn: ['db', 'cache'] });
  const web2 = await composeContainer(fixtures, project, {
    service: 'web',
    number: 2,
    dependsOn: ['db', 'cache'],
  });
  // network_mode: service:web has no depends_on label here: the shared network alone orders it.
  const proxy = await composeContainer(fixtures, project, { service: 'proxy', networkOf: web1 });
  const oneoff = await composeContainer(fixtures, project, { service: 'web', oneoff: true });
  const other = await composeContainer(fixtures, `${tag}-blog`, { service: 'db' });
  const untouched = { oneoff: (await state(oneoff)).StartedAt, other: (await state(other)).StartedAt };

  await env.writeConfig([{ name: 'shop', type: 'standard', compose: { project }, volumes: ['data'] }]);
  await env.startWorker();
  const run = await runCli(['run', 'shop', '--config', env.configPath]);
  assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);

  const expectedStop = [proxy, web1, web2, cache, db];
  const [prefix] = (await env.backups('shop')).manifests;
  assert.ok(prefix, 'a backup was written');
  const manifest = await readManifest(env.store, 'shop', prefix.split('/')[1]!);
  assert.deepEqual(manifest.containers.stopped, expectedStop);
  assert.deepEqual(
    manifest.objects.map((o) => o.source),
    [data],
    'the compose volume "data" is the project\'s <project>_data',
  );
  // What the engine saw: the real stop and start times.
  assert.deepEqual(await orderedBy(expectedStop, 'FinishedAt'), expectedStop, 'stop order');
  assert.deepEqual(await orderedBy(expectedStop, 'StartedAt'), [...expectedStop].reverse(), 'restart order');
  for (const c of expectedStop) assert.equal((await state(c)).Running, true, `${c} runs again`);
  assert.equal(
    (await state(oneoff)).StartedAt,
    untouched.oneoff,
    'a one-off `compose run` container is left alone',
  );
  assert.equal((await state(other)).StartedAt, untouched.other, 'another project is left alone');
  await env.worker!.stop();
});
