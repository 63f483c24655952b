// What a notification is about: the outcome of one backup run, or a definition gone stale. Built by the
// workflow (outcome) or the worker's stale check; contains names, times and error text, never secrets.

export interface BackupOutcome {
  event: 'success' | 'failure';
  definition: string;
  type: string;
  host: string;
  backupId: string;
  workflowId: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  error?: string | undefined;
  downtimeMs?: number | undefined;
  plaintextBytes?: number | undefined;
  storedBytes?: number | undefined;
  warnings?: string[] | undefined;
}

export interface StaleNotice {
  event: 'stale';
  definition: string;
  type: string;
  host: string;
  /** The newest complete backup, if any. */
  lastBackupId?: string | undefined;
  lastSuccessAt?: string | undefined;
  staleAfterMs: number;
  checkedAt: string;
}

/** One summary for a backup run over several definitions, instead of one notice per definition. */
export interface RunSummaryNotice {
  event: 'success' | 'failure';
  kind: 'run';
  label: string;
  workflowId: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  ok: number;
  failed: number;
  definitions: {
    definition: string;
    type: string;
    host: string;
    status: 'ok' | 'failed' | 'not started';
    backupId?: string | undefined;
    error?: string | undefined;
    downtimeMs?: number | undefined;
    storedBytes?: number | undefined;
  }[];
}

export type Notice = BackupOutcome | StaleNotice | RunSummaryNotice;

export function isRunSummary(notice: Notice): notice is RunSummaryNotice {
  return 'kind' in notice && notice.kind === 'run';
}
