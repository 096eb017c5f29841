import type { EntityManager } from '@mikro-orm/postgresql';
import { boundQuery, query } from '../db/sql.js';
import { heatQuery } from './sql.js';
import { InputError } from '../errors.js';
import { filterSql, type ParsedFilter } from '../appeals/filter.js';
import { cellSizeMeters, HEX_QR_SQL, hexColumn, hexIdsCovering, toMercator } from './grid.js';
import { HEAT_LAYER_COLUMNS, importHeatLayer, type HeatImportInput, type HeatImportReport, type HeatLayerRow } from './importer.js';

export enum HeatLayerKind {
  APPEALS = 'APPEALS',
  CUR = 'CUR',
  MERGED = 'MERGED',
}

export interface HeatWeights {
  appeals: number;
  cur: number;
}

export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

export interface HeatCellRow {
  q: number;
  r: number;
  /** Matching appeals in the cell (and the viewport). */
  appeals: number;
  /** Sum of ЦУР weights in the cell (and the viewport). */
  cur: number;
  partAppeals: number;
  partCur: number;
  value: number;
}

export interface HeatMapResult {
  zoom: number;
  /** Ground circumradius of a cell, metres. */
  cellSizeMeters: number;
  /** Circumradius in EPSG:3857 units (what the grid uses). */
  gridSize: number;
  layer: HeatLayerKind;
  weights: HeatWeights;
  /** MERGED: the municipality-wide totals each source is normalised by. */
  appealsTotal: number | null;
  curTotal: number | null;
  cells: HeatCellRow[];
}

export interface HeatQuery {
  bbox: BBox;
  zoom: number;
  layer: HeatLayerKind;
  weights?: Partial<HeatWeights>;
  /** Only these ЦУР layers (default: every layer whose period overlaps the filter's). */
  curLayerIds?: number[];
}

export interface DistrictStatRow {
  districtId: number;
  name: string;
  population: number | null;
  count: number;
  per1000: number | null;
  previousCount: number | null;
  change: number | null;
  changePercent: number | null;
}

export interface DistrictStatsResult {
  from: Date | null;
  to: Date | null;
  previousFrom: Date | null;
  previousTo: Date | null;
  rows: DistrictStatRow[];
}

/** Cells above this estimate are refused (a region-wide bbox at street zoom). */
export const MAX_CELLS = 250_000;
export const DEFAULT_WEIGHTS: HeatWeights = { appeals: 0.5, cur: 0.5 };
/**
 * The grid that leads appeal_heat_idx (municipality_id, hex_500, received_at): a rectangle is first
 * narrowed to the 500 m hexagons that can hold its points (one index range per hexagon and period),
 * up to this many hexagons (about a city); a larger rectangle is read by period only.
 */
export const INDEX_GRID = 500;
export const MAX_INDEX_CELLS = 2000;

const scaleCache = new Map<number, number>();

/** Columns of a heat map's cells, in this order. */
const CELL_COLUMNS = 'q, r, appeals, cur, part_appeals, part_cur, value';

/**
 * Heat map: appeals and ЦУР layers aggregated into the metric hexagon grid, merged with weights,
 * and appeal statistics by district. Every method takes a validated filter (parseFilter).
 */
export class HeatmapService {
  constructor(private readonly em: EntityManager) {}

  /**
   * The grid's Mercator scale 1 / cos(latitude of the municipality's centre), as SQL computes it
   * for the stored cell ids (heat_grid_scale): a grid's size in EPSG:3857 units is its ground size
   * times this. Cached per process.
   */
  async gridScale(municipalityId: number): Promise<number> {
    const hit = scaleCache.get(municipalityId);
    if (hit !== undefined) return hit;
    const [m] = await query<{ scale: number }>(this.em, 'SELECT heat_grid_scale(ST_Y(center)) AS scale FROM municipality WHERE id = ?', [municipalityId]);
    if (!m) throw new InputError('filter.municipalityId', `муниципальное образование ${municipalityId} не найдено`);
    scaleCache.set(municipalityId, m.scale);
    return m.scale;
  }

  /** Circumradius in EPSG:3857 units of the cells at `zoom` (validates the zoom). */
  async gridSize(municipalityId: number, zoom: number): Promise<number> {
    return cellSizeMeters(zoom) * (await this.gridScale(municipalityId));
  }

