import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { fromVectorTileJs } from '@maplibre/vt-pbf';
import { query } from '../db/sql.js';
import { heatQuery } from './sql.js';
import { InputError } from '../errors.js';
import { municipalityArg } from '../graphql/municipality.js';
import { sendRouteError } from '../http/errors.js';
import { AppealFilter, parseFilter, type FilterOwner, type ParsedFilter } from '../appeals/filter.js';
import { AppealService } from '../appeals/service.js';
import { AppealStatus } from '../appeals/entities.js';
import { Channel } from '../reference/entities.js';
import { mercatorToBBox, tileBounds } from './grid.js';
import { HeatLayerKind, HeatmapService, type BBox, type HeatWeights } from './service.js';
import { DataVersion } from './version.js';
import { heavy } from '../db/admission.js';

/**
 * Vector tiles of the heat map: /tiles/<appeals|cur|merged>/{z}/{x}/{y}.mvt?<filter>.
 *
 * One SQL builds each tile's features on both backends: the cells of the heat map (the same
 * query as GraphQL `heatmap`) for the tile grown by the buffer and two cell radii — so every
 * hexagon touching the tile is complete — clipped to the buffered tile and moved to tile
 * coordinates (extent 4096, snapped to the integer grid, exterior rings clockwise on screen).
 * Real PostGIS encodes them with ST_AsMVT; the embedded PostGIS is built without protobuf, so
 * there the same rows are encoded in JS (@maplibre/vt-pbf). Decoded, both tiles are the same.
 */

export const EXTENT = 4096;
export const BUFFER = 64;
export const TILE_MIN_ZOOM = 5;
export const TILE_MAX_ZOOM = 22;
export const TILE_LAYERS: Record<string, HeatLayerKind> = { appeals: HeatLayerKind.APPEALS, cur: HeatLayerKind.CUR, merged: HeatLayerKind.MERGED };
const CACHE_CONTROL = 'public, max-age=30';
const CONTENT_TYPE = 'application/vnd.mapbox-vector-tile';

export type TileEncoder = 'st_asmvt' | 'js';

export interface TileRequest {
  layer: HeatLayerKind;
  z: number;
  x: number;
  y: number;
  filter: ParsedFilter;
  weights?: Partial<HeatWeights>;
  curLayerIds?: number[];
}

/** The rectangle whose cells make the tile: the tile grown by the buffer and two cell radii, in EPSG:4326. */
export function tileQueryBBox(z: number, x: number, y: number, gridSize: number): BBox {
  const t = tileBounds(z, x, y);
  const grow = (t.span * BUFFER) / EXTENT + 2 * gridSize;
  return mercatorToBBox(t.minX - grow, t.minY - grow, t.maxX + grow, t.maxY + grow);
}

/** Checks z/x/y of a tile path. */
export function parseTileAddress(zs: string, xs: string, file: string): { z: number; x: number; y: number } {
  if (!/^\d{1,2}$/.test(zs)) throw new InputError('z', `масштаб тайла — целое число, получено «${zs.slice(0, 20)}»`);
  const z = Number(zs);
  if (z < TILE_MIN_ZOOM || z > TILE_MAX_ZOOM) throw new InputError('z', `масштаб тайла от ${TILE_MIN_ZOOM} до ${TILE_MAX_ZOOM}, получено ${z}`);
  const m = /^(\d{1,8})\.mvt$/.exec(file);
  if (!/^\d{1,8}$/.test(xs)) throw new InputError('x', `номер столбца тайла — целое число, получено «${xs.slice(0, 20)}»`);
  if (!m) throw new InputError('y', `ожидается {y}.mvt, получено «${file.slice(0, 20)}»`);
  const x = Number(xs);
  const y = Number(m[1]);
  const n = 2 ** z;
  if (x >= n) throw new InputError('x', `номер столбца тайла от 0 до ${n - 1} на масштабе ${z}`);
  if (y >= n) throw new InputError('y', `номер строки тайла от 0 до ${n - 1} на масштабе ${z}`);
  return { z, x, y };
}

const QUERY_PARAMS = new Set(['from', 'to', 'themeIds', 'districtIds', 'organizationIds', 'channels', 'statuses', 'text', 'wAppeals', 'wCur', 'curLayerIds', 'municipalityId']);

