import { patched } from '@temporalio/workflow';
import type { RestorePostgresPlan, RestorePostgresResult } from '../plan/types.ts';
import { restorePostgresActivities } from './activity-proxies.ts';
import { trackProgress } from './progress.ts';
import { withDefinitionLock } from './definition-lock.ts';
import { takeHostSlot } from './host-slot.ts';

/**
 * Restores a PostgreSQL backup into a running server container: globals first (roles that exist are
 * skipped), then each database with pg_restore inside the container. Nothing is stopped. Databases
 * that exist are refused in the preflight unless the plan says clean; every dump, and the globals if
 * they are to be applied, is read and checked (sealed: its sha256; chunked: every chunk) before
 * anything is restored.
 */
export async function restorePostgresWorkflow(plan: RestorePostgresPlan): Promise<RestorePostgresResult> {
  return withDefinitionLock(plan, () => restorePostgres(plan));
}

async function restorePostgres(plan: RestorePostgresPlan): Promise<RestorePostgresResult> {
  const progress = trackProgress(plan.definition, plan.backup);
  const pg = restorePostgresActivities(plan.activityTaskQueue);
  progress.phase('preflight');
  const source = await pg.loadPostgresRestore({ plan });
  progress.backup(source.backupId);
  let globals: RestorePostgresResult['globals'];
  const slot = await takeHostSlot(plan, progress);
  try {
    if (patched('restore-postgres-checks-sealed-dumps')) {
      // The globals alone too (a backup whose only database is the maintenance one): psql applies
      // them as they stream.
      if (source.databases.length > 0 || source.globals) {
        const dumps = source.databases.length > 0 ? [`${source.databases.length} dump(s)`] : [];
        progress.phase(`checking ${[...dumps, ...(source.globals ? ['the globals'] : [])].join(' and ')}`);
        await pg.checkPostgresDumps({
          plan,
          backupId: source.backupId,
          compression: source.compression,
          items: source.databases,
          globals: source.globals,
        });
      }
    } else {
      // Runs that passed here on an earlier release: only the chunked dumps checked, or none before that.
      const chunked = source.databases.filter((d) => d.object.chunked);
      if (chunked.length > 0 && patched('restore-postgres-checks-chunks')) {
        progress.phase(`checking the chunks of ${chunked.length} dump(s)`);
        await pg.checkPostgresChunks({
          plan,
          backupId: source.backupId,
          compression: source.compression,
          items: chunked,
        });
      }
    }
    if (source.globals) {
      progress.phase('restoring globals');
      globals = await pg.restorePostgresGlobals({ plan, compression: source.compression, ...source.globals });
    }
    for (const item of source.databases) {
      progress.phase(`restoring database ${item.database}`);
      await pg.restorePostgresDatabase({ plan, compression: source.compression, item });
    }
  } finally {
    await slot.release();
  }
  progress.phase('done');
  return {
    definition: plan.definition,
    backupId: source.backupId,
    container: plan.container,
    globals,
    databases: source.databases.map((d) => ({
      database: d.database,
      object: d.object.name,
      replaced: d.exists,
    })),
  };
}
