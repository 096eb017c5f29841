import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { scopeSql } from '../auth/scope.js';
import { RatingService } from '../rating/service.js';
import { clean } from './format.js';

/**
 * Everything a report shows, read from the database in a handful of set-based statements (the appeals of the period
 * and of the previous period of the same length in one pass). The renderers (pdf.ts, docx.ts) only lay it out.
 */

export type ScopeKind = 'CITY' | 'DISTRICT' | 'BLOCK' | 'ORGANIZATION';
export const SCOPE_KINDS: ScopeKind[] = ['CITY', 'DISTRICT', 'BLOCK', 'ORGANIZATION'];

export interface ReportParams {
  municipalityId: number;
  scopeKind: ScopeKind;
  scopeId: number | null;
  /** Inclusive local dates, YYYY-MM-DD. */
  from: string;
  to: string;
}

export interface Figures {
  appeals: number;
  dueJudged: number;
  onTime: number;
  overdue: number;
  answered: number;
  judged: number;
  formal: number;
  rated: number;
  satisfied: number;
  social: number;
}

export interface GeoFeature { type: 'Feature'; properties: Record<string, unknown>; geometry: { type: string; coordinates: unknown } }

export interface ReportData {
  params: ReportParams;
  municipality: { name: string; timezone: string; population: number | null };
  scopeName: string;
  /** Residents the per-1 000 figure is computed on and what they are. */
  population: number | null;
  populationNote: string;
  prevFrom: string;
  prevTo: string;
  days: number;
  cur: Figures;
  prev: Figures;
  /** Appeals per day (or week for long periods) in the period and the previous one, aligned by position. */
  series: { label: string; cur: number; prev: number }[];
  seriesUnit: 'DAY' | 'WEEK';
  themes: { name: string; cur: number; prev: number }[];
  districts: { id: number; name: string; population: number | null; cur: number; prev: number; geometry: GeoFeature['geometry'] }[];
  problems: { id: number; title: string; status: string; score: number; appeals: number; inPeriod: number; district: string | null; theme: string | null;
    hull: GeoFeature['geometry']; center: [number, number]; points: [number, number][]; context: [number, number][] }[];
  risks: { id: number; kind: string; title: string; method: string; methodNote: string | null; startedOn: string; lastOn: string; observed: number;
    expected: number | null; upperbound: number | null; status: string; appeals: number; series: { date: string; observed: number; upperbound: number | null; alarm: boolean }[] }[];
  risksTotal: number;
  rating: { note: string | null; rows: { rank: number | null; name: string; score: number | null; rankChange: number | null; received: number; onTime: number | null;
    formal: number | null; satisfied: number | null; ranked: boolean }[]; minAppeals: number; total: number };
  recommendations: { id: number; rule: string; text: string; organization: string | null; decidedBy: string | null; decidedAt: string | null }[];
  generatedAt: Date;
}

const EMPTY: Figures = { appeals: 0, dueJudged: 0, onTime: 0, overdue: 0, answered: 0, judged: 0, formal: 0, rated: 0, satisfied: 0, social: 0 };
const DAY = 86_400_000;
export const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
export const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY) + 1;

/** At most this many problems, risk cards, rating rows and recommendations in one report. */
export const LIMITS = { problems: 8, problemMaps: 4, points: 400, context: 1500, risks: 12, riskCharts: 6, rating: 20, recommendations: 30, themes: 10 };

const ORG_SUBTREE = `(WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ?
  UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub)`;

/** SQL over a table with district_id / theme_id / organization_id columns under `alias` for the report's scope. */
function scopeWhere(p: ReportParams, alias: string): { sql: string; params: unknown[] } {
  switch (p.scopeKind) {
    case 'CITY': return { sql: '', params: [] };
    case 'DISTRICT': return { sql: ` AND ${alias}.district_id = ?`, params: [p.scopeId] };
    case 'BLOCK': return { sql: ` AND ${alias}.theme_id IN (SELECT id FROM theme WHERE block_id = ?)`, params: [p.scopeId] };
    case 'ORGANIZATION': return { sql: ` AND ${alias}.organization_id IN ${ORG_SUBTREE}`, params: [p.scopeId] };
  }
}

