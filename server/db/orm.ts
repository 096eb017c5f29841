import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { registerJobBackend } from './jobs.js';

/** Migration classes registered by name (db/migrations/). */
export type MigrationsList = NonNullable<NonNullable<Options['migrations']>['migrationsList']>;

export interface OrmOptions {
  url: string;
  /** Every capability's entities (the composition root lists them: server/modules.ts). */
  entities: NonNullable<Options['entities']>;
  /** Every migration, sorted by name (server/modules.ts); the same list runs from sources (tests) and from dist/. */
  migrations: MigrationsList;
  /** The embedded backend is one Postgres session: one connection. */
  embedded: boolean;
  /** Called with every SQL statement (tests count statements with it). */
  onQuery?: (sql: string) => void;
  /** DATABASE_POOL_MAX / DATABASE_POOL_MIN (server/config.ts); PostgreSQL only. */
  poolMax?: number;
  poolMin?: number;
}

export async function createOrm(opts: OrmOptions): Promise<MikroORM> {
  const config: Options = {
    clientUrl: opts.url,
    entities: opts.entities,
    extensions: [Migrator],
    migrations: { migrationsList: opts.migrations, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    pool: opts.embedded ? { min: 0, max: 1 } : { min: Math.min(opts.poolMin ?? 2, opts.poolMax ?? 10), max: opts.poolMax ?? 10 },
    debug: opts.onQuery ? ['query'] : false,
    logger: opts.onQuery ? (message: string) => opts.onQuery!(message) : undefined,
    colors: false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    discovery: { warnWhenNoEntities: true },
  };
  const orm = await MikroORM.init(config);
  // Long jobs hold their liveness lock on a connection of their own (server/db/jobs.ts); embedded: none.
  registerJobBackend(orm.config, { url: opts.url, embedded: opts.embedded });
  return orm;
}

/**
 * Tables that a migration rewrites, to vacuum once it has committed: a rewrite leaves the
 * visibility map empty, so index-only scans (the heat map's appeal_heat_idx) would read the heap
 * until autovacuum happened to come by (never on the embedded backend, which has no autovacuum).
 */
const VACUUM_AFTER: Record<string, string[]> = {
  Migration20261127000004_heatcells: ['appeal', 'heat_cell'],
  // Filled a new municipality_id column in every row.
  Migration20261202001900_citus: ['problem_appeal', 'problem_snapshot', 'open311_key_use'],
};

export async function migrate(orm: MikroORM): Promise<string[]> {
  const done = (await orm.getMigrator().up()).map((m) => m.name);
  const tables = [...new Set(done.flatMap((name) => VACUUM_AFTER[name] ?? []))];
  if (tables.length) await orm.em.fork().getConnection().execute(`VACUUM (ANALYZE) ${tables.join(', ')}`);
  return done;
}
