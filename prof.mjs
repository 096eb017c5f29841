import { startApp } from './dist/server/app.js';
let qs = [];
const app = await startApp({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/mcu_bench_100000', port: 0, log: () => {}, onQuery: (s) => qs.push(s.replace(/\s+/g, ' ').slice(9, 50) + ' ' + s.match(/took [^,\]]*/)?.[0]) });
const query = `query Bench($filter: AppealFilter) { appeals(first: 100, filter: $filter) { totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id externalId receivedAt channel status text address point district { id name } theme { id name } organization { id name } } } } }`;
const filter = { from: '2025-03-01T00:00:00Z', to: '2025-06-01T00:00:00Z', bbox: { minLon: 81.18, minLat: 51.5, maxLon: 81.22, maxLat: 51.52 } };
for (let i = 0; i < 60; i++) {
  qs = [];
  const t = performance.now();
  const r = await (await fetch(app.url + '/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { filter } }) })).json();
  const ms = performance.now() - t;
  if (i >= 56) console.log(ms.toFixed(1), qs.join(' | '));
}
await app.close();
