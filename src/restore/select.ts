import { parseBackupId } from '../storage/layout.ts';
import type { Manifest, ManifestObject } from '../storage/manifest.ts';
import { IdentityMismatchError, RestoreSelectionError, UnknownBackupError } from './errors.ts';

/** Picks the requested backup among the ids that have a manifest (newest first), or explains what exists. */
export function chooseBackupId(definition: string, requested: string, available: string[]): string {
  if (available.length === 0) {
    throw new UnknownBackupError(`there are no backups of ${definition} in storage`);
  }
  if (requested === 'latest') return available[0]!;
  if (available.includes(requested)) return requested;
  const shown = available.slice(0, 20).join(', ');
  const more = available.length > 20 ? ` (and ${available.length - 20} older)` : '';
  const hint = parseBackupId(requested) ? '' : ' (backup ids look like 20261126T053730Z-1a2b3c4d)';
  throw new UnknownBackupError(
    `no backup ${requested} of ${definition}${hint}; available, newest first: ${shown}${more}`,
  );
}

/** The identity must hold a private key for one of the recipients the manifest records. */
export function checkIdentityMatches(
  manifest: Manifest,
  identityRecipients: string[],
  identityFile: string,
): void {
  const recipients = manifest.encryption.recipients;
  if (identityRecipients.some((r) => recipients.includes(r))) return;
  throw new IdentityMismatchError(
    `backup ${manifest.definition}/${manifest.backupId} is not encrypted to this identity ` +
      `(${identityFile}, public key ${identityRecipients.join(', ')}): recipients are ${recipients.join(', ')}`,
  );
}

export interface VolumeRestoreItem {
  object: ManifestObject;
  /** The volume's name at backup time. */
  source: string;
  /** Where it is restored: the same volume, or the --to-volume target. */
  volume: string;
}

/**
 * Which volume objects to restore, and where. No selection restores every volume in place; with only
 * mappings (--to-volume OLD=NEW) just the mapped volumes are restored; --volume adds in-place restores.
 */
export function selectVolumes(
  manifest: Manifest,
  volumes: string[],
  mappings: { from: string; to: string }[],
): VolumeRestoreItem[] {
  const objects = manifest.objects.filter((o) => o.kind === 'volume');
  const bySource = new Map(objects.map((o) => [o.source, o]));
  const inBackup = [...bySource.keys()].join(', ') || '(none)';
  const problems: string[] = [];
  for (const name of [...volumes, ...mappings.map((m) => m.from)]) {
    if (!bySource.has(name)) problems.push(`volume "${name}" is not in this backup`);
  }
  const targets = new Map<string, string>();
  for (const m of mappings) {
    if (m.from === m.to) problems.push(`--to-volume ${m.from}=${m.to} maps a volume onto itself`);
    if (targets.has(m.from) && targets.get(m.from) !== m.to)
      problems.push(`volume "${m.from}" is mapped twice`);
    targets.set(m.from, m.to);
  }
  const selected =
    volumes.length === 0 && mappings.length === 0
      ? objects.map((o) => o.source)
      : [...new Set([...volumes, ...mappings.map((m) => m.from)])];
  const items = selected
    .filter((s) => bySource.has(s))
    .map((source) => ({ object: bySource.get(source)!, source, volume: targets.get(source) ?? source }));
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.volume)) problems.push(`volume "${item.volume}" would be restored twice`);
    seen.add(item.volume);
  }
  if (problems.length > 0) {
    throw new RestoreSelectionError(
      `${manifest.definition}/${manifest.backupId}: ${problems.join('; ')}; volumes in this backup: ${inBackup}`,
    );
  }
  if (items.length === 0) {
    throw new RestoreSelectionError(
      `${manifest.definition}/${manifest.backupId} holds no volumes to restore`,
    );
  }
  return items;
}
