import pg from 'pg';
import type { App } from '../server/app.js';
import { query } from '../server/db/sql.js';
import { RatingService } from '../server/rating/service.js';
import { median, type SummaryRow } from './lib.js';

/**
 * Rating of bodies and organisations (issue 12, item 6): the year rating of every organisation.
 *   ours     = RatingService.rating({ kind: YEAR }) — settings, the one-pass aggregate of the year and the previous year,
 *              the indicators, normalisation, score, ranks (what the GraphQL query and the export call);
 *   baseline = the same aggregate (both years, every factor) written by hand as ONE raw SQL statement on a raw pg client.
 * Target: ≤ 1.5 s at 1 000 000 appeals and ratio ≤ 1.3. Also reported: the GraphQL query over HTTP.
 *
 * Setup: until server/deadlines and server/quality are merged, the demo data has no answer_due_at, answer_minutes or
 * answer_quality. When they are missing they are filled here with set-based UPDATE / INSERT … SELECT (due = received +
 * 8 days, at risk 2 days before, working minutes ≈ 0.3 × calendar minutes, a formal verdict for ~30 % of answers,
 * a repeat link for 2 % of appeals), then VACUUM ANALYZE so the index-only scan is possible.
 */
export async function benchRating(app: App, backend: SummaryRow['backend'], n: number, log: (m: string) => void, report: (r: SummaryRow) => void, iterations = 7): Promise<void> {
  const em = app.orm.em.fork();
  const [mun] = await query<{ id: number }>(em, 'SELECT id FROM municipality ORDER BY id LIMIT 1');
  const mid = mun.id;
  const [missing] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ? AND answer_due_at IS NULL', [mid]);
  const filled: string[] = [];
  if (missing.n > 0) {
    const t = Date.now();
    await query(em, `UPDATE appeal SET answer_due_at = coalesce(due_at, received_at + interval '8 days'),
        answer_at_risk_at = coalesce(due_at, received_at + interval '8 days') - interval '2 days',
        answer_minutes = CASE WHEN answered_at IS NULL THEN NULL ELSE greatest(0, (extract(epoch FROM answered_at - received_at) / 60 * 0.3)::int) END,
        urgent = (id % 37 = 0)
      WHERE municipality_id = ? AND answer_due_at IS NULL`, [mid]);
    filled.push(`deadline columns of ${missing.n} appeals (${((Date.now() - t) / 1000).toFixed(0)} s)`);
  }
  const [q] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM answer_quality WHERE municipality_id = ?', [mid]);
  if (q.n === 0) {
    await query(em, `INSERT INTO answer_quality (appeal_id, municipality_id, verdict, model_verdict, score)
      SELECT id, municipality_id, CASE WHEN abs(hashint4(id)) % 10 < 3 THEN 'FORMAL' ELSE 'SUBSTANTIVE' END, CASE WHEN abs(hashint4(id)) % 10 < 3 THEN 'FORMAL' ELSE 'SUBSTANTIVE' END, 0.5
        FROM appeal WHERE municipality_id = ? AND answered_at IS NOT NULL ON CONFLICT DO NOTHING`, [mid]);
    filled.push('answer_quality verdicts');
  }
  const [r] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ? AND repeat_of_id IS NOT NULL', [mid]);
  if (r.n === 0) {
    await query(em, `UPDATE appeal a SET repeat_of_id = p.id FROM appeal p
      WHERE a.municipality_id = ? AND a.id % 50 = 0 AND p.id = a.id - 1 AND p.received_at < a.received_at`, [mid]);
    filled.push('repeat links (2 %)');
  }
  if (filled.length) {
    log(`[${backend}] рейтинг: заполнены поля контракта — ${filled.join(', ')}`);
    await query(em, 'VACUUM (ANALYZE) appeal');
    await query(em, 'VACUUM (ANALYZE) answer_quality');
  }
  // The year with the most appeals, and the time zone's bounds of it and of the previous year.
  const [y] = await query<{ y: number }>(em, `SELECT extract(year FROM received_at AT TIME ZONE 'Asia/Barnaul')::int AS y FROM appeal WHERE municipality_id = ?
    GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`, [mid]);
  const year = y.y;
  const [tz] = await query<{ timezone: string }>(em, 'SELECT timezone FROM municipality WHERE id = ?', [mid]);
  const [b] = await query<{ p0: Date; p1: Date; p2: Date }>(em, `SELECT (?::date)::timestamp AT TIME ZONE ?::text AS p0, (?::date)::timestamp AT TIME ZONE ?::text AS p1,
    (?::date)::timestamp AT TIME ZONE ?::text AS p2`, [`${year - 1}-01-01`, tz.timezone, `${year}-01-01`, tz.timezone, `${year + 1}-01-01`, tz.timezone]);
  const [cnt] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ? AND received_at >= ? AND received_at < ?', [mid, b.p1, b.p2]);

  // The raw client is connected only around each baseline run: on the embedded backend a second open connection
  // slows every statement of the other (pglite-socket multiplexes them), which would penalise ours.
  const withRaw = async <T>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: app.databaseUrl });
    await c.connect();
    try { return await f(c); } finally { await c.end(); }
  };
  const baselineSql = `
    WITH rep AS (SELECT repeat_of_id AS id, max(received_at) AS last_repeat FROM appeal
                  WHERE municipality_id = $1 AND repeat_of_id IS NOT NULL AND received_at >= $2 GROUP BY repeat_of_id)
    SELECT a.organization_id, a.received_at >= $3 AS cur, count(*),
      count(*) FILTER (WHERE a.answer_due_at IS NOT NULL AND (a.answered_at IS NOT NULL OR (a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at <= $5))),
      count(*) FILTER (WHERE a.answered_at <= a.answer_due_at), count(a.answered_at),
      percentile_cont(0.5) WITHIN GROUP (ORDER BY a.answer_minutes),
      count(*) FILTER (WHERE a.answered_at IS NULL AND a.status IN ('NEW', 'IN_PROGRESS') AND a.answer_due_at <= $5),
      count(q.verdict), count(*) FILTER (WHERE q.verdict = 'FORMAL'),
      count(a.satisfaction), avg(a.satisfaction), count(*) FILTER (WHERE a.satisfaction >= 4),
      count(*) FILTER (WHERE rep.last_repeat > a.answered_at)
    FROM appeal a LEFT JOIN answer_quality q ON q.appeal_id = a.id LEFT JOIN rep ON rep.id = a.id
    WHERE a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at < $4 AND a.organization_id IS NOT NULL
    GROUP BY 1, 2`;
  const svc = new RatingService(em, { municipalityId: mid, actor: 'bench' });
  const gql = `query($p: RatingPeriodInput!) { organizationRating(period: $p) { rows { organizationId score rank previousRank breakdown { factor points } } } }`;
  const ours: number[] = [];
  const base: number[] = [];
  const http: number[] = [];
  let rows = 0;
  {
    const plan = await withRaw((raw) => raw.query(`EXPLAIN ${baselineSql}`, [mid, b.p0, b.p1, b.p2, new Date()]));
    log(`[${backend}] рейтинг: план базового запроса:\n${plan.rows.map((x) => `    ${x['QUERY PLAN']}`).join('\n')}`);
    await svc.rating({ kind: 'YEAR', start: `${year}-01-01` }); // warm-up
    for (let i = 0; i < iterations; i++) {
      base.push(await withRaw(async (raw) => {
        const t0 = performance.now();
        await raw.query(baselineSql, [mid, b.p0, b.p1, b.p2, new Date()]);
        return performance.now() - t0;
      }));
      let t = performance.now();
      const res = await svc.rating({ kind: 'YEAR', start: `${year}-01-01` });
      ours.push(performance.now() - t);
      rows = res.rows.length;
      t = performance.now();
      const h = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: gql, variables: { p: { kind: 'YEAR', start: `${year}-01-01` } } }) });
      const body = (await h.json()) as { errors?: unknown };
      if (body.errors) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
      http.push(performance.now() - t);
    }
  }
  const o = median(ours) / 1000, bl = median(base) / 1000;
  report({
    name: 'rating: year rating of every organisation vs the same aggregate as one raw SQL query', backend, n, ours: o, baseline: bl, ratio: o / bl, unit: 's',
    target: '≤ 1.5 s, ratio ≤ 1.3', date: new Date().toISOString().slice(0, 10),
    notes: `${year}: ${cnt.n} appeals in the year (+ previous year), ${rows} organisations; GraphQL over HTTP median ${(median(http) / 1000).toFixed(2)} s; `
      + `runs ${ours.map((x) => (x / 1000).toFixed(2)).join('/')} s${filled.length ? '; contract columns filled by the bench setup' : ''}`,
  });
}
