// Every recorded history (test/replay/histories/, written by record-histories.ts on a released
// worker) must replay on the current workflow code: a run in flight during an upgrade continues on the
// new worker only if its history still replays. A change that breaks one needs patched() (README.md,
// "Upgrading").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { recordedHistories } from './histories.ts';

// Only what goes wrong: a replay worker logs every state change at INFO.
Runtime.install({ logger: new DefaultLogger('WARN') });

const workflowsPath = fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url));

test('every recorded workflow history replays on the current workflow code', async () => {
  const histories = await recordedHistories();
  assert.ok(histories.length >= 14, `only ${histories.length} recorded histories`);
  const workflowBundle = await bundleWorkflowCode({ workflowsPath, logger: undefined });
  const failures: string[] = [];
  let replayed = 0;
  const byId = new Map(histories.map((h) => [h.workflowId, h.name]));
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories)) {
    replayed++;
    if (result.error) failures.push(`${byId.get(result.workflowId)}: ${result.error.message}`);
  }
  assert.equal(replayed, histories.length);
  assert.deepEqual(failures, [], `histories that no longer replay:\n${failures.join('\n')}`);
});

test('every workflow the worker runs has a recorded history, and every recorded one still exists', async () => {
  const recorded = new Set(
    (await recordedHistories()).map(
      (h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
    ),
  );
  const current = new Set(Object.keys(await import('../../src/workflows/index.ts')));
  // A workflow removed from the worker strands its open runs: keep it until none can be open.
  assert.deepEqual(
    [...recorded].filter((w) => !current.has(w!)),
    [],
    'recorded workflows the worker no longer runs',
  );
  // A new workflow: add its runs to record-histories.ts and record them.
  assert.deepEqual(
    [...current].filter((w) => !recorded.has(w)),
    [],
    'workflows without a recorded history',
  );
});
