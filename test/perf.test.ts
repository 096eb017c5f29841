import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { parseFilter } from '../server/appeals/filter.js';
import { HeatmapService } from '../server/heatmap/service.js';
import { Admission, admissionOf, heavy } from '../server/db/admission.js';
import { resultCacheOf } from '../server/db/result-cache.js';
import { loadDatabaseSettings } from '../server/config.js';
import { boundQuery, query } from '../server/db/sql.js';
import { admitPointLayer } from '../server/appeals/points.js';

/**
 * Many users at once (issue 17): district statistics from the stored district equal the spatial join (also after
 * districts change), heavy work is admitted apart from cheap work, aggregate results are cached per data version
 * and an edit invalidates them, the pool is configurable, and a page of appeals reads only what it is asked for.
 */

const STATS = `query($filter: AppealFilter) { districtStats(filter: $filter) { districts { district { id name } count previousCount } } }`;

describe('pool and heavy-work settings', () => {
  it('reads DATABASE_POOL_MAX, HEAVY_CONCURRENCY, HEAVY_QUEUE_MAX and AGGREGATE_CACHE_ENTRIES, naming a bad one', () => {
    expect(loadDatabaseSettings({})).toEqual({ poolMax: 10, poolMin: 2, heavyConcurrency: 2, heavyQueueMax: 256, geojsonLightRows: 5000, countLightRows: 5_000_000, aggregateCacheEntries: 1000, dataVersionTtlMs: 1000 });
    expect(loadDatabaseSettings({ GEOJSON_LIGHT_ROWS: '0' })).toMatchObject({ geojsonLightRows: 0 });
    expect(() => loadDatabaseSettings({ GEOJSON_LIGHT_ROWS: '-1' })).toThrow(/GEOJSON_LIGHT_ROWS/);
    expect(loadDatabaseSettings({ DATABASE_POOL_MAX: '40' })).toMatchObject({ poolMax: 40, heavyConcurrency: 10 });
    expect(loadDatabaseSettings({ DATABASE_POOL_MAX: '2' })).toMatchObject({ poolMax: 2, poolMin: 2, heavyConcurrency: 1 });
    expect(() => loadDatabaseSettings({ DATABASE_POOL_MAX: '0' })).toThrow(/DATABASE_POOL_MAX/);
    expect(() => loadDatabaseSettings({ DATABASE_POOL_MAX: '8', HEAVY_CONCURRENCY: '9' })).toThrow(/HEAVY_CONCURRENCY must be an integer 1\.\.8/);
    expect(() => loadDatabaseSettings({ AGGREGATE_CACHE_ENTRIES: 'many' })).toThrow(/AGGREGATE_CACHE_ENTRIES/);
  });

  it('admits at most `limit` heavy tasks, in arrival order, re-entrant, and refuses beyond the queue', async () => {
    const a = new Admission(2, 3);
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const task = (name: string) => a.run(async () => { order.push(`start ${name}`); await gate; order.push(`end ${name}`); return name; });
    const running = ['a', 'b', 'c', 'd', 'e'].map(task);
    await new Promise((r) => setTimeout(r, 10));
    expect(a.running).toBe(2);
    expect(a.queued).toBe(3);
    expect(order).toEqual(['start a', 'start b']);
    await expect(task('f')).rejects.toMatchObject({ extensions: { code: 'TOO_MANY_REQUESTS' } });
    // Inside a slot, nested heavy work does not wait for a second one (no self-deadlock).
    const one = new Admission(1, 0);
    expect(await one.run(() => one.run(async () => 'nested'))).toBe('nested');
    release();
    expect(await Promise.all(running)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(order.filter((s) => s.startsWith('start'))).toEqual(['start a', 'start b', 'start c', 'start d', 'start e']);
    expect(a.running).toBe(0);
    expect(a.stats).toMatchObject({ refused: 1, maxWaiting: 3 });
  });

  it('when the server stops, heavy work still waiting runs at once (the drain does not wait for it one slot at a time)', async () => {
    const a = new Admission(1, 10);
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const started: string[] = [];
    const tasks = ['a', 'b', 'c'].map((n) => a.run(async () => { started.push(n); await gate; }));
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual(['a']);
    a.open();
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual(['a', 'b', 'c']);
    await a.run(async () => started.push('d'));
    expect(started).toContain('d');
    release();
    await Promise.all(tasks);
    expect(a.running).toBe(0);
  });
});

for (const backend of backends) {
  describe(`many users at once (${backend})`, () => {
    let app: TestApp;
    beforeAll(async () => {
      // The production re-read interval of the data version (tests default to 0, vitest.config.ts).
      // GEOJSON_LIGHT_ROWS 200: a point layer of up to 200 points is cheap work, a larger one heavy (1 500 demo appeals).
      app = await startTestApp(backend, 1500, undefined, { database: { heavyConcurrency: 1, dataVersionTtlMs: 1000, geojsonLightRows: 200 } });
    }, 300_000);
    afterAll(async () => {
      await app?.close();
      await app?.db.drop();
    });

    const byStoredDistrict = async (filter?: Record<string, unknown>) => {
      const r = await app.gql(STATS, { filter });
      expect(r.errors).toBeUndefined();
      return new Map<number, number>(r.data.districtStats.districts.map((d: any) => [Number(d.district.id), d.count]));
    };
    const bySpatialJoin = async (filter?: { from?: Date; to?: Date; channels?: string[] }) => {
      const rows = await new HeatmapService(app.orm.em.fork()).districtCountsBySpatialJoin(parseFilter(filter as never, app.municipalityId));
      return new Map(rows.map((r) => [r.id, r.n]));
    };

    it('districtStats counts by the stored district exactly as the spatial join does, for several filters', async () => {
      const filters = [
        undefined,
        { from: '2025-03-01T00:00:00Z', to: '2025-09-01T00:00:00Z' },
        { from: '2025-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z', channels: ['POS'] },
      ];
      let total = 0;
      for (const f of filters) {
        const stored = await byStoredDistrict(f);
        const spatial = await bySpatialJoin(f && { ...f, from: new Date(f.from), to: new Date(f.to) });
        expect(stored, JSON.stringify(f)).toEqual(spatial);
        total += [...stored.values()].reduce((s, n) => s + n, 0);
      }
      expect(total).toBeGreaterThan(500);
      // The statement reads the stored district, never the polygons.
      app.statements.length = 0;
      await app.gql(STATS, { filter: { from: '2025-02-01T00:00:00Z', to: '2025-02-11T00:00:00Z' } });
      const sql = app.statements.filter((s) => /FROM district d/.test(s));
      expect(sql.length).toBe(1);
      expect(sql[0]).toMatch(/a\.district_id/);
      expect(sql[0]).not.toMatch(/ST_Intersects/);
    });

    it('after districts change, the stored districts are re-derived and the cached statistics follow at once', async () => {
      const before = await byStoredDistrict();
      // Swap the polygons of the two districts with the most appeals (codes and names stay).
      const ranked = [...before.entries()].sort((a, b) => b[1] - a[1]);
      const [[idA, nA], [idB, nB]] = ranked;
      expect(nA).not.toBe(nB);
      const ds = await query<{ id: number; code: string; name: string; population: number | null; g: any }>(app.orm.em.fork(),
        'SELECT id, code, name, population, ST_AsGeoJSON(geom)::json AS g FROM district WHERE id = ANY(?::int[]) ORDER BY id', [[idA, idB]]);
      const geomOf = new Map(ds.map((d) => [d.id, d.g]));
      const features = ds.map((d) => ({ type: 'Feature', properties: { code: d.code, name: d.name, population: d.population },
        geometry: geomOf.get(d.id === idA ? idB : idA) }));
      const r = await app.gql('mutation($fc: JSONObject!) { importDistricts(featureCollection: $fc) { updated appealsReassigned } }',
        { fc: { type: 'FeatureCollection', features } });
      expect(r.errors).toBeUndefined();
      expect(r.data.importDistricts.appealsReassigned).toBe(nA + nB);
      const after = await byStoredDistrict();
      expect(after.get(idA)).toBe(nB);
      expect(after.get(idB)).toBe(nA);
      expect(after).toEqual(await bySpatialJoin());
      // Swap back (the other tests see the demo districts).
      const back = ds.map((d) => ({ type: 'Feature', properties: { code: d.code, name: d.name, population: d.population }, geometry: d.g }));
      expect((await app.gql('mutation($fc: JSONObject!) { importDistricts(featureCollection: $fc) { updated } }', { fc: { type: 'FeatureCollection', features: back } })).errors).toBeUndefined();
      expect(await byStoredDistrict()).toEqual(before);
    });

    it('caches aggregate results per filter and data version; an edit invalidates them', async () => {
      const cache = resultCacheOf(app.orm.em);
      const COUNTS = '{ appealCounts(groupBy: STATUS) { key count } }';
      const counts = async () => new Map<string, number>((await app.gql(COUNTS)).data.appealCounts.map((g: any) => [g.key, g.count]));
      const first = await counts();
      const hits = cache.stats.hits;
      app.statements.length = 0;
      expect(await counts()).toEqual(first);
      expect(cache.stats.hits).toBe(hits + 1);
      expect(app.statements.filter((s) => /GROUP BY/.test(s))).toEqual([]);
      // An edit through GraphQL: one NEW appeal taken into work.
      const [{ id }] = await app.sql(`SELECT id FROM appeal WHERE status = 'NEW' ORDER BY id LIMIT 1`);
      const edit = await app.gql('mutation($id: ID!) { setAppealStatus(id: $id, status: IN_PROGRESS) { id status } }', { id: String(id) });
      expect(edit.errors).toBeUndefined();
      const next = await counts();
      expect(next.get('NEW')).toBe(first.get('NEW')! - 1);
      expect(next.get('IN_PROGRESS')).toBe((first.get('IN_PROGRESS') ?? 0) + 1);
      // A change made outside this process's GraphQL (another process, a CLI import) is seen within the version's
      // re-read interval (1 s).
      await app.sql(`UPDATE appeal SET status = 'NEW' WHERE id = ?`, [id]);
      await new Promise((r) => setTimeout(r, 1100));
      expect(await counts()).toEqual(first);
    });

    it('a cheap page of appeals and a small point layer complete while heavy work holds the admission and more heavy work waits', async () => {
      const em = app.orm.em.fork();
      const admission = admissionOf(em);
      expect(admission.limit).toBe(1);
      expect(admission.lightRows).toBe(200);
      const ms = 1500;
      const t0 = Date.now();
      const done: Record<string, number> = {};
      // Two heavy tasks: on PostgreSQL each holds a connection (pg_sleep); the embedded database's pg_sleep does not
      // wait (WebAssembly), so there each holds its slot for the same time after a statement.
      const hold = backend === 'postgis'
        ? () => query(app.orm.em.fork(), `SELECT pg_sleep(${ms / 1000})`)
        : () => query(app.orm.em.fork(), 'SELECT 1').then(() => new Promise((r) => setTimeout(r, ms)));
      const sleeps = [1, 2].map((i) => heavy(app.orm.em.fork(), hold).then(() => { done[`sleep${i}`] = Date.now() - t0; }));
      await new Promise((r) => setTimeout(r, 50));
      // A layer of 1 000 points over the whole city (1 500 appeals): expected 1 000 rows > 200, heavy, so it queues.
      const big = app.gql('{ appealsGeoJSON(limit: 1000) }').then((r) => {
        expect(r.errors).toBeUndefined();
        expect(r.data.appealsGeoJSON.features).toHaveLength(1000);
        done.bigGeojson = Date.now() - t0;
      });
      for (let i = 0; i < 50 && admission.queued < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(admission.queued).toBe(2);
      const light = admission.stats.light;
      const page = await app.gql('{ appeals(first: 20) { edges { node { id theme { name } } } } problems(first: 5) { totalCount } }');
      expect(page.errors).toBeUndefined();
      done.page = Date.now() - t0;
      // Small layers: 100 points asked; and 1 000 asked of a viewport and a month that hold fewer than 200.
      const small = await app.gql('{ appealsGeoJSON(limit: 100) }');
      expect(small.errors).toBeUndefined();
      expect(small.data.appealsGeoJSON.features).toHaveLength(100);
      const month = { from: '2025-06-01T00:00:00Z', to: '2025-07-01T00:00:00Z', bbox: { minLon: 81.15, minLat: 51.45, maxLon: 81.3, maxLat: 51.56 } };
      const [{ n: inMonth }] = await app.sql(`SELECT count(*)::int AS n FROM appeal a WHERE a.received_at >= ? AND a.received_at < ?
        AND a.point && ST_MakeEnvelope(?, ?, ?, ?, 4326)`, [month.from, month.to, month.bbox.minLon, month.bbox.minLat, month.bbox.maxLon, month.bbox.maxLat]);
      expect(inMonth).toBeGreaterThan(0);
      expect(inMonth).toBeLessThan(200);
      const viewport = await app.gql('query($f: AppealFilter) { appealsGeoJSON(limit: 1000, filter: $f) }', { f: month });
      expect(viewport.errors).toBeUndefined();
      expect(viewport.data.appealsGeoJSON.features).toHaveLength(inMonth);
      done.smallGeojson = Date.now() - t0;
      expect(admission.stats.light).toBe(light + 2);
      // Answered while heavy work still held the slot and more of it waited (the big layer at least).
      expect(admission.running).toBe(1);
      expect(admission.queued).toBeGreaterThanOrEqual(1);
      expect(done.bigGeojson).toBeUndefined();
      await Promise.all([...sleeps, big]);
      expect(done.bigGeojson).toBeGreaterThan(done.sleep2);
      // PostgreSQL: the page, the problem list and the small layers took a free connection while the first heavy
      // statement ran.
      if (backend === 'postgis') expect(done.smallGeojson).toBeLessThan(done.sleep1);
    });

    it('a cheap run that meets more rows than the planner expected goes on as heavy work; aliases of a big layer are refused', async () => {
      const em = app.orm.em.fork();
      const admission = admissionOf(em);
      const before = { ...admission.stats };
      const run = (n: number) => boundQuery<{ id: number }>(em, 'SELECT id FROM appeal ORDER BY received_at DESC, id DESC LIMIT ?', [n]);
      // A planner that believed 10 rows: the cheap run asks for 201, gets them, and the layer is run again with a slot.
      const rows = await admitPointLayer(em, 1000, 10, run);
      expect(rows).toHaveLength(1000);
      expect(admission.stats.reweighed).toBe(before.reweighed + 1);
      expect(admission.stats.admitted).toBe(before.admitted + 1);
      expect(admission.stats.light).toBe(before.light);
      // The same belief with at most 200 rows there: cheap, no slot.
      expect(await admitPointLayer(em, 1000, 10, (n) => run(Math.min(n, 150)))).toHaveLength(150);
      expect(admission.stats.light).toBe(before.light + 1);
      expect(admission.stats.admitted).toBe(before.admitted + 1);
      // Hostile: 14 aliases of a 200 000-point layer are refused before anything runs; one such layer is heavy work.
      const aliases = await app.gql(`{ ${Array.from({ length: 14 }, (_, i) => `g${i}: appealsGeoJSON(limit: 200000)`).join(' ')} }`);
      expect(aliases.errors?.[0].message).toMatch(/GRAPHQL_MAX_COMPLEXITY/);
      expect(admission.stats.admitted).toBe(before.admitted + 1);
      const one = await app.gql('{ appealsGeoJSON(limit: 200000) }');
      expect(one.errors).toBeUndefined();
      expect(admission.stats.admitted).toBe(before.admitted + 2);
      const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal WHERE point IS NOT NULL');
      expect(one.data.appealsGeoJSON.features).toHaveLength(n);
    });

    it('the point layer is the newest appeals of the filter, encoded as before, whichever plan reads them; in a region the viewport is read in order of time', async () => {
      type F = { from: string; to: string; bbox: { minLon: number; minLat: number; maxLon: number; maxLat: number } };
      const expected = async (f: F, limit: number) => app.sql(
        `SELECT a.id, ST_X(a.point) AS lon, ST_Y(a.point) AS lat, a.theme_id, t.name AS theme_name, a.status, a.channel, a.received_at
           FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id
          WHERE a.municipality_id = ? AND a.received_at >= ? AND a.received_at < ? AND a.point && ST_MakeEnvelope(?, ?, ?, ?, 4326)
          ORDER BY a.received_at DESC, a.id DESC LIMIT ?`, [app.municipalityId, f.from, f.to, f.bbox.minLon, f.bbox.minLat, f.bbox.maxLon, f.bbox.maxLat, limit]);
      const layer = async (f: F, limit: number, ordered: boolean) => {
        app.statements.length = 0;
        const r = await app.gql('query($f: AppealFilter, $n: Int) { appealsGeoJSON(filter: $f, limit: $n) }', { f, n: limit });
        expect(r.errors).toBeUndefined();
        const sql = app.statements.filter((s) => /FROM appeal a LEFT JOIN theme t/.test(s));
        expect(sql.length, app.statements.join('\n')).toBeGreaterThanOrEqual(1);
        expect(/CASE WHEN a\.point &&/.test(sql.at(-1)!), JSON.stringify(f)).toBe(ordered);
        const want = await expected(f, limit);
        expect(want.length).toBeGreaterThan(0);
        expect(r.data.appealsGeoJSON).toEqual({
          type: 'FeatureCollection',
          features: want.map((w: any) => ({
            type: 'Feature', id: w.id, geometry: { type: 'Point', coordinates: [w.lon, w.lat] },
            properties: { id: String(w.id), themeId: w.theme_id == null ? null : String(w.theme_id), themeName: w.theme_name, status: w.status,
              channel: w.channel, receivedAt: new Date(w.received_at).toISOString() },
          })),
        });
      };
      // The plan is chosen from the planner's statistics (autovacuum keeps them on PostgreSQL; the bench analyses).
      await app.sql('ANALYZE appeal');
      const city: F = { from: '2024-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', bbox: { minLon: 81.1, minLat: 51.4, maxLon: 81.4, maxLat: 51.6 } };
      const street: F = { from: '2025-06-01T00:00:00Z', to: '2025-07-01T00:00:00Z', bbox: { minLon: 81.19, minLat: 51.48, maxLon: 81.25, maxLat: 51.53 } };
      // One municipality in the table: the planner knows the viewport's rows; the plain filter, whatever it holds.
      await layer(city, 1000, false);
      await layer(street, 1000, false);
      // A region: nine more municipalities, copies of this one's appeals 0.5° apart. The planner now expects a tenth of
      // the city viewport's rows (fewer than 1 000, there are ~1 500): the box becomes a row filter, the scan ordered.
      const copies = await app.sql(`INSERT INTO municipality (code, name, region, timezone, population, center, region_id)
        SELECT 'geo-copy-' || g, 'Копия ' || g, region, timezone, population, ST_Translate(center, 0.5 * (g % 4), 0.5 * (g / 4)), region_id
          FROM municipality m, generate_series(1, 9) g WHERE m.id = ? RETURNING id`, [app.municipalityId]);
      try {
        await query(app.orm.em.fork(), `INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, status, theme_id)
          SELECT c.id, a.channel, a.external_id, a.received_at, a.author_kind, a.text, ST_Translate(a.point, 0.5 * (g % 4), 0.5 * (g / 4)), a.status, a.theme_id
            FROM appeal a, unnest(?::int[]) WITH ORDINALITY AS c(id, g) WHERE a.municipality_id = ?`, [copies.map((c: any) => c.id), app.municipalityId]);
        await app.sql('ANALYZE appeal');
        const [{ n }] = await app.sql('SELECT count(DISTINCT municipality_id)::int AS n FROM appeal');
        expect(n).toBe(10);
        await layer(city, 1000, true);
        await layer(street, 1000, false);
      } finally {
        await query(app.orm.em.fork(), 'DELETE FROM appeal WHERE municipality_id = ANY(?::int[])', [copies.map((c: any) => c.id)]);
        await query(app.orm.em.fork(), 'DELETE FROM municipality WHERE id = ANY(?::int[])', [copies.map((c: any) => c.id)]);
        await app.sql('ANALYZE appeal');
      }
    });

    it('a page of appeals reads only the asked-for columns (no theme keywords for a name) and gives the same answer', async () => {
      app.statements.length = 0;
      const small = await app.gql('{ appeals(first: 30) { pageInfo { endCursor } edges { node { id theme { name } district { name } } } } }');
      expect(small.errors).toBeUndefined();
      const pageSql = app.statements.find((s) => /FROM appeal a/.test(s) && /ORDER BY a\.received_at DESC/.test(s))!;
      expect(pageSql).toBeTruthy();
      expect(pageSql).not.toMatch(/keywords/);
      expect(pageSql).not.toMatch(/a\.text\b/);
      expect(pageSql).not.toMatch(/LEFT JOIN organization/);
      const full = await app.gql('{ appeals(first: 30) { pageInfo { endCursor } edges { cursor node { id text theme { name code keywords isLeaf } district { name population } organization { name } } } } }');
      expect(full.errors).toBeUndefined();
      const ids = (r: any) => r.data.appeals.edges.map((e: any) => e.node.id);
      expect(ids(small)).toEqual(ids(full));
      expect(small.data.appeals.pageInfo.endCursor).toBe(full.data.appeals.pageInfo.endCursor);
      expect(full.data.appeals.edges.at(-1).cursor).toBe(full.data.appeals.pageInfo.endCursor);
      // The same appeals read through the DataLoaders (appeal by id) agree with the joined ones.
      const one = full.data.appeals.edges.find((e: any) => e.node.theme)!.node;
      const byId = await app.gql('query($id: ID!) { appeal(id: $id) { text theme { name code keywords isLeaf } district { name population } organization { name } } }', { id: one.id });
      expect(byId.data.appeal).toEqual({ text: one.text, theme: one.theme, district: one.district, organization: one.organization });
      expect(Array.isArray(one.theme.keywords)).toBe(true);
    });
  });
}
