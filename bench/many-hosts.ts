// Many hosts: N definitions over two Docker hosts (the main engine, and a second dockerd on this machine
// as host b), each a small volume with a running container, started as one backup run with `parallel`.
// Baselines measured in the same run: one definition alone on each host. Prints
//   total time of the run              vs N x one definition alone
//   per-host concurrency seen          overlapping data-moving activities (and stopped containers) in the histories
//   max and median downtime            vs one definition alone
//   Temporal overhead per backup       workflow wall time minus the time its activities cover
//   history events and actions         per backup (its workflow and its definition lock) and per run
//   CPU seconds                        of the Temporal server, each worker and the S3 server, over the run
// and then the dev server's own ceiling: workflow tasks per second with trivial workflows (one activity).
// Usage: node bench/many-hosts.ts [DEFINITIONS=50] [MB=4] [TRIVIAL=200]
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { generateIdentity } from '../src/pipeline/age/keys.ts';
import type { BackupResult, BackupRunResult } from '../src/plan/types.ts';
import { createS3Store } from '../src/storage/s3-store.ts';
import { workflowActivities, type WorkflowActivities } from '../test/helpers/activity-history.ts';
import { DockerFixtures } from '../test/helpers/docker-fixtures.ts';
import { secondDockerEngine } from '../test/helpers/second-docker-engine.ts';
import { s3TestTarget, stack } from '../test/helpers/stack-env.ts';
import { runCli, startWorker, type WorkerProcess } from '../test/helpers/worker-process.ts';
import { cpuSeconds } from './process-stats.ts';

const DEFINITIONS = Number(process.argv[2] ?? 50);
const MB_EACH = Number(process.argv[3] ?? 4);
const TRIVIAL = Number(process.argv[4] ?? 200);
const MB = 1024 * 1024;
const rand = randomBytes(3).toString('hex');
const tag = `mh-bench-${rand}`;
const hostNames = { a: `mh-a-${rand}`, b: `mh-b-${rand}` };
const work = `/var/tmp/dockvault-${tag}`;
/** Activities that read or write the data: what a per-host limit bounds. */
const DATA_MOVING = new Set([
  'archiveVolumeToStaging',
  'uploadStagedVolume',
  'streamVolumeToStorage',
  'dumpDatabase',
  'dumpGlobals',
]);
/** The SDK sends a beating activity's heartbeats at most this often (the worker's maxHeartbeatThrottleInterval). */
const HEARTBEAT_THROTTLE_MS = 2000;

/** The pid of the process whose command line has every one of `words` (e.g. the Temporal dev server). */
function pidOf(words: string[]): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (words.every((w) => args.some((a) => a.includes(w)))) return Number(entry);
  }
  throw new Error(`no process with ${words.join(' ')} in its command line`);
}

const temporalPort = stack.temporalAddress.split(':').pop()!;
const s3Port = new URL(stack.s3Endpoint).port;
const pids = {
  temporal: pidOf(['start-dev', `${temporalPort}`]),
  s3: pidOf(['versitygw', `:${s3Port}`]),
};

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Time covered by at least one interval (activities of one workflow may overlap). */
function covered(intervals: [number, number][]): number {
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (s > end) {
      total += e - s;
      end = e;
    } else if (e > end) {
      total += e - end;
      end = e;
    }
  }
  return total;
}

/** The most intervals open at one moment. */
function maxOverlap(intervals: [number, number][]): number {
  const edges = intervals.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]);
  edges.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d!));
  return most;
}

/** Billable actions (Temporal Cloud) in one history: the start, each activity attempt, timers, upserts, signals, and the heartbeats that reach the server (estimated from durations). */
function actions(h: WorkflowActivities): { counted: number; heartbeats: number } {
  const attempts = sum(h.runs.map((r) => Math.max(1, r.attempt)));
  const heartbeats = sum(
    h.runs.map((r) =>
      r.closedMs - r.startedMs >= 1000
        ? 1 + Math.floor((r.closedMs - r.startedMs) / HEARTBEAT_THROTTLE_MS)
        : 0,
    ),
  );
  return { counted: 1 + attempts + h.timers + h.searchAttributeUpserts + h.signals, heartbeats };
}

