import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import yauzl from 'yauzl';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { Role } from '../server/auth/roles.js';
import { clearIndicatorCache, indicatorRefreshes, setHeavyAggregateMs, statusOf } from '../server/indicators/service.js';
import { IndicatorStatus } from '../server/indicators/types.js';

/**
 * The centre's own work (decree 4.1–4.3): the complex of indicators computed from planted appeals with figures
 * worked out by hand, imported values, targets and statuses, bad definitions and files; the activity plan from
 * draft to approval with its export — on every backend.
 */

const DASH = `query D($from: String!, $to: String!) { indicatorDashboard(from: $from, to: $to) { from to cached stale groups { blockId title cards {
  indicator { code unit source } latest { month value target status reason } change series { month value target status reason partial } } } } }`;

/** The text of word/document.xml of a DOCX. */
async function docxText(buf: Buffer): Promise<string> {
  const zip = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.fromBuffer(buf, { lazyEntries: true }, (e, z) => (e ? rej(e) : res(z!))));
  return new Promise((res, rej) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName !== 'word/document.xml') return zip.readEntry();
      zip.openReadStream(entry, (e, stream) => {
        if (e) return rej(e);
        const chunks: Buffer[] = [];
        stream!.on('data', (c: Buffer) => chunks.push(c)).on('end', () => res(Buffer.concat(chunks).toString('utf8').replace(/<[^>]+>/g, '')));
      });
    });
    zip.on('end', () => rej(new Error('no word/document.xml')));
    zip.readEntry();
  });
}

const card = (d: any, code: string) => d.indicatorDashboard.groups.flatMap((g: any) => g.cards).find((c: any) => c.indicator.code === code);
const point = (d: any, code: string, month: string) => card(d, code).series.find((s: any) => s.month === month);

describe('indicator status', () => {
  it('compares with the target by direction, with a 10 % band for WARN', () => {
    expect(statusOf(96, 95, 'HIGHER_IS_BETTER')).toBe(IndicatorStatus.OK);
    expect(statusOf(90, 95, 'HIGHER_IS_BETTER')).toBe(IndicatorStatus.WARN);
    expect(statusOf(80, 95, 'HIGHER_IS_BETTER')).toBe(IndicatorStatus.FAIL);
    expect(statusOf(10, 10, 'LOWER_IS_BETTER')).toBe(IndicatorStatus.OK);
    expect(statusOf(10.5, 10, 'LOWER_IS_BETTER')).toBe(IndicatorStatus.WARN);
    expect(statusOf(12, 10, 'LOWER_IS_BETTER')).toBe(IndicatorStatus.FAIL);
    expect(statusOf(null, 10, 'LOWER_IS_BETTER')).toBe(IndicatorStatus.NO_DATA);
    expect(statusOf(3, null, 'LOWER_IS_BETTER')).toBe(IndicatorStatus.NO_TARGET);
  });
});

