import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, freshDatabase } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { Role } from '../server/auth/roles.js';
import { RuleSet, deadlineState, type RuleVersion } from '../server/deadlines/rules.js';
import { DeadlineState, deadlineStateSql } from '../server/deadlines/state.js';

const IMPORT = `mutation($file: Upload!, $channel: Channel) { importAppeals(file: $file, channel: $channel) { status inserted updated rejected error } }`;
const IM_HEADER = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';
const DIRECT_HEADER = 'Рег. номер;Дата регистрации;Заявитель — вид;Заявитель;Телефон;E-mail;Адрес;Содержание;Исполнитель;Статус;Срок;Дата ответа;Ответ';
const APPEAL = `query($id: ID!) { appeal(id: $id) { id urgent status deadlineState firstReactionDueAt answerDueAt answerAtRiskAt answeredAt
  workingMinutesToFirstReaction workingMinutesToAnswer deadlineRule { id channel urgent answerNorm answerUnit theme { code } } events { kind fromValue toValue comment actor } } }`;
const RULE_FIELDS = 'id channel themeId urgent firstReactionNorm firstReactionUnit answerNorm answerUnit atRiskShare extensionMax extensionUnit extensionNotice isDefault source validFrom validTo current';
const SET_RULE = `mutation($rule: DeadlineRuleInput!) { setDeadlineRule(rule: $rule) { ${RULE_FIELDS} } }`;
const EXTEND = `mutation($id: ID!, $reason: String!, $newDueAt: DateTime, $by: ExtensionByInput, $notified: Boolean) {
  extendAppealDeadline(appealId: $id, reason: $reason, newDueAt: $newDueAt, by: $by, authorNotified: $notified) { id answerDueAt deadlineState events { kind fromValue toValue comment } } }`;

