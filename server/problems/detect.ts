import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { loadSettings, settingFor, type ProblemSettings } from './settings.js';
import { scoreAll, totalPoints, type FactorValues } from './score.js';
import { incrementalFast, loadState, type FastResult } from './incremental.js';
import { FACTORS_SQL, R, TITLE_SQL, heatTable, reopen } from './detect-sql.js';
import { OFFSETS } from './grid.js';

/**
 * Detection of the territorial problem list, and the stable identity of its problems.
 *
 * 1. Appeals of the period with a point and a theme are projected to EPSG:3857 (metres stretched by
 *    1/cos φ; radii are scaled by the same factor at the municipality's latitude) and clustered per
 *    theme with ST_ClusterDBSCAN (radius and minimum size per theme, minimum raised by the density
 *    guard). Public-discussion results left outside clusters form their own candidates.
 * 2. Hot ЦУР cells (share of their layer's maximum ≥ threshold) that touch no appeal cluster become
 *    candidates of their own (full recompute only).
 * 3. Each cluster gets its factors (volume, distinct authors, growth against the same hull in the
 *    previous period, repeats, overdue, low satisfaction, ЦУР intensity, per 1 000 residents).
 * 4. Clusters are matched to existing problems of the same theme by shared appeals first and hull
 *    overlap second, greedily one-to-one: a matched problem keeps its id, lifecycle and history.
 *    Unmatched clusters become new problems (выявлена); problems in scope with no cluster become
 *    inactive (their status is kept). A resolved problem whose cluster has appeals received after
 *    it was resolved is reopened (подтверждена) and says so.
 * 5. All active problems are rescored together (weights from the settings) and ranked in the city
 *    and in their district; each touched problem gets a snapshot of size and score.
 *
 * The incremental variant (after an import) starts from the state the latest full run kept (problem_point,
 * problem_state; see incremental.ts): the list period is that run's, extended to now, and the clustering
 * parameters are that run's. Appeals that join a cluster without changing any core cell are placed directly;
 * the others are reclustered with the themes of those appeals only, inside a window made of the areas around
 * each of them and the problems within two radii, widened by two radii; problems only partly inside that
 * window are left as they are. The full recompute is the reference (and re-bases the period).
 */

export interface DetectOptions {
  municipalityId: number;
  from: Date;
  to: Date;
  actor: string;
  /** Incremental recompute around these (new or changed) appeals. */
  appealIds?: number[];
  /** Reference time for "overdue" (default: min(now, to)). */
  now?: Date;
}

export interface RunResult {
  runId: number;
  kind: 'FULL' | 'INCREMENTAL';
  periodFrom: Date;
  periodTo: Date;
  appeals: number;
  clusters: number;
  created: number;
  matched: number;
  vanished: number;
  reopened: number;
  ms: number;
}

const MAX_PERIOD_DAYS = 3660;

export function checkPeriod(from: Date, to: Date) {
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) throw new InputError('from', 'начало периода — не дата');
  if (!(to instanceof Date) || Number.isNaN(to.getTime())) throw new InputError('to', 'конец периода — не дата');
  if (from >= to) throw new InputError('from', `начало периода (${from.toISOString()}) должно быть раньше конца (${to.toISOString()})`);
  if (to.getTime() - from.getTime() > MAX_PERIOD_DAYS * 86_400_000) throw new InputError('to', `период длиннее ${MAX_PERIOD_DAYS} дней`);
}

interface Scope { theme_id: number; eps: number; minpts: number; env: string | null }

