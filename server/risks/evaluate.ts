import { generateDemoAppeals, LOCAL_OFFSET_MS } from '../demo/generator.js';
import { readReference } from '../reference/files.js';
import { DEFAULT_SETTINGS, detectDaily, detectWeekly, monthFactors, weekdayFactors, type RiskSettings } from './detect.js';
import { mulberry32 } from '../util/random.js';

/**
 * Planted-spike evaluation on ordinary demo history (server/demo): counts of appeals per district × theme and
 * day (weeks for the seasonal method), spikes of known size added at a known place and day, detection run as in
 * production. Reports the detection rate by size, the delay in days (weeks), and false alarms per month on the
 * history with nothing planted.
 */
export interface EvalOptions { count: number; seed?: number; years?: number; trials?: number; sizes?: number[]; settings?: Partial<RiskSettings>; weekly?: boolean }
export interface SizeResult { size: number; trials: number; detected: number; rate: number; meanDelay: number | null; maxDelay: number | null }
export interface EvalResult {
  granularity: 'DAY' | 'WEEK';
  method: string;
  series: number;
  evaluatedPoints: number;
  months: number;
  /** Alarms on history with nothing planted, per month over all district × theme series, and per series and month. */
  falseAlarmsPerMonth: number;
  falseAlarmsPerSeriesMonth: number;
  bySize: SizeResult[];
  appeals: number;
}

interface DistrictFeature { properties: { code: string }; geometry: { type: string; coordinates: number[][][][] } }

function inRing(x: number, y: number, ring: number[][]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]; const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** District index of a point (first polygon containing it), −1 outside. */
export function districtLocator(municipality = 'rubtsovsk'): (lon: number, lat: number) => number {
  const fc = readReference<{ features: DistrictFeature[] }>(municipality, 'districts.geojson');
  const polys = fc.features.map((f) => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates as unknown as number[][][]] : f.geometry.coordinates));
  return (lon, lat) => polys.findIndex((mp) => mp.some((poly) => inRing(lon, lat, poly[0]) && !poly.slice(1).some((h) => inRing(lon, lat, h))));
}

export interface DemoSeries { days: number; start: string; keys: string[]; series: Float64Array[]; total: Float64Array; appeals: number }

/** Daily counts per district × theme of a generated demo history. */
export function demoDailySeries(count: number, seed: number, years: number): DemoSeries {
  const to = new Date(Date.UTC(2026, 10, 28) - LOCAL_OFFSET_MS);
  const from = new Date(to.getTime() - Math.round(years * 365) * 86_400_000);
  const start = new Date(from.getTime() + LOCAL_OFFSET_MS).toISOString().slice(0, 10);
  const days = Math.round((to.getTime() - from.getTime()) / 86_400_000);
  const locate = districtLocator();
  const map = new Map<string, Float64Array>();
  const total = new Float64Array(days);
  let appeals = 0;
  for (const a of generateDemoAppeals({ count, seed, from, to })) {
    const d = Math.floor((a.receivedAt.getTime() - from.getTime()) / 86_400_000);
    if (d < 0 || d >= days) continue;
    appeals++;
    total[d]++;
    if (a.lon == null || a.lat == null) continue;
    const di = locate(a.lon, a.lat);
    if (di < 0) continue;
    const key = `${di}:${a.themeCode}`;
    let s = map.get(key);
    if (!s) { s = new Float64Array(days); map.set(key, s); }
    s[d]++;
  }
  const keys = [...map.keys()].sort();
  return { days, start, keys, series: keys.map((k) => map.get(k)!), total, appeals };
}

const weekdayOf = (start: string, i: number) => (new Date(Date.parse(`${start}T00:00:00Z`) + i * 86_400_000).getUTCDay() + 6) % 7;

