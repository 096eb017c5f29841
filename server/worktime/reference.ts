import type { CalendarDayKind } from './calendar.js';
import { DAY, MINUTE, dayIntervals, parseWorkingHours, type ParsedHours, type WorkTimeConfig } from './worktime.js';
import { zoneOffset } from '../util/timezone.js';

/**
 * Slow, obviously-correct implementations of working-time arithmetic, for the property tests (minute by minute)
 * and as the benchmark's baseline (day by day, without precomputation). Not used by the application.
 */
export class ReferenceWorkTime {
  private readonly hours: ParsedHours;
  private readonly calendar: Map<string, CalendarDayKind>;
  private readonly offsets = new Map<number, number>();
  constructor(private readonly cfg: WorkTimeConfig) {
    this.hours = parseWorkingHours(cfg.hours);
    this.calendar = cfg.calendar;
  }

  /** Offset at instant t, cached per UTC hour (zone changes happen on whole hours). */
  private offset(t: number): number {
    const h = Math.floor(t / 3_600_000);
    let o = this.offsets.get(h);
    if (o === undefined) { o = zoneOffset(this.cfg.timezone, h * 3_600_000); this.offsets.set(h, o); }
    return o;
  }

  /** Local epoch day and minute of day of instant t. */
  local(t: number): { day: number; minute: number } {
    const wall = t + this.offset(t);
    const day = Math.floor(wall / DAY);
    return { day, minute: Math.floor((wall - day * DAY) / MINUTE) };
  }

  private intervals(day: number) { return dayIntervals({ hours: this.hours, calendar: this.calendar }, day); }

  /** Is the minute starting at instant t (whole minute) working time? */
  isWorkingMinute(t: number): boolean {
    const { day, minute } = this.local(t);
    return this.intervals(day).some(([a, b]) => minute >= a && minute < b);
  }

  /** Brute force: walk minute by minute (t on a whole minute). */
  addWorkingMinutes(t: number, minutes: number): number {
    let m = t;
    let count = 0;
    while (count < minutes) {
      if (this.isWorkingMinute(m)) count++;
      m += MINUTE;
    }
    return m;
  }

  /** Brute force: count working minutes in [a, b) (both on whole minutes). */
  workingMinutesBetween(a: number, b: number): number {
    let n = 0;
    for (let m = a; m < b; m += MINUTE) if (this.isWorkingMinute(m)) n++;
    return n;
  }

  /** End of the working hours of local day `day` (or of the next working day). */
  private endOfWorkingDayFrom(day: number): number {
    for (;; day++) {
      const ivs = this.intervals(day);
      if (ivs.length) {
        const end = ivs[ivs.length - 1][1];
        const wall = day * DAY + end * MINUTE;
        return wall - this.offset(wall - this.offset(wall));
      }
    }
  }

  addWorkingDays(t: number, days: number): number {
    let day = this.local(t).day;
    if (days <= 0) return this.endOfWorkingDayFrom(day);
    let left = days;
    for (;;) {
      day++;
      if (this.intervals(day).length && --left === 0) return this.endOfWorkingDayFrom(day);
    }
  }

  addCalendarDays(t: number, days: number): number {
    return this.endOfWorkingDayFrom(this.local(t).day + Math.max(0, Math.floor(days)));
  }

  /**
   * The benchmark's baseline: a straightforward day-walking addition (what one writes without precomputation):
   * from t's local day, take each day's intervals from the calendar and subtract until the minutes run out.
   */
  addWorkingMinutesDayWalk(t: number, minutes: number): number {
    let left = minutes * MINUTE;
    if (left <= 0) return t;
    let { day } = this.local(t);
    let cursor = t;
    for (;;) {
      const midnight = day * DAY - this.offset(day * DAY);
      for (const [a, b] of this.intervals(day)) {
        const from = Math.max(midnight + a * MINUTE, cursor);
        const to = midnight + b * MINUTE;
        if (to <= from) continue;
        if (to - from >= left) return from + left;
        left -= to - from;
      }
      day++;
      cursor = -Infinity;
    }
  }
}
