import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { FACTORS_SQL, R, TITLE_SQL, heatTable, reopen } from './detect-sql.js';
import { OFF, REACH2 } from './grid.js';

/**
 * Incremental recompute from the state of the latest full run (problem_point + problem_state).
 *
 * A new appeal changes the grid DBSCAN only near its cell: the reach sums (counts of the 13 cells within the
 * radius) of the cells within the radius of it grow. When no cell there changes its core status, the clusters
 * keep their shape and the appeal simply joins the cluster of its cell (a core cell), or of the nearest core
 * cell within the radius (a border cell), or stays noise — exactly what a full recompute would decide. Those
 * appeals are added to their problems here, and only the touched problems are re-aggregated (size, authors,
 * repeats, overdue, satisfaction, outline, growth and ЦУР where the outline changed) and rescored.
 *
 * The rest — a core status that changes (clusters may form, grow into new cells, merge), ties between two
 * problems, a public-discussion result in noise, an appeal that moved or changed theme, a theme the full run
 * did not see — is returned as `slow`, for the windowed recluster (detect.ts) around those appeals only.
 */

interface ThemeScope { theme_id: number; eps: number; minpts: number }

export interface State { runId: number; from: Date; to: Date; prevFrom: Date; scope: Map<number, ThemeScope>; stretch: number }

export async function loadState(em: EntityManager, m: number, stretch: number): Promise<State | null> {
  const [s] = await query<{ run_id: number; period_from: string; period_to: string; prev_from: string; scope: ThemeScope[] | null }>(em,
    `SELECT s.run_id, s.period_from, s.period_to, s.prev_from, r.scope FROM problem_state s JOIN problem_run r ON r.id = s.run_id
      WHERE s.municipality_id = ? FOR UPDATE OF s`, [m]);
  if (!s?.scope) return null;
  return { runId: s.run_id, from: new Date(s.period_from), to: new Date(s.period_to), prevFrom: new Date(s.prev_from), scope: new Map(s.scope.map((t) => [t.theme_id, t])), stretch };
}

const key = (t: number, gx: number, gy: number) => `${t}:${gx}:${gy}`;

export interface FastResult { slow: number[]; touched: number[]; assigned: number; reopened: number }

