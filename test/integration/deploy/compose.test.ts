// The top-level docker-compose.yml on the real Docker engine with the real compose tool and images
// built here by scripts/images.sh: Temporal, the dockvault worker and the s3 profile's versitygw of a
// project of its own (ports and names unique to this run). The app backed up is a compose project too.
// The worker reaches S3 through a proxy on the host (the bridge's gateway), so a test can slow it down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { generateIdentity } from '../../../src/pipeline/age/keys.ts';
import { createS3Store } from '../../../src/storage/s3-store.ts';
import type { BackupStore } from '../../../src/storage/store.ts';
import { freePort } from '../../helpers/free-port.ts';
import { scratchDir, uniqueTag } from '../../helpers/scratch.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { describeTree, diffTrees } from '../../helpers/tree.ts';
import { waitFor } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const docker = new Docker();
const project = uniqueTag('dvt');
const app = `${project}-app`;
const appVolume = `${app}_data`;
const web = `${app}-web-1`;
const db = `${app}-db-1`;
const worker = `${project}-dockvault-1`;
const dockvaultImage = `dockvault:${project}`;
const s3Credentials = {
  key: `dvc${randomBytes(6).toString('hex')}`,
  secret: randomBytes(20).toString('hex'),
};

let dir = '';
let cleanupDir = async () => {};
let composeEnv: NodeJS.ProcessEnv = {};
let hostEnv: NodeJS.ProcessEnv = {};
let ports = { temporal: 0, ui: 0, s3: 0 };
let proxy: TcpProxy;
let store: BackupStore;
let client: Client | undefined;
const created: string[] = [];

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 300_000,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env, cwd: root, timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: unknown }).code as number) || 1 : 0,
          out: `${stdout}${stderr}`,
        }),
    );
  });
}
async function ok(command: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number) {
  const result = await run(command, args, env, timeoutMs);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed:\n${result.out}`);
  return result.out;
}
const composeFiles = () => ['-f', join(root, 'docker-compose.yml'), '-f', join(dir, 'test-override.yml')];
const compose = (args: string[], timeoutMs?: number) =>
  run(
    'docker-compose',
    ['-p', project, ...composeFiles(), '--profile', 's3', ...args],
    composeEnv,
    timeoutMs,
  );
const appCompose = (args: string[]) => ok('docker-compose', ['-p', app, '-f', join(dir, 'app.yml'), ...args]);

const inspect = (name: string) => docker.getContainer(name).inspect();
const isRunning = async (name: string) => (await inspect(name)).State.Running;
const mountpoint = async (volume: string) => (await docker.getVolume(volume).inspect()).Mountpoint;
async function temporal(): Promise<Client> {
  client ??= new Client({ connection: await Connection.connect({ address: `127.0.0.1:${ports.temporal}` }) });
  return client;
}
async function upAndHealthy() {
  const started = Date.now();
  const up = await compose(['up', '-d', '--wait', '--wait-timeout', '180'], 240_000);
  assert.equal(up.code, 0, `compose up failed:\n${up.out}\n${(await compose(['logs', '--tail', '40'])).out}`);
  const health = (await inspect(worker)).State.Health;
  assert.equal(health?.Status, 'healthy');
  assert.match(health.Log.at(-1)?.Output ?? '', /^healthy: connected, polling workflow queue "dockvault"/);
  return Date.now() - started;
}

before(
  async () => {
    ({ dir, cleanupDir } = await scratchDir(project).then((s) => ({ dir: s.dir, cleanupDir: s.cleanup })));
    const images = Object.fromEntries(
      (await ok('bash', [join(root, 'scripts/images.sh'), 'all', dockvaultImage], process.env, 900_000))
        .split('\n')
        .filter((line) => /^[A-Z0-9_]+=/.test(line))
        .map((line) => line.split('=', 2) as [string, string]),
    );
    ports = { temporal: await freePort(), ui: await freePort(), s3: await freePort() };

    // The app: two services, web depends on db, one volume with files, a link and random data.
    await writeFile(
      join(dir, 'app.yml'),
      stringify({
        services: {
          db: appService([]),
          web: appService(['db']),
        },
        volumes: { data: {} },
      }),
    );
    await appCompose(['up', '-d', '--wait']);
    const data = await mountpoint(appVolume);
    await mkdir(join(data, 'site/static'), { recursive: true });
    await writeFile(join(data, 'site/index.html'), '<h1>dockvault</h1>\n');
    await writeFile(join(data, 'site/static/app.js'), 'console.log(1);\n'.repeat(5000));
    await symlink('index.html', join(data, 'site/home.html'));
    await writeFile(join(data, 'random.bin'), randomBytes(4 << 20));

    // The config directory the worker mounts: config, identity, the S3 secret as a file.
    const cfg = join(dir, 'cfg');
    await mkdir(cfg);
    await chmod(dir, 0o755);
    const { identity, recipient } = generateIdentity();
    await writeFile(join(cfg, 'identity.txt'), `${identity}\n`, { mode: 0o600 });
    await writeFile(join(cfg, 's3-secret'), `${s3Credentials.secret}\n`, { mode: 0o600 });
    const definition = { type: 'standard', containers: [web, db], volumes: [appVolume] };
    await writeFile(
      join(cfg, 'dockvault.yml'),
      stringify({
        temporal: { address: '${TEMPORAL_ADDRESS:-127.0.0.1:7233}' },
        s3: { bucket: 'dockvault', prefix: project, partSizeMiB: 5 },
        encryption: { recipients: [recipient], identityFile: '/etc/dockvault/identity.txt' },
        staging: { minFreeMiB: 0 },
        stopTimeoutSeconds: 5,
        backupDefinitions: [
          { name: 'app', ...definition, schedule: { every: '24h', paused: true } },
          { name: 'slow', ...definition, staging: 'none' },
        ],
      }),
    );

    // The worker reaches the proxy as host.docker.internal (the default bridge's gateway, an address
    // of this host that has no carrier while no container uses that bridge): listen on every address.
    proxy = new TcpProxy(`http://127.0.0.1:${ports.s3}`, '0.0.0.0');
    await proxy.start();
    await writeFile(
      join(dir, 'test-override.yml'),
      stringify({ services: { dockvault: { extra_hosts: ['host.docker.internal:host-gateway'] } } }),
    );
    composeEnv = {
      ...process.env,
      DOCKVAULT_IMAGE: dockvaultImage,
      TEMPORAL_IMAGE: images.TEMPORAL_IMAGE,
      S3_IMAGE: images.S3_IMAGE,
      TEMPORAL_PUBLISH: `127.0.0.1:${ports.temporal}`,
      TEMPORAL_UI_PUBLISH: `127.0.0.1:${ports.ui}`,
      S3_PUBLISH: `127.0.0.1:${ports.s3}`,
      DOCKVAULT_CONFIG_DIR: cfg,
      DOCKVAULT_S3_ENDPOINT: `http://host.docker.internal:${proxy.port}`,
      DOCKVAULT_S3_BUCKET: 'dockvault',
      S3_ROOT_ACCESS_KEY_ID: s3Credentials.key,
      S3_ROOT_SECRET_ACCESS_KEY: s3Credentials.secret,
      AWS_ACCESS_KEY_ID: s3Credentials.key,
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SECRET_ACCESS_KEY_FILE: '/etc/dockvault/s3-secret',
    };
    // The CLI on the host: the published ports, the same config file.
    hostEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      DOCKVAULT_S3_ENDPOINT: `http://127.0.0.1:${ports.s3}`,
      AWS_ACCESS_KEY_ID: s3Credentials.key,
      AWS_SECRET_ACCESS_KEY: s3Credentials.secret,
    };
    // This file uses only the project's S3 server, whose credentials the store reads from the env.
    process.env.AWS_ACCESS_KEY_ID = s3Credentials.key;
    process.env.AWS_SECRET_ACCESS_KEY = s3Credentials.secret;
    store = createS3Store({
      bucket: 'dockvault',
      prefix: project,
      endpoint: `http://127.0.0.1:${ports.s3}`,
      region: 'us-east-1',
      forcePathStyle: true,
      partSizeMiB: 5,
      queueSize: 2,
    });
  },
  { timeout: 900_000 },
);