/** Local wall-clock time of Rubtsovsk (UTC+7, no daylight saving) → ISO instant. */
const local = (s: string) => new Date(Date.parse(s + '+07:00')).toISOString();
/** dd.MM.yyyy HH:mm of an instant in Rubtsovsk. */
const ddmm = (t: number) => {
  const d = new Date(t + 7 * 3_600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}.${p(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
};

describe('rule choice (no database)', () => {
  const v = (id: number, themeId: number | null, urgent: boolean, validFrom = '2000-01-01T00:00:00Z', validTo: string | null = null): RuleVersion => ({
    id, channel: 'INCIDENT_MANAGEMENT', themeId, urgent, firstReactionNorm: null, firstReactionUnit: null, answerNorm: 8, answerUnit: 'WORKING_HOURS',
    atRiskShare: 0.25, extensionMax: null, extensionUnit: null, extensionNotice: false, isDefault: true, source: null, note: null,
    validFrom: new Date(validFrom), validTo: validTo ? new Date(validTo) : null, createdBy: 't',
  });
  // themes: 1 (group) → 2 (subtheme) → 3 (sub-subtheme); 9 unrelated
  const parents = new Map<number, number | null>([[1, null], [2, 1], [3, 2], [9, null]]);
  const set = new RuleSet([v(10, null, false), v(11, null, true), v(12, 1, false), v(13, 2, false, '2000-01-01T00:00:00Z', '2026-06-01T00:00:00Z'), v(14, 2, false, '2026-06-01T00:00:00Z')], parents);
  const t = (s: string) => Date.parse(s);
  it('most specific theme wins; a theme rule covers its subthemes; urgent rules only for urgent appeals', () => {
    expect(set.pick('INCIDENT_MANAGEMENT', 9, false, t('2026-07-01'))!.id).toBe(10);
    expect(set.pick('INCIDENT_MANAGEMENT', 1, false, t('2026-07-01'))!.id).toBe(12);
    expect(set.pick('INCIDENT_MANAGEMENT', 3, false, t('2026-07-01'))!.id).toBe(14);
    expect(set.pick('INCIDENT_MANAGEMENT', null, false, t('2026-07-01'))!.id).toBe(10);
    expect(set.pick('INCIDENT_MANAGEMENT', 3, true, t('2026-07-01'))!.id).toBe(11);
    expect(set.pick('POS', 3, true, t('2026-07-01'))).toBeNull();
  });
  it('the version in force at registration', () => {
    expect(set.pick('INCIDENT_MANAGEMENT', 3, false, t('2026-05-31T23:59:59Z'))!.id).toBe(13);
    expect(set.pick('INCIDENT_MANAGEMENT', 3, false, t('2026-06-01T00:00:00Z'))!.id).toBe(14);
  });
  it('states with a controlled clock', () => {
    const due = t('2026-03-10T10:00:00Z');
    const risk = t('2026-03-10T08:00:00Z');
    expect(deadlineState(null, due, risk, risk - 1)).toBe('ON_TIME');
    expect(deadlineState(null, due, risk, risk)).toBe('AT_RISK');
    expect(deadlineState(null, due, risk, due)).toBe('OVERDUE');
    expect(deadlineState(due, due, risk, due + 1e9)).toBe('ANSWERED_ON_TIME');
    expect(deadlineState(due + 1, due, risk, 0)).toBe('ANSWERED_LATE');
    expect(deadlineState(null, null, null, 0)).toBeNull();
  });
});

describe.each(backends)('deadlines on %s', (backend) => {
  let app: TestApp;
  const importCsv = (channel: string, name: string, lines: string[]) =>
    gqlUpload(app.url, IMPORT, { channel }, { name, content: lines.join('\n') + '\n' });
  const idOf = async (ext: string) => (await app.sql<{ id: number }>('SELECT id FROM appeal WHERE external_id = ?', [ext]))[0].id;
  const appeal = async (ext: string) => (await app.gql(APPEAL, { id: String(await idOf(ext)) })).data.appeal;

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('ships the default rules, the calendar 2024–2026 and the working hours', async () => {
    const r = await app.gqlAs(Role.ANALYST, `{ deadlineRules { ${RULE_FIELDS} } deadlineSettings { satisfactionTargetShare satisfactionRatings repeatWindowDays urgentKeywords }
      productionCalendar { year workingDays workingHours days { date kind } } workingHours { timezone hours } }`);
    expect(r.errors).toBeUndefined();
    const rules = r.data.deadlineRules as any[];
    expect(rules.length).toBe(13);
    expect(rules.every((x) => x.isDefault && x.current && x.source)).toBe(true);
    expect(rules.find((x) => x.channel === 'DIRECT' && !x.urgent)).toMatchObject({ answerNorm: 30, answerUnit: 'CALENDAR_DAYS', extensionMax: 30, extensionUnit: 'CALENDAR_DAYS', extensionNotice: true, firstReactionNorm: 3 });
    expect(rules.find((x) => x.channel === 'INCIDENT_MANAGEMENT' && x.urgent)).toMatchObject({ answerNorm: 4, answerUnit: 'WORKING_HOURS' });
    expect(rules.find((x) => x.channel === 'POS' && !x.urgent)).toMatchObject({ answerNorm: 8, answerUnit: 'CALENDAR_DAYS', extensionMax: null });
    expect(r.data.deadlineSettings).toMatchObject({ satisfactionTargetShare: 0.6, satisfactionRatings: [4, 5], repeatWindowDays: 90 });
    expect(r.data.productionCalendar.map((y: any) => y.year)).toEqual([2024, 2025, 2026]);
    expect(r.data.productionCalendar[1]).toMatchObject({ workingDays: 247 }); // 2025: 247 working days (official)
    expect(r.data.workingHours.timezone).toBe('Asia/Barnaul');
    expect(r.data.workingHours.hours.week['5']).toEqual(['08:00-12:00', '12:48-16:00']);
  });

  it('computes due times and urgency on import; the state is derived at read', async () => {
    const soon = Date.now();
    let r = await importCsv('INCIDENT_MANAGEMENT', 'im.csv', [IM_HEADER,
      'IM-1;12.01.2026 09:15;ВКонтакте;;Третий день нет отопления в доме, батареи ледяные!;Ирина;Отопление;пр-т Ленина, 85;В работе;;',
      'IM-2;12.01.2026 10:40;ВКонтакте;;На перекрёстке огромная яма;Сергей;Дороги;ул. Комсомольская 12;Новый;;',
      'IM-3;16.01.2026 15:00;ВКонтакте;;Не вывозят мусор с площадки;Анна;;ул. Комсомольская 14;Дан ответ;Вывезли, график восстановлен;19.01.2026 09:30']);
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals).toMatchObject({ status: 'DONE', inserted: 3, rejected: 0 });
    r = await importCsv('DIRECT', 'direct.csv', [DIRECT_HEADER,
      'Вх-1;20.05.2026;Гражданин;Кузнецова;+7 913 555-33-44;;ул. Дзержинского, 15;Прошу установить детскую площадку во дворе.;;На исполнении;;;',
      `Вх-2;${ddmm(soon).slice(0, 10)};Гражданин;Иванов;+7 913 555-11-22;;ул. Дзержинского, 17;Прошу отремонтировать тротуар у дома.;;Зарегистрировано;;;`]);
    expect(r.data.importAppeals).toMatchObject({ status: 'DONE', inserted: 2 });

    const a1 = await appeal('IM-1');
    // urgent (keywords «нет отопления»): 4 working hours from Monday 09:15 → 12:00 (2 h 45), lunch, 12:48 + 1 h 15 = 14:03; reaction in 1 h
    expect(a1).toMatchObject({ urgent: true, answerDueAt: local('2026-01-12T14:03:00'), firstReactionDueAt: local('2026-01-12T10:15:00'), deadlineState: 'OVERDUE' });
    expect(a1.deadlineRule).toMatchObject({ channel: 'INCIDENT_MANAGEMENT', urgent: true, answerNorm: 4 });
    expect(a1.events.find((e: any) => e.kind === 'URGENCY')).toMatchObject({ toValue: 'true' });
    // at risk when less than 25 % of the 240 working minutes are left: after 180 of them → 165 to 12:00, 15 after lunch = 13:03
    expect(a1.answerAtRiskAt).toBe(local('2026-01-12T13:03:00'));
    const a2 = await appeal('IM-2');
    // 8 working hours from Monday 10:40: 80 min before lunch + 252 after = 332; the remaining 148 on Tuesday from 8:00 → 10:28
    expect(a2).toMatchObject({ urgent: false, answerDueAt: local('2026-01-13T10:28:00'), deadlineState: 'OVERDUE' });
    const a3 = await appeal('IM-3');
    // Friday 15:00 (1 h to 16:00) + Monday 8:00…: answered Monday 9:30 → 60 + 90 = 150 working minutes; due Monday 15:48
    expect(a3).toMatchObject({ answerDueAt: local('2026-01-19T15:48:00'), workingMinutesToAnswer: 150, workingMinutesToFirstReaction: 150, deadlineState: 'ANSWERED_ON_TIME' });
    const d1 = await appeal('Вх-1');
    // 59-ФЗ: 30 days from 20.05.2026 → 19.06.2026, a Friday: the working day ends at 16:00; registration within 3 days
    expect(d1).toMatchObject({ answerDueAt: local('2026-06-19T16:00:00'), firstReactionDueAt: local('2026-05-25T17:00:00'), deadlineState: 'OVERDUE' });
    const d2 = await appeal('Вх-2');
    expect(d2.deadlineState).toBe('ON_TIME');
  });

  it('filters by state and urgency and orders the queue by urgency, then due time', async () => {
    const q = `query($f: AppealFilter, $o: AppealOrder, $after: String) { appeals(first: 2, filter: $f, orderBy: $o, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { externalId urgent deadlineState } } } }`;
    const states = async (s: string[]) => (await app.gql(q, { f: { deadlineStates: s } })).data.appeals;
    expect((await states(['OVERDUE'])).totalCount).toBe(3);
    expect((await states(['ON_TIME'])).totalCount).toBe(1);
    expect((await states(['ANSWERED_ON_TIME', 'ANSWERED_LATE'])).totalCount).toBe(1);
    expect((await app.gql(q, { f: { urgent: true } })).data.appeals.totalCount).toBe(1);
    const p1 = (await app.gql(q, { o: 'DEADLINE', f: { deadlineStates: ['OVERDUE', 'ON_TIME', 'AT_RISK'] } })).data.appeals;
    expect(p1.edges.map((e: any) => e.node.externalId)).toEqual(['IM-1', 'IM-2']);
    const p2 = (await app.gql(q, { o: 'DEADLINE', after: p1.pageInfo.endCursor, f: { deadlineStates: ['OVERDUE', 'ON_TIME', 'AT_RISK'] } })).data.appeals;
    expect(p2.edges.map((e: any) => e.node.externalId)).toEqual(['Вх-1', 'Вх-2']);
    const bad = await app.gql(q, { o: 'DEADLINE', after: 'garbage' });
    expect(bad.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('the SQL predicates of the filter agree with appeal_deadline_state() at any clock', async () => {
    const nows = ['2026-01-12T05:00:00Z', '2026-01-12T06:17:00Z', '2026-01-12T06:18:00Z', '2026-01-12T07:03:00Z', '2026-06-19T08:59:59Z', '2026-06-19T09:00:00Z', new Date().toISOString()];
    for (const now of nows) {
      for (const s of Object.values(DeadlineState)) {
        const pred = deadlineStateSql(s, '?::timestamptz');
        const [x] = await app.sql<{ a: number; b: number }>(
          `SELECT count(*) FILTER (WHERE appeal_deadline_state(a.answered_at, a.answer_due_at, a.answer_at_risk_at, ?::timestamptz) = ?)::int AS a,
                  count(*) FILTER (WHERE ${pred})::int AS b FROM appeal a`, [now, s, ...Array(pred.split('?').length - 1).fill(now)]);
        expect(x.b, `${s} at ${now}`).toBe(x.a);
      }
    }
    // the JS state (the GraphQL field) and the SQL function agree on every appeal at every clock
    const rows = await app.sql<{ answered_at: string | null; answer_due_at: string | null; answer_at_risk_at: string | null; s: Record<string, string | null> }>(
      `SELECT answered_at, answer_due_at, answer_at_risk_at,
              (SELECT jsonb_object_agg(n, appeal_deadline_state(a.answered_at, a.answer_due_at, a.answer_at_risk_at, n::timestamptz))
                 FROM unnest(string_to_array(?::text, ',')) n) AS s
         FROM appeal a`, [nows.join(',')]);
    const t = (v: string | null) => (v == null ? null : new Date(v).getTime());
    for (const r of rows) for (const now of nows) {
      expect(deadlineState(t(r.answered_at), t(r.answer_due_at), t(r.answer_at_risk_at), Date.parse(now)), now).toBe(r.s[now] ?? null);
    }
    // IM-1 at the clock: ON_TIME before 13:03 local, AT_RISK from it, OVERDUE from 14:03
    const st = async (now: string) => (await app.sql<{ s: string }>(`SELECT appeal_deadline_state(answered_at, answer_due_at, answer_at_risk_at, ?::timestamptz) AS s FROM appeal WHERE external_id = 'IM-1'`, [now]))[0].s;
    expect(await st(local('2026-01-12T13:02:00'))).toBe('ON_TIME');
    expect(await st(local('2026-01-12T13:03:00'))).toBe('AT_RISK');
    expect(await st(local('2026-01-12T14:02:59'))).toBe('AT_RISK');
    expect(await st(local('2026-01-12T14:03:00'))).toBe('OVERDUE');
  });

  it('an answer records the working minutes and the late state; taking into work is the first reaction', async () => {
    const id = String(await idOf('IM-2'));
    let r = await app.gql(`mutation($id: ID!) { setAppealStatus(id: $id, status: IN_PROGRESS) { id } }`, { id });
    expect(r.errors).toBeUndefined();
    r = await app.gql(`mutation($id: ID!) { answerAppeal(id: $id, answerText: "Яма заделана") { id } }`, { id });
    expect(r.errors).toBeUndefined();
    const a = await appeal('IM-2');
    expect(a.deadlineState).toBe('ANSWERED_LATE');
    expect(a.workingMinutesToAnswer).toBeGreaterThan(100_000);
    expect(a.workingMinutesToFirstReaction).toBe(a.workingMinutesToAnswer); // same minute
    expect(a.events.some((e: any) => e.kind === 'FIRST_REACTION')).toBe(true);
    // the explicit first reaction mutation
    const d2 = String(await idOf('Вх-2'));
    r = await app.gql(`mutation($id: ID!) { recordFirstReaction(appealId: $id, comment: "принято в работу") { id status workingMinutesToFirstReaction } }`, { id: d2 });
    expect(r.errors).toBeUndefined();
    expect(r.data.recordFirstReaction.status).toBe('IN_PROGRESS');
    r = await app.gql(`mutation($id: ID!) { recordFirstReaction(appealId: $id) { id } }`, { id: d2 });
    expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'appealId' });
  });

  it('extensions stay within the rule: 59-ФЗ up to 30 more days with notice; none for ПОС', async () => {
    // Вх-1: due 19.06.2026 16:00; the allowance ends 30 days later, 19.07 — a Sunday, so Monday 20.07 17:00
    const id = String(await idOf('Вх-1'));
    const before = await appeal('Вх-1');
    let r = await app.gql(EXTEND, { id, reason: 'запрошены документы', by: { amount: 33, unit: 'CALENDAR_DAYS' }, notified: true });
    expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'by.amount' });
    expect(r.errors[0].message).toMatch(/сверх допустимого: не позднее 20\.07\.2026 17:00/);
    r = await app.gql(EXTEND, { id, reason: 'запрошены документы', by: { amount: 20, unit: 'CALENDAR_DAYS' } });
    expect(r.errors[0].extensions.field).toBe('authorNotified');
    r = await app.gql(EXTEND, { id, reason: '', by: { amount: 20, unit: 'CALENDAR_DAYS' }, notified: true });
    expect(r.errors[0].extensions.field).toBe('reason');
    r = await app.gql(EXTEND, { id, reason: 'запрошены документы', by: { amount: 20, unit: 'CALENDAR_DAYS' }, notified: true });
    expect(r.errors).toBeUndefined();
    const ext = r.data.extendAppealDeadline;
    expect(ext.answerDueAt).toBe(local('2026-07-09T17:00:00'));
    expect(ext.events.find((e: any) => e.kind === 'EXTENSION')).toMatchObject({ fromValue: before.answerDueAt, toValue: ext.answerDueAt, comment: 'запрошены документы; автор уведомлён' });
    // the allowance counts from the original due time: 20 + 12 more days is beyond it, a new due time at its end is not
    r = await app.gql(EXTEND, { id, reason: 'ещё', by: { amount: 12, unit: 'CALENDAR_DAYS' }, notified: true });
    expect(r.errors[0].message).toMatch(/сверх допустимого/);
    r = await app.gql(EXTEND, { id, reason: 'ещё', newDueAt: before.answerDueAt, notified: true });
    expect(r.errors[0].extensions.field).toBe('newDueAt');
    r = await app.gql(EXTEND, { id, reason: 'ответ ведомства', newDueAt: local('2026-07-20T17:00:00'), notified: true });
    expect(r.errors).toBeUndefined();
    expect(r.data.extendAppealDeadline.events.filter((e: any) => e.kind === 'EXTENSION').length).toBe(2);
    const audit = await app.sql(`SELECT action FROM audit_log WHERE entity = 'appeal' AND entity_id = ? AND action = 'extend'`, [id]);
    expect(audit.length).toBe(2);
    // answered appeals are not extended; ПОС has no extension by default
    r = await app.gql(EXTEND, { id: String(await idOf('IM-3')), reason: 'x', by: { amount: 1, unit: 'WORKING_DAYS' } });
    expect(r.errors[0].message).toMatch(/уже дан ответ/);
    const [{ deadline_rule_id: kept }] = await app.sql(`SELECT deadline_rule_id FROM appeal WHERE external_id = 'Вх-2'`);
    await app.sql(`UPDATE appeal SET channel = 'POS', deadline_rule_id = (SELECT id FROM deadline_rule WHERE channel = 'POS' AND NOT urgent AND valid_to IS NULL) WHERE external_id = 'Вх-2'`);
    r = await app.gql(EXTEND, { id: String(await idOf('Вх-2')), reason: 'x', by: { amount: 1, unit: 'CALENDAR_DAYS' } });
    expect(r.errors[0].message).toMatch(/не предусматривает продления/);
    await app.sql(`UPDATE appeal SET channel = 'DIRECT', deadline_rule_id = ? WHERE external_id = 'Вх-2'`, [kept]);
    // roles that do not process appeals cannot extend
    const o = await app.gqlAs(Role.ANALYST, EXTEND, { id, reason: 'x', by: { amount: 1, unit: 'CALENDAR_DAYS' }, notified: true });
    expect(o.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('an interim answer extends an Инцидент Менеджмент answer to 7 working days from registration and is the first reaction', async () => {
    // registered Monday 2.02.2026 08:00: 8 working hours → Monday 16:48; 7 working days → Wednesday 11.02 17:00
    // (the former «8 working hours + 6 working days» would end on Tuesday 10.02)
    const r0 = await importCsv('INCIDENT_MANAGEMENT', 'im-interim.csv', [IM_HEADER,
      'IM-20;02.02.2026 08:00;ВКонтакте;;Во дворе прорвало трубу, течёт по тротуару;Павел;Водоснабжение;ул. Комсомольская 16;Новый;;']);
    expect(r0.data.importAppeals).toMatchObject({ inserted: 1 });
    const id = String(await idOf('IM-20'));
    const a0 = await app.gql(`query($id: ID!) { appeal(id: $id) { status answerDueAt workingMinutesToFirstReaction deadlineRule { extensionMax extensionUnit extensionFrom } } }`, { id });
    expect(a0.data.appeal).toMatchObject({ status: 'NEW', answerDueAt: local('2026-02-02T16:48:00'), workingMinutesToFirstReaction: null,
      deadlineRule: { extensionMax: 7, extensionUnit: 'WORKING_DAYS', extensionFrom: 'RECEIVED' } });
    const INTERIM = `mutation($id: ID!, $reason: String!, $by: ExtensionByInput, $interim: String) {
      extendAppealDeadline(appealId: $id, reason: $reason, by: $by, interimAnswer: $interim) {
        status answerDueAt workingMinutesToFirstReaction events { kind fromValue toValue comment } } }`;
    let r = await app.gql(INTERIM, { id, reason: 'ждём подрядчика', by: { amount: 8, unit: 'WORKING_DAYS' } });
    expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'by.amount' });
    expect(r.errors[0].message).toMatch(/не позднее 11\.02\.2026 17:00.*7 рабочих дней от регистрации/);
    r = await app.gql(INTERIM, { id, reason: '' });
    expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
    r = await app.gql(INTERIM, { id, reason: 'нужно' });
    expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'newDueAt' });
    const text = 'Заявка передана в МУП «Водоканал», аварийная бригада выедет 3 февраля';
    r = await app.gql(INTERIM, { id, reason: '', interim: text });
    expect(r.errors).toBeUndefined();
    const x = r.data.extendAppealDeadline;
    expect(x).toMatchObject({ status: 'IN_PROGRESS', answerDueAt: local('2026-02-11T17:00:00') });
    expect(x.workingMinutesToFirstReaction).toBeGreaterThan(0);
    expect(x.events.find((e: any) => e.kind === 'EXTENSION')).toMatchObject({ fromValue: local('2026-02-02T16:48:00'), toValue: local('2026-02-11T17:00:00'),
      comment: `промежуточный ответ: «${text}»` });
    expect(x.events.find((e: any) => e.kind === 'FIRST_REACTION')).toMatchObject({ comment: 'промежуточный ответ' });
    // at the limit already: a second interim answer cannot move it
    r = await app.gql(INTERIM, { id, reason: '', interim: 'ещё раз' });
    expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'interimAnswer' });
    const audit = await app.sql<{ after: any }>(`SELECT after FROM audit_log WHERE entity = 'appeal' AND entity_id = ? AND action = 'extend'`, [id]);
    expect(audit.length).toBe(1);
  });

  it('validates rules, naming the field, and changes nothing on bad input', async () => {
    const count = async () => (await app.sql<{ n: number }>('SELECT count(*)::int AS n FROM deadline_rule'))[0].n;
    const n0 = await count();
    const base = { channel: 'DIRECT', urgent: false, answerNorm: 20, answerUnit: 'CALENDAR_DAYS', atRiskShare: 0.2 };
    const cases: [Record<string, unknown>, string][] = [
      [{ answerNorm: -3 }, 'rule.answerNorm'],
      [{ answerNorm: 1000 }, 'rule.answerNorm'],
      [{ answerNorm: 2.5 }, 'rule.answerNorm'],
      [{ firstReactionNorm: 40, firstReactionUnit: 'CALENDAR_DAYS' }, 'rule.firstReactionNorm'],
      [{ firstReactionNorm: 4 }, 'rule.firstReactionNorm'],
      [{ atRiskShare: 1.5 }, 'rule.atRiskShare'],
      [{ themeId: '999999' }, 'rule.themeId'],
      [{ themeId: 'abc' }, 'rule.themeId[0]'],
      [{ extensionMax: 0, extensionUnit: 'CALENDAR_DAYS' }, 'rule.extensionMax'],
      // an allowance counted from registration must be longer than the answer norm itself
      [{ extensionMax: 10, extensionUnit: 'CALENDAR_DAYS', extensionFrom: 'RECEIVED' }, 'rule.extensionMax'],
    ];
    for (const [patch, field] of cases) {
      const r = await app.gql(SET_RULE, { rule: { ...base, ...patch } });
      expect(r.errors?.[0]?.extensions, JSON.stringify(patch)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    const unknownChannel = await app.gql(SET_RULE, { rule: { ...base, channel: 'FAX' } });
    expect(unknownChannel.errors[0].extensions.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
    expect(await count()).toBe(n0);
    const w = await app.gqlAs(Role.WORKER, SET_RULE, { rule: base });
    expect(w.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(await count()).toBe(n0);
  });

  it('versions rules: an edit closes the old version; appeals keep theirs; theme rules cover subthemes', async () => {
    const old = (await appeal('Вх-1')).deadlineRule.id;
    let r = await app.gqlAs(Role.COORDINATOR, SET_RULE, { rule: { channel: 'DIRECT', urgent: false, answerNorm: 20, answerUnit: 'CALENDAR_DAYS', atRiskShare: 0.2,
      firstReactionNorm: 3, firstReactionUnit: 'CALENDAR_DAYS', extensionMax: 30, extensionUnit: 'CALENDAR_DAYS', extensionNotice: true, source: 'местный регламент' } });
    expect(r.errors).toBeUndefined();
    const fresh = r.data.setDeadlineRule;
    expect(fresh).toMatchObject({ current: true, isDefault: false, answerNorm: 20 });
    const hist = (await app.gql(`{ deadlineRules(history: true) { id channel urgent themeId validFrom validTo current } }`)).data.deadlineRules
      .filter((x: any) => x.channel === 'DIRECT' && !x.urgent && x.themeId == null);
    expect(hist.length).toBe(2);
    const closed = hist.find((x: any) => !x.current);
    expect(closed.id).toBe(old);
    expect(closed.validTo).toBe(fresh.validFrom);
    expect((await appeal('Вх-1')).deadlineRule.id).toBe(old);
    const audit = await app.sql(`SELECT action, before, after FROM audit_log WHERE entity = 'deadline_rule' AND entity_id = ?`, [fresh.id]);
    expect(audit[0].action).toBe('update');
    // a theme rule for ЖКХ (group) covers «Отопление»; a rule for «Отопление» itself is more specific
    const themes = new Map((await app.sql<{ id: number; code: string }>('SELECT id, code FROM theme')).map((t) => [t.code, String(t.id)]));
    r = await app.gql(SET_RULE, { rule: { channel: 'INCIDENT_MANAGEMENT', themeId: themes.get('gkh'), urgent: false, answerNorm: 6, answerUnit: 'WORKING_HOURS', atRiskShare: 0.25 } });
    expect(r.errors).toBeUndefined();
    // registered two minutes from now, i.e. after the rules above took effect (minute precision of the source)
    const now = Date.now() + 2 * 60_000;
    await importCsv('INCIDENT_MANAGEMENT', 'im2.csv', [IM_HEADER, `IM-10;${ddmm(now - 60_000)};ВКонтакте;;Плохо греют батареи в квартире;Олег;Отопление;пр-т Ленина, 85;Новый;;`]);
    expect((await appeal('IM-10')).deadlineRule).toMatchObject({ answerNorm: 6, theme: { code: 'gkh' } });
    r = await app.gql(SET_RULE, { rule: { channel: 'INCIDENT_MANAGEMENT', themeId: themes.get('gkh.heating'), urgent: false, answerNorm: 5, answerUnit: 'WORKING_HOURS', atRiskShare: 0.25 } });
    // registered after this rule took effect, however long the import above took (a loaded machine)
    const later = Date.now() + 2 * 60_000;
    await importCsv('INCIDENT_MANAGEMENT', 'im3.csv', [IM_HEADER, `IM-11;${ddmm(later - 60_000)};ВКонтакте;;Плохо греют батареи в подъезде;Олег;Отопление;пр-т Ленина, 87;Новый;;`]);
    expect((await appeal('IM-11')).deadlineRule).toMatchObject({ answerNorm: 5, theme: { code: 'gkh.heating' } });
    // retire: a theme rule can go, the channel's base rule cannot
    const roads = await app.gql(SET_RULE, { rule: { channel: 'POS', themeId: themes.get('roads'), urgent: true, answerNorm: 3, answerUnit: 'CALENDAR_DAYS', atRiskShare: 0.25 } });
    const retire = await app.gql(`mutation($id: ID!) { retireDeadlineRule(id: $id) { id current } }`, { id: roads.data.setDeadlineRule.id });
    expect(retire.data.retireDeadlineRule.current).toBe(false);
    const base = await app.gql(`mutation($id: ID!) { retireDeadlineRule(id: $id) { id } }`, { id: fresh.id });
    expect(base.errors[0].message).toMatch(/основное правило/);
  });

  it('urgency by a person, call-back ratings, and the bulk recompute gives the same columns', async () => {
    const id = String(await idOf('IM-10'));
    let r = await app.gql(`mutation($id: ID!) { setAppealUrgent(appealId: $id, urgent: true, reason: "в доме нет тепла, дети") { urgent answerDueAt deadlineRule { urgent } events { kind toValue comment } } }`, { id });
    expect(r.errors).toBeUndefined();
    expect(r.data.setAppealUrgent).toMatchObject({ urgent: true, deadlineRule: { urgent: true } });
    expect(r.data.setAppealUrgent.events.find((e: any) => e.kind === 'URGENCY')).toMatchObject({ toValue: 'true', comment: 'в доме нет тепла, дети' });
    r = await app.gql(`mutation($id: ID!) { recordSatisfaction(appealId: $id, rating: 5) { satisfaction } }`, { id });
    expect(r.errors[0].message).toMatch(/ещё не ответили/);
    const answered = String(await idOf('IM-3'));
    r = await app.gql(`mutation($id: ID!) { recordSatisfaction(appealId: $id, rating: 6) { satisfaction } }`, { id: answered });
    expect(r.errors[0].extensions.field).toBe('rating');
    r = await app.gql(`mutation($id: ID!) { recordSatisfaction(appealId: $id, rating: 4, comment: "перезвонили") { satisfaction events { kind toValue comment } } }`, { id: answered });
    expect(r.data.recordSatisfaction.satisfaction).toBe(4);
    expect(r.data.recordSatisfaction.events.find((e: any) => e.kind === 'SATISFACTION')).toMatchObject({ toValue: '4', comment: 'перезвонили' });

    const cols = `SELECT id, urgent, deadline_rule_id, first_reaction_due_at, answer_due_at, answer_at_risk_at, first_reaction_minutes, answer_minutes FROM appeal ORDER BY id`;
    const before = await app.sql(cols);
    await app.sql('UPDATE appeal SET deadline_rule_id = NULL, answer_due_at = NULL, answer_at_risk_at = NULL, first_reaction_due_at = NULL, answer_minutes = NULL, first_reaction_minutes = NULL');
    r = await app.gql(`mutation { recomputeAppealDeadlines { appeals withRule urgent } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.recomputeAppealDeadlines).toMatchObject({ appeals: before.length, withRule: before.length });
    const after = await app.sql(cols);
    // rules were edited since some appeals were registered: each keeps the version in force at its registration,
    // and the extension of Вх-2 is kept
    expect(after).toEqual(before);
  });

  it('imports a production calendar year by mutation; bad files change nothing', async () => {
    const xml = fs.readFileSync('db/reference/calendar/ru-2026.xml', 'utf8').replace('year="2026"', 'year="2027"');
    let r = await app.gql(`mutation($xml: String!) { importProductionCalendar(xml: $xml, source: "ru-2027.xml") { year days holidays shortened workingDays replaced } }`, { xml });
    expect(r.errors).toBeUndefined();
    expect(r.data.importProductionCalendar).toMatchObject({ year: 2027, replaced: false });
    const bad = xml.replace('<day d="01.02" t="1" h="1"/>', '<day d="01.02" t="1" h="1"/><day d="02.30" t="1"/>');
    r = await app.gql(`mutation($xml: String!) { importProductionCalendar(xml: $xml, source: "bad.xml") { year } }`, { xml: bad.replace('year="2027"', 'year="2028"') });
    expect(r.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.errors[0].message).toMatch(/02\.30/);
    const years = (await app.gql(`{ productionCalendar { year } }`)).data.productionCalendar.map((y: any) => y.year);
    expect(years).toEqual([2024, 2025, 2026, 2027]);
    r = await app.gqlAs(Role.ANALYST, `mutation($xml: String!) { importProductionCalendar(xml: $xml) { year } }`, { xml });
    expect(r.errors[0].extensions.code).toBe('FORBIDDEN');
    // working hours: bad interval named; good change audited
    r = await app.gql(`mutation($h: JSONObject!) { setWorkingHours(hours: $h) { timezone } }`, { h: { week: { 1: ['17:00-08:00'] } } });
    expect(r.errors[0].extensions.field).toBe('hours.week.1[0]');
    r = await app.gql(`mutation($h: JSONObject!) { setWorkingHours(hours: $h, timezone: "Mars/Olympus") { timezone } }`, { h: { week: { 1: ['08:00-17:00'] } } });
    expect(r.errors[0].extensions.field).toBe('timezone');
    // a good change is audited and the working time follows it: Fridays to 15:00 → an hour less on every ordinary Friday
    const yearHours = async () => (await app.gql(`{ productionCalendar(years: [2026]) { workingHours } workingHours { hours } }`)).data;
    const before = await yearHours();
    const hours = structuredClone(before.workingHours.hours);
    hours.week['5'] = ['08:00-12:00', '12:48-15:00'];
    r = await app.gql(`mutation($h: JSONObject!) { setWorkingHours(hours: $h) { timezone hours } }`, { h: hours });
    expect(r.errors).toBeUndefined();
    expect(r.data.setWorkingHours.hours.week['5']).toEqual(['08:00-12:00', '12:48-15:00']);
    const after = await yearHours();
    expect(after.productionCalendar[0].workingHours).toBeLessThan(before.productionCalendar[0].workingHours - 40);
    expect((await app.sql(`SELECT 1 FROM audit_log WHERE entity = 'working_hours' AND action = 'update'`)).length).toBe(1);
    r = await app.gql(`mutation($h: JSONObject!) { setWorkingHours(hours: $h) { timezone } }`, { h: before.workingHours.hours });
    expect(r.errors).toBeUndefined();
  });
});

describe.each(backends)('demo data under the deadline rules on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 3000);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('looks like a real city: a late tail, urgent appeals, extensions, first reactions, ratings', async () => {
    const [s] = await app.sql<Record<string, number>>(`SELECT count(*)::int AS n,
        count(*) FILTER (WHERE deadline_rule_id IS NULL OR answer_due_at IS NULL)::int AS no_rule,
        count(*) FILTER (WHERE answered_at IS NOT NULL AND status <> 'REJECTED')::int AS answered,
        count(*) FILTER (WHERE answered_at > answer_due_at AND status <> 'REJECTED')::int AS late,
        count(*) FILTER (WHERE urgent)::int AS urgent,
        count(*) FILTER (WHERE answered_at IS NULL AND answer_due_at <= now())::int AS overdue,
        count(*) FILTER (WHERE first_reaction_minutes IS NOT NULL)::int AS reacted,
        count(*) FILTER (WHERE satisfaction IS NOT NULL)::int AS rated
      FROM appeal`);
    expect(s.no_rule).toBe(0);
    const lateShare = s.late / s.answered;
    expect(lateShare).toBeGreaterThan(0.06);
    expect(lateShare).toBeLessThan(0.2);
    expect(s.urgent / s.n).toBeGreaterThan(0.01);
    expect(s.overdue).toBeGreaterThan(0);
    expect(s.reacted / s.n).toBeGreaterThan(0.8);
    expect(s.rated).toBeGreaterThan(100);
    const [e] = await app.sql<Record<string, number>>(`SELECT count(*) FILTER (WHERE kind = 'EXTENSION')::int AS ext,
        count(*) FILTER (WHERE kind = 'URGENCY')::int AS urg, count(*) FILTER (WHERE kind = 'FIRST_REACTION')::int AS fr FROM appeal_event`);
    expect(e.ext).toBeGreaterThan(30);
    expect(e.urg).toBe(s.urgent);
    expect(e.fr).toBeGreaterThan(0);
    // an extended appeal's due time is the extension's new due time
    const [x] = await app.sql<{ ok: boolean }>(`SELECT bool_and(a.answer_due_at = e.to_value::timestamptz) AS ok FROM appeal a
      JOIN appeal_event e ON e.appeal_id = a.id AND e.kind = 'EXTENSION'`);
    expect(x.ok).toBe(true);
    // repeats: the same author, theme and place within the repeat window after the answer to the earlier appeal,
    // a REPEAT event each; the rating counts them as failures of the first answer
    const [rp] = await app.sql<Record<string, number>>(`SELECT count(*)::int AS n,
        count(*) FILTER (WHERE r.author_id = p.author_id AND r.theme_id = p.theme_id AND r.address IS NOT DISTINCT FROM p.address
          AND p.answered_at < r.received_at AND r.received_at <= p.answered_at + interval '90 days')::int AS ok,
        (SELECT count(*)::int FROM appeal_event WHERE kind = 'REPEAT') AS events
      FROM appeal r JOIN appeal p ON p.id = r.repeat_of_id`);
    expect(rp.n / s.n).toBeGreaterThan(0.01);
    expect(rp.ok).toBe(rp.n);
    expect(rp.events).toBe(rp.n);
    const rating = (await app.gql(`{ organizationRating(period: { kind: CUSTOM, start: "2025-01-01", end: "2026-11-27" }) { rows { figures { repeated } } } }`));
    expect(rating.errors).toBeUndefined();
    expect(rating.data.organizationRating.rows.reduce((x: number, r: any) => x + r.figures.repeated, 0)).toBeGreaterThan(0);
    // the GraphQL counts by state agree with the SQL
    const q = `query($s: [DeadlineState!]) { appeals(filter: { deadlineStates: $s }) { totalCount } }`;
    expect((await app.gql(q, { s: ['ANSWERED_LATE'] })).data.appeals.totalCount).toBe(
      (await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM appeal WHERE answered_at > answer_due_at`))[0].n);
  });
});

