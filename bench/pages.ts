import pg from 'pg';
import type { App } from '../server/app.js';
import { query } from '../server/db/sql.js';
import { PageService } from '../server/pages/service.js';
import { ensurePageCategories } from '../server/pages/config.js';
import { median, type SummaryRow } from './lib.js';

/**
 * Official pages (issue 14): checks and rating of `pages` pages × `months` months (default 500 × 24), target ≤ 1 s.
 * The statistics are generated set-based (generate_series × hashtext) in months 2023-01… so they never mix with the
 * demo's recent months. ours = PageService.recompute(from, to): one query for the figures and targets, the checks and
 * scores of every page × month, the organisations' means, written to org_indicator_value. baseline = the same
 * aggregate (organisation × month mean of page scores, same formulas incl. the ПОС link pattern and ОГРН check digit)
 * as one raw SQL query, without writing. The two must agree (max difference reported in the notes).
 */
const BASELINE = `
WITH f AS (
  SELECT p.id, p.organization_id AS org, s.month, p.platform, p.verified, p.pos_widget, p.pos_widget_url, p.comments_open,
         p.has_cover AND p.has_description AS design, p.ogrn, c.min_posts_per_week, c.min_er_post, c.min_er_month, c.min_reach_share,
         c.max_reply_hours, c.min_answered_share, c.require_verified, c.require_pos_widget, c.require_open_comments, c.require_design,
         s.posts / (extract(day FROM s.month + interval '1 month' - interval '1 day') / 7.0) AS ppw,
         (s.likes + s.reposts + s.comments)::float8 AS i, s.posts, s.subscribers,
         CASE WHEN coalesce(cm.comments, 0) > 0 THEN cm.comments ELSE s.comments END AS cc,
         CASE WHEN coalesce(cm.comments, 0) > 0 THEN cm.answered ELSE s.comments_answered END AS ans,
         CASE WHEN coalesce(cm.comments, 0) > 0 THEN cm.reply_median_work_minutes ELSE s.reply_median_minutes END AS rm,
         mu.population AS pop
    FROM official_page p JOIN official_page_stat s ON s.page_id = p.id JOIN page_category c ON c.id = p.category_id
    JOIN municipality mu ON mu.id = p.municipality_id
    LEFT JOIN official_page_comment_month cm ON cm.page_id = s.page_id AND cm.month = s.month
   WHERE p.municipality_id = $1 AND p.active AND s.month BETWEEN $2::date AND $3::date
), k AS (
  SELECT f.id, f.org, f.month, x.w, x.a FROM f CROSS JOIN LATERAL (VALUES
    (20, CASE WHEN min_posts_per_week IS NULL THEN NULL WHEN min_posts_per_week <= 0 THEN 1 ELSE least(1, ppw / min_posts_per_week) END),
    (10, CASE WHEN platform = 'WEBSITE' OR min_er_post IS NULL OR posts = 0 OR subscribers = 0 THEN NULL WHEN min_er_post <= 0 THEN 1 ELSE least(1, (i / posts / subscribers * 100) / min_er_post) END),
    (10, CASE WHEN platform = 'WEBSITE' OR min_er_month IS NULL OR subscribers = 0 THEN NULL WHEN min_er_month <= 0 THEN 1 ELSE least(1, (i / subscribers * 100) / min_er_month) END),
    (15, CASE WHEN platform = 'WEBSITE' OR min_reach_share IS NULL OR coalesce(pop, 0) = 0 THEN NULL WHEN min_reach_share <= 0 THEN 1 ELSE least(1, (subscribers::float8 / pop) / min_reach_share) END),
    (15, CASE WHEN platform = 'WEBSITE' OR max_reply_hours IS NULL OR cc = 0 OR rm IS NULL THEN NULL WHEN rm / 60 <= max_reply_hours THEN 1 ELSE max_reply_hours / (rm / 60) END),
    (10, CASE WHEN platform = 'WEBSITE' OR min_answered_share IS NULL OR cc = 0 OR ans IS NULL THEN NULL WHEN min_answered_share <= 0 THEN 1 ELSE least(1, (ans::float8 / cc) / min_answered_share) END),
    (5, CASE WHEN platform NOT IN ('VK', 'OK', 'MAX') OR NOT require_verified THEN NULL WHEN verified THEN 1 ELSE 0 END),
    (5, CASE WHEN platform NOT IN ('VK', 'OK', 'WEBSITE') OR NOT require_pos_widget THEN NULL
             WHEN pos_widget AND pos_widget_url ~ ('^https://pos\\.gosuslugi\\.ru/form/?\\?opaId=[0-9]+&utm_source=vk&utm_medium=' || $4 || '&utm_campaign=[0-9]{13}$')
                  AND (right(pos_widget_url, 13) = ogrn OR ogrn IS NULL)
                  AND left(right(pos_widget_url, 13), 12)::bigint % 11 % 10 = right(pos_widget_url, 1)::int THEN 1 ELSE 0 END),
    (5, CASE WHEN platform = 'WEBSITE' OR NOT require_open_comments THEN NULL WHEN comments_open THEN 1 ELSE 0 END),
    (5, CASE WHEN NOT require_design THEN NULL WHEN design THEN 1 ELSE 0 END)
  ) AS x(w, a) WHERE x.a IS NOT NULL
), pm AS (
  SELECT id, org, month, round((sum(w * a) / sum(w) * 100)::numeric, 1) AS score FROM k GROUP BY id, org, month
)
SELECT org, to_char(month, 'YYYY-MM-DD') AS month, round(avg(score), 1)::float8 AS score, count(*)::int AS pages FROM pm GROUP BY org, month`;