function appService(dependsOn: string[]) {
  return {
    image: stack.busyboxImage,
    command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'],
    volumes: ['data:/data'],
    ...(dependsOn.length > 0 ? { depends_on: dependsOn } : {}),
  };
}

after(
  async () => {
    await client?.connection.close();
    await proxy?.close();
    if (dir) {
      await compose(['down', '-v', '--remove-orphans', '--timeout', '5'], 120_000);
      await run('docker-compose', ['-p', app, '-f', join(dir, 'app.yml'), 'down', '-v', '--timeout', '2']);
    }
    for (const volume of created)
      await docker
        .getVolume(volume)
        .remove({ force: true })
        .catch(() => {});
    await docker
      .getImage(dockvaultImage)
      .remove()
      .catch(() => {});
    await cleanupDir();
  },
  { timeout: 180_000 },
);

test(
  'compose up: the worker turns healthy; a backup started with compose run succeeds, restores into a fresh volume, and the app runs again in order',
  { timeout: 300_000 },
  async () => {
    const upMs = await upAndHealthy();
    const memory = await ok('docker', [
      'stats',
      '--no-stream',
      '--format',
      '{{.Name}} {{.MemUsage}}',
      worker,
    ]);
    console.log(`compose up until the worker was healthy: ${upMs} ms; idle memory: ${memory.trim()}`);
    const before = await describeTree(await mountpoint(appVolume));
    const started = Date.now();

    const backup = await compose(['run', '--rm', 'dockvault', 'run', 'app'], 240_000);
    assert.equal(backup.code, 0, backup.out);

    // Stopped web then db (web depends on db), so db started first.
    const [dbState, webState] = [(await inspect(db)).State, (await inspect(web)).State];
    assert.ok(dbState.Running && webState.Running, 'both app containers run again');
    const dbStart = Date.parse(dbState.StartedAt);
    const webStart = Date.parse(webState.StartedAt);
    assert.ok(dbStart > started && webStart > started, 'both were restarted by the backup');
    assert.ok(dbStart < webStart, `db (${dbState.StartedAt}) started before web (${webState.StartedAt})`);

    // The CLI on the host sees the backup through the published ports.
    const listed = await runCli(
      ['list', 'app', '--json', '--config', join(dir, 'cfg/dockvault.yml')],
      hostEnv,
    );
    assert.equal(listed.code, 0, listed.stderr);
    const backups = JSON.parse(listed.stdout) as { backupId: string }[];
    assert.equal(backups.length, 1);

    const fresh = `${project}-fresh`;
    created.push(fresh);
    const restore = await compose(
      ['run', '--rm', 'dockvault', 'restore', 'app', '--to-volume', `${appVolume}=${fresh}`],
      240_000,
    );
    assert.equal(restore.code, 0, restore.out);
    assert.deepEqual(diffTrees(before, await describeTree(await mountpoint(fresh))), []);
    assert.equal(
      Date.parse((await inspect(web)).State.StartedAt),
      webStart,
      'a restore to another volume leaves the app alone',
    );
  },
);

