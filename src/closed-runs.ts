import { type Client, WorkflowNotFoundError } from '@temporalio/client';

export interface RunRef {
  workflowId: string;
  runId: string;
}

/**
 * Which of the given runs no longer run, by run id, with their status (terminated, timed out, ...;
 * not found once the namespace's retention dropped it). One describe per distinct run, however many
 * containers it stopped: that is all a caller asks Temporal.
 */
export type ClosedRuns = (runs: RunRef[]) => Promise<Map<string, string>>;

export function closedRunsVia(client: Client): ClosedRuns {
  return async (runs) => {
    const distinct = new Map(runs.map((r) => [r.runId, r]));
    const closed = new Map<string, string>();
    await Promise.all(
      [...distinct.values()].map(async ({ workflowId, runId }) => {
        let status: string;
        try {
          status = (await client.workflow.getHandle(workflowId, runId).describe()).status.name;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          status = 'NOT_FOUND';
        }
        if (status !== 'RUNNING') closed.set(runId, status);
      }),
    );
    return closed;
  };
}
