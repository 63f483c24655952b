import { resolve } from 'node:path';
import { connectClient, startPostgresRestore, startRestore, workflowUrl } from '../../client.ts';
import { checkBackupExists } from '../backup-exists.ts';
import { requireWorkers } from '../worker-presence.ts';
import type { Config } from '../../config/index.ts';
import { buildPlan } from '../../plan/build.ts';
import type {
  PostgresBackupPlan,
  RestorePostgresPlan,
  RestorePostgresResult,
  RestoreResult,
  RestoreVolumesPlan,
} from '../../plan/types.ts';
import { describeSelector } from '../../selectors/select.ts';
import { UsageError, type Command, parseCommandArgs } from '../command.ts';
import { followRuns } from '../follow.ts';
import { formatBytes, formatSeconds } from '../format.ts';
import { loadCliConfig } from '../load-config.ts';
import { selectDefinitions } from './run.ts';

const help = `Usage: dockvault restore NAME [--backup ID|latest] [--identity FILE] [--config FILE] [--no-wait]
         standard:   [--volume V]... [--to-volume OLD=NEW]...
         PostgreSQL: [--database D]... [--to-container C] [--clean] [--no-globals]

Restores volumes of a standard backup (default: the latest backup, every volume in it, in place).
Each archive is downloaded, checked against the manifest's sha256, decrypted and extracted next to the
volume's data while the containers still run; then every container using the volume is stopped, the
data directory is swapped for the restored tree, and the containers are started again.

  --backup ID        a backup id from 'dockvault list' (default: latest)
  --identity FILE    the age identity file, as a path on the worker (default: encryption.identityFile)
  --volume V         restore only this volume of the backup (repeatable)
  --to-volume A=B    restore volume A of the backup into volume B (created if missing), leaving A alone

PostgreSQL backups are restored into the running server (the definition's container, or --to-container):
globals first (roles that already exist are left as they are), then each database with pg_restore inside
the container. Nothing is stopped.
  --database D       restore only this database (repeatable; default: all but postgres)
  --to-container C   restore into another server container
  --clean            drop and re-create databases that exist (default: refuse them)
  --no-globals       do not restore roles and tablespaces`;

/** The identity is passed as a path: the worker reads the key; it never enters the workflow's history. */
export function identityPath(config: Config, flag: string | undefined): string {
  const path = flag ?? config.encryption.identityFile;
  if (!path) {
    throw new UsageError(
      'restoring needs the private age identity: pass --identity FILE or set encryption.identityFile (a path on the worker)',
    );
  }
  return resolve(path);
}

function parseMappings(values: string[]): { from: string; to: string }[] {
  return values.map((v) => {
    const m = /^([^=]+)=([^=]+)$/.exec(v);
    if (!m) throw new UsageError(`--to-volume expects OLD=NEW, got "${v}"`);
    return { from: m[1]!, to: m[2]! };
  });
}

