import type { EntityManager } from '@mikro-orm/postgresql';
import { admissionOf, heavy } from './admission.js';
import { boundQuery } from './sql.js';

/**
 * A total count (`totalCount` of a connection) over a table that can hold a million rows (appeals, the audit and
 * personal-data access logs), admitted by what it finds — the way the point layer is (server/appeals/points.ts), but
 * with no estimate to make: the count itself weighs the work.
 *
 * The first statement counts at most COUNT_LIGHT_ROWS + 1 rows (`count(*)` over a LIMIT-ed subquery) and runs at
 * once, as cheap work: a page with a narrow filter gets its exact count from this one statement, as before — no
 * EXPLAIN, no second round trip. A count that reaches the cap is made again in full under the admission of heavy work
 * (server/db/admission.ts), so a request cannot make the database count a million rows outside it, whatever the
 * planner believes; the cheap statement never reads more than the cap. COUNT_LIGHT_ROWS = 0: every count is heavy.
 *
 * `fromWhere`: the text after FROM (table, alias, WHERE clause) with `?` placeholders bound to `params`.
 */
export async function admittedCount(em: EntityManager, fromWhere: string, params: readonly unknown[]): Promise<number> {
  const admission = admissionOf(em);
  const cap = admission.countLightRows;
  if (cap > 0) {
    const [r] = await boundQuery<{ n: number }>(em, `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${fromWhere} LIMIT ?) s`, [...params, cap + 1]);
    if (r.n <= cap) {
      admission.stats.countLight++;
      return r.n;
    }
  }
  admission.stats.countHeavy++;
  return heavy(em, async () => (await boundQuery<{ n: number }>(em, `SELECT count(*)::int AS n FROM ${fromWhere}`, params))[0].n);
}
