import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { TemporalSettings } from './config/index.ts';
import type { BackupPlan } from './plan/types.ts';
import { definitionKey, hostKey, typeKey } from './search-attributes.ts';
import type { standardBackupWorkflow } from './workflows/index.ts';

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
): Promise<WorkflowHandle<typeof standardBackupWorkflow>> {
  if (plan.type !== 'standard') {
    throw new Error(`${plan.definition}: PostgreSQL backups are not available yet`);
  }
  return client.workflow.start<typeof standardBackupWorkflow>('standardBackupWorkflow', {
    taskQueue,
    workflowId: backupWorkflowId(plan.definition),
    args: [plan],
    typedSearchAttributes: [
      { key: definitionKey, value: plan.definition },
      { key: typeKey, value: plan.type },
      { key: hostKey, value: plan.host },
    ],
    staticSummary: `${plan.type} backup of ${plan.definition} on ${plan.host}`,
    staticDetails: [
      `containers (stop order): ${plan.containers.join(', ') || '(none)'}`,
      `volumes: ${plan.volumes.join(', ')}`,
      `target: s3://${plan.target.bucket}/${plan.target.prefix}/${plan.definition}/`,
      `staging: ${plan.staging.mode === 'staged' ? plan.staging.dir : 'none (streaming)'}`,
    ].join('\n\n'),
  });
}
