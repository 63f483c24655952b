// What starts a backup workflow, the same whoever starts it (the CLI, a schedule, a backup run's
// children): its id, type, queue, arguments and Web UI metadata. Pure, so workflows can use it too.
import type { BackupPlan } from './types.ts';
import { definitionKey, hostKey, typeKey } from '../search-attributes.ts';
import { describeSelector } from '../selectors/select.ts';

/** `backup-<definition>-<UTC time>`: readable in the Web UI, unique per second per definition. */
export function backupWorkflowId(definition: string, at: Date = new Date(), kind = 'backup'): string {
  return `${kind}-${definition}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
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
          `container: ${plan.selector ? `the one ${describeSelector(plan.selector)} selects` : plan.container} (not stopped)`,
          `databases: ${plan.databases === 'all' ? 'all, discovered at run time' : plan.databases.join(', ')}${plan.globals ? ' + globals' : ''}`,
          `pg_dump --format=${plan.format} as OS user ${plan.osUser}${plan.dbUser ? `, role ${plan.dbUser}` : ''}`,
          target,
        ]
      : [
          plan.selector
            ? `containers (stop order): ${[...plan.containers, `then ${describeSelector(plan.selector)}, dependents first (resolved on the host)`].join(', ')}`
            : `containers (stop order): ${plan.containers.join(', ') || '(none)'}`,
          `volumes: ${plan.volumes.join(', ')}${plan.selector?.compose ? ` (of compose project ${plan.selector.compose.project} where it declares them)` : ''}`,
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
