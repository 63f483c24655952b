// Calendar arithmetic in an IANA time zone, for retention buckets: wall-clock parts of an instant,
// ISO weeks, and Go's AddDate (restic's keepWithin) on wall-clock dates.

export interface WallTime {
  year: number;
  month: number; // 1..12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function wallTime(at: Date, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

function wallAsUtc(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/** The instant whose wall-clock time in `timeZone` is `w` (the earlier one in a DST overlap). */
function fromWallTime(w: WallTime, timeZone: string): Date {
  const target = wallAsUtc(w);
  let guess = target;
  for (let i = 0; i < 3; i++) {
    const offset = wallAsUtc(wallTime(new Date(guess), timeZone)) - guess;
    const next = target - offset;
    if (next === guess) break;
    guess = next;
  }
  return new Date(guess);
}

/** ISO 8601 week-numbering year and week of a calendar date (Monday starts the week). */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const isoYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(isoYear, 0, 1)) / 86_400_000 + 1) / 7);
  return { year: isoYear, week };
}

/**
 * Go's time.AddDate in a zone: subtracts years, months and days on the wall clock, normalizing
 * overflow the same way (March 31 minus one month is March 3), then hours as elapsed time.
 */
export function subtractWindow(
  at: Date,
  window: { years: number; months: number; days: number; hours: number },
  timeZone: string,
): Date {
  const w = wallTime(at, timeZone);
  const shifted = new Date(
    Date.UTC(
      w.year - window.years,
      w.month - 1 - window.months,
      w.day - window.days,
      w.hour,
      w.minute,
      w.second,
    ),
  );
  const local = fromWallTime(
    {
      year: shifted.getUTCFullYear(),
      month: shifted.getUTCMonth() + 1,
      day: shifted.getUTCDate(),
      hour: shifted.getUTCHours(),
      minute: shifted.getUTCMinutes(),
      second: shifted.getUTCSeconds(),
    },
    timeZone,
  );
  return new Date(local.getTime() + (at.getTime() % 1000) - window.hours * 3_600_000);
}
