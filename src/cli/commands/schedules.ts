import { connectClient } from '../../client.ts';
import { listSchedules, type ScheduleListing } from '../../schedules/list.ts';
import { syncSchedules } from '../../schedules/sync.ts';
import { UsageError, type Command, parseCommandArgs } from '../command.ts';
import { loadCliConfig } from '../load-config.ts';

const help = `Usage: dockvault schedules sync [--dry-run] [--config FILE]
       dockvault schedules list [--config FILE] [--json]

sync   Makes the Temporal Schedules match the config: creates the missing ones, updates those whose
       schedule, policies or backup plan changed, deletes this config's schedules whose definition
       has no schedule any more. Schedules it did not create are left alone. A pause made with
       \`temporal schedule toggle\` survives a sync unless the config's \`paused\` changed.
       --dry-run prints what sync would do and changes nothing.
list   Every dockvault schedule: definition, times, paused, next 3 runs, last run and its result.

Pause, trigger and backfill with the Temporal CLI: temporal schedule toggle|trigger|backfill --schedule-id ID`;

function when(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

function printListing(s: ScheduleListing): void {
  console.log(`${s.scheduleId}  (definition ${s.definition}, task queue ${s.taskQueue})`);
  console.log(`  spec:     ${s.spec}`);
  console.log(`  paused:   ${s.paused ? `yes${s.note ? ` (${s.note})` : ''}` : 'no'}`);
  console.log(`  next:     ${s.nextRuns.map(when).join(', ') || '(none)'}`);
  console.log(
    `  last run: ${s.lastRun ? `${s.lastRun.workflowId} scheduled ${when(s.lastRun.scheduledAt)}: ${s.lastRun.status}` : '(none yet)'}`,
  );
  if (s.running.length > 0) console.log(`  running:  ${s.running.join(', ')}`);
}

export const schedulesCommand: Command = {
  async run(argv) {
    const parsed = parseCommandArgs(argv, help, {
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    const [sub, ...rest] = positionals;
    if (sub !== 'sync' && sub !== 'list')
      throw new UsageError('expected "schedules sync" or "schedules list"');
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (sub === 'list' && values['dry-run']) throw new UsageError('--dry-run applies to "schedules sync"');
    const config = await loadCliConfig(values.config);
    const client = await connectClient(config.temporal);
    try {
      if (sub === 'list') {
        const listings = await listSchedules(client, config);
        if (values.json) console.log(JSON.stringify(listings, null, 2));
        else if (listings.length === 0) console.log('no dockvault schedules');
        else listings.forEach(printListing);
        return 0;
      }
      const dryRun = values['dry-run'] ?? false;
      const outcomes = await syncSchedules(client, config, { dryRun });
      if (values.json) console.log(JSON.stringify(outcomes, null, 2));
      else {
        for (const o of outcomes) console.log(`${o.action.padEnd(9)}  ${o.scheduleId}  ${o.detail}`);
        if (outcomes.length === 0) console.log('no schedules in the config and none to delete');
        if (dryRun) console.log('dry run: nothing was changed');
      }
      return outcomes.some((o) => o.action === 'conflict') ? 1 : 0;
    } finally {
      await client.connection.close();
    }
  },
};
