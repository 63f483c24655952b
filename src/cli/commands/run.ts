import type { Client } from '@temporalio/client';
import {
  connectClient,
  definitionLockHolder,
  startBackup,
  startBackupRun,
  workflowUrl,
} from '../../client.ts';
import type { Config } from '../../config/index.ts';
import { buildPlan } from '../../plan/build.ts';
import { buildRunPlan } from '../../plan/run.ts';
import type { BackupResult } from '../../plan/types.ts';
import { UsageError, type Command, parseCommandArgs } from '../command.ts';
import { followBackupRun, followRuns, type Followed } from '../follow.ts';
import { requireWorkers } from '../worker-presence.ts';
import { formatBytes, formatSeconds } from '../format.ts';
import { loadCliConfig } from '../load-config.ts';
import { definitionBusy } from '../../workflows/definition-lock.ts';

const help = `Usage: dockvault run NAME... | --all [--config FILE] [--no-wait]

Starts a backup now and follows it with a progress line per definition, then prints a summary. One
NAME starts that definition's backup workflow; several, or --all, start one backup run (a parent
workflow whose children are the definitions' backups, one after the other unless the config says
\`parallel: true\`, each after its \`after\`) with one summary notification. Exit code 1 if any
failed. --no-wait starts it and prints the workflow id.
A definition that already has a backup or restore running (started by a schedule, another run or the
temporal CLI) is refused and nothing is started (exit code 1).`;

export function selectDefinitions(config: Config, names: string[], all: boolean) {
  if (all && names.length > 0) throw new UsageError('give definition names or --all, not both');
  if (all) return config.backupDefinitions;
  if (names.length === 0) throw new UsageError('name at least one backup definition, or --all');
  const known = new Map(config.backupDefinitions.map((d) => [d.name, d]));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `no backup definition named ${unknown.map((n) => `"${n}"`).join(', ')}; defined: ${[...known.keys()].join(', ')}`,
    );
  }
  return names.map((n) => known.get(n)!);
}

function printOk(definition: string, r: BackupResult) {
  console.log(
    `OK     ${definition} ${r.backupId}: ${r.objects} object(s), ${formatBytes(r.plaintextBytes)} -> ` +
      `${formatBytes(r.storedBytes)} stored, downtime ${formatSeconds(r.downtimeMs)}`,
  );
  for (const w of r.hookWarnings) console.log(`       warning: ${w}`);
}

/** One definition on its own: its backup workflow directly, with its own notifications. */
async function runOne(
  client: Client,
  config: Config,
  plan: ReturnType<typeof buildPlan>,
  noWait: boolean,
): Promise<number> {
  const handle = await startBackup(client, config.temporal.taskQueue, plan);
  const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, handle.workflowId);
  console.log(`started ${handle.workflowId}  ${url}`);
  if (noWait) return 0;
  const runs: Followed[] = [{ definition: plan.definition, handle, url }];
  const [outcome] = await followRuns(runs);
  console.log('');
  if (outcome?.result) {
    printOk(outcome.definition, outcome.result);
    return 0;
  }
  console.log(`FAILED ${plan.definition}: ${outcome?.error}\n       ${url}`);
  return 1;
}

export const runCommand: Command = {
  async run(argv) {
    const parsed = parseCommandArgs(argv, help, { all: { type: 'boolean' }, 'no-wait': { type: 'boolean' } });
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    const config = await loadCliConfig(values.config);
    const definitions = selectDefinitions(config, positionals, values.all ?? false);
    const plans = definitions.map((def) => buildPlan(config, def));
    const client = await connectClient(config.temporal);
    try {
      let busy = false;
      for (const plan of plans) {
        const holder = await definitionLockHolder(client, plan);
        if (holder === undefined) continue;
        busy = true;
        console.error(`${definitionBusy(plan.definition, holder)}; not starting a backup`);
      }
      if (busy) return 1;
      await requireWorkers(client, config.temporal.taskQueue, plans);
      if (plans.length === 1 && !values.all) {
        return await runOne(client, config, plans[0]!, values['no-wait'] ?? false);
      }
      const runPlan = buildRunPlan(config, definitions);
      const handle = await startBackupRun(client, config.temporal.taskQueue, runPlan, values.all ?? false);
      const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, handle.workflowId);
      console.log(`started ${handle.workflowId}  ${url}`);
      if (values['no-wait']) return 0;
      const { result, error } = await followBackupRun(client, handle);
      console.log('');
      if (!result) {
        console.log(`FAILED backup run: ${error ?? 'unknown error'}\n       ${url}`);
        return 1;
      }
      console.log(`backup run of ${result.label}: ${result.ok} ok, ${result.failed} failed  ${url}`);
      for (const o of result.outcomes) {
        const childUrl = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, o.workflowId);
        if (o.result) printOk(o.definition, o.result);
        else
          console.log(
            `${o.status === 'not started' ? 'SKIPPED' : 'FAILED'} ${o.definition}: ${o.error}\n       ${childUrl}`,
          );
      }
      return result.failed === 0 ? 0 : 1;
    } finally {
      await client.connection.close();
    }
  },
};
