import { parseCommandArgs } from '../command.ts';
import { buildPlan } from '../../plan/build.ts';
import { listBackups } from '../../storage/manifest.ts';
import { createS3Store } from '../../storage/s3-store.ts';
import type { Command } from '../command.ts';
import { formatBytes, formatSeconds } from '../format.ts';
import { loadCliConfig } from '../load-config.ts';
import { selectDefinitions } from './run.ts';

const help = `Usage: dockvault list [NAME...] [--config FILE] [--json]

Lists the backups found in storage (a backup exists when its manifest does), newest first.`;

export const listCommand: Command = {
  async run(argv) {
    const parsed = parseCommandArgs(argv, help, { json: { type: 'boolean' } });
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    const config = await loadCliConfig(values.config);
    const definitions = selectDefinitions(config, positionals, positionals.length === 0);
    const rows = [];
    for (const def of definitions) {
      const store = createS3Store(buildPlan(config, def).target);
      rows.push(...(await listBackups(store, def.name)));
    }
    if (values.json) {
      console.log(JSON.stringify(rows, null, 2));
      return 0;
    }
    if (rows.length === 0) {
      console.log('no backups found');
      return 0;
    }
    console.log(['DEFINITION', 'BACKUP ID', 'FINISHED', 'SIZE', 'STORED', 'DOWNTIME', 'OBJECTS'].join('\t'));
    for (const row of rows) {
      const m = row.manifest;
      if (!m) {
        console.log([row.definition, row.backupId, `unreadable manifest: ${row.error}`].join('\t'));
        continue;
      }
      console.log(
        [
          m.definition,
          m.backupId,
          m.finishedAt,
          formatBytes(m.totals.plaintextBytes),
          formatBytes(m.totals.storedBytes),
          formatSeconds(m.downtimeMs),
          String(m.objects.length),
        ].join('\t'),
      );
    }
    return 0;
  },
};
