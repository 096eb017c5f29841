import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { backends, type BackendName } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { ProblemService } from '../server/problems/service.js';
import { mulberry32 } from '../bench/lib.js';

/**
 * The territorial problem list on planted data: known clusters (centre, size, theme, district) plus
 * uniform noise over the city. Detection, stable identity, moved clusters, lifecycle with reopening,
 * incremental recompute, exports, bad input and roles — on every backend, and the same list on both.
 */

interface Planted { key: string; theme: string; district: number; size: number; lon?: number; lat?: number }
const PLANTED: Planted[] = [
  { key: 'A', theme: 'gkh.heating', district: 0, size: 40 },
  { key: 'B', theme: 'roads.potholes', district: 3, size: 25 },
  { key: 'C', theme: 'gkh.heating', district: 6, size: 30 },
  { key: 'D', theme: 'blag.waste', district: 8, size: 14 },
];
const FROM = '2026-06-01T00:00:00Z';
const TO = '2026-09-01T00:00:00Z';
const M_PER_DEG = 111_320;

const RECOMPUTE = `mutation R($from: DateTime, $to: DateTime) { recomputeProblems(from: $from, to: $to) { id kind appeals clusters created matched vanished reopened } }`;
const LIST = `query L($filter: ProblemFilter, $first: Int) { problems(filter: $filter, first: $first) { totalCount edges { node {
  id title source status active score rankCity rankDistrict appealCount authorCount growth center hull
  theme { code } district { code } breakdown { factor label value normalized weight points } } } } }`;
const ONE = `query P($id: ID!) { problem(id: $id) { id status reopenedCount center appealCount
  events { kind fromValue toValue actor comment } history { runId appealCount score } appeals(first: 100) { totalCount edges { node { id } } } } }`;

const results = new Map<BackendName, string[]>();

function distanceM(a: number[], b: number[]) {
  const dx = (a[0] - b[0]) * M_PER_DEG * Math.cos((a[1] * Math.PI) / 180);
  const dy = (a[1] - b[1]) * M_PER_DEG;
  return Math.hypot(dx, dy);
}

