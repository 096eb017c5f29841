import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { loadRatingFixture } from './helpers/rating-fixture.js';
import { Role } from '../server/auth/roles.js';
import { resolvePeriod } from '../server/rating/period.js';
import { parsePeriodCell } from '../server/rating/indicators.js';

/**
 * The rating of bodies and organisations on a fixture with hand-computed answers (test/helpers/rating-fixture.ts),
 * on every backend: factors, normalisation, score, ranks and change, minimum volume, block filter, the card and its
 * trend, the queues and their order, roles and row scope, settings (audited), indicator imports, the XLSX export.
 */

const RATING = `query R($period: RatingPeriodInput!, $blockId: ID) { organizationRating(period: $period, blockId: $blockId) {
  period { from to previousFrom previousTo label } blockId computedAt
  rows { organizationId name kind score ranked rank previousRank previousScore rankChange scoreChange satisfactionGoalMet
    figures { received dueJudged onTime onTimeShare medianAnswerMinutes overdueNow judged formal formalShare rated satisfactionMean satisfiedShare repeated repeatShare answered }
    breakdown { factor value normalized weight effectiveWeight points } }
  settings { minAppeals weights { factor weight } indicators { code weight } } } }`;
const CARD = `query C($id: ID!, $period: RatingPeriodInput!, $blockId: ID) { organizationRatingCard(organizationId: $id, period: $period, blockId: $blockId) {
  name rankedCount row { rank score } trend { month score figures { received } }
  overdue { totalCount edges { node { id urgent state } } } atRisk { totalCount edges { node { id urgent state minutesLeft } } }
  formalAnswers { id reasons answerText } formalAnswersTotal } }`;
const QUEUE = `query Q($state: ControlQueueState!, $org: ID, $block: ID, $first: Int, $after: String) { controlQueue(state: $state, organizationId: $org, blockId: $block, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id urgent state minutesLeft organizationName themeName answerDueAt } } } }`;
const SET = `mutation S($w: RatingWeightsInput, $iw: [IndicatorWeightInput!], $min: Int, $t: Int, $worst: Int, $goal: Float) {
  setRatingSettings(weights: $w, indicatorWeights: $iw, minAppeals: $min, answerTargetMinutes: $t, answerWorstMinutes: $worst, satisfactionGoal: $goal) {
    minAppeals weights { factor weight } indicators { code weight } updatedBy } }`;
const IMPORT = `mutation I($file: Upload!, $ps: String, $pe: String) { importOrgIndicators(file: $file, periodStart: $ps, periodEnd: $pe) { read inserted updated organizations indicators } }`;

const MARCH = { kind: 'MONTH', start: '2026-03-15' };

// Hand-computed (docs/rating.md, «Пример»): default weights, minimum volume 3, target 480 / worst 4800 minutes.
const W = { onTime: 0.25, answerTime: 0.1, overdue: 0.15, formal: 0.15, satisfaction: 0.15, repeats: 0.1, page: 0.05 };
const EXPECTED = {
  teploseti: (W.onTime * 50 + W.answerTime * 100 + W.overdue * 80 + W.formal * (200 / 3) + W.satisfaction * (200 / 3) + W.repeats * (200 / 3) + W.page * 80)
    / (W.onTime + W.answerTime + W.overdue + W.formal + W.satisfaction + W.repeats + W.page),
  vodokanal: (W.onTime * 100 + W.answerTime * (100 * 3600 / 4320) + W.overdue * 100 + W.formal * 100 + W.satisfaction * 100 + W.repeats * 100)
    / (W.onTime + W.answerTime + W.overdue + W.formal + W.satisfaction + W.repeats),
  uo: (W.onTime * (100 / 3) + W.answerTime * (100 * 2150 / 4320) + W.overdue * (200 / 3) + W.formal * 50 + W.satisfaction * 0 + W.repeats * 100)
    / (W.onTime + W.answerTime + W.overdue + W.formal + W.satisfaction + W.repeats),
  // February: teploseti all perfect; vodokanal: on time 0 of 3, median 5000 (0), overdue 1 of 3, no quality or ratings, repeats 0 of 2.
  prevTeploseti: 100,
  prevVodokanal: (W.overdue * (200 / 3) + W.repeats * 100) / (W.onTime + W.answerTime + W.overdue + W.repeats),
};

