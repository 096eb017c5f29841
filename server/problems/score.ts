import { FACTORS, FACTOR_LABELS, type Factor, type Weights } from './settings.js';

/** Raw values of a problem's factors, as stored in problem.factors. */
export interface FactorValues {
  volume: number;
  authors: number;
  /** (count − previous) / max(previous, 5); previous = same theme inside the hull in the previous period. The floor keeps
   *  a change from 0 to 1 appeal from reading as +100 %. */
  growth: number;
  previous: number;
  repeats: number;
  overdue: number;
  lowSatisfaction: number;
  cur: number;
  perCapita: number | null;
}

export interface ScorePart {
  factor: Factor;
  label: string;
  /** The raw value (a count, a share 0…1, a ratio). */
  value: number;
  /** Its normalised value 0…1 as used in the score. */
  normalized: number;
  /** Its weight, as a share of the sum of weights. */
  weight: number;
  /** Points it contributes to the score (the parts sum to the score, 0…100). */
  points: number;
}

const clamp01 = (v: number) => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);
const round = (v: number, d = 4) => Math.round(v * 10 ** d) / 10 ** d;

/**
 * Scores problems against each other: counts are normalised on a log scale to the largest in the
 * list, per-capita volume linearly to the largest, growth is capped at +200 %, shares and ЦУР
 * intensity are already 0…1. The score is the weighted sum scaled to 0…100; each part says how
 * many points its factor gave.
 */
export function scoreAll(items: FactorValues[], weights: Weights): ScorePart[][] {
  const max = (f: (v: FactorValues) => number) => items.reduce((m, v) => Math.max(m, f(v) || 0), 0);
  const maxVolume = max((v) => v.volume), maxAuthors = max((v) => v.authors), maxPerCapita = max((v) => v.perCapita ?? 0);
  const sumW = FACTORS.reduce((s, f) => s + weights[f], 0) || 1;
  const logNorm = (v: number, m: number) => (m > 0 ? Math.log1p(v) / Math.log1p(m) : 0);
  return items.map((v) => {
    const norm: Record<Factor, number> = {
      volume: logNorm(v.volume, maxVolume),
      authors: logNorm(v.authors, maxAuthors),
      growth: clamp01(v.growth / 2),
      repeats: clamp01(v.repeats),
      overdue: clamp01(v.overdue),
      lowSatisfaction: clamp01(v.lowSatisfaction),
      cur: clamp01(v.cur),
      perCapita: maxPerCapita > 0 ? clamp01((v.perCapita ?? 0) / maxPerCapita) : 0,
    };
    return FACTORS.map((f) => {
      const w = weights[f] / sumW;
      return {
        factor: f, label: FACTOR_LABELS[f], value: round(f === 'perCapita' ? v.perCapita ?? 0 : v[f]),
        normalized: round(norm[f]), weight: round(w), points: round(w * norm[f] * 100, 3),
      };
    });
  });
}

export const totalPoints = (parts: ScorePart[]) => Math.round(parts.reduce((s, p) => s + p.points, 0) * 1000) / 1000;
