// Key naming inside the target prefix: <definition>/<backupId>/<object name>, manifest.json written last.
const BACKUP_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[a-z0-9]{4,8}$/;
const SUFFIX = /^[a-z0-9]{4,8}$/;

export const MANIFEST_NAME = 'manifest.json';

function segment(what: string, value: string): string {
  if (value === '' || value === '.' || value === '..' || value.includes('/')) {
    throw new TypeError(`${what} ${JSON.stringify(value)} cannot be used as a key segment`);
  }
  return value;
}

export function backupPrefix(definition: string, backupId: string): string {
  return `${segment('definition', definition)}/${segment('backup id', backupId)}/`;
}

export function manifestKey(definition: string, backupId: string): string {
  return `${backupPrefix(definition, backupId)}${MANIFEST_NAME}`;
}

export function objectKey(definition: string, backupId: string, name: string): string {
  if (
    name === '' ||
    name.startsWith('/') ||
    name.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new TypeError(`object name ${JSON.stringify(name)} is not a relative path`);
  }
  return `${backupPrefix(definition, backupId)}${name}`;
}

/** `20261126T053730Z-<suffix>`: UTC to the second, so ids sort by time as strings. */
export function newBackupId(at: Date, suffix: string): string {
  if (!SUFFIX.test(suffix))
    throw new TypeError(`backup id suffix ${JSON.stringify(suffix)} must match [a-z0-9]{4,8}`);
  if (Number.isNaN(at.getTime())) throw new TypeError('backup id time is an invalid Date');
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `${stamp}-${suffix}`;
}

export function parseBackupId(id: string): Date | undefined {
  const m = BACKUP_ID.exec(id);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const at = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls over (month 13, Feb 30); a real id round-trips exactly.
  return newBackupId(at, 'xxxx').slice(0, 16) === id.slice(0, 16) ? at : undefined;
}
