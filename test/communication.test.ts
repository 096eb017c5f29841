import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { gqlUpload } from './helpers/upload.js';

/**
 * Communication errors over stored answers (decree 2.1.3) on every backend: planted answers with rude wording,
 * blame, another address, another person; an appeal and its duplicate answered contradictorily by two bodies; an
 * official-page reply; the check in batches, the summary per organisation, the findings with their excerpts, the
 * scopes, the roles, bad input, and the recommendation rule fed by the findings.
 */
describe.each(backends)('communication errors on %s', (backend) => {
  let app: TestApp;
  let org: Map<string, number>;
  let ext = 0;
  const ids: Record<string, number> = {};

  async function appeal(key: string, o: string, answer: string, opts: { address?: string; author?: string; dup?: string; at?: string } = {}) {
    let author: number | null = null;
    if (opts.author) [{ id: author }] = await app.sql<{ id: number }>(`INSERT INTO appeal_author (municipality_id, kind, full_name) VALUES (?, 'CITIZEN', ?) RETURNING id`, [app.municipalityId, opts.author]);
    const [a] = await app.sql<{ id: number }>(`
      INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, author_id, text, address, organization_id, status, answered_at, answer_text, duplicate_of_id)
      VALUES (?, 'POS', ?, ?, 'CITIZEN', ?, 'обращение', ?, ?, 'ANSWERED', ?, ?, ?) RETURNING id`,
    [app.municipalityId, `CM-${++ext}`, opts.at ?? '2026-03-10T05:00:00Z', author, opts.address ?? null, org.get(o)!, '2026-03-12T05:00:00Z', answer, opts.dup ? ids[opts.dup] : null]);
    ids[key] = a.id;
  }

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
    org = new Map((await app.sql<{ id: number; code: string }>('SELECT id, code FROM organization')).map((t) => [t.code, t.id]));
    await appeal('rude', 'uzhkh', 'Не морочьте голову, батареи у вас горячие, мы проверяли.', { address: 'ул. Красная, 14' });
    await appeal('blame', 'uzhkh', 'Протечка произошла по вашей вине — вы самовольно заменили радиатор.', { address: 'ул. Комсомольская, 88' });
    await appeal('address', 'uzhkh', 'Кровля дома № 45 по ул. Октябрьской отремонтирована 10.05.2026.', { address: 'ул. Октябрьская, 54' });
    await appeal('sameAddress', 'uzhkh', 'Покос травы у дома Тракторная ул., 11 выполнен 14.06.2026.', { address: 'ул. Тракторная, 11' });
    await appeal('person', 'uzhkh', 'Уважаемый Пётр Иванович! Ремонт дорожного покрытия запланирован на июнь.', { address: 'ул. Алтайская, 41', author: 'Кузнецов Сергей Николаевич' });
    await appeal('polite', 'admin', 'Уважаемый Сергей Николаевич! Ремонт дорожного покрытия по ул. Алтайской запланирован на июнь 2026 года.', { address: 'ул. Алтайская, 41', author: 'Кузнецов Сергей Николаевич' });
    // One problem, two bodies: «done» and «not planned».
    await appeal('done', 'admin', 'Ремонт дороги по ул. Алтайской у дома 41 выполнен в мае 2026 года.', { address: 'ул. Алтайская, 41' });
    await appeal('notPlanned', 'uzhkh', 'Ремонт дороги по ул. Алтайской в 2026 году не планируется, финансирование не выделено.', { address: 'ул. Алтайская, 41', dup: 'done' });
    // Out of the period: not checked.
    await appeal('old', 'uzhkh', 'Не морочьте голову.', { at: '2024-01-10T05:00:00Z' });
    const [cat] = await app.sql<{ id: number }>(`INSERT INTO page_category (municipality_id, code, name) VALUES (?, 'cm-test', 'тест') RETURNING id`, [app.municipalityId]);
    const [page] = await app.sql<{ id: number }>(`INSERT INTO official_page (municipality_id, organization_id, platform, url, url_key, name, category_id) VALUES (?, ?, 'VK', 'https://vk.com/cmtest', 'vk.com/cmtest', 'Тест', ?) RETURNING id`,
      [app.municipalityId, org.get('uzhkh')!, cat.id]);
    const [c] = await app.sql<{ id: number }>(`INSERT INTO official_page_comment (page_id, municipality_id, month, external_id, posted_at, text, author_name, replied_at, reply_text)
      VALUES (?, ?, '2026-03-01', 'c1', '2026-03-05T05:00:00Z', 'Когда уберут снег?', 'Анна Смирнова', '2026-03-05T07:00:00Z', 'Хватит писать жалобы! Снег уберём, когда дойдут руки.') RETURNING id`, [page.id, app.municipalityId]);
    ids.comment = c.id;
  }, 240_000);
  afterAll(async () => app?.close());

  const RUN = `mutation R($from: String, $to: String) { runCommunicationCheck(from: $from, to: $to) { periodFrom periodTo answers replies findings byKind } }`;
  const FIND = `query F($o: ID, $k: String) { communicationFindings(organizationId: $o, kind: $k, first: 50) { total items { kind kindLabel source appealId commentId organizationName otherAppealId otherOrganizationName rule explanation excerpt } } }`;

  it('finds every planted error with its explanation and excerpt, and nothing in the polite answers', async () => {
    expect((await app.gqlAs(Role.BLOCK_LEAD, RUN, {})).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gql(RUN, { from: '2026-02-30' })).errors?.[0].extensions?.field).toBe('from');
    expect((await app.gql(RUN, { from: '2026-04-01', to: '2026-03-01' })).errors?.[0].extensions?.field).toBe('from');
    expect(await app.sql('SELECT count(*)::int AS n FROM comm_run')).toEqual([{ n: 0 }]);

    const r = await app.gql(RUN, { from: '2026-01-01', to: '2026-12-31' });
    expect(r.errors).toBeUndefined();
    expect(r.data.runCommunicationCheck).toMatchObject({ answers: 8, replies: 1, byKind: { RUDE: 2, BLAME: 1, WRONG_ADDRESS: 1, WRONG_PERSON: 1, CONTRADICTION: 2, DISMISSIVE: 0 } });
    const all = (await app.gql(FIND, {})).data.communicationFindings;
    const of = (key: string) => all.items.filter((f: any) => f.appealId === String(ids[key])).map((f: any) => f.kind).sort();
    expect(of('rude')).toEqual(['RUDE']);
    expect(of('blame')).toEqual(['BLAME']);
    expect(of('address')).toEqual(['WRONG_ADDRESS']);
    expect(of('person')).toEqual(['WRONG_PERSON']);
    expect(of('sameAddress')).toEqual([]);
    expect(of('polite')).toEqual([]);
    expect(of('old')).toEqual([]);
    const contra = all.items.find((f: any) => f.kind === 'CONTRADICTION' && f.appealId === String(ids.notPlanned));
    expect(contra).toMatchObject({ otherAppealId: String(ids.done), rule: 'stance.NOT_PLANNED-DONE' });
    expect(contra.explanation).toMatch(/не планируется.*выполнено/);
    const addr = all.items.find((f: any) => f.kind === 'WRONG_ADDRESS');
    expect(addr.explanation).toMatch(/дома № 45 по ул\. Октябрьской.*ул\. Октябрьская, 54/);
    expect(addr.excerpt).toBe('Кровля дома № 45 по ул. Октябрьской отремонтирована 10.05.2026.');
    const reply = all.items.find((f: any) => f.source === 'PAGE_REPLY');
    expect(reply).toMatchObject({ kind: 'RUDE', commentId: String(ids.comment), rule: 'rude.fedup' });
    expect(await app.sql(`SELECT action FROM audit_log WHERE entity = 'comm_run'`)).toEqual([{ action: 'check' }]);
  });

  it('summarises per organisation and scopes an organisation officer to their own', async () => {
    const S = `{ communicationSummary { organizationId organizationName answers withErrors share byKind } communicationLastRun { answers findings periodFrom } }`;
    const s = (await app.gql(S)).data;
    const uzhkh = s.communicationSummary.find((x: any) => x.organizationId === String(org.get('uzhkh')));
    // ЖКХ: 6 answers in the period, 5 with errors (rude, blame, address, person, the contradictory one); the page reply counts by kind.
    expect(uzhkh).toMatchObject({ answers: 6, withErrors: 5, share: 0.8333, byKind: { RUDE: 2, BLAME: 1, WRONG_ADDRESS: 1, WRONG_PERSON: 1, CONTRADICTION: 1 } });
    expect(s.communicationSummary.find((x: any) => x.organizationId === String(org.get('admin')))).toMatchObject({ answers: 2, withErrors: 1, byKind: { CONTRADICTION: 1 } });
    expect(s.communicationLastRun).toMatchObject({ answers: 8, periodFrom: '2026-01-01' });
    const officer = (await app.gqlAs(Role.ORG_OFFICER, FIND, {})).data.communicationFindings;
    expect(officer.total).toBeGreaterThan(0);
    expect(new Set(officer.items.map((f: any) => f.organizationName)).size).toBe(1);
    expect(officer.items.some((f: any) => f.appealId === String(ids.done))).toBe(false);
    const rude = (await app.gql(FIND, { k: 'RUDE' })).data.communicationFindings;
    expect(rude.total).toBe(2);
    expect((await app.gql(FIND, { k: 'NOPE' })).errors?.[0].extensions?.field).toBe('kind');
  });

  it('a new check replaces the findings; a text can be tried without saving', async () => {
    await app.sql(`UPDATE appeal SET answer_text = 'Батареи проверены, температура 22 °C.' WHERE id = ?`, [ids.rude]);
    const r = await app.gql(RUN, { from: '2026-01-01', to: '2026-12-31' });
    expect(r.data.runCommunicationCheck.byKind.RUDE).toBe(1);
    expect((await app.sql<{ n: number }>('SELECT count(*)::int AS n FROM comm_finding WHERE appeal_id = ?', [ids.rude]))[0].n).toBe(0);
    const a = await app.gqlAs(Role.ORG_OFFICER, `{ analyseAnswerText(text: "Сами виноваты: нечего было ставить машину на газон.") { hits { kind rule excerpt } stance } }`);
    expect(a.data.analyseAnswerText.hits).toEqual([{ kind: 'BLAME', rule: 'blame.explicit', excerpt: 'Сами виноваты: нечего было ставить машину на газон.' }]);
  });

  it('feeds the recommendations: an organisation with a high share of communication errors', async () => {
    const set = await app.gql(`mutation { setRecommendationRule(code: "ORG_COMMUNICATION", thresholds: { minAnswers: 3 }) { thresholds } }`);
    expect(set.data.setRecommendationRule.thresholds).toEqual({ minShare: 0.05, minFindings: 3, minAnswers: 3 });
    const g = await app.gql(`mutation { generateRecommendations(from: "2026-01-01", to: "2026-12-31") { created notes } }`);
    expect(g.errors).toBeUndefined();
    const list = await app.gql(`{ recommendations(filter: { ruleCodes: ["ORG_COMMUNICATION"] }, first: 10) { edges { node { text figures organizationId evidenceAppealIds } } } }`);
    expect(list.errors).toBeUndefined();
    const recs = list.data.recommendations.edges.map((e: any) => e.node);
    expect(recs.map((r: any) => r.organizationId)).toEqual([String(org.get('uzhkh'))]);
    expect(recs[0].text).toMatch(/ошибки коммуникации/);
    expect(recs[0].evidenceAppealIds).toContain(String(ids.blame));
  });

  it('checks the replies imported with an official-page comments file (column «Текст ответа»)', async () => {
    const csv = 'Страница;ID комментария;Дата комментария;Текст;Автор;Дата ответа;Текст ответа\n'
      + 'https://vk.com/cmtest;c2;06.03.2026 10:00;Когда починят фонарь?;Анна Смирнова;06.03.2026 12:00;Уважаемая Мария Ивановна! Фонарь заменён 06.03.2026.\n';
    const up = await gqlUpload(app.url, `mutation I($file: Upload!) { importOfficialPageFile(kind: COMMENTS, file: $file) { status issues { line field reason } } }`, {}, { name: 'comments.csv', content: csv });
    expect(up.errors, JSON.stringify(up.errors)).toBeUndefined();
    expect(up.data.importOfficialPageFile).toMatchObject({ status: 'DONE', issues: [] });
    expect(await app.sql(`SELECT reply_text FROM official_page_comment WHERE external_id = 'c2'`)).toEqual([{ reply_text: 'Уважаемая Мария Ивановна! Фонарь заменён 06.03.2026.' }]);
    const r = await app.gql(RUN, { from: '2026-01-01', to: '2026-12-31' });
    // The file replaces the page's comments of March (the importer's rule): c1 is gone, c2 is checked.
    expect(r.data.runCommunicationCheck.replies).toBe(1);
    const f = (await app.gql(FIND, { k: 'WRONG_PERSON' })).data.communicationFindings.items.find((x: any) => x.source === 'PAGE_REPLY');
    expect(f).toMatchObject({ rule: 'salutation.name', excerpt: 'Уважаемая Мария Ивановна!' });
  });
});
