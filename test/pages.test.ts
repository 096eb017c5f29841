import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import ExcelJS from 'exceljs';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { PageService } from '../server/pages/service.js';
import { VkClient } from '../server/pages/vk.js';
import { fixtureFetch } from './helpers/vk-fixtures.js';

/**
 * Official pages end to end on every backend: the registry (GraphQL CRUD, validation, audit), the three file imports
 * (good, bad, idempotent), checks with hand-computed expectations, the rating and org_indicator_value, comments taken
 * in as appeals, the VK connector storing a month, roles and the Excel export.
 */
const sample = (name: string) => fs.readFileSync(`db/samples/${name}`, 'utf8');
const IMPORT = `mutation I($kind: PageFileKind!, $file: Upload!, $mapping: JSONObject) { importOfficialPageFile(kind: $kind, file: $file, mapping: $mapping) {
  kind status read inserted updated deleted months issues { line field severity reason } } }`;

async function upload(app: TestApp, kind: string, name: string, content: string | Uint8Array, token?: string, mapping?: unknown) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: IMPORT, variables: { kind: kind.toUpperCase(), file: null, mapping } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([content as BlobPart]), name);
  const headers: Record<string, string> = { 'apollo-require-preflight': 'true' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${app.url}/graphql`, { method: 'POST', body: form, headers });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

const RESULT = `query R($id: ID!, $month: String) { officialPage(id: $id) { id url verified posWidgetProblems category { code }
  result(month: $month) { month score failed posts subscribers checks { code status figure target unit points note } }
  history(months: 3) { month score } } }`;

describe.each(backends)('official pages on %s', (backend) => {
  let app: TestApp;
  const pageId = new Map<string, string>();
  const counts = async () => (await app.sql<{ p: number; s: number; c: number }>(`SELECT (SELECT count(*)::int FROM official_page) AS p,
    (SELECT count(*)::int FROM official_page_stat) AS s, (SELECT count(*)::int FROM official_page_comment) AS c`))[0];

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
  }, 240_000);
  afterAll(async () => {
    await app?.close();
  });

  it('has the default categories with their targets', async () => {
    const r = await app.gql(`{ pageCategories { code name minPostsPerWeek maxReplyHours minAnsweredShare minReachShare requirePosWidget } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.pageCategories.map((c: any) => c.code)).toEqual(['flagship', 'active', 'card']);
    expect(r.data.pageCategories[1]).toMatchObject({ name: 'Активный', minPostsPerWeek: 3, maxReplyHours: 16, minAnsweredShare: 0.8, minReachShare: 0.02 });
  });

  it('rejects a bad registry file whole, naming row and field', async () => {
    const bad = [
      'Организация;Площадка;Адрес;Название;Категория;ОГРН',
      'admin;VK;https://vk.com/rubtsovsk_adm;Администрация;флагманский;',
      'nosuchorg;VK;https://vk.com/some_page;Неизвестная;активный;',
      'uzhkh;VK;https://ok.ru/not_vk;ЖКХ;активный;',
      'uzhkh;Telegram;https://t.me/ab;ЖКХ;активный;',
      'uo;VK;https://vk.com/uo_rub;УО;элитный;',
      'uo;VK;vk.com/RUBTSOVSK_ADM/;Дубль;активный;',
      'uo;VK;https://vk.com/uo_rub2;УО;активный;1234567890123',
    ].join('\n');
    const r = await upload(app, 'pages', 'bad.csv', bad);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    const rep = r.data.importOfficialPageFile;
    expect(rep.status).toBe('REJECTED');
    const byLine = Object.fromEntries(rep.issues.map((i: any) => [i.line, `${i.field}: ${i.reason}`]));
    expect(byLine[3]).toMatch(/^Организация: неизвестная организация «nosuchorg»/);
    expect(byLine[4]).toMatch(/^Адрес: .*не является адресом страницы ВКонтакте/);
    expect(byLine[5]).toMatch(/^Адрес: .*5–32 символа/);
    expect(byLine[6]).toMatch(/^Категория: неизвестная категория «элитный»/);
    expect(byLine[7]).toMatch(/^Адрес: страница https:\/\/vk\.com\/RUBTSOVSK_ADM уже есть в строке 2/);
    expect(byLine[8]).toMatch(/^ОГРН: .*не является ОГРН/);
    expect(byLine[2]).toBeUndefined();
    expect((await counts()).p).toBe(0);
  });

  it('imports the registry sample, idempotently, with audit', async () => {
    const r = await upload(app, 'pages', 'official-pages.csv', sample('official-pages.csv'));
    const rep = r.data.importOfficialPageFile;
    expect(rep).toMatchObject({ status: 'DONE', read: 6, inserted: 6, updated: 0 });
    // The vodokanal widget names region 54: stored, with a warning.
    expect(rep.issues).toEqual([expect.objectContaining({ line: 5, severity: 'WARNING', field: 'Ссылка виджета ПОС', reason: expect.stringMatching(/utm_medium = 54, а код региона 22/) })]);
    const again = (await upload(app, 'pages', 'official-pages.csv', sample('official-pages.csv'))).data.importOfficialPageFile;
    expect(again).toMatchObject({ status: 'DONE', inserted: 0, updated: 0 });
    const pages = await app.gql(`{ officialPages(first: 50) { totalCount edges { node { id url platform name organization { code } category { code } } } } }`);
    expect(pages.data.officialPages.totalCount).toBe(6);
    for (const e of pages.data.officialPages.edges) pageId.set(e.node.url, e.node.id);
    expect(pageId.has('https://vk.com/rubvodokanal')).toBe(true); // m.vk.com/…/ normalised
    const [{ n }] = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE entity = 'official_page' AND action = 'import-create'`);
    expect(n).toBe(6);
  });

  it('edits the registry through GraphQL with validation and audit', async () => {
    const cats = (await app.gql(`{ pageCategories { id code } }`)).data.pageCategories;
    const card = cats.find((c: any) => c.code === 'card').id;
    const [org] = await app.sql<{ id: number }>(`SELECT id FROM organization WHERE code = 'culture'`);
    const CREATE = `mutation C($input: OfficialPageInput!) { createOfficialPage(input: $input) { id url name verified posWidget } }`;
    const bad = await app.gql(CREATE, { input: { organizationId: String(org.id), platform: 'VK', url: 'https://vk.com/', categoryId: card } });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.url' });
    const badWidget = await app.gql(CREATE, { input: { organizationId: String(org.id), platform: 'VK', url: 'https://vk.com/kultura_rub', categoryId: card,
      posWidgetUrl: 'https://pos.gosuslugi.ru/form/?opaId=1&utm_source=vk&utm_medium=22&utm_campaign=1022201100018' } });
    expect(badWidget.errors?.[0].extensions?.field).toBe('input.posWidgetUrl');
    expect(badWidget.errors?.[0].message).toMatch(/контрольная цифра ОГРН/);
    const ok = await app.gql(CREATE, { input: { organizationId: String(org.id), platform: 'VK', url: 'vk.com/kultura_rub', categoryId: card, name: 'Культура', verified: true } });
    expect(ok.errors).toBeUndefined();
    const id = ok.data.createOfficialPage.id;
    const dup = await app.gql(CREATE, { input: { organizationId: String(org.id), platform: 'VK', url: 'https://m.vk.com/kultura_rub/', categoryId: card } });
    expect(dup.errors?.[0].message).toMatch(/уже есть в реестре/);
    // The task names administrators and coordinators as the registry's editors (the curator has full access).
    for (const role of [Role.ADMIN, Role.COORDINATOR]) {
      const e = await app.gqlAs(role, `mutation U($id: ID!, $input: OfficialPageInput!) { updateOfficialPage(id: $id, input: $input) { responsible } }`,
        { id, input: { organizationId: String(org.id), platform: 'VK', url: 'https://vk.com/kultura_rub', categoryId: card, name: 'Культура', verified: true, responsible: role } });
      expect(e.errors, role).toBeUndefined();
      expect(e.data.updateOfficialPage.responsible).toBe(role);
    }
    const coordinatorCategory = await app.gqlAs(Role.COORDINATOR, `mutation { upsertPageCategory(input: { code: "card", name: "Визитка", minPostsPerWeek: 1, maxReplyHours: 24, minAnsweredShare: 0.7 }) { code } }`);
    expect(coordinatorCategory.errors).toBeUndefined();
    const [{ roles }] = await app.sql<any>(`SELECT array_agg(DISTINCT actor ORDER BY actor) AS roles FROM audit_log WHERE entity = 'official_page' AND entity_id = ? AND action = 'update'`, [String(id)]);
    expect(roles.length).toBe(2);
    const back = await app.gql(`mutation U($id: ID!, $input: OfficialPageInput!) { updateOfficialPage(id: $id, input: $input) { id } }`,
      { id, input: { organizationId: String(org.id), platform: 'VK', url: 'https://vk.com/kultura_rub', categoryId: card, name: 'Культура', verified: true } });
    expect(back.errors).toBeUndefined();
    // Unknown organisation or category through GraphQL: named, nothing stored.
    const noOrg = await app.gql(CREATE, { input: { organizationId: '999999', platform: 'VK', url: 'https://vk.com/other_page', categoryId: card } });
    expect(noOrg.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.organizationId' });
    expect(noOrg.errors?.[0].message).toMatch(/организация 999999 не найдена/);
    const noCat = await app.gql(CREATE, { input: { organizationId: String(org.id), platform: 'VK', url: 'https://vk.com/other_page', categoryId: '999999' } });
    expect(noCat.errors?.[0].extensions?.field).toBe('input.categoryId');
    expect((await app.sql(`SELECT 1 FROM official_page WHERE url = 'https://vk.com/other_page'`)).length).toBe(0);
    const upd = await app.gql(`mutation U($id: ID!, $input: OfficialPageInput!) { updateOfficialPage(id: $id, input: $input) { id verified responsible } }`,
      { id, input: { organizationId: String(org.id), platform: 'VK', url: 'https://vk.com/kultura_rub', categoryId: card, name: 'Культура', verified: false, responsible: 'Орлова М. П.' } });
    expect(upd.data.updateOfficialPage).toMatchObject({ verified: false, responsible: 'Орлова М. П.' });
    const [entry] = await app.sql<any>(`SELECT actor, before, after FROM audit_log WHERE entity = 'official_page' AND entity_id = ? AND action = 'update' ORDER BY id DESC LIMIT 1`, [String(id)]);
    expect(entry.actor).toBe('test-curator');
    expect(entry.before).toEqual({ verified: true, responsible: null });
    expect(entry.after).toEqual({ verified: false, responsible: 'Орлова М. П.' });
    const del = await app.gql(`mutation D($id: ID!) { deleteOfficialPage(id: $id) }`, { id });
    expect(del.data.deleteOfficialPage).toBe(true);
    expect((await app.sql(`SELECT 1 FROM audit_log WHERE entity = 'official_page' AND entity_id = ? AND action = 'delete'`, [String(id)])).length).toBe(1);
  });

  it('rejects a bad statistics file whole: unknown page, negative counter, duplicated period, bad month', async () => {
    const head = sample('official-page-stats.csv').split('\n')[0];
    const bad = [head,
      'https://vk.com/rubtsovsk_adm;2026-09;31;612400;9120;1130;240;21500;;;',
      'https://vk.com/nobody_here;2026-09;1;1;1;1;1;1;;;',
      'https://vk.com/rubtsovsk_gkh;2026-09;-4;100;1;1;1;100;;;',
      'https://vk.com/rubtsovsk_adm;09.2026;30;600000;9000;1100;200;21000;;;',
      'https://vk.com/rubvodokanal;2026-13;1;1;1;1;1;1;;;',
      'not a url;2026-09;1;1;1;1;1;1;;;',
      'https://vk.com/rubtsovsk_gkh;2026-10;1;1;1;1;1;1;;5;',
    ].join('\n');
    const rep = (await upload(app, 'stats', 'bad-stats.csv', bad)).data.importOfficialPageFile;
    expect(rep.status).toBe('REJECTED');
    const msg = rep.issues.map((i: any) => `${i.line} ${i.field}: ${i.reason}`);
    expect(msg).toEqual(expect.arrayContaining([
      expect.stringMatching(/^3 Страница: страница «https:\/\/vk.com\/nobody_here» не найдена в реестре/),
      expect.stringMatching(/^4 Публикаций: отрицательное значение -4/),
      expect.stringMatching(/^5 Месяц: страница и месяц 2026-09 уже есть в строке 2/),
      expect.stringMatching(/^6 Месяц: «2026-13»: месяц 13 вне 1–12/),
      expect.stringMatching(/^7 Страница: «not a url» не является адресом страницы/),
      expect.stringMatching(/^8 Комментариев с ответом: комментариев с ответом \(5\) больше, чем комментариев \(1\)/),
    ]));
    expect((await counts()).s).toBe(0);
  });

  it('imports statistics and comments; a re-import replaces the period', async () => {
    const s1 = (await upload(app, 'stats', 'official-page-stats.csv', sample('official-page-stats.csv'))).data.importOfficialPageFile;
    expect(s1).toMatchObject({ status: 'DONE', read: 12, inserted: 12, updated: 0, months: ['2026-09-01', '2026-10-01'] });
    const s2 = (await upload(app, 'stats', 'official-page-stats.csv', sample('official-page-stats.csv'))).data.importOfficialPageFile;
    expect(s2).toMatchObject({ status: 'DONE', inserted: 0, updated: 12 });
    expect((await counts()).s).toBe(12);
    const c1 = (await upload(app, 'comments', 'official-page-comments.csv', sample('official-page-comments.csv'))).data.importOfficialPageFile;
    expect(c1).toMatchObject({ status: 'DONE', read: 5, inserted: 5, updated: 0, deleted: 0, months: ['2026-10-01'] });
    const [cm] = await app.sql<any>(`SELECT comments, answered, reply_median_work_minutes AS med FROM official_page_comment_month m JOIN official_page p ON p.id = m.page_id WHERE p.url = 'https://vk.com/rubtsovsk_gkh'`);
    expect(cm).toMatchObject({ comments: 4, answered: 3, med: 120 });
    // A re-import without one comment of the same month removes it (the file replaces the period).
    const fewer = sample('official-page-comments.csv').split('\n').filter((l) => !l.includes('wall-1_503')).join('\n');
    const c2 = (await upload(app, 'comments', 'fewer.csv', fewer)).data.importOfficialPageFile;
    expect(c2).toMatchObject({ status: 'DONE', inserted: 0, updated: 4, deleted: 1 });
    const c3 = (await upload(app, 'comments', 'official-page-comments.csv', sample('official-page-comments.csv'))).data.importOfficialPageFile;
    expect(c3).toMatchObject({ inserted: 1, updated: 4, deleted: 0 });
    const badComments = 'Страница;ID комментария;Дата комментария;Текст;Дата ответа\nhttps://vk.com/rubtsovsk_gkh;x1;05.10.2026 10:00;Вопрос?;04.10.2026 10:00\nhttps://vk.com/rubtsovsk_gkh;x1;05.10.2026 10:00;;\n';
    const c4 = (await upload(app, 'comments', 'bad-comments.csv', badComments)).data.importOfficialPageFile;
    expect(c4.status).toBe('REJECTED');
    expect(c4.issues.map((i: any) => `${i.line} ${i.field}`)).toEqual(expect.arrayContaining(['2 Дата ответа', '3 Текст', '3 ID комментария']));
    expect((await counts()).c).toBe(5);
  });

  it('reads another tool’s export through a mapping (as the appeals importer), and XLSX files', async () => {
    // The mapping of docs/official-pages.md: other column names, «,» as delimiter, a value map and a default.
    const mapping = { kind: 'stats', format: 'csv', csv: { delimiter: ',' }, timezone: 'Asia/Barnaul',
      fields: { page: 'URL', month: { column: 'Period', map: { 'авг.26': '2026-08' } }, posts: 'Posts', views: 'Views', likes: 'Likes',
        reposts: 'Shares', comments: 'Comments', subscribers: { column: 'Followers', default: '0' } } };
    const csv = 'URL,Period,Posts,Views,Likes,Shares,Comments,Followers\nhttps://vk.com/rubtsovsk_adm,авг.26,30,"500000",8000,900,150,21000\nhttps://ok.ru/rubtsovskadm,08.2026,12,40000,600,50,20,\n';
    const m1 = await upload(app, 'stats', 'tool-export.csv', csv, undefined, mapping);
    expect(m1.errors, JSON.stringify(m1.errors)).toBeUndefined();
    expect(m1.data.importOfficialPageFile).toMatchObject({ status: 'DONE', read: 2, inserted: 2, months: ['2026-08-01'] });
    expect(await app.sql(`SELECT p.url, s.posts, s.subscribers FROM official_page_stat s JOIN official_page p ON p.id = s.page_id WHERE s.month = '2026-08-01' ORDER BY p.url`))
      .toEqual([{ url: 'https://ok.ru/rubtsovskadm', posts: 12, subscribers: 0 }, { url: 'https://vk.com/rubtsovsk_adm', posts: 30, subscribers: 21000 }]);
    expect((await upload(app, 'stats', 'tool-export.csv', csv, undefined, mapping)).data.importOfficialPageFile).toMatchObject({ status: 'DONE', inserted: 0, updated: 2 });
    // A mapping naming an unknown field, or leaving a required one out, is refused by its path.
    const unknown = await upload(app, 'stats', 'x.csv', csv, undefined, { ...mapping, fields: { ...mapping.fields, shares: 'Shares' } });
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'mapping.fields.shares' });
    const { subscribers: _s, ...withoutSubscribers } = mapping.fields;
    const missing = await upload(app, 'stats', 'x.csv', csv, undefined, { ...mapping, fields: withoutSubscribers });
    expect(missing.errors?.[0].extensions?.field).toBe('mapping.fields.subscribers');

    // The XLSX sample (months as Excel dates, numbers as numbers) holds what the CSV sample holds: re-imported, nothing changes.
    const statCols = `SELECT page_id, month::text, posts, views::text, likes, reposts, comments, subscribers, reach, comments_answered, reply_median_minutes
      FROM official_page_stat WHERE month >= '2026-09-01' ORDER BY page_id, month`;
    const fromCsv = await app.sql(statCols);
    const x = await upload(app, 'stats', 'official-page-stats.xlsx', fs.readFileSync('db/samples/official-page-stats.xlsx'));
    expect(x.data.importOfficialPageFile).toMatchObject({ status: 'DONE', read: 12, inserted: 0, updated: 12, months: ['2026-09-01', '2026-10-01'] });
    expect(await app.sql(statCols)).toEqual(fromCsv);
    expect(fromCsv.length).toBe(12);

    // XLSX (first sheet): a registry row for a page in MAX, then its statistics with the month as an Excel date.
    const book = async (rows: unknown[][]) => {
      const wb = new ExcelJS.Workbook();
      const ws = wb.addWorksheet('Лист1');
      for (const r of rows) ws.addRow(r);
      return new Uint8Array(await wb.xlsx.writeBuffer());
    };
    const reg = await book([sample('official-pages.csv').split('\n')[0].split(';'),
      ['culture', 'MAX', 'https://max.ru/rubtsovsk_culture', 'Культура Рубцовска в MAX', 'визитка', 'Орлова М. П.', 'да', 'нет', '', 'да', 'да', 'да', '', 'да']]);
    const r1 = await upload(app, 'pages', 'max.xlsx', reg);
    expect(r1.data.importOfficialPageFile).toMatchObject({ status: 'DONE', read: 1, inserted: 1 });
    const [max] = await app.sql<any>(`SELECT id, platform, verified FROM official_page WHERE url = 'https://max.ru/rubtsovsk_culture'`);
    expect(max).toMatchObject({ platform: 'MAX', verified: true });
    const stats = await book([sample('official-page-stats.csv').split('\n')[0].split(';'),
      ['https://max.ru/rubtsovsk_culture', new Date(Date.UTC(2026, 7, 1)), 5, '1 200', 40, 3, 2, 350, '', 2, 30]]);
    const r2 = await upload(app, 'stats', 'max-stats.xlsx', stats);
    expect(r2.data.importOfficialPageFile, JSON.stringify(r2.data)).toMatchObject({ status: 'DONE', inserted: 1, months: ['2026-08-01'] });
    const res = (await app.gql(RESULT, { id: String(max.id), month: '2026-08' })).data.officialPage.result;
    const c = Object.fromEntries(res.checks.map((x: any) => [x.code, x.status]));
    // MAX: the «Госорганизация» mark applies, the ПОС widget does not (VK, OK and websites carry it).
    expect(c).toMatchObject({ VERIFIED: 'PASS', POS_WIDGET: 'NOT_APPLICABLE', POSTS: 'PASS', ANSWERED: 'PASS', REPLY_TIME: 'PASS' });
    expect(res).toMatchObject({ posts: 5, subscribers: 350 });
    // Removed again so that the later checks see the six sample pages.
    expect((await app.gql(`mutation { deleteOfficialPage(id: "${max.id}") }`)).data.deleteOfficialPage).toBe(true);
  });

  it('checks a page against its targets (hand-computed)', async () => {
    const r = await app.gql(RESULT, { id: pageId.get('https://vk.com/rubtsovsk_gkh'), month: '2026-10' });
    expect(r.errors).toBeUndefined();
    const page = r.data.officialPage;
    const res = page.result;
    const c = Object.fromEntries(res.checks.map((x: any) => [x.code, x]));
    // 11 posts in 31 days = 2.48/week < 3
    expect(c.POSTS).toMatchObject({ status: 'FAIL', figure: 2.48, target: 3, points: 16.56 });
    // I = 700 + 95 + 120 = 915; ER post = 915 / 11 / 3950 = 2.11 %; ER month = 915 / 3950 = 23.16 %
    expect(c.ER_POST).toMatchObject({ status: 'PASS', figure: 2.11, target: 0.3 });
    expect(c.ER_MONTH).toMatchObject({ status: 'PASS', figure: 23.16, target: 3 });
    // 3950 / 146 386 = 2.70 % ≥ 2 %
    expect(c.REACH).toMatchObject({ status: 'PASS', figure: 2.7, target: 2 });
    // replies after 120, 120 and 300 working minutes: median 2 h ≤ 16
    expect(c.REPLY_TIME).toMatchObject({ status: 'PASS', figure: 2, target: 16, unit: 'раб. ч' });
    // 3 of 4 comments answered = 75 % < 80 %: 10 × 0.75/0.8
    expect(c.ANSWERED).toMatchObject({ status: 'FAIL', figure: 75, target: 80, points: 9.38 });
    expect(c.VERIFIED.status).toBe('PASS');
    expect(c.POS_WIDGET).toMatchObject({ status: 'FAIL', note: 'виджет не размещён' });
    expect(c.COMMENTS_OPEN.status).toBe('PASS');
    expect(c.DESIGN).toMatchObject({ status: 'FAIL', note: 'нет описания' });
    // (16.56 + 10 + 10 + 15 + 15 + 9.38 + 5 + 0 + 5 + 0) / 100
    expect(res).toMatchObject({ month: '2026-10', score: 85.9, failed: 4, posts: 11, subscribers: 3950 });
    expect(page.history.map((h: any) => h.month)).toEqual(['2026-09', '2026-10']);

    // Водоканал (визитка): 2 posts = 0.45/week; its one comment unanswered; no ER or reach targets; widget names region 54.
    const v = (await app.gql(RESULT, { id: pageId.get('https://vk.com/rubvodokanal'), month: '2026-10' })).data.officialPage;
    const vc = Object.fromEntries(v.result.checks.map((x: any) => [x.code, x]));
    expect(vc.POSTS).toMatchObject({ status: 'FAIL', figure: 0.45, points: 9.03 });
    expect(vc.REPLY_TIME.status).toBe('NO_DATA');
    expect(vc.ANSWERED).toMatchObject({ status: 'FAIL', figure: 0 });
    expect(vc.ER_POST.status).toBe('NOT_APPLICABLE');
    expect(vc.REACH.status).toBe('NOT_APPLICABLE');
    expect(vc.POS_WIDGET.note).toMatch(/utm_medium = 54, а код региона 22/);
    expect(v.posWidgetProblems).toEqual(['utm_medium = 54, а код региона 22']);
    expect(v.result.score).toBe(18.1); // 9.03 / 50
    // The website: only posting, widget and design apply.
    const site = (await app.gql(RESULT, { id: pageId.get('https://rubschool.ru/'), month: '2026-10' })).data.officialPage;
    expect(site.result.checks.filter((x: any) => x.status !== 'NOT_APPLICABLE').map((x: any) => x.code)).toEqual(['POSTS', 'POS_WIDGET', 'DESIGN']);
  });

  it('rates pages and organisations and writes org_indicator_value', async () => {
    const r = await app.gql(`{ officialPageRating(month: "2026-10") { month pages { rank score page { url } } organizations { rank score pages failedChecks organization { code } breakdown { code share } } } }`);
    expect(r.errors).toBeUndefined();
    const rating = r.data.officialPageRating;
    expect(rating.pages.map((p: any) => p.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    const scores = rating.pages.map((p: any) => p.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const uzhkh = rating.organizations.find((o: any) => o.organization.code === 'uzhkh');
    expect(uzhkh).toMatchObject({ score: 85.9, pages: 1, failedChecks: 4 });
    expect(uzhkh.breakdown.find((b: any) => b.code === 'REACH').share).toBe(1);
    const rows = await app.sql<any>(`SELECT o.code, v.period_start::text AS ps, v.period_end::text AS pe, v.value, v.source FROM org_indicator_value v
      JOIN organization o ON o.id = v.organization_id WHERE v.indicator = 'official_pages_score' ORDER BY o.code, v.period_start`);
    expect(rows.filter((x: any) => x.code === 'uzhkh')).toEqual([
      expect.objectContaining({ ps: '2026-09-01', pe: '2026-09-30', source: 'official_pages' }),
      { code: 'uzhkh', ps: '2026-10-01', pe: '2026-10-31', value: 85.9, source: 'official_pages' },
    ]);
    expect(rows.find((x: any) => x.code === 'vodokanal' && x.ps === '2026-10-01').value).toBe(18.1);
    // The rating of bodies (server/rating) reads it as its digital-transformation indicator official_pages_score.
    const bodies = await app.gql(`query R($p: RatingPeriodInput!) { organizationRating(period: $p) { rows { name organizationId breakdown { factor value normalized } } } }`,
      { p: { kind: 'MONTH', start: '2026-10-01' } });
    expect(bodies.errors).toBeUndefined();
    const [uzhkhOrg] = await app.sql<{ id: number }>(`SELECT id FROM organization WHERE code = 'uzhkh'`);
    const bodyRow = bodies.data.organizationRating.rows.find((x: any) => x.organizationId === String(uzhkhOrg.id));
    expect(bodyRow.breakdown.find((b: any) => b.factor === 'ind:official_pages_score')).toMatchObject({ value: 85.9, normalized: 85.9 });
    // A stricter category target moves the written score at once.
    const cat = await app.gql(`mutation { upsertPageCategory(input: { code: "active", name: "Активный", minPostsPerWeek: 2, maxReplyHours: 16, minAnsweredShare: 0.8, minErPost: 0.3, minErMonth: 3, minReachShare: 0.02 }) { code minPostsPerWeek } }`);
    expect(cat.errors).toBeUndefined();
    const [after] = await app.sql<any>(`SELECT v.value FROM org_indicator_value v JOIN organization o ON o.id = v.organization_id WHERE o.code = 'uzhkh' AND v.period_start = '2026-10-01'`);
    expect(after.value).toBe(89.4); // posts now pass: (20 + 10 + 10 + 15 + 15 + 9.38 + 5 + 5) / 100
    const badCat = await app.gql(`mutation { upsertPageCategory(input: { code: "Bad Code", name: "x" }) { code } }`);
    expect(badCat.errors?.[0].extensions?.field).toBe('input.code');
  });

  it('takes asking and complaining comments in as appeals through the intake, with the reply as first response', async () => {
    const r = await app.gql(`mutation { takeOfficialPageCommentsAsAppeals { comments inserted rejected batchId } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.takeOfficialPageCommentsAsAppeals).toMatchObject({ comments: 4, inserted: 4, rejected: 0 });
    const appeals = await app.sql<any>(`SELECT a.external_id, a.channel, a.first_response_at, a.text, a.batch_id FROM appeal a WHERE a.channel = 'OFFICIAL_PAGE' ORDER BY a.received_at`);
    expect(appeals.map((a: any) => a.external_id.replace(/^page\d+-/, ''))).toEqual(['wall-1_501', 'wall-1_502', 'wall-1_504', 'wall-2_77']);
    expect(new Date(appeals[0].first_response_at).toISOString()).toBe('2026-10-01T04:15:00.000Z'); // 11:15 in Barnaul
    expect(appeals[3].first_response_at).toBeNull();
    const [ev] = await app.sql<any>(`SELECT count(*)::int AS n FROM appeal_event e JOIN appeal a ON a.id = e.appeal_id WHERE a.channel = 'OFFICIAL_PAGE' AND e.kind = 'CREATED'`);
    expect(ev.n).toBe(4);
    const [linked] = await app.sql<any>(`SELECT count(appeal_id)::int AS n FROM official_page_comment`);
    expect(linked.n).toBe(4);
    const again = await app.gql(`mutation { takeOfficialPageCommentsAsAppeals { comments inserted } }`);
    expect(again.data.takeOfficialPageCommentsAsAppeals).toMatchObject({ comments: 0, inserted: 0 });
    // The page replies later: the next comments file carries the reply, and taking in again records it as the
    // appeal's first reaction (an update of the same appeal, not a new one).
    const late = sample('official-page-comments.csv').replace('Нет воды на ул. Заводская, 220 с утра;Пётр С.;https://vk.com/id1005;;', 'Нет воды на ул. Заводская, 220 с утра;Пётр С.;https://vk.com/id1005;08.10.2026 09:30;');
    expect(late).not.toBe(sample('official-page-comments.csv'));
    expect((await upload(app, 'comments', 'late-reply.csv', late)).data.importOfficialPageFile).toMatchObject({ status: 'DONE', updated: 5 });
    const third = await app.gql(`mutation { takeOfficialPageCommentsAsAppeals { comments inserted updated } }`);
    expect(third.data.takeOfficialPageCommentsAsAppeals).toMatchObject({ comments: 1, inserted: 0, updated: 1 });
    const [vodokanal] = await app.sql<any>(`SELECT first_response_at, first_reaction_minutes FROM appeal WHERE channel = 'OFFICIAL_PAGE' AND external_id LIKE '%-wall-2_77'`);
    expect(new Date(vodokanal.first_response_at).toISOString()).toBe('2026-10-08T02:30:00.000Z'); // 09:30 in Barnaul
    expect((await app.sql(`SELECT 1 FROM appeal WHERE channel = 'OFFICIAL_PAGE'`)).length).toBe(4);
    expect((await app.gql(`mutation { takeOfficialPageCommentsAsAppeals { comments } }`)).data.takeOfficialPageCommentsAsAppeals.comments).toBe(0);
    // Back to the sample's comments (the reply removed from the page's figures; the appeal keeps its first reaction).
    expect((await upload(app, 'comments', 'official-page-comments.csv', sample('official-page-comments.csv'))).data.importOfficialPageFile.status).toBe('DONE');
  });

  it('stores a VK month fetched through the connector (recorded responses), and a VK error changes nothing', async () => {
    const svc = new PageService(app.orm.em.fork(), { municipalityId: app.municipalityId, actor: 'test' });
    const gkh = pageId.get('https://vk.com/rubtsovsk_gkh')!;
    const before = await app.sql<any>(`SELECT * FROM official_page_stat WHERE page_id = ? ORDER BY month`, [Number(gkh)]);
    const failing = new VkClient({ token: 'bad', fetch: fixtureFetch({ 'groups.getById': ['error-auth.json'] }).fetch, sleep: async () => undefined });
    await expect(svc.syncFromVk(gkh, '2026-10', failing)).rejects.toThrow('VK API, метод groups.getById: ошибка 5 «User authorization failed: invalid access_token (4).»');
    expect(await app.sql(`SELECT * FROM official_page_stat WHERE page_id = ? ORDER BY month`, [Number(gkh)])).toEqual(before);

    // Recorded responses the hub refuses: a negative counter (the client names method, post and field), and a reply
    // dated before its comment (the import names the row): nothing stored changes — statistics, comments, marks, scores.
    const state = async () => ({
      stats: await app.sql(`SELECT * FROM official_page_stat WHERE page_id = ? ORDER BY month`, [Number(gkh)]),
      comments: await app.sql(`SELECT external_id, replied_at FROM official_page_comment WHERE page_id = ? ORDER BY external_id`, [Number(gkh)]),
      page: await app.sql(`SELECT verified, has_cover, has_description, comments_open, updated_at FROM official_page WHERE id = ?`, [Number(gkh)]),
      scores: await app.sql(`SELECT organization_id, period_start::text, value FROM org_indicator_value WHERE indicator = 'official_pages_score' ORDER BY 1, 2`),
      audit: await app.sql(`SELECT count(*)::int AS n FROM audit_log WHERE entity IN ('official_page', 'official_page_import')`),
    });
    const kept = await state();
    expect(kept.page[0]).toMatchObject({ has_description: false });
    const negative = new VkClient({ token: 't', fetch: fixtureFetch({ 'wall.get': ['wall.get-negative.json'] }).fetch, sleep: async () => undefined });
    await expect(svc.syncFromVk(gkh, '2026-10', negative)).rejects.toThrow('VK API, метод wall.get: объект 1004: недопустимое значение likes = -12 (ожидается целое ≥ 0)');
    expect(await state()).toEqual(kept);
    const backwards = new VkClient({ token: 't', fetch: fixtureFetch({ 'wall.getComments': ['wall.getComments-1005-bad.json'] }).fetch, sleep: async () => undefined });
    const refused = await svc.syncFromVk(gkh, '2026-10', backwards).catch((e) => e as Error);
    expect(refused.message).toMatch(/^vk: VK API, страница rubtsovsk_gkh, 2026-10: комментарии \(wall\.getComments\) не приняты — строка 2, Дата ответа: ответ раньше комментария/);
    expect(await state()).toEqual(kept); // the counters imported first in the same transaction are rolled back too

    const vk = new VkClient({ token: 't', fetch: fixtureFetch().fetch, sleep: async () => undefined });
    const r = await svc.syncFromVk(gkh, '2026-10', vk);
    expect(r.stats).toMatchObject({ status: 'DONE', updated: 1 });
    expect(r.comments).toMatchObject({ status: 'DONE', inserted: 3 });
    const [s] = await app.sql<any>(`SELECT posts, views::int AS views, likes, reposts, comments, subscribers, source FROM official_page_stat WHERE page_id = ? AND month = '2026-10-01'`, [Number(gkh)]);
    expect(s).toEqual({ posts: 4, views: 17900, likes: 266, reposts: 33, comments: 3, subscribers: 3980, source: 'file:vk-api:rubtsovsk_gkh:2026-10.csv' });
    const [cm] = await app.sql<any>(`SELECT comments, answered, reply_median_work_minutes AS med FROM official_page_comment_month WHERE page_id = ? AND month = '2026-10-01'`, [Number(gkh)]);
    expect(cm).toEqual({ comments: 3, answered: 2, med: 135 }); // 180 (Fri 16:00 → Mon 10:00) and 90 (lunch excluded)
    const [p] = await app.sql<any>(`SELECT verified, has_cover, has_description FROM official_page WHERE id = ?`, [Number(gkh)]);
    expect(p).toEqual({ verified: true, has_cover: true, has_description: true });
    const sync = await app.gql(`mutation { syncOfficialPageFromVk(id: "${gkh}", month: "2026-10") { stats { status } } }`);
    expect(sync.errors?.[0].message).toMatch(/VK_API_TOKEN/);
  });

  it('scopes ORG_OFFICER to their organisation’s pages and keeps editing to its roles', async () => {
    const officer = await app.as(Role.ORG_OFFICER); // uzhkh and its subordinates
    const r = await officer.gql(`{ officialPages(first: 50) { totalCount edges { node { url } } } officialPageRating(month: "2026-10") { pages { page { url } } organizations { organization { code } } } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.officialPages.edges.map((e: any) => e.node.url).sort()).toEqual(['https://vk.com/rubtsovsk_gkh', 'https://vk.com/rubvodokanal']);
    expect(r.data.officialPageRating.organizations.map((o: any) => o.organization.code).sort()).toEqual(['uzhkh', 'vodokanal']);
    const foreign = await officer.gql(`{ officialPage(id: "${pageId.get('https://vk.com/rubtsovsk_adm')}") { id } }`);
    expect(foreign.data.officialPage).toBeNull();
    for (const role of [Role.ORG_OFFICER, Role.ANALYST, Role.WORKER]) {
      const c = await app.gqlAs(role, `mutation { deleteOfficialPage(id: "${pageId.get('https://vk.com/rubtsovsk_adm')}") }`);
      expect(c.errors?.[0].extensions?.code, role).toBe('FORBIDDEN');
    }
    const worker = await app.as(Role.WORKER);
    const stats = await upload(app, 'stats', 'official-page-stats.csv', sample('official-page-stats.csv'), worker.token);
    expect(stats.data.importOfficialPageFile.status).toBe('DONE');
    const reg = await upload(app, 'pages', 'official-pages.csv', sample('official-pages.csv'), worker.token);
    expect(reg.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const analyst = await app.as(Role.ANALYST);
    expect((await upload(app, 'stats', 'x.csv', sample('official-page-stats.csv'), analyst.token)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('exports the meeting workbook with Russian headers and numbers as numbers, in the user’s scope', async () => {
    const res = await app.defaultClient.fetch('/exports/official-pages.xlsx?month=2026-10');
    expect(res.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as never);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Страницы', 'Не выполнено', 'Организации', 'Динамика']);
    const ws = wb.getWorksheet('Страницы')!;
    const header = (ws.getRow(1).values as unknown[]).slice(1);
    expect(header.slice(0, 9)).toEqual(['Организация', 'Площадка', 'Страница', 'Адрес', 'Категория', 'Ответственный', 'Месяц', 'Балл (0–100)', 'Не выполнено проверок']);
    const col = (name: string) => header.indexOf(name) + 1;
    const gkhRow = [...Array(ws.rowCount).keys()].map((i) => ws.getRow(i + 1)).find((r) => r.getCell(col('Адрес')).value === 'https://vk.com/rubtsovsk_gkh')!;
    expect(typeof gkhRow.getCell(col('Балл (0–100)')).value).toBe('number');
    expect(typeof gkhRow.getCell(col('Публикаций')).value).toBe('number');
    const orgs = wb.getWorksheet('Организации')!;
    expect(typeof orgs.getRow(2).getCell(3).value).toBe('number');
    expect(wb.getWorksheet('Не выполнено')!.rowCount).toBeGreaterThan(1);
    expect((await app.anonymous.fetch('/exports/official-pages.xlsx')).status).toBe(401);
    expect((await app.defaultClient.fetch('/exports/official-pages.xlsx?month=2026-99')).status).toBe(400);
    const officer = await app.as(Role.ORG_OFFICER);
    const own = new ExcelJS.Workbook();
    await own.xlsx.load(Buffer.from(await (await officer.fetch('/exports/official-pages.xlsx?month=2026-10')).arrayBuffer()) as never);
    expect(own.getWorksheet('Страницы')!.rowCount).toBe(3); // header + its 2 pages
  });
});
