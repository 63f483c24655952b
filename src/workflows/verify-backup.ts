import { patched } from '@temporalio/workflow';
import type { VerifiedObject, VerifyPlan, VerifyResult } from '../plan/types.ts';
import type { ChunkedObjectToVerify } from '../restore/verify-chunks.ts';
import { verifyActivities } from './activity-proxies.ts';
import { trackProgress } from './progress.ts';

/**
 * Reads every object of the chosen backups back as a restore would (sha256, authenticated decryption,
 * decompression, the format's reader) and writes nothing. One broken object does not stop the others:
 * the result lists every object with OK or its error. With several backups, their chunked volumes are
 * verified together, so a chunk they share is read once.
 */
export async function verifyBackupWorkflow(plan: VerifyPlan): Promise<VerifyResult> {
  const label = Array.isArray(plan.backups) ? plan.backups.join(',') : plan.backups;
  const progress = trackProgress(plan.definition, label);
  const verify = verifyActivities(plan.activityTaskQueue);
  progress.phase('reading manifests');
  const backups = await verify.listBackupsToVerify({ plan });
  const readable = backups.filter((b) => b.error === undefined && b.compression !== undefined);
  const sharedChunks = readable.length > 1 && patched('verify-chunks-once');
  const objects: VerifiedObject[] = [];
  const backupErrors: VerifyResult['backupErrors'] = [];
  const together: ChunkedObjectToVerify[] = [];
  // A chunked dump is read whole into pg_restore, as a sealed one: pg_restore is the check that the
  // chunks make a dump, which reading each chunk once cannot give. (Tar is not read for chunked
  // volumes together: that would read each backup's stream whole, which reading once avoids.)
  const readWhole = (object: { format: string }) =>
    object.format !== 'tar' && patched('verify-chunked-dumps-whole');
  for (const backup of backups) {
    progress.backup(backup.backupId);
    if (backup.error !== undefined || backup.compression === undefined) {
      backupErrors.push({ backupId: backup.backupId, error: backup.error ?? 'no compression recorded' });
      continue;
    }
    for (const object of backup.objects) {
      if (sharedChunks && object.chunked && !readWhole(object)) {
        together.push({ backupId: backup.backupId, compression: backup.compression, object });
        continue;
      }
      progress.phase(`verifying ${object.name}`);
      objects.push(
        await verify.verifyObject({
          target: plan.target,
          definition: plan.definition,
          backupId: backup.backupId,
          compression: backup.compression,
          identityFile: plan.identityFile,
          object,
        }),
      );
    }
  }
  let chunks: VerifyResult['chunks'];
  if (together.length > 0) {
    progress.phase(`verifying the chunks of ${together.length} chunked volume(s)`);
    const shared = await verify.verifyChunkedObjects({
      target: plan.target,
      definition: plan.definition,
      identityFile: plan.identityFile,
      items: together,
    });
    objects.push(...shared.objects);
    chunks = { read: shared.chunksRead, listed: shared.chunksListed };
  }
  // Newest backup first, each backup's objects in manifest order, as before.
  const order = (o: VerifiedObject) => {
    const b = backups.findIndex((x) => x.backupId === o.backupId);
    return [b, backups[b]?.objects.findIndex((x) => x.name === o.name) ?? 0] as const;
  };
  objects.sort((x, y) => {
    const [bx, ox] = order(x);
    const [by, oy] = order(y);
    return bx - by || ox - oy;
  });
  progress.phase('done');
  return {
    definition: plan.definition,
    backupIds: backups.map((b) => b.backupId),
    objects,
    backupErrors,
    ...(chunks ? { chunks } : {}),
  };
}
