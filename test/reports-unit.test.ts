import { describe, expect, it } from 'vitest';
import { clean, countChange, dateLong, num, pct, periodLabel, quote, shareChange, xml } from '../server/reports/format.js';
import { localToUtc, nextRunAt, weeklyPeriod, weekdayOf } from '../server/reports/schedule.js';
import { checkPeriod } from '../server/reports/service.js';

/** Russian typography of the reports, input checks and the weekly schedule's arithmetic (no real time waited). */
describe('report typography', () => {
  it('formats numbers, shares and changes the Russian way', () => {
    expect(num(1234567)).toBe('1\u202F234\u202F567');
    expect(num(999)).toBe('999');
    expect(num(-1234.5, 1)).toBe('\u22121\u202F234,5');
    expect(num(-0.04, 1)).toBe('0,0');
    expect(pct(0.125)).toBe('12,5\u00A0%');
    expect(pct(null)).toBe('—');
    expect(countChange(110, 100)).toBe('+10 (+10,0\u00A0%)');
    expect(countChange(90, 100)).toBe('\u221210 (\u221210,0\u00A0%)');
    expect(countChange(5, 0)).toBe('+5 (в прошлом периоде — 0)');
    expect(shareChange(0.5, 0.45)).toBe('+5,0\u00A0п.\u00A0п.');
    expect(quote('Сад-город')).toBe('«Сад-город»');
    expect(quote('МУП «Водоканал»')).toBe('«МУП „Водоканал“»');
    expect(dateLong('2026-11-01')).toBe('1\u00A0ноября 2026\u00A0г.');
    expect(periodLabel('2026-11-01', '2026-11-30')).toBe('1–30\u00A0ноября 2026\u00A0г.');
    expect(periodLabel('2026-10-28', '2026-11-03')).toBe('28\u00A0октября — 3\u00A0ноября 2026\u00A0г.');
    expect(periodLabel('2025-12-29', '2026-01-04')).toBe('29\u00A0декабря 2025\u00A0г. — 4\u00A0января 2026\u00A0г.');
  });

  it('cleans hostile text: control characters, bidi overrides, lone surrogates, length', () => {
    expect(clean('a\u0001b\u0000c\u202Ed\uD800e\u200Bf')).toBe('abcdef');
    expect(clean('  много\n\tпробелов  ')).toBe('много пробелов');
    const long = clean('Я'.repeat(1000), 50);
    expect(long.length).toBe(50);
    expect(long.endsWith('…')).toBe(true);
    expect(clean('😀'.repeat(10), 4)).toBe('😀…');
    expect(xml('<a href="x">&\'</a>')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
  });

  it('bounds periods: empty and too long periods are errors naming the field', () => {
    expect(checkPeriod('2026-11-01', '2026-11-30')).toEqual({ from: '2026-11-01', to: '2026-11-30' });
    expect(() => checkPeriod('2026-11-30', '2026-11-01')).toThrow(/period\.to: .*период пуст/);
    expect(() => checkPeriod('2025-01-01', '2026-12-31')).toThrow(/period\.to: период не длиннее 366 дней/);
    expect(() => checkPeriod('2026-02-30', '2026-03-01')).toThrow(/period\.from: такой даты нет/);
    expect(() => checkPeriod('вчера', '2026-03-01')).toThrow(/period\.from: ожидается дата/);
    expect(checkPeriod('2024-01-01', '2024-12-31').to).toBe('2024-12-31');
  });
});

describe('weekly schedule arithmetic', () => {
  const tz = 'Asia/Barnaul'; // UTC+7, Rubtsovsk
  it('finds the next local weekday and hour', () => {
    expect(weekdayOf('2026-12-07')).toBe(1);
    expect(weekdayOf('2026-12-06')).toBe(7);
    expect(localToUtc('2026-12-07', 8, tz).toISOString()).toBe('2026-12-07T01:00:00.000Z');
    // Wednesday 10:00 local → next Monday 08:00 local
    expect(nextRunAt(1, 8, tz, new Date('2026-12-02T03:00:00Z')).toISOString()).toBe('2026-12-07T01:00:00.000Z');
    // Monday 07:59 local → the same day 08:00; exactly at 08:00 → a week later
    expect(nextRunAt(1, 8, tz, new Date('2026-12-07T00:59:00Z')).toISOString()).toBe('2026-12-07T01:00:00.000Z');
    expect(nextRunAt(1, 8, tz, new Date('2026-12-07T01:00:00Z')).toISOString()).toBe('2026-12-14T01:00:00.000Z');
    // Sunday 23:00 local of a Monday in UTC terms (the local date decides)
    expect(nextRunAt(7, 23, tz, new Date('2026-12-06T17:00:00Z')).toISOString()).toBe('2026-12-13T16:00:00.000Z');
    // A zone with daylight saving: the hour stays the local hour
    expect(nextRunAt(1, 8, 'Europe/Berlin', new Date('2026-03-25T12:00:00Z')).toISOString()).toBe('2026-03-30T06:00:00.000Z');
    expect(nextRunAt(1, 8, 'Europe/Berlin', new Date('2026-03-18T12:00:00Z')).toISOString()).toBe('2026-03-23T07:00:00.000Z');
  });
  it('reports on the seven days before the run', () => {
    expect(weeklyPeriod(new Date('2026-12-07T01:00:00Z'), tz)).toEqual({ from: '2026-11-30', to: '2026-12-06' });
    // 06:00 local on Monday is still Sunday in UTC: the local date counts
    expect(weeklyPeriod(new Date('2026-12-06T23:00:00Z'), tz)).toEqual({ from: '2026-11-30', to: '2026-12-06' });
  });
});
