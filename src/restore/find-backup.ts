import { listBackups, readManifest, type Manifest } from '../storage/manifest.ts';
import { CorruptManifestError, ObjectNotFoundError, type BackupStore } from '../storage/store.ts';
import { chooseBackupId } from './select.ts';

/**
 * The manifest of the requested backup ('latest' or an id). An unknown id fails with the list of the
 * backups that exist; a manifest that exists but cannot be parsed fails as CorruptManifestError.
 */
export async function findBackup(
  store: BackupStore,
  definition: string,
  requested: string,
): Promise<Manifest> {
  if (requested !== 'latest') {
    try {
      return await readManifest(store, definition, requested);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
    }
  }
  const listed = await listBackups(store, definition);
  const id = chooseBackupId(
    definition,
    requested,
    listed.map((b) => b.backupId),
  );
  const entry = listed.find((b) => b.backupId === id)!;
  if (!entry.manifest) {
    throw new CorruptManifestError(entry.error ?? `unreadable manifest of ${definition}/${id}`, {
      location: store.location,
    });
  }
  return entry.manifest;
}