function list(v: unknown): string[] {
  const items = Array.isArray(v) ? v : [v];
  return items.flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);
}

function date(name: string, v: unknown): Date {
  const s = String(v);
  const d = /^\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?$/.test(s) ? new Date(s.length === 10 ? `${s}T00:00:00Z` : s) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new InputError(name, `ожидается дата ГГГГ-ММ-ДД или ISO 8601, получено «${s.slice(0, 40)}»`);
  return d;
}

function num(name: string, v: unknown): number {
  const s = String(v);
  const n = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n)) throw new InputError(name, `ожидается неотрицательное число, получено «${s.slice(0, 40)}»`);
  return n;
}

/**
 * Query string → the AppealFilter of GraphQL (then parseFilter, the one filter of the project),
 * plus the merge weights and ЦУР layers. Lists are comma-separated or repeated.
 */
export function tileQueryToFilter(q: Record<string, unknown>): { filter: AppealFilter; weights: Partial<HeatWeights>; curLayerIds?: string[] } {
  for (const k of Object.keys(q)) if (!QUERY_PARAMS.has(k)) throw new InputError(k, `неизвестный параметр; допустимы: ${[...QUERY_PARAMS].join(', ')}`);
  const f: AppealFilter = {};
  const single = (k: string) => {
    const v = q[k];
    if (Array.isArray(v)) throw new InputError(k, 'параметр указан несколько раз');
    return v;
  };
  if (q.municipalityId != null) f.municipalityId = String(single('municipalityId'));
  if (q.from != null) f.from = date('from', single('from'));
  if (q.to != null) f.to = date('to', single('to'));
  if (q.themeIds != null) f.themeIds = list(q.themeIds);
  if (q.districtIds != null) f.districtIds = list(q.districtIds);
  if (q.organizationIds != null) f.organizationIds = list(q.organizationIds);
  if (q.channels != null) {
    const all = Object.values(Channel) as string[];
    f.channels = list(q.channels).map((c, i) => {
      if (!all.includes(c)) throw new InputError(`channels[${i}]`, `неизвестный канал «${c.slice(0, 40)}»; допустимы: ${all.join(', ')}`);
      return c as Channel;
    });
  }
  if (q.statuses != null) {
    const all = Object.values(AppealStatus) as string[];
    f.statuses = list(q.statuses).map((s, i) => {
      if (!all.includes(s)) throw new InputError(`statuses[${i}]`, `неизвестный статус «${s.slice(0, 40)}»; допустимы: ${all.join(', ')}`);
      return s as AppealStatus;
    });
  }
  if (q.text != null) f.text = String(single('text'));
  const weights: Partial<HeatWeights> = {};
  if (q.wAppeals != null) weights.appeals = num('wAppeals', single('wAppeals'));
  if (q.wCur != null) weights.cur = num('wCur', single('wCur'));
  return { filter: f, weights, curLayerIds: q.curLayerIds != null ? list(q.curLayerIds) : undefined };
}

export interface TileRow {
  hid: string | number;
  q: number;
  r: number;
  appeals: number;
  cur: number;
  part_appeals: number;
  part_cur: number;
  value: number;
}

/**
 * The SQL of the tile's rows (both encoders read exactly these; geometry in tile space).
 * The cells are aggregated once (a MATERIALIZED CTE: the GROUP BY over the stored cell ids of the
 * tile's query rectangle), then only the cells whose hexagon's bounding box overlaps the buffered
 * tile get a polygon. A hexagon that lies inside the buffered tile is used as it is; only those
 * crossing its edge are clipped (ST_Intersection). Then: to tile coordinates, snapped to the
 * integer grid, exterior rings clockwise on screen.
 */
