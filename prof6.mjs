import 'reflect-metadata';
import { createOrm } from './dist/server/db/orm.js';
import { AppealService } from './dist/server/appeals/service.js';
import { parseFilter } from './dist/server/appeals/filter.js';
const orm = await createOrm({ url: 'postgres://postgres@127.0.0.1:5432/mcu_bench_100000', embedded: false });
const f = parseFilter({ from: new Date('2025-03-01T00:00:00Z'), to: new Date('2025-06-01T00:00:00Z'), bbox: { minLon: 81.18, minLat: 51.5, maxLon: 81.22, maxLat: 51.52 } }, 1);
const T = { check: [], page: [], count: [] };
for (let i = 0; i < 60; i++) {
  const em = orm.em.fork(); const s = new AppealService(em);
  let t = performance.now(); await s.checkReferences(f); T.check.push(performance.now() - t);
  t = performance.now(); await s.page(f, 100); T.page.push(performance.now() - t);
  t = performance.now(); await s.count(f); T.count.push(performance.now() - t);
}
const med = (x) => x.sort((p, q) => p - q)[x.length >> 1].toFixed(2);
console.log(Object.entries(T).map(([k, v]) => k + ' ' + med(v)).join('  '));
await orm.close();
