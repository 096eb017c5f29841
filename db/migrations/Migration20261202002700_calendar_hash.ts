import { Migration } from '@mikro-orm/migrations';

/**
 * production_calendar_year.content_sha256: the SHA-256 of the bundled file (db/reference/calendar/ru-YYYY.xml) a
 * year was loaded from, so that a start finds the bundle already stored without parsing it; null for a year imported
 * by a person (and for bundled years stored before this migration, which the next start reloads once).
 */
export class Migration20261202002700_calendar_hash extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE production_calendar_year ADD COLUMN content_sha256 text;');
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE production_calendar_year DROP COLUMN content_sha256;');
  }
}
