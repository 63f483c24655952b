import type { VerifiedObject, VerifyPlan, VerifyResult } from '../plan/types.ts';
import { verifyActivities } from './activity-proxies.ts';
import { trackProgress } from './progress.ts';

/**
 * Reads every object of the chosen backups back as a restore would (sha256, authenticated decryption,
 * decompression, the format's reader) and writes nothing. One broken object does not stop the others:
 * the result lists every object with OK or its error.
 */
export async function verifyBackupWorkflow(plan: VerifyPlan): Promise<VerifyResult> {
  const label = Array.isArray(plan.backups) ? plan.backups.join(',') : plan.backups;
  const progress = trackProgress(plan.definition, label);
  const verify = verifyActivities(plan.activityTaskQueue);
  progress.phase('reading manifests');
  const backups = await verify.listBackupsToVerify({ plan });
  const objects: VerifiedObject[] = [];
  const backupErrors: VerifyResult['backupErrors'] = [];
  for (const backup of backups) {
    progress.backup(backup.backupId);
    if (backup.error !== undefined || backup.compression === undefined) {
      backupErrors.push({ backupId: backup.backupId, error: backup.error ?? 'no compression recorded' });
      continue;
    }
    for (const object of backup.objects) {
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
  progress.phase('done');
  return { definition: plan.definition, backupIds: backups.map((b) => b.backupId), objects, backupErrors };
}