export async function detectProblems(rootEm: EntityManager, o: DetectOptions): Promise<RunResult> {
  checkPeriod(o.from, o.to);
  const started = Date.now();
  const startedAt = new Date();
  const m = o.municipalityId;
  const settings = await loadSettings(rootEm, m);
  const incremental = o.appealIds != null;
  let ref = o.now ?? new Date(Math.min(Date.now(), o.to.getTime()));
  let prevFrom = new Date(o.from.getTime() - (o.to.getTime() - o.from.getTime()));

  // MCU_PROFILE=1 prints the time of each step (how the benchmark figures were broken down).
  let mark = Date.now();
  const profile = process.env.MCU_PROFILE ? (step: string) => { console.log(`[problems] ${step}: ${Date.now() - mark} ms`); mark = Date.now(); } : () => undefined;
  const result = await rootEm.transactional(async (em) => {
    const [geo] = await query<{ lat: number; area: number }>(em,
      `SELECT ST_Y(m.center) AS lat, coalesce((SELECT sum(ST_Area(d.geom::geography)) FROM district d WHERE d.municipality_id = m.id), 0)::float8 AS area
         FROM municipality m WHERE m.id = ?`, [m]);
    if (!geo) throw new InputError('municipalityId', `муниципальное образование ${m} не найдено`);
    const stretch = 1 / Math.cos((geo.lat * Math.PI) / 180);

    const newRun = (scope: Scope[]) => query<{ id: number }>(em,
      `INSERT INTO problem_run (municipality_id, kind, period_from, period_to, started_at, finished_at, appeals, clusters, created, matched, vanished, reopened, actor, scope)
       VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0, ?, ?::jsonb) RETURNING id`,
      [m, incremental ? 'INCREMENTAL' : 'FULL', o.from, o.to, startedAt, startedAt, o.actor,
        JSON.stringify(scope.map(({ theme_id, eps, minpts }) => ({ theme_id, eps, minpts })))]).then((r) => r[0]);
    const finish = async (result: RunResult) => {
      await query(em, `UPDATE problem_run SET finished_at = ?, appeals = ?, clusters = ?, created = ?, matched = ?, vanished = ?, reopened = ? WHERE id = ?`,
        [new Date(), result.appeals, result.clusters, result.created, result.matched, result.vanished, result.reopened, result.runId]);
      return result;
    };

    // Incremental from the state of the latest full run: most new appeals are placed without reclustering;
    // the rest (slow) go through the windowed recluster below, in the same run.
    let fast: FastResult | null = null;
    let run: { id: number } | null = null;
    const state = incremental ? await loadState(em, m, stretch) : null;
    if (incremental) {
      if (state) {
        o = { ...o, from: state.from, to: new Date(Math.max(state.to.getTime(), o.to.getTime())) };
        prevFrom = state.prevFrom;
        ref = o.now ?? new Date(Math.min(Date.now(), o.to.getTime()));
        run = await newRun([]);
        fast = await incrementalFast(em, m, state, o.to, o.appealIds!, run.id, startedAt, o.actor, profile);
        o = { ...o, appealIds: fast.slow };
        if (!fast.slow.length) {
          await rescore(em, m, settings, run.id, startedAt, fast.touched);
          profile('rescore');
          return finish({ runId: run.id, kind: 'INCREMENTAL', periodFrom: o.from, periodTo: o.to, appeals: fast.assigned, clusters: fast.touched.length,
            created: 0, matched: fast.touched.length, vanished: 0, reopened: fast.reopened, ms: Date.now() - started });
        }
      }
    }

    const scope = await buildScope(em, o, settings, geo.area, stretch);
    profile('scope');
    // An incremental run reads the kept points when they were cut with the same radii.
    const fromKept = state != null && scope.every((s) => state.scope.get(s.theme_id)?.eps === s.eps);
    run ??= await newRun(scope);

    await em.execute(`CREATE TEMP TABLE pd_scope (theme_id int PRIMARY KEY, eps float8, minpts int, env geometry) ON COMMIT DROP`);
    await em.execute(`CREATE TEMP TABLE pd_pts (id int PRIMARY KEY, theme_id int, district_id int, organization_id int, channel text, address text,
      author text, received_at timestamptz, is_repeat boolean, due_at timestamptz, answered_at timestamptz, satisfaction smallint,
      x float8, y float8, gx int, gy int) ON COMMIT DROP`);
    await em.execute(`CREATE TEMP TABLE pd_cell (theme_id int, gx int, gy int, n int, core boolean, cid int, PRIMARY KEY (theme_id, gx, gy)) ON COMMIT DROP`);
    await em.execute(`CREATE TEMP TABLE pd_lab (id int PRIMARY KEY, theme_id int, cid int, source text) ON COMMIT DROP`);
    await em.execute(`CREATE TEMP TABLE pd_cl (k serial PRIMARY KEY, theme_id int, cid int, source text, n int, authors int, repeats int,
      with_due int, overdue int, rated int, low_sat int, first_at timestamptz, last_at timestamptz, district_id int, organization_id int,
      address text, hull geometry, center geometry, prev int DEFAULT 0, cur float8 DEFAULT 0) ON COMMIT DROP`);

    if (!scope.length && !incremental) await persistPoints(em, m, run.id, o.from, o.to, prevFrom);
    if (scope.length) {
      await query(em, `INSERT INTO pd_scope SELECT * FROM unnest(?::int[], ?::float8[], ?::int[], ?::text[]) AS s(t, e, mp, env)`,
        [scope.map((s) => s.theme_id), scope.map((s) => s.eps), scope.map((s) => s.minpts), scope.map((s) => s.env)]);
      // Points in EPSG:3857 (spherical Mercator by arithmetic) and their grid cell (side = radius / 2): in an incremental
      // run from the kept points when they were cut with the same radii, otherwise from the appeals.
      if (fromKept) await query(em, `INSERT INTO pd_pts
        SELECT pp.appeal_id, pp.theme_id, pp.district_id, pp.organization_id, pp.channel, pp.address, pp.author, pp.received_at, pp.is_repeat,
               pp.due_at, pp.answered_at, pp.satisfaction, pp.x, pp.y, pp.gx, pp.gy
          FROM problem_point pp JOIN (SELECT theme_id, ST_Transform(env, 3857) AS e FROM pd_scope) s ON s.theme_id = pp.theme_id
         WHERE pp.municipality_id = ? AND ST_Intersects(ST_SetSRID(ST_MakePoint(pp.x, pp.y), 3857), s.e)`, [m]);
      else await query(em, `INSERT INTO pd_pts
        SELECT id, theme_id, district_id, organization_id, channel, address, author, received_at, is_repeat, due_at, answered_at, satisfaction,
               x, y, floor(x / (eps / 2))::int, floor(y / (eps / 2))::int
          FROM (SELECT a.id, a.theme_id, a.district_id, a.organization_id, a.channel, a.address,
                       coalesce(a.author_key, 'id:' || a.author_id, 'appeal:' || a.id) AS author, a.received_at, a.repeat_of_id IS NOT NULL AS is_repeat,
                       a.due_at, a.answered_at, a.satisfaction, s.eps,
                       ${R} * radians(ST_X(a.point)) AS x, ${R} * ln(tan(pi() / 4 + radians(ST_Y(a.point)) / 2)) AS y
                  FROM appeal a JOIN pd_scope s ON s.theme_id = a.theme_id AND (s.env IS NULL OR (a.point && s.env AND ST_Intersects(a.point, s.env)))
                 WHERE a.municipality_id = ? AND a.received_at >= ? AND a.received_at < ? AND a.point IS NOT NULL AND a.status <> 'REJECTED') q`,
        [m, o.from, o.to]);
      if (incremental) await em.execute('ANALYZE pd_pts');
      profile('points');
      if (!incremental) await persistPoints(em, m, run.id, o.from, o.to, prevFrom);
      profile('persist');
      // Grid DBSCAN per theme. A cell is core when the cells whose centres lie within the radius hold at least
      // the minimum number of appeals; core cells within the radius of each other are connected (ST_ClusterDBSCAN
      // over the core cells); a non-core cell next to a core cell joins the nearest one (border); the rest is noise.
      // Cost grows with the number of occupied cells, not with the density of appeals.
      // Counts per cell first, in a keyed and analysed table: joined with itself through a CTE the planner had no row
      // estimates and could pick a nested loop over every pair of cells.
      await em.execute(`CREATE TEMP TABLE pd_cnt ON COMMIT DROP AS SELECT theme_id, gx, gy, count(*)::int AS n FROM pd_pts GROUP BY theme_id, gx, gy`);
      await em.execute('ALTER TABLE pd_cnt ADD PRIMARY KEY (theme_id, gx, gy)');
      await em.execute('ANALYZE pd_cnt');
      await em.execute(`INSERT INTO pd_cell (theme_id, gx, gy, n, core)
        SELECT c.theme_id, c.gx, c.gy, c.n, sum(o.n) >= min(s.minpts)
          FROM pd_cnt c CROSS JOIN (${OFFSETS}) d(dx, dy)
          JOIN pd_cnt o ON o.theme_id = c.theme_id AND o.gx = c.gx + d.dx AND o.gy = c.gy + d.dy
          JOIN pd_scope s ON s.theme_id = c.theme_id
         GROUP BY c.theme_id, c.gx, c.gy, c.n`);
      await em.execute('ANALYZE pd_cell');
      await em.execute(`UPDATE pd_cell c SET cid = x.cid
          FROM (SELECT theme_id, gx, gy, ST_ClusterDBSCAN(ST_MakePoint(gx, gy), 2.0001, 1) OVER (PARTITION BY theme_id ORDER BY gx, gy) AS cid
                  FROM pd_cell WHERE core) x
         WHERE c.theme_id = x.theme_id AND c.gx = x.gx AND c.gy = x.gy`);
      await em.execute(`UPDATE pd_cell c SET cid = x.cid
          FROM (SELECT DISTINCT ON (c2.theme_id, c2.gx, c2.gy) c2.theme_id, c2.gx, c2.gy, o.cid
                  FROM pd_cell c2 CROSS JOIN (${OFFSETS}) d(dx, dy)
                  JOIN pd_cell o ON o.theme_id = c2.theme_id AND o.gx = c2.gx + d.dx AND o.gy = c2.gy + d.dy AND o.core
                 WHERE NOT c2.core
                 ORDER BY c2.theme_id, c2.gx, c2.gy, d.dx * d.dx + d.dy * d.dy, o.cid) x
         WHERE c.theme_id = x.theme_id AND c.gx = x.gx AND c.gy = x.gy`);
      await em.execute(`INSERT INTO pd_lab SELECT p.id, p.theme_id, c.cid, 'APPEALS' FROM pd_pts p JOIN pd_cell c USING (theme_id, gx, gy)`);
      profile('dbscan');
      // Public-discussion results outside any cluster: each is a candidate, merged with its near neighbours.
      await em.execute(`UPDATE pd_lab l SET cid = 1000000 + d.c, source = 'DISCUSSION'
          FROM (SELECT p.id, ST_ClusterDBSCAN(ST_MakePoint(p.x, p.y), s.eps, 1) OVER (PARTITION BY p.theme_id ORDER BY p.id) AS c
                  FROM pd_pts p JOIN pd_lab l2 USING (id) JOIN pd_scope s ON s.theme_id = p.theme_id
                 WHERE l2.cid IS NULL AND p.channel = 'PUBLIC_DISCUSSION') d
         WHERE l.id = d.id`);
      await query(em, `INSERT INTO pd_cl (theme_id, cid, source, n, authors, repeats, with_due, overdue, rated, low_sat, first_at, last_at,
                                         district_id, organization_id, address, center)
        SELECT l.theme_id, l.cid, l.source, count(*), count(DISTINCT p.author), count(*) FILTER (WHERE p.is_repeat),
               count(p.due_at), count(*) FILTER (WHERE p.due_at < coalesce(p.answered_at, ?)),
               count(p.satisfaction), count(*) FILTER (WHERE p.satisfaction <= 2), min(p.received_at), max(p.received_at),
               mode() WITHIN GROUP (ORDER BY p.district_id), mode() WITHIN GROUP (ORDER BY p.organization_id),
               mode() WITHIN GROUP (ORDER BY p.address),
               ST_Transform(ST_SetSRID(ST_MakePoint(avg(p.x), avg(p.y)), 3857), 4326)
          FROM pd_lab l JOIN pd_pts p USING (id)
         WHERE l.cid IS NOT NULL
         GROUP BY l.theme_id, l.cid, l.source
         ORDER BY l.theme_id, min(p.id)`, [ref]);
      // Hull: the convex hull of the cluster's occupied cells, widened by half a radius (covers every appeal).
      await em.execute(`UPDATE pd_cl c SET hull = h.hull
          FROM (SELECT g.theme_id, g.cid, ST_Transform(ST_SetSRID(ST_Buffer(ST_ConvexHull(ST_Collect(ST_MakePoint((g.gx + 0.5) * s.eps / 2, (g.gy + 0.5) * s.eps / 2))), s.eps / 2, 4), 3857), 4326) AS hull
                  FROM (SELECT DISTINCT l.theme_id, l.cid, p.gx, p.gy FROM pd_lab l JOIN pd_pts p USING (id) WHERE l.cid IS NOT NULL) g
                  JOIN pd_scope s ON s.theme_id = g.theme_id
                 GROUP BY g.theme_id, g.cid, s.eps) h
         WHERE c.theme_id = h.theme_id AND c.cid = h.cid`);
      profile('clusters');
    }

    // ЦУР layers overlapping the period, summed into a 250 m square grid per theme and normalised to the
    // theme's hottest square (a single heavy point and a dense group of light ones compare fairly).
    await heatTable(em, 'pd_heat', m, o.from, o.to, stretch);
    profile('heat');

    // Previous period of the same length, same themes (and windows): counted inside each hull through a GiST index.
    // A full run keeps these points (problem_prev_point) for the incremental runs after it, which read them back.
    let prevTable = `problem_prev_point a WHERE a.municipality_id = ${Number(m)} AND`;
    if (!incremental) await persistPrevPoints(em, m, prevFrom, o.from);
    else if (!fromKept) {
      prevTable = 'pd_prev a WHERE';
      await query(em, `CREATE TEMP TABLE pd_prev ON COMMIT DROP AS SELECT a.theme_id, a.point FROM appeal a WHERE false`);
      await query(em, `INSERT INTO pd_prev SELECT a.theme_id, a.point
          FROM appeal a JOIN pd_scope s ON s.theme_id = a.theme_id AND (s.env IS NULL OR (a.point && s.env AND ST_Intersects(a.point, s.env)))
         WHERE a.municipality_id = ? AND a.received_at >= ? AND a.received_at < ? AND a.point IS NOT NULL AND a.status <> 'REJECTED'`, [m, prevFrom, o.from]);
      await em.execute('CREATE INDEX ON pd_prev USING gist (point)');
      await em.execute('ANALYZE pd_prev');
    }
    // Per cluster through LATERAL (a parameterised index probe): a join of two analysed temporary tables on &&
    // makes PostGIS's join selectivity estimator fail on sparse statistics ("invalid join selectivity").
    await em.execute(`UPDATE pd_cl c SET prev = x.n
        FROM (SELECT c2.k, l.n FROM pd_cl c2
                CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM ${prevTable} a.theme_id = c2.theme_id AND a.point && c2.hull AND ST_Intersects(a.point, c2.hull)) l) x
       WHERE c.k = x.k`);
    await em.execute(`UPDATE pd_cl c SET cur = x.v
        FROM (SELECT c2.k, max(h.norm) AS v FROM pd_cl c2 JOIN pd_heat h ON (h.theme_id IS NULL OR h.theme_id = c2.theme_id) AND h.geom && c2.hull AND ST_Intersects(h.geom, c2.hull)
               GROUP BY c2.k) x
       WHERE c.k = x.k`);
    profile('factors');

    if (!incremental) {
      // Hot ЦУР squares that no appeal cluster covers: candidates of touching squares.
      await query(em, `INSERT INTO pd_cl (theme_id, cid, source, n, authors, repeats, with_due, overdue, rated, low_sat, hull, center, cur, district_id)
        SELECT x.theme_id, x.c, 'CUR', 0, 0, 0, 0, 0, 0, 0, ST_Union(x.geom), ST_Centroid(ST_Union(x.geom)), max(x.norm),
               (SELECT d.id FROM district d WHERE d.municipality_id = ? AND ST_Intersects(d.geom, ST_Centroid(ST_Union(x.geom))) ORDER BY d.id LIMIT 1)
          FROM (SELECT h.theme_id, h.norm, h.geom, ST_ClusterDBSCAN(h.geom, 0, 1) OVER (PARTITION BY h.theme_id) AS c
                  FROM pd_heat h
                 WHERE h.norm >= ? AND NOT EXISTS (SELECT 1 FROM pd_cl k WHERE (h.theme_id IS NULL OR k.theme_id = h.theme_id) AND k.hull && h.geom AND ST_Intersects(k.hull, h.geom))) x
         GROUP BY x.theme_id, x.c ORDER BY x.theme_id NULLS FIRST, min(ST_XMin(x.geom)), min(ST_YMin(x.geom))`, [m, settings.curHotThreshold]);
      profile('cur');
    }

    // Existing problems in scope, and candidate (cluster, problem) pairs.
    const scopeThemes = scope.map((s) => s.theme_id);
    const existing = await query<{ id: number; active: boolean; status: string; resolved_at: string | null; n: number }>(em,
      incremental
        ? `SELECT p.id, p.active, p.status, p.resolved_at, p.appeal_count AS n FROM problem p JOIN pd_scope s ON s.theme_id = p.theme_id
            WHERE p.municipality_id = ? AND p.source <> 'CUR' AND p.hull && s.env AND ST_CoveredBy(p.hull, s.env)`
        : `SELECT p.id, p.active, p.status, p.resolved_at, p.appeal_count AS n FROM problem p WHERE p.municipality_id = ?`, [m]);
    await query(em, `CREATE TEMP TABLE pd_prob ON COMMIT DROP AS SELECT id, theme_id, source, hull FROM problem WHERE id = ANY('{}'::int[])`);
    await query(em, `INSERT INTO pd_prob SELECT id, theme_id, source, hull FROM problem WHERE id = ANY(?::int[])`, [existing.map((e) => e.id)]);
    profile('existing');
    // Row counts for the planner (temporary tables have no statistics until analysed).
    await em.execute('ANALYZE pd_lab, pd_cl, pd_prob');
    const pairs = await query<{ k: number; pid: number; shared: number; overlap: number; n: number }>(em, `
      WITH shared AS (
        SELECT c.k, pa.problem_id AS pid, count(*)::int AS shared
          FROM pd_lab l JOIN pd_cl c ON c.theme_id = l.theme_id AND c.cid = l.cid AND c.source = l.source
          JOIN problem_appeal pa ON pa.appeal_id = l.id JOIN pd_prob p ON p.id = pa.problem_id
         GROUP BY c.k, pa.problem_id),
      near AS (
        SELECT c.k, p.id AS pid,
               coalesce(ST_Area(ST_Intersection(c.hull, p.hull)) / nullif(least(ST_Area(c.hull), ST_Area(p.hull)), 0), 0)::float8 AS overlap
          FROM pd_cl c JOIN pd_prob p ON (p.theme_id = c.theme_id OR p.theme_id IS NULL OR c.theme_id IS NULL) AND c.hull && p.hull AND ST_Intersects(c.hull, p.hull))
      SELECT coalesce(s.k, n.k) AS k, coalesce(s.pid, n.pid) AS pid, coalesce(s.shared, 0) AS shared, coalesce(n.overlap, 0) AS overlap,
             (SELECT c.n FROM pd_cl c WHERE c.k = coalesce(s.k, n.k)) AS n
        FROM shared s FULL JOIN near n ON n.k = s.k AND n.pid = s.pid`);
    profile('pairs');
    const byId = new Map(existing.map((e) => [e.id, e]));
    const ranked = pairs
      .map((p) => ({ ...p, w: p.shared / Math.max(1, Math.min(p.n || 1, byId.get(p.pid)?.n || 1)) + p.overlap }))
      .filter((p) => p.shared > 0 || p.overlap >= 0.2)
      .sort((a, b) => b.w - a.w || a.pid - b.pid || a.k - b.k);
    const matchedK = new Map<number, number>(); // k -> problem id
    const takenP = new Set<number>();
    for (const p of ranked) {
      if (matchedK.has(p.k) || takenP.has(p.pid)) continue;
      matchedK.set(p.k, p.pid);
      takenP.add(p.pid);
    }
    const allK = (await query<{ k: number }>(em, 'SELECT k FROM pd_cl ORDER BY k')).map((r) => r.k);
    const newK = allK.filter((k) => !matchedK.has(k));
    const vanished = existing.filter((e) => !takenP.has(e.id) && e.active).map((e) => e.id);
    const returned = existing.filter((e) => takenP.has(e.id) && !e.active).map((e) => e.id);

    // Clusters partly outside an incremental window must not duplicate the problems left outside it.
    if (incremental && newK.length) {
      const clash = await query<{ k: number }>(em, `SELECT c.k FROM pd_cl c WHERE c.k = ANY(?::int[]) AND EXISTS (
          SELECT 1 FROM problem p WHERE p.municipality_id = ? AND p.theme_id = c.theme_id AND p.hull && c.hull AND ST_Intersects(p.hull, c.hull)
            AND NOT p.id = ANY(?::int[]))`, [newK, m, existing.map((e) => e.id)]);
      const drop = new Set(clash.map((r) => r.k));
      newK.splice(0, newK.length, ...newK.filter((k) => !drop.has(k)));
    }

    // New problems (ids drawn first so each cluster knows its problem).
    const inserted = newK.length
      ? await query<{ id: number; k: number }>(em, `SELECT k, nextval(pg_get_serial_sequence('problem', 'id'))::int AS id FROM unnest(?::int[]) AS k ORDER BY k`, [newK])
      : [];
    if (inserted.length) {
      await query(em, `
        INSERT INTO problem (id, municipality_id, source, theme_id, district_id, organization_id, title, status, active, hull, center,
                             period_from, period_to, first_seen_at, last_seen_at, first_appeal_at, last_appeal_at, appeal_count, author_count, last_run_id)
        SELECT m.id, ?, c.source, c.theme_id, c.district_id, c.organization_id, ${TITLE_SQL}, 'DETECTED', true, c.hull, c.center,
               ?, ?, ?, ?, c.first_at, c.last_at, c.n, c.authors, ?
          FROM unnest(?::int[], ?::int[]) AS m(k, id) JOIN pd_cl c ON c.k = m.k
          LEFT JOIN theme t ON t.id = c.theme_id LEFT JOIN district d ON d.id = c.district_id`,
        [m, o.from, o.to, startedAt, startedAt, run.id, inserted.map((r) => r.k), inserted.map((r) => r.id)]);
    }
    for (const r of inserted) matchedK.set(r.k, r.id);
    if (inserted.length) {
      await query(em, `INSERT INTO problem_event (municipality_id, problem_id, at, actor, kind, to_value, comment)
        SELECT ?, p.id, ?, ?, 'DETECTED', p.status, 'выявлена: ' || p.appeal_count || ' обращ.' FROM problem p WHERE p.id = ANY(?::int[])`,
        [m, startedAt, o.actor, inserted.map((r) => r.id)]);
    }

    // Matched problems take the cluster's place, size and factors; a resolved one with new appeals reopens.
    const mk = [...matchedK.entries()].filter(([, pid]) => takenP.has(pid));
    let reopened: number[] = [];
    if (mk.length) {
      reopened = (await query<{ id: number }>(em, `SELECT p.id FROM problem p JOIN unnest(?::int[], ?::int[]) AS m(k, pid) ON m.pid = p.id
          JOIN pd_cl c ON c.k = m.k WHERE p.status = 'RESOLVED' AND c.last_at > p.resolved_at`, [mk.map(([k]) => k), mk.map(([, p]) => p)])).map((r) => r.id);
      await query(em, `UPDATE problem p SET source = CASE WHEN p.source = 'CUR' OR c.source <> 'CUR' THEN c.source ELSE p.source END,
          theme_id = coalesce(c.theme_id, p.theme_id), district_id = coalesce(c.district_id, p.district_id),
          organization_id = coalesce(p.organization_id, c.organization_id), title = ${TITLE_SQL}, active = true, hull = c.hull, center = c.center,
          period_from = ?, period_to = ?, last_seen_at = ?, first_appeal_at = least(p.first_appeal_at, c.first_at), last_appeal_at = c.last_at,
          appeal_count = c.n, author_count = c.authors, last_run_id = ?, updated_at = ?
        FROM unnest(?::int[], ?::int[]) AS m(k, pid) JOIN pd_cl c ON c.k = m.k
          LEFT JOIN theme t ON t.id = c.theme_id LEFT JOIN district d ON d.id = c.district_id
       WHERE p.id = m.pid`, [o.from, o.to, startedAt, run.id, startedAt, mk.map(([k]) => k), mk.map(([, p]) => p)]);
    }
    await reopen(em, m, startedAt, o.actor, reopened);
    if (returned.length) {
      await query(em, `INSERT INTO problem_event (municipality_id, problem_id, at, actor, kind, comment)
        SELECT ?, id, ?, ?, 'RETURNED', 'снова выявлена при пересчёте' FROM problem WHERE id = ANY(?::int[])`, [m, startedAt, o.actor, returned]);
    }
    if (vanished.length) {
      await query(em, `UPDATE problem SET active = false, updated_at = ? WHERE id = ANY(?::int[])`, [startedAt, vanished]);
      await query(em, `INSERT INTO problem_event (municipality_id, problem_id, at, actor, kind, comment)
        SELECT ?, id, ?, ?, 'VANISHED', 'не выявлена при пересчёте за ' || to_char(?::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' — ' || to_char(?::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD')
          FROM problem WHERE id = ANY(?::int[])`, [m, startedAt, o.actor, o.from, o.to, vanished]);
    }

    // Memberships of the problems in scope: only the difference is written (unchanged clusters write nothing).
    const touched = [...new Set([...existing.map((e) => e.id), ...inserted.map((r) => r.id)])];
    const all = [...matchedK.entries()];
    await em.execute(`CREATE TEMP TABLE pd_mem (problem_id int, appeal_id int, PRIMARY KEY (problem_id, appeal_id)) ON COMMIT DROP`);
    if (all.length) {
      await query(em, `INSERT INTO pd_mem (problem_id, appeal_id)
        SELECT m.pid, l.id FROM unnest(?::int[], ?::int[]) AS m(k, pid) JOIN pd_cl c ON c.k = m.k
          JOIN pd_lab l ON l.theme_id = c.theme_id AND l.cid = c.cid AND l.source = c.source`, [all.map(([k]) => k), all.map(([, p]) => p)]);
    }
    await em.execute('ANALYZE pd_mem');
    await query(em, `DELETE FROM problem_appeal pa WHERE pa.problem_id = ANY(?::int[])
        AND NOT EXISTS (SELECT 1 FROM pd_mem m WHERE m.problem_id = pa.problem_id AND m.appeal_id = pa.appeal_id)`, [touched]);
    await query(em, `INSERT INTO problem_appeal (problem_id, appeal_id, municipality_id) SELECT m.problem_id, m.appeal_id, ? FROM pd_mem m
        WHERE NOT EXISTS (SELECT 1 FROM problem_appeal pa WHERE pa.problem_id = m.problem_id AND pa.appeal_id = m.appeal_id)`, [m]);
    if (all.length) {
      // Factors of this run's problems.
      await query(em, `UPDATE problem p SET factors = ${FACTORS_SQL}
        FROM unnest(?::int[], ?::int[]) AS m(k, pid) JOIN pd_cl c ON c.k = m.k LEFT JOIN district d ON d.id = c.district_id
       WHERE p.id = m.pid`, [all.map(([k]) => k), all.map(([, p]) => p)]);
    }

    profile('writes');
    await rescore(em, m, settings, run.id, startedAt, [...new Set([...all.map(([, p]) => p), ...(fast?.touched ?? [])])]);
    profile('rescore');
    const [counts] = await query<{ appeals: number }>(em, 'SELECT count(*)::int AS appeals FROM pd_pts');
    return finish({
      runId: run.id, kind: incremental ? 'INCREMENTAL' : 'FULL', periodFrom: o.from, periodTo: o.to,
      appeals: counts.appeals + (fast?.assigned ?? 0), clusters: allK.length + (fast?.touched.length ?? 0), created: inserted.length,
      matched: mk.length + (fast?.touched.length ?? 0), vanished: vanished.length, reopened: reopened.length + (fast?.reopened ?? 0), ms: Date.now() - started,
    });
  });
  // Every run rewrites the scores and ranks of the list, a full one the memberships too: without autovacuum (the
  // embedded backend has none) their dead rows pile up and every later read of the list scans them. Not possible
  // inside a caller's transaction; there the next run outside one cleans up.
  if (!rootEm.isInTransaction()) {
    await rootEm.getConnection().execute(incremental ? 'VACUUM problem' : 'VACUUM (ANALYZE) problem, problem_appeal');
  }
  profile('vacuum');
  return result;
}

