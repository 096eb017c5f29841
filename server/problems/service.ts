import { GraphQLError } from 'graphql';
import { Role } from '../auth/roles.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { THEME_SUBTREE_SQL } from '../appeals/filter.js';
import { parseIds } from '../graphql/ids.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { scopeSql, type RowScope } from '../auth/scope.js';
import { detectProblems, checkPeriod, rescore, type RunResult } from './detect.js';
import { checkDetection, checkWeights, loadSettings, type ProblemSettings } from './settings.js';
import {
  ProblemOrder, ProblemStatus, STATUS_LABELS, TRANSITIONS, type Problem, type ProblemEvent, type ProblemFilter, type ProblemRun,
  type ProblemSnapshot, type ProblemSource, type DetectionSettingInput, type WeightsInput,
} from './types.js';

const DAY_MS = 86_400_000;
const MAX_PAGE = 500;
const MAX_COMMENT = 2000;

export const PROBLEM_COLUMNS = `p.id, p.title, p.source, p.status, p.active, p.theme_id, p.district_id, p.organization_id, p.score,
  p.rank_city, p.rank_district, p.breakdown, p.appeal_count, p.author_count, p.factors,
  ST_AsGeoJSON(p.hull, 6)::json AS hull, ST_AsGeoJSON(p.center, 6)::json AS center,
  p.period_from, p.period_to, p.first_seen_at, p.last_seen_at, p.first_appeal_at, p.last_appeal_at,
  p.reopened_count, p.reopened_at, p.resolved_at, to_char(p.plan_due_at, 'YYYY-MM-DD') AS plan_due_at`;

export interface ProblemRow {
  id: number; title: string; source: ProblemSource; status: ProblemStatus; active: boolean;
  theme_id: number | null; district_id: number | null; organization_id: number | null; score: number;
  rank_city: number | null; rank_district: number | null; breakdown: Problem['breakdown']; appeal_count: number; author_count: number;
  factors: { growth?: number }; hull: object; center: object; period_from: string; period_to: string; first_seen_at: string; last_seen_at: string;
  first_appeal_at: string | null; last_appeal_at: string | null; reopened_count: number; reopened_at: string | null; resolved_at: string | null;
  plan_due_at: string | null;
}

const date = (v: string | Date | null) => (v == null ? null : new Date(v));

export function toProblem(r: ProblemRow): Problem {
  return {
    id: String(r.id), title: r.title, source: r.source, status: r.status, statusLabel: STATUS_LABELS[r.status], active: r.active,
    themeId: r.theme_id, districtId: r.district_id, organizationId: r.organization_id, score: Number(r.score),
    rankCity: r.rank_city, rankDistrict: r.rank_district, breakdown: r.breakdown ?? [], appealCount: r.appeal_count, authorCount: r.author_count,
    growth: Number(r.factors?.growth ?? 0), hull: r.hull, center: r.center,
    periodFrom: new Date(r.period_from), periodTo: new Date(r.period_to), firstSeenAt: new Date(r.first_seen_at), lastSeenAt: new Date(r.last_seen_at),
    firstAppealAt: date(r.first_appeal_at), lastAppealAt: date(r.last_appeal_at), reopenedCount: r.reopened_count,
    reopenedAt: date(r.reopened_at), resolvedAt: date(r.resolved_at), planDueAt: r.plan_due_at,
  };
}

const ORDER_SQL: Record<ProblemOrder, string> = {
  SCORE: 'p.score DESC, p.id',
  APPEALS: 'p.appeal_count DESC, p.id',
  GROWTH: "(p.factors->>'growth')::float8 DESC NULLS LAST, p.id",
  FIRST_SEEN: 'p.first_seen_at DESC, p.id',
  LAST_APPEAL: 'p.last_appeal_at DESC NULLS LAST, p.id',
};

export interface ProblemWhere { sql: string; params: unknown[] }

