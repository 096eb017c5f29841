import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startApp, type App } from '../server/app.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../server/db/sql.js';
import { ensureDeadlineDefaults } from '../server/deadlines/store.js';
import { UserService, randomPassword } from '../server/auth/users.js';
import { Role } from '../server/auth/roles.js';
import { repoRoot } from '../server/reference/files.js';
import { median, mulberry32, percentile, type SummaryRow } from './lib.js';

/**
 * A region on one node (issue 20, item 5): `municipalities` municipalities × n appeals in one database.
 * 1. The municipal map mix (heatmap, districtStats, appealsGeoJSON, the latest-appeals page) of one municipality is
 *    measured on the database holding only that municipality (baseline), then again after the other municipalities are
 *    added (ours): ratio ≈ 1 means the indexes leading with municipality_id keep a municipality's queries its own size.
 * 2. The regional overview (every municipality's figures, regionOverview) over 90 days and over a year, against the
 *    same overview of one municipality (baseline): the regional view is one multi-municipality query.
 * The further municipalities are copies of Rubtsovsk's reference data and appeals, moved 0.5° apart (SQL, fast on both
 * backends); its own database: `mcu_bench_region_<n>` on PostGIS, bench/.data/region-<n> embedded.
 */

const HEATMAP = `query($bbox: BBoxInput!, $zoom: Int!, $filter: AppealFilter) { heatmap(bbox: $bbox, zoom: $zoom, filter: $filter, layer: APPEALS) { total cells { id value } } }`;
const DISTRICTS = `query($filter: AppealFilter) { districtStats(filter: $filter) { districts { district { id name } count per1000 previousCount change } } }`;
const POINTS = `query($filter: AppealFilter) { appealsGeoJSON(filter: $filter, limit: 2000) }`;
const PAGE = `query($filter: AppealFilter) { appeals(first: 50, filter: $filter) { totalCount edges { node { id receivedAt status district { name } theme { name } } } } }`;
const OVERVIEW = `query($from: DateTime, $to: DateTime) { regionOverview(from: $from, to: $to) { municipalities { id appeals appealsPer1000 problems riskSignals overdue } } }`;

type Kind = 'heatmap' | 'districtStats' | 'appealsGeoJSON' | 'appeals';
interface Req { kind: Kind; query: string; variables: (dx: number, dy: number) => Record<string, unknown> }

/** A fixed, seeded mix of the map page's queries over Rubtsovsk's extent (shifted by dx, dy for a copy). */
function mapMix(count: number): Req[] {
  const rnd = mulberry32(20);
  const out: Req[] = [];
  for (let i = 0; i < count; i++) {
    const from = new Date(Date.UTC(2025, Math.floor(rnd() * 20), 1 + Math.floor(rnd() * 27)));
    const to = new Date(from.getTime() + (14 + Math.floor(rnd() * 180)) * 86_400_000);
    const w = 0.03 + rnd() * 0.1;
    const minLon = 81.14 + rnd() * (0.14 - w);
    const minLat = 51.47 + rnd() * (0.09 - w * 0.6);
    const zoom = 12 + Math.floor(rnd() * 3);
    const kind = (['heatmap', 'districtStats', 'appealsGeoJSON', 'appeals'] as Kind[])[i % 4];
    const filter = { from: from.toISOString(), to: to.toISOString() };
    const bbox = (dx: number, dy: number) => ({ minLon: minLon + dx, minLat: minLat + dy, maxLon: minLon + w + dx, maxLat: minLat + w * 0.6 + dy });
    out.push({
      kind,
      query: { heatmap: HEATMAP, districtStats: DISTRICTS, appealsGeoJSON: POINTS, appeals: PAGE }[kind],
      variables: (dx, dy) => (kind === 'heatmap' ? { bbox: bbox(dx, dy), zoom, filter } : kind === 'districtStats' ? { filter } : { filter: { ...filter, bbox: bbox(dx, dy) } }),
    });
  }
  return out;
}

async function signIn(app: App, municipalityId: number, login: string, role: Role): Promise<string> {
  const password = randomPassword(20);
  const svc = new UserService(app.orm.em.fork(), municipalityId);
  const existing = await svc.byLogin(login);
  if (existing) await svc.setPassword(existing.id, password);
  else await svc.create({ login, displayName: 'Нагрузочный тест региона', role, password });
  const res = await fetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password }) });
  return ((await res.json()) as { token: string }).token;
}

async function gql(app: App, token: string, q: string, variables: Record<string, unknown>): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: q, variables }) });
  const body = (await res.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 500));
  return performance.now() - t;
}

