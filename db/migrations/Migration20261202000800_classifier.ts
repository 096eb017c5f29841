import { Migration } from '@mikro-orm/migrations';

/**
 * Structuring: the secondary themes the classifier sees in a multi-topic text (the appeal keeps one responsible
 * theme) and the precision of the appeal's place (HOUSE, STREET, DISTRICT, NONE).
 */
export class Migration20261202000800_classifier extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE appeal
      ADD COLUMN secondary_theme_ids integer[],
      ADD COLUMN place_precision text CHECK (place_precision IN ('HOUSE', 'STREET', 'DISTRICT', 'NONE'));`);
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE appeal DROP COLUMN secondary_theme_ids, DROP COLUMN place_precision;');
  }
}
