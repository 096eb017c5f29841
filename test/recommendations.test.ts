import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { RULES } from '../server/recommendations/rules.js';

/**
 * Recommendations as data-driven rules on planted figures: an organisation whose overdue share is far above the
 * city's, a district whose complaints grew against last year, a theme answered with templates; editable thresholds,
 * idempotent re-runs, accept (with an edit) / reject (with a comment), audit, roles, bad input.
 */
const FROM = '2026-08-01';
const TO = '2026-10-31';
const GEN = `mutation G($from: String, $to: String) { generateRecommendations(from: $from, to: $to) { created updated notes periodFrom periodTo } }`;
const LIST = `query L($f: RecommendationFilter) { recommendations(filter: $f, first: 100) { totalCount edges { node {
  id ruleCode subjectKey text editedText figures thresholds evidenceAppealIds organizationId districtId themeId status decidedBy comment } } } }`;

describe.each(backends)('recommendations on %s', (backend) => {
  let app: TestApp;
  let org: Record<string, number>;
  let d0: number;
  let ext = 0;

  async function insert(n: number, o: { org: string; theme: string; at: string; due: string; answered?: string; answer?: string; district?: number }) {
    const [t] = await app.sql<{ id: number }>(`SELECT id FROM theme WHERE code = ?`, [o.theme]);
    await app.sql(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, district_id, theme_id, organization_id, status, due_at, answered_at, answer_text)
      SELECT 1, 'POS', 'REC-' || (? + g), ?::timestamptz + make_interval(mins => g), 'CITIZEN', 'обращение', ?, ?, ?, CASE WHEN ?::timestamptz IS NULL THEN 'NEW' ELSE 'ANSWERED' END,
             ?::timestamptz, ?::timestamptz, ? FROM generate_series(1, ?) g`,
      [ext, o.at, o.district ?? null, t.id, org[o.org], o.answered ?? null, o.due, o.answered ?? null, o.answer ?? null, n]);
    ext += n;
  }

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
    org = Object.fromEntries((await app.sql<{ code: string; id: number }>(`SELECT code, id FROM organization`)).map((r) => [r.code, r.id]));
    [{ id: d0 }] = await app.sql<{ id: number }>(`SELECT id FROM district ORDER BY id LIMIT 1`);
    await insert(40, { org: 'teploseti', theme: 'gkh.heating', at: '2026-09-01T10:00:00+07:00', due: '2026-09-05T10:00:00+07:00', district: d0 });
    await insert(40, { org: 'vodokanal', theme: 'gkh.water', at: '2026-09-02T10:00:00+07:00', due: '2026-09-20T10:00:00+07:00', answered: '2026-09-03T10:00:00+07:00', answer: 'Ваше обращение рассмотрено. ' });
    await insert(10, { org: 'teploseti', theme: 'gkh.heating', at: '2025-09-01T10:00:00+07:00', due: '2025-09-05T10:00:00+07:00', answered: '2025-09-02T10:00:00+07:00', district: d0 });
  }, 240_000);
  afterAll(async () => { await app?.close(); await app?.db.drop(); });

  it('rules cite their figures and evidence; a re-run changes nothing', async () => {
    const r = await app.gql(GEN, { from: FROM, to: TO });
    expect(r.errors).toBeUndefined();
    expect(r.data.generateRecommendations.created).toBe(3);
    expect(r.data.generateRecommendations.notes.join(' ')).toMatch(/формальных ответов: нет случаев/);
    const recs = (await app.gql(LIST, {})).data.recommendations.edges.map((e: any) => e.node);
    const overdue = recs.find((x: any) => x.ruleCode === 'ORG_OVERDUE');
    expect(overdue).toMatchObject({ organizationId: String(org.teploseti), figures: { late: 40, appeals: 40, share: 1, cityShare: 0.5 }, status: 'PROPOSED' });
    expect(overdue.text).toMatch(/Тепловые сети: просрочено или отвечено с опозданием 40 из 40 обращений \(100 %\) при 50 % по городу — в 2 раза выше, с 01\.08\.2026 по 31\.10\.2026/);
    expect(overdue.evidenceAppealIds.length).toBe(40);
    const ev = (await app.gql(`{ recommendation(id: "${overdue.id}") { evidenceAppeals { id text receivedAt } } }`)).data.recommendation.evidenceAppeals;
    expect(ev.map((e: any) => e.id).sort()).toEqual([...overdue.evidenceAppealIds].sort());
    // the roads' officer sees none of the heating organisation's evidence (row scope)
    const officer = await app.gqlAs(Role.ORG_OFFICER, `{ recommendations(first: 100) { edges { node { id evidenceAppeals { id } } } } }`);
    expect(officer.errors).toBeUndefined();
    const growth = recs.find((x: any) => x.ruleCode === 'DISTRICT_GROWTH');
    expect(growth).toMatchObject({ districtId: String(d0), figures: { appeals: 40, appealsYearAgo: 10, growth: 3 } });
    expect(growth.text).toMatch(/рост 300 %/);
    const tmpl = recs.find((x: any) => x.ruleCode === 'THEME_TEMPLATE');
    expect(tmpl.figures).toMatchObject({ templated: 40, answers: 40, share: 1 });
    const again = await app.gql(GEN, { from: FROM, to: TO });
    expect(again.data.generateRecommendations).toMatchObject({ created: 0, updated: 0 });
  });

  it('thresholds are editable and validated; a proposal below the new threshold is withdrawn', async () => {
    const rules = (await app.gql('{ recommendationRules { code enabled thresholds defaults explanation } }')).data.recommendationRules;
    expect(rules.map((x: any) => x.code)).toEqual(['ORG_OVERDUE', 'ORG_FORMAL', 'DISTRICT_GROWTH', 'RECURRING_PROBLEM', 'THEME_TEMPLATE', 'ORG_COMMUNICATION']);
    const specs = (await app.gql('{ recommendationRules { code specs { key label min max integer } } }')).data.recommendationRules;
    expect(specs[0].specs).toEqual([{ key: 'ratio', label: 'во сколько раз выше города', min: 1, max: 10, integer: false },
      { key: 'minShare', label: 'доля не меньше', min: 0, max: 1, integer: false }, { key: 'minAppeals', label: 'обращений не меньше', min: 1, max: 100000, integer: true }]);
    const bad = [[{ ratio: -1 }, 'thresholds.ratio'], [{ ratio: 'x' }, 'thresholds.ratio'], [{ foo: 1 }, 'thresholds.foo'], [{ minAppeals: 2.5 }, 'thresholds.minAppeals']] as const;
    for (const [t, field] of bad) {
      const r = await app.gql(`mutation S($t: JSONObject) { setRecommendationRule(code: "ORG_OVERDUE", thresholds: $t) { code } }`, { t });
      expect(r.errors?.[0].extensions?.field).toBe(field);
    }
    expect((await app.gql(`mutation { setRecommendationRule(code: "NOPE") { code } }`)).errors?.[0].extensions?.field).toBe('code');
    const ok = await app.gql(`mutation S($t: JSONObject) { setRecommendationRule(code: "ORG_OVERDUE", thresholds: $t) { thresholds } }`, { t: { ratio: 3 } });
    expect(ok.data.setRecommendationRule.thresholds).toMatchObject({ ratio: 3, minShare: 0.1, minAppeals: 30 });
    const r = await app.gql(GEN, { from: FROM, to: TO });
    expect(r.data.generateRecommendations.notes.join(' ')).toMatch(/снято предложений.*: 1/);
    expect((await app.gql(LIST, { f: { ruleCodes: ['ORG_OVERDUE'] } })).data.recommendations.totalCount).toBe(0);
    await app.gql(`mutation S($t: JSONObject) { setRecommendationRule(code: "ORG_OVERDUE", thresholds: $t) { code } }`, { t: { ratio: 1.5 } });
    expect((await app.gql(GEN, { from: FROM, to: TO })).data.generateRecommendations.created).toBe(1);
    const log = await app.sql(`SELECT action FROM audit_log WHERE entity = 'recommendation_rule'`);
    expect(log.length).toBe(2);
  });

  it('accept with an edit, reject with a comment; audited; roles', async () => {
    const recs = (await app.gql(LIST, {})).data.recommendations.edges.map((e: any) => e.node);
    const a = recs.find((x: any) => x.ruleCode === 'ORG_OVERDUE');
    const b = recs.find((x: any) => x.ruleCode === 'THEME_TEMPLATE');
    expect((await app.gqlAs(Role.ANALYST, `mutation { decideRecommendation(id: "${a.id}", decision: ACCEPT) { id } }`)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gqlAs(Role.WORKER, GEN, {})).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const noReason = await app.gql(`mutation { decideRecommendation(id: "${b.id}", decision: REJECT) { id } }`);
    expect(noReason.errors?.[0].extensions?.field).toBe('comment');
    const edit = await app.gqlAs(Role.COORDINATOR, `mutation($t: String) { decideRecommendation(id: "${a.id}", decision: ACCEPT, text: $t) { status editedText decidedBy text } }`,
      { t: 'Тепловым сетям: разобрать просрочки по 40 обращениям сентября (100 % при 50 % по городу).' });
    expect(edit.data.decideRecommendation).toMatchObject({ status: 'ACCEPTED', decidedBy: 'test-coordinator' });
    expect(edit.data.decideRecommendation.text).toMatch(/40 из 40/);
    const rej = await app.gql(`mutation { decideRecommendation(id: "${b.id}", decision: REJECT, comment: "шаблон утверждён регламентом") { status comment } }`);
    expect(rej.data.decideRecommendation).toEqual({ status: 'REJECTED', comment: 'шаблон утверждён регламентом' });
    expect((await app.gql(`mutation { decideRecommendation(id: "${b.id}", decision: ACCEPT) { id } }`)).errors?.[0].message).toMatch(/уже отклонена/);
    const log = await app.sql<{ action: string }>(`SELECT action FROM audit_log WHERE entity = 'recommendation' ORDER BY id`);
    expect(log.map((l) => l.action)).toEqual(['accept', 'reject']);
    // decided recommendations stay as decided on a re-run
    await app.gql(GEN, { from: FROM, to: TO });
    const after = (await app.gql(LIST, { f: { statuses: ['ACCEPTED'] } })).data.recommendations.edges.map((e: any) => e.node);
    expect(after).toHaveLength(1);
    expect(after[0].editedText).toMatch(/^Тепловым сетям/);
    // the addressee sees its accepted recommendation; the roads' officer would not
    const officer = (await app.gqlAs(Role.ORG_OFFICER, LIST, { f: { statuses: ['ACCEPTED'] } })).data.recommendations;
    expect(officer.totalCount).toBe(1);
    const lead = (await app.gqlAs(Role.BLOCK_LEAD, LIST, {})).data.recommendations.edges.map((e: any) => e.node);
    expect(lead.every((x: any) => x.themeId != null)).toBe(true);
  });

  it('bad input and empty periods', async () => {
    for (const [v, field] of [[{ from: '2026-02-30' }, 'from'], [{ from: '2026-10-01', to: '2026-09-01' }, 'from'], [{ to: 'вчера' }, 'to']] as const) {
      const r = await app.gql(GEN, v);
      expect(r.errors?.[0].extensions?.field, JSON.stringify(v)).toBe(field);
    }
    const empty = await app.gql(GEN, { from: '2020-01-01', to: '2020-01-31' });
    expect(empty.data.generateRecommendations.created).toBe(0);
    expect(empty.data.generateRecommendations.notes.join(' ')).toMatch(/нет случаев выше порогов/);
    expect((await app.gql(LIST, { f: { ruleCodes: ['X'] } })).errors?.[0].extensions?.field).toBe('code');
  });

  it('reads the evidence of every finding of a rule in one statement (no statement per finding)', async () => {
    // January 2027: three organisations answer everything late, one on time.
    for (const [code, n] of [['uzhkh', 12], ['vodokanal', 11], ['blag', 60]] as const) {
      await insert(n, { org: code, theme: 'gkh.water', at: '2027-01-10T10:00:00+07:00', due: '2027-01-12T10:00:00+07:00', answered: '2027-01-20T10:00:00+07:00' });
    }
    await insert(70, { org: 'teploseti', theme: 'gkh.heating', at: '2027-01-11T10:00:00+07:00', due: '2027-01-20T10:00:00+07:00', answered: '2027-01-12T10:00:00+07:00' });
    const rule = RULES.find((r) => r.code === 'ORG_OVERDUE')!;
    const before = app.statements.length;
    const found = await rule.run(app.orm.em.fork(), { municipalityId: 1, tz: 'Asia/Barnaul', from: '2027-01-01', to: '2027-01-31', t: { ratio: 1.5, minShare: 0.1, minAppeals: 10 } });
    const statements = app.statements.length - before;
    expect(found.map((f) => [f.organizationId, f.figures.late, f.figures.appeals, f.evidence.length]).sort())
      .toEqual([[org.blag, 60, 60, 50], [org.uzhkh, 12, 12, 12], [org.vodokanal, 11, 11, 11]].sort());
    // the shares of every organisation and the city, then the evidence of all three findings
    expect(statements).toBe(2);
    const [{ n }] = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM appeal WHERE id = ANY(?::int[]) AND organization_id = ? AND answered_at > due_at`,
      [`{${found.find((f) => f.organizationId === org.blag)!.evidence.join(',')}}`, org.blag]);
    expect(n).toBe(50);
  });
});
