import { glmPoisson, predictLink, type GlmFit } from './glm.js';
import { pt, qnbinom, qnorm, qpois } from './stats.js';

/**
 * The Farrington method with Noufaily's improvements, as R's surveillance::farringtonFlexible over a series
 * indexed by position (no dates: week k's reference weeks are k − 52·i, i = 1…b).
 *
 * For week k: the baseline is the counts of the windows k − 52·i ± w (i = 1…b) and, with noPeriods > 1,
 * also every week between those windows, split into noPeriods − 1 seasonal blocks (a factor in the model),
 * never the last `pastWeeksNotIncluded` weeks before k. A quasi-Poisson log-linear model (with a time trend
 * that is kept only if b ≥ 3, significant at pThresholdTrend and not extrapolating beyond the largest count)
 * is fitted; past outbreaks are down-weighted by Anscombe residuals above weightsThreshold and the model refitted.
 * The upper bound is Farrington's 2/3-power transformed normal bound ("delta") or Noufaily's negative binomial
 * quantile ("nbPlugin", "muan"). An alarm: enough cases (limit54: ≥ 5 in the last 4 weeks), the count is
 * above the bound and not zero.
 */
export interface FarringtonOptions {
  b: number;
  w: number;
  reweight: boolean;
  weightsThreshold: number;
  alpha: number;
  trend: boolean;
  pThresholdTrend: number;
  limit54: [number, number];
  powertrans: '2/3' | '1/2' | 'none';
  noPeriods: number;
  pastWeeksNotIncluded: number;
  thresholdMethod: 'delta' | 'nbPlugin' | 'muan';
  freq: number;
}

/** R's defaults of farringtonFlexible (the original Farrington). */
export const FARRINGTON_ORIGINAL: FarringtonOptions = {
  b: 5, w: 3, reweight: true, weightsThreshold: 1, alpha: 0.05, trend: true, pThresholdTrend: 0.05, limit54: [5, 4],
  powertrans: '2/3', noPeriods: 1, pastWeeksNotIncluded: 3, thresholdMethod: 'delta', freq: 52,
};

/** Noufaily et al. (2013)'s recommended improved method. */
export const FARRINGTON_NOUFAILY: FarringtonOptions = {
  b: 3, w: 3, reweight: true, weightsThreshold: 2.58, alpha: 0.05, trend: true, pThresholdTrend: 0.05, limit54: [5, 4],
  powertrans: '2/3', noPeriods: 10, pastWeeksNotIncluded: 26, thresholdMethod: 'muan', freq: 52,
};

export interface FarringtonPoint {
  /** Index in the series (0-based). */
  index: number;
  observed: number;
  /** Expected count (null without enough cases or without a model). */
  expected: number | null;
  upperbound: number | null;
  alarm: boolean;
  /** The model kept the time trend. */
  trend: boolean;
  phi: number | null;
}

/** First 0-based index farringtonFlexible can evaluate with these options. */
export function farringtonFirstIndex(o: Pick<FarringtonOptions, 'b' | 'w' | 'freq'>): number {
  return o.freq * o.b + o.w; // R: freq·b + w + 1, 1-based
}

/** The block factor of every position for week k (1-based positions as in R; NaN = not in the baseline). */
function blocks(k: number, n: number, o: FarringtonOptions): number[] {
  const f = new Array<number>(n + 1).fill(NaN); // index 1..n
  const p = o.noPeriods;
  const set = (from: number, to: number, v: number) => { for (let i = from; i <= to; i++) if (i >= 1 && i <= n) f[i] = v; };
  set(k - o.w, k, p);
  const refs = Array.from({ length: o.b + 1 }, (_, i) => k - o.freq * i); // descending: k, k−52, …
  for (let i = 1; i <= o.b; i++) {
    const refWeek = refs[i];
    set(refWeek - o.w, refWeek + o.w, p);
    if (p !== 1) {
      const period = refs[i - 1] - 2 * o.w - 1 - refWeek;
      if (period < p - (2 * o.w + 1)) throw new Error('Number of factors too big');
      const len = Math.floor(period / (p - 1));
      const rest = period % (p - 1);
      const lengths = Array.from({ length: p - 1 }, (_, j) => len + (j < rest ? 1 : 0));
      let start = refWeek + o.w + 1;
      for (let j = 1; j <= p - 1; j++) { set(start, start + lengths[j - 1] - 1, j); start += lengths[j - 1]; }
    }
  }
  return f;
}

