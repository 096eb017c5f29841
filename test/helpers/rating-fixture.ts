/**
 * A small rating fixture with known answers (computed by hand in test/rating.test.ts and docs/rating.md).
 * Period under test: March 2026 (Asia/Barnaul); previous period: February 2026. The contract columns that other
 * capabilities fill (answer_due_at, answer_at_risk_at, answer_minutes, urgent, answer_quality) are set directly.
 *
 *   teploseti (A, subordinate of uzhkh, gkh.heating): a1 on time 120 min ★5 substantive; a2 on time 240 min ★4 FORMAL;
 *             a3 late 600 min ★2 substantive, repeated after its answer by r1 (open, no due); a4 open, overdue.
 *             official_pages_score 80 for 2026-03. February: three on time, 100 min each.
 *   vodokanal (B, gkh.water): three on time, 960 / 1200 / 2640 min, ★5 ★5, all substantive.
 *             February: one open overdue, two late 5000 min.
 *   blag      (C, blag.yards): two late answers, 6000 min — below the minimum volume (3): listed, not ranked.
 *   uo        (D, social.education): on time 300 min FORMAL ★3; late 5000 min substantive; open overdue, urgent.
 *   At risk now: one urgent of A (due in 3 days), one of D (due in 1 day).
 */
export interface FixtureRow {
  key: string; org: string; theme: string; received: string; answered?: string | null; due?: string | null; atRisk?: string | null;
  minutes?: number | null; sat?: number | null; verdict?: 'FORMAL' | 'SUBSTANTIVE'; urgent?: boolean; repeatOf?: string;
}

const local = (d: string) => (d.length === 10 ? `${d}T12:00:00+07:00` : d);

export function fixtureRows(now = Date.now()): FixtureRow[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  return [
    { key: 'a1', org: 'teploseti', theme: 'gkh.heating', received: '2026-03-01', answered: '2026-03-02', due: '2026-03-05', minutes: 120, sat: 5, verdict: 'SUBSTANTIVE' },
    { key: 'a2', org: 'teploseti', theme: 'gkh.heating', received: '2026-03-02', answered: '2026-03-03', due: '2026-03-06', minutes: 240, sat: 4, verdict: 'FORMAL' },
    { key: 'a3', org: 'teploseti', theme: 'gkh.heating', received: '2026-03-03', answered: '2026-03-10', due: '2026-03-05', minutes: 600, sat: 2, verdict: 'SUBSTANTIVE' },
    { key: 'a4', org: 'teploseti', theme: 'gkh.heating', received: '2026-03-04', due: '2026-03-06', atRisk: '2026-03-05' },
    { key: 'r1', org: 'teploseti', theme: 'gkh.heating', received: '2026-03-12', repeatOf: 'a3' },
    { key: 'b1', org: 'vodokanal', theme: 'gkh.water', received: '2026-03-05', answered: '2026-03-06', due: '2026-03-09', minutes: 960, sat: 5, verdict: 'SUBSTANTIVE' },
    { key: 'b2', org: 'vodokanal', theme: 'gkh.water', received: '2026-03-06', answered: '2026-03-07', due: '2026-03-10', minutes: 1200, sat: 5, verdict: 'SUBSTANTIVE' },
    { key: 'b3', org: 'vodokanal', theme: 'gkh.water', received: '2026-03-07', answered: '2026-03-09', due: '2026-03-12', minutes: 2640, verdict: 'SUBSTANTIVE' },
    { key: 'c1', org: 'blag', theme: 'blag.yards', received: '2026-03-08', answered: '2026-03-25', due: '2026-03-12', minutes: 6000 },
    { key: 'c2', org: 'blag', theme: 'blag.yards', received: '2026-03-09', answered: '2026-03-26', due: '2026-03-13', minutes: 6000 },
    { key: 'd1', org: 'uo', theme: 'social.education', received: '2026-03-10', answered: '2026-03-11', due: '2026-03-20', minutes: 300, sat: 3, verdict: 'FORMAL' },
    { key: 'd2', org: 'uo', theme: 'social.education', received: '2026-03-11', answered: '2026-04-20', due: '2026-03-25', minutes: 5000, verdict: 'SUBSTANTIVE' },
    { key: 'd3', org: 'uo', theme: 'social.education', received: '2026-03-12', due: '2026-03-16', urgent: true },
    { key: 'pa1', org: 'teploseti', theme: 'gkh.heating', received: '2026-02-02', answered: '2026-02-03', due: '2026-02-05', minutes: 100 },
    { key: 'pa2', org: 'teploseti', theme: 'gkh.heating', received: '2026-02-03', answered: '2026-02-04', due: '2026-02-06', minutes: 100 },
    { key: 'pa3', org: 'teploseti', theme: 'gkh.heating', received: '2026-02-04', answered: '2026-02-05', due: '2026-02-07', minutes: 100 },
    { key: 'pb1', org: 'vodokanal', theme: 'gkh.water', received: '2026-02-05', due: '2026-02-10' },
    { key: 'pb2', org: 'vodokanal', theme: 'gkh.water', received: '2026-02-06', answered: '2026-02-25', due: '2026-02-10', minutes: 5000 },
    { key: 'pb3', org: 'vodokanal', theme: 'gkh.water', received: '2026-02-07', answered: '2026-02-26', due: '2026-02-11', minutes: 5000 },
    { key: 'ra', org: 'teploseti', theme: 'gkh.heating', received: iso(now - 86_400_000), due: iso(now + 3 * 86_400_000), atRisk: iso(now - 3_600_000), urgent: true },
    { key: 'rd', org: 'uo', theme: 'social.education', received: iso(now - 86_400_000), due: iso(now + 86_400_000), atRisk: iso(now - 3_600_000) },
  ];
}

