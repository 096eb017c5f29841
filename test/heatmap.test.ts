import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { parseFilter } from '../server/appeals/filter.js';
import { hexId, mercatorSize } from '../server/heatmap/grid.js';
import { HeatLayerKind } from '../server/heatmap/service.js';
import { renderTile, tileQueryBBox, BUFFER, EXTENT } from '../server/heatmap/tiles.js';
import { tileBounds } from '../server/heatmap/grid.js';

const HEATMAP = `query H($bbox: BBoxInput!, $zoom: Int!, $filter: AppealFilter, $layer: HeatLayerKind, $weights: HeatWeightsInput) {
  heatmap(bbox: $bbox, zoom: $zoom, filter: $filter, layer: $layer, weights: $weights) {
    layer zoom cellSizeMeters weightAppeals weightCur appealsTotal curTotal total maxValue
    cells { id q r value appeals cur parts { appeals cur } geometry }
  }
}`;
const IMPORT = `mutation I($input: HeatLayerImportInput!) {
  importHeatLayer(input: $input) {
    alreadyImported read inserted rejected rejections { line field reason }
    layer { id name source format periodFrom periodTo checksum rowsRead cellCount totalWeight theme { code } }
  }
}`;

const CITY = { minLon: 81.15, minLat: 51.47, maxLon: 81.28, maxLat: 51.56 };

/** Independent JS version of the grid: pointy-top axial hexagons in EPSG:3857, cube rounding. */
function hexOf(lon: number, lat: number, size: number): string {
  const R = 6378137;
  const x = (R * lon * Math.PI) / 180;
  const y = R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
  const qf = ((Math.sqrt(3) / 3) * x - y / 3) / size;
  const rf = ((2 / 3) * y) / size;
  const sf = -qf - rf;
  let q = Math.round(qf);
  let r = Math.round(rf);
  const s = Math.round(sf);
  const dq = Math.abs(q - qf), dr = Math.abs(r - rf), ds = Math.abs(s - sf);
  if (dq > dr && dq > ds) q = -r - s;
  else if (dr > ds) r = -q - s;
  return `${q}:${r}`;
}

