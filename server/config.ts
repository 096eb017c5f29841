import os from 'node:os';
import path from 'node:path';

/** Runtime configuration, read from the environment once. */
export interface AppConfig {
  /** Real PostgreSQL + PostGIS; when absent the embedded PGlite backend is used. */
  databaseUrl?: string;
  /** Folder of the embedded database (persists between restarts). */
  dataDir: string;
  host: string;
  port: number;
  /** Production basemap style URL; null = built-in offline style. */
  basemapStyleUrl: string | null;
  /** Code of the municipality whose reference data is loaded on first start. */
  municipality: string;
  /** MUNICIPALITIES: further municipalities of the deployment (codes of db/reference/<code>/, comma-separated). */
  municipalities: string[];
  production: boolean;
  /** GraphQL and HTTP hardening (see README, "Limits and hardening"). */
  limits: Limits;
  /** The connection pool and the admission of heavy work (docs/operations.md, "Many users at once"). */
  database: DatabaseSettings;
}

/** The pool and what may use it at once; each one from its environment variable. */
export interface DatabaseSettings {
  /** DATABASE_POOL_MAX: connections to PostgreSQL (the embedded database is always one). */
  poolMax: number;
  /** DATABASE_POOL_MIN: connections kept open when idle. */
  poolMin: number;
  /**
   * HEAVY_CONCURRENCY: heavy operations (aggregates, GeoJSON, exports, recomputes, rendered tiles) running at once;
   * the other DATABASE_POOL_MAX − HEAVY_CONCURRENCY connections stay free for cheap work (pages, lists, cards).
   * Default: a quarter of the pool, at least 1.
   */
  heavyConcurrency: number;
  /** HEAVY_QUEUE_MAX: heavy operations waiting for a slot; beyond it a request is refused (429). */
  heavyQueueMax: number;
  /**
   * GEOJSON_LIGHT_ROWS: a point layer (appealsGeoJSON) expected to return at most this many points — the smaller of
   * its `limit` and the planner's estimate of the rows its filter holds — runs as cheap work, not under the admission
   * of heavy work (about the work of the largest page of appeals); a larger one is heavy. 0: every layer is heavy.
   */
  geojsonLightRows: number;
  /**
   * COUNT_LIGHT_ROWS: a total count (`totalCount` of appeals, of the audit and access logs) that finds at most this many
   * rows is cheap work — counted with a LIMIT of one row more, beside the page; a larger one is counted again in full
   * under the admission of heavy work (server/db/count.ts). 0: every such count is heavy.
   */
  countLightRows: number;
  /** AGGREGATE_CACHE_ENTRIES: cached aggregate results (per filter, scope and data version); 0 = off. */
  aggregateCacheEntries: number;
  /**
   * DATA_VERSION_TTL_MS: how long the aggregate cache trusts the data version it read before reading it again — the
   * longest a change made by another process (a CLI import, SQL) goes unseen; this process's GraphQL changes are seen
   * at once. Tests set 0 (they change data with SQL).
   */
  dataVersionTtlMs: number;
}

export function loadDatabaseSettings(env: NodeJS.ProcessEnv = process.env): DatabaseSettings {
  const poolMax = intVar(env, 'DATABASE_POOL_MAX', 10, 1, 1000);
  const poolMin = intVar(env, 'DATABASE_POOL_MIN', Math.min(2, poolMax), 0, poolMax);
  const heavyConcurrency = intVar(env, 'HEAVY_CONCURRENCY', Math.max(1, Math.floor(poolMax / 4)), 1, poolMax);
  return {
    poolMax,
    poolMin,
    heavyConcurrency,
    heavyQueueMax: intVar(env, 'HEAVY_QUEUE_MAX', 256, 0, 100_000),
    geojsonLightRows: intVar(env, 'GEOJSON_LIGHT_ROWS', 5000, 0, 200_000),
    countLightRows: intVar(env, 'COUNT_LIGHT_ROWS', 5_000_000, 0, 100_000_000),
    aggregateCacheEntries: intVar(env, 'AGGREGATE_CACHE_ENTRIES', 1000, 0, 1_000_000),
    dataVersionTtlMs: intVar(env, 'DATA_VERSION_TTL_MS', 1000, 0, 600_000),
  };
}

