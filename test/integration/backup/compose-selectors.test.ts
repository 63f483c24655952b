// Definitions that select containers by compose project, service and label: the containers and the
// stop order are resolved on the host before anything is stopped, dependents stop first and start
// last, compose volume names resolve to `<project>_<name>`, and a selector that cannot resolve fails
// the run with a clear error while every container keeps running.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { composeContainer, composeVolume, nanos } from '../../helpers/compose-fixtures.ts';
import { PostgresFixtures } from '../../helpers/postgres-fixtures.ts';
import { stack } from '../../helpers/stack-env.ts';
import { runCli } from '../../helpers/worker-process.ts';
import { readManifest } from '../../../src/storage/manifest.ts';

const exec = promisify(execFile);
let env: BackupTestEnv;

before(async () => {
  env = await BackupTestEnv.create();
});
// A failed assertion must not leave its worker running into the next test.
afterEach(async () => {
  await env.worker?.stop();
  env.worker = undefined;
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
});

test('a selector that cannot resolve fails before anything is stopped, naming the definition and the selector', async () => {
  const { fixtures, tag } = env;
  const project = `${tag}-errs`;
  const loop = `${tag}-loop`;
  const data = await composeVolume(fixtures, project, 'data');
  const db = await composeContainer(fixtures, project, { service: 'db', volumes: [data] });
  const web1 = await composeContainer(fixtures, project, { service: 'web', dependsOn: ['db'] });
  const web2 = await composeContainer(fixtures, project, { service: 'web', number: 2, dependsOn: ['db'] });
  // Compose refuses such a file; labels set by hand (or a stale container) can still say it.
  const api = await composeContainer(fixtures, loop, { service: 'api', dependsOn: ['web'] });
  const web = await composeContainer(fixtures, loop, { service: 'web', dependsOn: ['api'] });
  const all = [db, web1, web2, api, web];
  const before = new Map(await Promise.all(all.map(async (c) => [c, (await state(c)).StartedAt] as const)));

  const definitions = [
    { name: 'typo-project', type: 'standard', compose: { project: `${project}x` }, volumes: ['data'] },
    {
      name: 'typo-service',
      type: 'standard',
      compose: { project, services: ['wbe', 'db'] },
      volumes: ['data'],
    },
    { name: 'no-match', type: 'standard', labels: { [`${tag}.backup`]: true }, volumes: [data] },
    { name: 'cycle', type: 'standard', compose: { project: loop }, volumes: [data] },
    { name: 'no-volume', type: 'standard', compose: { project }, volumes: ['uploads'] },
    { name: 'two-servers', type: 'postgres', compose: { project, services: ['web'] } },
    {
      name: 'hook-elsewhere',
      type: 'standard',
      compose: { project, services: ['db'] },
      volumes: ['data'],
      hooks: { preStop: [{ container: web1, command: 'true' }] },
    },
  ];
  await env.writeConfig(definitions);
  await env.startWorker();
  const run = await runCli(['run', ...definitions.map((d) => d.name), '--config', env.configPath]);
  assert.equal(run.code, 1, run.stdout);
  const expected = [
    `backupDefinitions[0] (typo-project): compose project "${project}x" has no containers on host ${tag} (projects here: `,
    `(did you mean "${project}"?)`,
    `backupDefinitions[1] (typo-service): service "wbe" not in project ${project} (services: db, web); nothing was stopped`,
    `backupDefinitions[2] (no-match): selector matches no container on host ${tag} (labels ${tag}.backup=true)`,
    `backupDefinitions[3] (cycle): dependency cycle: ${api} -> ${web} -> ${api}`,
    `backupDefinitions[4] (no-volume): volume "uploads" does not exist, nor does project ${project}'s volume "uploads" (${project}_uploads)`,
    `backupDefinitions[5] (two-servers): the selector matches 2 containers (${web1}, ${web2}); a postgresqldatabase definition needs exactly one`,
    `backupDefinitions[6] (hook-elsewhere): hook container "${web1}" is not among the containers this definition resolves to (${db})`,
  ];
  for (const text of expected) assert.ok(run.stdout.includes(text), `output has: ${text}\n${run.stdout}`);
  assert.equal(
    run.stdout.match(/^FAILED .*; nothing was stopped$/gm)?.length,
    definitions.length,
    run.stdout,
  );

  for (const c of all) {
    const now = await state(c);
    assert.equal(now.Running, true, `${c} still runs`);
    assert.equal(now.StartedAt, before.get(c), `${c} was never stopped or restarted`);
  }
  for (const d of definitions) {
    assert.deepEqual(await env.backups(d.name), { manifests: [], prefixes: [], uploads: 0 }, d.name);
  }
});

