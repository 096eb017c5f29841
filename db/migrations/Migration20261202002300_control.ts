import { Migration } from '@mikro-orm/migrations';

/**
 * Control of execution: where a deadline rule's extension allowance is counted from.
 *   deadline_rule.extension_from — 'DUE': the allowance is added to the rule's original answer due time (59-ФЗ:
 *     30 days + up to 30 more); 'RECEIVED': it is the longest answer time counted from registration (Инцидент
 *     Менеджмент: an interim answer extends the final answer to 7 working days from registration).
 * The shipped defaults of the message channels were «6 working days after the 8 working hours», which is 6 or 7
 * working days from registration depending on the hour; they become exactly 7 working days from registration
 * (a correction of a default value, marked is_default, in place: no person had set it).
 */
export class Migration20261202002300_control extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE deadline_rule ADD COLUMN extension_from text NOT NULL DEFAULT 'DUE' CHECK (extension_from IN ('DUE', 'RECEIVED'));`);
    this.addSql(`UPDATE deadline_rule SET extension_max = 7, extension_from = 'RECEIVED'
      WHERE is_default AND created_by = 'system:reference' AND channel IN ('INCIDENT_MANAGEMENT', 'OFFICIAL_PAGE', 'SOCIAL', 'MESSENGER')
        AND answer_unit = 'WORKING_HOURS' AND extension_unit = 'WORKING_DAYS' AND extension_max = 6;`);
  }

  override async down(): Promise<void> {
    this.addSql(`UPDATE deadline_rule SET extension_max = 6 WHERE extension_from = 'RECEIVED' AND is_default AND created_by = 'system:reference' AND extension_max = 7;`);
    this.addSql('ALTER TABLE deadline_rule DROP COLUMN extension_from;');
  }
}
