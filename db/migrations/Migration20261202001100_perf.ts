import { Migration } from '@mikro-orm/migrations';

/**
 * Many users at once (issue 17): the data version that caches compare (heatmap_data_version, advanced by every
 * statement on appeals, districts and heat layers) also follows themes and organisations, whose names and hierarchy
 * are part of cached aggregates (counts by theme with its label, a theme filter that includes subthemes).
 */
export class Migration20261202001100_perf extends Migration {
  override async up(): Promise<void> {
    this.addSql(`CREATE TRIGGER theme_data_version AFTER INSERT OR UPDATE OR DELETE ON theme
      FOR EACH STATEMENT EXECUTE FUNCTION heatmap_bump_version();`);
    this.addSql(`CREATE TRIGGER organization_data_version AFTER INSERT OR UPDATE OR DELETE ON organization
      FOR EACH STATEMENT EXECUTE FUNCTION heatmap_bump_version();`);
  }
}