describe.each(backends)('territorial problem list on %s', (backend) => {
  let app: TestApp;
  let themes: Map<string, number>;
  let districts: { id: number; code: string; lon: number; lat: number }[];
  let ext = 0;
  const byKey = new Map<string, string>(); // planted key → problem id

  /** Inserts appeals (one author each) and returns their ids. */
  async function insert(rows: { theme: number; lon: number; lat: number; at: Date; channel?: string }[]): Promise<number[]> {
    const r = await app.sql<{ id: number }>(`
      INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, district_id, theme_id, status, author_key, due_at)
      SELECT 1, u.ch, u.ext, u.at, 'CITIZEN', 'обращение ' || u.ext, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326),
             (SELECT d.id FROM district d WHERE ST_Contains(d.geom, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)) ORDER BY d.id LIMIT 1),
             u.theme, 'NEW', 'author-' || u.ext, u.at + interval '10 days'
        FROM unnest(?::text[], ?::text[], ?::timestamptz[], ?::float8[], ?::float8[], ?::int[]) AS u(ch, ext, at, lon, lat, theme)
      RETURNING id`,
      [rows.map((x) => x.channel ?? 'POS'), rows.map(() => `T-${++ext}`), rows.map((x) => x.at.toISOString()), rows.map((x) => x.lon), rows.map((x) => x.lat), rows.map((x) => x.theme)]
        .map((a) => `{${a.map((v) => (typeof v === 'string' ? `"${v}"` : v)).join(',')}}`));
    return r.map((x) => x.id);
  }

  function around(rnd: () => number, lon: number, lat: number, sigmaM: number) {
    const g = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    return { lon: lon + (g() * sigmaM) / (M_PER_DEG * Math.cos((lat * Math.PI) / 180)), lat: lat + (g() * sigmaM) / M_PER_DEG };
  }

  async function list(filter: Record<string, unknown> = {}) {
    const r = await app.gql(LIST, { filter, first: 500 });
    expect(r.errors).toBeUndefined();
    return r.data.problems.edges.map((e: any) => e.node) as any[];
  }

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
    themes = new Map((await app.sql<{ id: number; code: string }>('SELECT id, code FROM theme')).map((t) => [t.code, t.id]));
    districts = await app.sql(`SELECT id, code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM district ORDER BY code`);
    const rnd = mulberry32(5);
    const period = [Date.parse(FROM), Date.parse(TO)];
    const at = () => new Date(period[0] + rnd() * (period[1] - period[0]));
    const rows: { theme: number; lon: number; lat: number; at: Date }[] = [];
    for (const p of PLANTED) {
      const d = districts[p.district];
      p.lon = d.lon; p.lat = d.lat;
      for (let i = 0; i < p.size; i++) rows.push({ theme: themes.get(p.theme)!, ...around(rnd, d.lon, d.lat, 50), at: at() });
    }
    // Noise: 150 appeals spread uniformly over the city's box, on the planted themes and others.
    const [box] = await app.sql<{ x0: number; y0: number; x1: number; y1: number }>(
      'SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 FROM (SELECT ST_Extent(geom)::geometry AS e FROM district) s');
    const noiseThemes = ['gkh.heating', 'roads.potholes', 'blag.waste', 'gkh.water'];
    for (let i = 0; i < 150; i++) {
      rows.push({ theme: themes.get(noiseThemes[i % 4])!, lon: box.x0 + rnd() * (box.x1 - box.x0), lat: box.y0 + rnd() * (box.y1 - box.y0), at: at() });
    }
    await insert(rows);
  }, 120_000);
  afterAll(async () => app?.close());

  it('recovers every planted cluster with its theme and district, and nothing from the noise', async () => {
    const r = await app.gql(RECOMPUTE, { from: FROM, to: TO });
    expect(r.errors).toBeUndefined();
    expect(r.data.recomputeProblems).toMatchObject({ kind: 'FULL', created: PLANTED.length, matched: 0 });
    const found = (await list({ sources: ['APPEALS'] }));
    expect(found).toHaveLength(PLANTED.length);
    for (const p of PLANTED) {
      const hit = found.find((f) => f.theme.code === p.theme && f.district?.code === districts[p.district].code);
      expect(hit, `cluster ${p.key}`).toBeDefined();
      expect(hit.appealCount).toBeGreaterThanOrEqual(Math.floor(p.size * 0.9));
      expect(hit.appealCount).toBeLessThanOrEqual(p.size + 2);
      expect(distanceM(hit.center.coordinates, [p.lon!, p.lat!])).toBeLessThan(60);
      expect(hit.hull.type).toMatch(/Polygon/);
      byKey.set(p.key, hit.id);
    }
    results.set(backend, found.map((f) => `${f.theme.code}|${f.district.code}|${f.appealCount}|${f.authorCount}|${f.score.toFixed(2)}`).sort());
  });

  it('explains every score: the factor points add up to it, ranks follow the scores', async () => {
    const all = await list();
    const sorted = [...all].sort((a, b) => a.rankCity - b.rankCity);
    sorted.forEach((p, i) => {
      expect(p.rankCity).toBe(i + 1);
      if (i) expect(p.score).toBeLessThanOrEqual(sorted[i - 1].score);
      expect(p.breakdown.map((b: any) => b.factor)).toEqual(['volume', 'authors', 'growth', 'repeats', 'overdue', 'lowSatisfaction', 'cur', 'perCapita']);
      const sum = p.breakdown.reduce((s: number, b: any) => s + b.points, 0);
      expect(Math.abs(sum - p.score)).toBeLessThan(0.01);
    });
    // The largest cluster has the full volume share; per district ranks start at 1.
    const a = all.find((p) => p.id === byKey.get('A'));
    expect(a.breakdown.find((b: any) => b.factor === 'volume').normalized).toBe(1);
    expect(a.breakdown.find((b: any) => b.factor === 'volume').value).toBe(a.appealCount);
    for (const d of new Set(all.map((p) => p.district?.code))) {
      const ranks = all.filter((p) => p.district?.code === d).map((p) => p.rankDistrict).sort((x, y) => x - y);
      expect(ranks).toEqual(ranks.map((_, i) => i + 1));
    }
    // The problem's appeals are its cluster's.
    const one = await app.gql(ONE, { id: byKey.get('B') });
    expect(one.data.problem.appeals.totalCount).toBe(one.data.problem.appealCount);
    expect(one.data.problem.events[0]).toMatchObject({ kind: 'DETECTED' });
  });

  it('keeps every identity when recomputed on unchanged data', async () => {
    const before = (await list()).map((p) => p.id).sort();
    const r = await app.gql(RECOMPUTE, { from: FROM, to: TO });
    expect(r.data.recomputeProblems).toMatchObject({ created: 0, vanished: 0, matched: before.length });
    expect((await list()).map((p) => p.id).sort()).toEqual(before);
    const one = await app.gql(ONE, { id: byKey.get('A') });
    expect(one.data.problem.history).toHaveLength(2);
  });

  it('keeps the identity of a cluster that moves 150 m', async () => {
    const ids = (await app.gql(ONE, { id: byKey.get('A') })).data.problem.appeals.edges.map((e: any) => Number(e.node.id));
    const dLon = 150 / (M_PER_DEG * Math.cos((PLANTED[0].lat! * Math.PI) / 180));
    await app.sql(`UPDATE appeal SET point = ST_Translate(point, ?, 0) WHERE id = ANY(?::int[])`, [dLon, `{${ids.join(',')}}`]);
    const r = await app.gql(RECOMPUTE, { from: FROM, to: TO });
    expect(r.data.recomputeProblems.created).toBe(0);
    const moved = (await list({ sources: ['APPEALS'] })).find((p) => p.id === byKey.get('A'));
    expect(moved).toBeDefined();
    const shift = distanceM(moved.center.coordinates, [PLANTED[0].lon!, PLANTED[0].lat!]);
    expect(shift).toBeGreaterThan(100);
    expect(shift).toBeLessThan(200);
  });

  it('walks the lifecycle with events, refuses wrong transitions, and reopens a resolved problem when appeals return', async () => {
    const id = byKey.get('B')!;
    const SET = `mutation S($id: ID!, $s: ProblemStatus!, $c: String) { setProblemStatus(id: $id, status: $s, comment: $c) { id status statusLabel resolvedAt } }`;
    const wrong = await app.gql(SET, { id, s: 'RESOLVED' });
    expect(wrong.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(wrong.errors?.[0].message).toMatch(/выявлена.*решена/);
    const noReason = await app.gql(SET, { id, s: 'REJECTED' });
    expect(noReason.errors?.[0].extensions?.field).toBe('comment');
    for (const s of ['CONFIRMED', 'IN_PROGRESS', 'PLANNED', 'RESOLVED']) {
      const r = await app.gql(SET, { id, s, c: `шаг ${s}` });
      expect(r.errors).toBeUndefined();
      expect(r.data.setProblemStatus.status).toBe(s);
    }
    const orgs = await app.sql<{ id: number }>('SELECT id FROM organization ORDER BY id LIMIT 1');
    const assign = await app.gql(`mutation { assignProblem(id: "${id}", organizationId: "${orgs[0].id}", comment: "ответственный") { organization { id } } }`);
    expect(assign.data.assignProblem.organization.id).toBe(String(orgs[0].id));
    const badOrg = await app.gql(`mutation { assignProblem(id: "${id}", organizationId: "999999") { id } }`);
    expect(badOrg.errors?.[0].extensions?.field).toBe('organizationId');
    const badDate = await app.gql(`mutation { setProblemPlanDue(id: "${id}", planDueAt: "2026-02-30") { id } }`);
    expect(badDate.errors?.[0].extensions?.field).toBe('planDueAt');
    const due = await app.gql(`mutation { setProblemPlanDue(id: "${id}", planDueAt: "2027-05-01", comment: "в план ремонта") { planDueAt } }`);
    expect(due.data.setProblemPlanDue.planDueAt).toBe('2027-05-01');
    expect((await app.gql(`mutation { commentProblem(id: "${id}", comment: "выезд на место") { id } }`)).errors).toBeUndefined();

    // Appeals return after it was resolved: the next recompute reopens it and says so.
    const b = PLANTED[1];
    const rnd = mulberry32(9);
    const later = new Date(Date.now() + 60_000);
    await insert(Array.from({ length: 6 }, () => ({ theme: themes.get(b.theme)!, ...around(rnd, b.lon!, b.lat!, 40), at: later })));
    const r = await app.gql(RECOMPUTE, { from: FROM, to: new Date(Date.now() + 86_400_000).toISOString() });
    expect(r.errors).toBeUndefined();
    expect(r.data.recomputeProblems.reopened).toBe(1);
    const p = (await app.gql(ONE, { id })).data.problem;
    expect(p).toMatchObject({ status: 'CONFIRMED', reopenedCount: 1 });
    const kinds = p.events.map((e: any) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['DETECTED', 'STATUS', 'ORGANIZATION', 'PLAN_DUE', 'COMMENT', 'REOPENED']));
    expect(p.events.find((e: any) => e.kind === 'REOPENED').comment).toMatch(/новые обращения/);
    expect(p.events.find((e: any) => e.kind === 'STATUS').actor).not.toBe('anonymous');
  });

  it('recomputes incrementally around new appeals: a new cluster appears, the others keep their ids', async () => {
    const before = new Map((await list({ sources: ['APPEALS'] })).map((p) => [p.id, p.appealCount]));
    // Two groups of the same theme in districts apart: the window is a set of areas around the new points.
    const [d, d2] = [districts[1], districts[5]];
    const rnd = mulberry32(11);
    const inPeriod = new Date(Date.now() - 20 * 86_400_000);
    const ids = await insert([
      ...Array.from({ length: 20 }, () => ({ theme: themes.get('roads.potholes')!, ...around(rnd, d.lon, d.lat, 40), at: inPeriod })),
      ...Array.from({ length: 12 }, () => ({ theme: themes.get('roads.potholes')!, ...around(rnd, d2.lon, d2.lat, 40), at: inPeriod })),
    ]);
    const em = app.orm.em.fork();
    const run = await new ProblemService(em, { municipalityId: 1, actor: 'test' }).recomputeAround(ids);
    expect(run).toMatchObject({ kind: 'INCREMENTAL', created: 2, vanished: 0 });
    // Only the areas around the new points were read, not the whole period.
    expect(run!.appeals).toBeLessThan(60);
    const after = await list({ sources: ['APPEALS'] });
    const fresh = after.filter((p) => !before.has(p.id)).sort((a, b) => b.appealCount - a.appealCount);
    expect(fresh).toHaveLength(2);
    expect(fresh[0]).toMatchObject({ appealCount: 20, theme: { code: 'roads.potholes' }, district: { code: d.code } });
    expect(fresh[1]).toMatchObject({ appealCount: 12, theme: { code: 'roads.potholes' }, district: { code: d2.code } });
    for (const [id, n] of before) expect(after.find((p) => p.id === id)?.appealCount).toBe(n);
  });

  it('places appeals that join existing clusters without reclustering, exactly as a full recompute would', async () => {
    const a = (await list({ sources: ['APPEALS'] })).find((p) => p.id === byKey.get('A'))!;
    const b = (await list({ sources: ['APPEALS'] })).find((p) => p.id === byKey.get('B'))!;
    const rnd = mulberry32(5);
    const at = new Date('2026-08-20T10:00:00Z');
    const near = (p: any, k: number, theme: string) => Array.from({ length: k }, () => ({ theme: themes.get(theme)!, ...around(rnd, p.center.coordinates[0], p.center.coordinates[1], 8), at }));
    const ids = await insert([...near(a, 5, 'gkh.heating'), ...near(b, 3, 'roads.potholes')]);
    const svc = new ProblemService(app.orm.em.fork(), { municipalityId: 1, actor: 'test' });
    const run = (await svc.recomputeAround(ids))!;
    // Placed from the kept cell counts: only the 8 new appeals were looked at, 2 problems touched.
    expect(run).toMatchObject({ kind: 'INCREMENTAL', appeals: 8, clusters: 2, created: 0, vanished: 0 });
    const inc = await list({ sources: ['APPEALS'] });
    expect(inc.find((p) => p.id === a.id).appealCount).toBe(a.appealCount + 5);
    expect(inc.find((p) => p.id === b.id).appealCount).toBe(b.appealCount + 3);
    const events = (await app.gql(ONE, { id: a.id })).data.problem;
    expect(events.appeals.totalCount).toBe(a.appealCount + 5);
    // The full recompute of the same period finds the same problems with the same sizes, factors and scores.
    const full = await svc.recompute(run.periodFrom, run.periodTo);
    expect(full).toMatchObject({ created: 0, vanished: 0 });
    const after = await list({ sources: ['APPEALS'] });
    const view = (ps: any[]) => ps.map((p) => `${p.id}|${p.appealCount}|${p.authorCount}|${p.score.toFixed(6)}|${JSON.stringify(p.hull)}`).sort();
    expect(view(after)).toEqual(view(inc));
  });

  it('grows a problem into the cells next to it without reclustering, exactly as a full recompute would', async () => {
    const b = (await list({ sources: ['APPEALS'] })).find((p) => p.id === byKey.get('B'))!;
    const rnd = mulberry32(9);
    const [lon, lat] = b.center.coordinates;
    const at = new Date('2026-08-21T10:00:00Z');
    // 6 appeals 230 m east of the centre: cells at the edge become core and join B, with any noise there.
    const ids = await insert(Array.from({ length: 6 }, () => ({ theme: themes.get('roads.potholes')!, ...around(rnd, lon + 230 / (M_PER_DEG * Math.cos((lat * Math.PI) / 180)), lat, 10), at })));
    const svc = new ProblemService(app.orm.em.fork(), { municipalityId: 1, actor: 'test' });
    const run = (await svc.recomputeAround(ids))!;
    expect(run).toMatchObject({ kind: 'INCREMENTAL', created: 0, vanished: 0 });
    const inc = await list({ sources: ['APPEALS'] });
    const grown = inc.find((p) => p.id === b.id);
    expect(grown.appealCount).toBeGreaterThanOrEqual(b.appealCount + 6);
    expect(JSON.stringify(grown.hull)).not.toBe(JSON.stringify(b.hull));
    // Placed without the windowed recluster: only the new appeals and the noise they took in were looked at.
    expect(run.appeals).toBe(grown.appealCount - b.appealCount);
    const full = await svc.recompute(run.periodFrom, run.periodTo);
    expect(full).toMatchObject({ created: 0, vanished: 0 });
    const view = (ps: any[]) => ps.map((p) => `${p.id}|${p.appealCount}|${p.authorCount}|${p.score.toFixed(6)}|${JSON.stringify(p.hull)}`).sort();
    expect(view(await list({ sources: ['APPEALS'] }))).toEqual(view(inc));
  });

  it('exports the list as CSV (BOM, ;), XLSX and GeoJSON with the breakdown', async () => {
    const rows = await list();
    const csv = await app.defaultClient.fetch('/exports/problems.csv');
    expect(csv.status).toBe(200);
    const bytes = new Uint8Array(await csv.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder().decode(bytes.slice(3));
    const lines = text.trim().split('\r\n');
    expect(lines[0]).toContain('Место в городе;Место в районе;Номер;Проблема');
    expect(lines[0]).toContain('Доля просроченных: баллы');
    expect(lines).toHaveLength(rows.length + 1);

    const xlsx = await app.defaultClient.fetch('/exports/problems.xlsx?sources=APPEALS');
    expect(xlsx.headers.get('content-type')).toMatch(/spreadsheetml/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(await xlsx.arrayBuffer() as any);
    const ws = wb.getWorksheet('Перечень проблем')!;
    expect(ws.rowCount - 1).toBe(rows.filter((r) => r.source === 'APPEALS').length);
    expect(ws.getRow(1).getCell(4).value).toBe('Проблема');

    const gj = await (await app.defaultClient.fetch('/exports/problems.geojson')).json();
    expect(gj.type).toBe('FeatureCollection');
    expect(gj.features).toHaveLength(rows.length);
    expect(gj.features[0].geometry.type).toMatch(/Polygon/);
    expect(gj.features[0].properties).toHaveProperty('p_volume');

    const far = await (await app.defaultClient.fetch('/exports/problems.geojson?bbox=10,10,10.1,10.1')).json();
    expect(far.features).toHaveLength(0);
    const a = rows.find((r) => r.id === byKey.get('A'))!;
    const [lon, lat] = a.center.coordinates;
    const near = await (await app.defaultClient.fetch(`/exports/problems.geojson?bbox=${lon - 0.001},${lat - 0.001},${lon + 0.001},${lat + 0.001}`)).json();
    expect(near.features.map((f: any) => String(f.id))).toContain(a.id);
    expect((await app.defaultClient.fetch('/exports/problems.csv?bbox=1,2,3')).status).toBe(400);
    const bad = await app.defaultClient.fetch('/exports/problems.csv?statuses=NOPE');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/statuses.*NOPE/);
    expect((await app.anonymous.fetch('/exports/problems.csv')).status).toBe(401);
  });

  it('rejects bad input with a clear error and changes nothing', async () => {
    const count = (await app.sql<{ n: number }>('SELECT count(*)::int AS n FROM problem'))[0].n;
    const cases: [string, Record<string, unknown>, string][] = [
      [`query($f: ProblemFilter) { problems(filter: $f, first: 1000) { totalCount } }`, {}, 'first'],
      [`query($f: ProblemFilter) { problems(filter: $f) { totalCount } }`, { f: { minScore: 500 } }, 'filter.minScore'],
      [`query($f: ProblemFilter) { problems(filter: $f) { totalCount } }`, { f: { districtIds: ["1' OR 1=1 --"] } }, 'filter.districtIds[0]'],
      [`query($f: ProblemFilter) { problems(filter: $f) { totalCount } }`, { f: { bbox: { minLon: 81.3, minLat: 51.4, maxLon: 81.1, maxLat: 51.6 } } }, 'filter.bbox'],
      [RECOMPUTE, { from: TO, to: FROM }, 'from'],
      [`mutation { setProblemSettings(detection: { epsMeters: 0, minPoints: 5 }) { windowDays } }`, {}, 'detection.epsMeters'],
      [`mutation { setProblemSettings(weights: { volume: -1 }) { windowDays } }`, {}, 'weights.volume'],
      [`mutation { setProblemStatus(id: "999999", status: CONFIRMED) { id } }`, {}, 'id'],
    ];
    for (const [q, v, field] of cases) {
      const r = await app.gql(q, v);
      expect(r.errors?.[0].extensions?.code, q).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0].extensions?.field, q).toBe(field);
    }
    const text = await app.gql(`query($f: ProblemFilter) { problems(filter: $f) { totalCount } }`, { f: { text: "%' OR 1=1; DROP TABLE problem; --" } });
    expect(text.data.problems.totalCount).toBe(0);
    expect((await app.sql<{ n: number }>('SELECT count(*)::int AS n FROM problem'))[0].n).toBe(count);
  });

  it('lets weights change the ranking at once, and roles only do what they may', async () => {
    const w = await app.gql(`mutation { setProblemSettings(weights: { volume: 0, authors: 0, growth: 0, repeats: 0, overdue: 1, lowSatisfaction: 0, cur: 0, perCapita: 0 }) { weights } }`);
    expect(w.errors).toBeUndefined();
    const all = await list();
    for (const p of all) expect(p.score).toBeCloseTo(p.breakdown.find((b: any) => b.factor === "overdue").normalized * 100, 1);

    const analyst = await app.gqlAs(Role.ANALYST, `mutation { setProblemStatus(id: "${byKey.get('C')}", status: CONFIRMED) { id } }`);
    expect(analyst.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gqlAs(Role.ANALYST, `{ problems { totalCount } }`)).data.problems.totalCount).toBe(all.length);
    const worker = await app.gqlAs(Role.WORKER, `mutation { setProblemSettings(windowDays: 30) { windowDays } }`);
    expect(worker.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // BLOCK_LEAD (block gkh) sees only the problems of their block's themes.
    const lead = await app.gqlAs(Role.BLOCK_LEAD, `{ problems(first: 500) { edges { node { theme { code } } } } }`);
    const codes = lead.data.problems.edges.map((e: any) => e.node.theme?.code);
    expect(codes.length).toBeGreaterThan(0);
    const block = (await app.sql<{ code: string }>(`SELECT t.code FROM theme t JOIN thematic_block b ON b.id = t.block_id WHERE b.code = 'gkh'`)).map((t) => t.code);
    expect(codes.filter((c: string) => !block.includes(c))).toEqual([]);
    expect(codes.length).toBeLessThan(all.length);
  });

  it('keeps a hot ЦУР square without appeals apart from the appeal clusters of its theme', async () => {
    // One hot square of the heating theme, away from its planted clusters: a CUR candidate whose cluster number
    // within the theme is the same as an appeal cluster's; it must not take that cluster's appeals.
    const d = districts[2];
    const [layer] = await app.sql<{ id: number }>(`INSERT INTO heat_layer (municipality_id, source, name, format, theme_id, period_from, period_to, checksum, rows_read, cell_count, total_weight)
      VALUES (1, 'test', 'ЦУР', 'CSV', ?, ?, ?, repeat('a', 64), 1, 1, 50) RETURNING id`, [themes.get('gkh.heating')!, FROM, TO]);
    await app.sql(`INSERT INTO heat_cell (municipality_id, layer_id, line, geom, point, weight, theme_id)
      VALUES (1, ?, 1, ST_SetSRID(ST_MakePoint(?, ?), 4326), ST_SetSRID(ST_MakePoint(?, ?), 4326), 50, ?)`,
      [layer.id, d.lon, d.lat, d.lon, d.lat, themes.get('gkh.heating')!]);
    expect((await app.gql(RECOMPUTE, { from: FROM, to: TO })).errors).toBeUndefined();
    const all = await list();
    const cur = all.filter((p) => p.source === 'CUR');
    expect(cur.length).toBeGreaterThan(0);
    for (const p of all) {
      const one = (await app.gql(ONE, { id: p.id })).data.problem;
      expect(one.appeals.totalCount, `${p.source} ${p.title}`).toBe(p.appealCount);
    }
    for (const p of cur) expect(p.appealCount).toBe(0);
    const [twice] = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT pa.appeal_id FROM problem_appeal pa
      JOIN problem p ON p.id = pa.problem_id AND p.active GROUP BY 1 HAVING count(*) > 1) x`);
    expect(twice.n).toBe(0);
  });
});

describe('territorial problem list across backends', () => {
  it('finds the same problems on every backend', () => {
    for (const b of backends) expect(results.get(b), b).toHaveLength(PLANTED.length);
    for (const b of backends) expect(results.get(b)).toEqual(results.get(backends[0]));
  });
});
