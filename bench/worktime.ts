import { median, mulberry32, type SummaryRow } from './lib.js';
import { WorkTime, DEFAULT_WORKING_HOURS, MINUTE, type WorkTimeConfig } from '../server/worktime/worktime.js';
import { ReferenceWorkTime } from '../server/worktime/reference.js';
import { bundledCalendars, calendarMap } from '../server/worktime/bundled.js';

/**
 * Working-time arithmetic in JS: additions of N working minutes to random instants of 2024–2026 (N from 1 minute to
 * 7 working days, as the deadline rules use), per second. Baseline: a straightforward day-walking implementation
 * (each day's intervals from the calendar, no precomputation; server/worktime/reference.ts). Target ≥ 1 000 000/s.
 */
export function benchWorktime(n: number): SummaryRow[] {
  const cfg: WorkTimeConfig = { timezone: 'Asia/Barnaul', hours: DEFAULT_WORKING_HOURS, calendar: calendarMap(bundledCalendars()) };
  const wt = new WorkTime(cfg);
  const ref = new ReferenceWorkTime(cfg);
  const rnd = mulberry32(7);
  const from = Date.parse('2024-01-01T00:00:00Z');
  const span = Date.parse('2026-12-01T00:00:00Z') - from;
  const ts = Float64Array.from({ length: n }, () => from + Math.floor((rnd() * span) / MINUTE) * MINUTE);
  const ms = Int32Array.from({ length: n }, () => 1 + Math.floor(rnd() * 3360));
  const rate = (f: () => number, count: number) => {
    const t0 = performance.now();
    f();
    return count / ((performance.now() - t0) / 1000);
  };
  const ours: number[] = [];
  const base: number[] = [];
  const baseN = Math.min(n, 20_000);
  let sink = 0;
  for (let r = 0; r < 7; r++) {
    ours.push(rate(() => { for (let i = 0; i < n; i++) sink += wt.addWorkingMinutes(ts[i], ms[i]); return sink; }, n));
    base.push(rate(() => { for (let i = 0; i < baseN; i++) sink += ref.addWorkingMinutesDayWalk(ts[i], ms[i]); return sink; }, baseN));
  }
  const between: number[] = [];
  for (let r = 0; r < 7; r++) between.push(rate(() => { for (let i = 1; i < n; i++) sink += wt.workingMinutesBetween(ts[i - 1], ts[i - 1] + ms[i] * 137); return sink; }, n - 1));
  if (sink === 42) console.log(''); // keep the loops
  const date = new Date().toISOString().slice(0, 10);
  const o = median(ours);
  const b = median(base);
  return [{
    name: 'worktime: additions of working minutes per second (JS)', backend: 'embedded', n, ours: o, baseline: b, ratio: o / b,
    unit: 'additions/s', target: '≥ 1000000 /s', date,
    notes: `baseline: day-walking without precomputation; workingMinutesBetween ${Math.round(median(between)).toLocaleString('en-US')}/s`,
  }];
}