test(
  'compose restart of the worker while the containers are stopped for a backup: they run again within a minute',
  { timeout: 300_000 },
  async () => {
    proxy.throttle(128 * 1024); // 4 MiB of random data streamed: about 30 s with the containers stopped
    const startedRun = await runCli(
      ['run', 'slow', '--no-wait', '--config', join(dir, 'cfg/dockvault.yml')],
      hostEnv,
    );
    const workflowId = /started (\S+)/.exec(startedRun.stdout)?.[1];
    assert.ok(startedRun.code === 0 && workflowId, `${startedRun.stdout}${startedRun.stderr}`);
    const handle = (await temporal()).workflow.getHandle(workflowId);
    await waitFor(
      async () => {
        if (!(await isRunning(web)) && !(await isRunning(db))) return true;
        const { status } = await handle.describe();
        if (status.name === 'RUNNING') return false;
        const error = await handle.result().then(
          () => 'no error',
          (err: unknown) => String((err as Error).cause ?? err),
        );
        throw new Error(`the run ended (${status.name}) before both containers were seen stopped: ${error}`);
      },
      60_000,
      'both app containers to be stopped',
    );

    const restartedAt = Date.now();
    const restart = await compose(['restart', 'dockvault'], 120_000);
    assert.equal(restart.code, 0, restart.out);
    proxy.throttle(Infinity);
    await waitFor(
      async () => (await isRunning(web)) && (await isRunning(db)),
      60_000,
      'the app to run again',
    );
    const downMs = Date.now() - restartedAt;
    console.log(`app running again ${downMs} ms after the worker's restart began`);
    assert.ok(downMs < 60_000);

    const outcome = await handle.result().then(
      () => 'completed',
      () => 'failed',
    );
    const prefixes = await store.listPrefixes('slow/');
    const manifests: string[] = [];
    for (const p of prefixes) if (await store.head(`${p}manifest.json`)) manifests.push(p);
    if (outcome === 'completed') assert.equal(manifests.length, 1, 'a completed run has its manifest');
    else {
      assert.deepEqual(manifests, [], 'a failed run leaves no manifest');
      assert.deepEqual(prefixes, [], 'and no objects');
    }
    assert.equal((await store.listUnfinishedUploads('slow/')).length, 0, 'no unfinished multipart upload');
    console.log(`the interrupted run ${outcome}`);
    await waitFor(
      async () => (await inspect(worker)).State.Health?.Status === 'healthy',
      90_000,
      'the restarted worker to be healthy',
    );
  },
);

test(
  'compose down && up: the schedules and the past runs are still in Temporal',
  { timeout: 300_000 },
  async () => {
    const sync = await compose(['run', '--rm', 'dockvault', 'schedules', 'sync'], 120_000);
    assert.equal(sync.code, 0, sync.out);
    assert.match(sync.out, /dockvault-app\s.*created|created.*dockvault-app/);
    const runsBefore = await pastRuns();
    assert.ok(
      runsBefore.some((run) => run.startsWith('backup-app-') && run.endsWith(':COMPLETED')),
      `the first test's backup is among ${runsBefore.join(', ')}`,
    );
    await client?.connection.close();
    client = undefined;

    const down = await compose(['down', '--timeout', '10'], 120_000);
    assert.equal(down.code, 0, down.out);
    assert.equal(
      (
        await docker.listContainers({
          all: true,
          filters: { label: [`com.docker.compose.project=${project}`] },
        })
      ).length,
      0,
    );
    await upAndHealthy();

    const schedule = await (await temporal()).schedule.getHandle('dockvault-app').describe();
    assert.equal(schedule.state.paused, true);
    assert.deepEqual(await pastRuns(), runsBefore);
  },
);

/** Every workflow this project's Temporal knows (only this file's runs), as id:status. */
async function pastRuns(): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of (await temporal()).workflow.list())
    ids.push(`${execution.workflowId}:${execution.status.name}`);
  return ids.sort();
}
