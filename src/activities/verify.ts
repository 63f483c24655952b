import { log } from '@temporalio/activity';
import type { CompressionAlgorithm } from '../pipeline/compression.ts';
import type { VerifiedObject, VerifyPlan } from '../plan/types.ts';
import { pgRestoreReadCommand } from '../postgres/commands.ts';
import { RestoreError } from '../restore/errors.ts';
import { findBackup } from '../restore/find-backup.ts';
import { loadIdentities } from '../restore/identity.ts';
import { readBackupObjectInto } from '../restore/read-thread.ts';
import { checkIdentityMatches } from '../restore/select.ts';
import {
  verifyChunksOnce,
  type ChunkedObjectToVerify,
  type SharedChunkVerify,
} from '../restore/verify-chunks.ts';
import { objectKey } from '../storage/layout.ts';
import { listBackups, type BackupListing, type ManifestObject } from '../storage/manifest.ts';
import { StorageError, type S3Target } from '../storage/store.ts';
import { progressHeartbeat } from './heartbeat.ts';
import type { StoreFor } from './stores.ts';

export interface VerifyActivityDeps {
  storeFor: StoreFor;
}

/** A backup to verify: its objects, or why it cannot be verified at all. */
export interface BackupToVerify {
  backupId: string;
  compression?: CompressionAlgorithm;
  objects: ManifestObject[];
  error?: string;
}

/** How the plaintext of each format is read to its end without writing anything. */
function readerFor(object: ManifestObject, key: string): { reader: string[]; what: string } {
  switch (object.format) {
    case 'tar':
      return { reader: ['tar', '--list', '--file=-'], what: `reading ${key} as tar` };
    case 'pg_dump-custom':
      return { reader: pgRestoreReadCommand, what: `reading ${key} as a pg_dump archive` };
    case 'sql':
      // Decrypting and decompressing it whole is the check: the output goes to /dev/null.
      return { reader: ['cat'], what: `reading ${key}` };
  }
}

/** Activities of `dockvault verify`: read every object back as a restore would, keep nothing. */
export function createVerifyActivities({ storeFor }: VerifyActivityDeps) {
  return {
    /** The backups the plan names, newest first; an unknown id fails the whole verify with the list. */
    async listBackupsToVerify(input: { plan: VerifyPlan }): Promise<BackupToVerify[]> {
      const { plan } = input;
      const store = storeFor(plan.target);
      const identities = await loadIdentities(plan.identityFile);
      const recipients = identities.map((i) => i.recipient);
      let listed: BackupListing[];
      if (plan.backups === 'all') listed = await listBackups(store, plan.definition);
      else {
        const ids = plan.backups === 'latest' ? ['latest'] : plan.backups;
        listed = [];
        for (const id of ids) {
          const manifest = await findBackup(store, plan.definition, id);
          listed.push({ definition: plan.definition, backupId: manifest.backupId, manifest });
        }
      }
      return listed.map((b): BackupToVerify => {
        if (!b.manifest)
          return { backupId: b.backupId, objects: [], error: b.error ?? 'unreadable manifest' };
        try {
          checkIdentityMatches(b.manifest, recipients, plan.identityFile);
        } catch (err) {
          return { backupId: b.backupId, objects: b.manifest.objects, error: (err as Error).message };
        }
        return {
          backupId: b.backupId,
          compression: b.manifest.compression.algorithm,
          objects: b.manifest.objects,
        };
      });
    },

    /**
     * Downloads one object, checks its sha256, decrypts it (every chunk authenticated), decompresses it
     * and reads it to the end with its format's reader (tar --list, pg_restore --file=/dev/null). A broken object
     * is a result, not a failure; only transient problems (storage unreachable) throw, to be retried.
     */
    async verifyObject(input: {
      target: S3Target;
      definition: string;
      backupId: string;
      compression: CompressionAlgorithm;
      identityFile: string;
      object: ManifestObject;
    }): Promise<VerifiedObject> {
      const { object } = input;
      const key = objectKey(input.definition, input.backupId, object.name);
      const progress = progressHeartbeat('verifying', object.name, object.storedBytes);
      try {
        await readBackupObjectInto({
          store: storeFor(input.target),
          target: input.target,
          key,
          object,
          compression: input.compression,
          identityFile: input.identityFile,
          ...readerFor(object, key),
          signal: progress.signal,
          onProgress: progress.update,
        });
        return {
          backupId: input.backupId,
          name: object.name,
          ok: true,
          plaintextBytes: object.plaintextBytes,
        };
      } catch (err) {
        const definite = err instanceof RestoreError || (err instanceof StorageError && !err.retryable);
        if (!definite) throw err;
        const message = (err as Error).message;
        log.warn('object failed verification', { key, error: message });
        return {
          backupId: input.backupId,
          name: object.name,
          ok: false,
          plaintextBytes: 0,
          // The report names the object once, in front of what is wrong with it.
          error: message.startsWith(`${key}: `) ? message.slice(key.length + 2) : message,
        };
      } finally {
        progress.stop();
      }
    },

    /**
     * The chunked volumes of several backups at once: each index checked, each chunk they list read,
     * authenticated and decompressed once (a damaged chunk fails every object that lists it). Without
     * the tar reader: that needs each backup's whole stream, which is what reading once avoids.
     */
    async verifyChunkedObjects(input: {
      target: S3Target;
      definition: string;
      identityFile: string;
      items: ChunkedObjectToVerify[];
    }): Promise<SharedChunkVerify> {
      const total = input.items.reduce((n, i) => n + i.object.storedBytes, 0);
      const progress = progressHeartbeat('verifying', 'chunks', total);
      try {
        const result = await verifyChunksOnce({
          store: storeFor(input.target),
          definition: input.definition,
          items: input.items,
          identities: await loadIdentities(input.identityFile),
          signal: progress.signal,
          onProgress: progress.update,
        });
        for (const o of result.objects) {
          if (!o.ok)
            log.warn('object failed verification', { backupId: o.backupId, name: o.name, error: o.error });
        }
        return result;
      } finally {
        progress.stop();
      }
    },
  };
}

export type VerifyActivities = ReturnType<typeof createVerifyActivities>;
