import { Field, Float, ID, InputType } from 'type-graphql';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { Channel } from '../reference/entities.js';
import { AppealStatus } from './entities.js';
import { AnswerVerdict } from '../quality/verdict.js';
import { scopeOf, scopeSql, type RowScope } from '../auth/scope.js';
import type { AuthUser } from '../auth/users.js';
import { municipalityArg } from '../graphql/municipality.js';
import { DeadlineState, deadlineStateSql } from '../deadlines/state.js';

@InputType({ description: 'Прямоугольник на карте, EPSG:4326' })
export class BBoxInput {
  @Field(() => Float) minLon!: number;
  @Field(() => Float) minLat!: number;
  @Field(() => Float) maxLon!: number;
  @Field(() => Float) maxLat!: number;
}

@InputType({ description: 'Не дальше radiusMeters метров от точки' })
export class NearInput {
  @Field(() => Float) lon!: number;
  @Field(() => Float) lat!: number;
  @Field(() => Float) radiusMeters!: number;
}

@InputType({ description: 'Отбор обращений; все условия соединяются через И' })
export class AppealFilter {
  @Field(() => ID, { nullable: true, description: 'Муниципальное образование (по умолчанию — основное)' }) municipalityId?: string;
  @Field({ nullable: true, description: 'Поступило не раньше' }) from?: Date;
  @Field({ nullable: true, description: 'Поступило раньше' }) to?: Date;
  @Field(() => [ID], { nullable: true }) districtIds?: string[];
  @Field(() => [ID], { nullable: true, description: 'Темы; тема-раздел включает все свои подтемы' }) themeIds?: string[];
  @Field(() => [Channel], { nullable: true }) channels?: Channel[];
  @Field(() => [AppealStatus], { nullable: true }) statuses?: AppealStatus[];
  @Field(() => [ID], { nullable: true }) organizationIds?: string[];
  @Field(() => BBoxInput, { nullable: true }) bbox?: BBoxInput;
  @Field(() => NearInput, { nullable: true }) near?: NearInput;
  @Field({ nullable: true, description: 'Полнотекстовый поиск по тексту и адресу (русская морфология)' }) text?: string;
  @Field({ nullable: true, description: 'true — только ожидающие ручной проверки темы (очередь сортировки)' }) triage?: boolean;
  @Field(() => [String], { nullable: true, description: 'Статусы места: UNRESOLVED — очередь проверки адресов; POINT, SWAPPED_FIXED, GEOCODED, OUTSIDE, MANUAL, NONE' })
  placeStatuses?: string[];
  @Field(() => ID, { nullable: true, description: 'Загружены или изменены пакетом импорта' }) batchId?: string;
  @Field({ nullable: true, description: 'true — только дубликаты, false — без дубликатов' }) duplicates?: boolean;
  @Field({ nullable: true, description: 'true — только повторные обращения того же автора' }) repeats?: boolean;
  @Field(() => ID, { nullable: true, description: 'Обращения проблемы из перечня проблем территории' }) problemId?: string;
  @Field(() => [DeadlineState], { nullable: true, description: 'Состояние срока ответа сейчас: в срок, под угрозой, просрочено, ответ в срок / с опозданием' })
  deadlineStates?: DeadlineState[];
  @Field({ nullable: true, description: 'true — только срочные, false — только несрочные' }) urgent?: boolean;
  @Field(() => AnswerVerdict, { nullable: true, description: 'Оценка ответа: FORMAL — отписки, SUBSTANTIVE — ответы по существу (server/quality)' }) answerQuality?: AnswerVerdict;
}

const PLACE_STATUSES = ['POINT', 'SWAPPED_FIXED', 'GEOCODED', 'OUTSIDE', 'UNRESOLVED', 'MANUAL', 'NONE'];

/** A WHERE clause over `appeal a` with `?` placeholders, ready for em.execute. */
export interface SqlWhere {
  sql: string;
  params: unknown[];
}

const MAX_RADIUS_M = 100_000;
const MAX_TEXT = 500;

function checkLonLat(field: string, lon: number, lat: number) {
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) throw new InputError(`${field}`, `долгота ${lon} вне диапазона −180…180`);
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw new InputError(`${field}`, `широта ${lat} вне диапазона −90…90`);
}


/** Validated filter with numeric ids: what the SQL builder consumes. */
export interface ParsedFilter {
  municipalityId: number;
  /** The caller named the municipality (so it must be checked to exist). */
  municipalityExplicit?: boolean;
  from?: Date;
  to?: Date;
  districtIds?: number[];
  themeIds?: number[];
  organizationIds?: number[];
  channels?: Channel[];
  statuses?: AppealStatus[];
  bbox?: BBoxInput;
  near?: NearInput;
  text?: string;
  triage?: boolean;
  placeStatuses?: string[];
  batchId?: number;
  duplicates?: boolean;
  repeats?: boolean;
  problemId?: number;
  deadlineStates?: DeadlineState[];
  urgent?: boolean;
  answerQuality?: AnswerVerdict;
  /** The rows the signed-in user may see (server/auth/scope.ts); absent = no restriction (CLI, system jobs). */
  scope?: RowScope;
}

