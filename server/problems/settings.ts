import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';

/** Factors of a problem's score, in the order they are shown. */
export const FACTORS = ['volume', 'authors', 'growth', 'repeats', 'overdue', 'lowSatisfaction', 'cur', 'perCapita'] as const;
export type Factor = (typeof FACTORS)[number];

export const FACTOR_LABELS: Record<Factor, string> = {
  volume: 'Число обращений',
  authors: 'Разные заявители',
  growth: 'Рост к прошлому периоду',
  repeats: 'Доля повторных обращений',
  overdue: 'Доля просроченных',
  lowSatisfaction: 'Доля низких оценок (1–2)',
  cur: 'Интенсивность по тепловой карте ЦУР',
  perCapita: 'Обращений на 1 000 жителей района',
};

export type Weights = Record<Factor, number>;

/** Default weights (sum 1; the score is 0…100). */
export const DEFAULT_WEIGHTS: Weights = {
  volume: 0.25, authors: 0.15, growth: 0.15, repeats: 0.1, overdue: 0.1, lowSatisfaction: 0.1, cur: 0.1, perCapita: 0.05,
};

/** Detection parameters of one theme (or the default). */
export interface DetectionSetting {
  themeId: number | null;
  /** DBSCAN radius on the ground, metres. */
  epsMeters: number;
  /** DBSCAN minimum cluster size. */
  minPoints: number;
  /**
   * Density guard: the effective minimum is at least densityFactor × the number of the theme's appeals
   * expected inside one DBSCAN circle if they were spread evenly over the municipality, so that a
   * uniformly busy theme does not chain the whole city into one cluster.
   */
  densityFactor: number;
}

export interface ProblemSettings {
  defaults: DetectionSetting;
  themes: DetectionSetting[];
  weights: Weights;
  /** Length of the default detection period, days back from now. */
  windowDays: number;
  /** A ЦУР cell is "hot" from this share of its layer's maximum weight. */
  curHotThreshold: number;
}

export const BUILTIN_DEFAULTS: DetectionSetting = { themeId: null, epsMeters: 200, minPoints: 8, densityFactor: 3 };

interface SettingRow {
  theme_id: number | null; eps_meters: number; min_points: number; density_factor: number;
  window_days: number; cur_hot_threshold: number; weights: Partial<Weights> | null;
}

const toSetting = (r: SettingRow): DetectionSetting => ({
  themeId: r.theme_id, epsMeters: Number(r.eps_meters), minPoints: r.min_points, densityFactor: Number(r.density_factor),
});

export async function loadSettings(em: EntityManager, municipalityId: number): Promise<ProblemSettings> {
  const rows = await query<SettingRow>(em,
    `SELECT theme_id, eps_meters, min_points, density_factor, window_days, cur_hot_threshold, weights
       FROM problem_setting WHERE municipality_id = ? ORDER BY theme_id NULLS FIRST`, [municipalityId]);
  const def = rows.find((r) => r.theme_id == null);
  return {
    defaults: def ? toSetting(def) : { ...BUILTIN_DEFAULTS },
    themes: rows.filter((r) => r.theme_id != null).map(toSetting),
    weights: { ...DEFAULT_WEIGHTS, ...(def?.weights ?? {}) },
    windowDays: def?.window_days ?? 90,
    curHotThreshold: def ? Number(def.cur_hot_threshold) : 0.6,
  };
}

export function settingFor(s: ProblemSettings, themeId: number): DetectionSetting {
  return s.themes.find((t) => t.themeId === themeId) ?? s.defaults;
}

export function checkWeights(w: Partial<Record<string, number>>): Partial<Weights> {
  const out: Partial<Weights> = {};
  for (const [k, v] of Object.entries(w)) {
    if (!(FACTORS as readonly string[]).includes(k)) throw new InputError(`weights.${k}`, `неизвестный фактор «${k}»; допустимы: ${FACTORS.join(', ')}`);
    if (v == null) continue;
    if (!Number.isFinite(v) || v < 0 || v > 100) throw new InputError(`weights.${k}`, `вес должен быть числом от 0 до 100, получено ${v}`);
    out[k as Factor] = v;
  }
  return out;
}

export function checkDetection(field: string, eps: number, minPoints: number, densityFactor: number) {
  if (!Number.isFinite(eps) || eps <= 0 || eps > 5000) throw new InputError(`${field}.epsMeters`, `радиус кластера — от 1 до 5000 м, получено ${eps}`);
  if (!Number.isInteger(minPoints) || minPoints < 2 || minPoints > 100000) throw new InputError(`${field}.minPoints`, `минимальный размер кластера — целое от 2 до 100000, получено ${minPoints}`);
  if (!Number.isFinite(densityFactor) || densityFactor < 0 || densityFactor > 100) throw new InputError(`${field}.densityFactor`, `коэффициент плотности — от 0 до 100, получено ${densityFactor}`);
}
