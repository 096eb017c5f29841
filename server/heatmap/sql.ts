import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';

interface PgConnection {
  query(config: { text: string; values: readonly unknown[] }): Promise<{ rows: unknown[] }>;
}

interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<unknown>;
}

/** `?` placeholders → `$1, $2, …` (the heat-map SQL has no other question marks). */
export function numberedSql(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/**
 * The hot statements of the heat map (a viewport's cells, a tile) on a pooled pg connection of
 * the EntityManager's ORM, with bound parameters: MikroORM's em.execute writes every parameter into
 * the SQL text (its arrays, dates and numbers as literals) and passes it through knex, which costs
 * more than the small statements themselves on a warm database. Results are the same rows (the
 * connection and its type parsers are the ORM's). Inside a transaction, or with query logging on
 * (tests counting statements), it goes through MikroORM as every other query does.
 */
export async function heatQuery<T>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  if (em.getTransactionContext() || em.config.get('debug')) return query<T>(em, sql, params);
  const client = (em.getConnection().getKnex() as unknown as { client: KnexClient }).client;
  const connection = await client.acquireConnection();
  try {
    const r = await connection.query({ text: numberedSql(sql), values: params });
    return r.rows as T[];
  } finally {
    await client.releaseConnection(connection);
  }
}
