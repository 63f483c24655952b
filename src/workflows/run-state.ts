import { defineQuery } from '@temporalio/workflow';
import type { DefinitionOutcome } from '../plan/types.ts';

export type RunEntryStatus = DefinitionOutcome['status'] | 'queued' | 'running';

export interface RunEntry extends Omit<DefinitionOutcome, 'status'> {
  status: RunEntryStatus;
}

/** What `dockvault run` polls on a backup run: each definition's child workflow id and where it stands. */
export const runStateQuery = defineQuery<RunEntry[]>('runState');
