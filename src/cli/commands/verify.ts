import { connectClient, startVerify, workflowUrl } from '../../client.ts';
import { checkBackupExists } from '../backup-exists.ts';
import { requireWorkers } from '../worker-presence.ts';
import { buildPlan } from '../../plan/build.ts';
import type { VerifyPlan, VerifyResult } from '../../plan/types.ts';
import { UsageError, type Command, parseCommandArgs } from '../command.ts';
import { followRuns } from '../follow.ts';
import { formatBytes } from '../format.ts';
import { loadCliConfig } from '../load-config.ts';
import { identityPath } from './restore.ts';
import { selectDefinitions } from './run.ts';

const help = `Usage: dockvault verify NAME [--backup ID|latest]... [--all] [--identity FILE] [--config FILE]

Checks backups end to end without writing anything: downloads each object, checks its sha256 against
the manifest, decrypts it (authenticating every chunk), decompresses it and reads it through
(tar --list; pg_restore --file=/dev/null for pg_dump archives). Prints OK or the error for each object; exit code 1 if any failed.
With several backups (--all), their chunked volumes are checked together: each index against its
manifest, and each chunk they list read, authenticated and decompressed once, however many backups
share it (without the tar reader, which would need each backup's whole stream); a damaged chunk is
reported for every backup that lists it.`;

export const verifyCommand: Command = {
  async run(argv) {
    const parsed = parseCommandArgs(argv, help, {
      backup: { type: 'string', multiple: true },
      all: { type: 'boolean' },
      identity: { type: 'string' },
    });
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError('name exactly one backup definition to verify');
    if (values.all && values.backup) throw new UsageError('give --backup or --all, not both');
    const config = await loadCliConfig(values.config);
    const [def] = selectDefinitions(config, positionals, false);
    const base = buildPlan(config, def!);
    const backups = values.all
      ? 'all'
      : !values.backup || (values.backup.length === 1 && values.backup[0] === 'latest')
        ? 'latest'
        : values.backup;
    const plan: VerifyPlan = {
      definition: base.definition,
      host: base.host,
      activityTaskQueue: base.activityTaskQueue,
      target: base.target,
      backups,
      identityFile: identityPath(config, values.identity),
    };
    await checkBackupExists(
      plan.target,
      plan.definition,
      plan.backups === 'all' ? [] : [plan.backups].flat(),
    );
    const client = await connectClient(config.temporal);
    try {
      await requireWorkers(client, config.temporal.taskQueue, [plan]);
      const handle = await startVerify(client, config.temporal.taskQueue, plan, base.type);
      const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, handle.workflowId);
      console.log(`started ${handle.workflowId}  ${url}`);
      const [outcome] = await followRuns<VerifyResult>([{ definition: plan.definition, handle, url }]);
      console.log('');
      const r = outcome?.result;
      if (!r) {
        console.log(`FAILED ${plan.definition}: ${outcome?.error ?? 'unknown error'}\n       ${url}`);
        return 1;
      }
      for (const b of r.backupErrors) console.log(`FAILED ${r.definition}/${b.backupId}: ${b.error}`);
      for (const o of r.objects) {
        const what = `${r.definition}/${o.backupId}/${o.name}`;
        console.log(
          o.ok ? `OK     ${what} (${formatBytes(o.plaintextBytes)})` : `FAILED ${what}: ${o.error}`,
        );
      }
      if (r.chunks) {
        console.log(`read ${r.chunks.read} chunk(s) once for the ${r.chunks.listed} the chunk indexes list`);
      }
      const failed = r.backupErrors.length + r.objects.filter((o) => !o.ok).length;
      console.log(
        failed === 0
          ? `verified ${r.objects.length} object(s) in ${r.backupIds.length} backup(s)`
          : `${failed} problem(s) in ${r.backupIds.length} backup(s)`,
      );
      return failed === 0 ? 0 : 1;
    } finally {
      await client.connection.close();
    }
  },
};
