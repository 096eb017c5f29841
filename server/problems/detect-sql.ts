import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';

/** SQL shared by the full detection (detect.ts) and the incremental pass (incremental.ts). */

export const R = 6378137;
/** Growth is measured against at least this many previous appeals (a change from 0 to 1 is not +100 %). */
export const GROWTH_FLOOR = 5;
/** The factor values of a cluster row `c` (counts as detect.ts and incremental.ts aggregate them) and its district `d`. */
export const FACTORS_SQL = `jsonb_build_object(
  'volume', c.n, 'authors', c.authors, 'previous', c.prev,
  'growth', (c.n - c.prev)::float8 / greatest(c.prev, ${GROWTH_FLOOR}),
  'repeats', CASE WHEN c.n > 0 THEN c.repeats::float8 / c.n ELSE 0 END,
  'overdue', CASE WHEN c.with_due > 0 THEN c.overdue::float8 / c.with_due ELSE 0 END,
  'lowSatisfaction', CASE WHEN c.rated > 0 THEN c.low_sat::float8 / c.rated ELSE 0 END,
  'cur', c.cur,
  'perCapita', CASE WHEN d.population > 0 THEN c.n * 1000.0 / d.population END)`;

/** Title: theme, district and the most frequent address of the cluster. */
export const TITLE_SQL = `concat(coalesce(t.name, 'Очаг на тепловой карте ЦУР'), ' — ', coalesce(d.name, 'вне районов'),
  CASE WHEN c.address IS NOT NULL THEN ' (' || c.address || ')' ELSE '' END)`;

/**
 * ЦУР layers overlapping the period, summed into a 250 m square grid per theme and normalised to the theme's
 * hottest square (a single heavy point and a dense group of light ones compare fairly), as a temporary table.
 */
export async function heatTable(em: EntityManager, name: string, m: number, from: Date, to: Date, stretch: number) {
  const cell = 250 * stretch;
  await em.execute(`CREATE TEMP TABLE ${name} (geom geometry, theme_id int, norm float8) ON COMMIT DROP`);
  await query(em, `INSERT INTO ${name}
    SELECT ST_Transform(ST_MakeEnvelope(gx * ?, gy * ?, (gx + 1) * ?, (gy + 1) * ?, 3857), 4326), theme_id,
           coalesce(w / nullif(max(w) OVER (PARTITION BY theme_id), 0), 0)
      FROM (SELECT floor(ST_X(g) / ?)::int AS gx, floor(ST_Y(g) / ?)::int AS gy, theme_id, sum(weight) AS w
              FROM (SELECT ST_Transform(c.point, 3857) AS g, coalesce(c.theme_id, l.theme_id) AS theme_id, c.weight
                      FROM heat_cell c JOIN heat_layer l ON l.id = c.layer_id
                     WHERE l.municipality_id = ? AND l.period_to > ? AND l.period_from < ?) x
             GROUP BY 1, 2, 3) y`, [cell, cell, cell, cell, cell, cell, m, from, to]);
}

/** Resolved problems that got new appeals after their resolution: back to подтверждена, with a REOPENED event. */
export async function reopen(em: EntityManager, m: number, at: Date, actor: string, ids: number[]) {
  if (!ids.length) return;
  await query(em, `INSERT INTO problem_event (municipality_id, problem_id, at, actor, kind, from_value, to_value, comment)
    SELECT ?, p.id, ?, ?, 'REOPENED', 'RESOLVED', 'CONFIRMED', 'после решения поступили новые обращения (последнее ' || to_char(p.last_appeal_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ')'
      FROM problem p WHERE p.id = ANY(?::int[])`, [m, at, actor, ids]);
  await query(em, `UPDATE problem SET status = 'CONFIRMED', reopened_count = reopened_count + 1, reopened_at = ?, resolved_at = NULL WHERE id = ANY(?::int[])`,
    [at, ids]);
}