/** WHERE over `problem p` for a filter (validated, with clear errors). */
export function problemWhere(f: ProblemFilter | undefined | null, defaultMunicipalityId: number, scope?: RowScope): ProblemWhere {
  const parts: string[] = ['p.municipality_id = ?'];
  const params: unknown[] = [f?.municipalityId ? parseIds('filter.municipalityId', [f.municipalityId])![0] : defaultMunicipalityId];
  if (scope) {
    // BLOCK_LEAD sees the problems of their block's themes, ORG_OFFICER those of their organisation.
    const sc = scopeSql(scope, 'p');
    parts.push(sc.sql); params.push(...sc.params);
  }
  const ids = (field: keyof ProblemFilter) => parseIds(`filter.${field}`, f?.[field] as string[] | undefined);
  const active = f?.active ?? true;
  parts.push(active ? 'p.active' : 'NOT p.active');
  const d = ids('districtIds');
  if (d) { parts.push('p.district_id = ANY(?::int[])'); params.push(d); }
  const t = ids('themeIds');
  if (t) { parts.push(`p.theme_id IN ${THEME_SUBTREE_SQL}`); params.push(t); }
  const o = ids('organizationIds');
  if (o) { parts.push('p.organization_id = ANY(?::int[])'); params.push(o); }
  if (f?.statuses?.length) { parts.push('p.status = ANY(?::text[])'); params.push(f.statuses); }
  if (f?.sources?.length) { parts.push('p.source = ANY(?::text[])'); params.push(f.sources); }
  if (f?.minScore != null) {
    if (!Number.isFinite(f.minScore) || f.minScore < 0 || f.minScore > 100) throw new InputError('filter.minScore', `балл — от 0 до 100, получено ${f.minScore}`);
    parts.push('p.score >= ?'); params.push(f.minScore);
  }
  if (f?.bbox) {
    const b = f.bbox;
    for (const [k, v, lim] of [['minLon', b.minLon, 180], ['maxLon', b.maxLon, 180], ['minLat', b.minLat, 90], ['maxLat', b.maxLat, 90]] as const) {
      if (!Number.isFinite(v) || Math.abs(v) > lim) throw new InputError(`filter.bbox.${k}`, `координата ${v} вне диапазона ±${lim}`);
    }
    if (b.minLon > b.maxLon || b.minLat > b.maxLat) throw new InputError('filter.bbox', 'минимум прямоугольника больше максимума (перепутаны углы?)');
    parts.push('p.hull && ST_MakeEnvelope(?, ?, ?, ?, 4326)'); params.push(b.minLon, b.minLat, b.maxLon, b.maxLat);
  }
  if (f?.from) { parts.push('p.last_appeal_at >= ?'); params.push(f.from); }
  if (f?.to) { parts.push('p.first_seen_at < ?'); params.push(f.to); }
  if (f?.text) {
    if (f.text.length > 200) throw new InputError('filter.text', 'строка поиска длиннее 200 символов');
    if (f.text.includes('\u0000')) throw new InputError('filter.text', 'строка поиска содержит нулевой символ (0x00)');
    parts.push("p.title ILIKE ? ESCAPE '\\'"); params.push(`%${f.text.replace(/[\\%_]/g, (c) => '\\' + c)}%`);
  }
  return { sql: parts.join(' AND '), params };
}

export function encodeOffset(n: number) { return Buffer.from(`o:${n}`).toString('base64url'); }
export function decodeOffset(c: string | undefined | null): number {
  if (!c) return 0;
  const m = /^o:(\d{1,7})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new InputError('after', 'неверный курсор страницы');
  return Number(m[1]);
}

/** Who acts on problems: the request's user (or a named job), in their municipality and row scope. */
export interface ProblemActor extends AuditActor {
  actor: string;
  scope?: RowScope;
}

/** The statuses an ORG_OFFICER may set on a problem of their organisation (see the README's role table). */
export const OFFICER_PROBLEM_STATUSES: ProblemStatus[] = [ProblemStatus.IN_PROGRESS, ProblemStatus.PLANNED];

export class ProblemService {
  private readonly municipalityId: number;
  private readonly actor: string;
  private readonly scope?: RowScope;

  constructor(private readonly em: EntityManager, private readonly who: ProblemActor) {
    this.municipalityId = who.municipalityId;
    this.actor = who.actor;
    this.scope = who.scope;
  }

