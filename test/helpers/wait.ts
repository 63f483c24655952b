import type { Client } from '@temporalio/client';

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
