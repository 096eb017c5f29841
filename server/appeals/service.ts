import type { EntityManager } from '@mikro-orm/postgresql';
import { boundQuery, query } from '../db/sql.js';
import { admittedCount } from '../db/count.js';
import type { FeatureCollection, Point } from 'geojson';
import { InputError } from '../errors.js';
import { Appeal } from './entities.js';
import type { District, Organization, Theme } from '../reference/entities.js';
import { columnsFor, rowToDistrict, rowToOrganization, rowToTheme } from '../reference/rows.js';
import { filterSql, type ParsedFilter } from './filter.js';
import { pointLayer } from './points.js';
import { scopeSql, type RowScope } from '../auth/scope.js';

export const MAX_PAGE = 500;
export const MAX_POINTS = 200_000;

export enum AppealGroupBy {
  DISTRICT = 'DISTRICT',
  THEME = 'THEME',
  CHANNEL = 'CHANNEL',
  STATUS = 'STATUS',
  ORGANIZATION = 'ORGANIZATION',
}

/** Order of a page of appeals. */
export enum AppealOrder {
  /** Newest first (default). */
  RECEIVED_DESC = 'RECEIVED_DESC',
  /** The work queue: urgent first, then by answer due time (earliest first); only appeals with a due time. */
  DEADLINE = 'DEADLINE',
}

export interface GroupCountRow { key: string | null; label: string; count: number }

