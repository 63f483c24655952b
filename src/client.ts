import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { TemporalSettings } from './config/index.ts';
import type {
  BackupPlan,
  BackupRunPlan,
  RestorePostgresPlan,
  RestoreVolumesPlan,
  VerifyPlan,
} from './plan/types.ts';
import { temporalConnector } from './temporal/connect.ts';
import { definitionKey, hostKey, typeKey } from './search-attributes.ts';
import { backupWorkflowId, backupWorkflowOptions } from './plan/workflow-options.ts';

export { backupWorkflowId, backupWorkflowOptions };
import { definitionLockId } from './workflows/definition-lock.ts';
import type {
  backupRunWorkflow,
  postgresBackupWorkflow,
  restorePostgresWorkflow,
  restoreVolumesWorkflow,
  standardBackupWorkflow,
  verifyBackupWorkflow,
} from './workflows/index.ts';

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connector = await temporalConnector(settings);
  const connection = await connector.connect((options) => Connection.connect(options));
  return new Client({ connection, namespace: settings.namespace });
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * The run holding a definition's lock, read from the server itself, which a visibility query trails by
 * about a second: what `run` checks to refuse before starting anything. The lock is the guarantee.
 */
export async function definitionLockHolder(
  client: Client,
  scope: { host: string; definition: string },
): Promise<string | undefined> {
  try {
    const lock = await client.workflow.getHandle(definitionLockId(scope)).describe();
    if (lock.status.name !== 'RUNNING') return undefined;
    return lock.parentExecution?.workflowId ?? lock.workflowId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export async function startBackup(
  client: Client,
  taskQueue: string,
  plan: BackupPlan,
): Promise<WorkflowHandle<typeof standardBackupWorkflow> | WorkflowHandle<typeof postgresBackupWorkflow>> {
  const { workflowType, ...options } = backupWorkflowOptions(taskQueue, plan);
  const handle = await client.workflow.start(workflowType, {
    ...options,
    workflowId: backupWorkflowId(plan.definition),
  });
  // The args were built from the same plan whose type chose the workflow type.
  return handle as WorkflowHandle<typeof standardBackupWorkflow>;
}

/** What starts a backup run: `run --all`, `run A B C` and the config's top-level schedule. */
export function backupRunWorkflowOptions(taskQueue: string, plan: BackupRunPlan) {
  const hosts = [...new Set(plan.steps.map((s) => s.plan.host))];
  return {
    workflowType: 'backupRunWorkflow' as const,
    taskQueue,
    args: [plan] as [BackupRunPlan],
    staticSummary: `backup run of ${plan.label} (${plan.steps.length} on ${hosts.join(', ')})`,
    staticDetails: [
      `definitions (${plan.parallel ? 'together' : 'one after the other'}): ${plan.steps
        .map((s) =>
          s.after.length > 0 ? `${s.plan.definition} (after ${s.after.join(', ')})` : s.plan.definition,
        )
        .join(', ')}`,
      'each runs as a child workflow; one summary notification at the end',
    ].join('\n\n'),
  };
}

/** `run-all-<UTC time>` for every definition, `run-<n>-definitions-<UTC time>` for some. */
export async function startBackupRun(
  client: Client,
  taskQueue: string,
  plan: BackupRunPlan,
  all: boolean,
): Promise<WorkflowHandle<typeof backupRunWorkflow>> {
  const { workflowType, ...options } = backupRunWorkflowOptions(taskQueue, plan);
  return client.workflow.start<typeof backupRunWorkflow>(workflowType, {
    ...options,
    workflowId: backupWorkflowId(all ? 'all' : `${plan.steps.length}-definitions`, new Date(), 'run'),
  });
}

/** Workflow id `restore-<definition>-<UTC time>`; runs on the workflow queue, its activities on the host's. */
export async function startRestore(
  client: Client,
  taskQueue: string,
  plan: RestoreVolumesPlan,
): Promise<WorkflowHandle<typeof restoreVolumesWorkflow>> {
  const renamed = plan.mappings.map((m) => `${m.from} -> ${m.to}`);
  return client.workflow.start<typeof restoreVolumesWorkflow>('restoreVolumesWorkflow', {
    taskQueue,
    workflowId: backupWorkflowId(plan.definition, new Date(), 'restore'),
    args: [plan],
    typedSearchAttributes: [
      { key: definitionKey, value: plan.definition },
      { key: typeKey, value: 'standard' },
      { key: hostKey, value: plan.host },
    ],
    staticSummary: `restore of ${plan.definition} (${plan.backup}) on ${plan.host}`,
    staticDetails: [
      `backup: ${plan.backup}`,
      `volumes: ${plan.volumes.length === 0 && renamed.length === 0 ? 'all in the backup' : [...plan.volumes, ...renamed].join(', ')}`,
      `identity file (on the worker): ${plan.identityFile}`,
      `source: s3://${plan.target.bucket}/${plan.target.prefix}/${plan.definition}/`,
    ].join('\n\n'),
  });
}

/** Workflow id `verify-<definition>-<UTC time>`. */
export async function startVerify(
  client: Client,
  taskQueue: string,
  plan: VerifyPlan,
  type: string,
): Promise<WorkflowHandle<typeof verifyBackupWorkflow>> {
  const which = Array.isArray(plan.backups) ? plan.backups.join(', ') : plan.backups;
  return client.workflow.start<typeof verifyBackupWorkflow>('verifyBackupWorkflow', {
    taskQueue,
    workflowId: backupWorkflowId(plan.definition, new Date(), 'verify'),
    args: [plan],
    typedSearchAttributes: [
      { key: definitionKey, value: plan.definition },
      { key: typeKey, value: type },
      { key: hostKey, value: plan.host },
    ],
    staticSummary: `verify of ${plan.definition} (${which}) on ${plan.host}`,
    staticDetails: [
      `backups: ${which}`,
      `identity file (on the worker): ${plan.identityFile}`,
      `source: s3://${plan.target.bucket}/${plan.target.prefix}/${plan.definition}/`,
    ].join('\n\n'),
  });
}

/** Workflow id `restore-<definition>-<UTC time>`, like a volume restore. */
export async function startPostgresRestore(
  client: Client,
  taskQueue: string,
  plan: RestorePostgresPlan,
): Promise<WorkflowHandle<typeof restorePostgresWorkflow>> {
  return client.workflow.start<typeof restorePostgresWorkflow>('restorePostgresWorkflow', {
    taskQueue,
    workflowId: backupWorkflowId(plan.definition, new Date(), 'restore'),
    args: [plan],
    typedSearchAttributes: [
      { key: definitionKey, value: plan.definition },
      { key: typeKey, value: 'postgresqldatabase' },
      { key: hostKey, value: plan.host },
    ],
    staticSummary: `restore of ${plan.definition} (${plan.backup}) into ${plan.container} on ${plan.host}`,
    staticDetails: [
      `backup: ${plan.backup}`,
      `databases: ${plan.databases.length === 0 ? 'all in the backup but postgres' : plan.databases.join(', ')}${plan.globals ? ' + globals' : ''}`,
      `existing databases: ${plan.clean ? 'dropped and replaced (--clean)' : 'refused'}`,
      `identity file (on the worker): ${plan.identityFile}`,
    ].join('\n\n'),
  });
}