describe.each(backends)('the centre\'s indicators and plans on %s', (backend) => {
  let app: TestApp;
  let themes: Map<string, number>;
  let ext = 0;

  /** Appeals of March 2026 (Asia/Barnaul) with known deadlines, answers, ratings and repeats. */
  async function plant(rows: { theme: string; onTime?: boolean; late?: boolean; rating?: number; repeat?: boolean; minutes?: number; formal?: boolean; at?: string }[]) {
    for (const r of rows) {
      const at = r.at ?? '2026-03-10T05:00:00Z';
      const answered = r.onTime ? `'2026-03-11T05:00:00Z'` : r.late ? `'2026-03-25T05:00:00Z'` : 'NULL';
      const [a] = await app.sql<{ id: number }>(`
        INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, theme_id, status, answer_due_at, answered_at, answer_text, satisfaction, answer_minutes)
        VALUES (?, 'POS', ?, ?, 'CITIZEN', 'обращение', ?, ?, '2026-03-20T05:00:00Z', ${answered}, ?, ?, ?) RETURNING id`,
      [app.municipalityId, `C-${++ext}`, at, themes.get(r.theme)!, answered === 'NULL' ? 'NEW' : 'ANSWERED', answered === 'NULL' ? null : 'ответ', r.rating ?? null, r.minutes ?? null]);
      if (r.repeat) await app.sql(`UPDATE appeal SET repeat_of_id = (SELECT min(id) FROM appeal WHERE municipality_id = ?) WHERE id = ?`, [app.municipalityId, a.id]);
      if (r.formal != null) {
        await app.sql(`INSERT INTO answer_quality (appeal_id, municipality_id, verdict, model_verdict, score) VALUES (?, ?, ?, ?, 0.5)`,
          [a.id, app.municipalityId, r.formal ? 'FORMAL' : 'SUBSTANTIVE', r.formal ? 'FORMAL' : 'SUBSTANTIVE']);
      }
    }
  }

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
    themes = new Map((await app.sql<{ id: number; code: string }>('SELECT id, code FROM theme')).map((t) => [t.code, t.id]));
    await app.sql('UPDATE municipality SET population = 100000 WHERE id = ?', [app.municipalityId]);
    // March 2026: 10 heating appeals (8 answered on time, 2 late; ratings 5,5,4,2,1,5; 1 repeat; minutes 60..540),
    // 4 pothole appeals unanswered, judged answers: 3 formal of 8.
    await plant([
      ...Array.from({ length: 8 }, (_, i) => ({ theme: 'gkh.heating', onTime: true, minutes: 60 * (i + 1), formal: i < 3, rating: [5, 5, 4, 2, 1, 5][i] })),
      { theme: 'gkh.heating', late: true, minutes: 1200 },
      { theme: 'gkh.heating', late: true, minutes: 1500, repeat: true },
      ...Array.from({ length: 4 }, () => ({ theme: 'roads.potholes' })),
    ]);
    clearIndicatorCache();
  }, 240_000);
  afterAll(async () => app?.close());

  it('seeds the default complex and computes March 2026 as worked out by hand', async () => {
    const r = await app.gql(DASH, { from: '2026-01', to: '2026-03' });
    expect(r.errors).toBeUndefined();
    const d = r.data;
    expect(d.indicatorDashboard.groups[0].title).toBe('Показатели центра');
    // 14 appeals on 100 000 residents.
    expect(point(d, 'appeals_per_1000', '2026-03').value).toBeCloseTo(0.14, 6);
    // 10 answered with a due time, 8 on time.
    expect(point(d, 'on_time_share', '2026-03').value).toBeCloseTo(80, 6);
    expect(point(d, 'on_time_share', '2026-03').status).toBe('FAIL');
    // 8 judged answers, 3 formal.
    expect(point(d, 'formal_share', '2026-03').value).toBeCloseTo(37.5, 6);
    // Ratings 5,5,4,2,1,5: 4 of 6 are 4–5.
    expect(point(d, 'satisfaction_share_45', '2026-03').value).toBeCloseTo(66.667, 2);
    expect(point(d, 'satisfaction_share_45', '2026-03').status).toBe('OK');
    // The heating theme alone: 10 per 100 000 = 0.1 per 1 000; repeats 1 of 10 heating appeals in the gkh top theme.
    expect(point(d, 'gkh.heating_per_1000', '2026-03').value).toBeCloseTo(0.1, 6);
    expect(point(d, 'gkh.repeat_share', '2026-03').value).toBeCloseTo(10, 6);
    // Median of the roads theme: no answers at all → a reason, never a number.
    const roads = point(d, 'transport.median_answer_hours', '2026-03');
    expect(roads.value).toBeNull();
    expect(roads.reason).toMatch(/недостаточно данных/);
    // January: no appeals → shares carry a reason; counts are zero.
    expect(point(d, 'on_time_share', '2026-01').value).toBeNull();
    expect(point(d, 'on_time_share', '2026-01').reason).toMatch(/нет обращений/);
    expect(point(d, 'appeals_per_1000', '2026-01').value).toBe(0);
    // Imported indicators without values say so.
    expect(point(d, 'digital.services_online_share', '2026-03').reason).toMatch(/не загружено/);
  });

  it('serves the dashboard from the cache until the data changes', async () => {
    clearIndicatorCache();
    const a = await app.gql(DASH, { from: '2026-01', to: '2026-03' });
    const b = await app.gql(DASH, { from: '2026-01', to: '2026-03' });
    expect(a.data.indicatorDashboard.cached).toBe(false);
    expect(b.data.indicatorDashboard.cached).toBe(true);
    await plant([{ theme: 'roads.potholes' }]);
    const c = await app.gql(DASH, { from: '2026-01', to: '2026-03' });
    expect(c.data.indicatorDashboard.cached).toBe(false);
    expect(point(c.data, 'appeals_per_1000', '2026-03').value).toBeCloseTo(0.15, 6);
  });

  it('serves a heavy aggregate from the last computation while a fresh one is computed', async () => {
    setHeavyAggregateMs(0);
    try {
      clearIndicatorCache();
      await app.gql(DASH, { from: '2026-03', to: '2026-03' });
      await plant([{ theme: 'roads.potholes' }]);
      const stale = (await app.gql(DASH, { from: '2026-03', to: '2026-03' })).data;
      expect(stale.indicatorDashboard).toMatchObject({ cached: true, stale: true });
      expect(point(stale, 'appeals_per_1000', '2026-03').value).toBeCloseTo(0.15, 6);
      await indicatorRefreshes();
      const fresh = (await app.gql(DASH, { from: '2026-03', to: '2026-03' })).data;
      expect(fresh.indicatorDashboard).toMatchObject({ cached: true, stale: false });
      expect(point(fresh, 'appeals_per_1000', '2026-03').value).toBeCloseTo(0.16, 6);
    } finally {
      setHeavyAggregateMs(1000);
    }
  });

  it('shows a block lead the block\'s indicators first', async () => {
    const r = await app.gqlAs(Role.BLOCK_LEAD, DASH, { from: '2026-03', to: '2026-03' });
    expect(r.errors).toBeUndefined();
    expect(r.data.indicatorDashboard.groups[0].title).toBe('ЖКХ и благоустройство');
  });

  it('rejects bad definitions and targets naming the field, and changes nothing', async () => {
    const before = await app.sql('SELECT count(*)::int AS n FROM indicator');
    const create = `mutation C($i: IndicatorInput!) { createIndicator(input: $i) { id code } }`;
    const bad: [Record<string, unknown>, string][] = [
      [{ code: 'x1', name: 'X', unit: 'PERCENT', direction: 'LOWER_IS_BETTER', source: 'COMPUTED', queryCode: 'no_such_query' }, 'queryCode'],
      [{ code: 'x2', name: 'X', unit: 'COUNT', direction: 'LOWER_IS_BETTER', source: 'COMPUTED', queryCode: 'on_time_share' }, 'unit'],
      [{ code: 'x3', name: 'X', unit: 'PERCENT', direction: 'LOWER_IS_BETTER', block: 'nope', source: 'IMPORTED' }, 'block'],
      [{ code: 'x4', name: 'X', unit: 'PER_1000', direction: 'LOWER_IS_BETTER', source: 'COMPUTED', queryCode: 'appeals_per_1000', params: { theme: 'zz' } }, 'params.theme'],
      [{ code: 'Bad Code', name: 'X', unit: 'COUNT', direction: 'LOWER_IS_BETTER', source: 'IMPORTED' }, 'code'],
      [{ code: 'on_time_share', name: 'X', unit: 'PERCENT', direction: 'HIGHER_IS_BETTER', source: 'COMPUTED', queryCode: 'on_time_share' }, 'code'],
    ];
    for (const [input, field] of bad) {
      const r = await app.gql(create, { i: input });
      expect(r.errors?.[0].extensions?.field, JSON.stringify(input)).toBe(field);
    }
    const [ind] = await app.sql<{ id: number }>(`SELECT id FROM indicator WHERE code = 'on_time_share'`);
    const target = `mutation T($id: ID!, $v: Float, $u: IndicatorUnit) { setIndicatorTarget(id: $id, from: "2026-01", to: "2026-12", value: $v, unit: $u) }`;
    expect((await app.gql(target, { id: ind.id, v: 150 })).errors?.[0].extensions?.field).toBe('value');
    expect((await app.gql(target, { id: ind.id, v: 5, u: 'COUNT' })).errors?.[0].extensions?.field).toBe('unit');
    expect((await app.gql(`mutation { setIndicatorTarget(id: "${ind.id}", from: "2026-13", to: "2026-12", value: 5) }`)).errors?.[0].extensions?.field).toBe('from');
    expect(await app.sql('SELECT count(*)::int AS n FROM indicator')).toEqual(before);
    // Only the centre's coordinators define indicators.
    const denied = await app.gqlAs(Role.ANALYST, create, { i: { code: 'x9', name: 'X', unit: 'COUNT', direction: 'LOWER_IS_BETTER', source: 'IMPORTED' } });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // A good definition, audited.
    const ok = await app.gql(create, { i: { code: 'culture.visits', name: 'Посещения учреждений культуры', unit: 'COUNT', direction: 'HIGHER_IS_BETTER', block: 'social', source: 'IMPORTED' } });
    expect(ok.errors).toBeUndefined();
    expect(await app.sql(`SELECT action FROM audit_log WHERE entity = 'indicator' AND entity_id = ?`, [ok.data.createIndicator.id])).toEqual([{ action: 'create' }]);
  });

  it('imports values all or nothing, naming every bad row and field', async () => {
    const mutation = `mutation I($file: Upload!) { importIndicatorValues(file: $file) { rows stored } }`;
    const bad = 'показатель;месяц;значение\ndigital.services_online_share;2026-02;64,5\nno.such;2026-02;1\ndigital.services_online_share;2026-14;5\nsafety.road_accidents;2026-02;-3\non_time_share;2026-02;50\ndigital.services_online_share;2026-02;65\n';
    const r1 = await gqlUpload(app.url, mutation, {}, { name: 'bad.csv', content: bad });
    const msg = r1.errors?.[0].message ?? '';
    expect(msg).toMatch(/строка 3, поле indicator/);
    expect(msg).toMatch(/строка 4, поле month/);
    expect(msg).toMatch(/строка 5, поле value/);
    expect(msg).toMatch(/строка 6, поле indicator: .*вычисляется/);
    expect(msg).toMatch(/строка 7, поле month: .*уже было/);
    expect(await app.sql('SELECT count(*)::int AS n FROM indicator_value')).toEqual([{ n: 0 }]);
    const good = '\uFEFFindicator;month;value\ndigital.services_online_share;2026-02;64,5\ndigital.services_online_share;2026-03;71\nsafety.road_accidents;2026-03;4\n';
    const r2 = await gqlUpload(app.url, mutation, {}, { name: 'good.csv', content: good });
    expect(r2.errors).toBeUndefined();
    expect(r2.data.importIndicatorValues).toEqual({ rows: 3, stored: 3 });
    const d = (await app.gql(DASH, { from: '2026-02', to: '2026-03' })).data;
    expect(point(d, 'digital.services_online_share', '2026-02')).toMatchObject({ value: 64.5, target: 70, status: 'WARN' });
    expect(point(d, 'digital.services_online_share', '2026-03')).toMatchObject({ value: 71, status: 'OK' });
    expect(card(d, 'digital.services_online_share').change).toBeCloseTo(6.5, 6);
    // Re-import replaces (idempotent by indicator and month).
    await gqlUpload(app.url, mutation, {}, { name: 'good.csv', content: good });
    expect(await app.sql('SELECT count(*)::int AS n FROM indicator_value')).toEqual([{ n: 3 }]);

    // The same from an XLSX workbook (made by ExcelJS): a bad row names its row and field and nothing changes; a good one stores.
    const book = async (rows: unknown[][]) => {
      const wb = new ExcelJS.Workbook();
      const ws = wb.addWorksheet('Значения');
      ws.addRow(['показатель', 'месяц', 'значение', 'единица']);
      for (const r of rows) ws.addRow(r);
      return Buffer.from(await wb.xlsx.writeBuffer() as ArrayBuffer);
    };
    const x1 = await gqlUpload(app.url, mutation, {}, { name: 'values.xlsx', content: await book([['digital.services_online_share', '2026-04', 75, 'PERCENT'], ['safety.road_accidents', '2026-04', 2, 'PERCENT'], ['nope', '2026-13', 1]]) });
    expect(x1.errors?.[0].message).toMatch(/строка 3, поле unit: .*COUNT.*строка 4, поле indicator/);
    expect(await app.sql('SELECT count(*)::int AS n FROM indicator_value')).toEqual([{ n: 3 }]);
    const x2 = await gqlUpload(app.url, mutation, {}, { name: 'values.xlsx', content: await book([['digital.services_online_share', '2026-04', 75.5, 'PERCENT'], ['safety.road_accidents', '2026-04', 2, null]]) });
    expect(x2.errors).toBeUndefined();
    expect(x2.data.importIndicatorValues).toEqual({ rows: 2, stored: 2 });
    expect(await app.sql(`SELECT value FROM indicator_value WHERE month = '2026-04-01' ORDER BY value`)).toEqual([{ value: 2 }, { value: 75.5 }]);
    // Hostile workbooks: a cell longer than the shared XLSX limit, and a zip that is not a workbook — refused, nothing changes.
    const x3 = await gqlUpload(app.url, mutation, {}, { name: 'big.xlsx', content: await book([['digital.services_online_share', '2026-05', 'x'.repeat(40_000)]]) });
    expect(x3.errors?.[0].extensions?.field).toBe('file');
    expect(x3.errors?.[0].message).toMatch(/XLSX|символ/);
    const x4 = await gqlUpload(app.url, mutation, {}, { name: 'broken.xlsx', content: Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(200, 7)]) });
    expect(x4.errors?.[0].extensions?.field).toBe('file');
    expect(await app.sql('SELECT count(*)::int AS n FROM indicator_value')).toEqual([{ n: 5 }]);
  });

  it('runs a plan from draft to approval, with progress, overdue items and the export', async () => {
    const PLAN = `id status draftedBy approvedBy itemCount doneCount overdueCount completion items { id position title dueDate status progress overdue blockName indicatorName }`;
    const create = await app.gqlAs(Role.COORDINATOR, `mutation { createActivityPlan(input: { title: "Основные мероприятия", periodKind: QUARTER, year: 2026, quarter: 1 }) { ${PLAN} periodStart periodEnd } }`);
    expect(create.errors).toBeUndefined();
    const plan = create.data.createActivityPlan;
    expect(plan).toMatchObject({ status: 'DRAFT', periodStart: '2026-01-01', periodEnd: '2026-03-31', draftedBy: 'test-coordinator' });
    const add = `mutation A($p: ID!, $i: PlanItemInput!) { addPlanItem(planId: $p, input: $i) { ${PLAN} } }`;
    // A plan item without a due date, out of the period, without anyone responsible: named errors, nothing stored.
    expect((await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Семинар', responsible: 'Иванов И. И.' } })).errors?.[0].extensions?.field).toBe('item.dueDate');
    expect((await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Семинар', responsible: 'Иванов И. И.', dueDate: '2026-05-01' } })).errors?.[0].extensions?.field).toBe('item.dueDate');
    expect((await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Семинар', responsible: 'X', dueDate: '2026-02-30' } })).errors?.[0].extensions?.field).toBe('item.dueDate');
    expect((await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Семинар', dueDate: '2026-02-20' } })).errors?.[0].extensions?.field).toBe('item.responsible');
    expect((await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Семинар', responsible: 'X', dueDate: '2026-02-20', indicator: 'nope' } })).errors?.[0].extensions?.field).toBe('item.indicator');
    expect(await app.sql('SELECT count(*)::int AS n FROM plan_item')).toEqual([{ n: 0 }]);
    await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Семинар для специалистов органов по подготовке ответов по существу', responsible: 'Отдел аналитики МЦУ', dueDate: '2026-02-20', indicator: 'formal_share' } });
    const two = await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Анализ обращений по отоплению за отопительный сезон', block: 'gkh', dueDate: '2026-03-31' } });
    expect(two.data.addPlanItem.items.map((i: any) => i.position)).toEqual([1, 2]);
    // Only the curator approves.
    expect((await app.gqlAs(Role.COORDINATOR, `mutation { approveActivityPlan(planId: "${plan.id}") { id } }`)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gqlAs(Role.BLOCK_LEAD, `mutation { createActivityPlan(input: { title: "x", periodKind: YEAR, year: 2026 }) { id } }`)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const approved = await app.gql(`mutation { approveActivityPlan(planId: "${plan.id}") { ${PLAN} } }`);
    expect(approved.data.approveActivityPlan).toMatchObject({ status: 'APPROVED', approvedBy: 'test-curator', itemCount: 2 });
    // Both items were due in the past (the plan's quarter is over): overdue until done.
    expect(approved.data.approveActivityPlan.overdueCount).toBe(2);
    // After approval the wording is fixed; progress is marked.
    expect((await app.gqlAs(Role.COORDINATOR, add, { p: plan.id, i: { title: 'Поздно', responsible: 'X', dueDate: '2026-02-01' } })).errors?.[0].message).toMatch(/утверждён/);
    const itemId = approved.data.approveActivityPlan.items[0].id;
    const done = await app.gqlAs(Role.COORDINATOR, `mutation { setPlanItemProgress(itemId: "${itemId}", input: { status: DONE, note: "проведён 18.02" }) { ${PLAN} } }`);
    expect(done.data.setPlanItemProgress).toMatchObject({ doneCount: 1, overdueCount: 1, completion: 50 });
    expect((await app.sql(`SELECT action FROM audit_log WHERE entity IN ('activity_plan', 'plan_item') ORDER BY id`)).map((r: any) => r.action))
      .toEqual(['create', 'create', 'create', 'approve', 'progress']);

    // The export in the shape of a municipal plan: stamp, title, the table; dates are dates, numbers are numbers.
    const res = await app.defaultClient.fetch(`/exports/plan.xlsx?id=${plan.id}`);
    expect(res.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as never);
    const ws = wb.worksheets[0];
    expect(ws.getCell('E1').value).toBe('УТВЕРЖДАЮ');
    expect(ws.getCell('A6').value).toBe('ПЛАН');
    expect(String(ws.getCell('A7').value)).toMatch(/I квартал 2026 года/);
    expect(ws.getRow(9).values).toEqual([undefined, '№ п/п', 'Наименование мероприятия', 'Ответственный исполнитель', 'Срок исполнения', 'Показатель / проблема', 'Отметка об исполнении']);
    expect(ws.getCell('A10').value).toBe(1);
    expect(ws.getCell('D10').value).toBeInstanceOf(Date);
    expect(String(ws.getCell('F10').value)).toMatch(/^выполнено/);
    expect(String(ws.getCell('F11').value)).toMatch(/просрочено/);
    expect(String(ws.getCell('C11').value)).toBe('ЖКХ и благоустройство');
    // The same plan as a DOCX document: the approval block, the title and the table with the marks.
    const dres = await app.defaultClient.fetch(`/exports/plan.docx?id=${plan.id}`);
    expect(dres.status).toBe(200);
    const dbuf = Buffer.from(await dres.arrayBuffer());
    fs.mkdirSync(new URL('./artifacts/', import.meta.url), { recursive: true });
    fs.writeFileSync(new URL(`./artifacts/plan-${backend}.docx`, import.meta.url), dbuf);
    const dtext = await docxText(dbuf);
    expect(dtext).toMatch(/УТВЕРЖДАЮКуратор муниципального центра управления____________ test-curator/);
    expect(dtext).toMatch(/ПЛАНдеятельности муниципального центра управления \(.*\) на I квартал 2026 года/);
    expect(dtext).toMatch(/№ п\/пНаименование мероприятияСрок исполненияОтветственный исполнительОтметка о выполнении1\.Семинар для специалистов.*20\.02\.2026Отдел аналитики МЦУвыполнено/);
    expect(dtext).toMatch(/2\.Анализ обращений по отоплению.*31\.03\.2026ЖКХ и благоустройствозапланировано, 0 % \(просрочено\)/);
    expect((await app.defaultClient.fetch('/exports/plan.docx?id=999999')).status).toBe(404);
    expect((await app.anonymous.fetch(`/exports/plan.docx?id=${plan.id}`)).status).toBe(401);
    expect((await app.defaultClient.fetch('/exports/plan.xlsx?id=abc')).status).toBe(400);
    expect((await app.defaultClient.fetch('/exports/plan.xlsx?id=999999')).status).toBe(404);
    expect((await app.anonymous.fetch(`/exports/plan.xlsx?id=${plan.id}`)).status).toBe(401);
  });

  it('finds errors in organisations\' data, sends a notice to the head and tracks the fix', async () => {
    const org = async (code: string) => (await app.sql<{ id: number }>('SELECT id FROM organization WHERE code = ?', [code]))[0].id;
    const uzhkh = await org('uzhkh');
    const uo = await org('uo');
    const ins = async (extra: string, values: unknown[], status = 'NEW', receivedAgo = '1 day') => {
      const [a] = await app.sql<{ id: number }>(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, status, organization_id${extra ? `, ${extra}` : ''})
        VALUES (?, 'DIRECT', ?, now() - interval '${receivedAgo}', 'CITIZEN', 'обращение', ?, ?${values.slice(1).map(() => ', ?').join('')}) RETURNING id`,
      [app.municipalityId, `DQ-${++ext}`, status, values.length ? values[0] : uzhkh, ...values.slice(1)]);
      return a.id;
    };
    const noText = await ins('answered_at', [uzhkh, new Date()], 'ANSWERED');
    await ins('answered_at', [uzhkh, new Date(Date.now() - 10 * 86_400_000)], 'ANSWERED');            // answered before it came
    await ins('', [uzhkh], 'ANSWERED');                                                                 // «answered» without an answer
    await ins('', [uo], 'NEW', '60 days');                                                              // stuck for 60 days
    for (let i = 0; i < 3; i++) await ins('address, place_status', [uo, 'ул. Несуществующая, 1', 'UNRESOLVED']);
    const check = `mutation { runDataQualityCheck { found created resolved } }`;
    const r1 = await app.gql(check);
    expect(r1.errors).toBeUndefined();
    const rules = async () => (await app.gql(`{ dataQualitySummary { organizationId rule open } }`)).data.dataQualitySummary;
    const byRule = (rows: any[], rule: string, orgId: number) => rows.find((r) => r.rule === rule && r.organizationId === String(orgId))?.open ?? 0;
    let s1 = await rules();
    expect(byRule(s1, 'ANSWER_WITHOUT_TEXT', uzhkh)).toBeGreaterThanOrEqual(2); // the two answered appeals without text
    expect(byRule(s1, 'ANSWER_BEFORE_APPEAL', uzhkh)).toBe(1);
    expect(byRule(s1, 'ANSWERED_WITHOUT_ANSWER', uzhkh)).toBe(1);
    expect(byRule(s1, 'STUCK_IN_STATUS', uo)).toBe(1);
    expect(byRule(s1, 'GEOCODING_FAILED_REPEATEDLY', uo)).toBe(1);
    expect(byRule(s1, 'ORG_CONTACTS_MISSING', uzhkh)).toBe(1);
    // Idempotent: the same errors are not stored twice.
    expect((await app.gql(check)).data.runDataQualityCheck.created).toBe(0);

    // Contacts filled, an organisation that no longer exists: the next check follows.
    const contacts = `mutation C($o: ID!, $i: OrganizationContactsInput!) { setOrganizationContacts(organizationId: $o, input: $i) { headName email active } }`;
    expect((await app.gql(contacts, { o: uzhkh, i: { email: 'не почта' } })).errors?.[0].extensions?.field).toBe('email');
    await app.gql(contacts, { o: uzhkh, i: { headName: 'Петров П. П.', headTitle: 'Начальнику Управления по ЖКХ и экологии', email: 'gkh@rubtsovsk.example' } });
    await app.gql(contacts, { o: uo, i: { active: false } });
    await app.gql(check);
    s1 = await rules();
    expect(byRule(s1, 'ORG_CONTACTS_MISSING', uzhkh)).toBe(0);
    expect(byRule(s1, 'ROUTED_TO_INACTIVE_ORG', uo)).toBeGreaterThanOrEqual(4); // its 4 open appeals (and any routing rule to it)

    // The notice: a date in the past is refused; the letter lists the findings.
    const notice = `mutation N($o: ID!, $d: String!) { createDataQualityNotice(organizationId: $o, fixBy: $d) { id status findings openFindings documentUrl headName } }`;
    expect((await app.gql(notice, { o: uzhkh, d: '2020-01-01' })).errors?.[0].extensions?.field).toBe('fixBy');
    const n = (await app.gql(notice, { o: uzhkh, d: '2099-12-31' })).data.createDataQualityNotice;
    expect(n).toMatchObject({ status: 'SENT', headName: 'Петров П. П.' });
    expect(n.findings).toBe(n.openFindings);
    const doc = await app.defaultClient.fetch(n.documentUrl);
    expect(doc.status).toBe(200);
    const text = await docxText(Buffer.from(await doc.arrayBuffer()));
    expect(text).toContain('Начальнику Управления по ЖКХ и экологии');
    expect(text).toContain('О необходимости устранения ошибок в данных');
    expect(text).toContain('Ответ раньше обращения');
    expect(text).toContain('31.12.2099');
    // Nothing new to notify: refused.
    expect((await app.gql(notice, { o: uzhkh, d: '2099-12-31' })).errors?.[0].extensions?.field).toBe('organizationId');

    // An officer of uzhkh sees its own findings and notices, not those of other organisations.
    const officer = await app.gqlAs(Role.ORG_OFFICER, `{ dataQualitySummary { organizationId } dataQualityNotices { id } }`);
    // (its own and its subordinate organisations, as for appeals)
    const subtree = (await app.sql<{ id: number }>(`WITH RECURSIVE s AS (SELECT id FROM organization WHERE id = ? UNION SELECT o.id FROM organization o JOIN s ON o.parent_id = s.id) SELECT id FROM s`, [uzhkh])).map((r) => String(r.id));
    const seen = officer.data.dataQualitySummary.map((r: any) => r.organizationId);
    expect(seen).toContain(String(uzhkh));
    expect(seen.every((o: string) => subtree.includes(o))).toBe(true);
    expect(seen).not.toContain(String(uo));
    expect(officer.data.dataQualityNotices.map((x: any) => x.id)).toEqual([n.id]);
    expect((await app.gqlAs(Role.ORG_OFFICER, check)).errors?.[0].extensions?.code).toBe('FORBIDDEN');

    // The organisation fixes its data: the check marks the findings fixed and the notice FIXED.
    await app.sql(`UPDATE appeal SET answer_text = 'Выполнен ремонт' WHERE organization_id = ? AND answered_at IS NOT NULL`, [uzhkh]);
    await app.sql(`UPDATE appeal SET answered_at = received_at + interval '1 day' WHERE organization_id = ? AND answered_at < received_at`, [uzhkh]);
    await app.sql(`UPDATE appeal SET answered_at = now(), answer_text = 'Ответ дан' WHERE organization_id = ? AND status = 'ANSWERED' AND answered_at IS NULL`, [uzhkh]);
    const r3 = (await app.gql(check)).data.runDataQualityCheck;
    expect(r3.resolved).toBeGreaterThanOrEqual(4);
    const after = (await app.gql(`{ dataQualityNotices { id status openFindings } }`)).data.dataQualityNotices.find((x: any) => x.id === n.id);
    expect(after).toMatchObject({ status: 'FIXED', openFindings: 0 });
    expect((await app.sql(`SELECT count(*)::int AS n FROM audit_log WHERE entity IN ('dq_finding', 'dq_notice', 'organization')`))[0].n).toBeGreaterThanOrEqual(7);
  });

  it('plans a seminar with invitees suggested from the figures, records attendance, keeps best practices', async () => {
    const orgId = async (code: string) => (await app.sql<{ id: number }>('SELECT id FROM organization WHERE code = ?', [code]))[0].id;
    const [a, b] = [await orgId('vodokanal'), await orgId('teploseti')];
    // vodokanal: 12 judged answers, 8 formal; teploseti: 12 judged, 1 formal — the city 9 of 24 (37,5 %).
    for (const [org, formal] of [[a, 8], [b, 1]] as const) {
      for (let i = 0; i < 12; i++) {
        const [x] = await app.sql<{ id: number }>(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, status, organization_id, answered_at, answer_text)
          VALUES (?, 'POS', ?, '2026-05-10T05:00:00Z', 'CITIZEN', 'обращение', 'ANSWERED', ?, '2026-05-11T05:00:00Z', 'ответ') RETURNING id`, [app.municipalityId, `S-${++ext}`, org]);
        await app.sql(`INSERT INTO answer_quality (appeal_id, municipality_id, verdict, model_verdict, score) VALUES (?, ?, ?, ?, 0.5)`,
          [x.id, app.municipalityId, i < formal ? 'FORMAL' : 'SUBSTANTIVE', i < formal ? 'FORMAL' : 'SUBSTANTIVE']);
      }
    }
    const sug = await app.gql(`{ seminarInviteSuggestions(basis: "FORMAL_ANSWERS", from: "2026-05-01", to: "2026-06-01") { organizationId figure cityFigure reason } }`);
    expect(sug.errors).toBeUndefined();
    expect(sug.data.seminarInviteSuggestions).toEqual([expect.objectContaining({ organizationId: String(a), figure: 66.7, cityFigure: 37.5 })]);
    expect(sug.data.seminarInviteSuggestions[0].reason).toMatch(/66,7 % \(8 из 12\) при 37,5 % по городу/);
    expect((await app.gql(`{ seminarInviteSuggestions(basis: "WHATEVER", from: "2026-05-01", to: "2026-06-01") { organizationId } }`)).errors?.[0].extensions?.field).toBe('basis');

    const create = `mutation C($i: SeminarInput!) { createSeminar(input: $i) { id status } }`;
    expect((await app.gql(create, { i: { topic: 'Ответы по существу', heldOn: '2026-13-01' } })).errors?.[0].extensions?.field).toBe('heldOn');
    const sem = (await app.gql(create, { i: { topic: 'Как отвечать по существу: разбор отписок', heldOn: '2026-06-15', organiser: 'CENTRE_WITH_CUR', materials: ['Методические рекомендации ЦУР, 2025'] } })).data.createSeminar;
    const invite = `mutation I($s: ID!, $v: [InviteeInput!]!) { inviteToSeminar(seminarId: $s, invitees: $v) { invitedCount invitees { id organizationId person reason } } }`;
    expect((await app.gql(invite, { s: sem.id, v: [{ organizationId: '999999' }] })).errors?.[0].extensions?.field).toBe('invitees[0].organizationId');
    const inv = (await app.gql(invite, { s: sem.id, v: [{ organizationId: String(a), person: 'Сидорова А. А.', reason: sug.data.seminarInviteSuggestions[0].reason }, { organizationId: String(b) }] })).data.inviteToSeminar;
    expect(inv.invitedCount).toBe(2);
    // Re-inviting the same people does not duplicate them.
    expect((await app.gql(invite, { s: sem.id, v: [{ organizationId: String(b) }] })).data.inviteToSeminar.invitedCount).toBe(2);
    const attendee = inv.invitees.find((x: any) => x.organizationId === String(a)).id;
    const done = await app.gql(`mutation { completeSeminar(seminarId: "${sem.id}", status: "HELD", attended: ["${attendee}"], materials: ["Презентация семинара"]) { status attendedCount materials } }`);
    expect(done.data.completeSeminar).toMatchObject({ status: 'HELD', attendedCount: 1, materials: ['Методические рекомендации ЦУР, 2025', 'Презентация семинара'] });
    expect((await app.gqlAs(Role.WORKER, create, { i: { topic: 'x', heldOn: '2026-06-15' } })).errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const add = `mutation P($i: BestPracticeInput!) { addBestPractice(input: $i) { id title indicatorName beforeMonth afterMonth beforeValue afterValue } }`;
    expect((await app.gql(add, { i: { title: 'x', description: 'y', source: 'z', indicator: 'appeals_per_1000', beforeMonth: '2026-03', afterMonth: '2026-01' } })).errors?.[0].extensions?.field).toBe('afterMonth');
    const bp = (await app.gql(add, { i: { title: 'Ежедневный обзвон авторов после ответа', description: 'Работник МЦУ перезванивает автору на следующий день после ответа и фиксирует оценку.',
      source: 'Опыт ЦУР Алтайского края', indicator: 'appeals_per_1000', beforeMonth: '2026-01', afterMonth: '2026-03' } })).data.addBestPractice;
    expect(bp).toMatchObject({ beforeMonth: '2026-01', afterMonth: '2026-03', beforeValue: 0 });
    expect(bp.afterValue).toBeGreaterThan(0.1);
  });
});