export async function tileSql(em: EntityManager, t: TileRequest) {
  const svc = new HeatmapService(em);
  const size = await svc.gridSize(t.filter.municipalityId, t.z);
  const cells = await svc.cellsSql(t.filter, { bbox: tileQueryBBox(t.z, t.x, t.y, size), zoom: t.z, layer: t.layer, weights: t.weights, curLayerIds: t.curLayerIds });
  const b = tileBounds(t.z, t.x, t.y);
  const buf = (b.span * BUFFER) / EXTENT;
  const k = EXTENT / b.span;
  // Pointy-top hexagon of circumradius s around (cx, cy): the vertices of heat_hexagon().
  const vertex = (deg: number) => `ST_MakePoint(h.cx + p.s * cos(radians(${deg})), h.cy + p.s * sin(radians(${deg})))`;
  const hexagon = `ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY[${[-30, 30, 90, 150, 210, 270, -30].map(vertex).join(', ')}])), 3857)`;
  // x' = (X − minX)·k, y' = (maxY − Y)·k: ST_Affine(g, a, b, d, e, xoff, yoff).
  const sql = `WITH p AS (SELECT ?::float8 AS s, ?::float8 AS hw, ?::float8 AS x0, ?::float8 AS y0, ?::float8 AS x1, ?::float8 AS y1),
      cells AS MATERIALIZED (${cells.sql}),
      h AS MATERIALIZED (
        SELECT c.*, cx, cy FROM cells c CROSS JOIN p
          CROSS JOIN LATERAL (SELECT p.s * sqrt(3) * (c.q + c.r / 2.0) AS cx, p.s * 1.5 * c.r AS cy) ctr
         WHERE cx + p.hw > p.x0 AND cx - p.hw < p.x1 AND cy + p.s > p.y0 AND cy - p.s < p.y1)
    SELECT hid, q, r, appeals, cur, part_appeals, part_cur, value, geom FROM (
      SELECT h.hid, h.q, h.r, h.appeals, h.cur, h.part_appeals, h.part_cur, h.value,
             ST_ForcePolygonCCW(ST_SnapToGrid(ST_Affine(
               CASE WHEN h.cx - p.hw >= p.x0 AND h.cx + p.hw <= p.x1 AND h.cy - p.s >= p.y0 AND h.cy + p.s <= p.y1 THEN ${hexagon}
                    ELSE ST_Intersection(${hexagon}, ST_MakeEnvelope(p.x0, p.y0, p.x1, p.y1, 3857)) END,
               ?::float8, 0, 0, ?::float8, ?::float8, ?::float8), 1)) AS geom
        FROM h CROSS JOIN p
      OFFSET 0) t -- not flattened: each polygon is built once, not once per reference to geom
     WHERE GeometryType(geom) = 'POLYGON' AND NOT ST_IsEmpty(geom)`;
  const params = [size, (size * Math.sqrt(3)) / 2, b.minX - buf, b.minY - buf, b.maxX + buf, b.maxY + buf, ...cells.params, k, -k, -b.minX * k, b.maxY * k];
  return { sql, params };
}

/** Layer name inside the tile: the URL's layer (appeals, cur, merged). */
export function mvtLayerName(kind: HeatLayerKind): string {
  return kind.toLowerCase();
}

/** Renders a tile with the given encoder (tests call both on real PostGIS). */
export async function renderTile(em: EntityManager, t: TileRequest, encoder: TileEncoder): Promise<Buffer> {
  const { sql, params } = await tileSql(em, t);
  const name = mvtLayerName(t.layer);
  const wrapped = wrapTileSql(sql, params, name, encoder);
  if (encoder === 'st_asmvt') {
    const [r] = await heatQuery<{ mvt: Buffer | null }>(em, wrapped.sql, wrapped.params);
    return r?.mvt ? Buffer.from(r.mvt) : Buffer.alloc(0);
  }
  return encodeTileJs(name, await heatQuery<TileRow & { geom: string }>(em, wrapped.sql, wrapped.params));
}

/** The final statement of each encoder: ST_AsMVT over the rows, or the rows with GeoJSON geometry for the JS encoder. */
export function wrapTileSql(sql: string, params: unknown[], name: string, encoder: TileEncoder): { sql: string; params: unknown[] } {
  if (encoder === 'st_asmvt') return { sql: `SELECT ST_AsMVT(tile, ?, ${EXTENT}, 'geom', 'hid') AS mvt FROM (${sql} ORDER BY hid) tile`, params: [name, ...params] };
  return { sql: `SELECT hid, q, r, appeals, cur, part_appeals, part_cur, value, ST_AsGeoJSON(geom, 0) AS geom FROM (${sql}) tile ORDER BY hid`, params };
}

