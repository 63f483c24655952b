// A host's limit on data-moving steps, whoever starts the runs: three schedules triggered at the same
// moment on a host limited to one run one after the other, and a run only stops its containers once it
// holds the host's slot (the Docker engine's own events are the witness); a parallel backup run of four
// definitions on a host limited to two has at most two moving data at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { WorkflowProgress } from '../../../src/workflows/progress.ts';
import type { BackupRunResult } from '../../../src/plan/types.ts';
import { BackupTestEnv } from '../../helpers/backup-env.ts';
import { stack } from '../../helpers/stack-env.ts';
import { TcpProxy } from '../../helpers/tcp-proxy.ts';
import { waitFor, waitForScheduledRun } from '../../helpers/wait.ts';
import { runCli } from '../../helpers/worker-process.ts';

let env: BackupTestEnv;
let client: Client;
let proxy: TcpProxy;
const schedules: string[] = [];

before(async () => {
  env = await BackupTestEnv.create('hl');
  client = await env.client();
  // Uploads of a few seconds each, so that runs which overlapped would be seen to.
  proxy = new TcpProxy(stack.s3Endpoint);
  await proxy.start();
  proxy.throttle(3 * 1024 * 1024);
});
after(async () => {
  for (const id of schedules) {
    await client.schedule
      .getHandle(id)
      .delete()
      .catch(() => {});
  }
  await env.close();
  await proxy.close();
});

interface Interval {
  definition: string;
  /** The engine's first kill/die/stop event of the definition's container. */
  stoppedAt: number;
  /** The last object's upload end, from the manifest. */
  movedUntil: number;
}

interface Fixture {
  name: string;
  container: string;
  volume: string;
}

/** Containers with 8 MiB of random data each, one volume apiece, and a standard definition for each. */
async function definitions(names: string[], extra: object = {}) {
  const { fixtures, tag } = env;
  const out: Fixture[] = [];
  for (const name of names) {
    const volume = await fixtures.volume(`${tag}-${name}`);
    await fixtures.sh([volume], `head -c 8388608 /dev/urandom > /${volume}/data`);
    const container = await fixtures.sleeper(`${tag}-${name}-app`, [volume]);
    out.push({ name: `${tag}-${name}`, container, volume });
  }
  return {
    list: out,
    config: out.map((d) => ({
      name: d.name,
      type: 'standard',
      containers: [d.container],
      volumes: [d.volume],
      ...extra,
    })),
  };
}

/** When the engine saw each container stop (ms), from its event log between `since` and now. */
async function stopTimes(containers: string[], since: number): Promise<Map<string, number>> {
  const stream = await env.fixtures.docker.getEvents({
    since: Math.floor(since / 1000) - 1,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['kill', 'die', 'stop'], container: containers },
  });
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  const first = new Map<string, number>();
  for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
    const e = JSON.parse(line) as { Actor: { Attributes: { name: string } }; timeNano: number };
    const name = e.Actor.Attributes.name;
    const at = e.timeNano / 1e6;
    if (!first.has(name) || at < first.get(name)!) first.set(name, at);
  }
  return first;
}

async function manifestOf(definition: string): Promise<{ objects: { finishedAt: string }[] }> {
  const { manifests } = await env.backups(definition);
  assert.equal(manifests.length, 1, `${definition} has one backup`);
  return (await env.store.getJson(`${manifests[0]}manifest.json`)) as { objects: { finishedAt: string }[] };
}

async function intervals(defs: { name: string; container: string }[], since: number): Promise<Interval[]> {
  const stops = await stopTimes(
    defs.map((d) => d.container),
    since,
  );
  const out: Interval[] = [];
  for (const d of defs) {
    const stoppedAt = stops.get(d.container);
    assert.ok(stoppedAt !== undefined, `the engine saw ${d.container} stop`);
    const manifest = await manifestOf(d.name);
    const movedUntil = Math.max(...manifest.objects.map((o) => Date.parse(o.finishedAt)));
    out.push({ definition: d.name, stoppedAt, movedUntil });
  }
  return out.sort((a, b) => a.stoppedAt - b.stoppedAt);
}

/** The most intervals that share one instant. */
function mostAtOnce(list: Interval[]): number {
  const edges = list.flatMap((i) => [
    { at: i.stoppedAt, d: 1 },
    { at: i.movedUntil, d: -1 },
  ]);
  // An end and a start at the same millisecond do not overlap.
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (now += e.d));
  return most;
}