type Sql = (q: string, params?: unknown[]) => Promise<any[]>;

/** Inserts the fixture; returns key → appeal id. */
export async function loadRatingFixture(sql: Sql, rows = fixtureRows(), prefix = 'RT'): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const r of rows) {
    const [x] = await sql(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, address, theme_id, organization_id, status,
        answered_at, answer_text, satisfaction, answer_due_at, due_at, answer_at_risk_at, answer_minutes, urgent, repeat_of_id)
      SELECT 1, 'POS', ?, ?::timestamptz, 'CITIZEN', ?, 'ул. Тестовая, 1', (SELECT id FROM theme WHERE code = ?), (SELECT id FROM organization WHERE code = ?),
        CASE WHEN ?::timestamptz IS NULL THEN 'IN_PROGRESS' ELSE 'ANSWERED' END, ?::timestamptz, CASE WHEN ?::timestamptz IS NULL THEN NULL ELSE 'Ответ ' || ? END,
        ?::smallint, ?::timestamptz, ?::timestamptz, ?::timestamptz, ?::int, ?, ?::int
      RETURNING id`,
    [`${prefix}-${r.key}`, local(r.received), `Обращение ${r.key}: нет отопления в квартире`, r.theme, r.org,
      r.answered ? local(r.answered) : null, r.answered ? local(r.answered) : null, r.answered ? local(r.answered) : null, r.key,
      r.sat ?? null, r.due ? local(r.due) : null, r.due ? local(r.due) : null, r.atRisk ? local(r.atRisk) : null, r.minutes ?? null, r.urgent ?? false,
      r.repeatOf ? ids.get(r.repeatOf) : null]);
    ids.set(r.key, x.id);
    if (r.verdict) {
      await sql(`INSERT INTO answer_quality (appeal_id, municipality_id, verdict, model_verdict, score, reasons) VALUES (?, 1, ?, ?, 0.5, ?::jsonb)`,
        [x.id, r.verdict, r.verdict, JSON.stringify(r.verdict === 'FORMAL' ? ['нет конкретного действия', 'шаблонная фраза «ваше обращение рассмотрено»'] : [])]);
    }
  }
  await sql(`INSERT INTO org_indicator_value (municipality_id, organization_id, indicator, period_start, period_end, value, source)
    VALUES (1, (SELECT id FROM organization WHERE code = 'teploseti'), 'official_pages_score', '2026-03-01', '2026-03-31', 80, 'test')`);
  return ids;
}