// The in-process worker of the ceiling measurement logs only what goes wrong.
Runtime.install({ logger: new DefaultLogger('WARN') });
const connection = await Connection.connect({ address: stack.temporalAddress });
const client = new Client({ connection });
const engineB = await secondDockerEngine();
const engines = { a: new DockerFixtures(), b: new DockerFixtures(engineB.docker) };
const target = s3TestTarget(tag);
const store = createS3Store(target);
const workers: WorkerProcess[] = [];
const lines: string[] = [];
const print = (line: string) => {
  console.log(line);
  lines.push(line);
};

/** Wall time minus the time covered by the workflow's activities. */
function overheadMs(h: WorkflowActivities): number {
  return h.closedMs - h.startedMs - covered(h.runs.map((r): [number, number] => [r.startedMs, r.closedMs]));
}

async function backupAlone(name: string): Promise<{ ms: number; result: BackupResult; overheadMs: number }> {
  const t0 = Date.now();
  const started = await runCli(['run', name, '--no-wait', '--config', join(work, 'dockvault.yml')]);
  const id = /started (\S+)/.exec(started.stdout)?.[1];
  if (started.code !== 0 || !id) throw new Error(`run ${name} failed: ${started.stdout}${started.stderr}`);
  const result = (await client.workflow.getHandle(id).result()) as BackupResult;
  return { ms: Date.now() - t0, result, overheadMs: overheadMs(await workflowActivities(client, id)) };
}