/** The appeals of the scope (the same rule as the row scope of server/auth/scope.ts for blocks and organisations). */
function appealScope(p: ReportParams): { sql: string; params: unknown[] } {
  if (p.scopeKind === 'BLOCK') return scopeSql({ municipalityId: p.municipalityId, thematicBlockId: p.scopeId! }, 'a');
  if (p.scopeKind === 'ORGANIZATION') return scopeSql({ municipalityId: p.municipalityId, organizationId: p.scopeId! }, 'a');
  const s = scopeWhere(p, 'a');
  return { sql: `a.municipality_id = ?${s.sql}`, params: [p.municipalityId, ...s.params] };
}

/** The scope's display name (null when it does not exist in the municipality). */
export async function scopeName(em: EntityManager, municipalityId: number, kind: ScopeKind, id: number | null): Promise<string | null> {
  if (kind === 'CITY') {
    const [m] = await query<{ name: string }>(em, 'SELECT name FROM municipality WHERE id = ?', [municipalityId]);
    return m ? clean(m.name) : null;
  }
  const table = kind === 'DISTRICT' ? 'district' : kind === 'BLOCK' ? 'thematic_block' : 'organization';
  const [r] = await query<{ name: string }>(em, `SELECT name FROM ${table} WHERE id = ? AND municipality_id = ?`, [id, municipalityId]);
  return r ? clean(r.name) : null;
}

function toFigures(r: Record<string, number> | undefined): Figures {
  if (!r) return { ...EMPTY };
  return { appeals: r.appeals, dueJudged: r.due_judged, onTime: r.on_time, overdue: r.overdue, answered: r.answered, judged: r.judged,
    formal: r.formal, rated: r.rated, satisfied: r.satisfied, social: r.social };
}

/** The frame of a problem's map: its appeals with a margin, at least about 2.5 × 2 km (streets around stay visible). */
export function problemFrame(p: { points: [number, number][]; center: [number, number] }): { minX: number; minY: number; maxX: number; maxY: number; cx: number; cy: number } {
  const pts = p.points.length ? p.points : [p.center];
  const xs = pts.map((q) => q[0]), ys = pts.map((q) => q[1]);
  const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
  const hw = Math.max((Math.max(...xs) - Math.min(...xs)) * 0.75, 0.018), hh = Math.max((Math.max(...ys) - Math.min(...ys)) * 0.75, 0.0085);
  return { minX: cx - hw, minY: cy - hh, maxX: cx + hw, maxY: cy + hh, cx, cy };
}