export interface AppealPage {
  rows: Appeal[];
  /** The page's districts, themes and organisations, read in the same statement (to prime the DataLoaders). */
  districts: District[];
  themes: Theme[];
  organizations: Organization[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

const STATUS_LABELS: Record<string, string> = {
  NEW: 'Новое', IN_PROGRESS: 'В работе', ANSWERED: 'Дан ответ', CLOSED: 'Закрыто', REJECTED: 'Отклонено',
};

/** Columns of `appeal a` by GraphQL field (geometry as GeoJSON); id and received_at are always read (cursor). */
const FIELD_COLUMNS: Record<string, string[]> = {
  municipality: ['a.municipality_id'],
  channel: ['a.channel'],
  externalId: ['a.external_id'],
  authorKind: ['a.author_kind'],
  author: ['a.author_kind'],
  text: ['a.text'],
  address: ['a.address'],
  point: ['ST_AsGeoJSON(a.point, 7)::json AS point'],
  district: ['a.district_id'],
  theme: ['a.theme_id'],
  organization: ['a.organization_id'],
  status: ['a.status'],
  dueAt: ['a.due_at'],
  firstResponseAt: ['a.first_response_at'],
  answeredAt: ['a.answered_at'],
  answerText: ['a.answer_text'],
  satisfaction: ['a.satisfaction'],
  overdue: ['a.status', 'a.due_at', 'a.first_response_at', 'a.answered_at'],
  createdAt: ['a.created_at'],
  updatedAt: ['a.updated_at'],
  themeConfidence: ['a.theme_confidence'],
  themeSource: ['a.theme_source'],
  triage: ['a.triage'],
  placeStatus: ['a.place_status'],
  duplicateOf: ['a.duplicate_of_id'],
  repeatOf: ['a.repeat_of_id'],
  // The control loop's deadlines (server/deadlines).
  urgent: ['a.urgent'],
  firstReactionDueAt: ['a.first_reaction_due_at'],
  answerDueAt: ['a.answer_due_at'],
  answerAtRiskAt: ['a.answer_at_risk_at'],
  deadlineState: ['a.answered_at', 'a.answer_due_at', 'a.answer_at_risk_at'],
  deadlineRule: ['a.deadline_rule_id'],
  workingMinutesToFirstReaction: ['a.first_reaction_minutes'],
  workingMinutesToAnswer: ['a.answer_minutes'],
};
const ALL_FIELDS = Object.keys(FIELD_COLUMNS);

/** The SELECT list for the requested fields (all of them when `fields` is absent). */
function appealColumns(fields?: Set<string>, extra: string[] = []): string {
  return appealColumnList(fields, extra).join(', ');
}

function appealColumnList(fields?: Set<string>, extra: string[] = []): string[] {
  const cols = new Set(['a.id', 'a.received_at', ...extra]);
  for (const f of fields ?? ALL_FIELDS) FIELD_COLUMNS[f]?.forEach((c) => cols.add(c));
  return [...cols];
}

type Row = Record<string, any>;

/**
 * Maps a row of appeal columns to a read-only Appeal (absent columns stay undefined). Deliberately not em.map(): ORM
 * hydration costs about 1 ms per row, which dominated a page of 100 (see bench/).
 * Relations are id-only references, resolved by the request's DataLoaders.
 */
export function rowToAppeal(r: Row): Appeal {
  const a = {} as Appeal; // plain object: entity prototypes carry ORM setters (slow)
  const ref = <T>(id: number | null): T | undefined => (id == null ? undefined : ({ id } as T));
  // The ORM's driver returns timestamptz as text.
  const date = (v: string | Date | null): Date | undefined => (v == null ? undefined : new Date(v));
  Object.assign(a, {
    id: r.id,
    municipality: ref(r.municipality_id),
    channel: r.channel,
    externalId: r.external_id,
    receivedAt: date(r.received_at)!,
    authorKind: r.author_kind,
    text: r.text,
    address: r.address ?? undefined,
    point: r.point ?? undefined,
    district: ref(r.district_id),
    theme: ref(r.theme_id),
    organization: ref(r.organization_id),
    status: r.status,
    dueAt: date(r.due_at),
    firstResponseAt: date(r.first_response_at),
    answeredAt: date(r.answered_at),
    answerText: r.answer_text ?? undefined,
    satisfaction: r.satisfaction ?? undefined,
    themeConfidence: r.theme_confidence ?? undefined,
    themeSource: r.theme_source ?? undefined,
    triage: r.triage,
    placeStatus: r.place_status ?? undefined,
    duplicateOf: ref(r.duplicate_of_id),
    repeatOf: ref(r.repeat_of_id),
    urgent: r.urgent,
    deadlineRuleId: r.deadline_rule_id ?? undefined,
    firstReactionDueAt: date(r.first_reaction_due_at),
    answerDueAt: date(r.answer_due_at),
    answerAtRiskAt: date(r.answer_at_risk_at),
    firstReactionMinutes: r.first_reaction_minutes ?? undefined,
    answerMinutes: r.answer_minutes ?? undefined,
    createdAt: date(r.created_at)!,
    updatedAt: date(r.updated_at)!,
  });
  return a;
}

type JoinedTable = 'district' | 'theme' | 'organization';
const JOINS = [['district', 'd'], ['theme', 't'], ['organization', 'o']] as const;
const JOINED_MAPPERS: Record<JoinedTable, (r: Row) => object> = { district: rowToDistrict, theme: rowToTheme, organization: rowToOrganization };

/**
 * Marks a district / theme / organisation read with a page of appeals (with the columns its fields asked for):
 * the appeal's field resolver returns it as it is instead of asking the DataLoader.
 */
export const JOINED = Symbol('joined with the page');

/** True when the relation object was read with the page (see JOINED). */
export function isJoined(o: object | undefined): boolean {
  return !!o && (o as Record<symbol, unknown>)[JOINED] === true;
}

/** Column (or alias) of `appeal a` → the Appeal property and how its value is converted (as rowToAppeal does). */
const COLUMN_PROPS: Record<string, [string, 'plain' | 'opt' | 'date' | 'ref']> = {
  id: ['id', 'plain'], municipality_id: ['municipality', 'ref'], channel: ['channel', 'plain'], external_id: ['externalId', 'plain'],
  received_at: ['receivedAt', 'date'], author_kind: ['authorKind', 'plain'], text: ['text', 'plain'], address: ['address', 'opt'],
  point: ['point', 'opt'], district_id: ['district', 'ref'], theme_id: ['theme', 'ref'], organization_id: ['organization', 'ref'],
  status: ['status', 'plain'], due_at: ['dueAt', 'date'], first_response_at: ['firstResponseAt', 'date'], answered_at: ['answeredAt', 'date'],
  answer_text: ['answerText', 'opt'], satisfaction: ['satisfaction', 'opt'], theme_confidence: ['themeConfidence', 'opt'],
  theme_source: ['themeSource', 'opt'], triage: ['triage', 'plain'], place_status: ['placeStatus', 'opt'], duplicate_of_id: ['duplicateOf', 'ref'],
  repeat_of_id: ['repeatOf', 'ref'], urgent: ['urgent', 'plain'], deadline_rule_id: ['deadlineRuleId', 'opt'],
  first_reaction_due_at: ['firstReactionDueAt', 'date'], answer_due_at: ['answerDueAt', 'date'], answer_at_risk_at: ['answerAtRiskAt', 'date'],
  first_reaction_minutes: ['firstReactionMinutes', 'opt'], answer_minutes: ['answerMinutes', 'opt'], created_at: ['createdAt', 'date'],
  updated_at: ['updatedAt', 'date'],
};

const mappers = new Map<string, (r: Row) => Appeal>();
/**
 * A row → Appeal mapper for one SELECT list of appeal columns: only the selected columns are copied (one loop over a
 * precomputed list, no object per absent field), with the same conversions as rowToAppeal.
 */
function mapperFor(select: string, columns: string[]): (r: Row) => Appeal {
  let m = mappers.get(select);
  if (m) return m;
  const steps = columns.map((c) => {
    const col = /(?: AS |^a\.)(\w+)$/.exec(c)![1];
    const [prop, kind] = COLUMN_PROPS[col];
    return { col, prop, kind };
  });
  m = (r: Row) => {
    const a: Row = {};
    for (const s of steps) {
      const v = r[s.col];
      a[s.prop] = s.kind === 'plain' ? v : v == null ? undefined : s.kind === 'date' ? new Date(v) : s.kind === 'ref' ? { id: v } : v;
    }
    return a as Appeal;
  };
  if (mappers.size < 500) mappers.set(select, m);
  return m;
}

export function encodeCursor(receivedAt: Date, id: number): string {
  return Buffer.from(`${receivedAt.toISOString()}|${id}`).toString('base64url');
}

/** The cursor of the DEADLINE order: urgency, due time, id. */
export function encodeDeadlineCursor(a: { urgent: boolean; answerDueAt?: Date; id: number }): string {
  return Buffer.from(`D|${a.urgent ? 0 : 1}|${a.answerDueAt?.toISOString() ?? ''}|${a.id}`).toString('base64url');
}

export function decodeDeadlineCursor(cursor: string, field = 'after'): { u: number; due: Date; id: number } {
  const m = /^D\|([01])\|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new InputError(field, 'неверный курсор страницы');
  return { u: Number(m[1]), due: new Date(m[2]), id: Number(m[3]) };
}

export function decodeCursor(cursor: string, field = 'after'): { receivedAt: Date; id: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new InputError(field, 'неверный курсор страницы');
  return { receivedAt: new Date(m[1]), id: Number(m[2]) };
}

/** Appeals: listing, counting and mapping, all over one validated filter. Testable without HTTP. */
export class AppealService {
  /** `scope`: the rows the signed-in user may see (applied to byIds; filters carry their own). */
  constructor(private readonly em: EntityManager, private readonly scope?: RowScope) {}

  /** Rejects ids that do not exist in the filter's municipality. One statement. */
  async checkReferences(f: ParsedFilter, at = 'filter'): Promise<void> {
    const lists: [string, string, number[] | undefined][] = [
      ['districtIds', 'district', f.districtIds],
      ['themeIds', 'theme', f.themeIds],
      ['organizationIds', 'organization', f.organizationIds],
    ];
    const present = lists.filter(([, , ids]) => ids && ids.length);
    if (!present.length && !f.municipalityExplicit) return;
    const parts = [`SELECT 'municipalityId' AS field, ?::int AS id WHERE NOT EXISTS (SELECT 1 FROM municipality WHERE id = ?)`];
    const params: unknown[] = [f.municipalityId, f.municipalityId];
    for (const [field, table, ids] of present) {
      parts.push(`SELECT '${field}', x FROM unnest(?::int[]) x WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.id = x AND t.municipality_id = ?)`);
      params.push(ids, f.municipalityId);
    }
    const missing = await query<{ field: string; id: number }>(this.em, parts.join(' UNION ALL '), params);
    if (missing.length) {
      const { field, id } = missing[0];
      throw new InputError(`${at}.${field}`, `не найден объект с идентификатором ${id}`);
    }
  }

  /**
   * A page in receivedAt-descending order (or the DEADLINE queue), keyset-paginated. One statement with bound
   * parameters (boundQuery: a custom plan per request, no SQL text built per value); it reads only the columns of
   * the fields asked for, and the relations asked for (`relations`: their GraphQL fields) in the same statement,
   * only their asked-for columns, one object per distinct district / theme / organisation of the page.
   */
  async page(f: ParsedFilter, first: number, after?: string, fields?: Set<string>, order: AppealOrder = AppealOrder.RECEIVED_DESC,
    relations?: Partial<Record<JoinedTable, Iterable<string>>>): Promise<AppealPage> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new InputError('first', `размер страницы от 0 до ${MAX_PAGE}`);
    const where = filterSql(f);
    let sql = where.sql;
    const params = [...where.params];
    const byDeadline = order === AppealOrder.DEADLINE;
    if (byDeadline) sql += ' AND a.answer_due_at IS NOT NULL';
    if (after && byDeadline) {
      const c = decodeDeadlineCursor(after);
      sql += ' AND (CASE WHEN a.urgent THEN 0 ELSE 1 END, a.answer_due_at, a.id) > (?, ?, ?)';
      params.push(c.u, c.due, c.id);
    } else if (after) {
      const c = decodeCursor(after);
      sql += ' AND (a.received_at, a.id) < (?, ?)';
      params.push(c.receivedAt, c.id);
    }
    // Relations asked for are read in the same statement (only the columns their fields need).
    const joins = JOINS.filter(([table]) => (relations ? relations[table] !== undefined : !fields || fields.has(table)))
      .map(([table, alias]) => ({ table, alias, columns: relations?.[table] ? columnsFor(table, relations[table]!) : columnsFor(table, ['*']) }));
    const ownList = appealColumnList(fields, byDeadline ? ['a.urgent', 'a.answer_due_at'] : []);
    const own = ownList.join(', ');
    const select = `${own}${joins.map((j) => `, ${j.columns.map((c) => `${j.alias}.${c} AS ${j.alias}__${c}`).join(', ')}`).join('')}`;
    const rows = await boundQuery<Row>(
      this.em,
      `SELECT ${select}
         FROM appeal a
         ${joins.map(({ table, alias }) => `LEFT JOIN ${table} ${alias} ON ${alias}.id = a.${table}_id`).join('\n         ')}
        WHERE ${sql} ORDER BY ${byDeadline ? 'CASE WHEN a.urgent THEN 0 ELSE 1 END, a.answer_due_at, a.id' : 'a.received_at DESC, a.id DESC'} LIMIT ?`,
      [...params, first + 1],
    );
    const hasNextPage = rows.length > first;
    if (hasNextPage) rows.length = first;
    const map = mapperFor(own, ownList);
    const joined = joins.map((j) => ({ ...j, byId: new Map<number, Row>(), keys: j.columns.map((c) => [c, `${j.alias}__${c}`] as const), to: JOINED_MAPPERS[j.table] }));
    const out = new Array<Appeal>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const a = map(r);
      for (const j of joined) {
        const id = r[`${j.alias}__id`] as number | null;
        if (id == null) continue;
        let o = j.byId.get(id);
        if (!o) {
          const row: Row = {};
          for (const [c, k] of j.keys) row[c] = r[k];
          o = j.to(row);
          (o as Record<symbol, unknown>)[JOINED] = true;
          j.byId.set(id, o);
        }
        (a as Row)[j.table] = o;
      }
      out[i] = a;
    }
    const list = (t: JoinedTable) => [...(joined.find((j) => j.table === t)?.byId.values() ?? [])];
    return {
      rows: out,
      districts: list('district') as District[],
      themes: list('theme') as Theme[],
      organizations: list('organization') as Organization[],
      hasNextPage,
      hasPreviousPage: !!after,
    };
  }

