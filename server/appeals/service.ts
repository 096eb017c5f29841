import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import type { FeatureCollection, Point } from 'geojson';
import { InputError } from '../errors.js';
import { Appeal } from './entities.js';
import { filterSql, type ParsedFilter } from './filter.js';

export const MAX_PAGE = 500;
export const MAX_POINTS = 200_000;

export enum AppealGroupBy {
  DISTRICT = 'DISTRICT',
  THEME = 'THEME',
  CHANNEL = 'CHANNEL',
  STATUS = 'STATUS',
  ORGANIZATION = 'ORGANIZATION',
}

export interface GroupCountRow { key: string | null; label: string; count: number }

export interface AppealPage {
  rows: Appeal[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

const STATUS_LABELS: Record<string, string> = {
  NEW: 'Новое', IN_PROGRESS: 'В работе', ANSWERED: 'Дан ответ', CLOSED: 'Закрыто', REJECTED: 'Отклонено',
};

/** Columns of `appeal a` as the entity maps them (geometry as GeoJSON, no tsvector). */
const APPEAL_COLUMNS = `a.id, a.municipality_id, a.channel, a.external_id, a.received_at, a.author_kind, a.text, a.address,
  ST_AsGeoJSON(a.point, 7)::json AS point, a.district_id, a.theme_id, a.organization_id, a.status, a.due_at,
  a.first_response_at, a.answered_at, a.answer_text, a.satisfaction, a.created_at, a.updated_at`;

export function encodeCursor(receivedAt: Date, id: number): string {
  return Buffer.from(`${receivedAt.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string, field = 'after'): { receivedAt: Date; id: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new InputError(field, 'неверный курсор страницы');
  return { receivedAt: new Date(m[1]), id: Number(m[2]) };
}

/** Appeals: listing, counting and mapping, all over one validated filter. Testable without HTTP. */
export class AppealService {
  constructor(private readonly em: EntityManager) {}

  /** Rejects ids that do not exist in the filter's municipality. One statement. */
  async checkReferences(f: ParsedFilter, at = 'filter'): Promise<void> {
    const lists: [string, string, number[] | undefined][] = [
      ['districtIds', 'district', f.districtIds],
      ['themeIds', 'theme', f.themeIds],
      ['organizationIds', 'organization', f.organizationIds],
    ];
    const present = lists.filter(([, , ids]) => ids && ids.length);
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

  /** A page in receivedAt-descending order, keyset-paginated. */
  async page(f: ParsedFilter, first: number, after?: string): Promise<AppealPage> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new InputError('first', `размер страницы от 0 до ${MAX_PAGE}`);
    const where = filterSql(f);
    let sql = where.sql;
    const params = [...where.params];
    if (after) {
      const c = decodeCursor(after);
      sql += ' AND (a.received_at, a.id) < (?, ?)';
      params.push(c.receivedAt, c.id);
    }
    const rows = await query<Record<string, unknown>>(this.em, 
      `SELECT ${APPEAL_COLUMNS} FROM appeal a WHERE ${sql} ORDER BY a.received_at DESC, a.id DESC LIMIT ?`,
      [...params, first + 1],
    );
    const hasNextPage = rows.length > first;
    return {
      rows: rows.slice(0, first).map((r) => this.em.map(Appeal, r)),
      hasNextPage,
      hasPreviousPage: !!after,
    };
  }

  async count(f: ParsedFilter): Promise<number> {
    const where = filterSql(f);
    const [r] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM appeal a WHERE ${where.sql}`, where.params);
    return r.n;
  }

  async byIds(ids: readonly number[]): Promise<(Appeal | null)[]> {
    const rows = await query<Record<string, unknown>>(this.em, `SELECT ${APPEAL_COLUMNS} FROM appeal a WHERE a.id = ANY(?::int[])`, [ids]);
    const map = new Map(rows.map((r) => [Number(r.id), this.em.map(Appeal, r)]));
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

  /** Points for the map as a GeoJSON FeatureCollection (newest first, at most `limit`). */
  async points(f: ParsedFilter, limit: number): Promise<FeatureCollection<Point>> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_POINTS) throw new InputError('limit', `от 1 до ${MAX_POINTS}`);
    const where = filterSql(f);
    const rows = await query<{ id: number; lon: number; lat: number; theme_id: number | null; theme_name: string | null; status: string; channel: string; received_at: Date }>(this.em, 
      `SELECT a.id, ST_X(a.point) AS lon, ST_Y(a.point) AS lat, a.theme_id, t.name AS theme_name, a.status, a.channel, a.received_at
         FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id
        WHERE ${where.sql} AND a.point IS NOT NULL
        ORDER BY a.received_at DESC, a.id DESC LIMIT ?`,
      [...where.params, limit],
    );
    return {
      type: 'FeatureCollection',
      features: rows.map((r) => ({
        type: 'Feature',
        id: r.id,
        geometry: { type: 'Point', coordinates: [r.lon, r.lat] },
        properties: {
          id: String(r.id),
          themeId: r.theme_id == null ? null : String(r.theme_id),
          themeName: r.theme_name,
          status: r.status,
          channel: r.channel,
          receivedAt: new Date(r.received_at).toISOString(),
        },
      })),
    };
  }
}
