import 'reflect-metadata';
import { createOrm } from './dist/server/db/orm.js';
import { getSchema } from './dist/server/graphql/schema.js';
import { createContext } from './dist/server/graphql/context.js';
import { createRequire } from 'node:module';
const { execute, parse } = createRequire(import.meta.url)('graphql');
const orm = await createOrm({ url: 'postgres://postgres@127.0.0.1:5432/mcu_bench_100000', embedded: false });
const schema = await getSchema();
const doc = parse(`query Bench($filter: AppealFilter) { appeals(first: 100, filter: $filter) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id externalId receivedAt channel status text address point district { id name } theme { id name } organization { id name } } } } }`);
const filter = { from: '2025-03-01T00:00:00Z', to: '2025-06-01T00:00:00Z', bbox: { minLon: 81.18, minLat: 51.5, maxLon: 81.22, maxLat: 51.52 } };
const pg = (await import('pg')).default; const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/mcu_bench_100000' }); await c.connect();
const W = 'a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at < $3 AND a.point && ST_MakeEnvelope($4, $5, $6, $7, 4326)';
const P = [1, filter.from, filter.to, 81.18, 51.5, 81.22, 51.52];
const a = [], b = [], e = [];
for (let i = 0; i < 60; i++) {
  let t = performance.now();
  const r = await execute({ schema, document: doc, variableValues: { filter }, contextValue: createContext(orm, 1) });
  if (r.errors) console.log(r.errors);
  a.push(performance.now() - t);
  t = performance.now();
  await c.query(`SELECT a.id, a.text FROM appeal a WHERE ${W} ORDER BY a.received_at DESC, a.id DESC LIMIT 101`, P);
  await c.query(`SELECT count(*) FROM appeal a WHERE ${W}`, P);
  b.push(performance.now() - t);
  t = performance.now(); JSON.stringify(r); e.push(performance.now() - t);
}
const med = (x) => x.sort((p, q) => p - q)[x.length >> 1].toFixed(1);
console.log('graphql.execute', med(a), 'raw', med(b), 'stringify', med(e));
await c.end(); await orm.close();
