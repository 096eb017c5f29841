import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { ORG_MEASURES } from '../db/org-shares.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { ForbiddenError } from '../auth/checker.js';
import { Role } from '../auth/roles.js';
import { scopeOf, scopeSql } from '../auth/scope.js';
import type { AuthUser } from '../auth/users.js';
import { resolvePeriod, lastDay, monthsEndingAt, type Period, type PeriodKind } from './period.js';
import {
  BASE_FACTORS, FACTOR_LABELS, applyChange, loadSettings, saveSettings, settingsSnapshot,
  type RatingIndicator, type RatingSettings, type SettingsChange,
} from './settings.js';

/**
 * The rating of bodies and subordinate organisations (decree 2.2.6; docs/rating.md).
 *
 * One SQL statement aggregates every organisation's appeals over the period AND the previous period of the same
 * length in one pass (an index-only range scan of appeal_rating_idx): volume, answered on time, median working
 * minutes to answer, overdue now, formal answers, satisfaction, repeats after the answer. A second small statement
 * reads the digital-transformation indicators. Normalisation, the weighted score and ranks are computed here
 * (a few hundred rows). An organisation's figures are its own appeals (appeal.organization_id), without those of
 * its subordinate organisations: subordinates are rated separately, next to their body.
 */

export interface PeriodInputLike { kind: PeriodKind; start: string; end?: string | null }

/** Raw aggregates of one organisation in one period (or month). */
export interface Aggregate {
  received: number;
  /** Appeals with a due time whose outcome is known: answered (on time or late) or open past due. */
  dueJudged: number;
  onTime: number;
  answered: number;
  medianMinutes: number | null;
  overdue: number;
  judged: number;
  formal: number;
  rated: number;
  satisfactionMean: number | null;
  satisfied: number;
  /** Answered appeals followed by a repeat (repeat_of_id) received after the answer. */
  repeated: number;
  /** indicator code → mean value over the values whose period overlaps. */
  indicators: Record<string, number>;
}

export interface FactorPart {
  factor: string;
  label: string;
  /** The raw figure: a share 0…1, minutes, or the indicator's value; null without data. */
  value: number | null;
  /** 0…100, 100 best; null without data (the factor is then left out and the other weights rescaled). */
  normalized: number | null;
  weight: number;
  /** Share of the weight among the factors with data, 0…1. */
  effectiveWeight: number;
  /** effectiveWeight × normalized: the factor's contribution to the score. */
  points: number;
}

export interface RatingRow {
  organizationId: number;
  name: string;
  shortName: string | null;
  kind: string;
  parentId: number | null;
  agg: Aggregate;
  score: number | null;
  ranked: boolean;
  rank: number | null;
  previousScore: number | null;
  previousRank: number | null;
  /** previousRank − rank: positive = moved up. */
  rankChange: number | null;
  breakdown: FactorPart[];
  satisfactionGoalMet: boolean | null;
}

export interface RatingResult {
  period: Period;
  blockId: number | null;
  rows: RatingRow[];
  settings: RatingSettings;
  computedAt: Date;
}

export type QueueState = 'OVERDUE' | 'AT_RISK';

export interface QueueItem {
  id: number;
  receivedAt: Date;
  channel: string;
  address: string | null;
  text: string;
  organizationId: number | null;
  organizationName: string | null;
  themeId: number | null;
  themeName: string | null;
  status: string;
  urgent: boolean;
  answerDueAt: Date;
  state: string;
  /** Calendar minutes until the due time (negative: overdue by). */
  minutesLeft: number;
}

export interface FormalAnswer {
  id: number;
  receivedAt: Date;
  answeredAt: Date | null;
  themeName: string | null;
  text: string;
  answerText: string | null;
  reasons: string[];
  overridden: boolean;
}

export interface RatingOptions extends AuditActor {
  user?: AuthUser;
  /** The clock (tests); default the database's now(). */
  now?: Date;
}