export async function benchPages(app: App, backend: SummaryRow['backend'], pages: number, months: number, log: (m: string) => void, report: (r: SummaryRow) => void): Promise<void> {
  const em = app.orm.em.fork();
  const mun = app.municipalityId;
  await ensurePageCategories(em, mun);
  const from = '2023-01-01';
  const [{ to }] = await query<{ to: string }>(em, `SELECT to_char(?::date + (? - 1) * interval '1 month', 'YYYY-MM-DD') AS to`, [from, months]);
  const t0 = performance.now();
  await query(em, `DELETE FROM official_page WHERE municipality_id = ? AND url_key LIKE 'vk.com/bench\\_%'`, [mun]);
  await query(em, `
    INSERT INTO official_page (municipality_id, organization_id, platform, url, url_key, name, category_id, verified, pos_widget, pos_widget_url,
                               comments_open, has_cover, has_description, ogrn)
    SELECT ?, o.ids[1 + g % array_length(o.ids, 1)], CASE WHEN g % 10 = 0 THEN 'OK' ELSE 'VK' END,
           'https://vk.com/bench_' || g, 'vk.com/bench_' || g, 'Страница ' || g, c.ids[1 + g % array_length(c.ids, 1)],
           g % 5 <> 0, g % 4 <> 0,
           'https://pos.gosuslugi.ru/form/' || chr(63) || 'opaId=' || (100000 + g) || '&utm_source=vk&utm_medium=' || CASE WHEN g % 7 = 0 THEN '54' ELSE '22' END
             || '&utm_campaign=' || (102220000000 + g) || ((102220000000 + g) % 11 % 10),
           g % 9 <> 0, g % 3 <> 0, true, (102220000000 + g)::text || ((102220000000 + g) % 11 % 10)
      FROM generate_series(1, ?) g,
           (SELECT array_agg(id ORDER BY id) AS ids FROM organization WHERE municipality_id = ?) o,
           (SELECT array_agg(id ORDER BY id) AS ids FROM page_category WHERE municipality_id = ?) c`, [mun, pages, mun, mun]);
  await query(em, `
    INSERT INTO official_page_stat (page_id, month, municipality_id, posts, views, likes, reposts, comments, subscribers, comments_answered, reply_median_minutes, source)
    SELECT p.id, m::date, ?, h.posts, h.posts * h.subs / 3, h.posts * h.subs * h.e / 2000, h.posts * h.subs * h.e / 16000, h.com, h.subs,
           h.com * (50 + abs(hashtext(p.id || m::text || 'a')) % 51) / 100, abs(hashtext(p.id || m::text || 'r')) % 1500, 'bench'
      FROM official_page p
     CROSS JOIN generate_series(?::date, ?::date, interval '1 month') m
     CROSS JOIN LATERAL (SELECT 1 + abs(hashtext(p.id || m::text || 'p')) % 40 AS posts, 300 + abs(hashtext(p.id || m::text || 's')) % 20000 AS subs,
                                1 + abs(hashtext(p.id || m::text || 'e')) % 8 AS e, abs(hashtext(p.id || m::text || 'c')) % 60 AS com) h
     WHERE p.municipality_id = ? AND p.url_key LIKE 'vk.com/bench\\_%'`, [mun, from, to, mun]);
  await query(em, `
    INSERT INTO official_page_comment_month (page_id, month, municipality_id, comments, answered, reply_median_work_minutes, reply_median_minutes)
    SELECT s.page_id, s.month, ?, 1 + abs(hashtext(s.page_id || s.month::text || 'k')) % 30 AS c, 0, abs(hashtext(s.page_id || s.month::text || 'w')) % 1200, 0
      FROM official_page_stat s JOIN official_page p ON p.id = s.page_id
     WHERE p.municipality_id = ? AND p.url_key LIKE 'vk.com/bench\\_%' AND s.page_id % 2 = 0`, [mun, mun]);
  await query(em, `UPDATE official_page_comment_month SET answered = comments * (40 + abs(hashtext(page_id || month::text || 'q')) % 61) / 100
    WHERE page_id IN (SELECT id FROM official_page WHERE municipality_id = ? AND url_key LIKE 'vk.com/bench\\_%')`, [mun]);
  await em.execute('ANALYZE official_page, official_page_stat, official_page_comment_month');
  const [{ n }] = await query<{ n: number }>(em, `SELECT count(*)::int AS n FROM official_page_stat WHERE municipality_id = ? AND month BETWEEN ?::date AND ?::date`, [mun, from, to]);
  log(`[${backend}] официальные страницы: ${pages} × ${months} = ${n} строк статистики за ${((performance.now() - t0) / 1000).toFixed(1)} с`);

  const svc = new PageService(em, { municipalityId: mun, actor: 'bench' });
  const raw = new pg.Client({ connectionString: app.databaseUrl });
  await raw.connect();
  try {
    await svc.recompute(from, to); // warm-up
    await raw.query(BASELINE, [mun, from, to, '22']);
    const ours: number[] = [];
    const base: number[] = [];
    let baseRows: { org: number; month: string; score: number }[] = [];
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      await svc.recompute(from, to);
      ours.push(performance.now() - t);
      t = performance.now();
      baseRows = (await raw.query(BASELINE, [mun, from, to, '22'])).rows;
      base.push(performance.now() - t);
    }
    const written = new Map((await query<{ org: number; month: string; value: number }>(em,
      `SELECT organization_id AS org, to_char(period_start, 'YYYY-MM-DD') AS month, value FROM org_indicator_value
        WHERE municipality_id = ? AND indicator = 'official_pages_score' AND period_start BETWEEN ?::date AND ?::date`, [mun, from, to])).map((r) => [`${r.org}|${r.month}`, r.value]));
    let maxDiff = 0;
    let missing = 0;
    for (const b of baseRows) {
      const w = written.get(`${b.org}|${b.month}`);
      if (w === undefined) missing++;
      else maxDiff = Math.max(maxDiff, Math.abs(w - b.score));
    }
    const o = median(ours) / 1000, b = median(base) / 1000;
    report({
      name: `official pages: checks and rating of ${pages} pages × ${months} months (write to org_indicator_value) vs the same aggregate as one SQL query`,
      backend, n, ours: o, baseline: b, ratio: o / b, unit: 's', target: '≤ 1 s', date: new Date().toISOString().slice(0, 10),
      notes: `${baseRows.length} organisation-months; agreement with the SQL aggregate: max |difference| ${maxDiff.toFixed(2)} points, ${missing} missing; runs ${ours.map((x) => (x / 1000).toFixed(2)).join('/')} s`,
    } as SummaryRow);
    if (missing || maxDiff > 0.15) throw new Error(`official pages bench: our scores differ from the SQL aggregate (max ${maxDiff}, missing ${missing})`);
  } finally {
    await raw.end();
    // PAGES_BENCH_KEEP=1 leaves the generated pages for inspection (EXPLAIN); otherwise the bench cleans up.
    if (process.env.PAGES_BENCH_KEEP) return;
    await query(em, `DELETE FROM org_indicator_value WHERE municipality_id = ? AND indicator = 'official_pages_score' AND period_start BETWEEN ?::date AND ?::date`, [mun, from, to]);
    await query(em, `DELETE FROM official_page WHERE municipality_id = ? AND url_key LIKE 'vk.com/bench\\_%'`, [mun]);
  }
}