  /** Checks the query's own arguments (the filter is checked by parseFilter). */
  validate(f: ParsedFilter, q: HeatQuery, at = ''): HeatWeights {
    if (f.bbox) throw new InputError(`${at}filter.bbox`, 'для тепловой карты охват задаётся аргументом bbox');
    if (f.near) throw new InputError(`${at}filter.near`, 'для тепловой карты отбор по радиусу не поддерживается: задайте охват аргументом bbox');
    const b = q.bbox;
    for (const k of ['minLon', 'maxLon'] as const)
      if (!Number.isFinite(b[k]) || b[k] < -180 || b[k] > 180) throw new InputError(`${at}bbox.${k}`, `долгота ${b[k]} вне диапазона −180…180`);
    for (const k of ['minLat', 'maxLat'] as const)
      if (!Number.isFinite(b[k]) || b[k] < -85.05 || b[k] > 85.05) throw new InputError(`${at}bbox.${k}`, `широта ${b[k]} вне диапазона −85…85`);
    if (b.minLon > b.maxLon) throw new InputError(`${at}bbox.minLon`, 'minLon больше maxLon');
    if (b.minLat > b.maxLat) throw new InputError(`${at}bbox.minLat`, 'minLat больше maxLat');
    cellSizeMeters(q.zoom);
    const w = { ...DEFAULT_WEIGHTS, ...Object.fromEntries(Object.entries(q.weights ?? {}).filter(([, v]) => v != null)) } as HeatWeights;
    for (const k of ['appeals', 'cur'] as const)
      if (!Number.isFinite(w[k]) || w[k] < 0) throw new InputError(`${at}weights.${k}`, `вес источника — неотрицательное число, получено ${w[k]}`);
    if (w.appeals + w.cur <= 0) throw new InputError(`${at}weights`, 'хотя бы один вес должен быть больше нуля');
    if (q.curLayerIds && q.curLayerIds.length > 1000) throw new InputError(`${at}curLayerIds`, 'не более 1000 слоёв');
    return w;
  }

  /** WHERE over `heat_cell c JOIN heat_layer l`: municipality, period overlap, theme subtree, districts, layers. */
  private curWhere(f: ParsedFilter, layerIds?: number[]): { sql: string; params: unknown[] } {
    const parts = ['c.municipality_id = ?'];
    const params: unknown[] = [f.municipalityId];
    if (f.from) { parts.push('l.period_to > ?'); params.push(f.from); }
    if (f.to) { parts.push('l.period_from < ?'); params.push(f.to); }
    if (f.themeIds) {
      parts.push(`c.theme_id IN (WITH RECURSIVE sub AS (SELECT id FROM theme WHERE id = ANY(?::int[])
                   UNION SELECT t.id FROM theme t JOIN sub ON t.parent_id = sub.id) SELECT id FROM sub)`);
      params.push(f.themeIds);
    }
    if (f.districtIds) {
      parts.push('EXISTS (SELECT 1 FROM district d WHERE d.id = ANY(?::int[]) AND ST_Intersects(d.geom, c.point))');
      params.push(f.districtIds);
    }
    if (layerIds) { parts.push('c.layer_id = ANY(?::int[])'); params.push(layerIds); }
    return { sql: parts.join(' AND '), params };
  }

