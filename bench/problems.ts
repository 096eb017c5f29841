import pg from 'pg';
import type { App } from '../server/app.js';
import { query } from '../server/db/sql.js';
import { ProblemService } from '../server/problems/service.js';
import { median, mulberry32, type SummaryRow } from './lib.js';

/**
 * Territorial problem list (issue 5):
 *  - full recompute over every appeal of the database (the whole demo period) and over the default
 *    90-day window; ours = the recompute (second run of each period: the steady state, identities kept),
 *    baseline = one sequential read of the same appeals with the same projection arithmetic
 *    (the physical floor of any method that looks at every appeal). Target: ≤ 30 s.
 *  - incremental recompute after 1 000 new appeals (inserted near existing appeals, as an import would):
 *    ours = recomputeAround(new ids), baseline = the full recompute of the same window. Target: ≤ 2 s.
 */
export async function benchProblems(app: App, backend: SummaryRow['backend'], n: number, log: (m: string) => void, report: (r: SummaryRow) => void): Promise<void> {
  const em = app.orm.em.fork();
  const [mun] = await query<{ id: number }>(em, 'SELECT id FROM municipality ORDER BY id LIMIT 1');
  const svc = new ProblemService(em, { municipalityId: mun.id, actor: 'bench' });
  const [span] = await query<{ lo: string; hi: string }>(em, 'SELECT min(received_at) AS lo, max(received_at) AS hi FROM appeal WHERE municipality_id = ?', [mun.id]);
  const hi = new Date(new Date(span.hi).getTime() + 1000);
  const periods = [
    { name: 'whole period', from: new Date(span.lo), to: hi },
    { name: '90 days', from: new Date(hi.getTime() - 90 * 86_400_000), to: hi },
  ];
  const raw = new pg.Client({ connectionString: app.databaseUrl });
  await raw.connect();
  // Each figure is reported as soon as it is measured.
  const rows = { push: report };
  const date = new Date().toISOString().slice(0, 10);
  try {
    for (const p of periods) {
      const scan = async () => {
        const t = performance.now();
        await raw.query(`SELECT count(*), sum(x), sum(y) FROM (SELECT 6378137 * radians(ST_X(point)) AS x, 6378137 * ln(tan(pi() / 4 + radians(ST_Y(point)) / 2)) AS y
          FROM appeal WHERE municipality_id = $1 AND received_at >= $2 AND received_at < $3 AND point IS NOT NULL AND theme_id IS NOT NULL AND status <> 'REJECTED') s`,
          [mun.id, p.from, p.to]);
        return performance.now() - t;
      };
      const first = await svc.recompute(p.from, p.to);
      log(`[${backend}] пересчёт (${p.name}, первый): ${(first.ms / 1000).toFixed(1)} с, ${first.appeals} обращений, ${first.clusters} кластеров`);
      const ours: number[] = [];
      const base: number[] = [];
      let last = first;
      for (let i = 0; i < 3; i++) {
        base.push(await scan());
        const t = performance.now();
        last = await svc.recompute(p.from, p.to);
        ours.push(performance.now() - t);
      }
      const o = median(ours) / 1000, b = median(base) / 1000;
      rows.push({
        name: `problems: full recompute (${p.name}) vs one scan of the same appeals`, backend, n, ours: o, baseline: b, ratio: o / b, unit: 's', target: '≤ 30 s',
        date, notes: `${last.appeals} appeals in period, ${last.clusters} clusters, first run ${(first.ms / 1000).toFixed(1)} s; runs ${ours.map((x) => (x / 1000).toFixed(1)).join('/')} s`,
      });
    }

    // Incremental: 1 000 new appeals near existing ones of the last 90 days, then the recompute around them.
    const window = periods[1];
    const rnd = mulberry32(77);
    const inc: number[] = [];
    const full: number[] = [];
    let created = 0;
    for (let rep = 0; rep < 3; rep++) {
      const ids = (await query<{ id: number }>(em, `
        INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, district_id, theme_id, organization_id, status, author_key)
        SELECT a.municipality_id, a.channel, 'BENCH-' || ? || '-' || row_number() OVER (), ?::timestamptz - (random() * interval '3 days'), a.author_kind, a.text,
               ST_Translate(a.point, (random() - 0.5) * 0.002, (random() - 0.5) * 0.0015), a.district_id, a.theme_id, a.organization_id, 'NEW', 'bench-' || a.id
          FROM (SELECT * FROM appeal WHERE municipality_id = ? AND received_at >= ? AND point IS NOT NULL AND theme_id IS NOT NULL
                 ORDER BY md5(id::text || ?) LIMIT 1000) a
        RETURNING id`, [`${Date.now()}-${rep}`, window.to, mun.id, window.from, String(rnd())])).map((r) => r.id);
      const t = performance.now();
      const r = await svc.recomputeAround(ids);
      inc.push(performance.now() - t);
      created += r?.created ?? 0;
      const t2 = performance.now();
      await svc.recompute(window.from, window.to);
      full.push(performance.now() - t2);
    }
    const o = median(inc) / 1000, b = median(full) / 1000;
    rows.push({
      name: 'problems: incremental recompute after 1 000 new appeals vs full recompute (90 days)', backend, n, ours: o, baseline: b, ratio: o / b, unit: 's', target: '≤ 2 s',
      date, notes: `runs ${inc.map((x) => (x / 1000).toFixed(2)).join('/')} s; ${created} problems created by the increments`,
    });
  } finally {
    await raw.end();
    // Databases made before the index existed get it here (deleting appeals probes appeal.repeat_of_id).
    await query(em, 'CREATE INDEX IF NOT EXISTS appeal_repeat_of_idx ON appeal (repeat_of_id) WHERE repeat_of_id IS NOT NULL');
    await query(em, `DELETE FROM appeal WHERE municipality_id = ? AND external_id LIKE 'BENCH-%'`, [mun.id]);
  }
}
