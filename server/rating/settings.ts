import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';

/**
 * The factors of the rating of bodies and organisations, each normalised to 0…100 where 100 is best
 * (docs/rating.md). Indicator factors (digital transformation) come on top, one per rating_indicator row,
 * keyed `ind:<code>`.
 */
export const BASE_FACTORS = ['onTime', 'answerTime', 'overdue', 'formal', 'satisfaction', 'repeats'] as const;
export type BaseFactor = (typeof BASE_FACTORS)[number];

export const FACTOR_LABELS: Record<BaseFactor, string> = {
  onTime: 'Ответы в срок',
  answerTime: 'Время ответа (медиана, рабочие часы)',
  overdue: 'Просрочено сейчас',
  formal: 'Формальные ответы (отписки)',
  satisfaction: 'Удовлетворённость (оценки 4–5)',
  repeats: 'Повторные обращения после ответа',
};

/** Default weights (relative: the score divides by the sum of the weights of the factors that have data). */
export const DEFAULT_WEIGHTS: Record<BaseFactor, number> = {
  onTime: 0.25, answerTime: 0.1, overdue: 0.15, formal: 0.15, satisfaction: 0.15, repeats: 0.1,
};

export interface RatingIndicator {
  code: string;
  name: string;
  minValue: number;
  maxValue: number;
  higherIsBetter: boolean;
  weight: number;
}

export interface RatingSettings {
  weights: Record<BaseFactor, number>;
  indicators: RatingIndicator[];
  /** Organisations with fewer appeals received in the period are listed but not ranked. */
  minAppeals: number;
  /** Median working minutes to answer scored 100 at or below, 0 at or above the worst. */
  answerTargetMinutes: number;
  answerWorstMinutes: number;
  /** The ПОС goal: share of ratings 4–5 (0…1). */
  satisfactionGoal: number;
  updatedAt: Date | null;
  updatedBy: string | null;
}

export const DEFAULT_INDICATORS: RatingIndicator[] = [
  { code: 'official_pages_score', name: 'Оценка ведения официальных страниц', minValue: 0, maxValue: 100, higherIsBetter: true, weight: 0.05 },
  { code: 'services_online_share', name: 'Доля услуг, оказываемых в электронном виде, %', minValue: 0, maxValue: 100, higherIsBetter: true, weight: 0.05 },
];

interface SettingRow { weights: Partial<Record<BaseFactor, number>>; min_appeals: number; answer_target_minutes: number; answer_worst_minutes: number; satisfaction_goal: number; updated_at: string; updated_by: string | null }
interface IndicatorRow { code: string; name: string; min_value: number; max_value: number; higher_is_better: boolean; weight: number }

