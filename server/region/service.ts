import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';

/** One municipality's line of the regional view. */
export interface RegionMunicipalityRow {
  id: number;
  code: string;
  name: string;
  population: number | null;
  lon: number;
  lat: number;
  appeals: number;
  previousAppeals: number;
  open: number;
  overdue: number;
  answeredOnTime: number;
  answered: number;
  problems: number;
  riskSignals: number;
  /** The union of its districts (simplified), GeoJSON; null when it has none. */
  geometry: Record<string, unknown> | null;
}

export interface RegionRow { id: number; code: string; name: string; population: number | null; lon: number; lat: number; zoom: number }

/** At most this long a period of the regional view (its queries scan every municipality's appeals in it). */
export const MAX_REGION_DAYS = 1100;

/**
 * The regional view (ЦУР): every municipality of a region side by side. Each figure is one grouped query over
 * `municipality_id = ANY(…)` that the indexes leading with municipality_id answer (under Citus: one multi-shard
 * query, one task per shard of the region's municipalities). Read-only.
 */
export class RegionService {
  constructor(private readonly em: EntityManager) {}

  async region(regionId: number): Promise<RegionRow | null> {
    const [r] = await query<RegionRow>(this.em,
      'SELECT id, code, name, population, ST_X(center) AS lon, ST_Y(center) AS lat, zoom FROM region WHERE id = ?', [regionId]);
    return r ?? null;
  }

  async municipalities(ids: number[], from: Date, to: Date, now = new Date()): Promise<RegionMunicipalityRow[]> {
    if (!(to > from)) throw new InputError('from', 'начало периода должно быть раньше его конца');
    const days = (to.getTime() - from.getTime()) / 86_400_000;
    if (days > MAX_REGION_DAYS) throw new InputError('to', `период регионального обзора не длиннее ${MAX_REGION_DAYS} дней`);
    const prevFrom = new Date(from.getTime() - (to.getTime() - from.getTime()));
    const rows = await query<Record<string, any>>(this.em,
      `WITH m AS (SELECT id, code, name, population, center FROM municipality WHERE id = ANY(?::int[])),
       a AS (SELECT municipality_id,
                    count(*) FILTER (WHERE received_at >= ?) AS appeals,
                    count(*) FILTER (WHERE received_at < ?) AS previous
               FROM appeal WHERE municipality_id = ANY(?::int[]) AND received_at >= ? AND received_at < ?
              GROUP BY municipality_id),
       q AS (SELECT municipality_id,
                    count(*) FILTER (WHERE answered_at IS NULL AND status NOT IN ('CLOSED', 'REJECTED')) AS open,
                    count(*) FILTER (WHERE answered_at IS NULL AND answer_due_at <= ?) AS overdue,
                    count(*) FILTER (WHERE answered_at IS NOT NULL) AS answered,
                    count(*) FILTER (WHERE answered_at IS NOT NULL AND answered_at <= answer_due_at) AS on_time
               FROM appeal WHERE municipality_id = ANY(?::int[]) AND received_at >= ? AND received_at < ?
              GROUP BY municipality_id),
       p AS (SELECT municipality_id, count(*) AS problems FROM problem
              WHERE municipality_id = ANY(?::int[]) AND status IN ('DETECTED', 'CONFIRMED', 'IN_PROGRESS', 'PLANNED') GROUP BY municipality_id),
       r AS (SELECT municipality_id, count(*) AS signals FROM risk_signal
              WHERE municipality_id = ANY(?::int[]) AND status IN ('NEW', 'ACKNOWLEDGED') GROUP BY municipality_id),
       g AS (SELECT municipality_id, ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(ST_Union(geom), 0.0003)), 5) AS geometry
               FROM district WHERE municipality_id = ANY(?::int[]) GROUP BY municipality_id)
       SELECT m.id, m.code, m.name, coalesce(m.population, (SELECT sum(population) FROM district d WHERE d.municipality_id = m.id))::int AS population,
              ST_X(m.center) AS lon, ST_Y(m.center) AS lat,
              coalesce(a.appeals, 0)::int AS appeals, coalesce(a.previous, 0)::int AS previous_appeals,
              coalesce(q.open, 0)::int AS open, coalesce(q.overdue, 0)::int AS overdue,
              coalesce(q.answered, 0)::int AS answered, coalesce(q.on_time, 0)::int AS answered_on_time,
              coalesce(p.problems, 0)::int AS problems, coalesce(r.signals, 0)::int AS risk_signals, g.geometry
         FROM m LEFT JOIN a ON a.municipality_id = m.id LEFT JOIN q ON q.municipality_id = m.id
              LEFT JOIN p ON p.municipality_id = m.id LEFT JOIN r ON r.municipality_id = m.id LEFT JOIN g ON g.municipality_id = m.id
        ORDER BY m.name`,
      [ids, from, from, ids, prevFrom, to, now, ids, from, to, ids, ids, ids]);
    return rows.map((r) => ({
      id: r.id, code: r.code, name: r.name, population: r.population ?? null, lon: Number(r.lon), lat: Number(r.lat),
      appeals: r.appeals, previousAppeals: r.previous_appeals, open: r.open, overdue: r.overdue, answered: r.answered,
      answeredOnTime: r.answered_on_time, problems: r.problems, riskSignals: r.risk_signals,
      geometry: r.geometry ? (typeof r.geometry === 'string' ? JSON.parse(r.geometry) : r.geometry) : null,
    }));
  }
}
