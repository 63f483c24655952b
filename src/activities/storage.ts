import { log } from '@temporalio/activity';
import { parseRecipient } from '../pipeline/age/keys.ts';
import type { BackupPlan, StoredObject } from '../plan/types.ts';
import { backupPrefix, manifestKey } from '../storage/layout.ts';
import { manifestFormat, writeManifest, type Manifest } from '../storage/manifest.ts';
import type { S3Target } from '../storage/store.ts';
import { toolVersion } from '../version.ts';
import { PreflightError } from './failure.ts';
import { resolveRecipients } from './recipients.ts';
import type { StoreFor } from './stores.ts';

export interface StorageActivityDeps {
  storeFor: StoreFor;
}

/** Activities over the S3 target: reachability, the manifest, clean-up of failed runs. */
export function createStorageActivities({ storeFor }: StorageActivityDeps) {
  return {
    /**
     * Preflight: every recipient is a valid age public key and the bucket takes writes. Returns the
     * effective recipients: the plan's, the recipients file's and DOCKVAULT_AGE_RECIPIENTS on this worker.
     */
    async checkTarget(input: { target: S3Target; encryption: BackupPlan['encryption'] }): Promise<string[]> {
      const recipients = await resolveRecipients(input.encryption);
      if (recipients.length === 0) {
        throw new PreflightError(
          'no encryption recipients: set encryption.recipients (or recipientsFile) in the config, or DOCKVAULT_AGE_RECIPIENTS',
        );
      }
      for (const recipient of recipients) {
        try {
          parseRecipient(recipient);
        } catch (err) {
          throw new PreflightError(`invalid encryption recipient "${recipient}": ${(err as Error).message}`);
        }
      }
      await storeFor(input.target).checkWritable();
      return recipients;
    },

    /** The last step of a backup: once the manifest exists, the backup exists. */
    async writeManifest(input: {
      plan: BackupPlan;
      backupId: string;
      workflowId: string;
      runId: string;
      startedAt: string;
      downtimeMs: number;
      recipients: string[];
      stopped: string[];
      notRunning: string[];
      objects: StoredObject[];
    }): Promise<{ plaintextBytes: number; storedBytes: number }> {
      const { plan } = input;
      const totals = {
        plaintextBytes: input.objects.reduce((n, o) => n + o.plaintextBytes, 0),
        storedBytes: input.objects.reduce((n, o) => n + o.storedBytes, 0),
      };
      const manifest: Manifest = {
        format: manifestFormat(input.objects),
        tool: { name: 'dockvault', version: toolVersion },
        definition: plan.definition,
        type: plan.type,
        backupId: input.backupId,
        host: plan.host,
        workflowId: input.workflowId,
        runId: input.runId,
        startedAt: input.startedAt,
        finishedAt: new Date().toISOString(),
        downtimeMs: input.downtimeMs,
        containers: { stopped: input.stopped, notRunning: input.notRunning },
        encryption: { format: 'age-v1', recipients: input.recipients },
        compression: plan.compression,
        objects: input.objects,
        totals,
      };
      const store = storeFor(plan.target);
      // Every object of the run is complete by now, so an upload still open under its prefix is one
      // an earlier attempt started before its worker died: it would hold its parts until prune.
      const aborted = await store.abortUnfinishedUploads(backupPrefix(plan.definition, input.backupId));
      if (aborted > 0) log.info('aborted uploads of earlier attempts', { aborted });
      await writeManifest(store, manifest);
      log.info('manifest written', { key: manifestKey(plan.definition, input.backupId) });
      return totals;
    },

    /** A failed run leaves nothing that could pass for a backup: its objects and multipart uploads go. */
    async discardIncompleteBackup(input: { plan: BackupPlan; backupId: string }): Promise<void> {
      const store = storeFor(input.plan.target);
      const prefix = backupPrefix(input.plan.definition, input.backupId);
      if (await store.head(manifestKey(input.plan.definition, input.backupId))) return;
      const keys: string[] = [];
      for await (const object of store.list(prefix)) keys.push(object.key);
      if (keys.length > 0) await store.deleteMany(keys);
      const aborted = await store.abortUnfinishedUploads(prefix);
      log.info('discarded incomplete backup', { prefix, objects: keys.length, abortedUploads: aborted });
    },
  };
}

export type StorageActivities = ReturnType<typeof createStorageActivities>;
