import { Migration } from '@mikro-orm/migrations';

/**
 * Duplicate search of the intake pipeline at scale.
 *
 * A new appeal is a duplicate of an earlier one on the same theme, within a distance (metres) and a number of
 * days. Before this migration the candidates came from the 2-D point index (every appeal near a hot spot, of any
 * time and theme) and/or the (theme_id, received_at) index (every appeal of the theme in the period, anywhere),
 * so each new row read hundreds of candidates.
 *
 * appeal_dedup_cell(point): the cell of a fixed lon/lat grid (0.005° × 0.003°, about 350 × 330 m at 51° N)
 * holding the point, packed into one bigint. appeal_dedup_idx: (municipality_id, theme_id, cell, received_at) on
 * the appeals that can be linked to (with a point and a theme, not duplicates themselves). A new appeal names the
 * cells its search square touches (usually 1–4, more for a larger radius or far north) and reads one short index
 * range per cell and period. The cells are only a prefilter: the query keeps its exact conditions (ST_DWithin on
 * the spheroid, theme, time), so the grid's size changes speed, never results.
 * (A 4-D GiST over lon, lat, day and theme was tried first: its descents cost 3× as much per probe.)
 */
export class Migration20261127000103_intake_dedup extends Migration {
  override async up(): Promise<void> {
    // PostGIS functions are named with their schema: PostgreSQL ≥ 17 evaluates index expressions with a
    // search_path of pg_catalog only, and an unqualified ST_X would not be found there.
    this.addSql(`DO $do$
      DECLARE s text := (SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'postgis');
      BEGIN
        EXECUTE format($f$CREATE FUNCTION appeal_dedup_cell(p %1$s.geometry) RETURNS bigint
          LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
          AS 'SELECT (floor(%1$s.ST_X(p) / 0.005)::bigint + 1048576) * 2097152 + (floor(%1$s.ST_Y(p) / 0.003)::bigint + 1048576)'$f$, s);
      END $do$;`);
    this.addSql(`CREATE INDEX appeal_dedup_idx ON appeal (municipality_id, theme_id, appeal_dedup_cell(point), received_at)
      WHERE point IS NOT NULL AND theme_id IS NOT NULL AND duplicate_of_id IS NULL;`);
  }
}