/** Who asks: the GraphQL context (its user's row scope applies) or, for system code, just a municipality id. */
export type FilterOwner = number | { municipalityId: number; user?: AuthUser; municipalityIds?: number[] };

/** Checks everything that can be checked without the database. */
export function parseFilter(f: AppealFilter | undefined | null, owner: FilterOwner, at = 'filter'): ParsedFilter {
  const out: ParsedFilter = typeof owner === 'number' ? { municipalityId: owner } : { municipalityId: owner.municipalityId };
  if (typeof owner !== 'number' && owner.user) out.scope = scopeOf(owner.user);
  if (!f) return out;
  if (f.municipalityId != null) {
    out.municipalityId = typeof owner === 'number'
      ? parseIds(`${at}.municipalityId`, [f.municipalityId])![0]
      : municipalityArg({ municipalityIds: [owner.municipalityId], ...owner }, f.municipalityId, 'read', `${at}.municipalityId`);
    out.municipalityExplicit = true;
    // A regional role reading another municipality of its region: its row scope is that municipality.
    if (out.scope) out.scope = { ...out.scope, municipalityId: out.municipalityId };
  }
  // Dates outside what PostgreSQL and the calendar of the centre make sense of (year 0, 275760…): a clear error.
  for (const k of ['from', 'to'] as const) {
    const d = f[k];
    if (d == null) continue;
    const y = d instanceof Date ? d.getUTCFullYear() : NaN;
    if (!Number.isFinite(y) || y < 1900 || y > 2200) throw new InputError(`${at}.${k}`, 'дата вне допустимого диапазона (1900–2200 годы)');
  }
  if (f.from && f.to && f.from > f.to) throw new InputError(`${at}.from`, 'начало периода позже его конца');
  out.from = f.from;
  out.to = f.to;
  out.districtIds = parseIds(`${at}.districtIds`, f.districtIds);
  out.themeIds = parseIds(`${at}.themeIds`, f.themeIds);
  out.organizationIds = parseIds(`${at}.organizationIds`, f.organizationIds);
  out.channels = f.channels;
  out.statuses = f.statuses;
  if (f.bbox) {
    const b = f.bbox;
    checkLonLat(`${at}.bbox.minLon`, b.minLon, b.minLat);
    checkLonLat(`${at}.bbox.maxLon`, b.maxLon, b.maxLat);
    if (b.minLon > b.maxLon) throw new InputError(`${at}.bbox.minLon`, 'minLon больше maxLon');
    if (b.minLat > b.maxLat) throw new InputError(`${at}.bbox.minLat`, 'minLat больше maxLat');
    out.bbox = b;
  }
  if (f.near) {
    const n = f.near;
    checkLonLat(`${at}.near`, n.lon, n.lat);
    if (!Number.isFinite(n.radiusMeters) || n.radiusMeters <= 0)
      throw new InputError(`${at}.near.radiusMeters`, `радиус должен быть больше нуля, получено ${n.radiusMeters}`);
    if (n.radiusMeters > MAX_RADIUS_M) throw new InputError(`${at}.near.radiusMeters`, `радиус не более ${MAX_RADIUS_M} м`);
    out.near = n;
  }
  if (f.text != null) {
    if (f.text.includes('\u0000')) throw new InputError(`${at}.text`, 'строка поиска содержит нулевой символ (0x00)');
    const t = f.text.trim();
    if (t.length > MAX_TEXT) throw new InputError(`${at}.text`, `строка поиска длиннее ${MAX_TEXT} символов`);
    if (t) out.text = t;
  }
  if (f.triage != null) out.triage = f.triage;
  if (f.placeStatuses) {
    f.placeStatuses.forEach((p, i) => {
      if (!PLACE_STATUSES.includes(p)) throw new InputError(`${at}.placeStatuses[${i}]`, `неизвестный статус места «${p.slice(0, 30)}»; допустимы: ${PLACE_STATUSES.join(', ')}`);
    });
    out.placeStatuses = f.placeStatuses;
  }
  if (f.batchId != null) out.batchId = parseIds(`${at}.batchId`, [f.batchId])![0];
  if (f.duplicates != null) out.duplicates = f.duplicates;
  if (f.repeats != null) out.repeats = f.repeats;
  if (f.problemId != null) out.problemId = parseIds(`${at}.problemId`, [f.problemId])![0];
  if (f.deadlineStates) out.deadlineStates = [...new Set(f.deadlineStates)];
  if (f.urgent != null) out.urgent = f.urgent;
  if (f.answerQuality != null) {
    if (!Object.values(AnswerVerdict).includes(f.answerQuality)) throw new InputError(`${at}.answerQuality`, 'допустимы FORMAL (отписка) и SUBSTANTIVE (по существу)');
    out.answerQuality = f.answerQuality;
  }
  return out;
}

/**
 * Whether results over this filter may be cached per data version (server/db/result-cache.ts): not when they depend
 * on the clock (deadline states are "now") or on tables the data version does not follow (problem membership, answer
 * verdicts).
 */
