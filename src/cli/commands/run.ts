import { parseArgs } from 'node:util';
import { connectClient, definitionLockHolder, startBackup, workflowUrl } from '../../client.ts';
import type { Config } from '../../config/index.ts';
import { buildPlan } from '../../plan/build.ts';
import { UsageError, type Command } from '../command.ts';
import { followRuns, type Followed } from '../follow.ts';
import { formatBytes, formatSeconds } from '../format.ts';
import { configOption, loadCliConfig } from '../load-config.ts';
import { definitionBusy } from '../../workflows/definition-lock.ts';

const help = `Usage: dockvault run NAME... | --all [--config FILE] [--no-wait]

Starts a backup of each named definition now and follows them with a progress line each, then prints
a summary. Exit code 1 if any failed. --no-wait starts them and prints the workflow ids.
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

export const runCommand: Command = {
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...configOption,
        all: { type: 'boolean' },
        'no-wait': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
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
      const runs: Followed[] = [];
      for (const plan of plans) {
        const handle = await startBackup(client, config.temporal.taskQueue, plan);
        const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, handle.workflowId);
        runs.push({ definition: plan.definition, handle, url });
        console.log(`started ${handle.workflowId}  ${url}`);
      }
      if (values['no-wait']) return 0;
      const outcomes = await followRuns(runs);
      console.log('');
      for (const o of outcomes) {
        if (o.result) {
          const r = o.result;
          console.log(
            `OK     ${o.definition} ${r.backupId}: ${r.objects} object(s), ${formatBytes(r.plaintextBytes)} -> ` +
              `${formatBytes(r.storedBytes)} stored, downtime ${formatSeconds(r.downtimeMs)}`,
          );
          for (const w of r.hookWarnings) console.log(`       warning: ${w}`);
        } else {
          console.log(`FAILED ${o.definition}: ${o.error}\n       ${o.url}`);
        }
      }
      return outcomes.every((o) => o.result) ? 0 : 1;
    } finally {
      await client.connection.close();
    }
  },
};