/** Keeps the previous period's points of a full run (see persistPoints for the bulk-load pattern). */
async function persistPrevPoints(em: EntityManager, m: number, prevFrom: Date, from: Date) {
  const [others] = await query<{ x: boolean }>(em, 'SELECT EXISTS (SELECT 1 FROM problem_prev_point WHERE municipality_id <> ?) AS x', [m]);
  if (others.x) await query(em, 'DELETE FROM problem_prev_point WHERE municipality_id = ?', [m]);
  else {
    await em.execute('TRUNCATE problem_prev_point');
    await em.execute('DROP INDEX problem_prev_point_gist');
  }
  await query(em, `INSERT INTO problem_prev_point (municipality_id, theme_id, point) SELECT ?, a.theme_id, a.point
      FROM appeal a JOIN pd_scope s ON s.theme_id = a.theme_id
     WHERE a.municipality_id = ? AND a.received_at >= ? AND a.received_at < ? AND a.point IS NOT NULL AND a.status <> 'REJECTED'`, [m, m, prevFrom, from]);
  if (!others.x) await em.execute('CREATE INDEX problem_prev_point_gist ON problem_prev_point USING gist (point)');
  await em.execute('ANALYZE problem_prev_point');
}

/**
 * Keeps the points of a full run (and the period it covers) for the incremental recompute: they replace the
 * municipality's previous ones. TRUNCATE when the table holds no other municipality (a region-wide database
 * deletes by municipality instead).
 */
