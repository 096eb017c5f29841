import type { EntityManager } from '@mikro-orm/postgresql';
import { createRequire } from 'node:module';

// pg's own parameter serialiser (arrays become one Postgres array literal each).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): unknown };

/**
 * Like query() of server/db/sql.ts, but the values travel as bound parameters of the extended protocol
 * ($1, $2…) instead of being quoted into the SQL text: a chunk's arrays (texts, addresses, answers) are
 * several hundred kilobytes, and escaping them in JavaScript and lexing them again in the server cost more
 * than the statements themselves. Runs in the EntityManager's transaction; errors are converted to
 * MikroORM's DriverException like any other query's.
 */
export async function bound<T = Record<string, unknown>>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  if (/\$\d/.test(sql)) {
    // Numbered placeholders ($1 used more than once): knex binds by position, one value per `?`.
    const byPosition: unknown[] = [];
    sql = sql.replace(/\$(\d+)/g, (_, n: string) => (byPosition.push(params[Number(n) - 1]), '?'));
    params = byPosition;
  }
  const raw = em.getConnection().getKnex().raw(sql, params.map((p) => (Array.isArray(p) ? prepareValue(p) : p ?? null)) as never[]);
  const trx = em.getTransactionContext();
  if (trx) raw.transacting(trx);
  try {
    return ((await raw) as { rows: T[] }).rows;
  } catch (e) {
    throw em.getDriver().convertException(e as Error);
  }
}

