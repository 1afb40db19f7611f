/** CronSchedule: robfig/cron's standard syntax and the next time, in a time zone. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CronSchedule, CronScheduleError } from './cron-schedule.js';

const at = (iso: string) => Date.parse(iso);
const iso = (t: number) => new Date(t).toISOString();
/** the next `n` times after `from` */
function times(spec: string, from: string, n: number, tz = 'UTC'): string[] {
  const s = new CronSchedule(spec, tz);
  const out: string[] = [];
  for (let t = at(from), i = 0; i < n; i++) out.push(iso((t = s.next(t))));
  return out;
}

describe('cron schedule', () => {
  it('every minute, steps, lists, ranges and names', () => {
    assert.deepEqual(times('* * * * *', '2026-01-01T00:00:30Z', 2), ['2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z']);
    assert.deepEqual(times('*/15 * * * *', '2026-01-01T00:00:00Z', 3), ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z', '2026-01-01T00:45:00.000Z']);
    assert.deepEqual(times('5/20 1,3 * * *', '2026-01-01T00:00:00Z', 4), ['2026-01-01T01:05:00.000Z', '2026-01-01T01:25:00.000Z', '2026-01-01T01:45:00.000Z', '2026-01-01T03:05:00.000Z']);
    assert.deepEqual(times('0 12 * FEB-MAR mon-wed', '2026-01-31T00:00:00Z', 2), ['2026-02-02T12:00:00.000Z', '2026-02-03T12:00:00.000Z']);
  });

  it('descriptors and @every', () => {
    assert.deepEqual(times('@hourly', '2026-01-01T00:59:59Z', 1), ['2026-01-01T01:00:00.000Z']);
    assert.deepEqual(times('@daily', '2026-01-01T00:00:00Z', 1), ['2026-01-02T00:00:00.000Z']);
    assert.deepEqual(times('@weekly', '2026-01-01T00:00:00Z', 1), ['2026-01-04T00:00:00.000Z']); // a Sunday
    assert.deepEqual(times('@monthly', '2026-01-15T00:00:00Z', 1), ['2026-02-01T00:00:00.000Z']);
    assert.deepEqual(times('@yearly', '2026-01-15T00:00:00Z', 1), ['2027-01-01T00:00:00.000Z']);
    assert.deepEqual(times('@every 90s', '2026-01-01T00:00:00Z', 2), ['2026-01-01T00:01:30.000Z', '2026-01-01T00:03:00.000Z']);
  });

  it('day of month and day of week: either, unless one is *', () => {
    // the 13th or any Friday
    assert.deepEqual(times('0 0 13 * 5', '2026-02-01T00:00:00Z', 3), ['2026-02-06T00:00:00.000Z', '2026-02-13T00:00:00.000Z', '2026-02-20T00:00:00.000Z']);
    // any day of month, Fridays only
    assert.deepEqual(times('0 0 * * 5', '2026-02-01T00:00:00Z', 1), ['2026-02-06T00:00:00.000Z']);
    // */2 days is not a star: the 1st, 3rd ... or Sundays
    assert.deepEqual(times('0 0 */2 * 0', '2026-02-01T00:00:00Z', 3), ['2026-02-03T00:00:00.000Z', '2026-02-05T00:00:00.000Z', '2026-02-07T00:00:00.000Z']);
  });

  it('time zones, across a DST change', () => {
    // 09:00 in Tokyo (UTC+9) is midnight UTC; strictly after it, the next day's
    assert.deepEqual(times('0 9 * * *', '2026-01-01T00:00:00Z', 1, 'Asia/Tokyo'), ['2026-01-02T00:00:00.000Z']);
    // New York springs forward on 2026-03-08: local midnight is 05:00Z before, 04:00Z after
    assert.deepEqual(times('0 0 * * *', '2026-03-07T06:00:00Z', 2, 'America/New_York'), ['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
    // a half-hour zone: 05:30 in Kolkata is 00:00Z
    assert.deepEqual(times('30 5 * * *', '2025-12-31T12:00:00Z', 1, 'Asia/Kolkata'), ['2026-01-01T00:00:00.000Z']);
  });

  it('refuses what does not parse, and a date that never comes', () => {
    for (const bad of ['* * * *', '61 * * * *', '@fortnightly', '*/0 * * * *', 'x * * * *', '1-2-3 * * * *']) assert.throws(() => new CronSchedule(bad, 'UTC'), CronScheduleError, bad);
    assert.throws(() => new CronSchedule('0 0 30 2 *', 'UTC').next(at('2026-01-01T00:00:00Z')), /never fires/);
  });
});