const EMPTY = (): Aggregate => ({ received: 0, dueJudged: 0, onTime: 0, answered: 0, medianMinutes: null, overdue: 0, judged: 0, formal: 0,
  rated: 0, satisfactionMean: null, satisfied: 0, repeated: 0, indicators: {} });

interface AggRow {
  org: number; key: string | boolean; received: number; due_judged: number; on_time: number; answered: number; median_minutes: number | null; overdue: number;
  judged: number; formal: number; rated: number; sat_mean: number | null; satisfied: number; repeated: number;
}

/**
 * The aggregate of the rating as one statement: appeals received in [p0, p2), grouped by organisation and `key`
 * (the period split at p1: false = previous, true = current; or the local month). Placeholders `?` in this order:
 * now, p0 (repeats), municipality (repeats), [key params], municipality, p0, p2, [organisation], [theme ids].
 */
export function aggregateSql(o: { byMonth?: boolean; organization?: boolean; themes?: boolean }): string {
  // Formal answers among the judged ones: the measure the recommendations and seminar invitations compare with the city's.
  const FORMAL = ORG_MEASURES.FORMAL;
  // The period split is a boolean (cheap to sort and group; a text key would sort with the collation).
  const key = o.byMonth ? `to_char(a.received_at AT TIME ZONE ?::text, 'YYYY-MM-01')` : `(a.received_at >= ?::timestamptz)`;
  return `WITH c AS (SELECT ?::timestamptz AS now),
  rep AS (SELECT r.repeat_of_id AS id, max(r.received_at) AS last_repeat FROM appeal r
           WHERE r.received_at >= ?::timestamptz AND r.municipality_id = ? AND r.repeat_of_id IS NOT NULL GROUP BY r.repeat_of_id)
SELECT a.organization_id AS org, ${key} AS key,
  count(*)::int AS received,
  count(*) FILTER (WHERE a.answer_due_at IS NOT NULL AND (a.answered_at IS NOT NULL OR (a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at <= c.now)))::int AS due_judged,
  count(*) FILTER (WHERE a.answered_at <= a.answer_due_at)::int AS on_time,
  count(a.answered_at)::int AS answered,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY a.answer_minutes) AS median_minutes,
  count(*) FILTER (WHERE a.answered_at IS NULL AND a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at <= c.now)::int AS overdue,
  count(*) FILTER (WHERE ${FORMAL.den})::int AS judged,
  count(*) FILTER (WHERE ${FORMAL.num})::int AS formal,
  count(a.satisfaction)::int AS rated,
  avg(a.satisfaction)::float8 AS sat_mean,
  count(*) FILTER (WHERE a.satisfaction >= 4)::int AS satisfied,
  count(*) FILTER (WHERE rep.last_repeat > a.answered_at)::int AS repeated
FROM c, appeal a
LEFT JOIN answer_quality q ON q.appeal_id = a.id
LEFT JOIN rep ON rep.id = a.id
WHERE a.municipality_id = ? AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz AND a.organization_id IS NOT NULL
  ${o.organization ? 'AND a.organization_id = ?' : ''} ${o.themes ? 'AND a.theme_id = ANY(?::int[])' : ''}
GROUP BY 1, 2`;
}