/** From the run's history: when it got its slot, and how often the server refused it one first. */
async function slotTaking(handle: WorkflowHandle): Promise<{ slotAt: number; refusals: number }> {
  const { events } = await handle.fetchHistory();
  let slotAt: number | undefined;
  let refusals = 0;
  for (const e of events ?? []) {
    const started = e.childWorkflowExecutionStartedEventAttributes;
    if (started?.workflowExecution?.workflowId?.startsWith('slot-') && slotAt === undefined) {
      slotAt = Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    }
    if (e.startChildWorkflowExecutionFailedEventAttributes?.workflowId?.startsWith('slot-')) refusals++;
  }
  assert.ok(slotAt !== undefined, `${handle.workflowId} took a host slot`);
  return { slotAt, refusals };
}

test('with a host limit of 1, three schedules triggered at once run one after the other; no container stops while its run waits', async (t) => {
  const { tag } = env;
  const defs = await definitions(['a', 'b', 'c'], { schedule: { cron: '0 0 1 1 *' } });
  await env.writeConfig(defs.config, { hosts: { [tag]: { concurrency: 1 } } }, { endpoint: proxy.url });
  const check = await runCli(['config', 'check', '--config', env.configPath]);
  assert.match(check.stdout, /1 data-moving step\(s\) at once/, check.stdout + check.stderr);
  await env.startWorker();
  const sync = await runCli(['schedules', 'sync', '--config', env.configPath]);
  assert.equal(sync.code, 0, sync.stdout + sync.stderr);
  const ids = defs.list.map((d) => `dockvault-${d.name}`);
  schedules.push(...ids);

  const since = Date.now();
  await Promise.all(ids.map((id) => client.schedule.getHandle(id).trigger()));
  const handles = await Promise.all(
    ids.map(async (id) => client.workflow.getHandle(await waitForScheduledRun(client, id))),
  );
  const starts = await Promise.all(handles.map(async (h) => (await h.describe()).startTime.getTime()));
  assert.ok(Math.max(...starts) - Math.min(...starts) < 5_000, `started together: ${starts.join(', ')}`);

  // While a run says it waits for the slot (before and after the look), its container is running.
  const waiting = async (h: WorkflowHandle) =>
    (await h.query<WorkflowProgress>('progress').catch(() => undefined))?.phase ===
    'waiting for a host slot (1 of 1 busy)';
  let sawWaiting = 0;
  let finished = false;
  const done = Promise.all(handles.map((h) => h.result())).finally(() => (finished = true));
  done.catch(() => undefined);
  while (!finished) {
    for (const [i, h] of handles.entries()) {
      if (!(await waiting(h))) continue;
      const running = await env.fixtures.isRunning(defs.list[i]!.container);
      if (!(await waiting(h))) continue;
      sawWaiting++;
      assert.equal(running, true, `${defs.list[i]!.name} waits for the slot with its container running`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await done;

  const moved = await intervals(defs.list, since);
  for (const [prev, next] of moved.slice(0, -1).map((p, i) => [p, moved[i + 1]!] as const)) {
    assert.ok(
      prev.movedUntil <= next.stoppedAt,
      `${next.definition} stopped its container (${new Date(next.stoppedAt).toISOString()}) only after ${prev.definition} had uploaded (${new Date(prev.movedUntil).toISOString()})`,
    );
  }
  t.diagnostic(
    `from one upload's end to the next run's container stop: ${moved
      .slice(1)
      .map((m, i) => `${Math.round(m.stoppedAt - moved[i]!.movedUntil)} ms`)
      .join(', ')}`,
  );
  const taken = await Promise.all(handles.map(slotTaking));
  for (const [i, d] of defs.list.entries()) {
    const interval = moved.find((m) => m.definition === d.name)!;
    assert.ok(
      interval.stoppedAt >= taken[i]!.slotAt,
      `${d.container} stopped at ${new Date(interval.stoppedAt).toISOString()}, after its run got the slot at ${new Date(taken[i]!.slotAt).toISOString()}`,
    );
  }
  assert.ok(
    taken.filter((t) => t.refusals > 0).length >= 2,
    `two of the runs were refused the slot first: ${JSON.stringify(taken)}`,
  );
  assert.ok(sawWaiting > 0, 'a run showed that it waits for the host slot');
  for (const d of defs.list) assert.equal(await env.fixtures.isRunning(d.container), true, d.container);
});

test('a parallel backup run of four definitions on a host limited to 2: at most two move data at once', async () => {
  const { tag } = env;
  const defs = await definitions(['p1', 'p2', 'p3', 'p4']);
  await env.writeConfig(
    defs.config,
    { parallel: true, hosts: { [tag]: { concurrency: 2 } } },
    { endpoint: proxy.url },
  );
  await env.worker?.stop('SIGKILL');
  await env.startWorker();
  const since = Date.now();
  const r = await runCli(['run', '--all', '--config', env.configPath]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const runId = /started (run-all-\S+)/.exec(r.stdout)![1]!;
  const result = (await client.workflow.getHandle(runId).result()) as BackupRunResult;
  assert.equal(result.ok, 4, JSON.stringify(result));

  const moved = await intervals(defs.list, since);
  assert.equal(mostAtOnce(moved), 2, `two at once, never more: ${JSON.stringify(moved)}`);
  const taken = await Promise.all(
    result.outcomes.map((o) => slotTaking(client.workflow.getHandle(o.workflowId))),
  );
  assert.ok(taken.filter((t) => t.refusals > 0).length >= 2, `the last two waited: ${JSON.stringify(taken)}`);

  // Slot rows are children of the runs that held them: the documented top-level query hides them.
  const rows = async (query: string) => {
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
    return ids;
  };
  const slots = `WorkflowId IN ("slot-1@${tag}", "slot-2@${tag}")`;
  await waitFor(async () => (await rows(slots)).length >= 4, 20_000, 'the slot runs to be listed');
  assert.deepEqual(await rows(`ParentWorkflowId IS NULL AND ${slots}`), []);
  for (const d of defs.list) assert.equal(await env.fixtures.isRunning(d.container), true, d.container);
});

test('a run that waits past its timeoutMinutes fails having stopped nothing; a terminated holder frees its slot', async (t) => {
  const { tag } = env;
  const defs = await definitions(['holder', 'late', 'next']);
  const [holder, late, next] = defs.list as [Fixture, Fixture, Fixture];
  const config = defs.config.map((c) => (c.name === late.name ? { ...c, timeoutMinutes: 1 } : c));
  await env.writeConfig(config, { hosts: { [tag]: { concurrency: 1 } } }, { endpoint: proxy.url });
  await env.worker?.stop('SIGKILL');
  await env.startWorker();
  // The holder's upload takes minutes: it keeps the only slot while the others wait.
  proxy.throttle(64 * 1024);
  const since = Date.now();
  const holding = client.workflow.getHandle(await env.startRun(holder.name));
  await waitFor(
    async () =>
      (await holding.query<WorkflowProgress>('progress').catch(() => undefined))?.phase ===
      'compressing, encrypting and uploading',
    60_000,
    'the holder to upload',
  );
  const lateRun = client.workflow.getHandle(await env.startRun(late.name));
  const nextRun = client.workflow.getHandle(await env.startRun(next.name));
  await assert.rejects(lateRun.result(), (err: Error) => {
    assert.match(
      String((err.cause as Error | undefined)?.message),
      /took longer than its timeoutMinutes \(1\)/,
    );
    return true;
  });

  const terminatedAt = Date.now();
  await holding.terminate('a run killed while it holds the host slot');
  proxy.throttle(3 * 1024 * 1024);
  await nextRun.result();
  const slotAt = (await slotTaking(nextRun)).slotAt;
  assert.ok(slotAt >= terminatedAt, 'the next run got the slot only once the holder was gone');
  t.diagnostic(`the next run took the slot ${slotAt - terminatedAt} ms after the holder was terminated`);
  assert.ok(
    slotAt - terminatedAt < 45_000,
    `taken ${slotAt - terminatedAt} ms after the holder was terminated`,
  );

  const stops = await stopTimes([holder.container, late.container, next.container], since);
  assert.equal(stops.has(late.container), false, 'the run that timed out while waiting stopped nothing');
  assert.ok(stops.get(next.container)! >= slotAt, 'the next run stopped its container once it had the slot');
  for (const d of defs.list) assert.equal(await env.fixtures.isRunning(d.container), true, d.container);
});
