import 'reflect-metadata';
import pg from 'pg';
import { createOrm } from './dist/server/db/orm.js';
import { query } from './dist/server/db/sql.js';
const url = 'postgres://postgres@127.0.0.1:5432/mcu_bench_100000';
const orm = await createOrm({ url, embedded: false });
const c = new pg.Client({ connectionString: url }); await c.connect();
const COLS = `a.id, a.municipality_id, a.channel, a.external_id, a.received_at, a.author_kind, a.text, a.address, ST_AsGeoJSON(a.point, 7)::json AS point, a.district_id, a.theme_id, a.organization_id, a.status, a.due_at, a.first_response_at, a.answered_at, a.answer_text, a.satisfaction, a.created_at, a.updated_at`;
const sql = (ph) => `SELECT ${COLS} FROM appeal a WHERE a.municipality_id = ${ph(1)} AND a.received_at >= ${ph(2)} AND a.received_at < ${ph(3)} AND a.point && ST_MakeEnvelope(81.18, 51.5, 81.22, 51.52, 4326) ORDER BY a.received_at DESC, a.id DESC LIMIT 101`;
const P = [1, '2025-03-01', '2025-06-01'];
const A = [], B = [], C = [];
const em = orm.em.fork();
const knex = em.getConnection().getKnex();
for (let i = 0; i < 80; i++) {
  let t = performance.now(); await c.query(sql((i) => '$' + i), P); A.push(performance.now() - t);
  t = performance.now(); await query(em, sql(() => '?'), P); B.push(performance.now() - t);
  t = performance.now(); await knex.raw(sql(() => '?'), P); C.push(performance.now() - t);
}
const med = (x) => x.sort((p, q) => p - q)[x.length >> 1].toFixed(2);
console.log('pg', med(A), 'orm', med(B), 'knex', med(C));
await c.end(); await orm.close();