/** EARS (daily) evaluation over the last `evalDays` days of the demo history. */
export function evaluateDaily(data: DemoSeries, opts: { trials?: number; sizes?: number[]; seed?: number; settings?: Partial<RiskSettings>; evalDays?: number } = {}): EvalResult {
  const s: RiskSettings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const evalDays = Math.min(opts.evalDays ?? 365, data.days - 70);
  const at = Array.from({ length: evalDays }, (_, k) => data.days - evalDays + k);
  // weekday factors as in production: from the city-wide total of the 8 weeks before the day
  const factorCache = new Map<number, number[]>();
  const factor = (i: number) => {
    const block = Math.floor(i / 7);
    let f = factorCache.get(block);
    if (!f) { f = weekdayFactors(data.total, (j) => weekdayOf(data.start, j), block * 7); factorCache.set(block, f); }
    return f[weekdayOf(data.start, i)];
  };
  // calendar-month factors per theme (city-wide), from the 365 days ending 28 days before the day's week
  const themeOf = data.keys.map((k) => k.slice(k.indexOf(':') + 1));
  const themeTotals = new Map<string, Float64Array>();
  data.series.forEach((y, si) => {
    let t = themeTotals.get(themeOf[si]);
    if (!t) { t = new Float64Array(data.days); themeTotals.set(themeOf[si], t); }
    for (let d = 0; d < data.days; d++) t[d] += y[d];
  });
  const monthOf = (i: number) => new Date(Date.parse(`${data.start}T00:00:00Z`) + i * 86_400_000).getUTCMonth();
  const seasonCache = new Map<string, number[]>();
  const season = (theme: string, i: number) => {
    const block = Math.floor(i / 7);
    const key = `${theme}:${block}`;
    let f = seasonCache.get(key);
    if (!f) { f = monthFactors(themeTotals.get(theme)!, monthOf, block * 7 - 28); seasonCache.set(key, f); }
    return f[monthOf(i)];
  };
  const factorOf = (si: number) => (s.seasonAdjust ? (i: number) => factor(i) * season(themeOf[si], i) : factor);
  let falseAlarms = 0;
  data.series.forEach((y, si) => { falseAlarms += detectDaily(y, at, s, factorOf(si)).filter((p) => p.a).length; });
  const months = evalDays / 30.44;
  const rnd = mulberry32(opts.seed ?? 7);
  const sizes = opts.sizes ?? [3, 5, 8, 12, 20];
  const trials = opts.trials ?? 100;
  const bySize: SizeResult[] = [];
  for (const size of sizes) {
    let detected = 0;
    const delays: number[] = [];
    for (let t = 0; t < trials; t++) {
      const si = Math.floor(rnd() * data.series.length);
      const day = at[Math.floor(rnd() * (at.length - 7))];
      const y = Float64Array.from(data.series[si]);
      y[day] += size;
      const pts = detectDaily(y, Array.from({ length: 7 }, (_, k) => day + k), s, factorOf(si));
      const hit = pts.find((p) => p.a);
      if (hit) { detected++; delays.push(hit.i - day); }
    }
    bySize.push({ size, trials, detected, rate: detected / trials, meanDelay: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : null, maxDelay: delays.length ? Math.max(...delays) : null });
  }
  return {
    granularity: 'DAY', method: `EARS_${s.earsMethod}`, series: data.series.length, evaluatedPoints: evalDays * data.series.length, months,
    falseAlarmsPerMonth: falseAlarms / months, falseAlarmsPerSeriesMonth: falseAlarms / months / data.series.length, bySize, appeals: data.appeals,
  };
}

/** Farrington–Noufaily (weekly) evaluation over the last `evalWeeks` weeks; needs ≥ 2 years + 4 weeks of history. */
export function evaluateWeekly(data: DemoSeries, opts: { trials?: number; sizes?: number[]; seed?: number; settings?: Partial<RiskSettings>; evalWeeks?: number; minMean?: number } = {}): EvalResult {
  const s: RiskSettings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const nWeeks = Math.floor(data.days / 7);
  const toWeeks = (y: Float64Array) => Array.from({ length: nWeeks }, (_, w) => { let n = 0; for (let d = w * 7; d < w * 7 + 7; d++) n += y[d]; return n; });
  const weekly = data.series.map(toWeeks).filter((y) => y.reduce((a, b) => a + b, 0) / y.length >= (opts.minMean ?? 0));
  const evalWeeks = opts.evalWeeks ?? 26;
  const at = Array.from({ length: evalWeeks }, (_, k) => nWeeks - evalWeeks + k);
  let falseAlarms = 0;
  for (const y of weekly) falseAlarms += detectWeekly(y, at, s).filter((p) => p.a).length;
  const months = (evalWeeks * 7) / 30.44;
  const rnd = mulberry32(opts.seed ?? 9);
  const sizes = opts.sizes ?? [5, 10, 20];
  const trials = opts.trials ?? 30;
  const bySize: SizeResult[] = [];
  for (const size of sizes) {
    let detected = 0;
    const delays: number[] = [];
    for (let t = 0; t < trials; t++) {
      const y = weekly[Math.floor(rnd() * weekly.length)].slice();
      const w = at[Math.floor(rnd() * (at.length - 1))];
      y[w] += size;
      const hit = detectWeekly(y, [w, w + 1], s).find((p) => p.a);
      if (hit) { detected++; delays.push((hit.i - w) * 7); }
    }
    bySize.push({ size, trials, detected, rate: detected / trials, meanDelay: delays.length ? delays.reduce((a, b) => a + b, 0) / delays.length : null, maxDelay: delays.length ? Math.max(...delays) : null });
  }
  return {
    granularity: 'WEEK', method: 'FARRINGTON_NOUFAILY', series: weekly.length, evaluatedPoints: evalWeeks * weekly.length, months,
    falseAlarmsPerMonth: falseAlarms / months, falseAlarmsPerSeriesMonth: falseAlarms / months / Math.max(1, weekly.length), bySize, appeals: data.appeals,
  };
}