async function persistPoints(em: EntityManager, m: number, runId: number, from: Date, to: Date, prevFrom: Date) {
  const [others] = await query<{ x: boolean }>(em, 'SELECT EXISTS (SELECT 1 FROM problem_point WHERE municipality_id <> ?) AS x', [m]);
  if (others.x) await query(em, 'DELETE FROM problem_point WHERE municipality_id = ?', [m]);
  else {
    // A bulk load: the secondary index and the foreign key are built once afterwards instead of row by row.
    await em.execute('TRUNCATE problem_point');
    await em.execute('DROP INDEX problem_point_cell_idx');
    await em.execute('ALTER TABLE problem_point DROP CONSTRAINT problem_point_appeal_id_fkey');
  }
  await query(em, `INSERT INTO problem_point (appeal_id, municipality_id, theme_id, gx, gy, x, y, district_id, organization_id, channel, address, author,
                                             received_at, is_repeat, due_at, answered_at, satisfaction)
    SELECT id, ?, theme_id, gx, gy, x, y, district_id, organization_id, channel, address, author, received_at, is_repeat, due_at, answered_at, satisfaction
      FROM pd_pts`, [m]);
  if (!others.x) {
    await em.execute('CREATE INDEX problem_point_cell_idx ON problem_point (municipality_id, theme_id, gx, gy)');
    // Composite, as Migration20261202001900_citus made it (the schema stays ready for Citus).
    await em.execute(`ALTER TABLE problem_point ADD CONSTRAINT problem_point_appeal_id_fkey
      FOREIGN KEY (municipality_id, appeal_id) REFERENCES appeal (municipality_id, id) ON DELETE CASCADE`);
  }
  await em.execute('ANALYZE problem_point');
  await query(em, `INSERT INTO problem_state (municipality_id, run_id, period_from, period_to, prev_from) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (municipality_id) DO UPDATE SET run_id = excluded.run_id, period_from = excluded.period_from, period_to = excluded.period_to, prev_from = excluded.prev_from`,
    [m, runId, from, to, prevFrom]);
}