/** Limits against hostile or runaway clients; each one from its environment variable. */
export interface Limits {
  /** GRAPHQL_MAX_DEPTH: nesting of selections (introspection is not counted). */
  maxDepth: number;
  /** GRAPHQL_MAX_COMPLEXITY: estimated cost of an operation (lists multiply by `first`/`limit`). */
  maxComplexity: number;
  /** GRAPHQL_MAX_ALIASES: aliases in one operation (alias batching). */
  maxAliases: number;
  /** GRAPHQL_MAX_DIRECTIVES: directives in one operation. */
  maxDirectives: number;
  /** GRAPHQL_MAX_TOKENS: lexical tokens of a document (bounds parsing). */
  maxTokens: number;
  /** GRAPHQL_MAX_PAGE_SIZE: `first` of any connection. */
  maxPageSize: number;
  /**
   * GRAPHQL_MAX_COUNTS: total counts over large tables (`totalCount` of appeals and of the logs) in one
   * operation, each alias and each item of an enclosing page counted (server/graphql/limits.ts).
   */
  maxCounts: number;
  /** MAX_BODY_MB: JSON request body. */
  maxBodyBytes: number;
  /** MAX_UPLOAD_MB: an uploaded import file. */
  maxUploadBytes: number;
  /** RATE_LIMIT_PER_MINUTE: GraphQL operations per signed-in user (else per IP address) and minute; 0 = off. */
  rateLimitPerMinute: number;
  /** GRAPHQL_INTROSPECTION: true/false; default true except in production. */
  introspection: boolean;
  /** HEALTH_TIMEOUT_MS: /healthz answers 503 when the database does not answer within this time. */
  healthTimeoutMs: number;
  /** GRAPHQL_MAX_RESPONSE_MB: a GraphQL answer larger than this is replaced by an error. */
  maxResponseBytes: number;
  /**
   * EXPENSIVE_PER_USER: expensive GraphQL operations (appealsGeoJSON, heatmap) of one user running at once; more
   * wait for a slot (up to 32 waiting per user, then 429). 0 = no limit (benchmarks: many clients, one account).
   */
  expensivePerUser: number;
  /** TILE_RATE_LIMIT_PER_MINUTE: /tiles requests per user (else address) and minute; 0 = off. */
  tileRatePerMinute: number;
  /** EXPORT_RATE_LIMIT_PER_MINUTE: /exports requests per user (else address) and minute; 0 = off. */
  exportRatePerMinute: number;
}

