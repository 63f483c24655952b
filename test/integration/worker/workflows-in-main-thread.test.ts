// The worker runs workflows on its main thread (src/temporal/workflows-in-main-thread.ts): a workflow
// that never yields must still fail its task after the deadlock detector's limit, and must not take
// the worker down with it; the SDK's hook on every promise of that thread is off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { stack } from '../../helpers/stack-env.ts';
import { waitFor } from '../../helpers/wait.ts';
import type { loopingWorkflow, quickWorkflow } from '../fixtures/looping-workflows.ts';

const workerScript = fileURLToPath(new URL('../fixtures/main-thread-worker.ts', import.meta.url));

test('a workflow that never yields fails its task after 5 s; the worker goes on running workflows', async () => {
  const address = stack.temporalAddress;
  const taskQueue = `main-thread-${Date.now()}`;
  const child = spawn(process.execPath, [workerScript, address, taskQueue], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const connection = await Connection.connect({ address });
  try {
    await waitFor(() => output.includes('worker ready'), 60_000, 'the worker to start');
    // The SDK's hook on every promise of the thread is stopped (createMainThreadWorkflowWorker).
    assert.match(output, /promise hook: off/);
    const client = new Client({ connection });
    const looping = await client.workflow.start<typeof loopingWorkflow>('loopingWorkflow', {
      taskQueue,
      workflowId: `${taskQueue}-loop`,
    });
    const started = Date.now();
    let failure = '';
    await waitFor(
      async () => {
        const events = (await looping.fetchHistory()).events ?? [];
        const failed = events.find((e) => e.workflowTaskFailedEventAttributes);
        failure = failed?.workflowTaskFailedEventAttributes?.failure?.message ?? '';
        return failed !== undefined;
      },
      60_000,
      'the looping workflow task to fail (the deadlock detector is off?)',
    );
    const after = Date.now() - started;
    console.log(`looping workflow task failed after ${after} ms: ${failure}`);
    assert.match(failure, /timed out/i);
    assert.ok(after >= 4_000, `failed after ${after} ms, before the 5 s limit`);
    await looping.terminate('test done');

    const quick = client.workflow.execute<typeof quickWorkflow>('quickWorkflow', {
      taskQueue,
      workflowId: `${taskQueue}-quick`,
      args: ['after the loop'],
    });
    assert.equal(await quick, 'hello after the loop');
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    await connection.close();
  }
});
