import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WorkTime, DEFAULT_WORKING_HOURS, MINUTE, type WorkTimeConfig } from '../server/worktime/worktime.js';
import { ReferenceWorkTime } from '../server/worktime/reference.js';
import { bundledCalendars, calendarMap } from '../server/worktime/bundled.js';
import { parseCalendarXml, checkCalendarDays } from '../server/worktime/calendar.js';

/**
 * Working-time arithmetic against a brute-force minute-by-minute reference: moved days, shortened days, year
 * boundaries, instants outside working hours, two time zones (Asia/Barnaul UTC+7 and Europe/Berlin with DST).
 */
const cfg: WorkTimeConfig = { timezone: 'Asia/Barnaul', hours: DEFAULT_WORKING_HOURS, calendar: calendarMap(bundledCalendars()) };
const wt = new WorkTime(cfg);
const ref = new ReferenceWorkTime(cfg);
const local = (s: string) => Date.parse(s + '+07:00');
const iso = (t: number) => new Date(t).toISOString();

// Instants on whole minutes from late 2023 to early 2027 — concentrated around the interesting days.
const SPECIAL = ['2023-12-29', '2024-01-08', '2024-04-27', '2024-04-30', '2024-12-28', '2024-12-31', '2025-01-08', '2025-03-07', '2025-05-02',
  '2025-11-01', '2025-12-31', '2026-01-09', '2026-03-09', '2026-11-03', '2026-12-31'];
const instant = fc.oneof(
  fc.integer({ min: Date.parse('2023-12-01T00:00:00Z') / MINUTE, max: Date.parse('2027-01-31T00:00:00Z') / MINUTE }).map((m) => m * MINUTE),
  fc.tuple(fc.constantFrom(...SPECIAL), fc.integer({ min: -3 * 1440, max: 3 * 1440 })).map(([d, m]) => local(`${d}T00:00:00`) + m * MINUTE),
);

describe('working time (Asia/Barnaul, Rubtsovsk defaults)', () => {
  it('knows the calendar: holidays, moved days, shortened days, working Saturdays', () => {
    expect(wt.isWorkingDay('2025-01-08')).toBe(false); // New Year holidays
    expect(wt.isWorkingDay('2025-01-09')).toBe(true);
    expect(wt.isWorkingDay('2024-04-27')).toBe(true); // a working Saturday
    expect(wt.workingMinutesOfDay('2024-04-27')).toBe(492); // Monday's hours: 8:00–12:00 + 12:48–17:00
    expect(wt.isWorkingDay('2024-04-29')).toBe(false); // a day off moved from 27.04
    expect(wt.workingMinutesOfDay('2025-03-07')).toBe(372); // shortened Friday: 8:00–12:00 + 12:48–15:00
    expect(wt.workingMinutesOfDay('2025-03-06')).toBe(492);
    expect(wt.workingMinutesOfDay('2025-03-05')).toBe(492);
    expect(wt.workingMinutesOfDay('2025-03-14')).toBe(432); // ordinary Friday ends at 16:00
    expect(wt.isWorkingDay('2025-11-01')).toBe(true); // Saturday 01.11.2025 worked (t=3)
    expect(wt.isWorkingDay('2026-01-09')).toBe(false);
    expect(wt.isWorkingDay('2030-01-01')).toBe(true); // no calendar for 2030: the ordinary week (a Tuesday)
  });

  it('adds working hours across lunch, evenings, weekends and the New Year', () => {
    expect(iso(wt.addWorkingMinutes(local('2025-03-03T08:00:00'), 240))).toBe(iso(local('2025-03-03T12:00:00')));
    expect(iso(wt.addWorkingMinutes(local('2025-03-03T11:00:00'), 120))).toBe(iso(local('2025-03-03T13:48:00')));
    // 8 working hours from Friday 15:00 → Friday 16:00 (1 h), Monday 8:00 + 7 h = 15:48
    expect(iso(wt.addWorkingMinutes(local('2025-03-14T15:00:00'), 480))).toBe(iso(local('2025-03-17T15:48:00')));
    // registered on 31 Dec 2025 (holiday) at 20:00: counting starts on 12 January 2026
    expect(iso(wt.addWorkingMinutes(local('2025-12-31T20:00:00'), 240))).toBe(iso(local('2026-01-12T12:00:00')));
    // a Saturday evening: 1 minute → Monday 8:01
    expect(iso(wt.addWorkingMinutes(local('2025-03-15T21:00:00'), 1))).toBe(iso(local('2025-03-17T08:01:00')));
    expect(wt.workingMinutesBetween(local('2025-03-14T15:00:00'), local('2025-03-17T15:48:00'))).toBe(480);
  });

  it('adds working days and calendar days (end of the working day, day off moves to the next working day)', () => {
    // 7 working days from Monday 3 March 2025 10:00: 4,5,6,7(short),10,11,12 → Wednesday 12 March 17:00
    expect(iso(wt.addWorkingDays(local('2025-03-03T10:00:00'), 7))).toBe(iso(local('2025-03-12T17:00:00')));
    // 30 calendar days from 3 March 2025 → 2 April 17:00 (a Wednesday)
    expect(iso(wt.addCalendarDays(local('2025-03-03T10:00:00'), 30))).toBe(iso(local('2025-04-02T17:00:00')));
    // 8 calendar days from 28 Dec 2025 → 5 Jan 2026 (holiday) → 12 Jan 17:00
    expect(iso(wt.addCalendarDays(local('2025-12-28T10:00:00'), 8))).toBe(iso(local('2026-01-12T17:00:00')));
    // 1 working day from Thursday 6 March → Friday 7 March, shortened: ends 15:00
    expect(iso(wt.addWorkingDays(local('2025-03-06T09:00:00'), 1))).toBe(iso(local('2025-03-07T15:00:00')));
  });

  it('addWorkingMinutes agrees with the minute-by-minute reference', () => {
    fc.assert(fc.property(instant, fc.integer({ min: 0, max: 4000 }), (t, n) => {
      expect(iso(wt.addWorkingMinutes(t, n))).toBe(iso(n === 0 ? t : ref.addWorkingMinutes(t, n)));
    }), { numRuns: 300 });
  });

  it('workingMinutesBetween agrees with the reference and inverts addition', () => {
    fc.assert(fc.property(instant, fc.integer({ min: 0, max: 20_000 }), (a, span) => {
      const b = a + span * MINUTE;
      expect(wt.workingMinutesBetween(a, b)).toBe(ref.workingMinutesBetween(a, b));
    }), { numRuns: 200 });
    fc.assert(fc.property(instant, fc.integer({ min: 1, max: 50_000 }), (t, n) => {
      expect(wt.workingMinutesBetween(t, wt.addWorkingMinutes(t, n))).toBe(n);
    }), { numRuns: 500 });
  });

  it('working days and calendar days agree with the reference', () => {
    fc.assert(fc.property(instant, fc.integer({ min: 0, max: 40 }), (t, n) => {
      expect(iso(wt.addWorkingDays(t, n))).toBe(iso(ref.addWorkingDays(t, n)));
      expect(iso(wt.addCalendarDays(t, n))).toBe(iso(ref.addCalendarDays(t, n)));
    }), { numRuns: 400 });
  });

  it('the day-walking baseline agrees too (the benchmark compares like with like)', () => {
    fc.assert(fc.property(instant, fc.integer({ min: 1, max: 6000 }), (t, n) => {
      expect(ref.addWorkingMinutesDayWalk(t, n)).toBe(wt.addWorkingMinutes(t, n));
    }), { numRuns: 300 });
  });

  it('grows its range for instants far outside it', () => {
    const small = new WorkTime(cfg, { fromYear: 2025, toYear: 2025 });
    const t = Date.parse('2031-06-02T01:00:00Z'); // Monday 08:00 local
    expect(iso(small.addWorkingMinutes(t, 60))).toBe('2031-06-02T02:00:00.000Z');
    expect(iso(small.addWorkingMinutes(Date.parse('2019-06-03T01:00:00Z'), 60))).toBe('2019-06-03T02:00:00.000Z');
    expect(small.workingMinutesBetween(Date.parse('2024-12-27T01:00:00Z'), Date.parse('2025-01-10T01:00:00Z'))).toBe(ref.workingMinutesBetween(Date.parse('2024-12-27T01:00:00Z'), Date.parse('2025-01-10T01:00:00Z')));
  });
});

