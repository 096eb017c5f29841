import type { CalendarDayKind } from './calendar.js';
import { localDate, wallToUtc, zoneOffset } from '../util/timezone.js';

/**
 * Working time of an administration: its weekly working hours in its time zone, the production calendar (days off,
 * moved days, shortened pre-holiday days), and arithmetic over it — add N working minutes / working days / calendar
 * days to an instant, working minutes elapsed between two instants.
 *
 * Speed: every local day of the covered range is precomputed once into flat typed arrays — the UTC instant of its
 * local midnight, its working intervals as UTC instants, and the working time before it (a prefix sum). An addition
 * is then a day lookup (arithmetic, at most a step or two off for time-zone changes), a binary search over the prefix
 * sums for the target day and a walk over that day's one to three intervals: no Date objects, no Intl, no allocation.
 * The range grows on demand (a rebuild) when an instant outside it arrives.
 */

export type DeadlineUnit = 'WORKING_HOURS' | 'WORKING_DAYS' | 'CALENDAR_DAYS';
export const DEADLINE_UNITS: DeadlineUnit[] = ['WORKING_HOURS', 'WORKING_DAYS', 'CALENDAR_DAYS'];

/** Weekly working hours as stored (data, not code): ISO weekday "1" (Monday) … "7" → ["HH:MM-HH:MM", …]. */
export interface WorkingHours {
  week: Record<string, string[]>;
  /** A working Saturday or Sunday of the calendar (WORKDAY) is worked with this weekday's hours. */
  movedWorkdayAs: number;
  /** Minutes cut from the end of a shortened pre-holiday day. */
  shortenedMinutes: number;
}

/** Rubtsovsk's administration (defaults, to confirm locally): Mon–Thu 8:00–17:00, Fri 8:00–16:00, lunch 12:00–12:48. */
export const DEFAULT_WORKING_HOURS: WorkingHours = {
  week: {
    '1': ['08:00-12:00', '12:48-17:00'],
    '2': ['08:00-12:00', '12:48-17:00'],
    '3': ['08:00-12:00', '12:48-17:00'],
    '4': ['08:00-12:00', '12:48-17:00'],
    '5': ['08:00-12:00', '12:48-16:00'],
    '6': [],
    '7': [],
  },
  movedWorkdayAs: 1,
  shortenedMinutes: 60,
};

export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** Parsed weekly hours: minute-of-day intervals per ISO weekday (index 1..7). */
export interface ParsedHours {
  week: [number, number][][];
  movedWorkdayAs: number;
  shortenedMinutes: number;
}

export class WorkingHoursError extends Error {
  constructor(readonly field: string, message: string) { super(`${field}: ${message}`); }
}

/** Checks and parses working hours; throws WorkingHoursError naming the field. */
export function parseWorkingHours(h: WorkingHours): ParsedHours {
  if (!h || typeof h !== 'object' || !h.week || typeof h.week !== 'object') throw new WorkingHoursError('week', 'нет расписания по дням недели');
  const week: [number, number][][] = [[]];
  for (let wd = 1; wd <= 7; wd++) {
    const list = h.week[String(wd)] ?? [];
    if (!Array.isArray(list) || list.length > 6) throw new WorkingHoursError(`week.${wd}`, 'ожидается список до 6 интервалов «ЧЧ:ММ-ЧЧ:ММ»');
    let last = -1;
    week.push(list.map((s, i) => {
      const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(String(s).trim());
      const from = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
      const to = m ? Number(m[3]) * 60 + Number(m[4]) : NaN;
      if (!m || Number(m[2]) > 59 || Number(m[4]) > 59 || !(from < to) || to > 1440)
        throw new WorkingHoursError(`week.${wd}[${i}]`, `неверный интервал «${String(s).slice(0, 20)}» (ожидается ЧЧ:ММ-ЧЧ:ММ в пределах суток, начало раньше конца)`);
      if (from < last) throw new WorkingHoursError(`week.${wd}[${i}]`, `интервал «${s}» пересекается с предыдущим или идёт раньше него`);
      last = to;
      return [from, to] as [number, number];
    }));
  }
  const as = Number(h.movedWorkdayAs ?? 1);
  if (!Number.isInteger(as) || as < 1 || as > 5) throw new WorkingHoursError('movedWorkdayAs', 'день недели 1–5, по расписанию которого работают в перенесённый рабочий день');
  const sh = Number(h.shortenedMinutes ?? 60);
  if (!Number.isInteger(sh) || sh < 0 || sh > 240) throw new WorkingHoursError('shortenedMinutes', 'сокращение предпраздничного дня 0–240 минут');
  return { week, movedWorkdayAs: as, shortenedMinutes: sh };
}

