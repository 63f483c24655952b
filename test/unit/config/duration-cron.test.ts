import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCron } from '../../../src/config/cron.ts';
import { formatInterval, parseInterval, parseRetentionWindow } from '../../../src/config/duration.ts';

describe('durations', () => {
  it('parses intervals to milliseconds, m meaning minutes', () => {
    assert.deepEqual(parseInterval('1h30m'), { ok: true, ms: 5_400_000 });
    assert.deepEqual(parseInterval('2w'), { ok: true, ms: 14 * 86_400_000 });
    assert.deepEqual(parseInterval('45s'), { ok: true, ms: 45_000 });
  });

  it('rejects zero, unknown units, repeated units and words', () => {
    for (const bad of ['0s', '5y', '1h1h', '5 minutes', '', '-5m', '1.5h'])
      assert.equal(parseInterval(bad).ok, false, bad);
  });

  it('parses retention windows, m meaning months', () => {
    assert.deepEqual(parseRetentionWindow('1y6m'), {
      ok: true,
      window: { years: 1, months: 6, days: 0, hours: 0 },
    });
    assert.deepEqual(parseRetentionWindow('2w3d12h'), {
      ok: true,
      window: { years: 0, months: 0, days: 17, hours: 12 },
    });
    assert.equal(parseRetentionWindow('30s').ok, false);
  });

  it('formats intervals back', () => {
    assert.equal(formatInterval(5_400_000), '1h30m');
    assert.equal(formatInterval(14 * 86_400_000), '2w');
    assert.equal(formatInterval(8 * 86_400_000), '8d');
  });
});

describe('cron', () => {
  it('accepts the forms Temporal accepts', () => {
    for (const ok of [
      '0 3 * * *',
      '*/5 0-6,22-23 * * MON-FRI',
      '0 0 L * *'.replace('L', '1'),
      '0 12 ? * sun',
      '0 0 1 1 * 2030',
      '30 0 3 * * * *',
      '@weekly',
      '@every 1h/5m',
      '0 0 * * 7',
    ]) {
      assert.equal(checkCron(ok), undefined, ok);
    }
  });

  it('rejects with a reason', () => {
    const bad: [string, RegExp][] = [
      ['61 * * * *', /minute field "61": 61 is out of range 0-59/],
      ['every day', /has 2 fields/],
      ['* * * *', /has 4 fields/],
      ['0 0 32 * *', /day-of-month field "32"/],
      ['0 0 * 13 *', /month field "13"/],
      ['0 0 * * 8', /day-of-week field "8"/],
      ['*/0 * * * *', /step "0"/],
      ['5-1 * * * *', /runs backwards/],
      ['@sometimes', /not a known shorthand/],
      ['@every soon', /expected a duration/],
      ['CRON_TZ=UTC 0 3 * * *', /set schedule.timezone/],
    ];
    for (const [text, reason] of bad) assert.match(checkCron(text) ?? '', reason, text);
  });
});