/** The JS encoder: tile-space polygons (GeoJSON text) and properties → MVT bytes. */
export function encodeTileJs(name: string, rows: (TileRow & { geom: string })[]): Buffer {
  if (!rows.length) return Buffer.alloc(0);
  const features = rows.map((r) => {
    const g = JSON.parse(r.geom) as { coordinates: number[][][] };
    return {
      type: 3 as const,
      id: Number(r.hid),
      extent: EXTENT,
      properties: {
        q: r.q, r: r.r, appeals: Number(r.appeals), cur: Number(r.cur),
        part_appeals: Number(r.part_appeals), part_cur: Number(r.part_cur), value: Number(r.value),
      },
      // vt-pbf reads only .x and .y of each point.
      loadGeometry: () => g.coordinates.map((ring) => ring.map(([x, y]) => ({ x, y }))),
    };
  });
  const layer = { version: 2, name, extent: EXTENT, length: features.length, feature: (i: number) => features[i] };
  return Buffer.from(fromVectorTileJs({ layers: { [name]: layer } } as unknown as Parameters<typeof fromVectorTileJs>[0]));
}

/** Whether this database's PostGIS can encode MVT (real PostGIS: yes; embedded PGlite: built without protobuf). */
export async function detectEncoder(em: EntityManager): Promise<TileEncoder> {
  try {
    await query(em, `SELECT ST_AsMVT(t, 'probe', ${EXTENT}, 'geom') FROM (SELECT 1 AS id, ST_SetSRID(ST_MakePoint(1, 1), 3857) AS geom) t`);
    return 'st_asmvt';
  } catch {
    return 'js';
  }
}

interface CachedTile {
  body: Buffer;
  etag: string;
}

/** A small LRU: Map keeps insertion order; a hit moves the entry to the end. Bounded by entries and bytes. */
export class TileCache {
  private map = new Map<string, CachedTile>();
  private bytes = 0;
  constructor(private readonly maxEntries = 5000, private readonly maxBytes = 64 * 1024 * 1024) {}

  get(key: string): CachedTile | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, v: CachedTile): void {
    const old = this.map.get(key);
    if (old) { this.bytes -= old.body.length; this.map.delete(key); }
    this.map.set(key, v);
    this.bytes += v.body.length;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [k, e] = this.map.entries().next().value as [string, CachedTile];
      this.map.delete(k);
      this.bytes -= e.body.length;
    }
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.map.size;
  }
}

function send(req: IncomingMessage, res: ServerResponse, tile: CachedTile) {
  if (req.headers['if-none-match'] === tile.etag) {
    res.writeHead(304, { 'Cache-Control': CACHE_CONTROL, ETag: tile.etag });
    res.end();
    return;
  }
  res.writeHead(200, { 'Cache-Control': CACHE_CONTROL, ETag: tile.etag, 'Content-Type': CONTENT_TYPE, 'Content-Length': tile.body.length });
  res.end(tile.body);
}

export const sendTileError = (res: Response, e: unknown) => sendRouteError(res, e, 'tiles');

/** The tile a request asks for (layer, address, filter of the owner, weights, ЦУР layers); bad input → InputError. */
export function parseTileRequest(req: Request, owner: FilterOwner): TileRequest {
  // Own keys only: `constructor` or `__proto__` would find Object's members (an internal error).
  const layer = Object.hasOwn(TILE_LAYERS, String(req.params.layer)) ? TILE_LAYERS[String(req.params.layer)] : undefined;
  if (!layer) throw new InputError('layer', `неизвестный слой «${String(req.params.layer).slice(0, 20)}»; допустимы: ${Object.keys(TILE_LAYERS).join(', ')}`);
  const { z, x, y } = parseTileAddress(String(req.params.z), String(req.params.x), String(req.params.file));
  const q = tileQueryToFilter(req.query as Record<string, unknown>);
  const filter = parseFilter(q.filter, owner);
  const curLayerIds = q.curLayerIds?.map((v, i) => {
    if (!/^\d{1,9}$/.test(v)) throw new InputError(`curLayerIds[${i}]`, `неверный идентификатор «${v.slice(0, 40)}»`);
    return Number(v);
  });
  return { layer, z, x, y, filter, weights: q.weights, curLayerIds };
}

