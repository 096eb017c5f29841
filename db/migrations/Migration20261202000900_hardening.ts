import { Migration } from '@mikro-orm/migrations';

/**
 * Hardening (issue 16):
 * - an import batch stores at most IMPORT_MAX_STORED_ISSUES issue rows; every issue is still counted, by reason
 *   (`issue_counts`: {"ERROR externalId: нет идентификатора записи": 12, …}) and in total (`issues_total`);
 * - sign-in lock-out per (login, source address) with backoff, instead of one lock per account that anyone could
 *   keep closed;
 * - a batch left RUNNING by a crash or kill is marked INTERRUPTED at the next start (what its committed chunks
 *   stored stays, counted in the batch).
 */
export class Migration20261202000900_hardening extends Migration {
  override async up(): Promise<void> {
    this.addSql(`ALTER TABLE import_batch ADD COLUMN issue_counts jsonb NOT NULL DEFAULT '{}'::jsonb,
                                         ADD COLUMN issues_total integer NOT NULL DEFAULT 0;`);
    // Sign-in lock-out per login AND source address (any login string, existing or not: the same answer for both),
    // with backoff: the k-th lock of a pair lasts AUTH_LOCK_MINUTES × 2^(k−1), at most a day.
    this.addSql(`CREATE TABLE sign_in_lock (
      login text NOT NULL,
      source text NOT NULL,
      failures integer NOT NULL DEFAULT 0,
      strikes integer NOT NULL DEFAULT 0,
      locked_until timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (login, source)
    );`);
    this.addSql(`ALTER TABLE import_batch DROP CONSTRAINT IF EXISTS import_batch_status_check;`);
    this.addSql(`ALTER TABLE import_batch ADD CONSTRAINT import_batch_status_check CHECK (status IN ('RUNNING', 'DONE', 'FAILED', 'INTERRUPTED'));`);
  }
}