  /**
   * SQL of the cells (columns hid, q, r, appeals, cur, part_appeals, part_cur, value) for a
   * rectangle. A cell counts the matching appeals (ЦУР points) that lie in the hexagon AND in the
   * rectangle (`point && rectangle`: inside or on its border), so the cells of a rectangle sum to
   * the number of matching appeals in it. The hexagon of each point is stored (hex_<size> columns),
   * so this is one GROUP BY per source; for appeals it reads appeal_heat_idx only. MERGED
   * normalises each source by its municipality-wide total for the filter and combines them with
   * the weights (normalised to sum 1): value in ‰ of the whole.
   */
  async cellsSql(f: ParsedFilter, q: HeatQuery, totals?: { appeals: number; cur: number }): Promise<{ sql: string; params: unknown[]; size: number; weights: HeatWeights }> {
    const weights = this.validate(f, q);
    const size = await this.gridSize(f.municipalityId, q.zoom);
    const col = hexColumn(q.zoom);
    const b = q.bbox;
    const [x0, y0] = toMercator(b.minLon, b.minLat);
    const [x1, y1] = toMercator(b.maxLon, b.maxLat);
    const estimate = ((x1 - x0) * (y1 - y0)) / ((3 * Math.sqrt(3)) / 2 * size * size);
    if (estimate > MAX_CELLS) throw new InputError('bbox', `слишком большой охват для масштаба ${q.zoom} (около ${Math.round(estimate)} ячеек): уменьшите охват или масштаб`);
    const env = 'ST_MakeEnvelope(?, ?, ?, ?, 4326)';
    const envParams = [b.minLon, b.minLat, b.maxLon, b.maxLat];
    const where = filterSql(f);
    const cw = this.curWhere(f, q.curLayerIds);
    const scale = await this.gridScale(f.municipalityId);
    const near = hexIdsCovering(x0, y0, x1, y1, INDEX_GRID * scale, MAX_INDEX_CELLS);
    const prefilter = near ? ` AND a.hex_${INDEX_GRID} = ANY(?::bigint[])` : '';
    const appealsSql = `SELECT a.${col} AS hid, count(*)::int AS n FROM appeal a WHERE ${where.sql}${prefilter} AND a.point && ${env} GROUP BY a.${col}`;
    const appealsParams = [...where.params, ...(prefilter ? [near] : []), ...envParams];
    const curSql = `SELECT c.${col} AS hid, sum(c.weight)::float8 AS w
      FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id WHERE ${cw.sql} AND c.point && ${env} GROUP BY c.${col}`;
    const curParams = [...cw.params, ...envParams];
    if (q.layer === HeatLayerKind.APPEALS)
      return {
        sql: `SELECT hid, ${HEX_QR_SQL}, n AS appeals, 0::float8 AS cur, n::float8 AS part_appeals, 0::float8 AS part_cur, n::float8 AS value FROM (${appealsSql}) ap`,
        params: appealsParams, size, weights,
      };
    if (q.layer === HeatLayerKind.CUR)
      return {
        sql: `SELECT hid, ${HEX_QR_SQL}, 0 AS appeals, w AS cur, 0::float8 AS part_appeals, w AS part_cur, w AS value FROM (${curSql}) cu`,
        params: curParams, size, weights,
      };
    const sum = weights.appeals + weights.cur;
    const wa = (1000 * weights.appeals) / sum;
    const wc = (1000 * weights.cur) / sum;
    // The totals are computed here unless the caller already has them (heatmap() reports them too).
    const tot = totals ? { sql: '?::float8 AS ta, ?::float8 AS tc', params: [totals.appeals, totals.cur] } : {
      sql: `(SELECT count(*) FROM appeal a WHERE ${where.sql} AND a.point IS NOT NULL)::float8 AS ta,
            (SELECT coalesce(sum(c.weight), 0) FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id WHERE ${cw.sql})::float8 AS tc`,
      params: [...where.params, ...cw.params],
    };
    const sql = `WITH ap AS (${appealsSql}), cu AS (${curSql}), tot AS (SELECT ${tot.sql}),
      m AS (SELECT coalesce(ap.hid, cu.hid) AS hid, coalesce(ap.n, 0) AS appeals, coalesce(cu.w, 0)::float8 AS cur,
                   CASE WHEN tot.ta > 0 THEN ?::float8 * coalesce(ap.n, 0) / tot.ta ELSE 0 END AS part_appeals,
                   CASE WHEN tot.tc > 0 THEN ?::float8 * coalesce(cu.w, 0) / tot.tc ELSE 0 END AS part_cur
              FROM ap FULL JOIN cu ON ap.hid = cu.hid CROSS JOIN tot)
      SELECT hid, ${HEX_QR_SQL}, appeals, cur, part_appeals, part_cur, part_appeals + part_cur AS value FROM m`;
    return { sql, params: [...appealsParams, ...curParams, ...tot.params, wa, wc], size, weights };
  }

  /** Totals MERGED normalises by (municipality-wide for the filter). */
  async totals(f: ParsedFilter, curLayerIds?: number[]): Promise<{ appeals: number; cur: number }> {
    const where = filterSql(f);
    const cw = this.curWhere(f, curLayerIds);
    const [t] = await query<{ ta: number; tc: number }>(
      this.em,
      `SELECT (SELECT count(*) FROM appeal a WHERE ${where.sql} AND a.point IS NOT NULL)::int AS ta,
              (SELECT coalesce(sum(c.weight), 0) FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id WHERE ${cw.sql})::float8 AS tc`,
      [...where.params, ...cw.params],
    );
    return { appeals: t.ta, cur: t.tc };
  }