interface Data { y: number[]; wtime: number[]; groups: number[] }

function design(d: Data, withTrend: boolean, levels: number[]): number[][] {
  return d.y.map((_, i) => {
    const row = [1];
    if (withTrend) row.push(d.wtime[i]);
    for (let l = 1; l < levels.length; l++) row.push(d.groups[i] === levels[l] ? 1 : 0);
    return row;
  });
}

function anscombe(y: number[], fit: GlmFit, phi: number): number[] {
  return y.map((v, i) => {
    const mu = fit.mu[i];
    return (1.5 * (v ** (2 / 3) * mu ** (-1 / 6) - Math.sqrt(mu))) / Math.sqrt(phi * (1 - fit.hat[i]));
  });
}

function assignWeights(s: number[], threshold: number): number[] {
  let denom = 0;
  for (const v of s) denom += v > threshold ? v ** -2 : 1;
  const gamma = s.length / denom;
  return s.map((v) => (v > threshold ? gamma * v ** -2 : gamma));
}

interface Model {
  fit: GlmFit; phi: number; withTrend: boolean;
  /** The dispersion summary.glm and predict.glm see afterwards: R's fitGLM.flexible overwrites the model's working
   *  weights with the Anscombe weights omega, so it is sum(omega·((y − mu)/mu)²)/(n − p), not the Pearson statistic. */
  inferenceDispersion: number;
}

/** algo.farrington.fitGLM.flexible: fit, on non-convergence retry without trend, then reweight. */
function fitFlexible(d: Data, withTrend: boolean, factors: boolean, o: FarringtonOptions, levels: number[]): Model | null {
  const lv = factors ? levels : [levels[0]];
  let trend = withTrend;
  let x = design(d, trend, lv);
  let fit = glmPoisson(x, d.y);
  if (!fit.converged) {
    if (trend) { trend = false; x = design(d, trend, lv); fit = glmPoisson(x, d.y); }
    if (!fit.converged) return null;
  }
  let phi = Math.max(fit.dispersion, 1);
  let inferenceDispersion = fit.dispersion;
  if (o.reweight) {
    const omega = assignWeights(anscombe(d.y, fit, phi), o.weightsThreshold);
    fit = glmPoisson(x, d.y, omega);
    phi = Math.max(fit.dispersion, 1);
    let s = 0;
    for (let i = 0; i < d.y.length; i++) if (omega[i] > 0) s += omega[i] * ((d.y[i] - fit.mu[i]) / fit.mu[i]) ** 2;
    inferenceDispersion = s / fit.dfResidual;
  }
  return { fit, phi, withTrend: trend, inferenceDispersion };
}

function newRow(k: number, withTrend: boolean, factors: boolean, levels: number[], p: number): number[] {
  const row = [1];
  if (withTrend) row.push(k);
  if (factors) for (let l = 1; l < levels.length; l++) row.push(levels[l] === p ? 1 : 0);
  return row;
}

/**
 * Runs the method over `observed` for the 0-based indices in `range` (default: every index from the first
 * evaluable one). Throws when the series is too short for the reference weeks.
 */