function tileOf(lon: number, lat: number, z: number): { x: number; y: number } {
  const n = 2 ** z;
  const rad = (lat * Math.PI) / 180;
  return { x: Math.floor(((lon + 180) / 360) * n), y: Math.floor(((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n) };
}

interface DecodedFeature { id: number; props: Record<string, unknown>; geometry: number[][][] }

function decode(buf: Uint8Array | Buffer): Record<string, DecodedFeature[]> {
  if (!buf.length) return {};
  const tile = new VectorTile(new PbfReader(buf));
  const out: Record<string, DecodedFeature[]> = {};
  for (const [name, layer] of Object.entries(tile.layers)) {
    out[name] = [];
    for (let i = 0; i < layer.length; i++) {
      const f = layer.feature(i);
      out[name].push({ id: Number(f.id), props: { ...f.properties }, geometry: f.loadGeometry().map((ring) => ring.map((p) => [p.x, p.y])) });
    }
    out[name].sort((a, b) => a.id - b.id);
  }
  return out;
}

const GOOD_CSV = [
  'lat;lon;weight;theme',
  '51,5140;81,2118;5;roads.potholes',
  '51.5145;81.2120;3;',
  '"51.5090";"81.1867";2,5;gkh.heating',
  'abc;81.2;1;',
  '81.21;51.515;4;', // swapped
  '51.52;81.22;-1;',
  '51.52;81.22;1;no.such.theme',
  '51.52;81.22',
  '51.5200;81.2300;7;',
  '',
].join('\n');

const GEOJSON = JSON.stringify({
  type: 'FeatureCollection',
  features: [
    { type: 'Feature', properties: { weight: 4, theme: 'blag.waste' }, geometry: { type: 'Point', coordinates: [81.205, 51.512] } },
    { type: 'Feature', properties: { weight: 6 }, geometry: { type: 'Polygon', coordinates: [[[81.2, 51.5], [81.202, 51.5], [81.202, 51.502], [81.2, 51.502], [81.2, 51.5]]] } },
    { type: 'Feature', properties: { weight: 2 }, geometry: { type: 'Polygon', coordinates: [[[81.2, 51.5], [81.202, 51.502], [81.202, 51.5], [81.2, 51.502], [81.2, 51.5]]] } }, // bow-tie
    { type: 'Feature', properties: { weight: 1 }, geometry: { type: 'Point', coordinates: [51.512, 81.205] } }, // swapped
    { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [81.205, 51.512] } }, // no weight
    { type: 'Feature', properties: { weight: 1 }, geometry: { type: 'LineString', coordinates: [[81.2, 51.5], [81.21, 51.51]] } },
  ],
});

describe.each(backends)('heat map on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 3000);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('loads the demo ЦУР layer with the demo data', async () => {
    const r = await app.gql('{ heatLayers { id name source format cellCount totalWeight periodFrom periodTo } }');
    expect(r.errors).toBeUndefined();
    expect(r.data.heatLayers).toHaveLength(1);
    const l = r.data.heatLayers[0];
    expect(l.format).toBe('CSV');
    expect(l.cellCount).toBeGreaterThan(500);
    const [{ n, w }] = await app.sql('SELECT count(*)::int AS n, sum(weight)::float8 AS w FROM heat_cell WHERE layer_id = ?', [Number(l.id)]);
    expect(n).toBe(l.cellCount);
    expect(w).toBeCloseTo(l.totalWeight, 6);
  });

  it('imports a CSV layer, reports bad rows with line, field and reason, and a re-import changes nothing', async () => {
    const input = { content: GOOD_CSV, format: 'CSV', periodFrom: '2026-01-01T00:00:00Z', periodTo: '2026-02-01T00:00:00Z', name: 'ЦУР январь' };
    const r = await app.gql(IMPORT, { input });
    expect(r.errors).toBeUndefined();
    const rep = r.data.importHeatLayer;
    expect(rep).toMatchObject({ alreadyImported: false, read: 9, inserted: 4, rejected: 5 });
    expect(rep.layer).toMatchObject({ name: 'ЦУР январь', format: 'CSV', rowsRead: 9, cellCount: 4, totalWeight: 17.5 });
    const byLine = Object.fromEntries(rep.rejections.map((x: any) => [x.line, x]));
    expect(rep.rejections.map((x: any) => x.line)).toEqual([5, 6, 7, 8, 9]);
    expect(byLine[5]).toMatchObject({ field: 'rows[3].lat' });
    expect(byLine[5].reason).toMatch(/широта должна быть числом/);
    expect(byLine[6].field).toBe('rows[4].lat');
    expect(byLine[6].reason).toMatch(/переставлены/);
    expect(byLine[7]).toMatchObject({ field: 'rows[5].weight' });
    expect(byLine[7].reason).toMatch(/отрицательн/);
    expect(byLine[8]).toMatchObject({ field: 'rows[6].theme' });
    expect(byLine[8].reason).toMatch(/no\.such\.theme/);
    expect(byLine[9].field).toBe('rows[7]');
    const layerId = Number(rep.layer.id);
    const cells = await app.sql('SELECT line, ST_X(point) AS lon, ST_Y(point) AS lat, weight, theme_id FROM heat_cell WHERE layer_id = ? ORDER BY line', [layerId]);
    expect(cells.map((c: any) => c.line)).toEqual([2, 3, 4, 10]);
    expect(cells[0].lat).toBeCloseTo(51.514, 6);
    expect(cells[0].lon).toBeCloseTo(81.2118, 6);
    expect(cells[0].theme_id).not.toBeNull();
    expect(cells[1].theme_id).toBeNull();

    const again = await app.gql(IMPORT, { input: { ...input, name: 'другое имя' } });
    expect(again.errors).toBeUndefined();
    expect(again.data.importHeatLayer).toMatchObject({ alreadyImported: true, inserted: 0 });
    expect(again.data.importHeatLayer.layer.id).toBe(rep.layer.id);
    expect(again.data.importHeatLayer.layer.name).toBe('ЦУР январь');
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM heat_layer WHERE checksum = ?', [rep.layer.checksum]);
    expect(n).toBe(1);
    const [{ c }] = await app.sql('SELECT count(*)::int AS c FROM heat_cell WHERE layer_id = ?', [layerId]);
    expect(c).toBe(4);
  });

  it('imports a GeoJSON layer of points and polygons; invalid and swapped features are rejected', async () => {
    const themes = (await app.gql('{ themes { id code } }')).data.themes;
    const roads = themes.find((t: any) => t.code === 'roads');
    const r = await app.gql(IMPORT, { input: { content: GEOJSON, format: 'GEOJSON', periodFrom: '2026-03-01T00:00:00Z', periodTo: '2026-04-01T00:00:00Z', themeId: roads.id } });
    expect(r.errors).toBeUndefined();
    const rep = r.data.importHeatLayer;
    expect(rep).toMatchObject({ read: 6, inserted: 2, rejected: 4 });
    expect(rep.layer.theme.code).toBe('roads');
    const fields = rep.rejections.map((x: any) => [x.line, x.field]);
    expect(fields).toEqual([
      [3, 'features[2].geometry'],
      [4, 'features[3].geometry.coordinates'],
      [5, 'features[4].properties.weight'],
      [6, 'features[5].geometry.type'],
    ]);
    expect(rep.rejections[0].reason).toMatch(/некорректный полигон/);
    expect(rep.rejections[1].reason).toMatch(/переставлены/);
    const cells = await app.sql(
      `SELECT c.line, GeometryType(c.geom) AS type, ST_Intersects(c.geom, c.point) AS inside, t.code
         FROM heat_cell c LEFT JOIN theme t ON t.id = c.theme_id WHERE c.layer_id = ? ORDER BY c.line`,
      [Number(rep.layer.id)],
    );
    expect(cells).toEqual([
      { line: 1, type: 'POINT', inside: true, code: 'blag.waste' },
      { line: 2, type: 'POLYGON', inside: true, code: 'roads' },
    ]);
  });

  it('rejects whole files that cannot be read, writing nothing', async () => {
    const [{ n: before }] = await app.sql('SELECT count(*)::int AS n FROM heat_layer');
    const cases: [Record<string, unknown>, string][] = [
      [{ content: 'x;y\n1;2', format: 'CSV' }, 'header'],
      [{ content: '{', format: 'GEOJSON' }, 'content'],
      [{ content: 'lat;lon;weight\nabc;1;1', format: 'CSV' }, 'rows[0].lat'],
      [{ content: 'lat;lon;weight\n51.5;81.2;1', format: 'CSV', periodTo: '2025-01-01T00:00:00Z' }, 'periodTo'],
    ];
    for (const [input, field] of cases) {
      const r = await app.gql(IMPORT, { input: { periodFrom: '2026-01-01T00:00:00Z', periodTo: '2026-02-01T00:00:00Z', ...input } });
      expect(r.errors?.[0].extensions?.code, field).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0].extensions?.field).toBe(field);
    }
    const [{ n: after }] = await app.sql('SELECT count(*)::int AS n FROM heat_layer');
    expect(after).toBe(before);
  });

  it('sums the cells of a viewport to the number of matching appeals inside it, cell by cell', async () => {
    const themes = (await app.gql('{ themes { id code } }')).data.themes;
    const gkh = themes.find((t: any) => t.code === 'gkh');
    const cases: [Record<string, number>, number, Record<string, unknown>, string, unknown[]][] = [
      [CITY, 11, {}, 'TRUE', []],
      [{ minLon: 81.19, minLat: 51.5, maxLon: 81.23, maxLat: 51.525 }, 14, { from: '2025-06-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
        `received_at >= '2025-06-01T00:00:00Z' AND received_at < '2026-01-01T00:00:00Z'`, []],
      [{ minLon: 81.2, minLat: 51.505, maxLon: 81.22, maxLat: 51.52 }, 16, { channels: ['POS', 'SOCIAL'], statuses: ['NEW', 'IN_PROGRESS', 'ANSWERED'] },
        `channel IN ('POS', 'SOCIAL') AND status IN ('NEW', 'IN_PROGRESS', 'ANSWERED')`, []],
      [CITY, 13, { themeIds: [gkh.id] }, `theme_id IN (SELECT id FROM theme WHERE id = ? OR parent_id = ?)`, [Number(gkh.id), Number(gkh.id)]],
      // Wider than MAX_INDEX_CELLS hexagons of 500 m: read by period, without the hexagon prefilter.
      [{ minLon: 80.2, minLat: 51.0, maxLon: 82.2, maxLat: 52.0 }, 10, { from: '2025-03-01T00:00:00Z' }, `received_at >= '2025-03-01T00:00:00Z'`, []],
    ];
    const [{ lat0 }] = await app.sql('SELECT ST_Y(center) AS lat0 FROM municipality');
    for (const [bbox, zoom, filter, where, params] of cases) {
      const r = await app.gql(HEATMAP, { bbox, zoom, filter, layer: 'APPEALS' });
      expect(r.errors, JSON.stringify(filter)).toBeUndefined();
      const h = r.data.heatmap;
      const pts = await app.sql(
        `SELECT ST_X(point) AS lon, ST_Y(point) AS lat FROM appeal WHERE ${where} AND point && ST_MakeEnvelope(?, ?, ?, ?, 4326)`,
        [...params, bbox.minLon, bbox.minLat, bbox.maxLon, bbox.maxLat],
      );
      expect(pts.length).toBeGreaterThan(0);
      expect(h.total).toBe(pts.length);
      expect(h.cells.reduce((s: number, c: any) => s + c.appeals, 0)).toBe(pts.length);
      // Cell by cell, against an independent JS grid.
      const size = mercatorSize(h.cellSizeMeters, lat0);
      const expected = new Map<string, number>();
      for (const p of pts) {
        const k = hexOf(p.lon, p.lat, size);
        expected.set(k, (expected.get(k) ?? 0) + 1);
      }
      expect(new Map(h.cells.map((c: any) => [c.id, c.value]))).toEqual(expected);
      // Each hexagon's polygon contains the appeals counted in it (away from its edges).
      const c = h.cells[0];
      expect(c.geometry.type).toBe('Polygon');
      expect(c.geometry.coordinates[0]).toHaveLength(7);
    }
  });

  it('stores the hexagon of every appeal and ЦУР point in each grid, and keeps it when the point or the centre changes', async () => {
    const GRIDS = [2000, 1000, 500, 250, 150, 100];
    const cols = GRIDS.map((g) => `hex_${g}::text AS h${g}`).join(', ');
    const [{ lon0, lat0 }] = await app.sql('SELECT ST_X(center) AS lon0, ST_Y(center) AS lat0 FROM municipality');
    const expectCells = (row: any, lat: number, at: string) => {
      for (const g of GRIDS) {
        const [q, r] = hexOf(row.lon, row.lat, mercatorSize(g, lat)).split(':').map(Number);
        expect(row[`h${g}`], `${at}, grid ${g} m`).toBe(String(hexId(q, r)));
      }
    };
    const sample = await app.sql(`SELECT id, ST_X(point) AS lon, ST_Y(point) AS lat, ${cols} FROM appeal WHERE point IS NOT NULL ORDER BY id LIMIT 300`);
    expect(sample).toHaveLength(300);
    for (const a of sample) expectCells(a, lat0, `appeal ${a.id}`);
    const [{ without, stray }] = await app.sql('SELECT count(*)::int AS without, count(hex_100)::int AS stray FROM appeal WHERE point IS NULL');
    expect(without).toBeGreaterThan(0);
    expect(stray).toBe(0);
    for (const c of await app.sql(`SELECT id, ST_X(point) AS lon, ST_Y(point) AS lat, ${cols} FROM heat_cell ORDER BY id LIMIT 100`)) expectCells(c, lat0, `ЦУР ${c.id}`);

    // Any writer: a plain INSERT, then a moved point (as the address review queue does), then no point.
    const [m] = await app.sql('SELECT id FROM municipality');
    const [ins] = await app.sql(
      `INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point)
       VALUES (?, 'DIRECT', 'heat-cells-test', now(), 'CITIZEN', 'проверка ячеек', ST_SetSRID(ST_MakePoint(81.2001, 51.5002), 4326))
       RETURNING id, ST_X(point) AS lon, ST_Y(point) AS lat, ${cols}`, [m.id]);
    expectCells(ins, lat0, 'inserted');
    const [moved] = await app.sql(`UPDATE appeal SET point = ST_SetSRID(ST_MakePoint(81.2617, 51.4871), 4326) WHERE id = ?
       RETURNING ST_X(point) AS lon, ST_Y(point) AS lat, ${cols}`, [ins.id]);
    expectCells(moved, lat0, 'moved');
    expect(moved.h100).not.toBe(ins.h100);
    const [cleared] = await app.sql(`UPDATE appeal SET point = NULL WHERE id = ? RETURNING ${cols}`, [ins.id]);
    expect(GRIDS.map((g) => cleared[`h${g}`])).toEqual(GRIDS.map(() => null));
    await app.sql('DELETE FROM appeal WHERE id = ?', [ins.id]);

    // A new centre changes the grid's Mercator scale: every stored cell is recomputed (and back).
    const one = sample[0];
    const cellsOf = async () => (await app.sql(`SELECT ST_X(point) AS lon, ST_Y(point) AS lat, ${cols} FROM appeal WHERE id = ?`, [one.id]))[0];
    await app.sql('UPDATE municipality SET center = ST_SetSRID(ST_MakePoint(?, 45.0), 4326) WHERE id = ?', [lon0, m.id]);
    try {
      const shifted = await cellsOf();
      expectCells(shifted, 45.0, 'centre at 45°');
      expect(shifted.h2000).not.toBe(one.h2000);
    } finally {
      await app.sql('UPDATE municipality SET center = ST_SetSRID(ST_MakePoint(?, ?), 4326) WHERE id = ?', [lon0, lat0, m.id]);
    }
    expectCells(await cellsOf(), lat0, 'centre restored');
  });

  it('aggregates the ЦУР layers of the period and merges both sources with weights; parts sum to the value', async () => {
    const filter = { from: '2025-01-01T00:00:00Z', to: '2026-12-01T00:00:00Z' };
    const cur = (await app.gql(HEATMAP, { bbox: CITY, zoom: 12, filter, layer: 'CUR' })).data.heatmap;
    const [{ w }] = await app.sql(
      `SELECT sum(c.weight)::float8 AS w FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id
        WHERE l.period_to > ? AND l.period_from < ? AND c.point && ST_MakeEnvelope(?, ?, ?, ?, 4326)`,
      [filter.from, filter.to, CITY.minLon, CITY.minLat, CITY.maxLon, CITY.maxLat],
    );
    expect(cur.total).toBeCloseTo(w, 6);
    expect(cur.cells.every((c: any) => c.appeals === 0 && c.parts.appeals === 0 && c.parts.cur === c.value)).toBe(true);

    const r = await app.gql(HEATMAP, { bbox: CITY, zoom: 12, filter, layer: 'MERGED', weights: { appeals: 3, cur: 1 } });
    expect(r.errors).toBeUndefined();
    const m = r.data.heatmap;
    expect(m.weightAppeals).toBeCloseTo(0.75, 9);
    expect(m.weightCur).toBeCloseTo(0.25, 9);
    const [{ n }] = await app.sql(`SELECT count(*)::int AS n FROM appeal WHERE received_at >= ? AND received_at < ? AND point IS NOT NULL`, [filter.from, filter.to]);
    const [{ tw }] = await app.sql(`SELECT sum(c.weight)::float8 AS tw FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id WHERE l.period_to > ? AND l.period_from < ?`, [filter.from, filter.to]);
    expect(m.appealsTotal).toBe(n);
    expect(m.curTotal).toBeCloseTo(tw, 6);
    let both = 0;
    for (const c of m.cells) {
      expect(c.parts.appeals + c.parts.cur).toBeCloseTo(c.value, 9);
      expect(c.parts.appeals).toBeCloseTo((750 * c.appeals) / n, 9);
      expect(c.parts.cur).toBeCloseTo((250 * c.cur) / tw, 9);
      if (c.appeals > 0 && c.cur > 0) both++;
    }
    expect(both).toBeGreaterThan(0);
    // Every cell of either source is in the merged map.
    const appeals = (await app.gql(HEATMAP, { bbox: CITY, zoom: 12, filter, layer: 'APPEALS' })).data.heatmap;
    const ids = new Set(m.cells.map((c: any) => c.id));
    expect([...appeals.cells, ...cur.cells].every((c: any) => ids.has(c.id))).toBe(true);
    // Theme filter narrows ЦУР points by their theme subtree.
    const themes = (await app.gql('{ themes { id code } }')).data.themes;
    const roads = themes.find((t: any) => t.code === 'roads');
    const curRoads = (await app.gql(HEATMAP, { bbox: CITY, zoom: 12, filter: { ...filter, themeIds: [roads.id] }, layer: 'CUR' })).data.heatmap;
    const [{ rw }] = await app.sql(
      `SELECT coalesce(sum(c.weight), 0)::float8 AS rw FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id JOIN theme t ON t.id = c.theme_id
        WHERE l.period_to > ? AND l.period_from < ? AND (t.code = 'roads' OR t.code LIKE 'roads.%') AND c.point && ST_MakeEnvelope(?, ?, ?, ?, 4326)`,
      [filter.from, filter.to, CITY.minLon, CITY.minLat, CITY.maxLon, CITY.maxLat],
    );
    expect(rw).toBeGreaterThan(0);
    expect(curRoads.total).toBeCloseTo(rw, 6);
  });

  it('refuses bad heat-map arguments with the field named', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ bbox: CITY, zoom: 30 }, 'zoom'],
      [{ bbox: { ...CITY, minLon: 82 }, zoom: 12 }, 'bbox.minLon'],
      [{ bbox: CITY, zoom: 12, filter: { bbox: CITY } }, 'filter.bbox'],
      [{ bbox: CITY, zoom: 12, layer: 'MERGED', weights: { appeals: -1 } }, 'weights.appeals'],
      [{ bbox: { minLon: 60, minLat: 40, maxLon: 100, maxLat: 60 }, zoom: 16 }, 'bbox'],
    ];
    for (const [vars, field] of cases) {
      const r = await app.gql(HEATMAP, vars);
      expect(r.errors?.[0].extensions?.field, field).toBe(field);
      expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('counts appeals per district as a plain spatial join, per 1 000 residents and against the previous period', async () => {
    const filter = { from: '2026-03-01T00:00:00Z', to: '2026-06-01T00:00:00Z', channels: ['POS', 'INCIDENT_MANAGEMENT', 'DIRECT'] };
    const r = await app.gql(`query S($filter: AppealFilter) { districtStats(filter: $filter) {
      from to previousFrom previousTo districts { district { id name population } count per1000 previousCount change changePercent } } }`, { filter });
    expect(r.errors).toBeUndefined();
    const s = r.data.districtStats;
    expect(s.previousTo).toBe('2026-03-01T00:00:00.000Z');
    expect(s.previousFrom).toBe('2025-11-29T00:00:00.000Z'); // 92 days earlier
    const join = async (from: string, to: string) => new Map((await app.sql(
      `SELECT d.id::text AS id, count(a.id)::int AS n FROM district d
         LEFT JOIN appeal a ON ST_Contains(d.geom, a.point) AND a.received_at >= ? AND a.received_at < ? AND a.channel IN ('POS', 'INCIDENT_MANAGEMENT', 'DIRECT')
        GROUP BY d.id`, [from, to])).map((x: any) => [x.id, x.n]));
    const cur = await join(filter.from, filter.to);
    const prev = await join(s.previousFrom, s.previousTo);
    expect(s.districts.length).toBe(cur.size);
    let total = 0;
    for (const d of s.districts) {
      expect(d.count, d.district.name).toBe(cur.get(d.district.id));
      expect(d.previousCount).toBe(prev.get(d.district.id));
      expect(d.change).toBe(d.count - d.previousCount);
      expect(d.per1000).toBeCloseTo((d.count * 1000) / d.district.population, 9);
      if (d.previousCount) expect(d.changePercent).toBeCloseTo(((d.count - d.previousCount) * 100) / d.previousCount, 9);
      else expect(d.changePercent).toBeNull();
      total += d.count;
    }
    expect(total).toBeGreaterThan(0);
    // Without a period start there is nothing to compare with.
    const all = (await app.gql('{ districtStats { previousFrom districts { count previousCount change } } }')).data.districtStats;
    expect(all.previousFrom).toBeNull();
    expect(all.districts.every((d: any) => d.previousCount === null && d.change === null)).toBe(true);
  });

  describe('vector tiles', () => {
    const z = 13;
    const { x, y } = tileOf(81.2118, 51.514, z);
    const qs = 'from=2025-01-01&to=2026-12-01&channels=POS,INCIDENT_MANAGEMENT,SOCIAL,DIRECT,MESSENGER';

    it('decode to the cells of the same query, with identical ST_AsMVT and JS encodings', async () => {
      const [{ lat0 }] = await app.sql('SELECT ST_Y(center) AS lat0 FROM municipality');
      for (const layer of ['appeals', 'cur', 'merged'] as const) {
        const res = await fetch(`${app.url}/tiles/${layer}/${z}/${x}/${y}.mvt?${qs}`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/vnd.mapbox-vector-tile');
        const body = Buffer.from(await res.arrayBuffer());
        const tile = decode(body);
        expect(Object.keys(tile)).toEqual([layer]);
        const features = tile[layer];
        expect(features.length).toBeGreaterThan(3);

        // The same cells through GraphQL: the tile's query rectangle, hexagons overlapping the buffered tile.
        const gq = await app.gql(HEATMAP, {
          bbox: tileQueryBBox(z, x, y, mercatorSize(250, lat0)), zoom: z, layer: layer.toUpperCase(),
          filter: { from: '2025-01-01T00:00:00Z', to: '2026-12-01T00:00:00Z', channels: ['POS', 'INCIDENT_MANAGEMENT', 'SOCIAL', 'DIRECT', 'MESSENGER'] },
        });
        expect(gq.errors).toBeUndefined();
        const size = mercatorSize(gq.data.heatmap.cellSizeMeters, lat0);
        const t = tileBounds(z, x, y);
        const buf = (t.span * BUFFER) / EXTENT;
        const expected = gq.data.heatmap.cells.filter((c: any) => {
          const cx = size * Math.sqrt(3) * (c.q + c.r / 2);
          const cy = size * 1.5 * c.r;
          return cx + (size * Math.sqrt(3)) / 2 > t.minX - buf && cx - (size * Math.sqrt(3)) / 2 < t.maxX + buf && cy + size > t.minY - buf && cy - size < t.maxY + buf;
        });
        expect(features.map((f) => f.id)).toEqual(expected.map((c: any) => hexId(c.q, c.r)).sort((a: number, b: number) => a - b));
        const byId = new Map(expected.map((c: any) => [hexId(c.q, c.r), c]));
        for (const f of features) {
          const c: any = byId.get(f.id);
          expect(f.props.value).toBeCloseTo(c.value, 9);
          expect(f.props.appeals).toBe(c.appeals);
          expect(f.props.cur as number).toBeCloseTo(c.cur, 9);
          expect(f.props.q).toBe(c.q);
          expect(f.geometry[0].length).toBeGreaterThanOrEqual(4);
          for (const [px, py] of f.geometry[0]) {
            expect(px).toBeGreaterThanOrEqual(-BUFFER);
            expect(px).toBeLessThanOrEqual(EXTENT + BUFFER);
            expect(py).toBeGreaterThanOrEqual(-BUFFER);
            expect(py).toBeLessThanOrEqual(EXTENT + BUFFER);
          }
        }

        // The encoders: the JS one always; ST_AsMVT where PostGIS has protobuf (real PostGIS).
        const em = app.orm.em.fork();
        const filter = parseFilter({ from: new Date('2025-01-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z'), channels: ['POS', 'INCIDENT_MANAGEMENT', 'SOCIAL', 'DIRECT', 'MESSENGER'] as any }, app.municipalityId);
        const req = { layer: layer.toUpperCase() as HeatLayerKind, z, x, y, filter };
        const js = decode(await renderTile(em, req, 'js'));
        expect(js).toEqual(tile);
        if (backend === 'postgis') {
          const sql = decode(await renderTile(em, req, 'st_asmvt'));
          expect(sql).toEqual(js);
        } else {
          await expect(renderTile(em, req, 'st_asmvt')).rejects.toThrow(/protobuf/);
        }
      }
    });

    it('answers with ETag and Cache-Control, and 304 when unchanged', async () => {
      const url = `${app.url}/tiles/appeals/${z}/${x}/${y}.mvt?${qs}`;
      const a = await fetch(url);
      const etag = a.headers.get('etag');
      expect(etag).toMatch(/^".+"$/);
      expect(a.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const b = await fetch(url, { headers: { 'if-none-match': etag! } });
      expect(b.status).toBe(304);
      expect((await b.arrayBuffer()).byteLength).toBe(0);
      const other = await fetch(`${app.url}/tiles/appeals/${z}/${x}/${y}.mvt?from=2026-01-01`, { headers: { 'if-none-match': etag! } });
      expect(other.status).toBe(200);
      expect(other.headers.get('etag')).not.toBe(etag);
    });

    it('serves a new import at once (the cache is keyed by the data version)', async () => {
      const url = `${app.url}/tiles/cur/${z}/${x}/${y}.mvt?from=2027-01-01&to=2027-02-01`;
      const before = await fetch(url);
      expect(before.status).toBe(200);
      expect((await before.arrayBuffer()).byteLength).toBe(0); // no ЦУР layer in 2027 yet
      const again = await fetch(url, { headers: { 'if-none-match': before.headers.get('etag')! } });
      expect(again.status).toBe(304);
      const r = await app.gql(IMPORT, { input: { content: 'lat;lon;weight\n51.514;81.2118;9\n51.5141;81.2119;1\n', format: 'CSV', periodFrom: '2027-01-01T00:00:00Z', periodTo: '2027-02-01T00:00:00Z' } });
      expect(r.errors).toBeUndefined();
      const after = await fetch(url, { headers: { 'if-none-match': before.headers.get('etag')! } });
      expect(after.status).toBe(200);
      const tile = decode(Buffer.from(await after.arrayBuffer()));
      expect(tile.cur).toHaveLength(1);
      expect(tile.cur[0].props.value).toBe(10);
    });

    it('answers 400 with the field named for bad tile addresses and parameters', async () => {
      const cases: [string, string][] = [
        [`/tiles/nope/${z}/${x}/${y}.mvt`, 'layer'],
        [`/tiles/appeals/23/${x}/${y}.mvt`, 'z'],
        [`/tiles/appeals/2/0/0.mvt`, 'z'],
        [`/tiles/appeals/${z}/99999/${y}.mvt`, 'x'],
        [`/tiles/appeals/${z}/${x}/${y}.png`, 'y'],
        [`/tiles/appeals/${z}/${x}/${y}.mvt?color=red`, 'color'],
        [`/tiles/appeals/${z}/${x}/${y}.mvt?channels=FAX`, 'channels[0]'],
        [`/tiles/appeals/${z}/${x}/${y}.mvt?from=yesterday`, 'from'],
        [`/tiles/appeals/${z}/${x}/${y}.mvt?from=2026-02-01&to=2026-01-01`, 'filter.from'],
        [`/tiles/appeals/${z}/${x}/${y}.mvt?themeIds=999999`, 'filter.themeIds'],
        [`/tiles/merged/${z}/${x}/${y}.mvt?wAppeals=-1`, 'wAppeals'],
        [`/tiles/merged/${z}/${x}/${y}.mvt?wAppeals=0&wCur=0`, 'weights'],
      ];
      for (const [path, field] of cases) {
        const res = await fetch(app.url + path);
        expect(res.status, path).toBe(400);
        const body = await res.json();
        expect(body.errors[0].extensions, path).toMatchObject({ code: 'BAD_USER_INPUT', field });
      }
    });
  });
});
