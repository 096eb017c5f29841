import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';

/**
 * The catalogue of reviewed queries that compute indicators from the hub's own data (decree 4.2.5). An indicator
 * defined as data names one of these by `queryCode`, with an optional scope (a theme or a thematic block by code).
 *
 * Every value is computed per calendar month of the municipality's time zone from ONE pass over the period's appeals
 * (GROUPING SETS by month, month × block, month × theme), so a dashboard of any number of computed indicators costs
 * one aggregate query (plus one over problems). A value that cannot be obtained carries the reason instead of a number.
 */

export type Unit = 'PERCENT' | 'PER_1000' | 'COUNT' | 'HOURS' | 'DAYS' | 'SCORE' | 'RUB' | 'OTHER';
export const UNITS: Unit[] = ['PERCENT', 'PER_1000', 'COUNT', 'HOURS', 'DAYS', 'SCORE', 'RUB', 'OTHER'];
export type Direction = 'HIGHER_IS_BETTER' | 'LOWER_IS_BETTER';

/** Shares below this many cases are not reported (a share of 2 appeals says nothing). */
export const MIN_CASES = 5;

/** The monthly aggregate of one scope (the city, a block or a theme). */
export interface MonthAgg {
  appeals: number;
  answeredWithDue: number;
  answeredOnTime: number;
  judged: number;
  formal: number;
  rated: number;
  rated45: number;
  ratingSum: number;
  repeats: number;
  answerMinutesMedian: number | null;
  answerMinutesCount: number;
  activeProblems: number;
  riskSignals: number | null;
}

export interface Computed { value?: number; reason?: string }

export interface CatalogueQuery {
  code: string;
  name: string;
  description: string;
  unit: Unit;
  direction: Direction;
  compute(a: MonthAgg | undefined, population: number | null): Computed;
}

const share = (num: number, den: number, what: string): Computed =>
  den < MIN_CASES ? { reason: `недостаточно данных: ${what} — ${den} (нужно не менее ${MIN_CASES})` } : { value: (100 * num) / den };

const noAppeals: Computed = { reason: 'нет обращений за месяц' };

export const CATALOGUE: CatalogueQuery[] = [
  {
    code: 'appeals_per_1000', name: 'Обращения на 1 000 жителей', unit: 'PER_1000', direction: 'LOWER_IS_BETTER',
    description: 'Число обращений за месяц (все каналы, включая дубликаты) на 1 000 жителей муниципального образования.',
    compute: (a, pop) => (!pop ? { reason: 'не задана численность населения муниципального образования' }
      : { value: ((a?.appeals ?? 0) * 1000) / pop }),
  },
  {
    code: 'appeals_count', name: 'Число обращений', unit: 'COUNT', direction: 'LOWER_IS_BETTER',
    description: 'Число обращений, поступивших за месяц.',
    compute: (a) => ({ value: a?.appeals ?? 0 }),
  },
  {
    code: 'on_time_share', name: 'Доля ответов в срок', unit: 'PERCENT', direction: 'HIGHER_IS_BETTER',
    description: 'Из обращений месяца, на которые дан ответ и для которых рассчитан срок: доля ответов не позже срока (с учётом продлений).',
    compute: (a) => (a ? share(a.answeredOnTime, a.answeredWithDue, 'ответов с рассчитанным сроком') : noAppeals),
  },
  {
    code: 'formal_share', name: 'Доля формальных ответов (отписок)', unit: 'PERCENT', direction: 'LOWER_IS_BETTER',
    description: 'Из ответов на обращения месяца, получивших оценку качества: доля признанных формальными.',
    compute: (a) => (a ? share(a.formal, a.judged, 'оценённых ответов') : noAppeals),
  },
  {
    code: 'satisfaction_share_45', name: 'Доля оценок 4–5', unit: 'PERCENT', direction: 'HIGHER_IS_BETTER',
    description: 'Из оценок граждан (ПОС и обзвон) по обращениям месяца: доля оценок 4 и 5. Федеральная цель — не ниже 60 %.',
    compute: (a) => (a ? share(a.rated45, a.rated, 'оценок') : noAppeals),
  },
  {
    code: 'satisfaction_mean', name: 'Средняя оценка удовлетворённости', unit: 'SCORE', direction: 'HIGHER_IS_BETTER',
    description: 'Средняя оценка граждан 1–5 по обращениям месяца.',
    compute: (a) => (!a ? noAppeals : a.rated < MIN_CASES ? { reason: `недостаточно данных: оценок — ${a.rated} (нужно не менее ${MIN_CASES})` } : { value: a.ratingSum / a.rated }),
  },
  {
    code: 'median_answer_hours', name: 'Медианное время ответа, рабочих часов', unit: 'HOURS', direction: 'LOWER_IS_BETTER',
    description: 'Медиана рабочего времени от регистрации до ответа по обращениям месяца, на которые дан ответ.',
    compute: (a) => (!a ? noAppeals : a.answerMinutesCount < MIN_CASES || a.answerMinutesMedian == null
      ? { reason: `недостаточно данных: ответов с рассчитанным рабочим временем — ${a.answerMinutesCount} (нужно не менее ${MIN_CASES})` }
      : { value: a.answerMinutesMedian / 60 }),
  },
  {
    code: 'repeat_share', name: 'Доля повторных обращений', unit: 'PERCENT', direction: 'LOWER_IS_BETTER',
    description: 'Доля обращений месяца, признанных повторными (тот же автор или то же место и тема после ответа).',
    compute: (a) => (a ? share(a.repeats, a.appeals, 'обращений') : noAppeals),
  },
  {
    code: 'active_problems', name: 'Активные проблемы территории', unit: 'COUNT', direction: 'LOWER_IS_BETTER',
    description: 'Проблемы перечня, которые были выявлены до конца месяца и не решены (не отклонены) к его началу.',
    compute: (a) => ({ value: a?.activeProblems ?? 0 }),
  },
  {
    code: 'risk_signals', name: 'Сигналы информационных рисков', unit: 'COUNT', direction: 'LOWER_IS_BETTER',
    description: 'Число сигналов информационных рисков, выявленных за месяц (кроме признанных ложными).',
    compute: (a) => (a?.riskSignals == null ? { reason: 'сигналы информационных рисков в системе не ведутся' } : { value: a.riskSignals }),
  },
];