  /** The heat map of a rectangle: cells sorted by (q, r). Reads only the columns the layer has. */
  async heatmap(f: ParsedFilter, q: HeatQuery): Promise<HeatMapResult> {
    const totals = q.layer === HeatLayerKind.MERGED ? await this.totals(f, q.curLayerIds) : undefined;
    const { sql, params, size, weights } = await this.cellsSql(f, q, totals);
    type Row = { q: number; r: number; appeals: number; cur: number; part_appeals: number; part_cur: number; value: number };
    const columns = q.layer === HeatLayerKind.APPEALS ? 'q, r, appeals' : q.layer === HeatLayerKind.CUR ? 'q, r, cur' : CELL_COLUMNS;
    const rows = await heatQuery<Row>(this.em, `SELECT ${columns} FROM (${sql}) cells ORDER BY hid`, params);
    const cells = q.layer === HeatLayerKind.APPEALS
      ? rows.map((r) => ({ q: r.q, r: r.r, appeals: r.appeals, cur: 0, partAppeals: r.appeals, partCur: 0, value: r.appeals }))
      : q.layer === HeatLayerKind.CUR
        ? rows.map((r) => ({ q: r.q, r: r.r, appeals: 0, cur: r.cur, partAppeals: 0, partCur: r.cur, value: r.cur }))
        : rows.map((r) => ({
          q: r.q, r: r.r, appeals: Number(r.appeals), cur: Number(r.cur),
          partAppeals: Number(r.part_appeals), partCur: Number(r.part_cur), value: Number(r.value),
        }));
    return {
      zoom: q.zoom,
      cellSizeMeters: cellSizeMeters(q.zoom),
      gridSize: size,
      layer: q.layer,
      weights,
      appealsTotal: totals?.appeals ?? null,
      curTotal: totals?.cur ?? null,
      cells,
    };
  }

  /**
   * Appeals per district for the filter, counted by the appeal's stored district (`appeal.district_id`: the
   * district whose polygon holds the appeal's point, set at import and re-derived in the same transaction whenever
   * districts are imported or a point is moved, so it equals the spatial join — test/perf.test.ts proves it), per
   * 1 000 residents, and the change against the previous period of the same length ([from − (to − from), from));
   * `to` defaults to now. Without `from` there is no previous period. One pass over the period's appeals
   * (appeal_risk_idx: municipality, received_at → district), never the whole table.
   */
  async districtStats(f: ParsedFilter, now = new Date()): Promise<DistrictStatsResult> {
    const to = f.from ? f.to ?? now : f.to ?? null;
    const from = f.from ?? null;
    const previousFrom = from && to ? new Date(from.getTime() - (to.getTime() - from.getTime())) : null;
    const wide: ParsedFilter = { ...f, from: previousFrom ?? from ?? undefined, to: to ?? undefined };
    const where = filterSql(wide);
    const districtWhere = f.districtIds ? ' AND d.id = ANY(?::int[])' : '';
    const rows = await boundQuery<{ id: number; name: string; population: number | null; n: number; prev: number }>(
      this.em,
      `SELECT d.id, d.name, d.population, coalesce(c.n, 0)::int AS n, coalesce(c.prev, 0)::int AS prev
         FROM district d
         LEFT JOIN (SELECT a.district_id,
                           count(*) FILTER (WHERE ?::timestamptz IS NULL OR a.received_at >= ?::timestamptz) AS n,
                           count(*) FILTER (WHERE a.received_at < ?::timestamptz) AS prev
                      FROM appeal a
                     WHERE ${where.sql} AND a.district_id IS NOT NULL
                     GROUP BY a.district_id) c ON c.district_id = d.id
        WHERE d.municipality_id = ?${districtWhere}
        ORDER BY d.name, d.id`,
      [from, from, previousFrom ? from : null, ...where.params, f.municipalityId, ...(f.districtIds ? [f.districtIds] : [])],
    );
    return {
      from,
      to,
      previousFrom,
      previousTo: previousFrom ? from : null,
      rows: rows.map((r) => {
        const previousCount = previousFrom ? r.prev : null;
        return {
          districtId: r.id,
          name: r.name,
          population: r.population,
          count: r.n,
          per1000: r.population ? (r.n * 1000) / r.population : null,
          previousCount,
          change: previousCount == null ? null : r.n - previousCount,
          changePercent: previousCount ? ((r.n - previousCount) * 100) / previousCount : null,
        };
      }),
    };
  }

  /**
   * The same figures by the spatial join (point in the district's polygon), as districtStats computed them before
   * the stored district was used: kept for the equality test and the benchmark's EXPLAIN notes, not served.
   */
  async districtCountsBySpatialJoin(f: ParsedFilter): Promise<{ id: number; n: number }[]> {
    const where = filterSql(f);
    return query<{ id: number; n: number }>(this.em,
      `SELECT d.id, count(a.id)::int AS n FROM district d LEFT JOIN appeal a ON ST_Intersects(d.geom, a.point) AND ${where.sql}
        WHERE d.municipality_id = ? GROUP BY d.id ORDER BY d.id`, [...where.params, f.municipalityId]);
  }

  async layers(municipalityId: number): Promise<HeatLayerRow[]> {
    return query<HeatLayerRow>(this.em, `SELECT ${HEAT_LAYER_COLUMNS} FROM heat_layer WHERE municipality_id = ? ORDER BY period_from DESC, id DESC`, [municipalityId]);
  }

  importLayer(municipalityId: number, input: HeatImportInput): Promise<HeatImportReport> {
    return importHeatLayer(this.em, municipalityId, input);
  }
}
