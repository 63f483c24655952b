import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { TemporalSettings } from './config/index.ts';
import type { BackupPlan, RestorePostgresPlan, RestoreVolumesPlan, VerifyPlan } from './plan/types.ts';
import { definitionKey, hostKey, typeKey } from './search-attributes.ts';
import { definitionLockId } from './workflows/definition-lock.ts';
import type {
  postgresBackupWorkflow,
  restorePostgresWorkflow,
  restoreVolumesWorkflow,
  standardBackupWorkflow,
  verifyBackupWorkflow,
} from './workflows/index.ts';

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect({ address: settings.address });
  return new Client({ connection, namespace: settings.namespace });
}

/** `backup-<definition>-<UTC time>`: readable in the Web UI, unique per second per definition. */
export function backupWorkflowId(definition: string, at: Date = new Date(), kind = 'backup'): string {
  return `${kind}-${definition}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Workflow type, queue, args and Web UI metadata of a backup: what `run` starts and what schedules start. */
export function backupWorkflowOptions(taskQueue: string, plan: BackupPlan) {
  const typedSearchAttributes = [
    { key: definitionKey, value: plan.definition },
    { key: typeKey, value: plan.type },
    { key: hostKey, value: plan.host },
  ];
  const staticSummary = `${plan.type} backup of ${plan.definition} on ${plan.host}`;
  const target = `target: s3://${plan.target.bucket}/${plan.target.prefix}/${plan.definition}/`;
  const staticDetails =
    plan.type === 'postgresqldatabase'
      ? [
          `container: ${plan.container} (not stopped)`,
          `databases: ${plan.databases === 'all' ? 'all, discovered at run time' : plan.databases.join(', ')}${plan.globals ? ' + globals' : ''}`,
          `pg_dump --format=${plan.format} as OS user ${plan.osUser}${plan.dbUser ? `, role ${plan.dbUser}` : ''}`,
          target,
        ]
      : [
          `containers (stop order): ${plan.containers.join(', ') || '(none)'}`,
          `volumes: ${plan.volumes.join(', ')}`,
          target,
          `staging: ${plan.staging.mode === 'staged' ? plan.staging.dir : 'none (streaming)'}`,
        ];
  return {
    workflowType: plan.type === 'postgresqldatabase' ? 'postgresBackupWorkflow' : 'standardBackupWorkflow',
    taskQueue,
    args: [plan] as [BackupPlan],
    typedSearchAttributes,
    staticSummary,
    staticDetails: staticDetails.join('\n\n'),
  };
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