export async function collect(em: EntityManager, p: ReportParams, now = new Date()): Promise<ReportData> {
  const [mun] = await query<{ name: string; timezone: string; population: number | null }>(em, 'SELECT name, timezone, population FROM municipality WHERE id = ?', [p.municipalityId]);
  const tz = mun.timezone;
  const days = daysBetween(p.from, p.to);
  const prevFrom = addDays(p.from, -days);
  const prevTo = addDays(p.from, -1);
  const [b] = await query<{ p0: Date; p1: Date; p2: Date }>(em, `SELECT (?::date)::timestamp AT TIME ZONE ?::text AS p0,
    (?::date)::timestamp AT TIME ZONE ?::text AS p1, (?::date)::timestamp AT TIME ZONE ?::text AS p2`, [prevFrom, tz, p.from, tz, addDays(p.to, 1), tz]);
  const sc = appealScope(p);

  // Key figures of both periods in one pass.
  const fig = await query<Record<string, number> & { cur: boolean }>(em, `
    SELECT (a.received_at >= ?::timestamptz) AS cur,
      count(*)::int AS appeals,
      count(*) FILTER (WHERE a.answer_due_at IS NOT NULL AND (a.answered_at IS NOT NULL OR (a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at <= ?::timestamptz)))::int AS due_judged,
      count(*) FILTER (WHERE a.answered_at <= a.answer_due_at)::int AS on_time,
      count(*) FILTER (WHERE a.answered_at > a.answer_due_at OR (a.answered_at IS NULL AND a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at <= ?::timestamptz))::int AS overdue,
      count(a.answered_at)::int AS answered,
      count(q.verdict)::int AS judged,
      count(*) FILTER (WHERE q.verdict = 'FORMAL')::int AS formal,
      count(a.satisfaction)::int AS rated,
      count(*) FILTER (WHERE a.satisfaction >= 4)::int AS satisfied,
      count(*) FILTER (WHERE a.channel IN ('SOCIAL', 'MESSENGER'))::int AS social
    FROM appeal a LEFT JOIN answer_quality q ON q.appeal_id = a.id
    WHERE ${sc.sql} AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz
    GROUP BY 1`, [b.p1, now, now, ...sc.params, b.p0, b.p2]);
  const cur = toFigures(fig.find((r) => r.cur));
  const prev = toFigures(fig.find((r) => !r.cur));

  // Appeals per local day of both periods; weeks when the period is longer than 92 days.
  const seriesUnit: 'DAY' | 'WEEK' = days > 92 ? 'WEEK' : 'DAY';
  const perDay = await query<{ d: string; n: number }>(em, `
    SELECT to_char((a.received_at AT TIME ZONE ?::text)::date, 'YYYY-MM-DD') AS d, count(*)::int AS n
      FROM appeal a WHERE ${sc.sql} AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz GROUP BY 1`, [tz, ...sc.params, b.p0, b.p2]);
  const byDay = new Map(perDay.map((r) => [r.d, r.n]));
  const step = seriesUnit === 'WEEK' ? 7 : 1;
  const series: ReportData['series'] = [];
  for (let i = 0; i < days; i += step) {
    let c = 0, q = 0;
    for (let k = i; k < Math.min(days, i + step); k++) {
      c += byDay.get(addDays(p.from, k)) ?? 0;
      q += byDay.get(addDays(prevFrom, k)) ?? 0;
    }
    series.push({ label: addDays(p.from, i), cur: c, prev: q });
  }

  // Top-level themes.
  const themeRows = await query<{ name: string | null; cur: number; prev: number }>(em, `
    SELECT coalesce(tp.name, t.name) AS name, count(*) FILTER (WHERE a.received_at >= ?::timestamptz)::int AS cur,
           count(*) FILTER (WHERE a.received_at < ?::timestamptz)::int AS prev
      FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id LEFT JOIN theme tp ON tp.id = t.parent_id
     WHERE ${sc.sql} AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz
     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`, [b.p1, b.p1, ...sc.params, b.p0, b.p2, LIMITS.themes]);
  const themes = themeRows.filter((t) => t.cur > 0).map((t) => ({ name: clean(t.name ?? 'Тема не определена', 80), cur: t.cur, prev: t.prev }));

  // Districts: outlines (exterior rings clockwise, as d3-geo expects) and counts of both periods.
  const districtRows = await query<{ id: number; name: string; population: number | null; cur: number; prev: number; geom: string }>(em, `
    WITH c AS (SELECT a.district_id, count(*) FILTER (WHERE a.received_at >= ?::timestamptz)::int AS cur, count(*) FILTER (WHERE a.received_at < ?::timestamptz)::int AS prev
                 FROM appeal a WHERE ${sc.sql} AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz GROUP BY 1)
    SELECT d.id, d.name, d.population, coalesce(c.cur, 0) AS cur, coalesce(c.prev, 0) AS prev,
           ST_AsGeoJSON(ST_ForcePolygonCW(ST_SimplifyPreserveTopology(d.geom, 0.0002)), 5) AS geom
      FROM district d LEFT JOIN c ON c.district_id = d.id WHERE d.municipality_id = ? ORDER BY d.name, d.id`, [b.p1, b.p1, ...sc.params, b.p0, b.p2, p.municipalityId]);
  const districts = districtRows.map((d) => ({ id: d.id, name: clean(d.name, 80), population: d.population, cur: d.cur, prev: d.prev, geometry: JSON.parse(d.geom) }));

  // Population for the per-1 000 figure.
  let population: number | null = mun.population;
  let populationNote = 'жителей муниципального образования';
  if (p.scopeKind === 'DISTRICT') {
    population = districtRows.find((d) => d.id === p.scopeId)?.population ?? null;
    populationNote = 'жителей района';
  } else if (p.scopeKind !== 'CITY') {
    populationNote = 'жителей муниципального образования (обращения по блоку или организации на всё население)';
  }

  // Problems of the list whose appeals fall into the period, by score.
  const ps = scopeWhere(p, 'p');
  const problemRows = await query<{ id: number; title: string; status: string; score: number; appeal_count: number; in_period: number; district: string | null; theme: string | null; hull: string; cx: number; cy: number }>(em, `
    SELECT p.id, p.title, p.status, p.score, p.appeal_count, d.name AS district, t.name AS theme,
           ST_AsGeoJSON(ST_ForcePolygonCW(p.hull), 6) AS hull, ST_X(p.center) AS cx, ST_Y(p.center) AS cy, 0 AS in_period
      FROM problem p LEFT JOIN district d ON d.id = p.district_id LEFT JOIN theme t ON t.id = p.theme_id
     WHERE p.municipality_id = ? AND p.active AND p.status <> 'REJECTED'${ps.sql}
       AND coalesce(p.last_appeal_at, p.last_seen_at) >= ?::timestamptz AND coalesce(p.first_appeal_at, p.first_seen_at) < ?::timestamptz
     ORDER BY p.score DESC, p.id LIMIT ?`, [p.municipalityId, ...ps.params, b.p1, b.p2, LIMITS.problems]);
  // Appeals of the period per listed problem (only for the few listed, after the LIMIT).
  if (problemRows.length) {
    const inPeriod = await query<{ id: number; n: number }>(em, `SELECT pa.problem_id AS id, count(*)::int AS n FROM problem_appeal pa JOIN appeal a ON a.id = pa.appeal_id
      WHERE pa.problem_id = ANY(?::int[]) AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz GROUP BY 1`, [problemRows.map((r) => r.id), b.p1, b.p2]);
    const m = new Map(inPeriod.map((x) => [x.id, x.n]));
    for (const r of problemRows) r.in_period = m.get(r.id) ?? 0;
  }
  const mapIds = problemRows.slice(0, LIMITS.problemMaps).map((r) => r.id);
  const pts = mapIds.length ? await query<{ problem_id: number; x: number; y: number }>(em, `
    SELECT problem_id, x, y FROM (
      SELECT pa.problem_id, ST_X(a.point) AS x, ST_Y(a.point) AS y, row_number() OVER (PARTITION BY pa.problem_id ORDER BY a.received_at DESC) AS k
        FROM problem_appeal pa JOIN appeal a ON a.id = pa.appeal_id WHERE pa.problem_id = ANY(?::int[]) AND a.point IS NOT NULL) s
     WHERE k <= ?`, [mapIds, LIMITS.points]) : [];
  const problems = problemRows.map((r) => ({
    id: r.id, title: clean(r.title, 200), status: r.status, score: Number(r.score), appeals: r.appeal_count, inPeriod: r.in_period,
    district: r.district ? clean(r.district, 80) : null, theme: r.theme ? clean(r.theme, 80) : null, hull: JSON.parse(r.hull), center: [r.cx, r.cy] as [number, number],
    points: pts.filter((x) => x.problem_id === r.id).map((x) => [x.x, x.y] as [number, number]),
    context: [] as [number, number][],
  }));
  // Other appeals of the period around each mapped problem (grey dots: what else people wrote about nearby).
  for (const pr of problems.slice(0, LIMITS.problemMaps)) {
    const f = problemFrame(pr);
    const near = await query<{ x: number; y: number }>(em, `SELECT ST_X(a.point) AS x, ST_Y(a.point) AS y FROM appeal a
      WHERE ${sc.sql} AND a.received_at >= ?::timestamptz AND a.received_at < ?::timestamptz AND a.point && ST_MakeEnvelope(?, ?, ?, ?, 4326) LIMIT ?`,
    [...sc.params, b.p1, b.p2, f.minX, f.minY, f.maxX, f.maxY, LIMITS.context]);
    pr.context = near.map((x) => [x.x, x.y]);
  }

  // Risk cards whose rise overlaps the period.
  const rs = scopeWhere(p, 's');
  const riskRows = await query<{ id: number; kind: string; title: string; method: string; method_note: string | null; started_on: string; last_on: string; observed: number;
    expected: number | null; upperbound: number | null; status: string; n: number; series: { date: string; observed: number; upperbound: number | null; alarm: boolean }[]; total: number }>(em, `
    SELECT s.id, s.kind, s.title, s.method, s.method_note, to_char(s.started_on, 'YYYY-MM-DD') AS started_on, to_char(s.last_on, 'YYYY-MM-DD') AS last_on,
           s.observed, s.expected, s.upperbound, s.status, cardinality(s.appeal_ids) AS n, s.series, count(*) OVER ()::int AS total
      FROM risk_signal s
     WHERE s.municipality_id = ? AND s.started_on <= ?::date AND s.last_on >= ?::date${rs.sql}
     ORDER BY (s.status = 'FALSE_ALARM'), s.observed - coalesce(s.expected, 0) DESC, s.id LIMIT ?`, [p.municipalityId, p.to, p.from, ...rs.params, LIMITS.risks]);
  const risks = riskRows.map((r) => ({
    id: r.id, kind: r.kind, title: clean(r.title, 200), method: clean(r.method, 80), methodNote: r.method_note ? clean(r.method_note, 300) : null,
    startedOn: r.started_on, lastOn: r.last_on, observed: r.observed, expected: r.expected == null ? null : Number(r.expected),
    upperbound: r.upperbound == null ? null : Number(r.upperbound), status: r.status, appeals: r.n,
    series: (Array.isArray(r.series) ? r.series : []).slice(-60).map((x) => ({ date: String(x.date), observed: Number(x.observed) || 0, upperbound: x.upperbound == null ? null : Number(x.upperbound), alarm: !!x.alarm })),
  }));

  // The rating of bodies over the same dates (server/rating); a block's report rates within the block.
  const rating = await ratingOf(em, p);

  // Recommendations accepted for the period.
  const recs = await query<{ id: number; rule_code: string; text: string; org: string | null; decided_by: string | null; decided_at: Date | null }>(em, `
    SELECT r.id, r.rule_code, coalesce(r.edited_text, r.text) AS text, o.name AS org, r.decided_by, r.decided_at
      FROM recommendation r LEFT JOIN organization o ON o.id = r.organization_id
     WHERE r.municipality_id = ? AND r.status = 'ACCEPTED'
       AND ((r.period_from <= ?::date AND r.period_to >= ?::date) OR (r.decided_at >= ?::timestamptz AND r.decided_at < ?::timestamptz))${scopeWhere(p, 'r').sql}
     ORDER BY r.decided_at DESC NULLS LAST, r.id DESC LIMIT ?`, [p.municipalityId, p.to, p.from, b.p1, b.p2, ...scopeWhere(p, 'r').params, LIMITS.recommendations]);
  const recommendations = recs.map((r) => ({ id: r.id, rule: r.rule_code, text: clean(r.text, 1500), organization: r.org ? clean(r.org, 200) : null,
    decidedBy: r.decided_by ? clean(r.decided_by, 80) : null, decidedAt: r.decided_at ? new Date(r.decided_at).toISOString().slice(0, 10) : null }));

  return {
    params: p, municipality: { name: clean(mun.name), timezone: tz, population: mun.population },
    scopeName: (await scopeName(em, p.municipalityId, p.scopeKind, p.scopeId)) ?? '—',
    population, populationNote, prevFrom, prevTo, days, cur, prev, series, seriesUnit, themes, districts, problems,
    risks, risksTotal: riskRows[0]?.total ?? 0, rating, recommendations, generatedAt: now,
  };
}

