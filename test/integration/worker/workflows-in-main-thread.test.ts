// The worker runs workflows on its main thread (src/temporal/workflows-in-main-thread.ts): a workflow
// that never yields must still fail its task after the deadlock detector's limit, and must not take
// the worker down with it; the SDK's hook on every promise of that thread is off. A workflow's
// unhandled rejection fails its task; one of the worker's own code ends the worker, saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { stack } from '../../helpers/stack-env.ts';
import { waitFor } from '../../helpers/wait.ts';
import type { loopingWorkflow, quickWorkflow, rejectingWorkflow } from '../fixtures/looping-workflows.ts';

const workerScript = fileURLToPath(new URL('../fixtures/main-thread-worker.ts', import.meta.url));

/** The fixture worker in a process of its own, on a task queue of its own. */
function startWorker(taskQueue: string, ...args: string[]) {
  const child = spawn(process.execPath, [workerScript, stack.temporalAddress, taskQueue, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function stopWorker(worker: ReturnType<typeof startWorker>) {
  worker.child.kill('SIGKILL');
  await worker.exited;
}

/** The message of the workflow's first failed task, once there is one. */
async function firstTaskFailure(handle: WorkflowHandle, what: string): Promise<string> {
  let failure = '';
  await waitFor(
    async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const failed = events.find((e) => e.workflowTaskFailedEventAttributes);
      failure = failed?.workflowTaskFailedEventAttributes?.failure?.message ?? '';
      return failed !== undefined;
    },
    60_000,
    what,
  );
  return failure;
}

/** The worker still runs workflows: a quick one completes. */
async function assertRunsWorkflows(client: Client, taskQueue: string, when: string): Promise<void> {
  const quick = client.workflow.execute<typeof quickWorkflow>('quickWorkflow', {
    taskQueue,
    workflowId: `${taskQueue}-quick`,
    args: [when],
  });
  assert.equal(await quick, `hello ${when}`);
}

test('a workflow that never yields fails its task after 5 s; the worker goes on running workflows', async () => {
  const address = stack.temporalAddress;
  const taskQueue = `main-thread-${Date.now()}`;
  const worker = startWorker(taskQueue);
  const output = worker.output;
  const connection = await Connection.connect({ address });
  try {
    await waitFor(() => output().includes('worker ready'), 60_000, 'the worker to start');
    // The SDK's hook on every promise of the thread is stopped (createMainThreadWorkflowWorker).
    assert.match(output(), /promise hook: off/);
    const client = new Client({ connection });
    const looping = await client.workflow.start<typeof loopingWorkflow>('loopingWorkflow', {
      taskQueue,
      workflowId: `${taskQueue}-loop`,
    });
    const started = Date.now();
    const failure = await firstTaskFailure(
      looping,
      'the looping workflow task to fail (the deadlock detector is off?)',
    );
    const after = Date.now() - started;
    console.log(`looping workflow task failed after ${after} ms: ${failure}`);
    assert.match(failure, /timed out/i);
    assert.ok(after >= 4_000, `failed after ${after} ms, before the 5 s limit`);
    await looping.terminate('test done');

    await assertRunsWorkflows(client, taskQueue, 'after the loop');
  } finally {
    await stopWorker(worker);
    await connection.close();
  }
});

test("a workflow's unhandled rejection fails its task, not the worker", async () => {
  const taskQueue = `main-thread-rejecting-${Date.now()}`;
  const worker = startWorker(taskQueue);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  try {
    await waitFor(() => worker.output().includes('worker ready'), 60_000, 'the worker to start');
    const client = new Client({ connection });
    const rejecting = await client.workflow.start<typeof rejectingWorkflow>('rejectingWorkflow', {
      taskQueue,
      workflowId: `${taskQueue}-reject`,
    });
    const failure = await firstTaskFailure(rejecting, 'the rejecting workflow task to fail');
    assert.match(failure, /Unhandled Promise rejection: Error: the workflow left this unhandled/);
    await rejecting.terminate('test done');
    await assertRunsWorkflows(client, taskQueue, 'after the rejection');
    assert.doesNotMatch(worker.output(), /StrayRejectionError/);
  } finally {
    await stopWorker(worker);
    await connection.close();
  }
});

test("an unhandled rejection of the worker's own code ends the worker with an error naming it", async () => {
  const worker = startWorker(`main-thread-stray-${Date.now()}`, 'stray');
  const code = await Promise.race([
    worker.exited,
    new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 60_000)),
  ]);
  try {
    const output = worker.output();
    assert.notEqual(code, 'running', `the worker still runs:\n${output}`);
    assert.notEqual(code, 0, output);
    assert.match(
      output,
      /StrayRejectionError: dockvault worker: a promise of the worker's own code \(not a workflow's\) was rejected and nothing handled it: Error: the fixture rejected this/,
    );
    assert.doesNotMatch(output, /unknown Workflow Run/);
  } finally {
    await stopWorker(worker);
  }
});