function toAgg(r: AggRow): Aggregate {
  return {
    received: r.received, dueJudged: r.due_judged, onTime: r.on_time, answered: r.answered,
    medianMinutes: r.median_minutes == null ? null : Number(r.median_minutes), overdue: r.overdue, judged: r.judged, formal: r.formal,
    rated: r.rated, satisfactionMean: r.sat_mean == null ? null : Number(r.sat_mean), satisfied: r.satisfied, repeated: r.repeated, indicators: {},
  };
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** Each factor's raw value and its normalisation to 0…100 (100 best), documented in docs/rating.md. */
export function factorValues(a: Aggregate, s: RatingSettings): { factor: string; label: string; weight: number; value: number | null; normalized: number | null }[] {
  const share = (num: number, den: number) => (den > 0 ? num / den : null);
  const out: { factor: string; label: string; weight: number; value: number | null; normalized: number | null }[] = [];
  const push = (factor: string, label: string, weight: number, value: number | null, normalized: number | null) =>
    out.push({ factor, label, weight, value, normalized: normalized == null ? null : round(normalized) });
  const onTime = share(a.onTime, a.dueJudged);
  push('onTime', FACTOR_LABELS.onTime, s.weights.onTime, onTime, onTime == null ? null : 100 * onTime);
  const m = a.medianMinutes;
  push('answerTime', FACTOR_LABELS.answerTime, s.weights.answerTime, m,
    m == null ? null : 100 * clamp01((s.answerWorstMinutes - m) / (s.answerWorstMinutes - s.answerTargetMinutes)));
  const overdue = share(a.overdue, a.received);
  push('overdue', FACTOR_LABELS.overdue, s.weights.overdue, overdue, overdue == null ? null : 100 * (1 - overdue));
  const formal = share(a.formal, a.judged);
  push('formal', FACTOR_LABELS.formal, s.weights.formal, formal, formal == null ? null : 100 * (1 - formal));
  const sat = share(a.satisfied, a.rated);
  push('satisfaction', FACTOR_LABELS.satisfaction, s.weights.satisfaction, sat, sat == null ? null : 100 * sat);
  const rep = share(a.repeated, a.answered);
  push('repeats', FACTOR_LABELS.repeats, s.weights.repeats, rep, rep == null ? null : 100 * (1 - rep));
  for (const ind of s.indicators) {
    const v = a.indicators[ind.code];
    const n = v == null ? null : 100 * clamp01((v - ind.minValue) / (ind.maxValue - ind.minValue));
    push(`ind:${ind.code}`, ind.name, ind.weight, v ?? null, n == null ? null : ind.higherIsBetter ? n : 100 - n);
  }
  return out;
}

/** The composite score 0…100: Σ wᵢ·nᵢ / Σ wᵢ over the factors with data; null when no factor has data. */
export function scoreOf(a: Aggregate, s: RatingSettings): { score: number | null; breakdown: FactorPart[] } {
  const f = factorValues(a, s);
  const total = f.reduce((sum, x) => sum + (x.normalized == null ? 0 : x.weight), 0);
  let sum = 0;
  const breakdown = f.map((x) => {
    const ew = x.normalized == null || total <= 0 ? 0 : x.weight / total;
    sum += ew * (x.normalized ?? 0);
    return { ...x, effectiveWeight: round(ew, 6), points: round(ew * (x.normalized ?? 0)) };
  });
  return { score: total > 0 ? round(sum, 4) : null, breakdown };
}

/** Competition ranks (1, 2, 2, 4) of the ranked rows by score. */
function ranks(rows: { id: number; score: number | null; ranked: boolean }[]): Map<number, number> {
  const sorted = rows.filter((r) => r.ranked && r.score != null).sort((a, b) => b.score! - a.score!);
  const out = new Map<number, number>();
  sorted.forEach((r, i) => out.set(r.id, i > 0 && sorted[i - 1].score === r.score ? out.get(sorted[i - 1].id)! : i + 1));
  return out;
}

export class RatingService {
  constructor(private readonly em: EntityManager, private readonly opts: RatingOptions) {}

  private get municipalityId() { return this.opts.municipalityId; }

  private async tz(): Promise<string> {
    const [r] = await query<{ timezone: string }>(this.em, 'SELECT timezone FROM municipality WHERE id = ?', [this.municipalityId]);
    return r?.timezone ?? 'UTC';
  }

  /** The clock and the local dates as instants in the municipality's time zone, in one statement. */
  private async clock(days: string[]): Promise<{ tz: string; now: Date; at: Date[] }> {
    const [r] = await query<{ tz: string; now: string; t: string[] }>(this.em, `SELECT m.timezone AS tz, now() AS now,
        (SELECT array_agg((d::timestamp AT TIME ZONE m.timezone) ORDER BY i) FROM unnest(?::date[]) WITH ORDINALITY AS u(d, i)) AS t
      FROM municipality m WHERE m.id = ?`, [days, this.municipalityId]);
    if (!r) throw new InputError('municipalityId', `муниципалитет ${this.municipalityId} не найден`);
    return { tz: r.tz, now: this.opts.now ?? new Date(r.now), at: r.t.map((x) => new Date(x)) };
  }

  /** Local dates → instants in the municipality's time zone. */
  private async instants(tz: string, days: string[]): Promise<Date[]> {
    const [r] = await query<{ t: string[] }>(this.em, `SELECT array_agg((d::timestamp AT TIME ZONE ?::text) ORDER BY i) AS t
      FROM unnest(?::date[]) WITH ORDINALITY AS u(d, i)`, [tz, days]);
    return r.t.map((x) => new Date(x));
  }

  private async now(): Promise<Date> {
    if (this.opts.now) return this.opts.now;
    const [r] = await query<{ now: string }>(this.em, 'SELECT now() AS now');
    return new Date(r.now);
  }

  settings() {
    return loadSettings(this.em, this.municipalityId);
  }

  async updateSettings(change: SettingsChange): Promise<RatingSettings> {
    return this.em.transactional(async (tem) => {
      const cur = await loadSettings(tem, this.municipalityId);
      const next = applyChange(cur, change);
      await saveSettings(tem, this.municipalityId, next, this.opts.user?.login ?? this.opts.actor ?? 'system');
      await audit(tem, this.opts, { entity: 'rating_setting', entityId: this.municipalityId, action: 'update', before: settingsSnapshot(cur), after: settingsSnapshot(next) });
      return loadSettings(tem, this.municipalityId);
    });
  }

  /** The block the user may see: BLOCK_LEAD is held to their own block. */
  async effectiveBlock(blockId?: string | number | null): Promise<number | null> {
    const u = this.opts.user;
    let b = blockId == null || blockId === '' ? null : Number(blockId);
    if (b != null && (!Number.isInteger(b) || b <= 0)) throw new InputError('blockId', `неверный идентификатор блока «${String(blockId).slice(0, 20)}»`);
    if (u?.role === Role.BLOCK_LEAD) {
      const own = u.thematicBlockId ?? -1;
      if (b != null && b !== own) throw new ForbiddenError('Рейтинг по другому тематическому блоку вам недоступен');
      b = own;
    }
    if (b != null && b !== -1) {
      const [r] = await query(this.em, 'SELECT 1 FROM thematic_block WHERE id = ? AND municipality_id = ?', [b, this.municipalityId]);
      if (!r) throw new InputError('blockId', `тематический блок ${b} не найден`);
    }
    return b;
  }

  private async blockThemes(blockId: number | null): Promise<number[] | null> {
    if (blockId == null) return null;
    const r = await query<{ id: number }>(this.em, 'SELECT id FROM theme WHERE municipality_id = ? AND block_id = ?', [this.municipalityId, blockId]);
    return r.map((x) => x.id);
  }

  /** The rating of every organisation over the period (and its previous period), optionally within one thematic block. */
  async rating(p: PeriodInputLike, blockId?: string | number | null): Promise<RatingResult> {
    const period = resolvePeriod(p.kind, p.start, p.end);
    const block = await this.effectiveBlock(blockId);
    const themes = await this.blockThemes(block);
    const settings = await this.settings();
    const { now, at: [p0, p1, p2] } = await this.clock([period.prevFrom, period.from, period.to]);
    const sql = aggregateSql({ themes: themes != null });
    const params: unknown[] = [now, p0, this.municipalityId, p1, this.municipalityId, p0, p2];
    if (themes) params.push(themes);
    const rows = await query<AggRow>(this.em, sql, params);
    const cur = new Map<number, Aggregate>();
    const prev = new Map<number, Aggregate>();
    for (const r of rows) (r.key === true ? cur : prev).set(r.org, toAgg(r));
    // The organisations with their indicator means over both periods, in one statement. Indicators belong to the
    // organisation, not to a block: they count in a block's rating too.
    const orgs = await query<{ id: number; name: string; short_name: string | null; kind: string; parent_id: number | null; cur: Record<string, number> | null; prev: Record<string, number> | null }>(this.em,
      `SELECT o.id, o.name, o.short_name, o.kind, o.parent_id,
         (SELECT json_object_agg(indicator, v) FROM (SELECT indicator, avg(value)::float8 AS v FROM org_indicator_value
             WHERE municipality_id = o.municipality_id AND organization_id = o.id AND period_start < ?::date AND period_end >= ?::date GROUP BY indicator) s) AS cur,
         (SELECT json_object_agg(indicator, v) FROM (SELECT indicator, avg(value)::float8 AS v FROM org_indicator_value
             WHERE municipality_id = o.municipality_id AND organization_id = o.id AND period_start < ?::date AND period_end >= ?::date GROUP BY indicator) s) AS prev
       FROM organization o WHERE o.municipality_id = ? ORDER BY o.id`, [period.to, period.from, period.prevTo, period.prevFrom, this.municipalityId]);
    const indCur = new Map(orgs.filter((o) => o.cur).map((o) => [o.id, o.cur!]));
    const indPrev = new Map(orgs.filter((o) => o.prev).map((o) => [o.id, o.prev!]));
    const present = new Set<number>([...cur.keys(), ...prev.keys(), ...(block == null ? indCur.keys() : [])]);
    const list = orgs.filter((o) => present.has(o.id)).map((o) => {
      const a = cur.get(o.id) ?? EMPTY();
      a.indicators = indCur.get(o.id) ?? {};
      const b = prev.get(o.id) ?? EMPTY();
      b.indicators = indPrev.get(o.id) ?? {};
      const s = scoreOf(a, settings);
      const ps = scoreOf(b, settings);
      return { o, a, b, s, ps, ranked: a.received >= settings.minAppeals && s.score != null, prevRanked: b.received >= settings.minAppeals && ps.score != null };
    });
    const rank = ranks(list.map((x) => ({ id: x.o.id, score: x.s.score, ranked: x.ranked })));
    const prevRank = ranks(list.map((x) => ({ id: x.o.id, score: x.ps.score, ranked: x.prevRanked })));
    const out: RatingRow[] = list.map((x) => {
      const r = rank.get(x.o.id) ?? null;
      const pr = prevRank.get(x.o.id) ?? null;
      const sat = x.a.rated > 0 ? x.a.satisfied / x.a.rated : null;
      return {
        organizationId: x.o.id, name: x.o.name, shortName: x.o.short_name, kind: x.o.kind, parentId: x.o.parent_id,
        agg: x.a, score: x.s.score, ranked: x.ranked, rank: r, previousScore: x.ps.score, previousRank: pr,
        rankChange: r != null && pr != null ? pr - r : null, breakdown: x.s.breakdown,
        satisfactionGoalMet: sat == null ? null : sat >= settings.satisfactionGoal,
      };
    });
    out.sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || (b.score ?? -1) - (a.score ?? -1) || b.agg.received - a.agg.received || a.name.localeCompare(b.name, 'ru'));
    return { period, blockId: block, rows: out, settings, computedAt: now };
  }

  /** ORG_OFFICER: only their organisation and its subordinates. */
  async checkOrganization(organizationId: string | number): Promise<number> {
    const id = Number(organizationId);
    if (!Number.isInteger(id) || id <= 0) throw new InputError('organizationId', `неверный идентификатор организации «${String(organizationId).slice(0, 20)}»`);
    const [o] = await query<{ id: number }>(this.em, 'SELECT id FROM organization WHERE id = ? AND municipality_id = ?', [id, this.municipalityId]);
    if (!o) throw new InputError('organizationId', `организация ${id} не найдена`);
    const u = this.opts.user;
    if (u?.role === Role.ORG_OFFICER) {
      const [r] = await query<{ ok: boolean }>(this.em, `WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ?
          UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT ? IN (SELECT id FROM sub) AS ok`, [u.organizationId ?? -1, id]);
      if (!r?.ok) throw new ForbiddenError('Карточка другой организации вам недоступна: только своей организации и подведомственных');
    }
    return id;
  }

  /** Monthly trend of one organisation: the `months` calendar months ending with the period's last month. */
  async trend(organizationId: number, p: PeriodInputLike, blockId: number | null, months = 12): Promise<{ month: string; agg: Aggregate; score: number | null; breakdown: FactorPart[] }[]> {
    const period = resolvePeriod(p.kind, p.start, p.end);
    const firsts = monthsEndingAt(lastDay(period.to), months);
    const end = resolvePeriod('MONTH', firsts[firsts.length - 1]).to;
    const themes = await this.blockThemes(blockId);
    const settings = await this.settings();
    const tz = await this.tz();
    const [p0, p2] = await this.instants(tz, [firsts[0], end]);
    const now = await this.now();
    const params: unknown[] = [now, p0, this.municipalityId, tz, this.municipalityId, p0, p2, organizationId];
    if (themes) params.push(themes);
    const rows = await query<AggRow>(this.em, aggregateSql({ byMonth: true, organization: true, themes: themes != null }), params);
    const byMonth = new Map(rows.map((r) => [String(r.key), toAgg(r)]));
    const ind = await query<{ indicator: string; period_start: string; period_end: string; value: number }>(this.em,
      `SELECT indicator, to_char(period_start, 'YYYY-MM-DD') AS period_start, to_char(period_end, 'YYYY-MM-DD') AS period_end, value FROM org_indicator_value
        WHERE municipality_id = ? AND organization_id = ? AND period_start < ?::date AND period_end >= ?::date`, [this.municipalityId, organizationId, end, firsts[0]]);
    return firsts.map((m) => {
      const a = byMonth.get(m) ?? EMPTY();
      const mEnd = resolvePeriod('MONTH', m).to;
      const sums: Record<string, [number, number]> = {};
      for (const v of ind) if (v.period_start < mEnd && v.period_end >= m) { const s = (sums[v.indicator] ??= [0, 0]); s[0] += Number(v.value); s[1]++; }
      a.indicators = Object.fromEntries(Object.entries(sums).map(([k, [s, n]]) => [k, s / n]));
      const sc = scoreOf(a, settings);
      return { month: m, agg: a, score: sc.score, breakdown: sc.breakdown };
    });
  }

  /** Open appeals overdue or at risk now, urgent first, then the least time left; in the user's row scope. */
  async queue(state: QueueState, filter: { organizationId?: number | null; blockId?: number | null }, first: number, offset: number): Promise<{ items: QueueItem[]; total: number }> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw new InputError('first', `от 1 до 500, получено ${first}`);
    if (!Number.isInteger(offset) || offset < 0 || offset > 1_000_000) throw new InputError('after', 'неверный курсор');
    if (state !== 'OVERDUE' && state !== 'AT_RISK') throw new InputError('state', `ожидается OVERDUE или AT_RISK, получено «${String(state).slice(0, 20)}»`);
    const now = await this.now();
    const scope = this.opts.user ? scopeSql(scopeOf(this.opts.user), 'a') : { sql: 'a.municipality_id = ?', params: [this.municipalityId] };
    const where = [scope.sql, `a.answered_at IS NULL AND a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at IS NOT NULL`,
      state === 'OVERDUE' ? 'a.answer_due_at <= ?::timestamptz' : 'a.answer_due_at > ?::timestamptz AND a.answer_at_risk_at <= ?::timestamptz'];
    const params: unknown[] = [...scope.params, ...(state === 'OVERDUE' ? [now] : [now, now])];
    if (filter.organizationId != null) { where.push('a.organization_id = ?'); params.push(filter.organizationId); }
    const themes = await this.blockThemes(filter.blockId ?? null);
    if (themes) { where.push('a.theme_id = ANY(?::int[])'); params.push(themes); }
    const rows = await query<Record<string, any>>(this.em,
      `SELECT a.id, a.received_at, a.channel, a.address, left(a.text, 400) AS text, a.organization_id, o.short_name AS org_short, o.name AS org_name,
              a.theme_id, t.name AS theme_name, a.status, a.urgent, a.answer_due_at,
              appeal_deadline_state(a.answered_at, a.answer_due_at, a.answer_at_risk_at, ?::timestamptz) AS state,
              floor(extract(epoch FROM (a.answer_due_at - ?::timestamptz)) / 60)::int AS minutes_left, count(*) OVER () AS total
         FROM appeal a LEFT JOIN organization o ON o.id = a.organization_id LEFT JOIN theme t ON t.id = a.theme_id
        WHERE ${where.join(' AND ')}
        ORDER BY a.urgent DESC, a.answer_due_at, a.id LIMIT ? OFFSET ?`, [now, now, ...params, first, offset]);
    let total = rows.length ? Number(rows[0].total) : 0;
    if (!rows.length && offset > 0) {
      const [c] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM appeal a WHERE ${where.join(' AND ')}`, params);
      total = c.n;
    }
    return {
      total,
      items: rows.map((r) => ({
        id: r.id, receivedAt: new Date(r.received_at), channel: r.channel, address: r.address, text: r.text,
        organizationId: r.organization_id, organizationName: r.org_short ?? r.org_name, themeId: r.theme_id, themeName: r.theme_name,
        status: r.status, urgent: r.urgent, answerDueAt: new Date(r.answer_due_at), state: r.state, minutesLeft: r.minutes_left,
      })),
    };
  }

  /** Formal answers (отписки) of one organisation over the period, newest first. */
  async formalAnswers(organizationId: number, p: PeriodInputLike, blockId: number | null, limit = 50): Promise<{ items: FormalAnswer[]; total: number }> {
    const period = resolvePeriod(p.kind, p.start, p.end);
    const tz = await this.tz();
    const [from, to] = await this.instants(tz, [period.from, period.to]);
    const themes = await this.blockThemes(blockId);
    const rows = await query<Record<string, any>>(this.em,
      `SELECT a.id, a.received_at, a.answered_at, t.name AS theme_name, left(a.text, 400) AS text, left(a.answer_text, 600) AS answer_text,
              q.reasons, q.overridden_at IS NOT NULL AS overridden, count(*) OVER () AS total
         FROM appeal a JOIN answer_quality q ON q.appeal_id = a.id AND q.verdict = 'FORMAL' LEFT JOIN theme t ON t.id = a.theme_id
        WHERE a.municipality_id = ? AND a.organization_id = ? AND a.received_at >= ? AND a.received_at < ? ${themes ? 'AND a.theme_id = ANY(?::int[])' : ''}
        ORDER BY a.answered_at DESC NULLS LAST, a.id DESC LIMIT ?`,
      [this.municipalityId, organizationId, from, to, ...(themes ? [themes] : []), limit]);
    const reasonText = (x: unknown) => (typeof x === 'string' ? x : x && typeof x === 'object' ? String((x as Record<string, unknown>).label ?? (x as Record<string, unknown>).text ?? (x as Record<string, unknown>).code ?? JSON.stringify(x)) : String(x));
    return {
      total: rows.length ? Number(rows[0].total) : 0,
      items: rows.map((r) => ({
        id: r.id, receivedAt: new Date(r.received_at), answeredAt: r.answered_at ? new Date(r.answered_at) : null, themeName: r.theme_name,
        text: r.text, answerText: r.answer_text, reasons: Array.isArray(r.reasons) ? r.reasons.map(reasonText) : [], overridden: r.overridden,
      })),
    };
  }
}

export { BASE_FACTORS };
export type { RatingIndicator };