describe('rating periods (pure)', () => {
  it('resolves months, quarters, years and ranges with the previous period of the same length', () => {
    expect(resolvePeriod('MONTH', '2026-03-15')).toMatchObject({ from: '2026-03-01', to: '2026-04-01', prevFrom: '2026-02-01', prevTo: '2026-03-01', label: 'март 2026' });
    expect(resolvePeriod('QUARTER', '2026-01-10')).toMatchObject({ from: '2026-01-01', to: '2026-04-01', prevFrom: '2025-10-01' });
    expect(resolvePeriod('YEAR', '2025-06-01')).toMatchObject({ from: '2025-01-01', to: '2026-01-01', prevFrom: '2024-01-01' });
    expect(resolvePeriod('CUSTOM', '2026-03-01', '2026-03-10')).toMatchObject({ from: '2026-03-01', to: '2026-03-11', prevFrom: '2026-02-19', prevTo: '2026-03-01' });
    expect(() => resolvePeriod('CUSTOM', '2026-03-10', '2026-03-01')).toThrow(/раньше начала/);
    expect(() => resolvePeriod('MONTH', '2026-02-30')).toThrow(/такой даты нет/);
    expect(() => resolvePeriod('CUSTOM', '2020-01-01', '2026-01-01')).toThrow(/трёх лет/);
    expect(() => resolvePeriod('MONTH', '15.03.2026')).toThrow(/ГГГГ-ММ-ДД/);
  });
  it('reads period cells of an indicator table', () => {
    expect(parsePeriodCell('2026-03')).toEqual(['2026-03-01', '2026-03-31']);
    expect(parsePeriodCell('2026-Q2')).toEqual(['2026-04-01', '2026-06-30']);
    expect(parsePeriodCell('2026-К1')).toEqual(['2026-01-01', '2026-03-31']);
    expect(parsePeriodCell('2024')).toEqual(['2024-01-01', '2024-12-31']);
    expect(parsePeriodCell('2026-02-01..2026-02-28')).toEqual(['2026-02-01', '2026-02-28']);
    expect(parsePeriodCell('2026-13')).toBeNull();
    expect(parsePeriodCell('2026-02-30..2026-03-01')).toBeNull();
    expect(parsePeriodCell('март')).toBeNull();
  });
});

