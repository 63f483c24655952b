import { defineQuery, setCurrentDetails, setHandler } from '@temporalio/workflow';

export interface WorkflowProgress {
  definition: string;
  backupId: string;
  phase: string;
  /** Set while containers are stopped: when the stop finished (workflow time, ISO). */
  stoppedSince?: string | undefined;
  downtimeMs?: number | undefined;
}

/** What `dockvault run` polls to draw its progress line; byte counts come from activity heartbeats. */
export const progressQuery = defineQuery<WorkflowProgress>('progress');

/** Keeps the query answer and the Web UI's "current details" in step with the workflow's phase. */
export function trackProgress(definition: string, backupId: string) {
  const state: WorkflowProgress = { definition, backupId, phase: 'starting' };
  setHandler(progressQuery, () => state);
  const publish = () => {
    const lines = [`**${state.phase}**`, `backup \`${definition}/${backupId}\``];
    if (state.stoppedSince) lines.push(`containers stopped since ${state.stoppedSince}`);
    if (state.downtimeMs !== undefined) lines.push(`downtime ${(state.downtimeMs / 1000).toFixed(1)} s`);
    setCurrentDetails(lines.join('\n\n'));
  };
  publish();
  return {
    /** Restore and verify learn the backup id ('latest' resolved) after their first activity. */
    backup(backupId: string) {
      state.backupId = backupId;
      publish();
    },
    phase(phase: string) {
      state.phase = phase;
      publish();
    },
    downtimeStarted() {
      state.stoppedSince = new Date().toISOString();
      publish();
    },
    downtimeEnded(downtimeMs: number) {
      state.stoppedSince = undefined;
      state.downtimeMs = downtimeMs;
      publish();
    },
  };
}
