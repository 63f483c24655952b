// Retention decisions, checked against restic's documented `forget --keep-*` behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRetention, describePolicy, type RetentionPolicy } from '../../../src/retention/policy.ts';
import { isoWeek, subtractWindow } from '../../../src/retention/calendar.ts';

const at = (iso: string) => ({ id: iso, time: new Date(iso) });

function kept(times: string[], policy: RetentionPolicy, tz = 'UTC'): string[] {
  return applyRetention(times.map(at), policy, tz)
    .filter((d) => d.keep)
    .map((d) => d.backup.id);
}

/** One backup a day at 10:00 UTC for `days` days ending on `last` (newest first). */
function daily(last: string, days: number): string[] {
  const end = Date.parse(`${last}T10:00:00Z`);
  return Array.from({ length: days }, (_, i) => new Date(end - i * 86_400_000).toISOString());
}

test('an empty policy keeps everything', () => {
  const times = daily('2026-11-26', 5);
  assert.deepEqual(kept(times, {}), times);
  assert.deepEqual(kept(times, { keepLast: 0, keepDaily: 0 }), times);
  assert.equal(describePolicy({}), 'keep everything');
});

test('keepLast keeps the n newest, whatever order they come in', () => {
  const times = daily('2026-11-26', 6);
  const shuffled = [times[3]!, times[0]!, times[5]!, times[1]!, times[4]!, times[2]!];
  const decisions = applyRetention(shuffled.map(at), { keepLast: 3 });
  assert.deepEqual(
    decisions.map((d) => [d.backup.id, d.keep]),
    times.map((t, i) => [t, i < 3]),
  );
  assert.deepEqual(decisions[0]!.reasons, ['last']);
  assert.deepEqual(decisions[5]!.reasons, []);
});

test('keepDaily keeps the newest backup of each of the last n days that have backups', () => {
  const times = [
    '2026-11-26T18:00:00.000Z',
    '2026-11-26T06:00:00.000Z',
    '2026-11-25T23:00:00.000Z',
    '2026-11-25T01:00:00.000Z',
    // no backup on the 24th: days without backups do not use up the count
    '2026-11-23T12:00:00.000Z',
    '2026-11-22T12:00:00.000Z',
  ];
  assert.deepEqual(kept(times, { keepDaily: 3 }), [times[0], times[2], times[4]]);
  const reasons = applyRetention(times.map(at), { keepDaily: 3 }).map((d) => d.reasons);
  assert.deepEqual(reasons[0], ['daily (2026-11-26)']);
  assert.deepEqual(reasons[4], ['daily (2026-11-23)']);
});

test('restic keeps the oldest backup too while a rule still has periods left', () => {
  // Three backups on one day, keepDaily 7: the newest (daily) and the oldest ("oldest daily").
  const times = ['2026-11-26T18:00:00.000Z', '2026-11-26T12:00:00.000Z', '2026-11-26T06:00:00.000Z'];
  const decisions = applyRetention(times.map(at), { keepDaily: 7 });
  assert.deepEqual(
    decisions.map((d) => d.reasons),
    [['daily (2026-11-26)'], [], ['oldest daily']],
  );
  // With the count used up the oldest is not kept.
  assert.deepEqual(kept(times, { keepDaily: 1 }), [times[0]]);
});

test('restic documented policy: daily 7, weekly 5, monthly 12, yearly 75 over a year of dailies', () => {
  const times = daily('2026-11-26', 400); // Thursday 2026-11-26 back to 2025-10-23
  const decisions = applyRetention(times.map(at), {
    keepDaily: 7,
    keepWeekly: 5,
    keepMonthly: 12,
    keepYearly: 75,
  });
  const keptIds = decisions.filter((d) => d.keep).map((d) => d.backup.id.slice(0, 10));
  // 7 days; Sundays closing the last 5 ISO weeks (this week's newest is today); month ends; year ends.
  const expected = new Set([
    ...['26', '25', '24', '23', '22', '21', '20'].map((d) => `2026-11-${d}`),
    '2026-11-15',
    '2026-11-08',
    '2026-11-01', // weeks 46, 45, 44 (47 and 48 are covered by dailies)
    '2026-10-31',
    '2026-09-30',
    '2026-08-31',
    '2026-07-31',
    '2026-06-30',
    '2026-05-31',
    '2026-04-30',
    '2026-03-31',
    '2026-02-28',
    '2026-01-31',
    '2025-12-31', // 12 months incl. November
    '2025-10-23', // yearly 2025 is 2025-12-31; yearly still has counts left: the oldest is kept
  ]);
  assert.deepEqual(new Set(keptIds), expected);
  const byDay = new Map(decisions.map((d) => [d.backup.id.slice(0, 10), d.reasons]));
  assert.deepEqual(byDay.get('2026-11-26'), [
    'daily (2026-11-26)',
    'weekly (2026-W48)',
    'monthly (2026-11)',
    'yearly (2026)',
  ]);
  assert.deepEqual(byDay.get('2025-12-31'), ['monthly (2025-12)', 'yearly (2025)']);
  assert.deepEqual(byDay.get('2025-10-23'), ['oldest yearly']);
});