export async function loadIndicators(em: EntityManager, municipalityId: number): Promise<RatingIndicator[]> {
  let rows = await query<IndicatorRow>(em, 'SELECT code, name, min_value, max_value, higher_is_better, weight FROM rating_indicator WHERE municipality_id = ? ORDER BY id', [municipalityId]);
  if (!rows.length) {
    // A municipality created after the migration: its default indicators.
    for (const d of DEFAULT_INDICATORS) {
      await query(em, `INSERT INTO rating_indicator (municipality_id, code, name, min_value, max_value, higher_is_better, weight)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [municipalityId, d.code, d.name, d.minValue, d.maxValue, d.higherIsBetter, d.weight]);
    }
    rows = await query<IndicatorRow>(em, 'SELECT code, name, min_value, max_value, higher_is_better, weight FROM rating_indicator WHERE municipality_id = ? ORDER BY id', [municipalityId]);
  }
  return rows.map((r) => ({ code: r.code, name: r.name, minValue: Number(r.min_value), maxValue: Number(r.max_value), higherIsBetter: r.higher_is_better, weight: Number(r.weight) }));
}

export async function loadSettings(em: EntityManager, municipalityId: number): Promise<RatingSettings> {
  // One statement: the settings row (if any) and the indicators.
  const [x] = await query<{ s: SettingRow | null; i: IndicatorRow[] | null }>(em,
    `SELECT (SELECT row_to_json(r) FROM (SELECT weights, min_appeals, answer_target_minutes, answer_worst_minutes, satisfaction_goal, updated_at, updated_by
               FROM rating_setting WHERE municipality_id = ?) r) AS s,
            (SELECT json_agg(i ORDER BY i.id) FROM (SELECT id, code, name, min_value, max_value, higher_is_better, weight
               FROM rating_indicator WHERE municipality_id = ?) i) AS i`, [municipalityId, municipalityId]);
  const r = x?.s ?? null;
  const indicators = x?.i?.length
    ? x.i.map((i) => ({ code: i.code, name: i.name, minValue: Number(i.min_value), maxValue: Number(i.max_value), higherIsBetter: i.higher_is_better, weight: Number(i.weight) }))
    : await loadIndicators(em, municipalityId);
  return {
    weights: { ...DEFAULT_WEIGHTS, ...(r?.weights ?? {}) },
    indicators,
    minAppeals: r?.min_appeals ?? 20,
    answerTargetMinutes: r?.answer_target_minutes ?? 480,
    answerWorstMinutes: r?.answer_worst_minutes ?? 4800,
    satisfactionGoal: r ? Number(r.satisfaction_goal) : 0.6,
    updatedAt: r ? new Date(r.updated_at) : null,
    updatedBy: r?.updated_by ?? null,
  };
}

export function checkWeight(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new InputError(field, `вес должен быть числом от 0 до 100, получено ${String(v).slice(0, 30)}`);
  return v;
}

export interface SettingsChange {
  weights?: Partial<Record<string, number | null>>;
  indicatorWeights?: { code: string; weight: number }[];
  minAppeals?: number;
  answerTargetMinutes?: number;
  answerWorstMinutes?: number;
  satisfactionGoal?: number;
}

/** Validates a change against the current settings; returns the new settings (nothing stored). */
export function applyChange(cur: RatingSettings, c: SettingsChange): RatingSettings {
  const next: RatingSettings = { ...cur, weights: { ...cur.weights }, indicators: cur.indicators.map((i) => ({ ...i })) };
  for (const [k, v] of Object.entries(c.weights ?? {})) {
    if (!(BASE_FACTORS as readonly string[]).includes(k)) throw new InputError(`weights.${k}`, `неизвестный фактор «${k}»; допустимы: ${BASE_FACTORS.join(', ')}`);
    if (v == null) continue;
    next.weights[k as BaseFactor] = checkWeight(`weights.${k}`, v);
  }
  (c.indicatorWeights ?? []).forEach((w, i) => {
    const ind = next.indicators.find((x) => x.code === w.code);
    if (!ind) throw new InputError(`indicatorWeights[${i}].code`, `неизвестный показатель «${String(w.code).slice(0, 40)}»; допустимы: ${next.indicators.map((x) => x.code).join(', ')}`);
    ind.weight = checkWeight(`indicatorWeights[${i}].weight`, w.weight);
  });
  if (c.minAppeals != null) {
    if (!Number.isInteger(c.minAppeals) || c.minAppeals < 0 || c.minAppeals > 1_000_000) throw new InputError('minAppeals', `минимальное число обращений — целое от 0 до 1 000 000, получено ${c.minAppeals}`);
    next.minAppeals = c.minAppeals;
  }
  if (c.answerTargetMinutes != null) next.answerTargetMinutes = c.answerTargetMinutes;
  if (c.answerWorstMinutes != null) next.answerWorstMinutes = c.answerWorstMinutes;
  for (const [f, v] of [['answerTargetMinutes', next.answerTargetMinutes], ['answerWorstMinutes', next.answerWorstMinutes]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 525_600) throw new InputError(f, `число рабочих минут — целое от 1 до 525 600, получено ${v}`);
  }
  if (next.answerWorstMinutes <= next.answerTargetMinutes) throw new InputError('answerWorstMinutes', `худшее время ответа (${next.answerWorstMinutes} мин) должно быть больше целевого (${next.answerTargetMinutes} мин)`);
  if (c.satisfactionGoal != null) {
    if (!Number.isFinite(c.satisfactionGoal) || c.satisfactionGoal <= 0 || c.satisfactionGoal > 1) throw new InputError('satisfactionGoal', `целевая доля оценок 4–5 — число больше 0 и не больше 1, получено ${c.satisfactionGoal}`);
    next.satisfactionGoal = c.satisfactionGoal;
  }
  const total = BASE_FACTORS.reduce((s, f) => s + next.weights[f], 0) + next.indicators.reduce((s, i) => s + i.weight, 0);
  if (total <= 0) throw new InputError('weights', 'хотя бы один вес должен быть больше нуля');
  return next;
}

export async function saveSettings(em: EntityManager, municipalityId: number, s: RatingSettings, actor: string): Promise<void> {
  await query(em, `INSERT INTO rating_setting (municipality_id, weights, min_appeals, answer_target_minutes, answer_worst_minutes, satisfaction_goal, updated_at, updated_by)
    VALUES (?, ?::jsonb, ?, ?, ?, ?, now(), ?)
    ON CONFLICT (municipality_id) DO UPDATE SET weights = EXCLUDED.weights, min_appeals = EXCLUDED.min_appeals,
      answer_target_minutes = EXCLUDED.answer_target_minutes, answer_worst_minutes = EXCLUDED.answer_worst_minutes,
      satisfaction_goal = EXCLUDED.satisfaction_goal, updated_at = now(), updated_by = EXCLUDED.updated_by`,
  [municipalityId, JSON.stringify(s.weights), s.minAppeals, s.answerTargetMinutes, s.answerWorstMinutes, s.satisfactionGoal, actor]);
  for (const i of s.indicators) await query(em, 'UPDATE rating_indicator SET weight = ? WHERE municipality_id = ? AND code = ?', [i.weight, municipalityId, i.code]);
}

/** The settings as published (for the audit log and the page). */
export function settingsSnapshot(s: RatingSettings) {
  return { weights: s.weights, indicatorWeights: Object.fromEntries(s.indicators.map((i) => [i.code, i.weight])), minAppeals: s.minAppeals,
    answerTargetMinutes: s.answerTargetMinutes, answerWorstMinutes: s.answerWorstMinutes, satisfactionGoal: s.satisfactionGoal };
}
