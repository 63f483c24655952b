import { findBackup } from '../restore/find-backup.ts';
import { UnknownBackupError } from '../restore/errors.ts';
import type { S3Target } from '../storage/store.ts';
import { createS3Store } from '../storage/s3-store.ts';

/**
 * Named backup ids are looked up before a restore or verify starts, with the worker's own rule (an
 * unknown id lists the backups there are): a typo is an error on the spot, not a workflow waiting on
 * a worker. Where this machine cannot read the bucket (credentials only on the worker), the worker's
 * check stands and this says so.
 */
export async function checkBackupExists(
  target: S3Target,
  definition: string,
  backupIds: string[],
): Promise<void> {
  const named = backupIds.filter((id) => id !== 'latest');
  if (named.length === 0) return;
  const store = createS3Store(target);
  try {
    for (const id of named) await findBackup(store, definition, id);
  } catch (err) {
    if (err instanceof UnknownBackupError) {
      throw new UnknownBackupError(`${err.message}; nothing was started`, { cause: err });
    }
    console.error(`note: cannot look the backup up from here (${(err as Error).message}); the worker will`);
  } finally {
    store.destroy();
  }
}