/** An integer environment variable within [min, max] (default when unset); a bad value names the variable. */
export function intVar(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw == null || raw.trim() === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}, got "${raw}"`);
  return n;
}

/** A boolean environment variable (1/true/yes/on, 0/false/no/off). */
export function boolVar(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw == null || raw === '') return def;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

export function loadLimits(env: NodeJS.ProcessEnv = process.env): Limits {
  const production = env.NODE_ENV === 'production';
  return {
    maxDepth: intVar(env, 'GRAPHQL_MAX_DEPTH', 10, 2, 100),
    maxComplexity: intVar(env, 'GRAPHQL_MAX_COMPLEXITY', 30_000, 10, 10_000_000),
    maxAliases: intVar(env, 'GRAPHQL_MAX_ALIASES', 20, 0, 1000),
    maxDirectives: intVar(env, 'GRAPHQL_MAX_DIRECTIVES', 30, 0, 1000),
    maxTokens: intVar(env, 'GRAPHQL_MAX_TOKENS', 5000, 100, 1_000_000),
    maxPageSize: intVar(env, 'GRAPHQL_MAX_PAGE_SIZE', 500, 1, 500),
    maxCounts: intVar(env, 'GRAPHQL_MAX_COUNTS', 4, 1, 1000),
    maxBodyBytes: intVar(env, 'MAX_BODY_MB', 20, 1, 1024) * 1024 * 1024,
    maxUploadBytes: intVar(env, 'MAX_UPLOAD_MB', 500, 1, 10_240) * 1024 * 1024,
    rateLimitPerMinute: intVar(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 10_000_000),
    introspection: boolVar(env, 'GRAPHQL_INTROSPECTION', !production),
    healthTimeoutMs: intVar(env, 'HEALTH_TIMEOUT_MS', 2000, 100, 60_000),
    maxResponseBytes: intVar(env, 'GRAPHQL_MAX_RESPONSE_MB', 100, 1, 2048) * 1024 * 1024,
    expensivePerUser: intVar(env, 'EXPENSIVE_PER_USER', 2, 0, 1000),
    tileRatePerMinute: intVar(env, 'TILE_RATE_LIMIT_PER_MINUTE', 3000, 0, 10_000_000),
    exportRatePerMinute: intVar(env, 'EXPORT_RATE_LIMIT_PER_MINUTE', 30, 0, 10_000_000),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const port = Number(env.PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer 0..65535, got "${env.PORT}"`);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: path.resolve(env.DATA_DIR ?? 'data/pglite'),
    host: env.HOST ?? '127.0.0.1',
    port,
    basemapStyleUrl: env.BASEMAP_STYLE_URL || null,
    municipality: env.MUNICIPALITY ?? 'rubtsovsk',
    municipalities: (env.MUNICIPALITIES ?? '').split(',').map((c) => c.trim()).filter(Boolean),
    production: env.NODE_ENV === 'production',
    limits: loadLimits(env),
    database: loadDatabaseSettings(env),
  };
}

/**
 * WEB_CONCURRENCY: processes serving HTTP/GraphQL on the one port (Node cluster; server/cluster.ts). 1 (default) = one
 * process; `auto` = the number of CPU cores. Only with a real PostgreSQL (DATABASE_URL): the embedded database is one
 * connection inside one process.
 */
export function webConcurrency(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WEB_CONCURRENCY?.trim().toLowerCase();
  if (raw === 'auto') return Math.max(1, Math.min(64, os.availableParallelism()));
  return intVar(env, 'WEB_CONCURRENCY', 1, 1, 64);
}

/** Connections the primary of a cluster keeps for its schedulers (reports, retention); the workers share the rest. */
export const PRIMARY_POOL = 2;

/**
 * One worker's share of what the operator configured for the whole server, so that the totals stay as configured
 * whatever WEB_CONCURRENCY is: the pool (DATABASE_POOL_MAX less the primary's PRIMARY_POOL, split evenly, at least 2
 * a worker), heavy slots (HEAVY_CONCURRENCY split evenly, at least 1 and fewer than the worker's pool), the heavy
 * queue (HEAVY_QUEUE_MAX) and a user's expensive operations at once (EXPENSIVE_PER_USER, at least 1 a worker).
 * Where a setting is smaller than the number of workers, each worker gets the minimum (docs/operations.md).
 */
export function workerShare(database: DatabaseSettings, limits: Limits, workers: number): { database: DatabaseSettings; limits: Pick<Limits, 'expensivePerUser'> } {
  const split = (total: number, min: number) => Math.max(min, Math.floor(total / workers));
  const poolMax = split(database.poolMax - PRIMARY_POOL, 2);
  return {
    database: {
      ...database,
      poolMax,
      poolMin: Math.min(poolMax, split(database.poolMin, 0)),
      heavyConcurrency: Math.min(poolMax - 1, split(database.heavyConcurrency, 1)),
      heavyQueueMax: Math.ceil(database.heavyQueueMax / workers),
    },
    limits: { expensivePerUser: limits.expensivePerUser > 0 ? split(limits.expensivePerUser, 1) : 0 },
  };
}