  /**
   * The appeals of a filter, exactly. At most COUNT_LIGHT_ROWS of them are counted at once, in one statement; a larger
   * count runs under the admission of heavy work (server/db/count.ts).
   */
  async count(f: ParsedFilter): Promise<number> {
    const where = filterSql(f);
    return admittedCount(this.em, `appeal a WHERE ${where.sql}`, where.params);
  }

  /** Appeals by id (null where absent or outside the user's row scope). */
  async byIds(ids: readonly number[]): Promise<(Appeal | null)[]> {
    const scope = this.scope ? scopeSql(this.scope, 'a') : undefined;
    const rows = await query<Record<string, unknown>>(this.em,
      `SELECT ${appealColumns()} FROM appeal a WHERE a.id = ANY(?::int[])${scope ? ` AND ${scope.sql}` : ''}`, [ids, ...(scope?.params ?? [])]);
    const map = new Map(rows.map((r) => [Number(r.id), rowToAppeal(r)]));
    return ids.map((id) => map.get(id) ?? null);
  }

  async groupCounts(f: ParsedFilter, by: AppealGroupBy): Promise<GroupCountRow[]> {
    const where = filterSql(f);
    const q: Record<AppealGroupBy, string> = {
      DISTRICT: `SELECT a.district_id::text AS key, coalesce(d.name, 'Район не определён') AS label, count(*)::int AS count
                   FROM appeal a LEFT JOIN district d ON d.id = a.district_id WHERE ${where.sql} GROUP BY 1, 2`,
      THEME: `SELECT a.theme_id::text AS key, coalesce(t.name, 'Тема не определена') AS label, count(*)::int AS count
                FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id WHERE ${where.sql} GROUP BY 1, 2`,
      ORGANIZATION: `SELECT a.organization_id::text AS key, coalesce(o.name, 'Исполнитель не назначен') AS label, count(*)::int AS count
                       FROM appeal a LEFT JOIN organization o ON o.id = a.organization_id WHERE ${where.sql} GROUP BY 1, 2`,
      CHANNEL: `SELECT a.channel AS key, c.name AS label, count(*)::int AS count
                  FROM appeal a JOIN channel c ON c.code = a.channel WHERE ${where.sql} GROUP BY 1, 2`,
      STATUS: `SELECT a.status AS key, a.status AS label, count(*)::int AS count FROM appeal a WHERE ${where.sql} GROUP BY 1, 2`,
    };
    const rows = await query<GroupCountRow>(this.em, `${q[by]} ORDER BY count DESC, label`, where.params);
    if (by === AppealGroupBy.STATUS) rows.forEach((r) => (r.label = STATUS_LABELS[r.label] ?? r.label));
    return rows;
  }

  /**
   * Points for the map as a GeoJSON FeatureCollection (newest first, at most `limit`): cheap work when it is expected
   * to be small, else heavy (server/appeals/points.ts).
   */
  async points(f: ParsedFilter, limit: number): Promise<FeatureCollection<Point>> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_POINTS) throw new InputError('limit', `от 1 до ${MAX_POINTS}`);
    return pointLayer(this.em, f, limit);
  }
}
