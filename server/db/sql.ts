import type { EntityManager } from '@mikro-orm/postgresql';
import { createRequire } from 'node:module';

// pg's own parameter serialiser (arrays become Postgres array literals).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): unknown };

/**
 * Runs SQL with `?` placeholders on the EntityManager's connection (and its transaction).
 * Arrays are bound as ONE Postgres array parameter (for `= ANY(?::int[])` and `unnest`),
 * not expanded into a list as knex would do.
 */
export function query<T = Record<string, unknown>>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(sql, params.map((p) => (Array.isArray(p) ? prepareValue(p) : p)));
}
