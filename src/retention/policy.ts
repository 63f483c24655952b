// Which backups a retention policy keeps, and why: restic's `forget --keep-*` rules, pure and
// deterministic, evaluated in the definition's time zone. Nothing here touches storage.
import { isoWeek, subtractWindow, wallTime, type WallTime } from './calendar.ts';

export interface RetentionWindow {
  years: number;
  months: number;
  days: number;
  hours: number;
}

export interface RetentionPolicy {
  keepLast?: number | undefined;
  keepHourly?: number | undefined;
  keepDaily?: number | undefined;
  keepWeekly?: number | undefined;
  keepMonthly?: number | undefined;
  keepYearly?: number | undefined;
  keepWithin?: RetentionWindow | undefined;
}

export interface Dated {
  id: string;
  time: Date;
}

export interface RetentionDecision<T extends Dated> {
  backup: T;
  keep: boolean;
  /** Every rule that keeps it, e.g. `last`, `daily (2026-11-26)`, `within 7d`. Empty when deleted. */
  reasons: string[];
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

interface Bucket {
  reason: string;
  count: number;
  /** The bucket a backup falls into, as text: equal text, same bucket. */
  key: (w: WallTime, index: number) => string;
}

const BUCKETS: { rule: keyof RetentionPolicy; reason: string; key: Bucket['key'] }[] = [
  { rule: 'keepLast', reason: 'last', key: (_w, i) => `#${i}` },
  {
    rule: 'keepHourly',
    reason: 'hourly',
    key: (w) => `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}h`,
  },
  { rule: 'keepDaily', reason: 'daily', key: (w) => `${w.year}-${pad(w.month)}-${pad(w.day)}` },
  {
    rule: 'keepWeekly',
    reason: 'weekly',
    key: (w) => {
      const iso = isoWeek(w.year, w.month, w.day);
      return `${iso.year}-W${pad(iso.week)}`;
    },
  },
  { rule: 'keepMonthly', reason: 'monthly', key: (w) => `${w.year}-${pad(w.month)}` },
  { rule: 'keepYearly', reason: 'yearly', key: (w) => String(w.year) },
];

function formatWindow(w: RetentionWindow): string {
  const text = [
    w.years ? `${w.years}y` : '',
    w.months ? `${w.months}m` : '',
    w.days ? `${w.days}d` : '',
    w.hours ? `${w.hours}h` : '',
  ].join('');
  return text || '0h';
}

function hasWindow(w: RetentionWindow | undefined): w is RetentionWindow {
  return w !== undefined && w.years + w.months + w.days + w.hours > 0;
}

/** A policy that keeps nothing in particular keeps everything (restic refuses to run one). */
function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return BUCKETS.every(({ rule }) => !policy[rule]) && !hasWindow(policy.keepWithin);
}

/** One line: `keepLast 3, keepDaily 7, keepWithin 2d` or `keep everything`. */
export function describePolicy(policy: RetentionPolicy): string {
  if (isEmptyPolicy(policy)) return 'keep everything';
  const parts = BUCKETS.filter(({ rule }) => policy[rule]).map(
    ({ rule }) => `${rule} ${policy[rule] as number}`,
  );
  if (hasWindow(policy.keepWithin)) parts.push(`keepWithin ${formatWindow(policy.keepWithin)}`);
  return parts.join(', ');
}

/**
 * Decides, for complete backups of one definition, which to keep. Like restic: backups are taken
 * newest first; keepLast keeps the n newest; each keepHourly/Daily/Weekly/Monthly/Yearly keeps the
 * newest backup of each of the n most recent periods that have one (and, while a rule still has
 * periods left when the backups run out, the oldest backup too); keepWithin keeps every backup newer
 * than the newest one minus the window. Periods are wall-clock periods in `timeZone` (ISO weeks).
 * A backup kept by any rule is kept, with every reason. The newest backup is always kept, and an
 * empty policy keeps everything. Returned newest first.
 */
export function applyRetention<T extends Dated>(
  backups: readonly T[],
  policy: RetentionPolicy,
  timeZone = 'UTC',
): RetentionDecision<T>[] {
  const sorted = [...backups].sort(
    (a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
  if (isEmptyPolicy(policy))
    return sorted.map((backup) => ({ backup, keep: true, reasons: ['no retention policy'] }));

  const buckets = BUCKETS.filter(({ rule }) => ((policy[rule] as number | undefined) ?? 0) > 0).map(
    ({ rule, reason, key }): Bucket & { last: string | undefined } => ({
      reason,
      key,
      count: policy[rule] as number,
      last: undefined,
    }),
  );
  const newest = sorted[0];
  const within = hasWindow(policy.keepWithin) && newest ? policy.keepWithin : undefined;
  const cutoff = within && newest ? subtractWindow(newest.time, within, timeZone).getTime() : undefined;

  return sorted.map((backup, index) => {
    const reasons: string[] = [];
    const wall = wallTime(backup.time, timeZone);
    for (const bucket of buckets) {
      if (bucket.count <= 0) continue;
      const key = bucket.key(wall, index);
      const isOldest = index === sorted.length - 1;
      if (key !== bucket.last) {
        reasons.push(bucket.reason === 'last' ? 'last' : `${bucket.reason} (${key})`);
      } else if (isOldest) {
        reasons.push(`oldest ${bucket.reason}`);
      } else {
        continue;
      }
      bucket.last = key;
      bucket.count--;
    }
    if (cutoff !== undefined && within && backup.time.getTime() > cutoff) {
      reasons.push(`within ${formatWindow(within)}`);
    }
    if (index === 0 && reasons.length === 0) reasons.push('newest');
    return { backup, keep: reasons.length > 0, reasons };
  });
}