export function farringtonFlexible(observed: number[], options: Partial<FarringtonOptions> = {}, range?: number[]): FarringtonPoint[] {
  const o: FarringtonOptions = { ...FARRINGTON_ORIGINAL, ...options };
  const n = observed.length;
  const first = farringtonFirstIndex(o);
  const idx = range ?? Array.from({ length: Math.max(0, n - first) }, (_, i) => first + i);
  const factors = o.noPeriods !== 1;
  const out: FarringtonPoint[] = [];
  for (const k0 of idx) {
    if (k0 < first || k0 >= n) throw new Error(`Farrington: неделя ${k0 + 1} вне ряда или без ${o.b} лет истории (нужно не меньше ${first + 1} недель)`);
    const k = k0 + 1; // 1-based as in R
    const f = blocks(k, n, o);
    for (let i = k - o.pastWeeksNotIncluded; i <= k; i++) if (i >= 1) f[i] = NaN;
    const d: Data = { y: [], wtime: [], groups: [] };
    for (let i = 1; i <= n; i++) if (!Number.isNaN(f[i])) { d.y.push(observed[i - 1]); d.wtime.push(i); d.groups.push(f[i]); }
    const levels = [...new Set(d.groups)].sort((a, b) => a - b);
    const point: FarringtonPoint = { index: k0, observed: observed[k0], expected: null, upperbound: null, alarm: false, trend: false, phi: null };
    let model = fitFlexible(d, o.trend, factors, o, levels);
    if (!model) { out.push(point); continue; }
    let doTrend = false;
    if (model.withTrend) {
      const row = newRow(k, true, factors, levels, o.noPeriods);
      const pr = predictLink(model.fit, row);
      const fitResp = Math.exp(pr.eta);
      const ti = 1; // wtime column
      const se = Math.sqrt(model.inferenceDispersion * model.fit.covUnscaled[ti][ti]);
      const tval = model.fit.beta[ti] / se;
      const pval = 2 * pt(-Math.abs(tval), model.fit.dfResidual);
      const significant = pval < o.pThresholdTrend;
      doTrend = o.b >= 3 && significant && fitResp <= Math.max(...d.y);
      if (!doTrend) {
        model = fitFlexible(d, false, factors, o, levels);
        if (!model) { out.push(point); continue; }
      }
    }
    const row = newRow(k, model.withTrend, factors, levels, o.noPeriods);
    const pr = predictLink(model.fit, row);
    const seEta = pr.seUnscaled * Math.sqrt(model.inferenceDispersion);
    const y = observed[k0];
    let upper: number;
    let predFit: number;
    let expected: number;
    if (o.thresholdMethod === 'delta') {
      const mu0 = Math.exp(pr.eta);
      const seFit = seEta * mu0;
      predFit = mu0; expected = mu0;
      const tau = model.phi + seFit ** 2 / mu0;
      const [se, ex] = o.powertrans === '2/3' ? [Math.sqrt((4 / 9) * mu0 ** (1 / 3) * tau), 2 / 3]
        : o.powertrans === '1/2' ? [Math.sqrt(0.25 * tau), 0.5] : [Math.sqrt(mu0 * tau), 1];
      const a = (mu0 ** ex - qnorm(1 - o.alpha) * se);
      const b = (mu0 ** ex + qnorm(1 - o.alpha) * se);
      const lu = [a ** (1 / ex), b ** (1 / ex)].map((v) => (Number.isNaN(v) ? -Infinity : v)).sort((p1, p2) => p1 - p2);
      upper = lu[1];
    } else {
      predFit = pr.eta; expected = Math.exp(pr.eta);
      const mu0q = o.thresholdMethod === 'nbPlugin' ? Math.exp(pr.eta) : Math.exp(qnorm(1 - o.alpha, pr.eta, seEta));
      if (!Number.isFinite(mu0q)) upper = NaN;
      else upper = model.phi > 1 ? qnbinom(1 - o.alpha, mu0q / (model.phi - 1), 1 / model.phi) : qpois(1 - o.alpha, mu0q);
    }
    let recent = 0;
    for (let i = k - o.limit54[1] + 1; i <= k; i++) recent += observed[i - 1] ?? 0;
    const enough = recent >= o.limit54[0];
    const score = Number.isNaN(upper) ? NaN : (y - predFit) / (upper - predFit);
    point.trend = doTrend;
    point.phi = model.phi;
    if (enough) {
      point.upperbound = Number.isNaN(upper) ? null : upper;
      point.expected = Number.isNaN(upper) ? null : expected;
      point.alarm = !Number.isNaN(score) && score > 1 && y !== 0;
    }
    out.push(point);
  }
  return out;
}