describe.each(backends)('rating of bodies and organisations on %s', (backend) => {
  let app: TestApp;
  let ids: Map<string, number>;
  let org: Map<string, string>;
  let blocks: Map<string, string>;

  const rating = async (period: Record<string, unknown> = MARCH, blockId?: string, role?: Role) => {
    const r = role ? await app.gqlAs(role, RATING, { period, blockId }) : await app.gql(RATING, { period, blockId });
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    return r.data.organizationRating;
  };
  const row = (r: any, code: string) => r.rows.find((x: any) => x.organizationId === org.get(code));

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
    ids = await loadRatingFixture((q, p) => app.sql(q, p));
    org = new Map((await app.sql<{ id: number; code: string }>('SELECT id, code FROM organization')).map((o) => [o.code, String(o.id)]));
    blocks = new Map((await app.sql<{ id: number; code: string }>('SELECT id, code FROM thematic_block')).map((o) => [o.code, String(o.id)]));
    const s = await app.gql(SET, { min: 3 });
    expect(s.errors).toBeUndefined();
  }, 120_000);
  afterAll(async () => app?.close());

  it('computes every factor, the score, the ranks and the change exactly as by hand', async () => {
    const r = await rating();
    expect(r.period).toMatchObject({ from: '2026-03-01', to: '2026-04-01', previousFrom: '2026-02-01' });
    const a = row(r, 'teploseti');
    expect(a.figures).toMatchObject({ received: 5, dueJudged: 4, onTime: 2, onTimeShare: 0.5, medianAnswerMinutes: 240, overdueNow: 1, judged: 3, formal: 1,
      rated: 3, satisfiedShare: 2 / 3, repeated: 1, answered: 3, repeatShare: 1 / 3 });
    expect(a.figures.satisfactionMean).toBeCloseTo(11 / 3, 6);
    const f = (x: any, k: string) => x.breakdown.find((b: any) => b.factor === k);
    expect(f(a, 'onTime').normalized).toBe(50);
    expect(f(a, 'answerTime').normalized).toBe(100);
    expect(f(a, 'overdue').normalized).toBe(80);
    expect(f(a, 'formal').normalized).toBeCloseTo(66.6667, 3);
    expect(f(a, 'ind:official_pages_score')).toMatchObject({ value: 80, normalized: 80 });
    expect(f(a, 'ind:services_online_share')).toMatchObject({ value: null, normalized: null, points: 0, effectiveWeight: 0 });
    expect(a.score).toBeCloseTo(EXPECTED.teploseti, 2);
    expect(a.breakdown.reduce((s: number, b: any) => s + b.points, 0)).toBeCloseTo(a.score, 2);
    expect(a.satisfactionGoalMet).toBe(true);
    const b = row(r, 'vodokanal');
    expect(b.score).toBeCloseTo(EXPECTED.vodokanal, 2);
    expect(f(b, 'answerTime').normalized).toBeCloseTo(83.3333, 3);
    const d = row(r, 'uo');
    expect(d.score).toBeCloseTo(EXPECTED.uo, 2);
    expect(d.satisfactionGoalMet).toBe(false);
    // Ranks: vodokanal, teploseti, uo; blag below the minimum volume: listed, not ranked, after the ranked ones.
    expect([b.rank, a.rank, d.rank]).toEqual([1, 2, 3]);
    const c = row(r, 'blag');
    expect(c).toMatchObject({ ranked: false, rank: null });
    expect(c.figures.received).toBe(2);
    expect(r.rows.map((x: any) => x.rank)).toEqual([1, 2, 3, ...r.rows.slice(3).map(() => null)]);
    // The previous period (February): teploseti 1st, vodokanal 2nd.
    expect(a.previousScore).toBeCloseTo(EXPECTED.prevTeploseti, 2);
    expect(b.previousScore).toBeCloseTo(EXPECTED.prevVodokanal, 2);
    expect([a.previousRank, a.rankChange, b.previousRank, b.rankChange]).toEqual([1, -1, 2, 1]);
    expect(d).toMatchObject({ previousRank: null, rankChange: null });
    // A body's figures do not include its subordinates: uzhkh (parent of teploseti and vodokanal) has no row.
    expect(row(r, 'uzhkh')).toBeUndefined();
  });

  it('rates within a thematic block, and over a quarter and a custom range', async () => {
    const r = await rating(MARCH, blocks.get('gkh'));
    expect(r.rows.map((x: any) => x.organizationId).sort()).toEqual([org.get('blag'), org.get('teploseti'), org.get('vodokanal')].sort());
    expect(row(r, 'vodokanal').rank).toBe(1);
    const q = await rating({ kind: 'QUARTER', start: '2026-02-01' });
    expect(row(q, 'teploseti').figures.received).toBe(8);
    const c = await rating({ kind: 'CUSTOM', start: '2026-03-01', end: '2026-03-04' });
    expect(row(c, 'teploseti').figures.received).toBe(4);
    expect(c.period.previousFrom).toBe('2026-02-25');
  });

  it('changes the score when the published weights change, audited; bad settings are refused', async () => {
    const s = await app.gql(SET, { w: { onTime: 1, answerTime: 0, overdue: 0, formal: 0, satisfaction: 0, repeats: 0 }, iw: [{ code: 'official_pages_score', weight: 0 }, { code: 'services_online_share', weight: 0 }] });
    expect(s.errors).toBeUndefined();
    const r = await rating();
    expect(row(r, 'teploseti').score).toBe(50);
    expect(row(r, 'uo').score).toBeCloseTo(33.33, 2);
    const [log] = await app.sql(`SELECT actor, before, after FROM audit_log WHERE entity = 'rating_setting' ORDER BY id DESC LIMIT 1`);
    expect(log.actor).toBe('test-curator');
    expect(log.after.weights.onTime).toBe(1);
    expect(log.before.weights.onTime).toBe(0.25);
    for (const [vars, msg] of [
      [{ w: { onTime: -1 } }, /weights.onTime.*от 0 до 100/],
      [{ iw: [{ code: 'nope', weight: 1 }] }, /indicatorWeights\[0\].code.*неизвестный показатель/],
      [{ min: -5 }, /minAppeals/],
      [{ t: 5000, worst: 100 }, /answerWorstMinutes/],
      [{ goal: 1.5 }, /satisfactionGoal/],
      [{ w: { onTime: 0 } }, /хотя бы один вес/],
    ] as const) {
      const e = await app.gql(SET, vars);
      expect(e.errors?.[0].message, JSON.stringify(vars)).toMatch(msg);
    }
    // Restore the defaults for the other tests.
    const back = await app.gql(SET, { w: { onTime: 0.25, answerTime: 0.1, overdue: 0.15, formal: 0.15, satisfaction: 0.15, repeats: 0.1 }, iw: [{ code: 'official_pages_score', weight: 0.05 }, { code: 'services_online_share', weight: 0.05 }] });
    expect(back.errors).toBeUndefined();
    expect(row(await rating(), 'teploseti').score).toBeCloseTo(EXPECTED.teploseti, 2);
    // Only ADMIN / CURATOR / COORDINATOR edit weights.
    for (const role of [Role.ANALYST, Role.WORKER, Role.BLOCK_LEAD, Role.ORG_OFFICER]) {
      expect((await app.gqlAs(role, SET, { min: 1 })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    }
    expect((await app.gqlAs(Role.ADMIN, SET, { min: 3 })).errors).toBeUndefined();
  });

  it('sorts the queues: urgent first, then the least time left; pages with a cursor', async () => {
    const o = await app.gql(QUEUE, { state: 'OVERDUE' });
    expect(o.errors).toBeUndefined();
    const keys = [...ids.entries()];
    const key = (id: string) => keys.find(([, v]) => String(v) === id)?.[0];
    expect(o.data.controlQueue.edges.map((e: any) => key(e.node.id))).toEqual(['d3', 'pb1', 'a4']);
    expect(o.data.controlQueue.edges[0].node).toMatchObject({ urgent: true, state: 'OVERDUE' });
    expect(o.data.controlQueue.edges[0].node.minutesLeft).toBeLessThan(0);
    const r = await app.gql(QUEUE, { state: 'AT_RISK' });
    expect(r.data.controlQueue.edges.map((e: any) => key(e.node.id))).toEqual(['ra', 'rd']);
    expect(r.data.controlQueue.edges[1].node.minutesLeft).toBeGreaterThan(0);
    const p1 = await app.gql(QUEUE, { state: 'OVERDUE', first: 2 });
    expect(p1.data.controlQueue).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: true } });
    const p2 = await app.gql(QUEUE, { state: 'OVERDUE', first: 2, after: p1.data.controlQueue.pageInfo.endCursor });
    expect(p2.data.controlQueue.edges.map((e: any) => key(e.node.id))).toEqual(['a4']);
    expect((await app.gql(QUEUE, { state: 'OVERDUE', org: org.get('vodokanal') })).data.controlQueue.totalCount).toBe(1);
    expect((await app.gql(QUEUE, { state: 'OVERDUE', block: blocks.get('social') })).data.controlQueue.totalCount).toBe(1);
    expect((await app.gql(QUEUE, { state: 'OVERDUE', after: 'garbage' })).errors?.[0].message).toMatch(/курсор/);
    expect((await app.gql(QUEUE, { state: 'OVERDUE', first: 100000 })).errors?.[0].message).toMatch(/first/);
  });

  it('shows the card: place, trend by month, overdue and at-risk appeals, formal answers', async () => {
    const c = await app.gql(CARD, { id: org.get('teploseti'), period: MARCH });
    expect(c.errors).toBeUndefined();
    const card = c.data.organizationRatingCard;
    expect(card.row.rank).toBe(2);
    expect(card.rankedCount).toBe(3);
    expect(card.trend).toHaveLength(12);
    expect(card.trend.at(-1)).toMatchObject({ month: '2026-03-01', figures: { received: 5 } });
    expect(card.trend.at(-1).score).toBeCloseTo(EXPECTED.teploseti, 2);
    expect(card.trend.at(-2)).toMatchObject({ month: '2026-02-01', score: 100, figures: { received: 3 } });
    expect(card.trend[0]).toMatchObject({ month: '2025-04-01', score: null, figures: { received: 0 } });
    expect(card.overdue.edges.map((e: any) => Number(e.node.id))).toEqual([ids.get('a4')]);
    expect(card.atRisk.edges.map((e: any) => Number(e.node.id))).toEqual([ids.get('ra')]);
    expect(card.formalAnswers.map((x: any) => Number(x.id))).toEqual([ids.get('a2')]);
    expect(card.formalAnswers[0].reasons).toContain('нет конкретного действия');
  });

  it('scopes rows by role: ORG_OFFICER sees the table and its own card, never other organisations’ appeals; BLOCK_LEAD its block', async () => {
    // ORG_OFFICER of uzhkh: the table of scores (public inside the administration)…
    const r = await rating(MARCH, undefined, Role.ORG_OFFICER);
    expect(row(r, 'uo').score).toBeCloseTo(EXPECTED.uo, 2);
    // …the card of its subordinate teploseti, not of uo.
    expect((await app.gqlAs(Role.ORG_OFFICER, CARD, { id: org.get('teploseti'), period: MARCH })).errors).toBeUndefined();
    const other = await app.gqlAs(Role.ORG_OFFICER, CARD, { id: org.get('uo'), period: MARCH });
    expect(other.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // Queues: only appeals of uzhkh and its subordinates.
    const q = await app.gqlAs(Role.ORG_OFFICER, QUEUE, { state: 'OVERDUE' });
    expect(q.data.controlQueue.edges.map((e: any) => Number(e.node.id)).sort()).toEqual([ids.get('a4'), ids.get('pb1')].sort());
    expect((await app.gqlAs(Role.ORG_OFFICER, QUEUE, { state: 'OVERDUE', org: org.get('uo') })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // BLOCK_LEAD (block gkh): the rating of its block without asking; another block is refused; queues of its block.
    const bl = await rating(MARCH, undefined, Role.BLOCK_LEAD);
    expect(bl.blockId).toBe(blocks.get('gkh'));
    expect(row(bl, 'uo')).toBeUndefined();
    expect((await app.gqlAs(Role.BLOCK_LEAD, RATING, { period: MARCH, blockId: blocks.get('social') })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const bq = await app.gqlAs(Role.BLOCK_LEAD, QUEUE, { state: 'OVERDUE' });
    expect(bq.data.controlQueue.edges.map((e: any) => Number(e.node.id)).sort()).toEqual([ids.get('a4'), ids.get('pb1')].sort());
    // ANALYST reads everything (aggregates, no personal data in these types).
    expect((await app.gqlAs(Role.ANALYST, QUEUE, { state: 'OVERDUE' })).data.controlQueue.totalCount).toBe(3);
    expect((await app.anonymous.gql(RATING, { period: MARCH })).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    // Bad input.
    expect((await app.gql(RATING, { period: { kind: 'MONTH', start: '2026-3-1' } })).errors?.[0].message).toMatch(/period.start.*ГГГГ-ММ-ДД/);
    expect((await app.gql(RATING, { period: MARCH, blockId: '999999' })).errors?.[0].message).toMatch(/blockId.*не найден/);
    expect((await app.gql(CARD, { id: 'x', period: MARCH })).errors?.[0].message).toMatch(/organizationId/);
  });

  it('imports indicators from CSV and XLSX; a bad table names each row and field and stores nothing', async () => {
    const csv = 'организация;показатель;значение;период\nteploseti;services_online_share;45,5;2026-03\nВодоканал;official_pages_score;90;2026-Q1\n';
    const ok = await gqlUpload(app.url, IMPORT, {}, { name: 'ind.csv', content: csv });
    expect(ok.errors, JSON.stringify(ok.errors)).toBeUndefined();
    expect(ok.data.importOrgIndicators).toMatchObject({ read: 2, inserted: 2, updated: 0, organizations: 2 });
    const r = await rating();
    expect(row(r, 'teploseti').breakdown.find((b: any) => b.factor === 'ind:services_online_share').value).toBe(45.5);
    expect(row(r, 'vodokanal').breakdown.find((b: any) => b.factor === 'ind:official_pages_score').value).toBe(90);
    // Again: the same keys are updated.
    const again = await gqlUpload(app.url, IMPORT, {}, { name: 'ind.csv', content: csv.replace('45,5', '50') });
    expect(again.data.importOrgIndicators).toMatchObject({ inserted: 0, updated: 2 });
    const [{ n: before }] = await app.sql(`SELECT count(*)::int AS n FROM org_indicator_value`);
    const bad = 'organization,indicator,value,period\nteploseti,official_pages_score,70,2026-03\nНет такой,official_pages_score,50,2026-03\nuo,nope,50,2026-03\nuo,official_pages_score,abc,2026-03\nuo,official_pages_score,150,2026-03\nuo,official_pages_score,50,2026-13\n';
    const e = await gqlUpload(app.url, IMPORT, {}, { name: 'bad.csv', content: bad });
    const msg = e.errors?.[0].message ?? '';
    expect(msg).toMatch(/ничего не изменено/);
    expect(msg).toMatch(/строка 3, организация: неизвестная организация «Нет такой»/);
    expect(msg).toMatch(/строка 4, показатель: неизвестный показатель «nope»/);
    expect(msg).toMatch(/строка 5, значение: не число: «abc»/);
    expect(msg).toMatch(/строка 6, значение: 150 вне шкалы/);
    expect(msg).toMatch(/строка 7, период: неверный период «2026-13»/);
    const [{ n: after }] = await app.sql(`SELECT count(*)::int AS n FROM org_indicator_value`);
    expect(after).toBe(before);
    expect((await gqlUpload(app.url, IMPORT, {}, { name: 'x.csv', content: 'a;b\n1;2\n' })).errors?.[0].message).toMatch(/нет столбца «организация»/);
    expect((await gqlUpload(app.url, IMPORT, {}, { name: 'x.csv', content: 'организация;показатель;значение\nuo;official_pages_score;5\n' })).errors?.[0].message).toMatch(/период/);
    expect((await gqlUpload(app.url, IMPORT, {}, { name: 'x.xlsx', content: Buffer.from('PK\u0003\u0004garbage') })).errors?.[0].message).toMatch(/XLSX/);
    expect((await gqlUpload(app.url, IMPORT, {}, { name: 'big.csv', content: Buffer.alloc(3 * 1024 * 1024, 65) })).errors?.[0].message).toMatch(/больше 2 МБ/);
    // A small XLSX that unpacks to more than 20 MB is refused before it is unpacked.
    const bomb = new ExcelJS.Workbook();
    const bs = bomb.addWorksheet('Лист1');
    bs.addRow(['организация', 'показатель', 'значение', 'период']);
    for (let i = 0; i < 800; i++) bs.addRow([`${i}`.padEnd(30_000, 'а'), 'official_pages_score', 1, '2026-03']);
    const bombBuf = Buffer.from(await bomb.xlsx.writeBuffer());
    expect(bombBuf.length).toBeLessThan(2 * 1024 * 1024);
    expect((await gqlUpload(app.url, IMPORT, {}, { name: 'bomb.xlsx', content: bombBuf })).errors?.[0].message).toMatch(/распакованном виде/);
    // XLSX with the period given at the import.
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Лист1');
    ws.addRow(['Организация', 'Показатель', 'Значение']);
    ws.addRow(['Управление образования', 'official_pages_score', 61]);
    const x = await gqlUpload(app.url, IMPORT, { ps: '2026-03-01', pe: '2026-03-31' }, { name: 'ind.xlsx', content: Buffer.from(await wb.xlsx.writeBuffer()) });
    expect(x.errors, JSON.stringify(x.errors)).toBeUndefined();
    expect(x.data.importOrgIndicators).toMatchObject({ read: 1, inserted: 1 });
    expect((await app.gqlAs(Role.ANALYST, IMPORT, {})).errors).toBeDefined();
    const [log] = await app.sql(`SELECT after FROM audit_log WHERE entity = 'org_indicator_value' ORDER BY id DESC LIMIT 1`);
    expect(log.after).toMatchObject({ fileName: 'ind.xlsx', read: 1 });
    // Clean up: the other tests expect the fixture's indicator only.
    await app.sql(`DELETE FROM org_indicator_value WHERE source <> 'test'`);
  });

  it('exports the meeting workbook: four sheets, numbers as numbers, percentages as percentage cells, the row scope', async () => {
    const res = await fetch(`${app.url}/exports/rating.xlsx?kind=MONTH&start=2026-03-01`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/spreadsheetml/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(await res.arrayBuffer());
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Рейтинг', 'Разбивка по факторам', 'Просроченные', 'Под угрозой']);
    const s = wb.getWorksheet('Рейтинг')!;
    expect(String(s.getCell('A1').value)).toMatch(/март 2026/);
    expect(s.views[0]).toMatchObject({ state: 'frozen', ySplit: 2 });
    const header = (s.getRow(2).values as unknown[]).slice(1);
    expect(header.slice(0, 5)).toEqual(['Место', 'Изменение места', 'Организация', 'Вид', 'Балл (0–100)']);
    const first = s.getRow(3);
    expect(first.getCell(1).value).toBe(1);
    expect(first.getCell(3).value).toMatch(/водоканал/i);
    expect(typeof first.getCell(5).value).toBe('number');
    expect(first.getCell(5).value as number).toBeCloseTo(EXPECTED.vodokanal, 2);
    const onTimeCol = header.indexOf('Ответы в срок') + 1;
    expect(first.getCell(onTimeCol).value).toBe(1);
    expect(first.getCell(onTimeCol).numFmt).toBe('0.0%');
    expect(s.getColumn(3).width).toBe(50);
    const o = wb.getWorksheet('Просроченные')!;
    expect(o.rowCount).toBe(5);
    expect(typeof o.getRow(3).getCell(1).value).toBe('number');
    expect(o.getRow(3).getCell(4).value).toBeInstanceOf(Date);
    expect(wb.getWorksheet('Под угрозой')!.rowCount).toBe(4);
    // ORG_OFFICER: the rating table, but only its own organisations' appeals in the queues.
    const officer = await app.as(Role.ORG_OFFICER);
    const r2 = await officer.fetch('/exports/rating.xlsx?kind=MONTH&start=2026-03-01');
    const wb2 = new ExcelJS.Workbook();
    await wb2.xlsx.load(await r2.arrayBuffer());
    expect(wb2.getWorksheet('Просроченные')!.rowCount).toBe(4);
    expect(wb2.getWorksheet('Под угрозой')!.rowCount).toBe(3);
    expect((await officer.fetch('/exports/rating.xlsx?kind=MONTH&start=2026-03-01&organizationId=' + org.get('uo'))).status).toBe(403);
    // the card of an organisation: its months and its formal answers as sheets of their own
    const rc = await fetch(`${app.url}/exports/rating.xlsx?kind=MONTH&start=2026-03-01&organizationId=${org.get('teploseti')}`);
    expect(rc.status).toBe(200);
    const wc = new ExcelJS.Workbook();
    await wc.xlsx.load(await rc.arrayBuffer());
    expect(wc.worksheets.map((w) => w.name)).toEqual(['Рейтинг', 'Разбивка по факторам', 'Просроченные', 'Под угрозой', 'Динамика', 'Отписки']);
    const dyn = wc.getWorksheet('Динамика')!;
    expect((dyn.getRow(2).values as unknown[]).slice(1, 4)).toEqual(['Месяц', 'Балл (0–100)', 'Поступило']);
    const march = dyn.getRow(2 + 12); // 12 months ending with March 2026
    expect(march.getCell(1).value).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(march.getCell(2).value as number).toBeCloseTo(EXPECTED.teploseti, 2);
    expect(march.getCell(3).value).toBe(5);
    expect(march.getCell(4).numFmt).toBe('0.0%');
    expect(march.getCell(4).value).toBeCloseTo(0.5, 6);
    const formal = wc.getWorksheet('Отписки')!;
    expect(formal.rowCount).toBe(3); // title, header, a2
    expect(String(formal.getRow(3).getCell(7).value)).not.toBe('');
    expect((await fetch(`${app.url}/exports/rating.xlsx?kind=WEEK&start=2026-03-01`)).status).toBe(400);
    expect((await app.anonymous.fetch('/exports/rating.xlsx')).status).toBe(401);
  });
});
