import { parseInterval } from './duration.ts';

/**
 * Validates cron strings in the forms Temporal Schedules accept, so a typo fails at `config check`
 * instead of when `schedules sync` talks to the server. 5 fields: minute hour day-of-month month
 * day-of-week; 6 fields add year at the end; 7 fields add second at the front. Shorthands
 * (@hourly, @daily, ...) and `@every <interval>[/<offset>]` are accepted too.
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  allowQuestion?: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const SECOND: Field = { name: 'second', min: 0, max: 59 };
const MINUTE: Field = { name: 'minute', min: 0, max: 59 };
const HOUR: Field = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: Field = { name: 'day-of-month', min: 1, max: 31, allowQuestion: true };
const MONTH: Field = { name: 'month', min: 1, max: 12, names: MONTHS };
// 7 is accepted as Sunday, as in most crons.
const DAY_OF_WEEK: Field = { name: 'day-of-week', min: 0, max: 7, names: DAYS, allowQuestion: true };
const YEAR: Field = { name: 'year', min: 1970, max: 2999 };

const LAYOUTS: Record<number, Field[]> = {
  5: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK],
  6: [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
  7: [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR],
};

const SHORTHANDS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

function parseValue(text: string, field: Field): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const index = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (index < 0) return undefined;
  return field === MONTH ? index + 1 : index;
}

/** Returns why one field is invalid, or undefined when it is fine. */
function checkField(text: string, field: Field): string | undefined {
  const where = `${field.name} field ${JSON.stringify(text)}`;
  for (const item of text.split(',')) {
    if (item === '*' || (field.allowQuestion && item === '?')) continue;
    const match = /^([^/]+)(?:\/(.+))?$/.exec(item);
    const [, range = '', step] = match ?? [];
    if (!match) return `${where} is not a value, range or step`;
    if (step !== undefined && !/^[1-9]\d*$/.test(step))
      return `${where} has step "${step}", expected a positive number`;
    if (range === '*') continue;
    const bounds = range.split('-');
    if (bounds.length > 2) return `${where} has a malformed range "${range}"`;
    const values: number[] = [];
    for (const bound of bounds) {
      const value = parseValue(bound, field);
      if (value === undefined) {
        const names = field.names ? ` or a name (${field.names.join(', ')})` : '';
        return `${where}: "${bound}" is not a number${names}`;
      }
      if (value < field.min || value > field.max) {
        return `${where}: ${value} is out of range ${field.min}-${field.max}`;
      }
      values.push(value);
    }
    const [low = 0, high = low] = values;
    if (high < low) return `${where}: range "${range}" runs backwards`;
  }
  return undefined;
}

/** Returns why a cron string is invalid, or undefined when Temporal will accept it. */
export function checkCron(expression: string): string | undefined {
  const text = expression.trim();
  if (/^(CRON_)?TZ=/.test(text)) {
    return `cron ${JSON.stringify(expression)} carries a time zone prefix; set schedule.timezone instead`;
  }
  if (text.startsWith('@')) {
    if (SHORTHANDS.includes(text)) return undefined;
    const every = /^@every\s+(\S+?)(?:\/(\S+))?$/.exec(text);
    if (every) {
      for (const part of [every[1], every[2]]) {
        if (part === undefined) continue;
        const parsed = parseInterval(part);
        if (!parsed.ok) return `cron ${JSON.stringify(expression)}: ${parsed.message}`;
      }
      return undefined;
    }
    return `cron ${JSON.stringify(expression)} is not a known shorthand; use one of ${SHORTHANDS.join(', ')} or "@every <interval>"`;
  }
  const fields = text.split(/\s+/);
  const layout = LAYOUTS[fields.length];
  if (!layout) {
    return `cron ${JSON.stringify(expression)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week), 6 (plus year) or 7 (second first, year last), or a shorthand like @daily`;
  }
  for (const [i, field] of layout.entries()) {
    const problem = checkField(fields[i] ?? '', field);
    if (problem) return `cron ${JSON.stringify(expression)}: ${problem}`;
  }
  return undefined;
}
