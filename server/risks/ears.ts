import { mean, qnorm, sd } from './stats.js';

/**
 * CDC's Early Aberration Reporting System methods C1, C2, C3, as R's surveillance::earsC.
 * C1: the baseline is the `baseline` (7) days just before day t; bound = mean + z(1−α)·max(sd, minSigma).
 * C2: the same with a guard band of two days (days t−9…t−3).
 * C3: R's formulation: bound_t = y_t + max(sd_t, minSigma)·(z − (max(0, C2_{t−1} − 1) + max(0, C2_{t−2} − 1))), at least 0,
 *     where C2_s = (y_s − mean_s)/max(sd_s, minSigma) — an alarm when the two previous days' excesses add up beyond z.
 * An alarm when the count is above the bound. A bound R leaves undefined (sd 0 with minSigma 0 in C3) is null, no alarm.
 */
export type EarsMethod = 'C1' | 'C2' | 'C3';

export interface EarsOptions {
  method: EarsMethod; baseline: number; minSigma: number; alpha: number;
  /** Not in R: σ is at least √(baseline mean) — the spread a Poisson count of that mean has at the least. A 7-day
   *  sample standard deviation often comes out far below it by chance, and the bound with it (false alarms). */
  poissonSigma?: boolean;
}

export interface EarsPoint { index: number; observed: number; expected: number | null; upperbound: number | null; alarm: boolean }

export const EARS_DEFAULTS: Record<EarsMethod, EarsOptions> = {
  C1: { method: 'C1', baseline: 7, minSigma: 0, alpha: 0.001 },
  C2: { method: 'C2', baseline: 7, minSigma: 0, alpha: 0.001 },
  C3: { method: 'C3', baseline: 7, minSigma: 0, alpha: 0.025 },
};

/** The first 0-based index the method can evaluate. */
export function earsFirstIndex(method: EarsMethod, baseline: number): number {
  return method === 'C1' ? baseline : method === 'C2' ? baseline + 2 : baseline + 4;
}

function ref(y: number[], t: number, lagFrom: number, baseline: number): number[] {
  // days t − lagFrom − baseline + 1 … t − lagFrom
  return y.slice(t - lagFrom - baseline + 1, t - lagFrom + 1);
}

export function earsC(observed: number[], options: Partial<EarsOptions> & { method: EarsMethod }, range?: number[]): EarsPoint[] {
  const o: EarsOptions = { ...EARS_DEFAULTS[options.method], ...options };
  if (o.baseline < 3) throw new Error('EARS: базовый период не короче 3 дней');
  if (o.minSigma < 0) throw new Error('EARS: minSigma не может быть отрицательным');
  const first = earsFirstIndex(o.method, o.baseline);
  const idx = range ?? Array.from({ length: Math.max(0, observed.length - first) }, (_, i) => first + i);
  const z = qnorm(1 - o.alpha);
  const sigma = (r: number[]) => Math.max(sd(r), o.minSigma, o.poissonSigma ? Math.sqrt(Math.max(0, mean(r))) : 0);
  const c2stat = (t: number) => {
    const r = ref(observed, t, 3, o.baseline);
    return (observed[t] - mean(r)) / sigma(r);
  };
  return idx.map((t) => {
    if (t < first || t >= observed.length) throw new Error(`EARS ${o.method}: день ${t + 1} вне ряда или без ${first} дней истории`);
    const y = observed[t];
    let upper: number;
    let expected: number;
    if (o.method === 'C1' || o.method === 'C2') {
      const r = ref(observed, t, o.method === 'C1' ? 1 : 3, o.baseline);
      expected = mean(r);
      upper = expected + z * sigma(r);
    } else {
      const r = ref(observed, t, 3, o.baseline);
      expected = mean(r);
      const lag2 = Math.max(0, c2stat(t - 2) - 1);
      const lag1 = Math.max(0, c2stat(t - 1) - 1);
      upper = Math.max(0, y + sigma(r) * (z - (lag2 + lag1)));
      if (Number.isNaN(lag1) || Number.isNaN(lag2) || Number.isNaN(upper)) upper = NaN;
    }
    const ok = Number.isFinite(upper);
    return { index: t, observed: y, expected, upperbound: ok ? upper : null, alarm: ok && y > upper };
  });
}