test('config check prints what selectors resolve to here: services, replicas, labels, order, compose volumes', async () => {
  const { fixtures, tag } = env;
  const project = `${tag}-chk`;
  const data = await composeVolume(fixtures, project, 'data');
  const db = await composeContainer(fixtures, project, { service: 'db', volumes: [data] });
  const web1 = await composeContainer(fixtures, project, { service: 'web', dependsOn: ['db'] });
  const web2 = await composeContainer(fixtures, project, { service: 'web', number: 2, dependsOn: ['db'] });
  await composeContainer(fixtures, project, { service: 'worker', dependsOn: ['db'] });
  const marked = await fixtures.sleeper(`${tag}-marked`, [], { labels: { [`${tag}.backup`]: 'yes' } });
  const legacy = await fixtures.sleeper(`${tag}-legacy`, []);
  await env.writeConfig([
    {
      name: 'web-and-db',
      type: 'standard',
      compose: { project, services: ['web', 'db'] },
      containers: [legacy],
      volumes: ['data'],
    },
    { name: 'by-label', type: 'standard', labels: { [`${tag}.backup`]: 'yes' }, volumes: [data] },
    { name: 'pg', type: 'postgres', compose: { project, services: ['db'] } },
    { name: 'plain', type: 'standard', containers: [legacy], volumes: [data] },
  ]);
  const check = await runCli(['config', 'check', '--config', env.configPath]);
  assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
  const lines = check.stdout.split('\n');
  const section = (name: string) => {
    const start = lines.findIndex((l) => l.startsWith(`${name} (`));
    const end = lines.findIndex((l, i) => i > start && l === '');
    return lines.slice(start, end < 0 ? undefined : end).join('\n');
  };
  const webAndDb = section('web-and-db');
  assert.match(webAndDb, new RegExp(`selects: +compose project ${project}, services web, db`));
  // The listed container first, then the selected ones, dependents first; `worker` is not selected.
  assert.ok(webAndDb.includes(`stops:      ${legacy} -> ${web1} -> ${web2} -> ${db}\n`), webAndDb);
  assert.ok(webAndDb.includes(`restarts:   ${db} -> ${web2} -> ${web1} -> ${legacy} (only`), webAndDb);
  assert.ok(webAndDb.includes(`depends:    ${web1} on ${db}; ${web2} on ${db}`), webAndDb);
  assert.ok(webAndDb.includes(`reads:      volumes data (${data})`), webAndDb);
  assert.ok(section('by-label').includes(`stops:      ${marked}\n`), section('by-label'));
  assert.ok(section('pg').includes(`inside container ${db} as OS user postgres`), section('pg'));
  assert.ok(section('plain').includes(`stops:      ${legacy}\n`), section('plain'));
  assert.doesNotMatch(section('plain'), /resolves:/, 'a definition without selectors needs no engine');

  // A selector that does not resolve here fails the check with the run's error.
  await env.writeConfig([
    { name: 'typo', type: 'standard', compose: { project, services: ['wbe'] }, volumes: ['data'] },
  ]);
  const typo = await runCli(['config', 'check', '--config', env.configPath]);
  assert.equal(typo.code, 1, typo.stdout);
  assert.ok(
    typo.stdout.includes(
      `resolves:   ERROR backupDefinitions[0] (typo): service "wbe" not in project ${project} (services: db, web, worker)`,
    ),
    typo.stdout,
  );
  // Where no engine answers, the check says so and still passes the file.
  const away = await runCli(['config', 'check', '--config', env.configPath], {
    ...process.env,
    DOCKER_HOST: `unix://${env.dir}/no-engine.sock`,
  });
  assert.equal(away.code, 0, away.stdout);
  assert.match(
    away.stdout,
    /resolves: +cannot check here: Docker engine unreachable while listing containers/,
  );
});