/** Cuts `minutes` from the end of a day's intervals. */
export function shorten(intervals: [number, number][], minutes: number): [number, number][] {
  const out = intervals.map((x) => [...x] as [number, number]);
  let left = minutes;
  while (left > 0 && out.length) {
    const lastIv = out[out.length - 1];
    const len = lastIv[1] - lastIv[0];
    if (len > left) { lastIv[1] -= left; left = 0; } else { out.pop(); left -= len; }
  }
  return out;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** Epoch day number (days since 1970-01-01) of a calendar date → YYYY-MM-DD. */
export function dayKey(day: number): string {
  const d = new Date(day * DAY);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}
/** ISO weekday 1..7 of an epoch day number (1970-01-01 was a Thursday). */
export const isoWeekday = (day: number) => ((((day + 3) % 7) + 7) % 7) + 1;

/** The month (its first day, YYYY-MM-01) that instant `t` falls in, in `timeZone`. */
export function localMonthStart(timeZone: string, t: number): string {
  return `${localDate(timeZone, t).slice(0, -3)}-01`;
}

/** The UTC instant of a local wall-clock time (epoch day + minute of day) in `timeZone`. */
export function localToUtc(timeZone: string, day: number, minuteOfDay: number): number {
  return wallToUtc(timeZone, day * DAY + minuteOfDay * MINUTE);
}

/** What the engine needs: the zone, the hours, and the calendar's special days by YYYY-MM-DD. */
export interface WorkTimeConfig {
  timezone: string;
  hours: WorkingHours;
  calendar: Map<string, CalendarDayKind>;
}

/** The minute-of-day working intervals of a local date under a config (shared by the engine and the references). */
export function dayIntervals(cfg: { hours: ParsedHours; calendar: Map<string, CalendarDayKind> }, day: number): [number, number][] {
  const kind = cfg.calendar.get(dayKey(day));
  const wd = isoWeekday(day);
  if (kind === 'HOLIDAY') return [];
  if (kind === 'WORKDAY') return wd >= 6 ? cfg.hours.week[cfg.hours.movedWorkdayAs] : cfg.hours.week[wd];
  if (kind === 'SHORT') return shorten(cfg.hours.week[wd >= 6 ? cfg.hours.movedWorkdayAs : wd], cfg.hours.shortenedMinutes);
  return cfg.hours.week[wd];
}

const MIN_DAY = Math.floor(Date.UTC(1990, 0, 1) / DAY);
const MAX_DAY = Math.floor(Date.UTC(2200, 0, 1) / DAY);

export class WorkTime {
  readonly timezone: string;
  private readonly hours: ParsedHours;
  private readonly calendar: Map<string, CalendarDayKind>;
  /** First epoch day covered; days [first, first + n). */
  private first = 0;
  private n = 0;
  /** UTC instant of each day's local midnight; n + 1 entries. */
  private dayStart = new Float64Array(0);
  /** Working ms before each day (prefix sums); n + 1 entries. */
  private cum = new Float64Array(0);
  /** Working days before each day; n + 1 entries. */
  private cumDays = new Int32Array(0);
  /** Each day's intervals [ivIndex[i], ivIndex[i + 1]) in ivFrom / ivTo (UTC instants). */
  private ivIndex = new Int32Array(0);
  private ivFrom = new Float64Array(0);
  private ivTo = new Float64Array(0);

  constructor(cfg: WorkTimeConfig, range?: { fromYear: number; toYear: number }) {
    this.timezone = cfg.timezone;
    this.hours = parseWorkingHours(cfg.hours);
    if (!this.hours.week.slice(1).some((d) => d.length)) throw new WorkingHoursError('week', 'нет ни одного рабочего интервала в неделе');
    this.calendar = cfg.calendar;
    const years = [...cfg.calendar.keys()].map((k) => Number(k.slice(0, 4)));
    const now = new Date().getUTCFullYear();
    const fromYear = range?.fromYear ?? Math.min(now - 3, ...years);
    const toYear = range?.toYear ?? Math.max(now + 2, ...years);
    this.build(Math.floor(Date.UTC(fromYear, 0, 1) / DAY), Math.floor(Date.UTC(toYear + 1, 0, 1) / DAY));
  }

  private build(first: number, end: number) {
    first = Math.max(first, MIN_DAY);
    end = Math.min(end, MAX_DAY);
    const n = end - first;
    const dayStart = new Float64Array(n + 1);
    const cum = new Float64Array(n + 1);
    const cumDays = new Int32Array(n + 1);
    const ivIndex = new Int32Array(n + 1);
    const from: number[] = [];
    const to: number[] = [];
    let total = 0;
    let days = 0;
    // Offsets change rarely: compute a day's midnight from the previous day's offset, checking it only when the
    // zone's offset at the next midnight differs (two Intl calls per day would make the build 50× slower).
    let off = zoneOffset(this.timezone, first * DAY);
    for (let i = 0; i <= n; i++) {
      const day = first + i;
      let start = day * DAY - off;
      const o2 = zoneOffset(this.timezone, start);
      if (o2 !== off) { off = o2; start = localToUtc(this.timezone, day, 0); }
      dayStart[i] = start;
      cum[i] = total;
      cumDays[i] = days;
      ivIndex[i] = from.length;
      if (i === n) break;
      const ivs = dayIntervals({ hours: this.hours, calendar: this.calendar }, day);
      if (ivs.length) days++;
      // A zone change inside the day (the offset at its end differs): place the boundaries by the wall clock.
      const steady = ivs.length === 0 || zoneOffset(this.timezone, start + DAY) === off;
      for (const [a, b] of ivs) {
        const ua = steady ? start + a * MINUTE : localToUtc(this.timezone, day, a);
        const ub = steady ? start + b * MINUTE : localToUtc(this.timezone, day, b);
        if (ub > ua) { from.push(ua); to.push(ub); total += ub - ua; }
      }
    }
    this.first = first;
    this.n = n;
    this.dayStart = dayStart;
    this.cum = cum;
    this.cumDays = cumDays;
    this.ivIndex = ivIndex;
    this.ivFrom = Float64Array.from(from);
    this.ivTo = Float64Array.from(to);
  }

  /** Grows the range so that it holds instant t (with a margin of two years). */
  private cover(t: number) {
    if (!Number.isFinite(t)) throw new RangeError(`instant ${t} is not a finite time`);
    if (t >= this.dayStart[0] && t < this.dayStart[this.n]) return;
    const day = Math.floor(t / DAY);
    if (day < MIN_DAY + 1 || day > MAX_DAY - 2) throw new RangeError(`instant ${new Date(t).toISOString()} is outside 1990–2199`);
    this.build(Math.min(this.first, day - 730), Math.max(this.first + this.n, day + 730));
  }

  /** Index of the local day holding instant t (t within the range). */
  private dayIndex(t: number): number {
    let i = Math.floor((t - this.dayStart[0]) / DAY);
    if (i < 0) i = 0;
    if (i >= this.n) i = this.n - 1;
    while (i > 0 && this.dayStart[i] > t) i--;
    while (i < this.n - 1 && this.dayStart[i + 1] <= t) i++;
    return i;
  }

  /** Working ms from the start of the range to instant t. */
  private workAt(t: number, i: number): number {
    let w = this.cum[i];
    for (let k = this.ivIndex[i], e = this.ivIndex[i + 1]; k < e; k++) {
      const a = this.ivFrom[k];
      if (t <= a) break;
      const b = this.ivTo[k];
      w += (t < b ? t : b) - a;
    }
    return w;
  }

  /** Working time elapsed between two instants, in ms (0 when b ≤ a). */
  workingMsBetween(a: number, b: number): number {
    if (!(b > a)) return 0;
    this.cover(a);
    this.cover(b);
    return this.workAt(b, this.dayIndex(b)) - this.workAt(a, this.dayIndex(a));
  }

  /** Whole working minutes between two instants (0 when b ≤ a). */
  workingMinutesBetween(a: number, b: number): number {
    return Math.floor(this.workingMsBetween(a, b) / MINUTE);
  }

  /**
   * The instant at which `minutes` working minutes have passed since t (t itself when minutes ≤ 0).
   * The result is the end of the last working minute counted: 4 working hours from Monday 8:00 is Monday 12:00.
   */
  addWorkingMinutes(t: number, minutes: number): number {
    if (!(minutes > 0)) return t;
    this.cover(t);
    for (;;) {
      const i = this.dayIndex(t);
      const target = this.workAt(t, i) + minutes * MINUTE;
      const cum = this.cum;
      if (cum[this.n] < target) { this.build(this.first, this.first + this.n + Math.max(730, Math.ceil(minutes / 60))); continue; }
      // Smallest day j ≥ i with cum[j + 1] ≥ target.
      let lo = i;
      let hi = this.n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cum[mid + 1] >= target) hi = mid; else lo = mid + 1;
      }
      let rem = target - cum[lo];
      for (let k = this.ivIndex[lo], e = this.ivIndex[lo + 1]; k < e; k++) {
        const len = this.ivTo[k] - this.ivFrom[k];
        if (rem <= len) return this.ivFrom[k] + rem;
        rem -= len;
      }
      return this.ivTo[this.ivIndex[lo + 1] - 1]; // rounding guard (not reached with whole minutes)
    }
  }

  /** The end of working hours of day index j, j moved forward to the first working day on or after it. */
  private endOfWorkingDayFrom(j: number): number {
    for (;;) {
      if (j >= this.n) { this.build(this.first, this.first + this.n + 730); continue; }
      const e = this.ivIndex[j + 1];
      if (e > this.ivIndex[j]) return this.ivTo[e - 1];
      j++;
    }
  }

  /**
   * N working days from instant t: the end of working hours of the N-th working day after t's local date (the count
   * starts the next day, ГК РФ ст. 191; the period ends when the administration's working day ends, ст. 194).
   */
  addWorkingDays(t: number, days: number): number {
    this.cover(t);
    const i = this.dayIndex(t);
    if (!(days > 0)) return this.endOfWorkingDayFrom(i);
    for (;;) {
      const target = this.cumDays[i + 1] + days;
      if (this.cumDays[this.n] < target) { this.build(this.first, this.first + this.n + Math.max(730, days * 2)); continue; }
      let lo = i + 1;
      let hi = this.n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.cumDays[mid + 1] >= target) hi = mid; else lo = mid + 1;
      }
      return this.endOfWorkingDayFrom(lo);
    }
  }

  /**
   * N calendar days from instant t: the end of working hours of the local date N days later, or of the next working
   * day when that date is a day off (ГК РФ ст. 193).
   */
  addCalendarDays(t: number, days: number): number {
    this.cover(t);
    const i = this.dayIndex(t);
    const j = i + Math.max(0, Math.floor(days));
    if (j >= this.n) this.build(this.first, this.first + j + 730);
    return this.endOfWorkingDayFrom(j);
  }

  /** Adds `amount` of `unit` to instant t. Working hours may be fractional (minutes). */
  add(t: number, amount: number, unit: DeadlineUnit): number {
    switch (unit) {
      case 'WORKING_HOURS': return this.addWorkingMinutes(t, Math.round(amount * 60));
      case 'WORKING_DAYS': return this.addWorkingDays(t, amount);
      case 'CALENDAR_DAYS': return this.addCalendarDays(t, amount);
    }
  }

  /** Is the local date a working day (YYYY-MM-DD)? */
  isWorkingDay(date: string): boolean {
    const day = Math.floor(Date.parse(date + 'T00:00:00Z') / DAY);
    return dayIntervals({ hours: this.hours, calendar: this.calendar }, day).length > 0;
  }

  /** Working minutes of a local date. */
  workingMinutesOfDay(date: string): number {
    const day = Math.floor(Date.parse(date + 'T00:00:00Z') / DAY);
    return dayIntervals({ hours: this.hours, calendar: this.calendar }, day).reduce((s, [a, b]) => s + b - a, 0);
  }

  get parsedHours(): ParsedHours { return this.hours; }
  get specialDays(): Map<string, CalendarDayKind> { return this.calendar; }
}

/** Calendar days between two instants (fractional). */
export const calendarDaysBetween = (a: number, b: number) => (b - a) / DAY;
