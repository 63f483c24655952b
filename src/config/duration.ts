/**
 * Two duration grammars, because the two consumers have different conventions and mixing them would
 * silently misread `m`:
 * - intervals (schedule `every`, `jitter`, `catchupWindow`, webhook `staleAfter`) follow Go/Temporal:
 *   `w`, `d`, `h`, `m` (minutes), `s`, e.g. `15m`, `1h30m`, `7d`.
 * - retention windows (`keepWithin`) follow restic: `y`, `m` (months), `w`, `d`, `h`, e.g. `1y6m`, `12h`.
 */

const INTERVAL_UNITS_MS: Record<string, number> = {
  w: 7 * 24 * 3600_000,
  d: 24 * 3600_000,
  h: 3600_000,
  m: 60_000,
  s: 1000,
};

const WINDOW_UNITS = ['y', 'm', 'w', 'd', 'h'] as const;

/** A calendar-aware retention window: months and years have no fixed length. */
export interface RetentionWindow {
  years: number;
  months: number;
  days: number;
  hours: number;
}

type Parsed = { ok: true; parts: [number, string][] } | { ok: false; message: string };

function splitParts(text: string, allowed: readonly string[], unitsHelp: string): Parsed {
  const trimmed = text.trim();
  if (!/^(\d+[a-z]+)+$/.test(trimmed)) {
    return { ok: false, message: `expected a duration like ${unitsHelp}, got ${JSON.stringify(text)}` };
  }
  const parts: [number, string][] = [];
  const seen = new Set<string>();
  for (const match of trimmed.matchAll(/(\d+)([a-z]+)/g)) {
    const [, digits = '', unit = ''] = match;
    if (!allowed.includes(unit)) {
      return {
        ok: false,
        message: `unknown duration unit "${unit}" in ${JSON.stringify(text)}; use ${unitsHelp}`,
      };
    }
    if (seen.has(unit)) {
      return { ok: false, message: `duration unit "${unit}" appears twice in ${JSON.stringify(text)}` };
    }
    seen.add(unit);
    parts.push([Number(digits), unit]);
  }
  return { ok: true, parts };
}

const INTERVAL_HELP = '"30s", "15m", "1h30m", "7d" or "2w" (units w, d, h, m = minutes, s)';
const WINDOW_HELP = '"12h", "7d", "2w" or "1y6m" (units y, m = months, w, d, h)';

/** Parses an interval to milliseconds; returns an error message instead when the text is not one. */
export function parseInterval(text: string): { ok: true; ms: number } | { ok: false; message: string } {
  const parsed = splitParts(text, Object.keys(INTERVAL_UNITS_MS), INTERVAL_HELP);
  if (!parsed.ok) return parsed;
  const ms = parsed.parts.reduce((sum, [n, unit]) => sum + n * (INTERVAL_UNITS_MS[unit] ?? 0), 0);
  if (ms <= 0)
    return { ok: false, message: `duration must be greater than zero, got ${JSON.stringify(text)}` };
  return { ok: true, ms };
}

/** Parses a retention window; returns an error message instead when the text is not one. */
export function parseRetentionWindow(
  text: string,
): { ok: true; window: RetentionWindow } | { ok: false; message: string } {
  const parsed = splitParts(text, WINDOW_UNITS, WINDOW_HELP);
  if (!parsed.ok) return parsed;
  const window: RetentionWindow = { years: 0, months: 0, days: 0, hours: 0 };
  for (const [n, unit] of parsed.parts) {
    if (unit === 'y') window.years = n;
    else if (unit === 'm') window.months = n;
    else if (unit === 'w') window.days += 7 * n;
    else if (unit === 'd') window.days += n;
    else window.hours = n;
  }
  if (window.years + window.months + window.days + window.hours === 0) {
    return { ok: false, message: `duration must be greater than zero, got ${JSON.stringify(text)}` };
  }
  return { ok: true, window };
}

/** Compact text for an interval in milliseconds, the inverse of parseInterval (`5400000` -> `1h30m`). */
export function formatInterval(ms: number): string {
  let rest = ms;
  let text = '';
  for (const [unit, size] of Object.entries(INTERVAL_UNITS_MS)) {
    if (unit === 'w' && rest % size !== 0) continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      text += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) text += `${rest}ms`;
  return text || '0s';
}

/** Text for a retention window, the inverse of parseRetentionWindow. */
export function formatRetentionWindow(window: RetentionWindow): string {
  const parts: string[] = [];
  if (window.years) parts.push(`${window.years}y`);
  if (window.months) parts.push(`${window.months}m`);
  if (window.days) parts.push(`${window.days}d`);
  if (window.hours) parts.push(`${window.hours}h`);
  return parts.join('');
}