export function cacheableFilter(f: ParsedFilter): boolean {
  return !f.deadlineStates && f.problemId == null && !f.answerQuality;
}

/** The ids of the themes bound to `?` (an int[]) and all their subthemes, as a parenthesised subquery. */
export const THEME_SUBTREE_SQL = `(WITH RECURSIVE sub AS (SELECT id FROM theme WHERE id = ANY(?::int[])
                 UNION SELECT t.id FROM theme t JOIN sub ON t.parent_id = sub.id) SELECT id FROM sub)`;

/** Variants of the WHERE clause for the point layer (server/appeals/points.ts); the default is the plain filter. */
export interface FilterSqlOptions {
  /**
   * Without the municipality: ONLY for the planner's estimate of the rows a viewport holds (EXPLAIN, never run). The
   * planner multiplies the municipality's share of the table by the viewport's share of the whole table, though a
   * viewport lies in one municipality: in a region of N municipalities that estimate is N times too low.
   */
  estimateOnly?: boolean;
  /**
   * The bounding box as a plain row filter that no index can serve: when a viewport holds many more rows than asked
   * for, the newest ones are found soonest by reading (municipality_id, received_at DESC) in order and stopping early.
   */
  bboxAsFilter?: boolean;
}

/** Builds the WHERE clause (alias `a` for appeal). Values are always bound, never spliced. */
export function filterSql(f: ParsedFilter, opts: FilterSqlOptions = {}): SqlWhere {
  const parts: string[] = opts.estimateOnly ? ['true'] : ['a.municipality_id = ?'];
  const params: unknown[] = opts.estimateOnly ? [] : [f.municipalityId];
  if (f.from) { parts.push('a.received_at >= ?'); params.push(f.from); }
  if (f.to) { parts.push('a.received_at < ?'); params.push(f.to); }
  if (f.districtIds) { parts.push('a.district_id = ANY(?::int[])'); params.push(f.districtIds); }
  if (f.themeIds) {
    // A theme includes its subthemes.
    parts.push(`a.theme_id IN ${THEME_SUBTREE_SQL}`);
    params.push(f.themeIds);
  }
  if (f.organizationIds) { parts.push('a.organization_id = ANY(?::int[])'); params.push(f.organizationIds); }
  if (f.channels) { parts.push('a.channel = ANY(?::text[])'); params.push(f.channels); }
  if (f.statuses) { parts.push('a.status = ANY(?::text[])'); params.push(f.statuses); }
  if (f.bbox) {
    parts.push(opts.bboxAsFilter ? 'CASE WHEN a.point && ST_MakeEnvelope(?, ?, ?, ?, 4326) THEN true ELSE false END' : 'a.point && ST_MakeEnvelope(?, ?, ?, ?, 4326)');
    params.push(f.bbox.minLon, f.bbox.minLat, f.bbox.maxLon, f.bbox.maxLat);
  }
  if (f.near) {
    // Index-friendly degree prefilter, then the exact distance on the spheroid.
    const degrees = f.near.radiusMeters / (111_000 * Math.max(Math.cos((f.near.lat * Math.PI) / 180), 0.01)) * 1.1;
    parts.push(`ST_DWithin(a.point, ST_SetSRID(ST_MakePoint(?, ?), 4326), ?)
                AND ST_DWithin(a.point::geography, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?)`);
    params.push(f.near.lon, f.near.lat, degrees, f.near.lon, f.near.lat, f.near.radiusMeters);
  }
  if (f.text) { parts.push(`a.search @@ websearch_to_tsquery('russian', ?)`); params.push(f.text); }
  if (f.triage != null) { parts.push('a.triage = ?'); params.push(f.triage); }
  if (f.placeStatuses) { parts.push('a.place_status = ANY(?::text[])'); params.push(f.placeStatuses); }
  if (f.batchId != null) { parts.push('a.batch_id = ?'); params.push(f.batchId); }
  if (f.duplicates != null) parts.push(f.duplicates ? 'a.duplicate_of_id IS NOT NULL' : 'a.duplicate_of_id IS NULL');
  if (f.repeats) parts.push('a.repeat_of_id IS NOT NULL');
  if (f.problemId != null) { parts.push('a.id IN (SELECT appeal_id FROM problem_appeal WHERE problem_id = ?)'); params.push(f.problemId); }
  if (f.deadlineStates) parts.push(f.deadlineStates.length ? `(${f.deadlineStates.map((s) => deadlineStateSql(s)).join(' OR ')})` : 'false');
  if (f.urgent != null) { parts.push('a.urgent = ?'); params.push(f.urgent); }
  if (f.answerQuality) { parts.push('EXISTS (SELECT 1 FROM answer_quality q WHERE q.appeal_id = a.id AND q.verdict = ?)'); params.push(f.answerQuality); }
  if (f.scope) {
    const s = scopeSql(f.scope, 'a', { estimateOnly: opts.estimateOnly });
    parts.push(s.sql);
    params.push(...s.params);
  }
  return { sql: parts.join(' AND '), params };
}