/** Themes to recluster with their radius (EPSG:3857 units), effective minimum size and window. */
async function buildScope(em: EntityManager, o: DetectOptions, settings: ProblemSettings, areaM2: number, stretch: number): Promise<Scope[]> {
  const m = o.municipalityId;
  const derive = (counts: { theme_id: number; n: number }[]): Scope[] => counts.map(({ theme_id, n }) => {
    const s = settingFor(settings, theme_id);
    const expected = areaM2 > 0 ? (n * Math.PI * s.epsMeters ** 2) / areaM2 : 0;
    return { theme_id, eps: s.epsMeters * stretch, minpts: Math.max(s.minPoints, Math.ceil(s.densityFactor * expected)), env: null };
  });
  const countThemes = (themes: number[] | null) => query<{ theme_id: number; n: number }>(em,
    `SELECT theme_id, count(*)::int AS n FROM appeal
      WHERE municipality_id = ? AND received_at >= ? AND received_at < ? AND point IS NOT NULL AND theme_id IS NOT NULL AND status <> 'REJECTED'
        ${themes ? 'AND theme_id = ANY(?::int[])' : ''}
      GROUP BY theme_id ORDER BY theme_id`,
    themes ? [m, o.from, o.to, themes] : [m, o.from, o.to]);
  if (!o.appealIds) return derive(await countThemes(null));

  // Incremental: the themes of the new appeals, clustered with the parameters of the last full recompute
  // (its density guard was measured over the whole period; a thousand new appeals do not move it), so
  // the period is not re-counted. A theme that run did not see is counted on its own.
  const themes = (await query<{ theme_id: number }>(em,
    `SELECT DISTINCT theme_id FROM appeal WHERE id = ANY(?::int[]) AND municipality_id = ? AND theme_id IS NOT NULL AND point IS NOT NULL
        AND received_at >= ? AND received_at < ? AND status <> 'REJECTED' ORDER BY theme_id`, [o.appealIds, m, o.from, o.to])).map((r) => r.theme_id);
  if (!themes.length) return [];
  const [last] = await query<{ scope: { theme_id: number; eps: number; minpts: number }[] | null }>(em,
    `SELECT scope FROM problem_run WHERE municipality_id = ? AND kind = 'FULL' AND scope IS NOT NULL ORDER BY started_at DESC, id DESC LIMIT 1`, [m]);
  const known = new Map((last?.scope ?? []).map((s) => [s.theme_id, s]));
  const unknown = themes.filter((t) => !known.has(t) || Math.abs(known.get(t)!.eps - settingFor(settings, t).epsMeters * stretch) > 1e-6);
  const counted = new Map(derive(unknown.length ? await countThemes(unknown) : []).map((s) => [s.theme_id, s]));
  const scope: Scope[] = themes.map((t) => counted.get(t) ?? { theme_id: t, eps: known.get(t)?.eps ?? settingFor(settings, t).epsMeters * stretch, minpts: known.get(t)?.minpts ?? settingFor(settings, t).minPoints, env: null });
  // Window per theme: around each new point one radius, plus the problems of its theme within two radii,
  // all widened by two radii and united (a set of small areas, not one rectangle over the whole city).
  const wins = await query<{ theme_id: number; env: string }>(em, `
    WITH s AS (SELECT * FROM unnest(?::int[], ?::float8[]) AS s(theme_id, eps)),
         np AS (SELECT a.theme_id, s.eps, ST_Expand(ST_Transform(a.point, 3857), s.eps) AS b
                  FROM appeal a JOIN s ON s.theme_id = a.theme_id
                 WHERE a.id = ANY(?::int[]) AND a.municipality_id = ? AND a.point IS NOT NULL AND a.received_at >= ? AND a.received_at < ?),
         hit AS (SELECT DISTINCT p.id, p.theme_id, s.eps, ST_Envelope(ST_Transform(p.hull, 3857)) AS b
                   FROM np JOIN problem p ON p.municipality_id = ? AND p.theme_id = np.theme_id AND p.source <> 'CUR'
                        AND p.hull && ST_Transform(ST_SetSRID(ST_Expand(np.b, np.eps), 3857), 4326)
                   JOIN s ON s.theme_id = p.theme_id)
    SELECT theme_id, ST_AsEWKT(ST_Transform(ST_SetSRID(ST_Union(ST_Expand(b, 2 * eps)), 3857), 4326)) AS env
      FROM (SELECT theme_id, eps, b FROM np UNION ALL SELECT theme_id, eps, b FROM hit) x
     GROUP BY theme_id`,
    [scope.map((s) => s.theme_id), scope.map((s) => s.eps), o.appealIds, m, o.from, o.to, m]);
  const envOf = new Map(wins.map((w) => [w.theme_id, w.env]));
  for (const s of scope) s.env = envOf.get(s.theme_id) ?? null;
  return scope.filter((s) => s.env != null);
}

