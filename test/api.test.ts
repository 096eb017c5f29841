import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';

const PAGE = `query Page($first: Int, $after: String, $filter: AppealFilter) {
  appeals(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id receivedAt channel status text address point overdue
      district { id name } theme { id name } organization { id name }
      events { id at actor kind fromValue toValue } } }
  }
}`;

describe.each(backends)('GraphQL API on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 3000);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('serves Rubtsovsk reference data', async () => {
    const r = await app.gql(`{ districts { id code name population approximate geometry } themes { id code name isLeaf parentId block { name } organization { name } }
      organizations { id name kind parent { id } } channels { code name } municipalities { code oktmo } }`);
    expect(r.errors).toBeUndefined();
    const d = r.data!;
    expect(d.municipalities[0]).toMatchObject({ code: 'rubtsovsk', oktmo: '01716000001' });
    expect(d.districts.length).toBeGreaterThanOrEqual(7);
    expect(d.districts.every((x: any) => x.approximate && x.geometry.type === 'MultiPolygon')).toBe(true);
    expect(d.districts.reduce((s: number, x: any) => s + x.population, 0)).toBe(146386);
    expect(d.channels.map((c: any) => c.code).sort()).toEqual(['DIRECT', 'INCIDENT_MANAGEMENT', 'MESSENGER', 'OFFICIAL_PAGE', 'OPEN311', 'POS', 'PUBLIC_DISCUSSION', 'SOCIAL']);
    const names = d.themes.map((t: any) => t.name.toLowerCase()).join(' | ');
    for (const word of ['отоплен', 'водоснабж', 'канализ', 'дорог', 'освещ', 'мусор', 'благоустр', 'транспорт', 'снег', 'животн', 'образован', 'здравоохр', 'соц', 'безопасн', 'эколог', 'связ'])
      expect(names, word).toContain(word);
    expect(d.organizations.some((o: any) => o.kind === 'ADMINISTRATION')).toBe(true);
    expect(d.organizations.some((o: any) => o.kind === 'SUBORDINATE' && o.parent)).toBe(true);
  });

  it('pages through appeals with stable cursors, newest first, and counts them', async () => {
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal');
    expect(n).toBe(3000);
    const seen = new Set<string>();
    let after: string | null = null;
    let last = Infinity;
    for (let i = 0; i < 3; i++) {
      const r: any = await app.gql(PAGE, { first: 100, after });
      expect(r.errors).toBeUndefined();
      expect(r.data.appeals.totalCount).toBe(3000);
      for (const e of r.data.appeals.edges) {
        expect(seen.has(e.node.id)).toBe(false);
        seen.add(e.node.id);
        const t = Date.parse(e.node.receivedAt);
        expect(t).toBeLessThanOrEqual(last);
        last = t;
        expect(e.node.events[0].kind).toBe('CREATED');
      }
      after = r.data.appeals.pageInfo.endCursor;
    }
    expect(seen.size).toBe(300);
  });

  it('filters by period, bbox, radius, theme subtree, channel, status and Russian text, matching plain SQL', async () => {
    const themes = (await app.gql('{ themes { id code parentId isLeaf } }')).data.themes;
    const parent = themes.find((t: any) => !t.isLeaf && themes.some((c: any) => c.parentId === t.id));
    const cases: [Record<string, unknown>, string, unknown[]][] = [
      [{ from: '2026-01-01T00:00:00Z', to: '2026-04-01T00:00:00Z' }, `received_at >= '2026-01-01' AND received_at < '2026-04-01'`, []],
      [{ bbox: { minLon: 81.19, minLat: 51.5, maxLon: 81.23, maxLat: 51.53 } }, 'point && ST_MakeEnvelope(81.19, 51.5, 81.23, 51.53, 4326)', []],
      [{ near: { lon: 81.21176, lat: 51.51395, radiusMeters: 700 } }, `ST_DWithin(point::geography, ST_MakePoint(81.21176, 51.51395)::geography, 700)`, []],
      [{ themeIds: [parent.id] }, `theme_id IN (SELECT id FROM theme WHERE parent_id = ? OR id = ?)`, [Number(parent.id), Number(parent.id)]],
      [{ channels: ['POS', 'SOCIAL'] }, `channel IN ('POS', 'SOCIAL')`, []],
      [{ statuses: ['NEW'] }, `status = 'NEW'`, []],
      [{ text: 'отопление' }, `search @@ websearch_to_tsquery('russian', 'отопление')`, []],
    ];
    for (const [filter, where, params] of cases) {
      const r: any = await app.gql(PAGE, { first: 5, filter });
      expect(r.errors, JSON.stringify(filter)).toBeUndefined();
      const [{ n }] = await app.sql(`SELECT count(*)::int AS n FROM appeal WHERE ${where}`, params);
      expect(r.data.appeals.totalCount, JSON.stringify(filter)).toBe(n);
      expect(n, JSON.stringify(filter)).toBeGreaterThan(0);
    }
  });

  it('groups counts by district, theme, channel, status and organisation, summing to the total', async () => {
    for (const groupBy of ['DISTRICT', 'THEME', 'CHANNEL', 'STATUS', 'ORGANIZATION']) {
      const r: any = await app.gql('query($g: AppealGroupBy!) { appealCounts(groupBy: $g) { key label count } }', { g: groupBy });
      expect(r.errors).toBeUndefined();
      expect(r.data.appealCounts.reduce((s: number, g: any) => s + g.count, 0), groupBy).toBe(3000);
    }
    const byDistrict: any = await app.gql('{ appealCounts(groupBy: DISTRICT) { key count } }');
    const sql = await app.sql('SELECT d.id::text AS key, count(*)::int AS n FROM appeal a JOIN district d ON ST_Intersects(d.geom, a.point) GROUP BY d.id');
    for (const row of sql) expect(byDistrict.data.appealCounts.find((g: any) => g.key === row.key)?.count).toBe(row.n);
  });

  it('returns one appeal with its full history', async () => {
    const [row] = await app.sql(`SELECT a.id FROM appeal a WHERE status = 'CLOSED' ORDER BY id LIMIT 1`);
    const r: any = await app.gql('query($id: ID!) { appeal(id: $id) { id status events { kind fromValue toValue at actor } } }', { id: String(row.id) });
    expect(r.errors).toBeUndefined();
    const kinds = r.data.appeal.events.map((e: any) => e.kind);
    expect(kinds[0]).toBe('CREATED');
    expect(r.data.appeal.events.at(-1).toValue === 'CLOSED' || kinds.includes('SATISFACTION')).toBe(true);
    expect((await app.gql('{ appeal(id: "999999") { id } }')).data.appeal).toBeNull();
  });

  it('fetches a page with nested district, theme, organisation and events in a constant number of statements', async () => {
    const count = async (first: number) => {
      await app.gql(PAGE, { first: 1 }); // warm up
      app.statements.length = 0;
      const r: any = await app.gql(PAGE, { first });
      expect(r.errors).toBeUndefined();
      expect(r.data.appeals.edges.length).toBe(first);
      return app.statements.length;
    };
    const small = await count(10);
    const large = await count(100);
    expect(large).toBe(small);
    // filter check, page, count, district, theme, organisation, events
    expect(large).toBeLessThanOrEqual(7);
  });

  it('rejects bad filters with an error naming the field', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ bbox: { minLon: 81.3, minLat: 51.5, maxLon: 81.2, maxLat: 51.6 } }, 'filter.bbox.minLon'],
      [{ bbox: { minLon: 81.2, minLat: 95, maxLon: 81.3, maxLat: 96 } }, 'filter.bbox.minLon'],
      [{ near: { lon: 81.2, lat: 51.5, radiusMeters: -5 } }, 'filter.near.radiusMeters'],
      [{ themeIds: ['987654'] }, 'filter.themeIds'],
      [{ themeIds: ['1; DROP TABLE appeal'] }, 'filter.themeIds[0]'],
      [{ from: '2026-05-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'filter.from'],
    ];
    for (const [filter, field] of bad) {
      const r: any = await app.gql(PAGE, { first: 10, filter });
      expect(r.data, JSON.stringify(filter)).toBeFalsy();
      expect(r.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(r.errors[0].extensions.field).toBe(field);
      expect(r.errors[0].message).toContain(field);
    }
    const huge: any = await app.gql(PAGE, { first: 100000 });
    expect(huge.errors[0].extensions.field).toBe('first');
    const enumErr: any = await app.gql(PAGE, { first: 1, filter: { channels: ['FAX'] } });
    expect(enumErr.errors[0].message).toMatch(/FAX/);
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal');
    expect(n).toBe(3000);
  });

  it('imports districts from GeoJSON, re-derives appeal districts, and rejects malformed files without changing anything', async () => {
    const snapshot = async () => (await app.sql(`SELECT string_agg(code || ':' || md5(ST_AsBinary(geom)::text), ',' ORDER BY code) AS s FROM district`))[0].s;
    const before = await snapshot();
    const mutation = 'mutation($fc: JSONObject!, $replace: Boolean) { importDistricts(featureCollection: $fc, replace: $replace) { read inserted updated removed appealsReassigned } }';
    const square = (lon: number, lat: number, d = 0.01) => [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]];
    const bad: [unknown, string][] = [
      [{ type: 'Feature' }, 'type'],
      [{ type: 'FeatureCollection', features: [] }, 'features'],
      [{ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: 'x' }, geometry: { type: 'Polygon', coordinates: square(81.2, 51.5) } }] }, 'features[0].properties.name'],
      [{ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: 'x', name: 'X' }, geometry: { type: 'Point', coordinates: [81.2, 51.5] } }] }, 'features[0].geometry.type'],
      [{ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: 'x', name: 'X' }, geometry: { type: 'Polygon', coordinates: [[[81.2, 51.5], [81.3, 51.5], [81.3, 51.6]]] } }] }, 'features[0].geometry.coordinates[0]'],
      [{ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: 'x', name: 'X' }, geometry: { type: 'Polygon', coordinates: square(51.5, 81.2) } }] }, 'features[0].geometry.coordinates'],
      [{ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: 'x', name: 'X' }, geometry: { type: 'Polygon', coordinates: [[[81.2, 51.5], [81.3, 51.6], [81.3, 51.5], [81.2, 51.6], [81.2, 51.5]]] } }] }, 'features[0].geometry'],
      [{ type: 'FeatureCollection', features: [
        { type: 'Feature', properties: { code: 'x', name: 'X' }, geometry: { type: 'Polygon', coordinates: square(81.2, 51.5) } },
        { type: 'Feature', properties: { code: 'x', name: 'Y', population: -3 }, geometry: { type: 'Polygon', coordinates: square(81.22, 51.5) } }] }, 'features[1].properties.code'],
    ];
    for (const [fc, field] of bad) {
      const r: any = await app.gql(mutation, { fc, replace: true });
      expect(r.errors?.[0]?.extensions?.field, JSON.stringify(fc).slice(0, 120)).toBe(field);
    }
    const swapped: any = await app.gql(mutation, { fc: bad[5][0] });
    expect(swapped.errors[0].message).toMatch(/переставлены/);
    expect(await snapshot()).toBe(before);

    // A real replacement: two halves of the city; every appeal with a point lands in one of them.
    const fc = {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', properties: { code: 'west', name: 'Запад', population: 70000 }, geometry: { type: 'Polygon', coordinates: [[[81.0, 51.4], [81.21, 51.4], [81.21, 51.65], [81.0, 51.65], [81.0, 51.4]]] } },
        { type: 'Feature', properties: { code: 'east', name: 'Восток', population: 76386 }, geometry: { type: 'Polygon', coordinates: [[[81.21, 51.4], [81.45, 51.4], [81.45, 51.65], [81.21, 51.65], [81.21, 51.4]]] } },
      ],
    };
    const ok: any = await app.gql(mutation, { fc, replace: true });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.importDistricts).toMatchObject({ read: 2, inserted: 2 });
    expect(ok.data.importDistricts.removed).toBeGreaterThan(5);
    const [{ west }] = await app.sql(`SELECT count(*)::int AS west FROM appeal WHERE point IS NOT NULL AND ST_X(point) < 81.21`);
    const counts: any = await app.gql('{ appealCounts(groupBy: DISTRICT) { label count } }');
    expect(counts.data.appealCounts.find((g: any) => g.label === 'Запад').count).toBe(west);
  });
});
