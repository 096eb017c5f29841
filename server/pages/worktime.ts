import { zoneOffset } from '../worktime/worktime.js';

/**
 * Working time between two instants, for reply times to comments on official pages: minutes inside the working hours
 * of working days (weekdays minus holidays, plus moved working days) in the municipality's time zone.
 */
export interface WorkCalendar {
  timezone: string;
  /** "09:00" */
  start: string;
  end: string;
  lunchStart?: string;
  lunchEnd?: string;
  /** ISO weekdays that are working days (1 = Monday … 7 = Sunday). */
  weekdays: number[];
  /** Days off that fall on working weekdays (YYYY-MM-DD, local). */
  holidays: string[];
  /** Working days that fall on weekends (YYYY-MM-DD, local). */
  workdays: string[];
}

const hm = (s: string) => {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s);
  if (!m) throw new Error(`время «${s}» не в формате ЧЧ:ММ`);
  return Number(m[1]) * 60 + Number(m[2]);
};

/** Offset of the time zone from UTC at an instant, in minutes (Asia/Barnaul: +420); the shared, cached formatter. */
export function tzOffsetMinutes(timezone: string, at: Date): number {
  return Math.round(zoneOffset(timezone, at.getTime()) / 60000);
}

/** The month (first day, YYYY-MM-01) an instant falls in, in the time zone. */
export function localMonth(timezone: string, at: Date): string {
  const local = new Date(at.getTime() + tzOffsetMinutes(timezone, at) * 60000);
  return `${local.getUTCFullYear()}-${String(local.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

export class WorkTime {
  private readonly holidays: Set<string>;
  private readonly workdays: Set<string>;
  private readonly intervals: [number, number][];

  constructor(readonly cal: WorkCalendar) {
    this.holidays = new Set(cal.holidays);
    this.workdays = new Set(cal.workdays);
    const s = hm(cal.start);
    const e = hm(cal.end);
    if (!(e > s)) throw new Error('конец рабочего дня раньше начала');
    if (cal.lunchStart && cal.lunchEnd) {
      const ls = hm(cal.lunchStart);
      const le = hm(cal.lunchEnd);
      this.intervals = [[s, Math.max(s, ls)], [Math.min(e, le), e]].filter(([a, b]) => b > a) as [number, number][];
    } else {
      this.intervals = [[s, e]];
    }
  }

  isWorkingDay(ymd: string, isoWeekday: number): boolean {
    if (this.workdays.has(ymd)) return true;
    if (this.holidays.has(ymd)) return false;
    return this.cal.weekdays.includes(isoWeekday);
  }

  /** Working minutes in [from, to) (0 when to ≤ from). At most 400 days are walked; longer spans are capped there. */
  minutesBetween(from: Date, to: Date): number {
    if (!(to.getTime() > from.getTime())) return 0;
    const tz = this.cal.timezone;
    const a = from.getTime();
    const b = Math.min(to.getTime(), a + 400 * 86_400_000);
    let total = 0;
    // Walk local days: local midnight of the start's day, then +1 day (offsets are re-read each day for DST zones).
    const off0 = tzOffsetMinutes(tz, from);
    const localStart = new Date(a + off0 * 60000);
    let y = localStart.getUTCFullYear();
    let mo = localStart.getUTCMonth();
    let d = localStart.getUTCDate();
    for (let i = 0; i < 402; i++) {
      const dayUtcMidnight = Date.UTC(y, mo, d);
      const off = tzOffsetMinutes(tz, new Date(dayUtcMidnight - off0 * 60000));
      const dayStart = dayUtcMidnight - off * 60000; // instant of local midnight
      if (dayStart >= b) break;
      const date = new Date(dayUtcMidnight);
      const ymd = date.toISOString().slice(0, 10);
      const wd = date.getUTCDay() === 0 ? 7 : date.getUTCDay();
      if (this.isWorkingDay(ymd, wd)) {
        for (const [s, e] of this.intervals) {
          const lo = Math.max(a, dayStart + s * 60000);
          const hi = Math.min(b, dayStart + e * 60000);
          if (hi > lo) total += (hi - lo) / 60000;
        }
      }
      const next = new Date(Date.UTC(y, mo, d + 1));
      y = next.getUTCFullYear(); mo = next.getUTCMonth(); d = next.getUTCDate();
    }
    return Math.round(total);
  }
}
