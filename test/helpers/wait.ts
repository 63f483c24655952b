import type { Client, WorkflowHandle } from '@temporalio/client';

/** Polls until the condition holds; fails with what was awaited when the time is up. */
export async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The workflow a schedule started on its (only) action so far, once it has started it. */
export async function waitForScheduledRun(client: Client, scheduleId: string): Promise<string> {
  let workflowId = '';
  await waitFor(
    async () => {
      const d = await client.schedule.getHandle(scheduleId).describe();
      workflowId = d.info.recentActions[0]?.action.workflow.workflowId ?? '';
      return workflowId !== '';
    },
    20_000,
    'the triggered action',
  );
  return workflowId;
}

/** How a run ended, 'completed' or 'failed: <cause>', or 'still running after N s' when it did not. */
export async function runOutcome(handle: WorkflowHandle, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      handle.result().then(
        () => 'completed',
        (err: Error) => `failed: ${err.cause instanceof Error ? err.cause.message : err.message}`,
      ),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`still running after ${timeoutMs / 1000} s`), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
