import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { audit } from '../audit/audit.js';

export interface RetentionOptions {
  /** Authors of appeals closed (CLOSED or REJECTED) more than this many days ago are anonymised. */
  days: number;
  /** Only count, change nothing. */
  dryRun?: boolean;
  /** The moment "now" (tests). */
  now?: Date;
}

export interface RetentionResult {
  /** Authors whose personal data was erased (or would be, in a dry run). */
  authors: number;
  /** Appeals whose author key (hash of the contacts, used for repeat detection) was cleared. */
  appeals: number;
  cutoff: Date;
}

/**
 * Anonymises the personal data (152-ФЗ) of authors whose every appeal is closed — CLOSED or REJECTED — since
 * before `now − days`: name, phone, e-mail and profile link become NULL, `anonymized_at` is set, and the
 * appeals' author keys (hashes of the contacts) are cleared. The closing moment is the last status event to
 * CLOSED/REJECTED, else the answer time, else the last update. An author with any open or recent appeal keeps
 * the data. The run is recorded in the audit log (counts only). Idempotent.
 */
export async function anonymiseClosedAppealAuthors(em: EntityManager, municipalityId: number, opts: RetentionOptions): Promise<RetentionResult> {
  if (!Number.isInteger(opts.days) || opts.days < 1) throw new Error(`retention period must be a whole number of days ≥ 1, got ${opts.days}`);
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - opts.days * 86_400_000);
  const candidates = `
    SELECT au.id FROM appeal_author au
     WHERE au.municipality_id = ? AND au.anonymized_at IS NULL
       AND EXISTS (SELECT 1 FROM appeal a WHERE a.author_id = au.id)
       AND NOT EXISTS (
         SELECT 1 FROM appeal a
          WHERE a.author_id = au.id
            AND (a.status NOT IN ('CLOSED', 'REJECTED')
                 OR coalesce((SELECT max(e.at) FROM appeal_event e
                               WHERE e.appeal_id = a.id AND e.kind = 'STATUS' AND e.to_value IN ('CLOSED', 'REJECTED')),
                             a.answered_at, a.updated_at) >= ?))`;
  return em.transactional(async (tem) => {
    if (opts.dryRun) {
      const [r] = await query<{ n: number; m: number }>(tem,
        `SELECT count(*)::int AS n, (SELECT count(*)::int FROM appeal WHERE author_id IN (${candidates})) AS m FROM (${candidates}) c`,
        [municipalityId, cutoff, municipalityId, cutoff]);
      return { authors: r.n, appeals: r.m, cutoff };
    }
    const ids = (await query<{ id: number }>(tem,
      `UPDATE appeal_author SET full_name = NULL, phone = NULL, email = NULL, profile_url = NULL, anonymized_at = ?
        WHERE id IN (${candidates}) RETURNING id`, [now, municipalityId, cutoff])).map((r) => r.id);
    let appeals = 0;
    if (ids.length) {
      appeals = (await query(tem, 'UPDATE appeal SET author_key = NULL WHERE author_id = ANY(?::int[]) AND author_key IS NOT NULL RETURNING id', [ids])).length;
      await audit(tem, { municipalityId, actor: 'system:retention' }, {
        entity: 'appeal_author', action: 'anonymise', before: null,
        after: { authors: ids.length, appeals, retentionDays: opts.days, cutoff: cutoff.toISOString() },
      });
    }
    return { authors: ids.length, appeals, cutoff };
  });
}
