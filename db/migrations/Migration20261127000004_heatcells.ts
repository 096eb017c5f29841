import { Migration } from '@mikro-orm/migrations';

/** Ground circumradii (metres) of the heat map's hexagon grids, one stored column each (see server/heatmap/grid.ts). */
export const HEAT_GRID_SIZES = [2000, 1000, 500, 250, 150, 100] as const;

/**
 * Heat map at scale: every appeal and every ЦУР point stores the id of its hexagon in each of
 * the six grids (`hex_2000` … `hex_100`), so a heat map is a GROUP BY over stored integers
 * instead of Web-Mercator and cube-rounding arithmetic per point and per query.
 *
 * - heat_grid_scale(lat): 1 / cos(lat), the Mercator stretch at the municipality's centre; a
 *   grid's size in EPSG:3857 units is its ground size times this scale (the application reads
 *   the same value, so cells computed in SQL and the hexagons drawn from (q, r) agree exactly).
 * - heat_hex_id(x, y, size): the packed id (q + 2^20)·2^21 + (r + 2^20) of the pointy-top axial
 *   hexagon containing EPSG:3857 point (x, y): cube rounding of the fractional coordinates.
 * - heat_hex_of(point, municipality, ground): the same for a lon/lat point of a municipality.
 * - A BEFORE INSERT OR UPDATE OF point, municipality_id row trigger on appeal and heat_cell
 *   fills the columns, so every writer (intake pipeline, demo loader, manual placement, ЦУР
 *   importer) gets them; a change of a municipality's centre recomputes its rows.
 * - appeal_heat_idx: (municipality_id, hex_500, received_at) INCLUDE the other cell ids, the point
 *   and the structured filter columns, for the appeals with a point. A heat map names the 500 m
 *   hexagons its rectangle can touch (hex_500 = ANY(…)), so it reads one index range per hexagon
 *   and period, and only the index (on a vacuumed table), not the wide appeal rows: a street-level
 *   tile reads its neighbourhood, not the whole city's period.
 *
 * Existing rows are filled by rewriting the table once (ALTER COLUMN … TYPE … USING): no dead
 * row versions are left behind, unlike an UPDATE of every row.
 */
export class Migration20261127000004_heatcells extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE FUNCTION heat_grid_scale(lat double precision) RETURNS double precision
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT 1 / cos(radians(lat)) $$;`);

    this.addSql(`CREATE FUNCTION heat_hex_id(x double precision, y double precision, size double precision) RETURNS bigint
      LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
      DECLARE
        qf double precision := (sqrt(3) / 3 * x - y / 3) / size;
        rf double precision := (2.0 / 3 * y) / size;
        sf double precision := -qf - rf;
        q double precision := round(qf);
        r double precision := round(rf);
        s double precision := round(sf);
        dq double precision := abs(q - qf);
        dr double precision := abs(r - rf);
        ds double precision := abs(s - sf);
      BEGIN
        IF dq > dr AND dq > ds THEN q := -r - s; ELSIF dr > ds THEN r := -q - s; END IF;
        RETURN (q::bigint + 1048576) * 2097152 + (r::bigint + 1048576);
      END $$;`);

    this.addSql(`CREATE FUNCTION heat_hex_of(p geometry, municipality integer, ground double precision) RETURNS bigint
      LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
      DECLARE scale double precision;
      BEGIN
        IF p IS NULL THEN RETURN NULL; END IF;
        SELECT heat_grid_scale(ST_Y(m.center)) INTO scale FROM municipality m WHERE m.id = municipality;
        RETURN heat_hex_id(6378137 * radians(ST_X(p)), 6378137 * ln(tan(pi() / 4 + radians(ST_Y(p)) / 2)), ground * scale);
      END $$;`);

    this.addSql(`CREATE FUNCTION heat_hex_cells() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE scale double precision; x double precision; y double precision;
      BEGIN
        IF NEW.point IS NULL THEN
          NEW.hex_2000 := NULL; NEW.hex_1000 := NULL; NEW.hex_500 := NULL; NEW.hex_250 := NULL; NEW.hex_150 := NULL; NEW.hex_100 := NULL;
          RETURN NEW;
        END IF;
        SELECT heat_grid_scale(ST_Y(m.center)) INTO scale FROM municipality m WHERE m.id = NEW.municipality_id;
        x := 6378137 * radians(ST_X(NEW.point));
        y := 6378137 * ln(tan(pi() / 4 + radians(ST_Y(NEW.point)) / 2));
        NEW.hex_2000 := heat_hex_id(x, y, 2000 * scale);
        NEW.hex_1000 := heat_hex_id(x, y, 1000 * scale);
        NEW.hex_500 := heat_hex_id(x, y, 500 * scale);
        NEW.hex_250 := heat_hex_id(x, y, 250 * scale);
        NEW.hex_150 := heat_hex_id(x, y, 150 * scale);
        NEW.hex_100 := heat_hex_id(x, y, 100 * scale);
        RETURN NEW;
      END $$;`);

    for (const table of ['appeal', 'heat_cell']) {
      this.addSql(`ALTER TABLE ${table} ${HEAT_GRID_SIZES.map((g) => `ADD COLUMN hex_${g} bigint`).join(', ')};`);
      // One rewrite fills the existing rows (instant on an empty table).
      this.addSql(`ALTER TABLE ${table} ${HEAT_GRID_SIZES.map((g) => `ALTER COLUMN hex_${g} TYPE bigint USING heat_hex_of(point, municipality_id, ${g})`).join(', ')};`);
      this.addSql(`CREATE TRIGGER ${table}_heat_hex BEFORE INSERT OR UPDATE OF point, municipality_id ON ${table}
        FOR EACH ROW EXECUTE FUNCTION heat_hex_cells();`);
    }

    this.addSql(`CREATE FUNCTION heat_hex_recompute() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE appeal SET ${HEAT_GRID_SIZES.map((g) => `hex_${g} = heat_hex_of(point, municipality_id, ${g})`).join(', ')}
         WHERE municipality_id = NEW.id AND point IS NOT NULL;
        UPDATE heat_cell SET ${HEAT_GRID_SIZES.map((g) => `hex_${g} = heat_hex_of(point, municipality_id, ${g})`).join(', ')}
         WHERE municipality_id = NEW.id;
        RETURN NULL;
      END $$;`);
    this.addSql(`CREATE TRIGGER municipality_heat_hex AFTER UPDATE OF center ON municipality
      FOR EACH ROW WHEN (NOT ST_OrderingEquals(OLD.center, NEW.center)) EXECUTE FUNCTION heat_hex_recompute();`);

    this.addSql(`CREATE INDEX appeal_heat_idx ON appeal (municipality_id, hex_500, received_at)
      INCLUDE (${HEAT_GRID_SIZES.filter((g) => g !== 500).map((g) => `hex_${g}`).join(', ')}, theme_id, district_id, organization_id, point, channel, status)
      WHERE point IS NOT NULL;`);
  }
}
