import { Migration } from '@mikro-orm/migrations';

/**
 * The state an incremental problem recompute starts from.
 *
 * - problem_point: the points the latest full recompute clustered (appeals of its period with a point and a theme,
 *   not rejected), in EPSG:3857 by arithmetic, with their grid cell (side = the theme's radius / 2). Cell counts
 *   around new appeals are read from it through (municipality, theme, gx, gy) instead of re-reading the period, and
 *   the attributes the factors need (author, repeat, due and answer dates, satisfaction, district, organisation,
 *   address) travel with each point, so a touched problem is re-aggregated without visiting the appeal table.
 *   An appeal passed to the incremental recompute (new or changed) has its row rewritten.
 *
 * Both are UNLOGGED: derived data, rewritten by every full recompute, so not worth the write-ahead log (a full
 * recompute over 870 000 appeals spent 12 s writing it). After a crash PostgreSQL empties them; with no state the
 * incremental recompute falls back to the windowed recluster until the next full recompute.
 * - problem_prev_point: the appeals of the previous period of equal length (same themes), against which growth is
 *   measured; an outline that grows is counted only over the part it gained.
 * - problem_state: per municipality, the full run the points belong to and the period the list now covers
 *   (an incremental recompute extends its end).
 */
export class Migration20261127000008_problempoints extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE UNLOGGED TABLE problem_point (
      appeal_id integer PRIMARY KEY REFERENCES appeal(id) ON DELETE CASCADE,
      municipality_id integer NOT NULL REFERENCES municipality(id),
      theme_id integer NOT NULL,
      gx integer NOT NULL,
      gy integer NOT NULL,
      x double precision NOT NULL,
      y double precision NOT NULL,
      district_id integer,
      organization_id integer,
      channel text NOT NULL,
      address text,
      author text NOT NULL,
      received_at timestamptz NOT NULL,
      is_repeat boolean NOT NULL,
      due_at timestamptz,
      answered_at timestamptz,
      satisfaction smallint
    );`);
    this.addSql(`CREATE INDEX problem_point_cell_idx ON problem_point (municipality_id, theme_id, gx, gy);`);
    this.addSql(`CREATE UNLOGGED TABLE problem_prev_point (
      municipality_id integer NOT NULL REFERENCES municipality(id),
      theme_id integer NOT NULL,
      point geometry(Point, 4326) NOT NULL
    );`);
    this.addSql(`CREATE INDEX problem_prev_point_gist ON problem_prev_point USING gist (point);`);
    this.addSql(`CREATE UNLOGGED TABLE problem_state (
      municipality_id integer PRIMARY KEY REFERENCES municipality(id),
      run_id integer NOT NULL REFERENCES problem_run(id) ON DELETE CASCADE,
      period_from timestamptz NOT NULL,
      period_to timestamptz NOT NULL,
      prev_from timestamptz NOT NULL
    );`);
  }

  override async down(): Promise<void> {
    this.addSql(`DROP TABLE problem_state;`);
    this.addSql(`DROP TABLE problem_prev_point;`);
    this.addSql(`DROP TABLE problem_point;`);
  }
}