test('keepHourly, keepWeekly (ISO weeks across a year boundary), keepYearly', () => {
  const hours = [
    '2026-11-26T10:59:00.000Z',
    '2026-11-26T10:01:00.000Z',
    '2026-11-26T09:30:00.000Z',
    '2026-11-26T07:00:00.000Z',
  ];
  assert.deepEqual(kept(hours, { keepHourly: 2 }), [hours[0], hours[2]]);
  // 2026-01-01 is a Thursday: ISO week 2026-W01 starts Monday 2025-12-29.
  assert.deepEqual(isoWeek(2025, 12, 29), { year: 2026, week: 1 });
  assert.deepEqual(isoWeek(2021, 1, 3), { year: 2020, week: 53 });
  const weeks = ['2026-01-02T10:00:00.000Z', '2025-12-29T10:00:00.000Z', '2025-12-28T10:00:00.000Z'];
  assert.deepEqual(kept(weeks, { keepWeekly: 2 }), [weeks[0], weeks[2]]);
  const years = ['2026-01-01T10:00:00.000Z', '2025-12-31T10:00:00.000Z', '2025-01-01T10:00:00.000Z'];
  assert.deepEqual(kept(years, { keepYearly: 1 }), [years[0]]);
});

test('keepWithin is relative to the newest backup, not to now, and calendar-aware', () => {
  const times = daily('2020-03-31', 40);
  const decisions = applyRetention(times.map(at), { keepWithin: { years: 0, months: 1, days: 0, hours: 0 } });
  // 2020-03-31 minus one month is "February 31" = March 2 (Go's AddDate): strictly newer is kept.
  const keptDays = decisions.filter((d) => d.keep).map((d) => d.backup.id.slice(0, 10));
  assert.equal(keptDays.at(-1), '2020-03-03');
  assert.equal(keptDays.length, 29);
  assert.deepEqual(decisions[0]!.reasons, ['within 1m']);
  assert.equal(
    subtractWindow(
      new Date('2026-11-26T10:00:00Z'),
      { years: 1, months: 0, days: 2, hours: 3 },
      'UTC',
    ).toISOString(),
    '2025-11-24T07:00:00.000Z',
  );
});

test('periods are wall-clock periods in the definition time zone, DST included', () => {
  // 23:30 UTC on the 25th is already the 26th in Berlin.
  const times = ['2026-11-26T08:00:00.000Z', '2026-11-25T23:30:00.000Z', '2026-11-25T20:00:00.000Z'];
  assert.deepEqual(kept(times, { keepDaily: 2 }, 'UTC'), [times[0], times[1]]);
  assert.deepEqual(kept(times, { keepDaily: 2 }, 'Europe/Berlin'), [times[0], times[2]]);
  // keepWithin 1d across the spring-forward night in Berlin is 23 hours of elapsed time.
  const cutoff = subtractWindow(
    new Date('2026-03-29T12:00:00+02:00'),
    { years: 0, months: 0, days: 1, hours: 0 },
    'Europe/Berlin',
  );
  assert.equal(cutoff.toISOString(), new Date('2026-03-28T12:00:00+01:00').toISOString());
});

test('rules combine: a backup kept by any rule is kept, with all its reasons', () => {
  const times = daily('2026-11-26', 10);
  const decisions = applyRetention(times.map(at), {
    keepLast: 2,
    keepWeekly: 1,
    keepWithin: { years: 0, months: 0, days: 3, hours: 0 },
  });
  assert.deepEqual(decisions[0]!.reasons, ['last', 'weekly (2026-W48)', 'within 3d']);
  assert.deepEqual(decisions[2]!.reasons, ['within 3d']);
  assert.deepEqual(decisions[3]!.reasons, []);
  assert.equal(decisions.filter((d) => d.keep).length, 3); // weekly 1 is used up: no "oldest weekly"
  assert.deepEqual(decisions.at(-1)!.reasons, []);
});

test('the newest backup is always kept', () => {
  const times = daily('2026-11-26', 3);
  // keepMonthly 1 keeps the newest anyway; a rule that keeps nothing still leaves the newest.
  const decisions = applyRetention(times.map(at), { keepLast: 0, keepWithin: undefined, keepYearly: 1 });
  assert.equal(decisions[0]!.keep, true);
  assert.equal(applyRetention([], { keepLast: 1 }).length, 0);
});