/** Latencies of the mix, per kind (each request once, in order; a warm-up pass first). */
async function runMix(app: App, token: string, mix: Req[], dx: number, dy: number): Promise<Map<Kind | 'all', number[]>> {
  for (const r of mix.slice(0, 8)) await gql(app, token, r.query, r.variables(dx, dy));
  const out = new Map<Kind | 'all', number[]>([['all', []]]);
  for (const r of mix) {
    const ms = await gql(app, token, r.query, r.variables(dx, dy));
    if (!out.has(r.kind)) out.set(r.kind, []);
    out.get(r.kind)!.push(ms);
    out.get('all')!.push(ms);
  }
  return out;
}

/**
 * Copies a municipality (reference data and appeals) as `code`, moved by (dx, dy) degrees, in SQL. Foreign keys of
 * appeal to the municipality's own reference tables are mapped by code; other references (authors, batches, rules,
 * duplicates) are left empty: the map mix reads none of them.
 */
async function cloneMunicipality(em: EntityManager, src: number, code: string, name: string, dx: number, dy: number): Promise<number> {
  const [have] = await query<{ id: number }>(em, 'SELECT id FROM municipality WHERE code = ?', [code]);
  if (have) return have.id;
  return em.transactional(async (tem) => {
    const [{ id }] = await query<{ id: number }>(tem,
      `INSERT INTO municipality (code, name, region, oktmo, timezone, population, center, region_id)
       SELECT ?, ?, region, NULL, timezone, population, ST_Translate(center, ?, ?), region_id FROM municipality WHERE id = ? RETURNING id`, [code, name, dx, dy, src]);
    await query(tem, `INSERT INTO thematic_block (municipality_id, code, name, owner_title) SELECT ?, code, name, owner_title FROM thematic_block WHERE municipality_id = ?`, [id, src]);
    await query(tem, `INSERT INTO organization (municipality_id, code, name, short_name, kind) SELECT ?, code, name, short_name, kind FROM organization WHERE municipality_id = ?`, [id, src]);
    await query(tem, `UPDATE organization n SET parent_id = np.id FROM organization o JOIN organization op ON op.id = o.parent_id JOIN organization np ON np.code = op.code AND np.municipality_id = ?
                       WHERE o.municipality_id = ? AND n.municipality_id = ? AND n.code = o.code`, [id, src, id]);
    await query(tem, `INSERT INTO theme (municipality_id, code, name, block_id, organization_id, keywords, is_leaf)
                      SELECT ?, t.code, t.name, nb.id, no.id, t.keywords, t.is_leaf FROM theme t
                        LEFT JOIN thematic_block ob ON ob.id = t.block_id LEFT JOIN thematic_block nb ON nb.code = ob.code AND nb.municipality_id = ?
                        LEFT JOIN organization oo ON oo.id = t.organization_id LEFT JOIN organization no ON no.code = oo.code AND no.municipality_id = ?
                       WHERE t.municipality_id = ?`, [id, id, id, src]);
    await query(tem, `UPDATE theme n SET parent_id = np.id FROM theme o JOIN theme op ON op.id = o.parent_id JOIN theme np ON np.code = op.code AND np.municipality_id = ?
                       WHERE o.municipality_id = ? AND n.municipality_id = ? AND n.code = o.code`, [id, src, id]);
    await query(tem, `INSERT INTO district (municipality_id, code, name, kind, population, approximate, geom)
                      SELECT ?, code, name, kind, population, approximate, ST_Translate(geom, ?, ?) FROM district WHERE municipality_id = ?`, [id, dx, dy, src]);
    // appeal: every stored column but the identity and generated ones.
    const cols = await query<{ c: string; ref: string | null; nullable: string }>(tem,
      `SELECT c.column_name AS c, c.is_nullable AS nullable,
              (SELECT ccu.table_name FROM information_schema.key_column_usage k
                 JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = k.constraint_name AND ccu.table_schema = k.table_schema
                 JOIN information_schema.table_constraints tc ON tc.constraint_name = k.constraint_name AND tc.constraint_type = 'FOREIGN KEY'
                WHERE k.table_name = 'appeal' AND k.column_name = c.column_name LIMIT 1) AS ref
         FROM information_schema.columns c
        WHERE c.table_schema = 'public' AND c.table_name = 'appeal' AND c.column_name <> 'id' AND c.is_generated = 'NEVER' ORDER BY c.ordinal_position`);
    const mapped = new Set(['district', 'theme', 'organization', 'thematic_block']);
    const select = cols.map(({ c, ref, nullable }) => {
      if (c === 'municipality_id') return `${id}`;
      if (c === 'point') return `ST_Translate(a.point, ${Number(dx)}, ${Number(dy)})`;
      if (ref && mapped.has(ref)) return `(SELECT n.id FROM ${ref} o JOIN ${ref} n ON n.code = o.code AND n.municipality_id = ${id} WHERE o.id = a.${c})`;
      if (ref && ref !== 'channel' && ref !== 'municipality') {
        if (nullable !== 'YES') throw new Error(`appeal.${c} → ${ref} is NOT NULL: the bench cannot copy it`);
        return 'NULL';
      }
      return `a.${c}`;
    });
    await query(tem, `INSERT INTO appeal (${cols.map((x) => x.c).join(', ')}) SELECT ${select.join(', ')} FROM appeal a WHERE a.municipality_id = ?`, [src]);
    await ensureDeadlineDefaults(tem, id, 'rubtsovsk');
    return id;
  });
}

