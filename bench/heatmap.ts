import http from 'node:http';
import pg from 'pg';
import autocannon from 'autocannon';
import type { App } from '../server/app.js';
import { parseFilter } from '../server/appeals/filter.js';
import { HeatLayerKind, INDEX_GRID, MAX_INDEX_CELLS } from '../server/heatmap/service.js';
import { encodeTileJs, tileSql, wrapTileSql, type TileRow } from '../server/heatmap/tiles.js';
import { hexColumn, hexIdsCovering, toMercator } from '../server/heatmap/grid.js';
import { benchAuth, median, mulberry32, percentile, type SummaryRow } from './lib.js';

/**
 * Heat-map benchmarks (issue 4):
 * 1. GraphQL `heatmap` (APPEALS, cells with geometry) for random city viewports, zooms and periods
 *    vs the same aggregation written by hand (GROUP BY the stored cell ids) over a plain pg
 *    connection, interleaved;
 * 2. an uncached tile through HTTP vs the same tile's SQL run directly (ST_AsMVT on real PostGIS;
 *    on the embedded backend, whose PostGIS has no protobuf, the rows query + the JS encoder);
 * 3. cached tiles served to 32 concurrent clients on loopback for a bounded time (autocannon).
 */

const QUERY = `query Bench($bbox: BBoxInput!, $zoom: Int!, $filter: AppealFilter) {
  heatmap(bbox: $bbox, zoom: $zoom, filter: $filter, layer: APPEALS) { total cells { id value appeals geometry } }
}`;

/**
 * The same cells, written by hand: a GROUP BY over the stored hexagon ids of the zoom's grid
 * (hex_<size>, filled by a trigger on insert) for the period and the rectangle, narrowed to the
 * 500 m hexagons the rectangle can touch (the lead of appeal_heat_idx), as the server does.
 */
function rawSql(zoom: number): string {
  const col = hexColumn(zoom);
  return `SELECT a.${col} AS hid, count(*)::int AS n FROM appeal a
   WHERE a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at < $3 AND a.hex_${INDEX_GRID} = ANY($8::bigint[])
     AND a.point && ST_MakeEnvelope($4, $5, $6, $7, 4326)
   GROUP BY a.${col}`;
}

/** `?` placeholders → `$n` for a plain pg client. */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

function tileOf(lon: number, lat: number, z: number) {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  return { x: Math.floor(((lon + 180) / 360) * n), y: Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n) };
}

/**
 * The benchmark's HTTP client: node:http with a keep-alive agent. The client runs on the server's
 * own event loop, so its work counts against the server's figures; undici's fetch (WHATWG
 * Request/Headers/streams) costs about a millisecond more per request than this plain client.
 */
