import { earsC, earsFirstIndex, type EarsMethod } from './ears.js';
import { farringtonFlexible, farringtonFirstIndex, FARRINGTON_NOUFAILY, type FarringtonOptions } from './farrington.js';

/**
 * Detection over in-memory count series (no database here: server/risks/service.ts counts the series in SQL,
 * the benchmark and the planted-spike evaluation feed generated ones).
 */
export interface RiskSettings {
  /** EARS method for daily series. */
  earsMethod: EarsMethod;
  earsAlpha: number;
  earsBaseline: number;
  /** Floor of the standard deviation (in weekday-adjusted counts): a quiet series needs a real jump to alarm. */
  earsMinSigma: number;
  /** σ at least √(baseline mean), the Poisson spread of the expected count (see ears.ts). */
  earsPoissonSigma: boolean;
  /** An alarm needs at least this many appeals that day. */
  minCount: number;
  /** Adjust daily counts by the municipality's weekday factors before EARS (bound scaled back). */
  weekdayAdjust: boolean;
  /** Adjust daily counts of theme series by the theme's calendar-month factors of the past year (needs a year + 4 weeks of history). */
  seasonAdjust: boolean;
  /** Days evaluated by a full run (the last days up to the latest appeal). */
  windowDays: number;
  /** Days of history shown on a card's chart. */
  chartDays: number;
  farrington: FarringtonOptions;
  /** Fewest past years for the weekly seasonal baseline; with less history only EARS runs (and the run says so). */
  farringtonMinYears: number;
  /** Weeks evaluated by a full run (complete weeks). */
  windowWeeks: number;
  /** «Резонанс» rules. */
  authorsMin: number; authorsRatio: number;
  crossChannelMin: number; crossChannelAppeals: number; crossChannelDays: number;
  escalationMin: number; escalationDays: number;
  publicOverdueMin: number;
}

export const DEFAULT_SETTINGS: RiskSettings = {
  earsMethod: 'C2', earsAlpha: 0.001, earsBaseline: 7, earsMinSigma: 1, earsPoissonSigma: true, minCount: 4, weekdayAdjust: true, seasonAdjust: false,
  windowDays: 14, chartDays: 56,
  farrington: { ...FARRINGTON_NOUFAILY, alpha: 0.01 }, farringtonMinYears: 2, windowWeeks: 4,
  authorsMin: 8, authorsRatio: 3,
  crossChannelMin: 3, crossChannelAppeals: 5, crossChannelDays: 3,
  escalationMin: 2, escalationDays: 7,
  publicOverdueMin: 3,
};

export interface SeriesPoint { i: number; y: number; e: number | null; u: number | null; a: boolean }

/**
 * Weekday factors from a municipality-wide daily total: mean count of each weekday / overall mean, over the
 * `span` days before `end` (exclusive). dow(i) gives the weekday (0 = Monday) of index i. Factors are kept within
 * [0.25, 4]; without data every factor is 1.
 */
export function weekdayFactors(total: ArrayLike<number>, dow: (i: number) => number, end: number, span = 56): number[] {
  const sum = new Array<number>(7).fill(0);
  const cnt = new Array<number>(7).fill(0);
  for (let i = Math.max(0, end - span); i < end; i++) { sum[dow(i)] += total[i]; cnt[dow(i)]++; }
  const all = sum.reduce((a, b) => a + b, 0) / Math.max(1, cnt.reduce((a, b) => a + b, 0));
  if (!(all > 0)) return new Array<number>(7).fill(1);
  return sum.map((s, d) => (cnt[d] ? Math.min(4, Math.max(0.25, s / cnt[d] / all)) : 1));
}

/**
 * Calendar-month factors of a theme from its city-wide daily total over the `span` days before `end` (exclusive):
 * mean count per day of each calendar month / mean count per day of the whole span (the trend cancels: both are from
 * the same window). A month with fewer than `minMonth` appeals in the window, or a window shorter than `span`, gives 1.
 * monthOf(i) gives the calendar month (0–11) of index i. Factors kept within [0.25, 4].
 */
