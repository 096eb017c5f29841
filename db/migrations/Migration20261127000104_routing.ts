import { Migration } from '@mikro-orm/migrations';

/**
 * The routing rule in one place: the responsible organisation of an appeal on a theme in a district is the rule for
 * theme × district, else the theme's rule for any district, else the theme's own organisation. Used by the import
 * (for a whole chunk in its insert statement) and by a person's reclassification.
 */
export class Migration20261127000104_routing extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE FUNCTION appeal_route(p_municipality integer, p_theme integer, p_district integer) RETURNS integer
      LANGUAGE sql STABLE PARALLEL SAFE
      AS $$ SELECT coalesce(
        (SELECT r.organization_id FROM routing_rule r WHERE r.municipality_id = p_municipality AND r.theme_id = p_theme AND coalesce(r.district_id, 0) = p_district),
        (SELECT r.organization_id FROM routing_rule r WHERE r.municipality_id = p_municipality AND r.theme_id = p_theme AND coalesce(r.district_id, 0) = 0),
        (SELECT t.organization_id FROM theme t WHERE t.id = p_theme)) $$;`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP FUNCTION appeal_route(integer, integer, integer);');
  }
}