/** Scores every active problem of the municipality together, ranks them, and snapshots those of this run. */
export async function rescore(em: EntityManager, m: number, settings: ProblemSettings, runId: number | null, at: Date, snapshotIds: number[]) {
  const rows = await query<{ id: number; district_id: number | null; factors: Partial<FactorValues> }>(em,
    `SELECT id, district_id, factors FROM problem WHERE municipality_id = ? AND active ORDER BY id`, [m]);
  const values: FactorValues[] = rows.map((r) => ({
    volume: Number(r.factors.volume ?? 0), authors: Number(r.factors.authors ?? 0), growth: Number(r.factors.growth ?? 0),
    previous: Number(r.factors.previous ?? 0), repeats: Number(r.factors.repeats ?? 0), overdue: Number(r.factors.overdue ?? 0),
    lowSatisfaction: Number(r.factors.lowSatisfaction ?? 0), cur: Number(r.factors.cur ?? 0),
    perCapita: r.factors.perCapita == null ? null : Number(r.factors.perCapita),
  }));
  const parts = scoreAll(values, settings.weights);
  const scores = parts.map(totalPoints);
  // Ranks: by score, ties by id (stable); in the city and within the district.
  const order = rows.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || rows[a].id - rows[b].id);
  const rankCity = new Array<number>(rows.length), rankDistrict = new Array<number>(rows.length);
  const perDistrict = new Map<number | null, number>();
  order.forEach((i, pos) => {
    rankCity[i] = pos + 1;
    const d = rows[i].district_id;
    const r = (perDistrict.get(d) ?? 0) + 1;
    perDistrict.set(d, r);
    rankDistrict[i] = r;
  });
  if (rows.length) {
    await query(em, `UPDATE problem p SET score = u.score, breakdown = u.breakdown::jsonb, rank_city = u.rc, rank_district = u.rd
      FROM unnest(?::int[], ?::float8[], ?::text[], ?::int[], ?::int[]) AS u(id, score, breakdown, rc, rd)
      WHERE p.id = u.id AND (p.score IS DISTINCT FROM u.score OR p.rank_city IS DISTINCT FROM u.rc OR p.rank_district IS DISTINCT FROM u.rd
                             OR p.breakdown IS DISTINCT FROM u.breakdown::jsonb)`,
      [rows.map((r) => r.id), scores, parts.map((p) => JSON.stringify(p)), rankCity, rankDistrict]);
  }
  await query(em, `UPDATE problem SET rank_city = NULL, rank_district = NULL WHERE municipality_id = ? AND NOT active AND rank_city IS NOT NULL`, [m]);
  if (runId != null && snapshotIds.length) {
    await query(em, `INSERT INTO problem_snapshot (problem_id, run_id, municipality_id, at, appeal_count, author_count, score)
      SELECT id, ?, municipality_id, ?, appeal_count, author_count, score FROM problem WHERE id = ANY(?::int[]) AND municipality_id = ? ON CONFLICT DO NOTHING`,
      [runId, at, snapshotIds, m]);
  }
}