describe.each(backends)('calendar import command on %s', (backend) => {
  it('npm run import:calendar loads a new year; a file with an impossible date or a day twice names the entry and stores nothing', { timeout: 300_000 }, async () => {
    const { spawnSync } = await import('node:child_process');
    const db = await freshDatabase(backend);
    const env = { ...process.env, MUNICIPALITY: 'rubtsovsk', ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : { DATA_DIR: db.dataDir!, DATABASE_URL: '' }) };
    fs.mkdirSync('test/.cache', { recursive: true });
    const good = `test/.cache/ru-2027-${process.pid}-${backend}.xml`;
    const bad = `test/.cache/ru-2027-bad-${process.pid}-${backend}.xml`;
    const xml = fs.readFileSync('db/reference/calendar/ru-2026.xml', 'utf8').replace('year="2026"', 'year="2027"');
    fs.writeFileSync(good, xml);
    // a valid day and a day given twice: the second names the entry; the good days before it are not stored either
    fs.writeFileSync(bad, xml.replace('<day d="01.02" t="1" h="1"/>', '<day d="01.02" t="1" h="1"/><day d="01.02" t="2"/>'));
    const run = (file: string) => spawnSync(process.execPath, ['dist/server/cli/import-calendar.js', file], { env, encoding: 'utf8' });
    try {
      const r1 = run(bad);
      expect(r1.status).toBe(1);
      expect(r1.stderr).toMatch(/ничего не изменено.*days\.day\[\d+\]\.d.*2027-01-02 указан дважды/s);
      const r2 = run(good);
      expect(r2.stderr).toBe('');
      expect(r2.status).toBe(0);
      expect(r2.stdout).toMatch(/^2027: загружен — .*рабочих дней в году \d+/m); // «загружен», not «заменён»: the bad file stored nothing
      const r3 = run(good);
      expect(r3.stdout).toMatch(/^2027: заменён/m);
    } finally {
      fs.rmSync(good, { force: true });
      fs.rmSync(bad, { force: true });
      await db.drop();
    }
  });
});
