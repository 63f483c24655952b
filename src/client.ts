import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { TemporalSettings } from './config/index.ts';
import type { BackupPlan } from './plan/types.ts';
import { definitionKey, hostKey, typeKey } from './search-attributes.ts';
import type { postgresBackupWorkflow, standardBackupWorkflow } from './workflows/index.ts';

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect({ address: settings.address });
  return new Client({ connection, namespace: settings.namespace });
}

/** `backup-<definition>-<UTC time>`: readable in the Web UI, unique per second per definition. */
export function backupWorkflowId(definition: string, at: Date = new Date()): string {
  return `backup-${definition}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

export async function startBackup(
  client: Client,
  taskQueue: string,
  plan: BackupPlan,
): Promise<WorkflowHandle<typeof standardBackupWorkflow> | WorkflowHandle<typeof postgresBackupWorkflow>> {
  const common = {
    taskQueue,
    workflowId: backupWorkflowId(plan.definition),
    typedSearchAttributes: [
      { key: definitionKey, value: plan.definition },
      { key: typeKey, value: plan.type },
      { key: hostKey, value: plan.host },
    ],
    staticSummary: `${plan.type} backup of ${plan.definition} on ${plan.host}`,
  };
  if (plan.type === 'postgresqldatabase') {
    return client.workflow.start<typeof postgresBackupWorkflow>('postgresBackupWorkflow', {
      ...common,
      args: [plan],
      staticDetails: [
        `container: ${plan.container} (not stopped)`,
        `databases: ${plan.databases === 'all' ? 'all, discovered at run time' : plan.databases.join(', ')}${plan.globals ? ' + globals' : ''}`,
        `pg_dump --format=${plan.format} as OS user ${plan.osUser}${plan.dbUser ? `, role ${plan.dbUser}` : ''}`,
        `target: s3://${plan.target.bucket}/${plan.target.prefix}/${plan.definition}/`,
      ].join('\n\n'),
    });
  }
  return client.workflow.start<typeof standardBackupWorkflow>('standardBackupWorkflow', {
    ...common,
    args: [plan],
    staticDetails: [
      `containers (stop order): ${plan.containers.join(', ') || '(none)'}`,
      `volumes: ${plan.volumes.join(', ')}`,
      `target: s3://${plan.target.bucket}/${plan.target.prefix}/${plan.definition}/`,
      `staging: ${plan.staging.mode === 'staged' ? plan.staging.dir : 'none (streaming)'}`,
    ].join('\n\n'),
  });
}