export async function incrementalFast(
  em: EntityManager, m: number, state: State, to: Date, appealIds: number[],
  runId: number, startedAt: Date, actor: string, profile: (step: string) => void,
): Promise<FastResult> {
  const themes = [...state.scope.values()];
  // 1. The points of these appeals as they are now; the old ones out.
  const removed = await query<{ appeal_id: number; theme_id: number; gx: number; gy: number }>(em,
    'DELETE FROM problem_point WHERE municipality_id = ? AND appeal_id = ANY(?::int[]) RETURNING appeal_id, theme_id, gx, gy', [m, appealIds]);
  const inserted = await query<{ appeal_id: number; theme_id: number; gx: number; gy: number; disc: boolean }>(em, `
    WITH ins AS (
      INSERT INTO problem_point (appeal_id, municipality_id, theme_id, gx, gy, x, y, district_id, organization_id, channel, address, author,
                                 received_at, is_repeat, due_at, answered_at, satisfaction)
      SELECT id, ?, theme_id, floor(x / (eps / 2))::int, floor(y / (eps / 2))::int, x, y, district_id, organization_id, channel, address, author,
             received_at, is_repeat, due_at, answered_at, satisfaction
        FROM (SELECT a.id, a.theme_id, s.eps, ${R} * radians(ST_X(a.point)) AS x, ${R} * ln(tan(pi() / 4 + radians(ST_Y(a.point)) / 2)) AS y,
                     a.district_id, a.organization_id, a.channel, a.address, coalesce(a.author_key, 'id:' || a.author_id, 'appeal:' || a.id) AS author,
                     a.received_at, a.repeat_of_id IS NOT NULL AS is_repeat, a.due_at, a.answered_at, a.satisfaction
                FROM appeal a JOIN unnest(?::int[], ?::float8[]) AS s(theme_id, eps) ON s.theme_id = a.theme_id
               WHERE a.id = ANY(?::int[]) AND a.municipality_id = ? AND a.point IS NOT NULL AND a.status <> 'REJECTED'
                 AND a.received_at >= ? AND a.received_at < ?) q
      RETURNING appeal_id, theme_id, gx, gy, channel)
    SELECT appeal_id, theme_id, gx, gy, channel = 'PUBLIC_DISCUSSION' AS disc FROM ins`,
    [m, themes.map((t) => t.theme_id), themes.map((t) => t.eps), appealIds, m, state.from, to]);
  const insertedIds = new Set(inserted.map((r) => r.appeal_id));
  const slow = new Set<number>(appealIds.filter((id) => !insertedIds.has(id))); // not clusterable here (no point, other theme, out of period…)
  const before = new Map(removed.map((r) => [r.appeal_id, r]));
  const refresh: number[] = []; // same place and theme: only its attributes may have changed
  const fresh: typeof inserted = [];
  for (const r of inserted) {
    const b = before.get(r.appeal_id);
    if (!b) fresh.push(r);
    else if (b.theme_id === r.theme_id && b.gx === r.gx && b.gy === r.gy) refresh.push(r.appeal_id);
    else slow.add(r.appeal_id);
  }
  for (const r of removed) if (!insertedIds.has(r.appeal_id)) slow.add(r.appeal_id);
  profile('inc: points');

  // 2. Cell counts (and the problems of their appeals) within two radii of the new points' cells.
  const seeds = new Map<string, { t: number; gx: number; gy: number; k: number; ids: { id: number; disc: boolean }[] }>();
  for (const r of fresh) {
    const s = seeds.get(key(r.theme_id, r.gx, r.gy)) ?? { t: r.theme_id, gx: r.gx, gy: r.gy, k: 0, ids: [] };
    s.k++;
    s.ids.push({ id: r.appeal_id, disc: r.disc });
    seeds.set(key(r.theme_id, r.gx, r.gy), s);
  }
  const sl = [...seeds.values()];
  const cells = new Map<string, { n: number; probs: Set<number> }>();
  if (sl.length) {
    // Counts of the cells whose core status can change (within the radius of a seed) and of their reach:
    // exact-key probes of problem_point_cell_idx.
    const rows = await query<{ theme_id: number; gx: number; gy: number; n: number }>(em, `
      WITH s AS (SELECT DISTINCT theme_id, gx, gy FROM unnest(?::int[], ?::int[], ?::int[]) AS s(theme_id, gx, gy)),
           c AS (SELECT DISTINCT s.theme_id, s.gx + o.dx AS gx, s.gy + o.dy AS gy
                   FROM s CROSS JOIN (VALUES ${REACH2.map(([dx, dy]) => `(${dx}, ${dy})`).join(', ')}) AS o(dx, dy))
      SELECT c.theme_id, c.gx, c.gy, n.n
        FROM c CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM problem_point p
                                    WHERE p.municipality_id = ? AND p.theme_id = c.theme_id AND p.gx = c.gx AND p.gy = c.gy) n
       WHERE n.n > 0`,
      [sl.map((s) => s.t), sl.map((s) => s.gx), sl.map((s) => s.gy), m]);
    for (const r of rows) cells.set(key(r.theme_id, r.gx, r.gy), { n: r.n, probs: new Set() });
  }
  profile('inc: cells');

  // 3. Core status before and after; the new appeals whose outcome is decided without reclustering.
  const n = (t: number, gx: number, gy: number) => cells.get(key(t, gx, gy))?.n ?? 0;
  const k = (t: number, gx: number, gy: number) => seeds.get(key(t, gx, gy))?.k ?? 0;
  const reach = (f: (t: number, gx: number, gy: number) => number, t: number, gx: number, gy: number) => OFF.reduce((acc, [dx, dy]) => acc + f(t, gx + dx, gy + dy), 0);
  const coreAfter = (t: number, gx: number, gy: number) => n(t, gx, gy) > 0 && reach(n, t, gx, gy) >= state.scope.get(t)!.minpts;
  const coreBefore = (t: number, gx: number, gy: number) => n(t, gx, gy) - k(t, gx, gy) > 0 && reach(n, t, gx, gy) - reach(k, t, gx, gy) >= state.scope.get(t)!.minpts;
  /** The one active problem of a cell's appeals, or null when there is none or more than one. */
  const problemOf = (t: number, gx: number, gy: number) => {
    const p = cells.get(key(t, gx, gy))?.probs;
    return p && p.size === 1 ? [...p][0] : null;
  };
  // The problems of the cells the decisions read: a seed's own cell when it is core, else the core cells within its radius.
  const wanted = new Map<string, Cell>();
  for (const s of sl) {
    if (coreAfter(s.t, s.gx, s.gy)) wanted.set(key(s.t, s.gx, s.gy), [s.t, s.gx, s.gy]);
    else for (const [dx, dy] of OFF) if (coreAfter(s.t, s.gx + dx, s.gy + dy)) wanted.set(key(s.t, s.gx + dx, s.gy + dy), [s.t, s.gx + dx, s.gy + dy]);
  }
  if (wanted.size) {
    const w = [...wanted.values()];
    const rows = await query<{ t: number; gx: number; gy: number; probs: number[] | null }>(em, `
      SELECT u.t, u.gx, u.gy, (SELECT array_agg(DISTINCT pa.problem_id) FROM problem_point p JOIN problem_appeal pa ON pa.appeal_id = p.appeal_id
                                 JOIN problem pr ON pr.id = pa.problem_id AND pr.active AND pr.source = 'APPEALS'
                                WHERE p.municipality_id = ? AND p.theme_id = u.t AND p.gx = u.gx AND p.gy = u.gy) AS probs
        FROM unnest(?::int[], ?::int[], ?::int[]) AS u(t, gx, gy)`, [m, w.map((x) => x[0]), w.map((x) => x[1]), w.map((x) => x[2])]);
    for (const r of rows) cells.get(key(r.t, r.gx, r.gy))!.probs = new Set(r.probs ?? []);
  }
  const assign = new Map<number, number>(); // appeal → problem
  const why = { core: 0, unmapped: 0, tie: 0, discussion: 0 }; // why appeals go to the recluster (profile output)
  const flipsOf = (s: { t: number; gx: number; gy: number }) => OFF.map(([dx, dy]) => [s.gx + dx, s.gy + dy] as const)
    .filter(([x, y]) => coreBefore(s.t, x, y) !== coreAfter(s.t, x, y));

  // 3a. Local growth: cells that became core next to exactly one problem's core cells (and no other problem's
  // cells) extend that problem — with the noise cells around them — as a full recompute would; anything else
  // (a new cluster, a merge, a border cell of another problem, a public-discussion result in noise) is reclustered.
  const grown = await growLocally(em, m, sl, flipsOf, { n, coreAfter }, new Set(fresh.map((r) => r.appeal_id)));
  const problemAfter = (t: number, gx: number, gy: number) => grown.cellProblem.get(key(t, gx, gy)) ?? problemOf(t, gx, gy);
  for (const [appealId, problemId] of grown.joined) assign.set(appealId, problemId);

  for (const s of sl) {
    const changed = flipsOf(s).length > 0;
    let target: number | null | 'slow' = null;
    if (changed && !grown.seeds.has(key(s.t, s.gx, s.gy))) { target = 'slow'; why.core += s.k; }
    else if (coreAfter(s.t, s.gx, s.gy)) { target = problemAfter(s.t, s.gx, s.gy) ?? 'slow'; if (target === 'slow') why.unmapped += s.k; }
    else {
      // Border: the nearest core cell within the radius (as detect.ts orders them); a tie between problems is left to the recluster.
      let best = Infinity;
      const at = new Set<number | null>();
      for (const [dx, dy] of OFF) {
        if ((dx || dy) && coreAfter(s.t, s.gx + dx, s.gy + dy)) {
          const d = dx * dx + dy * dy;
          if (d < best) { best = d; at.clear(); }
          if (d === best) at.add(problemAfter(s.t, s.gx + dx, s.gy + dy));
        }
      }
      if (at.size > 1 || at.has(null)) { target = 'slow'; why.tie += s.k; }
      else if (at.size === 1) target = [...at][0]!;
    }
    for (const a of s.ids) {
      if (target === null && a.disc) why.discussion++;
      if (target === 'slow' || (target === null && a.disc)) slow.add(a.id);
      else if (target !== null) assign.set(a.id, target);
    }
  }
  profile(`inc: decide (${fresh.length} new, ${assign.size} placed, ${slow.size} to recluster: ${JSON.stringify(why)})`);

  // 4. The decided appeals join their problems; touched problems (and those of refreshed appeals) are re-aggregated.
  if (assign.size) {
    await query(em, `INSERT INTO problem_appeal (problem_id, appeal_id, municipality_id) SELECT p, a, ? FROM unnest(?::int[], ?::int[]) AS u(p, a) ON CONFLICT DO NOTHING`,
      [m, [...assign.values()], [...assign.keys()]]);
  }
  const refreshed = refresh.length
    ? (await query<{ problem_id: number }>(em, `SELECT DISTINCT problem_id FROM problem_appeal WHERE appeal_id = ANY(?::int[])`, [refresh])).map((r) => r.problem_id)
    : [];
  const touched = [...new Set([...assign.values(), ...refreshed])];
  let reopened: number[] = [];
  if (touched.length) {
    const ref = new Date(Math.min(Date.now(), to.getTime()));
    // Members of the touched problems once, then one hash aggregation per figure (the modes as the most frequent
    // value, ties to the smallest, as mode() decides) instead of five sorts of every member.
    await query(em, `CREATE TEMP TABLE pi_mem ON COMMIT DROP AS
      SELECT pa.problem_id AS pid, pr.theme_id AS ptheme, s.eps, pp.gx, pp.gy, pp.x, pp.y, pp.district_id, pp.organization_id, pp.address, pp.author,
             pp.received_at, pp.is_repeat, pp.due_at, pp.answered_at, pp.satisfaction FROM problem_appeal pa JOIN problem_point pp ON pp.appeal_id = pa.appeal_id
        JOIN problem pr ON pr.id = pa.problem_id JOIN unnest(?::int[], ?::float8[]) AS s(theme_id, eps) ON s.theme_id = pr.theme_id
       WHERE pa.problem_id = ANY(?::int[])`, [themes.map((t) => t.theme_id), themes.map((t) => t.eps), touched]);
    const modeOf = (col: string) => `(SELECT DISTINCT ON (pid) pid, ${col} FROM (SELECT pid, ${col}, count(*) AS c FROM pi_mem WHERE ${col} IS NOT NULL GROUP BY 1, 2) x
      ORDER BY pid, c DESC, ${col})`;
    await query(em, `CREATE TEMP TABLE pi_agg ON COMMIT DROP AS
      WITH base AS (
        SELECT pid, count(*)::int AS n, count(*) FILTER (WHERE is_repeat)::int AS repeats, count(due_at)::int AS with_due,
               count(*) FILTER (WHERE due_at < coalesce(answered_at, ?))::int AS overdue,
               count(satisfaction)::int AS rated, count(*) FILTER (WHERE satisfaction <= 2)::int AS low_sat,
               min(received_at) AS first_at, max(received_at) AS last_at, avg(x) AS x, avg(y) AS y
          FROM pi_mem GROUP BY pid),
      au AS (SELECT pid, count(*)::int AS authors FROM (SELECT DISTINCT pid, author FROM pi_mem) x GROUP BY pid),
      cells AS (SELECT pid, ptheme, eps, ST_Collect(ST_MakePoint((gx + 0.5) * eps / 2, (gy + 0.5) * eps / 2)) AS g
                  FROM (SELECT DISTINCT pid, ptheme, eps, gx, gy FROM pi_mem) x GROUP BY pid, ptheme, eps)
      SELECT b.pid, c.ptheme AS theme_id, c.eps, b.n, au.authors, b.repeats, b.with_due, b.overdue, b.rated, b.low_sat, b.first_at, b.last_at,
             dm.district_id, om.organization_id, am.address,
             ST_Transform(ST_SetSRID(ST_MakePoint(b.x, b.y), 3857), 4326) AS center,
             ST_Transform(ST_SetSRID(ST_Buffer(ST_ConvexHull(c.g), c.eps / 2, 4), 3857), 4326) AS hull
        FROM base b JOIN au USING (pid) JOIN cells c USING (pid)
        LEFT JOIN ${modeOf('district_id')} dm USING (pid) LEFT JOIN ${modeOf('organization_id')} om USING (pid) LEFT JOIN ${modeOf('address')} am USING (pid)`,
      [ref]);
    await em.execute('DROP TABLE pi_mem');
    profile('inc: agg main');
    // Growth and ЦУР are measured again only where the outline changed. Appeals were only added, so the new outline
    // covers the old one: the previous-period count grows by the appeals in the difference, ЦУР by the squares there
    // (a small area, not the whole outline again). An outline that does not cover the old one is counted afresh.
    await em.execute(`ALTER TABLE pi_agg ADD COLUMN prev int, ADD COLUMN cur float8, ADD COLUMN diff geometry, ADD COLUMN recount boolean`);
    await query(em, `UPDATE pi_agg g SET prev = (p.factors->>'previous')::int, cur = coalesce((p.factors->>'cur')::float8, 0),
        diff = CASE WHEN ST_Equals(g.hull, p.hull) THEN NULL WHEN p.hull IS NOT NULL AND ST_Covers(g.hull, p.hull) THEN ST_Difference(g.hull, p.hull) ELSE g.hull END,
        recount = NOT (p.hull IS NOT NULL AND ST_Covers(g.hull, p.hull))
      FROM problem p WHERE p.id = g.pid`);
    await query(em, `UPDATE pi_agg g SET prev = CASE WHEN g.recount THEN 0 ELSE g.prev END + (SELECT count(*)::int FROM problem_prev_point a
        WHERE a.municipality_id = ? AND a.theme_id = g.theme_id AND a.point && g.diff AND ST_Intersects(a.point, g.diff)) WHERE g.diff IS NOT NULL`, [m]);
    profile('inc: agg prev');
    await heatTable(em, 'pi_heat', m, state.from, to, state.stretch);
    await em.execute(`UPDATE pi_agg g SET cur = greatest(CASE WHEN g.recount THEN 0 ELSE g.cur END, coalesce((SELECT max(h.norm) FROM pi_heat h
        WHERE (h.theme_id IS NULL OR h.theme_id = g.theme_id) AND h.geom && g.diff AND ST_Intersects(h.geom, g.diff)), 0)) WHERE g.diff IS NOT NULL`);
    profile(`inc: aggregates (${touched.length} problems)`);
    reopened = (await query<{ id: number }>(em, `SELECT p.id FROM problem p JOIN pi_agg g ON g.pid = p.id WHERE p.status = 'RESOLVED' AND g.last_at > p.resolved_at`)).map((r) => r.id);
    await query(em, `UPDATE problem p SET district_id = coalesce(c.district_id, p.district_id), organization_id = coalesce(p.organization_id, c.organization_id),
        title = ${TITLE_SQL}, active = true, hull = c.hull, center = c.center, period_to = ?, last_seen_at = ?,
        first_appeal_at = least(p.first_appeal_at, c.first_at), last_appeal_at = c.last_at, appeal_count = c.n, author_count = c.authors,
        last_run_id = ?, updated_at = ?,
        factors = ${FACTORS_SQL}
      FROM pi_agg c LEFT JOIN theme t ON t.id = c.theme_id LEFT JOIN district d ON d.id = c.district_id
     WHERE p.id = c.pid`, [to, startedAt, runId, startedAt]);
    await reopen(em, m, startedAt, actor, reopened);
    await em.execute('DROP TABLE pi_agg');
  }
  await query(em, 'UPDATE problem_state SET period_to = greatest(period_to, ?) WHERE municipality_id = ?', [to, m]);
  profile('inc: writes');
  return { slow: [...slow], touched, assigned: assign.size, reopened: reopened.length };
}


