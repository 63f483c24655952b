// Every workflow the worker runs; the bundle entry point for Temporal's workflow sandbox.
export { standardBackupWorkflow } from './standard-backup.ts';
export { postgresBackupWorkflow } from './postgres-backup.ts';
export { restoreVolumesWorkflow } from './restore-volumes.ts';
export { verifyBackupWorkflow } from './verify-backup.ts';
export { restorePostgresWorkflow } from './restore-postgres.ts';
export { pruneWorkflow } from './prune.ts';
export { definitionLockWorkflow } from './definition-lock.ts';
export { hostSlotWorkflow } from './host-slot.ts';
export { backupRunWorkflow } from './backup-run.ts';
