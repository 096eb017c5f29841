import { Migration } from '@mikro-orm/migrations';

/**
 * problem_run.scope: the clustering parameters a full recompute used per theme (radius in EPSG:3857 units and
 * the effective minimum size after the density guard), so that an incremental recompute clusters with the same
 * parameters without re-counting the whole period.
 */
export class Migration20261127000007_problemscope extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE problem_run ADD COLUMN scope jsonb;`);
  }

  override async down(): Promise<void> {
    this.addSql(`ALTER TABLE problem_run DROP COLUMN scope;`);
  }
}
