import type { App } from '../server/app.js';
import { query } from '../server/db/sql.js';
import { CATALOGUE, monthlyAggregates } from '../server/indicators/catalogue.js';
import { IndicatorService, clearIndicatorCache } from '../server/indicators/service.js';
import { median, type SummaryRow } from './lib.js';

/**
 * The dashboard «Показатели» (issue 19): 50 indicators × 24 months on the benchmark database.
 *  - warm: the dashboard as users open it (monthly aggregates cached per period and data version); target ≤ 500 ms;
 *  - cold: the first opening after the data changed (cache cleared), against the baseline of the one raw aggregate
 *    query the catalogue runs (GROUPING SETS over the period's appeals) — the floor of computing the values at all.
 */
export async function benchIndicators(app: App, backend: SummaryRow['backend'], n: number, iterations: number): Promise<SummaryRow[]> {
  const em = app.orm.em.fork();
  const [mun] = await query<{ id: number }>(em, 'SELECT id FROM municipality ORDER BY id LIMIT 1');
  const [span] = await query<{ hi: string }>(em, `SELECT to_char(max(received_at), 'YYYY-MM') AS hi FROM appeal WHERE municipality_id = ?`, [mun.id]);
  const to = span.hi;
  const toDate = new Date(`${to}-01T00:00:00Z`);
  const from = new Date(Date.UTC(toDate.getUTCFullYear(), toDate.getUTCMonth() - 23, 1)).toISOString().slice(0, 7);
  const svc = new IndicatorService(em, { municipalityId: mun.id, actor: 'bench' });
  // Fill the complex up to 50 indicators: every catalogue query for the city, each block and some themes.
  const have = (await svc.list(true)).length;
  const blocks = await query<{ code: string }>(em, 'SELECT code FROM thematic_block WHERE municipality_id = ? ORDER BY id', [mun.id]);
  const themes = await query<{ code: string }>(em, `SELECT code FROM theme WHERE municipality_id = ? AND code LIKE '%.%' ORDER BY id`, [mun.id]);
  const scopes = [...blocks.map((b) => ({ block: b.code })), ...themes.map((t) => ({ theme: t.code }))];
  for (let i = have, k = 0; i < 50; i++, k++) {
    const q = CATALOGUE[k % CATALOGUE.length];
    const scope = scopes[k % scopes.length];
    await svc.create({ code: `bench.${k}`, name: `${q.name} (${Object.values(scope)[0]})`, unit: q.unit as never, direction: q.direction as never,
      source: 'COMPUTED' as never, queryCode: q.code, params: scope, block: 'block' in scope ? scope.block : undefined });
  }
  const count = (await svc.list()).length;
  const warm: number[] = [];
  const cold: number[] = [];
  const raw: number[] = [];
  const last = `${to}`;
  for (let i = 0; i < Math.max(5, Math.min(iterations, 20)); i++) {
    let t = performance.now();
    await monthlyAggregates(em, mun.id, `${from}-01`, `${last}-01`);
    raw.push(performance.now() - t);
    clearIndicatorCache();
    t = performance.now();
    const d = await svc.dashboard(from, to, new Date(`${to}-15T00:00:00Z`));
    cold.push(performance.now() - t);
    if (d.cached) throw new Error('cold dashboard came from the cache');
    t = performance.now();
    await svc.dashboard(from, to, new Date(`${to}-15T00:00:00Z`));
    warm.push(performance.now() - t);
  }
  const date = new Date().toISOString().slice(0, 10);
  const rawMs = median(raw);
  return [
    { name: `indicator dashboard ${count}×24 months (cached)`, backend, n, ours: median(warm), baseline: rawMs, ratio: median(warm) / rawMs, unit: 'ms', target: '≤ 500 ms', date,
      notes: 'baseline: the catalogue\'s aggregate query alone' },
    { name: `indicator dashboard ${count}×24 months (after a data change)`, backend, n, ours: median(cold), baseline: rawMs, ratio: median(cold) / rawMs, unit: 'ms', target: 'report', date,
      notes: 'cache cleared; baseline: the catalogue\'s aggregate query alone' },
  ];
}