function httpClient(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(base);
  return (method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...benchAuth.headers };
      if (body !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(body); }
      const req = http.request({ agent, host: url.hostname, port: url.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}

function ymd(d: Date) {
  return d.toISOString().slice(0, 10);
}

export async function benchHeatmap(app: App, backend: SummaryRow['backend'], n: number, iterations: number): Promise<SummaryRow[]> {
  const raw = new pg.Client({ connectionString: app.databaseUrl });
  await raw.connect();
  const date = new Date().toISOString().slice(0, 10);
  const rows: SummaryRow[] = [];
  try {
    // ---- 1. GraphQL heat map vs raw SQL aggregation
    const [{ scale }] = (await raw.query('SELECT heat_grid_scale(ST_Y(center)) AS scale FROM municipality WHERE id = $1', [app.municipalityId])).rows;
    const rnd = mulberry32(4404);
    const cases = Array.from({ length: iterations }, () => {
      const w = 0.04 + rnd() * 0.09;
      const h = w * 0.6;
      const minLon = 81.14 + rnd() * (0.14 - w);
      const minLat = 51.47 + rnd() * (0.09 - h);
      const zoom = 11 + Math.floor(rnd() * 5);
      const from = new Date(Date.UTC(2025, Math.floor(rnd() * 20), 1));
      const to = new Date(from.getTime() + (30 + Math.floor(rnd() * 300)) * 86400_000);
      return { bbox: { minLon, minLat, maxLon: minLon + w, maxLat: minLat + h }, zoom, from, to };
    });
    const client = httpClient(app.url);
    const runOurs = async (c: (typeof cases)[number]) => {
      const t = performance.now();
      const res = await client('POST', '/graphql', JSON.stringify({ query: QUERY, variables: { bbox: c.bbox, zoom: c.zoom, filter: { from: c.from, to: c.to } } }));
      const body = JSON.parse(res.body.toString('utf8')) as { errors?: unknown; data: { heatmap: { total: number; cells: unknown[] } } };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return { ms: performance.now() - t, total: body.data.heatmap.total, cells: body.data.heatmap.cells.length };
    };
    const runRaw = async (c: (typeof cases)[number]) => {
      const t = performance.now();
      const [x0, y0] = toMercator(c.bbox.minLon, c.bbox.minLat);
      const [x1, y1] = toMercator(c.bbox.maxLon, c.bbox.maxLat);
      const near = hexIdsCovering(x0, y0, x1, y1, INDEX_GRID * scale, MAX_INDEX_CELLS);
      if (!near) throw new Error('a city viewport names at most MAX_INDEX_CELLS hexagons');
      const r = await raw.query(rawSql(c.zoom), [app.municipalityId, c.from, c.to, c.bbox.minLon, c.bbox.minLat, c.bbox.maxLon, c.bbox.maxLat, near]);
      return { ms: performance.now() - t, total: r.rows.reduce((s, x) => s + x.n, 0), cells: r.rowCount ?? 0 };
    };
    for (const c of cases.slice(0, 5)) { await runOurs(c); await runRaw(c); }
    const ours: number[] = [];
    const base: number[] = [];
    let cellsSeen = 0;
    for (const [i, c] of cases.entries()) {
      const [a, b] = i % 2 ? [await runOurs(c), await runRaw(c)] : [await runRaw(c), await runOurs(c)].reverse();
      if (a.total !== b.total || a.cells !== b.cells) throw new Error(`heatmap mismatch: GraphQL ${a.total}/${a.cells} cells vs SQL ${b.total}/${b.cells}`);
      ours.push(a.ms);
      base.push(b.ms);
      cellsSeen += a.cells;
    }
    const mo = median(ours);
    const mb = median(base);
    rows.push({
      name: 'heatmap GraphQL (APPEALS, city viewport, cells with geometry) vs raw SQL aggregation',
      backend, n, ours: mo, baseline: mb, ratio: mo / mb, unit: 'ms (median)', target: 1.25, date,
      notes: `p95 ours ${percentile(ours, 95).toFixed(1)} / raw ${percentile(base, 95).toFixed(1)} ms (ratio ${(percentile(ours, 95) / percentile(base, 95)).toFixed(2)}); ${iterations} viewports, zoom 11–15, periods 1–11 months; ${Math.round(cellsSeen / iterations)} cells on average; client node:http keep-alive, response parsed`,
    });

    // ---- 2. uncached tile through HTTP vs the tile's SQL run directly
    const encoder = backend === 'postgis' ? 'st_asmvt' : 'js';
    const trnd = mulberry32(8808);
    const tiles = Array.from({ length: iterations }, (_, i) => {
      const z = 12 + Math.floor(trnd() * 4);
      const { x, y } = tileOf(81.16 + trnd() * 0.1, 51.48 + trnd() * 0.07, z);
      const from = new Date(Date.UTC(2025, Math.floor(trnd() * 20), 1));
      const to = new Date(from.getTime() + (30 + Math.floor(trnd() * 300)) * 86400_000);
      // `i` in the period's last second makes every URL distinct, so each HTTP request misses the cache.
      return { z, x, y, from, to: new Date(to.getTime() + i * 1000) };
    });
    const em = app.orm.em.fork();
    const tileOurs = async (t: (typeof tiles)[number]) => {
      const s = performance.now();
      const res = await client('GET', `/tiles/appeals/${t.z}/${t.x}/${t.y}.mvt?from=${t.from.toISOString()}&to=${t.to.toISOString()}`);
      if (res.status !== 200) throw new Error(`tile HTTP ${res.status}: ${res.body.toString('utf8')}`);
      const body = res.body;
      return { ms: performance.now() - s, bytes: body.length };
    };
    const tileRaw = async (t: (typeof tiles)[number]) => {
      const filter = parseFilter({ from: t.from, to: t.to }, app.municipalityId);
      const q = await tileSql(em, { layer: HeatLayerKind.APPEALS, z: t.z, x: t.x, y: t.y, filter });
      const w = wrapTileSql(q.sql, q.params, 'appeals', encoder);
      const s = performance.now();
      const r = await raw.query(numbered(w.sql), w.params);
      const body = encoder === 'st_asmvt' ? (r.rows[0]?.mvt ?? Buffer.alloc(0)) : encodeTileJs('appeals', r.rows as (TileRow & { geom: string })[]);
      return { ms: performance.now() - s, bytes: body.length };
    };
    for (const t of tiles.slice(0, 5)) { await tileRaw(t); }
    const tOurs: number[] = [];
    const tBase: number[] = [];
    for (const [i, t] of tiles.entries()) {
      const [a, b] = i % 2 ? [await tileOurs(t), await tileRaw(t)] : [await tileRaw(t), await tileOurs(t)].reverse();
      if (a.bytes === 0 !== (b.bytes === 0)) throw new Error(`tile mismatch at ${t.z}/${t.x}/${t.y}: ${a.bytes} vs ${b.bytes} bytes`);
      tOurs.push(a.ms);
      tBase.push(b.ms);
    }
    const to = median(tOurs);
    const tb = median(tBase);
    rows.push({
      name: `tile via HTTP (uncached) vs raw ${encoder === 'st_asmvt' ? 'ST_AsMVT SQL' : 'tile SQL + JS encoder'}`,
      backend, n, ours: to, baseline: tb, ratio: to / tb, unit: 'ms (median)', target: 1.2, date,
      notes: `p95 ours ${percentile(tOurs, 95).toFixed(1)} / raw ${percentile(tBase, 95).toFixed(1)} ms (ratio ${(percentile(tOurs, 95) / percentile(tBase, 95)).toFixed(2)}); ${iterations} tiles z12–15, random periods; client node:http keep-alive`
        + (encoder === 'js' ? '; embedded PostGIS has no protobuf: the baseline is the same rows query + the JS encoder (@maplibre/vt-pbf) in-process' : ''),
    });

    // ---- 3. cached tiles: 32 concurrent clients on loopback
    const paths: string[] = [];
    for (let z = 12; z <= 14; z++) {
      const a = tileOf(81.17, 51.53, z);
      const b = tileOf(81.25, 51.49, z);
      for (let x = a.x; x <= b.x; x++) for (let y = a.y; y <= b.y; y++) paths.push(`/tiles/appeals/${z}/${x}/${y}.mvt?from=${ymd(new Date(Date.UTC(2025, 0, 1)))}&to=${ymd(new Date(Date.UTC(2026, 0, 1)))}`);
    }
    for (const p of paths) await (await fetch(app.url + p)).arrayBuffer(); // warm the cache
    const duration = 10;
    const result = await autocannon({
      url: app.url,
      connections: 32,
      // The load generator runs in its own thread, not on the server's event loop.
      workers: 1,
      duration,
      // The same signed-in session as the rest of the benchmark (signInBench).
      headers: benchAuth.headers,
      requests: paths.map((path) => ({ method: 'GET' as const, path })),
    });
    const rps = result.requests.average;
    rows.push({
      name: 'cached tile throughput (32 clients, loopback)',
      backend, n, ours: rps, baseline: 5000, ratio: rps / 5000, unit: 'req/s (mean)', target: '≥ 5000 req/s', date,
      notes: `autocannon (1 worker thread) ${duration} s over ${paths.length} warmed tiles; latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms; non-2xx ${result.non2xx}, errors ${result.errors}; baseline column = the target`,
    });
  } finally {
    await raw.end();
  }
  return rows;
}