type Cell = readonly [number, number, number]; // theme, gx, gy

/**
 * Local growth (see the call): for the seeds whose arrival made cells core, the connected groups of those cells,
 * the one problem each group extends, and the noise cells around them that join it. A group next to no problem's
 * core cell, to two problems, to another problem's border cell, or taking in a public-discussion result, is not
 * grown here (its seeds go to the recluster). Core status is known within the radius of any seed (their reach
 * was counted); elsewhere a cell with a problem may be core, so another problem there counts against the growth.
 */
async function growLocally(
  em: EntityManager, m: number, seeds: { t: number; gx: number; gy: number }[],
  flipsOf: (s: { t: number; gx: number; gy: number }) => (readonly [number, number])[],
  c: { n: (t: number, gx: number, gy: number) => number; coreAfter: (t: number, gx: number, gy: number) => boolean },
  fresh: Set<number>,
) {
  const out = { cellProblem: new Map<string, number>(), seeds: new Set<string>(), joined: new Map<number, number>() };
  const flipSeeds = seeds.filter((s) => flipsOf(s).length > 0);
  if (!flipSeeds.length) return out;
  const known = new Set(seeds.flatMap((s) => OFF.map(([dx, dy]) => key(s.t, s.gx + dx, s.gy + dy))));
  const flipped = new Map<string, Cell>();
  for (const s of flipSeeds) for (const [x, y] of flipsOf(s)) flipped.set(key(s.t, x, y), [s.t, x, y]);
  const need = new Map<string, Cell>();
  for (const s of flipSeeds) for (const [dx, dy] of REACH2) {
    const cell: Cell = [s.t, s.gx + dx, s.gy + dy];
    if (c.n(...cell) > 0) need.set(key(...cell), cell);
  }
  const list = [...need.values()];
  const rows = await query<{ t: number; gx: number; gy: number; probs: number[] | null; disc: number }>(em, `
    SELECT u.t, u.gx, u.gy,
           (SELECT array_agg(DISTINCT pa.problem_id) FROM problem_point p JOIN problem_appeal pa ON pa.appeal_id = p.appeal_id
              JOIN problem pr ON pr.id = pa.problem_id AND pr.active AND pr.source = 'APPEALS'
             WHERE p.municipality_id = ? AND p.theme_id = u.t AND p.gx = u.gx AND p.gy = u.gy) AS probs,
           (SELECT count(*)::int FROM problem_point p
             WHERE p.municipality_id = ? AND p.theme_id = u.t AND p.gx = u.gx AND p.gy = u.gy AND p.channel = 'PUBLIC_DISCUSSION') AS disc
      FROM unnest(?::int[], ?::int[], ?::int[]) AS u(t, gx, gy)`,
    [m, m, list.map((x) => x[0]), list.map((x) => x[1]), list.map((x) => x[2])]);
  const info = new Map(rows.map((r) => [key(r.t, r.gx, r.gy), { probs: new Set(r.probs ?? []), disc: r.disc }]));
  const probsOf = (k: string) => info.get(k)?.probs ?? new Set<number>();

  // Groups of cells that became core within the radius of each other.
  const parent = new Map([...flipped.keys()].map((k) => [k, k]));
  const find = (k: string): string => (parent.get(k) === k ? k : find(parent.get(k)!));
  for (const [k, [t, x, y]] of flipped) for (const [dx, dy] of OFF) {
    const o = key(t, x + dx, y + dy);
    if (flipped.has(o)) parent.set(find(o), find(k));
  }
  const group = new Map<string, { problems: Set<number>; linked: boolean; failed: boolean }>();
  const g = (k: string) => group.get(find(k)) ?? group.set(find(k), { problems: new Set(), linked: false, failed: false }).get(find(k))!;
  for (const [k, [t, x, y]] of flipped) {
    const gr = g(k);
    for (const [dx, dy] of OFF) {
      const o = key(t, x + dx, y + dy);
      if ((!dx && !dy) || flipped.has(o) || c.n(t, x + dx, y + dy) === 0) continue;
      const ps = probsOf(o);
      if (known.has(o) && c.coreAfter(t, x + dx, y + dy)) {
        if (ps.size !== 1) gr.failed = true;
        else { gr.linked = true; ps.forEach((p) => gr.problems.add(p)); }
      } else ps.forEach((p) => gr.problems.add(p));
    }
  }
  const problemOfGroup = (k: string) => {
    const gr = g(k);
    return !gr.failed && gr.linked && gr.problems.size === 1 ? [...gr.problems][0] : null;
  };
  // The cells whose appeals change hands: the new core cells and the noise cells around them. First the groups
  // that cannot grow here, then the cells of the others.
  const around = (t: number, x: number, y: number) => OFF.filter(([dx, dy]) => (dx || dy) && !flipped.has(key(t, x + dx, y + dy)) && c.n(t, x + dx, y + dy) > 0)
    .map(([dx, dy]) => key(t, x + dx, y + dy));
  for (const [k, [t, x, y]] of flipped) {
    const p = problemOfGroup(k);
    if (p == null) continue;
    const cellsThere = [k, ...around(t, x, y)];
    // Another problem's appeals there, or public-discussion results in noise (their own candidates), stop the growth.
    if (cellsThere.some((o) => [...probsOf(o)].some((q) => q !== p) || (!probsOf(o).size && (info.get(o)?.disc ?? 0) > 0))) g(k).failed = true;
  }
  const joins = new Map<string, number | 'conflict'>();
  for (const [k, [t, x, y]] of flipped) {
    const p = problemOfGroup(k);
    if (p == null) continue;
    out.cellProblem.set(k, p);
    for (const o of [k, ...around(t, x, y)]) {
      if (probsOf(o).size) continue;
      const prev = joins.get(o);
      joins.set(o, prev === undefined || prev === p ? p : 'conflict');
    }
  }
  // A noise cell between two growing problems is left to the recluster, with every seed around.
  if ([...joins.values()].includes('conflict')) return { ...out, seeds: new Set<string>(), joined: new Map<number, number>(), cellProblem: new Map<string, number>() };
  for (const [k, p] of joins) out.cellProblem.set(k, p as number);
  // A seed grows locally when every cell it made core belongs to a group that grows.
  for (const s of flipSeeds) if (flipsOf(s).every(([x, y]) => problemOfGroup(key(s.t, x, y)) != null)) out.seeds.add(key(s.t, s.gx, s.gy));
  // Appeals already there in the cells that join (the new ones are placed with their seeds).
  if (joins.size) {
    const cellsOf = [...joins.keys()].map((k) => need.get(k) ?? flipped.get(k)!);
    const members = await query<{ appeal_id: number; t: number; gx: number; gy: number }>(em, `
      SELECT p.appeal_id, p.theme_id AS t, p.gx, p.gy FROM unnest(?::int[], ?::int[], ?::int[]) AS u(t, gx, gy)
        JOIN problem_point p ON p.municipality_id = ? AND p.theme_id = u.t AND p.gx = u.gx AND p.gy = u.gy`,
      [cellsOf.map((x) => x[0]), cellsOf.map((x) => x[1]), cellsOf.map((x) => x[2]), m]);
    for (const r of members) if (!fresh.has(r.appeal_id)) out.joined.set(r.appeal_id, joins.get(key(r.t, r.gx, r.gy)) as number);
  }
  return out;
}