async function ratingOf(em: EntityManager, p: ReportParams): Promise<ReportData['rating']> {
  const svc = new RatingService(em, { municipalityId: p.municipalityId, actor: 'system:report' });
  const r = await svc.rating({ kind: 'CUSTOM', start: p.from, end: p.to }, p.scopeKind === 'BLOCK' ? p.scopeId : null);
  // Organisations without appeals in the period have nothing to show in a report on appeals.
  let rows = r.rows.filter((x) => x.agg.received > 0);
  let note: string | null = null;
  if (p.scopeKind === 'ORGANIZATION') {
    const sub = await query<{ id: number }>(em, ORG_SUBTREE.slice(1, -1), [p.scopeId]);
    const ids = new Set(sub.map((x) => x.id));
    rows = rows.filter((x) => ids.has(x.organizationId));
    note = 'Места — в общем рейтинге органов и организаций города.';
  } else if (p.scopeKind === 'DISTRICT') {
    note = 'Рейтинг органов ведётся по городу в целом (по всем районам).';
  } else if (p.scopeKind === 'BLOCK') {
    note = 'Рейтинг — по обращениям тем блока.';
  }
  const share = (n: number, d: number) => (d > 0 ? n / d : null);
  return {
    note, minAppeals: r.settings.minAppeals, total: rows.length,
    rows: rows.slice(0, LIMITS.rating).map((x) => ({
      rank: x.rank, name: clean(x.shortName || x.name, 120), score: x.score, rankChange: x.rankChange, received: x.agg.received,
      onTime: share(x.agg.onTime, x.agg.dueJudged), formal: share(x.agg.formal, x.agg.judged), satisfied: share(x.agg.satisfied, x.agg.rated), ranked: x.ranked,
    })),
  };
}