export const restoreCommand: Command = {
  async run(argv) {
    const parsed = parseCommandArgs(argv, help, {
      backup: { type: 'string' },
      identity: { type: 'string' },
      volume: { type: 'string', multiple: true },
      'to-volume': { type: 'string', multiple: true },
      database: { type: 'string', multiple: true },
      'to-container': { type: 'string' },
      clean: { type: 'boolean' },
      'no-globals': { type: 'boolean' },
      'no-wait': { type: 'boolean' },
    });
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError('name exactly one backup definition to restore');
    const config = await loadCliConfig(values.config);
    const [def] = selectDefinitions(config, positionals, false);
    const base = buildPlan(config, def!);
    if (base.type !== 'standard') {
      if (values.volume || values['to-volume'])
        throw new UsageError('--volume and --to-volume are for standard backups');
      return restorePostgres(config, base, {
        backup: values.backup ?? 'latest',
        identityFile: identityPath(config, values.identity),
        databases: values.database ?? [],
        container: values['to-container'],
        clean: values.clean ?? false,
        globals: !(values['no-globals'] ?? false),
        noWait: values['no-wait'] ?? false,
      });
    }
    if (values.database || values['to-container'] || values.clean || values['no-globals']) {
      throw new UsageError('--database, --to-container, --clean and --no-globals are for PostgreSQL backups');
    }
    const plan: RestoreVolumesPlan = {
      definition: base.definition,
      host: base.host,
      hostConcurrency: base.hostConcurrency,
      activityTaskQueue: base.activityTaskQueue,
      target: base.target,
      backup: values.backup ?? 'latest',
      identityFile: identityPath(config, values.identity),
      volumes: values.volume ?? [],
      mappings: parseMappings(values['to-volume'] ?? []),
      stopTimeoutSeconds: base.stopTimeoutSeconds,
    };
    await checkBackupExists(plan.target, plan.definition, [plan.backup]);
    const client = await connectClient(config.temporal);
    try {
      await requireWorkers(client, config.temporal.taskQueue, [plan]);
      const handle = await startRestore(client, config.temporal.taskQueue, plan);
      const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, handle.workflowId);
      console.log(`started ${handle.workflowId}  ${url}`);
      if (values['no-wait']) return 0;
      const [outcome] = await followRuns<RestoreResult>([{ definition: plan.definition, handle, url }]);
      console.log('');
      const r = outcome?.result;
      if (!r) {
        console.log(`FAILED ${plan.definition}: ${outcome?.error ?? 'unknown error'}\n       ${url}`);
        return 1;
      }
      for (const v of r.volumes) {
        const into =
          v.volume === v.source ? v.volume : `${v.volume} (from ${v.source}${v.created ? ', created' : ''})`;
        console.log(
          `OK     ${r.definition} ${r.backupId}: ${into} <- ${v.object}, ${formatBytes(v.plaintextBytes)}`,
        );
      }
      console.log(
        `       containers stopped: ${r.stopped.join(', ') || '(none)'}; downtime ${formatSeconds(r.downtimeMs)}`,
      );
      return 0;
    } finally {
      await client.connection.close();
    }
  },
};

async function restorePostgres(
  config: Config,
  base: PostgresBackupPlan,
  opts: {
    backup: string;
    identityFile: string;
    databases: string[];
    container: string | undefined;
    clean: boolean;
    globals: boolean;
    noWait: boolean;
  },
): Promise<number> {
  if (opts.container === undefined && base.selector !== undefined) {
    // The selector resolves on the definition's host; a restore names its target server itself.
    throw new UsageError(
      `${base.definition} selects its container (${describeSelector(base.selector)}): pass --to-container NAME ('dockvault config check' shows what it resolves to on this host)`,
    );
  }
  const plan: RestorePostgresPlan = {
    definition: base.definition,
    host: base.host,
    hostConcurrency: base.hostConcurrency,
    activityTaskQueue: base.activityTaskQueue,
    target: base.target,
    backup: opts.backup,
    identityFile: opts.identityFile,
    container: opts.container ?? base.container,
    osUser: base.osUser,
    dbUser: base.dbUser,
    passwordFile: base.passwordFile,
    databases: opts.databases,
    clean: opts.clean,
    globals: opts.globals,
  };
  await checkBackupExists(plan.target, plan.definition, [plan.backup]);
  const client = await connectClient(config.temporal);
  try {
    await requireWorkers(client, config.temporal.taskQueue, [plan]);
    const handle = await startPostgresRestore(client, config.temporal.taskQueue, plan);
    const url = workflowUrl(config.temporal.uiUrl, config.temporal.namespace, handle.workflowId);
    console.log(`started ${handle.workflowId}  ${url}`);
    if (opts.noWait) return 0;
    const [outcome] = await followRuns<RestorePostgresResult>([{ definition: plan.definition, handle, url }]);
    console.log('');
    const r = outcome?.result;
    if (!r) {
      console.log(`FAILED ${plan.definition}: ${outcome?.error ?? 'unknown error'}\n       ${url}`);
      return 1;
    }
    if (r.globals) {
      const skipped =
        r.globals.skippedRoles.length > 0
          ? `, existing roles left alone: ${r.globals.skippedRoles.join(', ')}`
          : '';
      console.log(`OK     ${r.definition} ${r.backupId}: globals into ${r.container}${skipped}`);
      for (const w of r.globals.warnings) console.log(`       warning: ${w}`);
    }
    for (const d of r.databases) {
      console.log(
        `OK     ${r.definition} ${r.backupId}: database ${d.database} into ${r.container}${d.replaced ? ' (replaced)' : ''}`,
      );
    }
    return 0;
  } finally {
    await client.connection.close();
  }
}