export function monthFactors(total: ArrayLike<number>, monthOf: (i: number) => number, end: number, span = 365, minMonth = 20): number[] {
  const out = new Array<number>(12).fill(1);
  if (end - span < 0) return out;
  const sum = new Array<number>(12).fill(0);
  const cnt = new Array<number>(12).fill(0);
  let all = 0;
  for (let i = end - span; i < end; i++) { const m = monthOf(i); sum[m] += total[i]; cnt[m]++; all += total[i]; }
  const mean = all / span;
  if (!(mean > 0)) return out;
  for (let m = 0; m < 12; m++) if (cnt[m] && sum[m] >= minMonth) out[m] = Math.min(4, Math.max(0.25, sum[m] / cnt[m] / mean));
  return out;
}

/**
 * EARS on a daily series at the indices `at`, weekday-adjusted: y'_t = y_t / f(weekday t); the method runs on y',
 * the expected count and the bound are scaled back by f. Indices without enough history are skipped.
 */
export function detectDaily(y: ArrayLike<number>, at: number[], s: RiskSettings, factor: (i: number) => number): SeriesPoint[] {
  const first = earsFirstIndex(s.earsMethod, s.earsBaseline);
  const idx = at.filter((i) => i >= first && i < y.length);
  if (!idx.length) return [];
  const adj = Array.from(y, (v, i) => (s.weekdayAdjust ? v / factor(i) : v));
  const res = earsC(adj, { method: s.earsMethod, alpha: s.earsAlpha, baseline: s.earsBaseline, minSigma: s.earsMinSigma, poissonSigma: s.earsPoissonSigma }, idx);
  return res.map((p) => {
    const f = s.weekdayAdjust ? factor(p.index) : 1;
    const u = p.upperbound == null ? null : p.upperbound * f;
    const e = p.expected == null ? null : p.expected * f;
    const obs = y[p.index];
    return { i: p.index, y: obs, e, u, a: u != null && obs > u + 1e-9 && obs >= s.minCount };
  });
}

/** Past years usable for week index k (0-based), or 0 when fewer than farringtonMinYears. */
export function farringtonYears(k: number, s: RiskSettings): number {
  const b = Math.min(s.farrington.b, Math.floor((k - s.farrington.w) / s.farrington.freq));
  return b >= s.farringtonMinYears ? b : 0;
}

/** Farrington–Noufaily on a weekly series at the indices `at` (skipped where history is too short). */
export function detectWeekly(y: number[], at: number[], s: RiskSettings): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (const k of at) {
    const b = farringtonYears(k, s);
    if (!b || k >= y.length || k < farringtonFirstIndex({ ...s.farrington, b })) continue;
    const [p] = farringtonFlexible(y, { ...s.farrington, b, pastWeeksNotIncluded: Math.min(s.farrington.pastWeeksNotIncluded, 26) }, [k]);
    out.push({ i: k, y: p.observed, e: p.expected, u: p.upperbound, a: p.alarm });
  }
  return out;
}

export interface Episode { from: number; to: number; peak: SeriesPoint; points: SeriesPoint[] }

/** Consecutive alarms (a gap of up to `gap` quiet points joins them) as episodes with their peak (largest y/u). */
export function episodes(points: SeriesPoint[], gap: number): Episode[] {
  const out: Episode[] = [];
  let cur: Episode | null = null;
  for (const p of points) {
    if (!p.a) continue;
    if (cur && p.i - cur.to <= gap + 1) { cur.to = p.i; cur.points.push(p); }
    else { cur = { from: p.i, to: p.i, peak: p, points: [p] }; out.push(cur); }
    const ratio = (q: SeriesPoint) => q.y / Math.max(q.u ?? 1, 1e-9);
    if (ratio(p) > ratio(cur.peak)) cur.peak = p;
  }
  return out;
}
