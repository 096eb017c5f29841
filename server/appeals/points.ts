import type { EntityManager } from '@mikro-orm/postgresql';
import type { Feature, FeatureCollection, Point } from 'geojson';
import { admissionOf, heavy } from '../db/admission.js';
import { boundQuery } from '../db/sql.js';
import { filterSql, type ParsedFilter } from './filter.js';

/**
 * The point layer of the map (appealsGeoJSON): the newest `limit` appeals of a filter as a GeoJSON FeatureCollection.
 *
 * What it costs is what it returns and what it reads, so before it runs the planner is asked (EXPLAIN, not run) how
 * many rows the filter holds:
 * - **Admission.** A layer expected to return at most GEOJSON_LIGHT_ROWS points (the smaller of `limit` and that
 *   estimate) is cheap work — about the work of the largest page of appeals, whose filter and order it shares — and
 *   runs at once; a larger one runs under the admission of heavy work (server/db/admission.ts). An estimate can be
 *   wrong, a row count cannot: a cheap run with a `limit` above the threshold asks for one row more than the
 *   threshold, and if it gets it the layer is run again as heavy work. So cheap work never returns more than
 *   GEOJSON_LIGHT_ROWS points, whatever the planner believed.
 * - **Plan.** With a bounding box, the planner multiplies the municipality's share of the table by the viewport's
 *   share of the whole table, though a viewport lies in one municipality: in a region of N municipalities it expects
 *   N times too few rows and reads every row of the viewport and period through the spatial index, then sorts them,
 *   where one municipality alone stops after `limit` rows of (municipality_id, received_at DESC)
 *   (docs/performance.md, "The point layer"). So the estimate is made twice: as the planner sees it, and without the
 *   municipality (a viewport's rows, whichever municipality holds them). When the planner expects fewer rows than
 *   asked but the viewport holds more, the box is written as a row filter that no index serves, so the ordered scan
 *   with early stop is the plan in a region as in one municipality. Otherwise the planner is not misled (one
 *   municipality in the table, or a viewport holding fewer rows than asked, where the spatial index is right) and
 *   the plain filter stays.
 * - **Encoding.** The row's time is formatted by PostgreSQL (to_char, as Date.toISOString writes it) and the theme
 *   id read as text, which halves the parsing of each row in Node; the JSON itself is built in Node: built in
 *   PostgreSQL (json_agg) it cost the database about as much again as it saved Node (docs/performance.md).
 */

interface PointRow {
  id: number;
  lon: number;
  lat: number;
  theme_id: string | null;
  theme_name: string | null;
  status: string;
  channel: string;
  received_at: string;
}

const select = (where: string) =>
  `SELECT a.id, ST_X(a.point) AS lon, ST_Y(a.point) AS lat, a.theme_id::text AS theme_id, t.name AS theme_name, a.status, a.channel,
          to_char(a.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at
     FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id
    WHERE ${where} AND a.point IS NOT NULL
    ORDER BY a.received_at DESC, a.id DESC LIMIT ?`;

/** The planner's estimate of the rows `SELECT 1 FROM appeal a WHERE …` finds (EXPLAIN, never run). */
async function plannedRows(em: EntityManager, where: { sql: string; params: unknown[] }): Promise<number> {
  const [row] = await boundQuery<Record<string, unknown>>(em, `EXPLAIN (FORMAT JSON) SELECT 1 FROM appeal a WHERE ${where.sql} AND a.point IS NOT NULL`, where.params);
  const raw = row?.['QUERY PLAN'];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan?: { 'Plan Rows'?: number } }[] | undefined;
  const rows = Number(plan?.[0]?.Plan?.['Plan Rows']);
  if (!Number.isFinite(rows)) throw new Error(`EXPLAIN of the point layer gave no row estimate: ${JSON.stringify(raw).slice(0, 200)}`);
  return Math.ceil(rows);
}

/**
 * How many rows with a point the filter holds: `rows`, the estimate the admission uses — with a bounding box or a
 * radius, without the municipality (a viewport's rows, whichever municipality they belong to; see above) — and
 * `planner`, what the planner believes when it plans the layer (with the municipality; the same number unless other
 * municipalities share the table).
 */
export async function estimatePointRows(em: EntityManager, f: ParsedFilter): Promise<{ rows: number; planner: number }> {
  const planner = await plannedRows(em, filterSql(f));
  if (!f.bbox && !f.near) return { rows: planner, planner };
  return { rows: Math.max(planner, await plannedRows(em, filterSql(f, { estimateOnly: true }))), planner };
}

/**
 * Runs `run(n)` (the newest n rows) as cheap work or under the admission of heavy work, as described above. The
 * admission counts the layers run as cheap work (`stats.light`) and the cheap runs that met more rows than expected
 * and went on as heavy work (`stats.reweighed`).
 */
export async function admitPointLayer<T>(em: EntityManager, limit: number, expected: number, run: (n: number) => Promise<T[]>): Promise<T[]> {
  const admission = admissionOf(em);
  const lightRows = admission.lightRows;
  if (lightRows > 0 && Math.min(limit, expected) <= lightRows) {
    const rows = await run(Math.min(limit, lightRows + 1));
    if (rows.length <= lightRows) {
      admission.stats.light++;
      return rows;
    }
    admission.stats.reweighed++;
  }
  return heavy(em, () => run(limit));
}

export async function pointLayer(em: EntityManager, f: ParsedFilter, limit: number): Promise<FeatureCollection<Point>> {
  const expected = await estimatePointRows(em, f);
  // The planner expects fewer rows than asked (so it would read them all and sort), the viewport holds more.
  const ordered = !!f.bbox && expected.planner < limit && expected.rows >= limit;
  const where = filterSql(f, { bboxAsFilter: ordered });
  const sql = select(where.sql);
  const rows = await admitPointLayer(em, limit, expected.rows, (n) => boundQuery<PointRow>(em, sql, [...where.params, n]));
  const features: Feature<Point>[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    features[i] = {
      type: 'Feature',
      id: r.id,
      geometry: { type: 'Point', coordinates: [r.lon, r.lat] },
      properties: { id: String(r.id), themeId: r.theme_id, themeName: r.theme_name, status: r.status, channel: r.channel, receivedAt: r.received_at },
    };
  }
  return { type: 'FeatureCollection', features };
}
