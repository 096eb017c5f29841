import http from 'node:http';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
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
// npm nests PostGraphile's graphql@15 twice (under postgraphile/ and under graphile-build-pg/), and two copies of
// graphql in one schema fail ("Cannot use GraphQLScalarType from another module or realm"): every require of
// graphql or graphile-build in this process resolves to PostGraphile's own copy.
const require = createRequire(import.meta.url);
const peerDir = path.dirname(require.resolve('postgraphile/package.json'));
const shared: Record<string, string> = {};
for (const name of ['graphql', 'graphile-build']) {
  try {
    shared[name] = path.dirname(createRequire(path.join(peerDir, 'index.js')).resolve(`${name}/package.json`));
  } catch {
    // not nested: the one copy is found the usual way
  }
}
const M = Module as unknown as { _resolveFilename: (request: string, parent: unknown, ...rest: unknown[]) => string };
const resolve = M._resolveFilename;
M._resolveFilename = function (request: string, parent: unknown, ...rest: unknown[]) {
  const name = Object.keys(shared).find((n) => request === n || request.startsWith(`${n}/`));
  if (name) return resolve.call(this, shared[name] + request.slice(name.length), parent, ...rest);
  return resolve.call(this, request, parent, ...rest);
};
// Loaded untyped: postgraphile's bundled type declarations clash with the project's @types (express, node).
const moduleName = 'postgraphile';
const { postgraphile } = require(moduleName) as { postgraphile: (...args: unknown[]) => http.RequestListener };
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
