import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { Role } from '../server/auth/roles.js';
import { extract, findAddresses } from '../server/quality/features.js';
import { baseModel, corpusTemplateSizes, EVAL_FILE, judge, readLabelled, referenceThemeKeywords, TRAIN_FILE } from '../server/quality/model.js';
import { distance, simhash } from '../server/quality/simhash.js';
import { evaluate } from '../server/quality/evaluate.js';

const kw = referenceThemeKeywords();
const verdictOf = (answer: string, appeal = 'Во дворе огромная яма, машины бьют колёса.', address: string | null = 'ул. Калинина, 12', theme = 'roads.potholes', templateSize = 1) =>
  judge(baseModel(), extract({ appealText: appeal, appealAddress: address, themeKeywords: kw.get(theme) ?? [], answerText: answer }), templateSize);
const codes = (j: { reasons: { code: string }[] }) => j.reasons.map((r) => r.code);

describe('answer quality: the detector', () => {
  it('judges hand-picked answers with readable reasons', () => {
    const boiler = verdictOf('Ваше обращение рассмотрено. Информация направлена в МБУ для принятия мер. Вопрос взят на контроль.');
    expect(boiler.verdict).toBe('FORMAL');
    expect(codes(boiler)).toEqual(expect.arrayContaining(['BOILERPLATE', 'NO_DATE']));
    expect(boiler.reasons.find((r) => r.code === 'BOILERPLATE')!.text).toMatch(/обращение рассмотрено/);

    const dated = verdictOf('В срок до 15.06 бригада МУП «Рубцовский дорожник» выполнит ямочный ремонт у д. 12 по ул. Калинина.');
    expect(dated.verdict).toBe('SUBSTANTIVE');
    expect(codes(dated)).toContain('DATED_PROMISE');

    const vague = verdictOf('Ямочный ремонт будет выполнен в ближайшее время, будут приняты меры.');
    expect(vague.verdict).toBe('FORMAL');
    expect(codes(vague)).toContain('VAGUE_PROMISE');

    const refusal = verdictOf('Ремонт этой дороги городом невозможен, так как она региональная (КГКУ «Алтайавтодор»). Обратитесь в КГКУ по тел. 8-3852-63-40-12, мы передали им фото ямы.',
      'Яма на трассе у въезда в город.', null);
    expect(refusal.verdict).toBe('SUBSTANTIVE');
    expect(codes(refusal)).toContain('GROUNDED_REFUSAL');

    const bare = verdictOf('Ремонт дороги не представляется возможным.');
    expect(bare.verdict).toBe('FORMAL');

    const law = verdictOf('Ремонт автомобильных дорог местного значения осуществляется в соответствии с Федеральным законом № 257-ФЗ и муниципальной программой.');
    expect(law.verdict).toBe('FORMAL');
    expect(codes(law)).toContain('NO_DATE');

    const done = verdictOf('Яма у д. 12 по ул. Калинина заделана асфальтом 03.06 бригадой комбината благоустройства.');
    expect(done.verdict).toBe('SUBSTANTIVE');
    expect(codes(done)).toContain('WORK_DONE');
    expect(done.reasons.every((r) => r.effect === 'SUBSTANTIVE')).toBe(true);
  });

  it('finds an answer about another address or another subject', () => {
    const other = verdictOf('Яма у д. 40 по ул. Пролетарской заделана асфальтом 03.06 бригадой комбината благоустройства.');
    expect(other.verdict).toBe('FORMAL');
    expect(other.reasons.find((r) => r.code === 'ADDRESS_MISMATCH')!.text).toMatch(/Пролетарской.*ул\. Калинина, 12/);
    // The same street and house written differently is no mismatch; an office address is not the problem's place.
    expect(codes(verdictOf('Яма у дома 12 по улице Калинина заделана 03.06 бригадой МБУ.'))).not.toContain('ADDRESS_MISMATCH');
    expect(codes(verdictOf('Яма заделана 03.06 бригадой МБУ у д. 12. Справки в офисе на пр. Ленина, 60.'))).not.toContain('ADDRESS_MISMATCH');
    expect(findAddresses('проезд восстановлен, площадка убрана')).toEqual([]);

    const topic = verdictOf('Запись к терапевту в поликлинике открыта через регистратуру и Госуслуги.');
    expect(codes(topic)).toContain('TOPIC_MISMATCH');
    expect(topic.verdict).toBe('FORMAL');
  });

  it('detects templates across different appeals by near-duplicate fingerprints', () => {
    const tpl = (name: string, date: string, n: string) =>
      `Уважаемый(ая) ${name}! Ваше обращение от ${date} № ${n} рассмотрено. Информация направлена ответственному исполнителю для принятия мер в рамках компетенции.`;
    const a = simhash(tpl('Иванов И. И.', '12.03.2026', '1123'));
    const b = simhash(tpl('Петрова А. С.', '01.04.2026', '2210'));
    expect(distance(a, b)).toBe(0); // names, dates and numbers are masked
    const c = simhash(tpl('Петрова А. С.', '01.04.2026', '2210').replace('ответственному исполнителю', 'ответственному лицу'));
    expect(distance(a, c)).toBeLessThanOrEqual(20);
    const other = simhash('Яма у д. 12 по ул. Калинина заделана асфальтом 03.06 бригадой комбината благоустройства.');
    expect(distance(a, other)).toBeGreaterThan(10);

    const cases = ['Яма у дома', 'Нет света', 'Сломана скамейка', 'Шумят соседи', 'Шумят соседи'].map((appealText, i) =>
      ({ appealText, answerText: tpl(`Иванов ${'АБВГД'[i]}. И.`, `0${i + 1}.03.2026`, String(100 + i)) }));
    cases.push({ appealText: 'Другое', answerText: 'Яма у д. 12 по ул. Калинина заделана асфальтом 03.06.' });
    // Four different appeals (the fifth repeats the fourth's text): a template of 4; the last answer is alone.
    expect(corpusTemplateSizes(cases)).toEqual([4, 4, 4, 4, 4, 1]);
    const j = verdictOf(cases[0].answerText, 'Яма у дома', null, 'roads.potholes', 4);
    expect(codes(j)).toContain('TEMPLATE');
    expect(j.reasons.find((r) => r.code === 'TEMPLATE')!.text).toMatch(/4 разных обращений/);
  });

  it('reaches F1 ≥ 0.85 for FORMAL on the hand-written evaluation set, which shares no text with the training set', () => {
    const evalCases = readLabelled(EVAL_FILE());
    const train = readLabelled(TRAIN_FILE());
    expect(evalCases.length).toBeGreaterThanOrEqual(200);
    const formal = evalCases.filter((c) => c.label === 'FORMAL').length;
    expect(formal / evalCases.length).toBeGreaterThan(0.45);
    expect(formal / evalCases.length).toBeLessThan(0.55);
    const trainAnswers = new Set(train.map((c) => c.answerText));
    expect(evalCases.filter((c) => trainAnswers.has(c.answerText))).toEqual([]);
    const e = evaluate();
    expect(e.model.f1).toBeGreaterThanOrEqual(0.85);
    expect(e.model.f1).toBeGreaterThan(e.rules.f1); // the model is chosen over the baseline by measurement
  });
});