export async function benchRegion(backend: SummaryRow['backend'], n: number, serverUrl: string, opts: { municipalities: number; iterations: number },
  log: (m: string) => void): Promise<SummaryRow[]> {
  const root = repoRoot();
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  if (backend === 'postgis') {
    const name = `mcu_bench_region_${n}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    // A fresh database each run: the baseline is measured before the other municipalities exist.
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
  } else {
    dataDir = path.join(root, 'bench', '.data', `region-${n}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true });
  }
  const date = new Date().toISOString().slice(0, 10);
  const t0 = Date.now();
  log(`[${backend}] регион: ${n} обращений Рубцовска…`);
  const app = await startApp({ databaseUrl, dataDir, port: 0, demo: { count: n, seed: 42 }, log: () => undefined, limits: { rateLimitPerMinute: 0 } });
  const rows: SummaryRow[] = [];
  try {
    const em = app.orm.em.fork();
    await em.execute('ANALYZE');
    const token = await signIn(app, app.municipalityId, 'bench-region', Role.CURATOR);
    const mix = mapMix(opts.iterations);
    log(`[${backend}] готово за ${((Date.now() - t0) / 1000).toFixed(0)} с; смесь карты одного муниципалитета…`);
    const alone = await runMix(app, token, mix, 0, 0);
    const PERIODS = [['90 days', '2026-08-28T00:00:00Z'], ['a year', '2025-11-26T00:00:00Z']] as const;
    const overview = async (from: string) => {
      const regionToken = await signIn(app, app.municipalityId, 'bench-region-analyst', Role.REGION_ANALYST);
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push(await gql(app, regionToken, OVERVIEW, { from, to: '2026-11-26T00:00:00Z' }));
      return out;
    };
    const overviewAlone = new Map<string, number[]>();
    for (const [label, from] of PERIODS) overviewAlone.set(label, await overview(from));
    // The other municipalities: copies 0.5° apart (a grid east and north of Rubtsovsk).
    const ids: number[] = [app.municipalityId];
    for (let i = 1; i < opts.municipalities; i++) {
      const t = Date.now();
      const dx = 0.5 * (i % 4);
      const dy = 0.5 * Math.floor(i / 4);
      ids.push(await cloneMunicipality(em, app.municipalityId, `bench-${String(i).padStart(2, '0')}`, `Муниципалитет ${i} (копия Рубцовска)`, dx, dy));
      log(`[${backend}] муниципалитет ${i + 1}/${opts.municipalities}: ${n} обращений за ${((Date.now() - t) / 1000).toFixed(0)} с`);
    }
    await em.execute('VACUUM (ANALYZE) appeal, district, theme, organization');
    const [{ total }] = await query<{ total: number }>(em, 'SELECT count(*)::int AS total FROM appeal');
    log(`[${backend}] в базе ${total} обращений, ${ids.length} муниципалитетов; смесь карты снова…`);
    const together = await runMix(app, token, mix, 0, 0);
    const lastId = ids[ids.length - 1];
    const lastToken = await signIn(app, lastId, 'bench-region-last', Role.CURATOR);
    const last = ids.length - 1;
    const copy = await runMix(app, lastToken, mix, 0.5 * (last % 4), 0.5 * Math.floor(last / 4));
    for (const kind of ['all', 'heatmap', 'districtStats', 'appealsGeoJSON', 'appeals'] as const) {
      const a = alone.get(kind)!;
      const b = together.get(kind)!;
      const c = copy.get(kind)!;
      rows.push({
        name: kind === 'all' ? `region: municipal map mix, one of ${ids.length} municipalities (p50)` : `region: municipal ${kind}, one of ${ids.length} (p50)`,
        backend, n, ours: median(b), baseline: median(a), ratio: median(b) / median(a), unit: 'ms', target: '≤ 1.2', date,
        notes: `p95 ${percentile(b, 95).toFixed(1)} vs ${percentile(a, 95).toFixed(1)} ms alone; the last copy: p50 ${median(c).toFixed(1)} ms; ${ids.length} × ${n} appeals in one table`,
      });
    }
    for (const [label, from] of PERIODS) {
      const times = await overview(from);
      const base = median(overviewAlone.get(label)!);
      rows.push({
        name: `region: regional overview of ${ids.length} municipalities, ${label} (p50)`, backend, n, ours: median(times),
        baseline: base, ratio: median(times) / base, unit: 'ms', target: '< 2000 ms', date,
        notes: `p95 ${percentile(times, 95).toFixed(1)} ms; baseline: the same overview with one municipality in the database; ${ids.length * n} appeals`,
      });
    }
  } finally {
    await app.close();
  }
  return rows;
}