  async list(filter: ProblemFilter | undefined, order: ProblemOrder, first: number, after?: string | null) {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new InputError('first', `размер страницы — от 0 до ${MAX_PAGE}, получено ${first}`);
    const w = problemWhere(filter, this.municipalityId, this.scope);
    const offset = decodeOffset(after);
    const [rows, [count]] = await Promise.all([
      query<ProblemRow>(this.em, `SELECT ${PROBLEM_COLUMNS} FROM problem p WHERE ${w.sql} ORDER BY ${ORDER_SQL[order]} LIMIT ? OFFSET ?`, [...w.params, first + 1, offset]),
      query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM problem p WHERE ${w.sql}`, w.params),
    ]);
    const page = rows.slice(0, first).map(toProblem);
    return {
      edges: page.map((node, i) => ({ cursor: encodeOffset(offset + i + 1), node })),
      totalCount: count.n,
      hasNextPage: rows.length > first,
      endCursor: page.length ? encodeOffset(offset + page.length) : null,
    };
  }

  /** Every problem of a filter (exports), in the order asked. */
  async all(filter: ProblemFilter | undefined, order: ProblemOrder = ProblemOrder.SCORE, limit = 10_000): Promise<ProblemRow[]> {
    const w = problemWhere(filter, this.municipalityId, this.scope);
    return query<ProblemRow>(this.em, `SELECT ${PROBLEM_COLUMNS} FROM problem p WHERE ${w.sql} ORDER BY ${ORDER_SQL[order]} LIMIT ?`, [...w.params, limit]);
  }

  async get(id: string | number): Promise<Problem | null> {
    const n = parseIds('id', [String(id)])![0];
    const sc = this.scope ? scopeSql(this.scope, 'p') : { sql: 'true', params: [] };
    const [r] = await query<ProblemRow>(this.em, `SELECT ${PROBLEM_COLUMNS} FROM problem p WHERE p.id = ? AND p.municipality_id = ? AND ${sc.sql}`,
      [n, this.municipalityId, ...sc.params]);
    return r ? toProblem(r) : null;
  }

  private async mustGet(id: string): Promise<Problem> {
    const p = await this.get(id);
    if (!p) throw new InputError('id', `проблема ${id} не найдена`);
    return p;
  }

  async history(problemId: number): Promise<ProblemSnapshot[]> {
    const rows = await query<{ run_id: number; at: string; appeal_count: number; author_count: number; score: number }>(this.em,
      'SELECT run_id, at, appeal_count, author_count, score FROM problem_snapshot WHERE problem_id = ? ORDER BY at, run_id', [problemId]);
    return rows.map((r) => ({ runId: String(r.run_id), at: new Date(r.at), appealCount: r.appeal_count, authorCount: r.author_count, score: Number(r.score) }));
  }

  async events(problemId: number): Promise<ProblemEvent[]> {
    const rows = await query<{ id: number; at: string; actor: string; kind: string; from_value: string | null; to_value: string | null; comment: string | null }>(this.em,
      'SELECT id, at, actor, kind, from_value, to_value, comment FROM problem_event WHERE problem_id = ? ORDER BY at, id', [problemId]);
    return rows.map((r) => ({ id: String(r.id), at: new Date(r.at), actor: r.actor, kind: r.kind, fromValue: r.from_value, toValue: r.to_value, comment: r.comment }));
  }

  async runs(first = 20, id?: number): Promise<ProblemRun[]> {
    const rows = await query<Record<string, any>>(this.em,
      `SELECT * FROM problem_run WHERE municipality_id = ? ${id != null ? 'AND id = ?' : ''} ORDER BY started_at DESC, id DESC LIMIT ?`,
      [this.municipalityId, ...(id != null ? [id] : []), Math.min(Math.max(first, 1), 200)]);
    return rows.map((r) => ({
      id: String(r.id), kind: r.kind, periodFrom: new Date(r.period_from), periodTo: new Date(r.period_to), startedAt: new Date(r.started_at),
      finishedAt: new Date(r.finished_at), appeals: r.appeals, clusters: r.clusters, created: r.created, matched: r.matched,
      vanished: r.vanished, reopened: r.reopened, actor: r.actor,
    }));
  }

  /** Default period: the configured number of days up to now. */
  async defaultPeriod(): Promise<{ from: Date; to: Date }> {
    const s = await loadSettings(this.em, this.municipalityId);
    const to = new Date();
    return { from: new Date(to.getTime() - s.windowDays * DAY_MS), to };
  }

  async recompute(from?: Date | null, to?: Date | null): Promise<RunResult> {
    const d = await this.defaultPeriod();
    const period = { from: from ?? (to ? new Date(to.getTime() - (d.to.getTime() - d.from.getTime())) : d.from), to: to ?? d.to };
    checkPeriod(period.from, period.to);
    return detectProblems(this.em, { municipalityId: this.municipalityId, ...period, actor: this.actor });
  }

  /**
   * After an import: recluster around the new or changed appeals, in the period of the latest full run (slid to
   * end now). Without appeal ids (an import so large that the windows around its appeals cover the city), a full
   * recompute of that period.
   */
  async recomputeAround(appealIds: number[] | 'all'): Promise<RunResult | null> {
    if (!appealIds.length) return null;
    const [last] = await query<{ period_from: string; period_to: string }>(this.em,
      `SELECT period_from, period_to FROM problem_run WHERE municipality_id = ? AND kind = 'FULL' ORDER BY started_at DESC, id DESC LIMIT 1`, [this.municipalityId]);
    if (!last) return null; // no list yet: nothing to keep up to date
    const len = new Date(last.period_to).getTime() - new Date(last.period_from).getTime();
    // A sliding window keeps its length and ends now (or at the old end if that is later).
    const to = new Date(Math.max(Date.now(), new Date(last.period_to).getTime()));
    return detectProblems(this.em, { municipalityId: this.municipalityId, from: new Date(to.getTime() - len), to, actor: this.actor, ...(appealIds === 'all' ? {} : { appealIds }) });
  }

  private async event(em: EntityManager, problemId: string, kind: string, from: string | null, to: string | null, comment: string | null) {
    await query(em, `INSERT INTO problem_event (municipality_id, problem_id, at, actor, kind, from_value, to_value, comment) VALUES (?, ?, now(), ?, ?, ?, ?, ?)`,
      [this.municipalityId, Number(problemId), this.actor, kind, from, to, comment]);
  }

  private checkComment(comment: string | null | undefined): string | null {
    if (comment == null || comment.trim() === '') return null;
    if (comment.length > MAX_COMMENT) throw new InputError('comment', `комментарий длиннее ${MAX_COMMENT} символов`);
    return comment.trim();
  }

  async setStatus(id: string, status: ProblemStatus, commentArg?: string | null): Promise<Problem> {
    const p = await this.mustGet(id);
    const comment = this.checkComment(commentArg);
    if (p.status === status) return p;
    if (!TRANSITIONS[p.status].includes(status)) {
      throw new InputError('status', `нельзя перевести проблему из «${STATUS_LABELS[p.status]}» в «${STATUS_LABELS[status]}»; можно: ${TRANSITIONS[p.status].map((s) => `«${STATUS_LABELS[s]}»`).join(', ')}`);
    }
    // An organisation's officer works on the problems of their organisation: takes one into work and reports it
    // planned (IN_PROGRESS, PLANNED); confirming, rejecting and resolving are the centre's decisions.
    if (this.who.user?.role === Role.ORG_OFFICER && !OFFICER_PROBLEM_STATUSES.includes(status)) {
      throw new GraphQLError(`сотрудник организации переводит проблему только в статусы ${OFFICER_PROBLEM_STATUSES.map((s) => `«${STATUS_LABELS[s]}»`).join(', ')}; «${STATUS_LABELS[status]}» устанавливает МЦУ`, { extensions: { code: 'FORBIDDEN', field: 'status' } });
    }
    if (status === ProblemStatus.REJECTED && !comment) throw new InputError('comment', 'при отклонении проблемы укажите причину в комментарии');
    await this.em.transactional(async (em) => {
      await query(em, `UPDATE problem SET status = ?, resolved_at = CASE WHEN ? = 'RESOLVED' THEN now() ELSE NULL END, updated_at = now() WHERE id = ?`, [status, status, Number(id)]);
      await this.event(em, id, 'STATUS', p.status, status, comment);
      await audit(em, this.who, { entity: 'problem', entityId: id, action: 'status', before: { status: p.status }, after: { status, comment } });
    });
    return (await this.get(id))!;
  }

  async assign(id: string, organizationId: string, commentArg?: string | null): Promise<Problem> {
    const p = await this.mustGet(id);
    const comment = this.checkComment(commentArg);
    const orgId = parseIds('organizationId', [organizationId])![0];
    const [org] = await query<{ id: number }>(this.em, 'SELECT id FROM organization WHERE id = ? AND municipality_id = ?', [orgId, this.municipalityId]);
    if (!org) throw new InputError('organizationId', `организация ${organizationId} не найдена`);
    if (p.organizationId === orgId) return p;
    await this.em.transactional(async (em) => {
      await query(em, 'UPDATE problem SET organization_id = ?, updated_at = now() WHERE id = ?', [orgId, Number(id)]);
      await this.event(em, id, 'ORGANIZATION', p.organizationId == null ? null : String(p.organizationId), String(orgId), comment);
      await audit(em, this.who, { entity: 'problem', entityId: id, action: 'assign', before: { organizationId: p.organizationId }, after: { organizationId: orgId, comment } });
    });
    return (await this.get(id))!;
  }

  async comment(id: string, commentArg: string): Promise<Problem> {
    await this.mustGet(id);
    const comment = this.checkComment(commentArg);
    if (!comment) throw new InputError('comment', 'пустой комментарий');
    await this.em.transactional(async (em) => {
      await this.event(em, id, 'COMMENT', null, null, comment);
      await audit(em, this.who, { entity: 'problem', entityId: id, action: 'comment', after: { comment } });
    });
    return (await this.get(id))!;
  }

  async setPlanDue(id: string, due: string | null, commentArg?: string | null): Promise<Problem> {
    const p = await this.mustGet(id);
    const comment = this.checkComment(commentArg);
    if (due != null && (!/^\d{4}-\d{2}-\d{2}$/.test(due) || Number.isNaN(Date.parse(due + 'T00:00:00Z')) || new Date(due + 'T00:00:00Z').toISOString().slice(0, 10) !== due)) {
      throw new InputError('planDueAt', `плановый срок — дата ГГГГ-ММ-ДД, получено «${due}»`);
    }
    await this.em.transactional(async (em) => {
      await query(em, 'UPDATE problem SET plan_due_at = ?::date, updated_at = now() WHERE id = ?', [due, Number(id)]);
      await this.event(em, id, 'PLAN_DUE', p.planDueAt, due, comment);
      await audit(em, this.who, { entity: 'problem', entityId: id, action: 'plan_due', before: { planDueAt: p.planDueAt }, after: { planDueAt: due, comment } });
    });
    return (await this.get(id))!;
  }

  settings(): Promise<ProblemSettings> {
    return loadSettings(this.em, this.municipalityId);
  }

  /** Saves detection parameters and/or weights; new weights rescore the list at once. */
  async updateSettings(detection: DetectionSettingInput | undefined, weights: WeightsInput | undefined, windowDays?: number, curHotThreshold?: number): Promise<ProblemSettings> {
    const w = weights ? checkWeights({ ...weights }) : undefined;
    if (w && Object.keys(w).length && Object.values({ ...(await this.settings()).weights, ...w }).every((v) => v === 0)) {
      throw new InputError('weights', 'хотя бы один вес должен быть больше нуля');
    }
    if (windowDays != null && (!Number.isInteger(windowDays) || windowDays < 1 || windowDays > 3660)) throw new InputError('windowDays', `период — от 1 до 3660 дней, получено ${windowDays}`);
    if (curHotThreshold != null && (!Number.isFinite(curHotThreshold) || curHotThreshold <= 0 || curHotThreshold > 1)) throw new InputError('curHotThreshold', `порог — от 0 до 1, получено ${curHotThreshold}`);
    let themeId: number | null = null;
    if (detection) {
      checkDetection('detection', detection.epsMeters, detection.minPoints, detection.densityFactor ?? 3);
      if (detection.themeId) {
        themeId = parseIds('detection.themeId', [detection.themeId])![0];
        const [t] = await query(this.em, 'SELECT id FROM theme WHERE id = ? AND municipality_id = ?', [themeId, this.municipalityId]);
        if (!t) throw new InputError('detection.themeId', `тема ${detection.themeId} не найдена`);
      }
    }
    const cur = await this.settings();
    await this.em.transactional(async (em) => {
      // The default row always exists once anything is saved.
      await query(em, `INSERT INTO problem_setting (municipality_id, theme_id, eps_meters, min_points, density_factor)
        SELECT ?, NULL, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM problem_setting WHERE municipality_id = ? AND theme_id IS NULL)`,
        [this.municipalityId, cur.defaults.epsMeters, cur.defaults.minPoints, cur.defaults.densityFactor, this.municipalityId]);
      if (detection) {
        await query(em, `INSERT INTO problem_setting (municipality_id, theme_id, eps_meters, min_points, density_factor) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (municipality_id, coalesce(theme_id, 0)) DO UPDATE SET eps_meters = EXCLUDED.eps_meters, min_points = EXCLUDED.min_points,
            density_factor = EXCLUDED.density_factor, updated_at = now()`,
          [this.municipalityId, themeId, detection.epsMeters, detection.minPoints, detection.densityFactor ?? 3]);
      }
      await query(em, `UPDATE problem_setting SET weights = coalesce(weights, '{}'::jsonb) || ?::jsonb, window_days = coalesce(?, window_days),
          cur_hot_threshold = coalesce(?, cur_hot_threshold), updated_at = now() WHERE municipality_id = ? AND theme_id IS NULL`,
        [JSON.stringify(w ?? {}), windowDays ?? null, curHotThreshold ?? null, this.municipalityId]);
      await audit(em, this.who, { entity: 'problem_setting', action: 'update', before: cur, after: { detection, weights: w, windowDays, curHotThreshold } });
      if (w && Object.keys(w).length) await rescore(em, this.municipalityId, await loadSettings(em, this.municipalityId), null, new Date(), []);
    });
    return this.settings();
  }
}