describe.each(backends)('answer quality on %s', (backend) => {
  let app: TestApp;
  const aq = 'answerQuality { verdict modelVerdict score reasons { code text effect } templateSize overridden overriddenBy overrideComment }';
  const openAppeals = async (n: number, org = false) => (await app.sql(
    `SELECT a.id FROM appeal a WHERE a.answer_text IS NULL AND a.status IN ('NEW', 'IN_PROGRESS')
       ${org ? `AND a.organization_id IN (SELECT id FROM organization WHERE code = 'uzhkh' OR parent_id = (SELECT id FROM organization WHERE code = 'uzhkh'))` : ''}
     ORDER BY a.id LIMIT ${n}`)).map((r) => String(r.id));
  const answer = (id: string, text: string, role = Role.COORDINATOR) =>
    app.gqlAs(role, `mutation($id: ID!, $t: String!) { answerAppeal(id: $id, answerText: $t) { id ${aq} } }`, { id, t: text });

  beforeAll(async () => {
    app = await startTestApp(backend, 400);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('judges every answered demo appeal at start, with templates', async () => {
    const [{ answered }] = await app.sql(`SELECT count(*)::int AS answered FROM appeal WHERE answer_text IS NOT NULL`);
    const [{ judged, formal }] = await app.sql(`SELECT count(*)::int AS judged, count(*) FILTER (WHERE verdict = 'FORMAL')::int AS formal FROM answer_quality`);
    expect(judged).toBe(answered);
    expect(formal).toBeGreaterThan(0);
    expect(formal).toBeLessThan(judged);
    const [{ n }] = await app.sql(`SELECT count(*)::int AS n FROM answer_template WHERE size >= 3`);
    expect(n).toBeGreaterThan(0);
  });

  it('judges an answer when it is recorded, and a template when it reaches three different appeals', async () => {
    const good = (await openAppeals(1))[0];
    const r = await answer(good, 'Бригада МБУ «Рубцовский городской комбинат благоустройства» 12.05 выполнила работы по обращению, результат проверен мастером участка Ивановым П. С., тел. 4-23-15.');
    expect(r.errors).toBeUndefined();
    expect(r.data.answerAppeal.answerQuality).toMatchObject({ verdict: 'SUBSTANTIVE', overridden: false, templateSize: 1 });

    const ids = await openAppeals(3);
    const tpl = (n: number) => `Ваше обращение № ${n} от 0${n}.05 рассмотрено. Информация направлена в профильное подразделение для принятия мер, вопрос взят на контроль.`;
    const first = await answer(ids[0], tpl(1));
    expect(first.data.answerAppeal.answerQuality.verdict).toBe('FORMAL');
    expect(first.data.answerAppeal.answerQuality.templateSize).toBe(1);
    await answer(ids[1], tpl(2));
    const third = await answer(ids[2], tpl(3));
    expect(third.data.answerAppeal.answerQuality.templateSize).toBe(3);
    expect(third.data.answerAppeal.answerQuality.reasons.map((x: { code: string }) => x.code)).toContain('TEMPLATE');
    // The first answer became a template answer too (re-judged when the template reached three appeals).
    const again = await app.gql(`query($id: ID!) { appeal(id: $id) { ${aq} } }`, { id: ids[0] });
    expect(again.data.appeal.answerQuality.templateSize).toBe(3);
    expect(again.data.appeal.answerQuality.reasons.map((x: { code: string }) => x.code)).toContain('TEMPLATE');
    const [row] = await app.sql(`SELECT template_size, fingerprint::text AS fp FROM answer_quality WHERE appeal_id = ?`, [Number(ids[0])]);
    expect(row.template_size).toBe(3);
    const [t] = await app.sql(`SELECT size FROM answer_template WHERE fingerprint = ?::bigint`, [row.fp]);
    expect(t.size).toBe(3);

    // The largest templates, with the organisations that send them.
    const tq = await app.gqlAs(Role.ANALYST, `{ answerTemplates(first: 50, minSize: 3) { fingerprint appeals templateSize formal sampleText organizations { organization { name } appeals } } }`);
    expect(tq.errors).toBeUndefined();
    const mine = tq.data.answerTemplates.find((x: { fingerprint: string }) => x.fingerprint === row.fp);
    expect(mine).toMatchObject({ appeals: 3, templateSize: 3 });
    expect(mine.sampleText).toMatch(/профильное подразделение/);
    expect(mine.organizations.reduce((s: number, o: { appeals: number }) => s + o.appeals, 0)).toBe(3);
  });

  it('finds an answer about another address', async () => {
    const [a] = await app.sql(`SELECT id, address FROM appeal WHERE answer_text IS NULL AND status IN ('NEW','IN_PROGRESS') AND address LIKE 'ул. %' ORDER BY id DESC LIMIT 1`);
    const elsewhere = String(a.address).startsWith('ул. Щорса') ? 'ул. Тельмана, 7' : 'ул. Щорса, 7';
    const r = await answer(String(a.id), `Яма у дома по адресу ${elsewhere} заделана асфальтом 03.06 бригадой МБУ «Рубцовский городской комбинат благоустройства».`);
    expect(r.data.answerAppeal.answerQuality.verdict).toBe('FORMAL');
    expect(r.data.answerAppeal.answerQuality.reasons.map((x: { code: string }) => x.code)).toContain('ADDRESS_MISMATCH');
  });

  it('lets a coordinator override the verdict: audited, an event, kept across a re-judge, used at retrain', async () => {
    const [a] = await app.sql(`SELECT q.appeal_id AS id, q.verdict FROM answer_quality q JOIN appeal p ON p.id = q.appeal_id
      WHERE q.verdict = 'FORMAL' AND q.overridden_by IS NULL AND p.status = 'ANSWERED' ORDER BY q.appeal_id LIMIT 1`);
    const id = String(a.id);
    const override = `mutation($id: ID!, $v: AnswerVerdict!, $c: String!) { overrideAnswerQuality(appealId: $id, verdict: $v, comment: $c) { id ${aq} events { kind fromValue toValue comment actor } } }`;
    // Only curators and coordinators; a comment is required.
    for (const role of [Role.WORKER, Role.ANALYST, Role.ORG_OFFICER, Role.BLOCK_LEAD]) {
      const denied = await app.gqlAs(role, override, { id, v: 'SUBSTANTIVE', c: 'по существу' });
      expect(denied.errors?.[0].extensions?.code, role).toBe('FORBIDDEN');
    }
    const empty = await app.gqlAs(Role.COORDINATOR, override, { id, v: 'SUBSTANTIVE', c: '  ' });
    expect(empty.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'comment' });

    const r = await app.gqlAs(Role.COORDINATOR, override, { id, v: 'SUBSTANTIVE', c: 'Ответ по существу: работы выполнены, жители подтвердили' });
    expect(r.errors).toBeUndefined();
    expect(r.data.overrideAnswerQuality.answerQuality).toMatchObject({ verdict: 'SUBSTANTIVE', modelVerdict: 'FORMAL', overridden: true, overriddenBy: 'test-coordinator' });
    expect(r.data.overrideAnswerQuality.events.at(-1)).toMatchObject({ kind: 'QUALITY', fromValue: 'FORMAL', toValue: 'SUBSTANTIVE', actor: 'test-coordinator' });
    const [log] = await app.sql(`SELECT actor, action, before, after FROM audit_log WHERE entity = 'answer_quality' AND entity_id = ? ORDER BY id DESC LIMIT 1`, [id]);
    expect(log).toMatchObject({ actor: 'test-coordinator', action: 'override' });
    expect(log.before.verdict).toBe('FORMAL');
    expect(log.after.verdict).toBe('SUBSTANTIVE');

    // A re-judge of everything keeps the person's verdict.
    const all = await app.gqlAs(Role.CURATOR, `mutation { judgeAnswers { judged formal templates largestTemplate overriddenKept } }`);
    expect(all.errors).toBeUndefined();
    expect(all.data.judgeAnswers.overriddenKept).toBeGreaterThanOrEqual(1);
    const [after] = await app.sql(`SELECT verdict, model_verdict, overridden_by FROM answer_quality WHERE appeal_id = ?`, [Number(id)]);
    expect(after).toMatchObject({ verdict: 'SUBSTANTIVE', model_verdict: 'FORMAL', overridden_by: 'test-coordinator' });
    // The template sizes after the bulk re-judge agree with the incremental ones.
    const [{ bad }] = await app.sql(`SELECT count(*)::int AS bad FROM answer_template t
      WHERE t.size <> (SELECT count(*) FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id WHERE q.fingerprint = t.fingerprint AND a.duplicate_of_id IS NULL)`);
    expect(bad).toBe(0);

    // Retrain: the override joins the training data; cross-validated figures are reported.
    const rt = await app.gqlAs(Role.COORDINATOR, `mutation { retrainAnswerQuality { modelId trainCases overrides cv { precision recall f1 n } evaluation { f1 } weights { feature weight } } }`);
    expect(rt.errors).toBeUndefined();
    expect(rt.data.retrainAnswerQuality.overrides).toBeGreaterThanOrEqual(1);
    expect(rt.data.retrainAnswerQuality.cv.n).toBe(rt.data.retrainAnswerQuality.trainCases + rt.data.retrainAnswerQuality.overrides);
    expect(rt.data.retrainAnswerQuality.evaluation.f1).toBeGreaterThan(0.8);
    const [{ models }] = await app.sql(`SELECT count(*)::int AS models FROM quality_model`);
    expect(models).toBe(1);

    // A new answer is judged afresh: the override of the old answer no longer applies.
    const fresh = await answer(id, 'Ваше обращение рассмотрено, приняты меры.');
    expect(fresh.data.answerAppeal.answerQuality).toMatchObject({ overridden: false, verdict: 'FORMAL' });
  });

  it('filters appeals by verdict, within each role\'s rows', async () => {
    const q = `query($v: AnswerVerdict) { appeals(first: 500, filter: { answerQuality: $v }) { totalCount edges { node { id organization { id } ${aq} } } } }`;
    const [{ formal, substantive }] = await app.sql(`SELECT count(*) FILTER (WHERE verdict = 'FORMAL')::int AS formal, count(*) FILTER (WHERE verdict = 'SUBSTANTIVE')::int AS substantive FROM answer_quality`);
    const f = await app.gqlAs(Role.ANALYST, q, { v: 'FORMAL' });
    expect(f.errors).toBeUndefined();
    expect(f.data.appeals.totalCount).toBe(formal);
    expect(f.data.appeals.edges.every((e: any) => e.node.answerQuality.verdict === 'FORMAL')).toBe(true);
    expect(f.data.appeals.edges[0].node.answerQuality.reasons.length).toBeGreaterThan(0);
    const s = await app.gqlAs(Role.ANALYST, q, { v: 'SUBSTANTIVE' });
    expect(s.data.appeals.totalCount).toBe(substantive);

    // ORG_OFFICER (uzhkh and its subordinates): only its own organisation's appeals and verdicts.
    const [{ own }] = await app.sql(`SELECT count(*)::int AS own FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id
      WHERE q.verdict = 'FORMAL' AND a.organization_id IN (SELECT id FROM organization WHERE code = 'uzhkh' OR parent_id = (SELECT id FROM organization WHERE code = 'uzhkh'))`);
    const o = await app.gqlAs(Role.ORG_OFFICER, q, { v: 'FORMAL' });
    expect(o.errors).toBeUndefined();
    expect(o.data.appeals.totalCount).toBe(own);
    expect(own).toBeLessThan(formal);
    const byOrg = await app.gqlAs(Role.ORG_OFFICER, `{ answerQualityByOrganization { organization { id name } answered formal formalShare reasons { code count } } }`);
    expect(byOrg.errors).toBeUndefined();
    expect(byOrg.data.answerQualityByOrganization.reduce((n: number, r: { formal: number }) => n + r.formal, 0)).toBe(own);
    const all = await app.gqlAs(Role.ANALYST, `{ answerQualityByOrganization { organization { name } answered formal formalShare reasons { code count } } }`);
    expect(all.data.answerQualityByOrganization.reduce((n: number, r: { formal: number }) => n + r.formal, 0)).toBe(formal);
    expect(all.data.answerQualityByOrganization[0].reasons.length).toBeGreaterThan(0);
    // An appeal of another organisation is not visible to the officer, nor its verdict.
    const [foreign] = await app.sql(`SELECT a.id FROM appeal a JOIN answer_quality q ON q.appeal_id = a.id JOIN organization o ON o.id = a.organization_id
      WHERE o.code = 'gatp' LIMIT 1`);
    if (foreign) {
      const hidden = await app.gqlAs(Role.ORG_OFFICER, `query($id: ID!) { appeal(id: $id) { id ${aq} } }`, { id: String(foreign.id) });
      expect(hidden.data.appeal).toBeNull();
    }
    const bad = await app.gqlAs(Role.ANALYST, `{ appeals(filter: { answerQuality: OTHER }) { totalCount } }`);
    expect(bad.errors?.length).toBeGreaterThan(0);
  });

  it('judges the answered appeals of an import, set-based, and a re-import with a new answer', async () => {
    const header = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';
    const formal = 'Ваше сообщение рассмотрено, информация передана в управляющую организацию для принятия мер.';
    const rows = [
      `QI-1;10.03.2026 09:00;ВКонтакте;;Нет отопления в квартире, холодно;Анна;Отопление;ул. Алтайская, 81;Ответ дан;${formal};11.03.2026 10:00`,
      `QI-2;10.03.2026 10:00;ВКонтакте;;Течёт крыша в подъезде;Олег;;ул. Красная, 64;Ответ дан;${formal};11.03.2026 10:00`,
      `QI-3;10.03.2026 11:00;ВКонтакте;;Не убирают подъезд месяц;Ира;;ул. Светлова, 91;Ответ дан;${formal};11.03.2026 10:00`,
      `QI-4;10.03.2026 12:00;ВКонтакте;;Яма у дома;Пётр;Дороги;ул. Калинина, 18;Ответ дан;Яма у д. 18 по ул. Калинина заделана 12.03 бригадой МБУ «Комбинат благоустройства».;12.03.2026 15:00`,
      `QI-5;10.03.2026 13:00;ВКонтакте;;Сломан фонарь;Нина;;ул. Громова, 5;Новый;;`,
    ];
    const IMPORT = `mutation($file: Upload!, $channel: Channel) { importAppeals(file: $file, channel: $channel) { status inserted updated } }`;
    const r = await gqlUpload(app.url, IMPORT, { channel: 'INCIDENT_MANAGEMENT' }, { name: 'q.csv', content: [header, ...rows].join('\n') });
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals).toMatchObject({ status: 'DONE', inserted: 5 });
    const got = await app.sql(`SELECT a.external_id, q.verdict, q.template_size, q.reasons FROM appeal a LEFT JOIN answer_quality q ON q.appeal_id = a.id
      WHERE a.external_id LIKE 'QI-%' ORDER BY a.external_id`);
    expect(got.map((g) => g.verdict)).toEqual(['FORMAL', 'FORMAL', 'FORMAL', 'SUBSTANTIVE', null]);
    expect(got.slice(0, 3).map((g) => g.template_size)).toEqual([3, 3, 3]);
    expect(got[0].reasons.map((x: { code: string }) => x.code)).toContain('TEMPLATE');
    // A re-import with a real answer for QI-2 judges it again.
    const fix = rows[1].replace(formal, 'Кровля над подъездом отремонтирована 14.03 подрядчиком ООО «Кровля-Профи», протечек нет.');
    const r2 = await gqlUpload(app.url, IMPORT, { channel: 'INCIDENT_MANAGEMENT' }, { name: 'q2.csv', content: [header, fix].join('\n') });
    expect(r2.data.importAppeals).toMatchObject({ status: 'DONE', updated: 1 });
    const [q2] = await app.sql(`SELECT q.verdict FROM appeal a JOIN answer_quality q ON q.appeal_id = a.id WHERE a.external_id = 'QI-2'`);
    expect(q2.verdict).toBe('SUBSTANTIVE');
    const [{ size }] = await app.sql(`SELECT t.size FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id JOIN answer_template t ON t.fingerprint = q.fingerprint WHERE a.external_id = 'QI-1'`);
    expect(size).toBe(2);
  });
});

describe('answer quality fixtures', () => {
  it('every evaluation pair has a note and a known theme', () => {
    const lines = fs.readFileSync(EVAL_FILE(), 'utf8').split('\n').filter((l) => l.trim());
    for (const [i, l] of lines.entries()) {
      const o = JSON.parse(l);
      expect(o.note, `line ${i + 1}`).toBeTruthy();
      expect(kw.has(o.theme), `line ${i + 1}: ${o.theme}`).toBe(true);
    }
  });
});