test('a project brought up by compose itself backs up in its dependency order, network sharers included', async () => {
  const { tag } = env;
  const project = `${tag}-real`;
  const file = join(env.dir, 'compose.yml');
  const image = stack.busyboxImage;
  const service = (extra: Record<string, unknown>) => ({
    image,
    pull_policy: 'never',
    command: 'sleep 100000',
    stop_signal: 'SIGKILL',
    ...extra,
  });
  await writeFile(
    file,
    stringify({
      services: {
        db: service({ volumes: ['data:/data'] }),
        api: service({ depends_on: ['db'] }),
        web: service({ depends_on: ['api'], deploy: { replicas: 2 } }),
        sidecar: service({ network_mode: 'service:api' }),
      },
      volumes: { data: {} },
    }),
  );
  const compose = (...args: string[]) => exec(stack.compose, ['-f', file, '-p', project, ...args]);
  try {
    await compose('up', '-d');
    await compose('run', '-d', '--no-deps', 'web', 'sleep', '100000');
    const [db, api, web1, web2, sidecar] = ['db-1', 'api-1', 'web-1', 'web-2', 'sidecar-1'].map(
      (s) => `${project}-${s}`,
    ) as [string, string, string, string, string];
    const oneoffs = await env.fixtures.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${project}`, 'com.docker.compose.oneoff=True'] },
    });
    assert.equal(oneoffs.length, 1, 'compose run made a one-off container');
    const oneoffStarted = (await state(oneoffs[0]!.Id)).StartedAt;

    // sidecar is not selected, but it lives in api's network namespace, which api's restart replaces.
    await env.writeConfig([
      {
        name: 'real',
        type: 'standard',
        compose: { project, services: ['db', 'api', 'web'] },
        volumes: ['data'],
      },
    ]);
    const check = await runCli(['config', 'check', '--config', env.configPath]);
    const expectedStop = [sidecar, web1, web2, api, db];
    assert.ok(check.stdout.includes(`stops:      ${expectedStop.join(' -> ')}\n`), check.stdout);
    assert.ok(check.stdout.includes(`also stops: ${sidecar} (shares the network of ${api})`), check.stdout);

    await env.startWorker();
    const run = await runCli(['run', 'real', '--config', env.configPath]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    const [prefix] = (await env.backups('real')).manifests;
    assert.ok(prefix);
    const manifest = await readManifest(env.store, 'real', prefix.split('/')[1]!);
    assert.deepEqual(manifest.containers.stopped, expectedStop);
    assert.deepEqual(
      manifest.objects.map((o) => o.source),
      [`${project}_data`],
    );
    assert.deepEqual(await orderedBy(expectedStop, 'FinishedAt'), expectedStop, 'stop order');
    assert.deepEqual(
      await orderedBy(expectedStop, 'StartedAt'),
      [...expectedStop].reverse(),
      'restart order',
    );
    for (const c of expectedStop) assert.equal((await state(c)).Running, true, `${c} runs again`);
    // The sidecar is in api's new network namespace: it has the address api has now.
    const apiIp = (await env.fixtures.docker.getContainer(api).inspect()).NetworkSettings.Networks[
      `${project}_default`
    ]?.IPAddress;
    assert.ok(apiIp, 'api has an address');
    const inSidecar = await exec('docker', ['exec', sidecar, 'ip', '-4', 'addr']);
    assert.ok(inSidecar.stdout.includes(apiIp), `sidecar sees api's address ${apiIp}:\n${inSidecar.stdout}`);
    assert.equal(
      (await state(oneoffs[0]!.Id)).StartedAt,
      oneoffStarted,
      'the compose run container was left alone',
    );
  } finally {
    await compose('down', '-v', '--remove-orphans', '-t', '0').catch(() => undefined);
  }
});

test('a PostgreSQL definition finds its one server by compose service', async () => {
  const { tag } = env;
  const project = `${tag}-pg`;
  const pg = new PostgresFixtures();
  try {
    const server = await pg.server(`${project}-db-1`, [], {
      'com.docker.compose.project': project,
      'com.docker.compose.service': 'db',
      'com.docker.compose.container-number': '1',
      'com.docker.compose.oneoff': 'False',
    });
    await pg.sql(server, 'postgres', 'CREATE DATABASE shop;');
    const started = (await state(server)).StartedAt;
    await composeContainer(env.fixtures, project, { service: 'web', dependsOn: ['db'] });
    await env.writeConfig([
      {
        name: 'pg',
        type: 'postgres',
        compose: { project, services: ['db'] },
        postgres: { databases: ['shop'] },
      },
    ]);
    await env.startWorker();
    const run = await runCli(['run', 'pg', '--config', env.configPath]);
    assert.equal(run.code, 0, `${run.stdout}${run.stderr}`);
    const [prefix] = (await env.backups('pg')).manifests;
    assert.ok(prefix);
    const manifest = await readManifest(env.store, 'pg', prefix.split('/')[1]!);
    assert.deepEqual(
      manifest.objects.map((o) => o.name),
      ['globals.sql.age', 'databases/shop.dump.age'],
    );
    assert.equal((await state(server)).StartedAt, started, 'the server was not stopped');
  } finally {
    await pg.cleanup();
  }
});