try {
  mkdirSync(join(work, 'staging'), { recursive: true });
  console.log(
    `building ${DEFINITIONS} definitions of ${MB_EACH} MB over hosts ${hostNames.a} (main engine) and ${hostNames.b} (${engineB.dockerHost})...`,
  );
  const definitions: { name: string; type: string; host: string; containers: string[]; volumes: string[] }[] =
    [];
  const text = Buffer.from(
    'backup restore volume container schedule temporal archive encrypt stream\n'.repeat(1400),
  );
  for (let i = 0; i < DEFINITIONS; i++) {
    const host = i % 2 === 0 ? 'a' : 'b';
    const fixtures = engines[host];
    const name = `${tag}-d${i}`;
    await fixtures.volume(name);
    const mountpoint = await fixtures.mountpoint(name);
    // Half incompressible, half text in small files.
    writeFileSync(join(mountpoint, 'random.bin'), randomBytes((MB_EACH * MB) / 2));
    for (let f = 0; f < (MB_EACH * MB) / 2 / text.length; f++)
      writeFileSync(join(mountpoint, `t${f}.txt`), text);
    const app = await fixtures.sleeper(`${name}-app`, [name]);
    definitions.push({ name, type: 'standard', host: hostNames[host], containers: [app], volumes: [name] });
  }
  const { recipient } = generateIdentity();
  const configPath = join(work, 'dockvault.yml');
  writeFileSync(
    configPath,
    stringify({
      host: hostNames.a,
      temporal: { address: stack.temporalAddress, taskQueue: tag },
      s3: { endpoint: stack.s3Endpoint, bucket: stack.s3Bucket, prefix: tag, partSizeMiB: 5 },
      encryption: { recipients: [recipient] },
      staging: { dir: join(work, 'staging'), minFreeMiB: 0 },
      stopTimeoutSeconds: 5,
      parallel: true,
      backupDefinitions: definitions,
    }),
  );
  const workerA = await startWorker(configPath, join(work, 'state-a'), ['--host', hostNames.a]);
  workers.push(workerA);
  const workerB = await startWorker(configPath, join(work, 'state-b'), ['--host', hostNames.b], undefined, {
    DOCKER_HOST: engineB.dockerHost,
  });
  workers.push(workerB);

  // Baselines: one definition alone on each host (a second run, so the workers are warm).
  await backupAlone(definitions[0]!.name);
  const aloneA = await backupAlone(definitions[0]!.name);
  const aloneB = await backupAlone(definitions[1]!.name);
  const aloneMs = (aloneA.ms + aloneB.ms) / 2;
  const aloneDowntime = (aloneA.result.downtimeMs + aloneB.result.downtimeMs) / 2;

  const cpu = () => ({
    temporal: cpuSeconds(pids.temporal),
    s3: cpuSeconds(pids.s3),
    a: cpuSeconds(workerA.child.pid!),
    b: cpuSeconds(workerB.child.pid!),
  });
  const cpu0 = cpu();
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const t0 = Date.now();
  const started = await runCli(['run', '--all', '--no-wait', '--config', configPath]);
  const runId = /started (run-all-\S+)/.exec(started.stdout)?.[1];
  if (started.code !== 0 || !runId) throw new Error(`run --all failed: ${started.stdout}${started.stderr}`);
  const result = (await client.workflow.getHandle(runId).result()) as BackupRunResult;
  const totalMs = Date.now() - t0;
  const cpu1 = cpu();
  const failed = result.outcomes.filter((o) => o.status !== 'ok');
  if (failed.length > 0) throw new Error(`${failed.length} definitions failed: ${JSON.stringify(failed)}`);

  const parent = await workflowActivities(client, runId);
  const perBackup: {
    host: string;
    events: number;
    overheadMs: number;
    wallMs: number;
    workflowTasks: number;
    actions: number;
    heartbeats: number;
  }[] = [];
  const moving: Record<string, [number, number][]> = { [hostNames.a]: [], [hostNames.b]: [] };
  const stopped: Record<string, [number, number][]> = { [hostNames.a]: [], [hostNames.b]: [] };
  for (const outcome of result.outcomes) {
    const child = await workflowActivities(client, outcome.workflowId);
    const locks = await Promise.all(
      child.children.map((c) => workflowActivities(client, c.workflowId, c.runId)),
    );
    const histories = [child, ...locks];
    const act = histories.map(actions);
    perBackup.push({
      host: outcome.host,
      events: sum(histories.map((h) => h.events)),
      wallMs: child.closedMs - child.startedMs,
      overheadMs: overheadMs(child),
      workflowTasks: sum(histories.map((h) => h.workflowTasks)),
      actions: sum(act.map((x) => x.counted)),
      heartbeats: sum(act.map((x) => x.heartbeats)),
    });
    for (const r of child.runs)
      if (DATA_MOVING.has(r.type)) moving[outcome.host]!.push([r.startedMs, r.closedMs]);
    const firstStop = child.runs.find((r) => r.type === 'stopContainer');
    const restart = child.runs.filter((r) => r.type === 'startContainers').at(-1);
    if (firstStop && restart) stopped[outcome.host]!.push([firstStop.startedMs, restart.closedMs]);
  }
  const downtimes = result.outcomes.map((o) => o.result!.downtimeMs);
  const runEvents = parent.events + sum(perBackup.map((b) => b.events));
  const runTasks = parent.workflowTasks + sum(perBackup.map((b) => b.workflowTasks));
  const parentActions = actions(parent);
  const runActions = parentActions.counted + sum(perBackup.map((b) => b.actions));
  const runHeartbeats = parentActions.heartbeats + sum(perBackup.map((b) => b.heartbeats));
  const used = {
    temporal: cpu1.temporal - cpu0.temporal,
    s3: cpu1.s3 - cpu0.s3,
    a: cpu1.a - cpu0.a,
    b: cpu1.b - cpu0.b,
  };

  print('');
  print(
    `many hosts: ${DEFINITIONS} definitions of ${MB_EACH} MB, ${DEFINITIONS / 2} on each of 2 hosts, one run (parallel), load before ${load0}`,
  );
  print(
    `total time ${seconds(totalMs)} vs one definition alone ${seconds(aloneMs)} (a ${seconds(aloneA.ms)}, b ${seconds(aloneB.ms)}): ` +
      `${(totalMs / aloneMs).toFixed(1)}x for ${DEFINITIONS}x the work -> ${((aloneMs * DEFINITIONS) / totalMs).toFixed(1)}x faster than one after the other`,
  );
  for (const [host, label] of [
    [hostNames.a, 'a'],
    [hostNames.b, 'b'],
  ] as const) {
    print(
      `host ${label}: at most ${maxOverlap(moving[host]!)} data-moving activities at once, ${maxOverlap(stopped[host]!)} definitions with containers stopped at once`,
    );
  }
  print(
    `downtime: max ${seconds(Math.max(...downtimes))}, median ${seconds(median(downtimes))} vs alone ${seconds(aloneDowntime)}: ` +
      `${(median(downtimes) / aloneDowntime).toFixed(2)}x median, ${(Math.max(...downtimes) / aloneDowntime).toFixed(2)}x max`,
  );
  const overheads = perBackup.map((b) => b.overheadMs);
  print(
    `Temporal overhead per backup (wall time minus the time its activities cover): median ${seconds(median(overheads))}, max ${seconds(Math.max(...overheads))} ` +
      `vs alone ${seconds((aloneA.overheadMs + aloneB.overheadMs) / 2)}; ` +
      `backup wall time median ${seconds(median(perBackup.map((b) => b.wallMs)))}`,
  );
  print(
    `history per backup (its workflow + its definition lock): median ${median(perBackup.map((b) => b.events))} events, ` +
      `${median(perBackup.map((b) => b.workflowTasks))} workflow tasks, ${median(perBackup.map((b) => b.actions))} actions + ~${median(perBackup.map((b) => b.heartbeats))} heartbeats`,
  );
  print(
    `per run: ${runEvents} events (${parent.events} in the run workflow), ${runTasks} workflow tasks, ${runActions} actions + ~${runHeartbeats} heartbeats ` +
      `(${((runActions + runHeartbeats) / DEFINITIONS).toFixed(1)} per definition)`,
  );
  print(
    `CPU over the run: Temporal server ${used.temporal.toFixed(1)} s (${((used.temporal * 1000) / runTasks).toFixed(1)} ms per workflow task, ` +
      `${(used.temporal / DEFINITIONS).toFixed(2)} s per backup), worker a ${used.a.toFixed(1)} s, worker b ${used.b.toFixed(1)} s ` +
      `(incl. their tar), S3 server ${used.s3.toFixed(1)} s; during the run ${(runTasks / (totalMs / 1000)).toFixed(1)} workflow tasks/s, ${(runEvents / (totalMs / 1000)).toFixed(0)} history events/s`,
  );

  // The dev server's ceiling on this machine: trivial workflows (one activity each), all started at once.
  const smokeQueue = `${tag}-trivial`;
  const nativeConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: smokeQueue,
    workflowsPath: fileURLToPath(new URL('../test/integration/fixtures/smoke-workflows.ts', import.meta.url)),
    activities: await import('../test/integration/fixtures/smoke-activities.ts'),
  });
  const smoke = await worker.runUntil(async () => {
    const c0 = cpuSeconds(pids.temporal);
    const self0 = cpuSeconds('self');
    const s0 = Date.now();
    const handles = await Promise.all(
      Array.from({ length: TRIVIAL }, (_, i) =>
        client.workflow.start('smokeWorkflow', {
          taskQueue: smokeQueue,
          workflowId: `${smokeQueue}-${i}`,
          args: [`w${i}`],
        }),
      ),
    );
    await Promise.all(handles.map((h) => h.result()));
    const ms = Date.now() - s0;
    const history = await workflowActivities(client, handles[0]!.workflowId);
    return {
      ms,
      tasks: history.workflowTasks * TRIVIAL,
      events: history.events,
      server: cpuSeconds(pids.temporal) - c0,
      worker: cpuSeconds('self') - self0,
    };
  });
  await nativeConnection.close();
  print(
    `dev server ceiling: ${TRIVIAL} trivial workflows (${smoke.events} events, ${smoke.tasks / TRIVIAL} workflow tasks and 1 activity each) in ${seconds(smoke.ms)}: ` +
      `${(smoke.tasks / (smoke.ms / 1000)).toFixed(0)} workflow tasks/s + ${(TRIVIAL / (smoke.ms / 1000)).toFixed(0)} activity tasks/s, ` +
      `server ${((smoke.server * 1000) / smoke.tasks).toFixed(1)} ms CPU per workflow task (${smoke.server.toFixed(1)} s), worker ${smoke.worker.toFixed(1)} s`,
  );
  const ceilingEventsPerSecond = (smoke.events * TRIVIAL) / (smoke.ms / 1000);
  print(
    `-> ${ceilingEventsPerSecond.toFixed(0)} history events/s at the ceiling; the run's ${runEvents} events at that rate take ` +
      `${(runEvents / ceilingEventsPerSecond).toFixed(1)} s of its ${seconds(totalMs)}; ` +
      `${((3600 * ceilingEventsPerSecond) / median(perBackup.map((b) => b.events))).toFixed(0)} backups an hour if Temporal were the only limit`,
  );
} finally {
  for (const w of workers) await w.stop();
  await engines.a.cleanup();
  await engines.b.cleanup();
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  if (keys.length > 0) await store.deleteMany(keys);
  await store.abortUnfinishedUploads('');
  rmSync(work, { recursive: true, force: true });
  await connection.close();
}
console.log(`\n${lines.join('\n')}`);
