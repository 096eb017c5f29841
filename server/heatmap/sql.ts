import type { EntityManager } from '@mikro-orm/postgresql';
import { boundQuery, numberedSql } from '../db/sql.js';

export { numberedSql };

/** The hot statements of the heat map (a viewport's cells, a tile) with bound parameters: see boundQuery. */
export function heatQuery<T>(em: EntityManager, sql: string, params: readonly unknown[]): Promise<T[]> {
  return boundQuery<T>(em, sql, params);
}
