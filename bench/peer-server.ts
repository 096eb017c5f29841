import http from 'node:http';
import pg from 'pg';

/**
 * The benchmark's peer (bench only): PostGraphile v4 at its defaults on the benchmark database, exposing the schema
 * `bench_peer` (the appeals page as an SQL function, bench/peer.ts) with its relations to district, theme and
 * organisation. `--custom-plans`: its connections use plan_cache_mode=force_custom_plan (PostGraphile runs named
 * prepared statements, which PostgreSQL switches to a generic plan after five executions).
 * Prints `peer: http://…` when it listens.
 */
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
const custom = process.argv.includes('--custom-plans');
// pg's default pool size is 10, as the hub's DATABASE_POOL_MAX.
const pool = new pg.Pool({ connectionString: url, max: 10, ...(custom ? { options: '-c plan_cache_mode=force_custom_plan' } : {}) });
// Loaded untyped: postgraphile's bundled type declarations clash with the project's @types (express, node).
const moduleName = 'postgraphile';
const { postgraphile } = (await import(moduleName)) as { postgraphile: (...args: unknown[]) => http.RequestListener };
const handler = postgraphile(pool, ['bench_peer', 'public'], {
  disableDefaultMutations: true,
  graphiql: false,
  disableQueryLog: true,
  retryOnInitFail: false,
  setofFunctionsContainNulls: false,
  ignoreRBAC: true,
});
const server = http.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as { port: number };
  console.log(`peer: http://127.0.0.1:${a.port}`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
});
