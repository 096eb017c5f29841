import type { EntityManager } from '@mikro-orm/postgresql';
import { createRequire } from 'node:module';
import pg from 'pg';

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

interface PgConnection {
  query(config: { text: string; values: readonly unknown[]; name?: string }): Promise<{ rows: unknown[] }>;
}

interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<unknown>;
}

/** `?` placeholders → `$1, $2, …` (for SQL that has no other question marks: no jsonb `?` operators). */
export function numberedSql(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

const numbered = new Map<string, string>();
/** numberedSql, remembered per SQL text (the hot statements are a few hundred texts at most). */
function numberedCached(sql: string): string {
  let s = numbered.get(sql);
  if (s === undefined) {
    s = numberedSql(sql);
    if (numbered.size > 2000) numbered.clear();
    numbered.set(sql, s);
  }
  return s;
}

/**
 * The hot read statements (a page of appeals, a viewport's cells, a tile) on a pooled pg connection of the
 * EntityManager's ORM, with **bound** parameters: MikroORM's em.execute writes every parameter into the SQL text
 * (arrays, dates and numbers as literals) and passes it through knex, which costs more than a small statement
 * itself, and makes every text unique. The statement is sent unnamed (parse + bind + execute in one round trip),
 * so PostgreSQL plans it with the actual values every time (a *custom* plan): a named prepared statement would
 * switch to a *generic* plan after five executions, which for a period + bounding box is the wrong plan for most
 * values (bench/results/notes.md, "the generic-plan trap"). Results are the same rows (the connection and its
 * type parsers are the ORM's). Inside a transaction it goes through MikroORM as every other query does; with query
 * logging on (tests counting statements) the statement is logged as MikroORM would.
 */
export async function boundQuery<T>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  if (em.getTransactionContext()) return query<T>(em, sql, params);
  if (em.config.get('debug')) em.config.getLogger().log('query', sql);
  const client = (em.getConnection().getKnex() as unknown as { client: KnexClient }).client;
  const connection = await client.acquireConnection();
  try {
    const r = await connection.query({ text: numberedCached(sql), values: params });
    return r.rows as T[];
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * boundQuery whose rows are handed to `onRow` as they arrive from the server (not collected), each as an array of its
 * columns in the statement's order (no object per row): a large answer is processed (and, by the caller, sent on)
 * while PostgreSQL still produces its later rows. Inside a transaction the rows come from query() in one piece.
 * Resolves with the number of rows.
 */
export async function streamQuery(em: EntityManager, sql: string, params: readonly unknown[], onRow: (row: unknown[]) => void): Promise<number> {
  if (em.getTransactionContext()) {
    const rows = await query<Record<string, unknown>>(em, sql, params);
    for (const r of rows) onRow(Object.values(r));
    return rows.length;
  }
  if (em.config.get('debug')) em.config.getLogger().log('query', sql);
  const client = (em.getConnection().getKnex() as unknown as { client: KnexClient }).client;
  const connection = await client.acquireConnection();
  try {
    return await new Promise<number>((resolve, reject) => {
      const q = new pg.Query({ text: numberedCached(sql), values: params as unknown[], rowMode: 'array' } as unknown as pg.QueryConfig);
      let n = 0;
      let failed: unknown;
      q.on('row', (row: unknown[]) => {
        if (failed !== undefined) return;
        n++;
        try {
          onRow(row);
        } catch (e) {
          failed = e; // the rest of the answer is read and dropped; the connection stays usable
        }
      });
      q.on('error', reject);
      q.on('end', () => (failed !== undefined ? reject(failed) : resolve(n)));
      (connection as unknown as { query(q: pg.Query): void }).query(q);
    });
  } finally {
    await client.releaseConnection(connection);
  }
}