describe('working time in a zone with daylight saving (Europe/Berlin)', () => {
  const c: WorkTimeConfig = { timezone: 'Europe/Berlin', hours: { ...DEFAULT_WORKING_HOURS, week: { ...DEFAULT_WORKING_HOURS.week, '7': ['01:00-04:00'] } }, calendar: new Map() };
  const w = new WorkTime(c);
  const r = new ReferenceWorkTime(c);
  const around = fc.tuple(fc.constantFrom('2025-03-30T00:00:00Z', '2025-10-26T00:00:00Z'), fc.integer({ min: -2 * 1440, max: 2 * 1440 }))
    .map(([d, m]) => Date.parse(d) + m * MINUTE);
  it('agrees with the reference across the clock changes', () => {
    fc.assert(fc.property(around, fc.integer({ min: 0, max: 1500 }), (t, n) => {
      expect(iso(w.addWorkingMinutes(t, n))).toBe(iso(n === 0 ? t : r.addWorkingMinutes(t, n)));
      expect(w.workingMinutesBetween(t, t + n * MINUTE)).toBe(r.workingMinutesBetween(t, t + n * MINUTE));
    }), { numRuns: 200 });
  });
});

describe('production calendar files', () => {
  it('parses the bundled years', () => {
    const ys = bundledCalendars();
    expect(ys.map((y) => y.year)).toEqual([2024, 2025, 2026]);
    const d = ys[1].days.find((x) => x.date === '2025-05-02')!;
    expect(d).toMatchObject({ kind: 'HOLIDAY', movedFrom: '2025-01-04' });
  });
  it('rejects impossible dates, duplicate days and unknown day types, naming the entry', () => {
    const xml = (days: string) => `<calendar year="2027"><holidays/><days>${days}</days></calendar>`;
    expect(() => parseCalendarXml(xml('<day d="01.01" t="1"/><day d="02.30" t="1"/>'), 'ru-2027.xml')).toThrow(/days\.day\[2\]\.d.*невозможная дата «02\.30»/);
    expect(() => parseCalendarXml(xml('<day d="01.01" t="1"/><day d="01.01" t="2"/>'))).toThrow(/day\[2\]\.d.*2027-01-01 указан дважды/);
    expect(() => parseCalendarXml(xml('<day d="01.01" t="7"/>'))).toThrow(/day\[1\]\.t.*неизвестный тип дня «7»/);
    expect(() => parseCalendarXml('<calendar year="20x7"><days/></calendar>')).toThrow(/calendar\.year/);
    expect(() => parseCalendarXml('not xml at all <')).toThrow(/calendar/);
    expect(() => checkCalendarDays(2027, [{ date: '2027-02-29', kind: 'HOLIDAY' }])).toThrow(/days\[0\]\.date/);
    expect(() => checkCalendarDays(2027, [{ date: '2027-01-01', kind: 'OFF' }])).toThrow(/days\[0\]\.kind/);
  });
});
