/**
 * Typed failures of restore and verify. All are `retryable: false`: retrying cannot make a missing
 * backup appear, a wrong key right or a corrupted object whole (a stored object damaged is the
 * storage's ObjectIntegrityError), so the workflow fails at once with
 * the message the user needs (which object, which backup, which keys).
 */
export class RestoreError extends Error {
  override name = 'RestoreError';
  readonly retryable: boolean = false;
}

/** The requested backup id has no manifest; the message lists the ones that exist. */
export class UnknownBackupError extends RestoreError {
  override name = 'UnknownBackupError';
}

/** The identity given cannot decrypt the backup: none of its public keys is a recipient. */
export class IdentityMismatchError extends RestoreError {
  override name = 'IdentityMismatchError';
}

/** The object cannot be decrypted, decompressed or read as what the manifest says it is. */
export class CorruptBackupObjectError extends RestoreError {
  override name = 'CorruptBackupObjectError';
}

/** A volume to restore is still used by a running container that could not be stopped. */
export class VolumeInUseError extends RestoreError {
  override name = 'VolumeInUseError';
}

/** The restore target cannot be written the safe way from this worker (Docker Desktop, other drivers). */
export class UnsupportedRestoreTargetError extends RestoreError {
  override name = 'UnsupportedRestoreTargetError';
}

/** Bad selection: a volume that is not in the backup, a mapping onto itself. */
export class RestoreSelectionError extends RestoreError {
  override name = 'RestoreSelectionError';
}

/** The tool reading the plaintext (tar, pg_restore) failed: the archive is unreadable, or the disk is full. */
export class ReaderFailedError extends RestoreError {
  override name = 'ReaderFailedError';
}