export const catalogueByCode = new Map(CATALOGUE.map((q) => [q.code, q]));

export interface AggKey { month: string; blockId?: number; themeId?: number }

/**
 * Scope key in the aggregate map: '' = the city, 'b<id>' = a thematic block, 'T<id>' = a top-level theme with its
 * subthemes, 't<id>' = appeals on exactly that theme.
 */
export const aggKey = (month: string, scope: string) => `${month}|${scope}`;

interface GroupRow { block_id: number | null; top_theme: number | null; theme_id: number | null; g_block: number; g_top: number; g_theme: number }

/** The scope of a GROUPING SETS row (a grouped column has GROUPING() = 0). */
function groupScope(r: GroupRow): string {
  if (r.g_block === 0) return r.block_id == null ? 'b-' : `b${r.block_id}`;
  if (r.g_top === 0) return r.top_theme == null ? 'T-' : `T${r.top_theme}`;
  if (r.g_theme === 0) return r.theme_id == null ? 't-' : `t${r.theme_id}`;
  return '';
}

/**
 * The monthly aggregates of a municipality over [fromMonth, toMonth] (first days of months, inclusive) for the
 * city, every block and every theme (a parent theme's figures include its subthemes).
 */
export async function monthlyAggregates(em: EntityManager, municipalityId: number, fromMonth: string, toMonth: string): Promise<Map<string, MonthAgg>> {
  const out = new Map<string, MonthAgg>();
  const empty = (): MonthAgg => ({ appeals: 0, answeredWithDue: 0, answeredOnTime: 0, judged: 0, formal: 0, rated: 0, rated45: 0,
    ratingSum: 0, repeats: 0, answerMinutesMedian: null, answerMinutesCount: 0, activeProblems: 0, riskSignals: null });
  const rows = await query<Record<string, any>>(em, `
    WITH m AS (SELECT timezone AS tz FROM municipality WHERE id = ?),
    a AS (
      SELECT date_trunc('month', a.received_at AT TIME ZONE m.tz)::date AS month, t.block_id,
             coalesce(t.parent_id, t.id) AS top_theme, t.id AS theme_id,
             a.answered_at, a.answer_due_at, a.satisfaction, a.repeat_of_id, a.answer_minutes, q.verdict
        FROM appeal a CROSS JOIN m
        LEFT JOIN theme t ON t.id = a.theme_id
        LEFT JOIN answer_quality q ON q.appeal_id = a.id
       WHERE a.municipality_id = ?
         AND a.received_at >= (?::date::timestamp AT TIME ZONE m.tz)
         AND a.received_at < ((?::date + interval '1 month')::timestamp AT TIME ZONE m.tz))
    SELECT month::text AS month, block_id, top_theme, theme_id,
           GROUPING(block_id) AS g_block, GROUPING(top_theme) AS g_top, GROUPING(theme_id) AS g_theme,
           count(*)::int AS appeals,
           count(*) FILTER (WHERE answer_due_at IS NOT NULL AND answered_at IS NOT NULL)::int AS answered_with_due,
           count(*) FILTER (WHERE answer_due_at IS NOT NULL AND answered_at <= answer_due_at)::int AS answered_on_time,
           count(verdict)::int AS judged,
           count(*) FILTER (WHERE verdict = 'FORMAL')::int AS formal,
           count(satisfaction)::int AS rated,
           count(*) FILTER (WHERE satisfaction >= 4)::int AS rated45,
           coalesce(sum(satisfaction), 0)::int AS rating_sum,
           count(repeat_of_id)::int AS repeats,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY answer_minutes) AS answer_median,
           count(answer_minutes)::int AS answer_count
      FROM a
     GROUP BY GROUPING SETS ((month), (month, block_id), (month, top_theme), (month, theme_id))`,
  [municipalityId, municipalityId, fromMonth, toMonth]);
  for (const r of rows) {
    const scope = groupScope(r as GroupRow);
    const a = out.get(aggKey(r.month, scope)) ?? empty();
    Object.assign(a, {
      appeals: r.appeals, answeredWithDue: r.answered_with_due, answeredOnTime: r.answered_on_time, judged: r.judged, formal: r.formal,
      rated: r.rated, rated45: r.rated45, ratingSum: r.rating_sum, repeats: r.repeats,
      answerMinutesMedian: r.answer_median == null ? null : Number(r.answer_median), answerMinutesCount: r.answer_count,
    });
    out.set(aggKey(r.month, scope), a);
  }

  // Problems active during each month: detected before its end, not resolved or rejected before its start.
  const problems = await query<GroupRow & { month: string; n: number }>(em, `
    WITH m AS (SELECT timezone AS tz FROM municipality WHERE id = ?),
    months AS (SELECT g::date AS month FROM generate_series(?::date, ?::date, interval '1 month') g),
    p AS (
      SELECT mo.month, t.block_id, coalesce(t.parent_id, t.id) AS top_theme, t.id AS theme_id
        FROM problem p CROSS JOIN m
        JOIN months mo ON p.first_seen_at < ((mo.month + interval '1 month')::timestamp AT TIME ZONE m.tz)
                      AND (p.status NOT IN ('RESOLVED', 'REJECTED') OR coalesce(p.resolved_at, p.last_seen_at) >= (mo.month::timestamp AT TIME ZONE m.tz))
        LEFT JOIN theme t ON t.id = p.theme_id
       WHERE p.municipality_id = ?)
    SELECT month::text AS month, block_id, top_theme, theme_id,
           GROUPING(block_id) AS g_block, GROUPING(top_theme) AS g_top, GROUPING(theme_id) AS g_theme, count(*)::int AS n
      FROM p GROUP BY GROUPING SETS ((month), (month, block_id), (month, top_theme), (month, theme_id))`,
  [municipalityId, fromMonth, toMonth, municipalityId]);
  for (const r of problems) {
    const scope = groupScope(r);
    const a = out.get(aggKey(r.month, scope)) ?? empty();
    a.activeProblems = r.n;
    out.set(aggKey(r.month, scope), a);
  }

  // Risk signals, where the hub keeps them (the information-risks capability).
  const [{ has }] = await query<{ has: boolean }>(em, `SELECT to_regclass('risk_signal') IS NOT NULL AS has`);
  if (has) {
    const signals = await riskSignalCounts(em, municipalityId, fromMonth, toMonth);
    for (const [key, n] of signals) {
      const a = out.get(key) ?? empty();
      a.riskSignals = n;
      out.set(key, a);
    }
    // Months and scopes without signals count zero once the capability exists.
    for (const a of out.values()) a.riskSignals ??= 0;
  }
  return out;
}