/** Renders the tile of a parsed request after checking the filter's references. */
export async function renderTileRequest(em: EntityManager, t: TileRequest, encoder: TileEncoder): Promise<{ body: Buffer; etag: string }> {
  await new AppealService(em).checkReferences(t.filter);
  const body = await renderTile(em, t, encoder);
  return { body, etag: `"${crypto.createHash('sha1').update(body).digest('base64url')}"` };
}

/** The key of a rendered tile: the municipality it is of, the path with its query, the data version. */
export function tileCacheKey(municipalityId: number, url: string, version: string): string {
  return `m${municipalityId}|${url}@${version}`;
}

/**
 * The municipality a tile request is of: its `municipalityId` parameter when given and readable by the signed-in user
 * (a regional role: any municipality of its region; anybody else: only their own), else the user's municipality.
 * Checked before any cache is consulted, so a cached tile never reaches a user of another municipality.
 */
export function tileMunicipality(req: IncomingMessage, fallback: number): number {
  const user = req.auth?.user;
  const own = user?.municipalityId ?? fallback;
  const q = req.url?.includes('?') ? new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1)) : undefined;
  const asked = q?.getAll('municipalityId') ?? [];
  if (!asked.length) return own;
  if (asked.length > 1) throw new InputError('municipalityId', 'параметр указан несколько раз');
  const ids = user?.regionMunicipalityIds?.length ? user.regionMunicipalityIds : [own];
  return municipalityArg({ municipalityId: own, municipalityIds: ids, user }, asked[0]);
}

export interface TileServer {
  handler(req: Request, res: Response): Promise<void>;
  /**
   * Serves a cached tile straight from the Node request, before Express (its routing costs about
   * two thirds of a cached answer); false when the request is not a fresh cache hit.
   */
  serveCached(req: IncomingMessage, res: ServerResponse): boolean;
  encoder: TileEncoder;
  cache: TileCache;
  close(): void;
}

/**
 * The HTTP handler of /tiles/:layer/:z/:x/:file with an in-memory LRU keyed by the path and the
 * raw query string, valid for one data version (see DataVersion): a new import empties it.
 */
export async function createTileServer(orm: MikroORM, defaultMunicipalityId: number): Promise<TileServer> {
  const encoder = await detectEncoder(orm.em.fork());
  const version = new DataVersion(() => orm.em.fork());
  const cache = new TileCache();
  let cachedVersion: string | undefined;
  const inflight = new Map<string, Promise<CachedTile>>();

  const render = async (req: Request, key: string, municipalityId: number): Promise<CachedTile> => {
    // The municipality was checked (tileMunicipality) before the cache was consulted; it is the filter's.
    const tile = await renderTileRequest(orm.em.fork(), parseTileRequest(req, municipalityId), encoder);
    cache.set(key, tile);
    return tile;
  };

  return {
    encoder,
    cache,
    async handler(req, res) {
      try {
        const v = version.get();
        const current = typeof v === 'string' ? v : await v;
        if (current !== cachedVersion) {
          cache.clear();
          cachedVersion = current;
        }
        // The cache is keyed by the municipality the tile is of (a URL means different data in each municipality).
        const municipalityId = tileMunicipality(req, defaultMunicipalityId);
        const key = tileCacheKey(municipalityId, req.originalUrl, current);
        let tile = cache.get(key);
        if (!tile) {
          let p = inflight.get(key);
          if (!p) {
            // A rendered tile is heavy work: under the pool's admission (cached tiles never get here).
            p = heavy(orm.em, () => render(req, key, municipalityId)).finally(() => inflight.delete(key));
            inflight.set(key, p);
          }
          tile = await p;
        }
        send(req, res, tile);
      } catch (e) {
        sendTileError(res, e);
      }
    },
    serveCached(req, res) {
      if (req.method !== 'GET' || !req.url?.startsWith('/tiles/')) return false;
      const current = version.peek();
      if (current === undefined || current !== cachedVersion) return false;
      let municipalityId: number;
      try { municipalityId = tileMunicipality(req, defaultMunicipalityId); } catch { return false; }
      const tile = cache.get(tileCacheKey(municipalityId, req.url, current));
      if (!tile) return false;
      send(req, res, tile);
      return true;
    },
    close() {
      version.dispose();
      cache.clear();
    },
  };
}