/** Risk signals per month (of the day the rise started) and scope, false alarms excluded (server/risks). */
async function riskSignalCounts(em: EntityManager, municipalityId: number, fromMonth: string, toMonth: string): Promise<Map<string, number>> {
  const rows = await query<GroupRow & { month: string; n: number }>(em, `
    WITH s AS (SELECT date_trunc('month', s.started_on)::date AS month, t.block_id, coalesce(t.parent_id, t.id) AS top_theme, t.id AS theme_id
                 FROM risk_signal s LEFT JOIN theme t ON t.id = s.theme_id
                WHERE s.municipality_id = ? AND s.status <> 'FALSE_ALARM'
                  AND s.started_on >= ?::date AND s.started_on < (?::date + interval '1 month'))
    SELECT month::text AS month, block_id, top_theme, theme_id, GROUPING(block_id) AS g_block, GROUPING(top_theme) AS g_top, GROUPING(theme_id) AS g_theme, count(*)::int AS n
      FROM s GROUP BY GROUPING SETS ((month), (month, block_id), (month, top_theme), (month, theme_id))`,
  [municipalityId, fromMonth, toMonth]);
  const out = new Map<string, number>();
  for (const r of rows) out.set(aggKey(r.month, groupScope(r)), r.n);
  return out;
}
