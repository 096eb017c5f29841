import ExcelJS from 'exceljs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { Role } from '../server/auth/roles.js';
import { BUILTIN_TEMPLATES, cleanValue, parseTemplate, renderTemplate, validateTemplate } from '../server/informing/templates.js';

/**
 * Targeted informing (decree 2.2.3): audience by district / addresses / drawn area / problem outline and theme,
 * drafts from templates filled from the source, hostile template text and values, the record (audited), call-back
 * lists of consenting authors only (logged in pd_access_log), the XLSX export for roles allowed to see personal data.
 */
describe('informing templates (unit)', () => {
  const t = (body: string) => ({ code: 'x', channel: 'MESSENGER' as const, sourceKinds: ['PLANNED_WORKS' as const], title: 'x', body });
  it('fills placeholders once, plain text, bounded', () => {
    const r = renderTemplate(t('Работы: {{title}}, {{address}}.'), { title: 'Замена труб {{address}}', address: 'ул. Ленина,\u202E 5\n<b>' }, 'src');
    expect(r.text).toBe('Работы: Замена труб {{address}}, ул. Ленина, 5 <b>.');   // value not re-expanded; bidi and newline gone
    expect(cleanValue('a'.repeat(1000))).toHaveLength(300);
  });
  it('names what is wrong', () => {
    expect(() => parseTemplate('body', 'Привет {{nope}}')).toThrow(/неизвестная подстановка \{\{nope\}\}/);
    expect(() => parseTemplate('body', 'Привет {{ title')).toThrow(/незакрытая подстановка/);
    expect(() => parseTemplate('body', 'Привет {{constructor.name}}')).toThrow(/непонятная подстановка/);
    expect(() => parseTemplate('body', 'Привет }} там')).toThrow(/«}}» без «\{\{»/);
    expect(() => validateTemplate(t('<script>alert(1)</script> {{title}}'))).toThrow(/только простой текст, без разметки/);
    expect(() => validateTemplate(t('Текст\u0007{{title}}'))).toThrow(/U\+0007/);
    expect(() => validateTemplate(t('{{appeals}} обращений'))).toThrow(/подстановки \{\{appeals\}\} нет у источника «плановые работы»/);
    expect(() => renderTemplate(t('{{title}} {{address}}'), { title: 'x', address: '  ' }, 'работы «x»')).toThrow(/нет значения для \{\{address\}\}/);
    expect(() => renderTemplate(t('{{title}}'), { title: 'я'.repeat(300) + '{{title}}'.repeat(0) }, 's')).not.toThrow();
    for (const b of BUILTIN_TEMPLATES) expect(() => validateTemplate(b), b.code).not.toThrow();
  });
});

describe.each(backends)('targeted informing on %s', (backend) => {
  let app: TestApp;
  let district: { id: number; name: string };
  let problemId: number;
  let worksId: string;

  beforeAll(async () => {
    app = await startTestApp(backend, 1500);
    [district] = await app.sql<{ id: number; name: string }>(`SELECT d.id, d.name FROM district d JOIN appeal a ON a.district_id = d.id GROUP BY d.id ORDER BY count(*) DESC LIMIT 1`);
    const r = await app.gql('mutation { recomputeProblems { created } }');
    expect(r.errors).toBeUndefined();
    [{ id: problemId }] = await app.sql<{ id: number }>(`SELECT id FROM problem WHERE active ORDER BY appeal_count DESC LIMIT 1`);
  }, 240_000);
  afterAll(async () => { await app?.close(); await app?.db.drop(); });

  const AUD = `query A($a: AudienceInput!) { informingAudience(audience: $a) { appeals authors consenting residents periodFrom periodTo areaGeoJSON unmatchedAddresses description } }`;

  it('counts the audience by district, addresses, a drawn area and a problem outline, with themes', async () => {
    const byDistrict = (await app.gql(AUD, { a: { kind: 'DISTRICTS', districtIds: [String(district.id)] } })).data.informingAudience;
    const [truth] = await app.sql<{ n: number; c: number }>(`SELECT count(*)::int AS n, count(DISTINCT a.author_id) FILTER (WHERE au.contact_consent AND (au.phone IS NOT NULL OR au.email IS NOT NULL))::int AS c
      FROM appeal a LEFT JOIN appeal_author au ON au.id = a.author_id WHERE a.district_id = ? AND a.received_at >= (SELECT max(received_at) FROM appeal) - interval '366 days'`, [district.id]);
    expect(byDistrict.appeals).toBeGreaterThan(0);
    expect(Math.abs(byDistrict.appeals - truth.n)).toBeLessThanOrEqual(truth.n * 0.02 + 2);   // the period is counted in whole local days
    expect(byDistrict.consenting).toBeGreaterThan(0);
    expect(byDistrict.consenting).toBeLessThan(byDistrict.authors);
    expect(byDistrict.areaGeoJSON.type).toMatch(/Polygon/);
    expect(byDistrict.description[0]).toContain(district.name);

    const [addr] = await app.sql<{ address: string }>(`SELECT address FROM appeal WHERE address IS NOT NULL GROUP BY address ORDER BY count(*) DESC LIMIT 1`);
    const byAddr = (await app.gql(AUD, { a: { kind: 'ADDRESSES', addresses: [addr.address.toUpperCase(), 'улица Несуществующая, 999'] } })).data.informingAudience;
    expect(byAddr.appeals).toBeGreaterThan(0);
    expect(byAddr.unmatchedAddresses).toEqual(['улица несуществующая, 999']);

    const [b] = await app.sql<{ x: number; y: number }>(`SELECT ST_X(point) AS x, ST_Y(point) AS y FROM appeal WHERE point IS NOT NULL ORDER BY id LIMIT 1`);
    const d = 0.01;
    const square = { type: 'Polygon', coordinates: [[[b.x - d, b.y - d], [b.x + d, b.y - d], [b.x + d, b.y + d], [b.x - d, b.y + d], [b.x - d, b.y - d]]] };
    const byArea = (await app.gql(AUD, { a: { kind: 'AREA', area: square } })).data.informingAudience;
    expect(byArea.appeals).toBeGreaterThan(0);
    const [themed] = await app.sql<{ theme_id: number }>(`SELECT theme_id FROM appeal WHERE point IS NOT NULL ORDER BY id LIMIT 1`);
    const byAreaTheme = (await app.gql(AUD, { a: { kind: 'AREA', area: square, themeIds: [String(themed.theme_id)] } })).data.informingAudience;
    expect(byAreaTheme.appeals).toBeGreaterThan(0);
    expect(byAreaTheme.appeals).toBeLessThan(byArea.appeals);

    const byProblem = (await app.gql(AUD, { a: { kind: 'PROBLEM', problemId: String(problemId) } })).data.informingAudience;
    const [{ n: inProblem }] = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM problem_appeal WHERE problem_id = ?`, [problemId]);
    expect(byProblem.appeals).toBeGreaterThanOrEqual(Math.min(inProblem, 1));
  });

  it('bad audiences name the field', async () => {
    const bow = { type: 'Polygon', coordinates: [[[81, 51], [81.1, 51.1], [81.1, 51], [81, 51.1], [81, 51]]] };
    const cases: [Record<string, unknown>, string | RegExp][] = [
      [{ kind: 'DISTRICTS' }, 'audience.districtIds'],
      [{ kind: 'DISTRICTS', districtIds: ['999999'] }, 'audience.districtIds[0]'],
      [{ kind: 'ADDRESSES', addresses: ['ab'] }, 'audience.addresses[0]'],
      [{ kind: 'AREA', area: { type: 'Point', coordinates: [81, 51] } }, 'audience.area.type'],
      [{ kind: 'AREA', area: { type: 'Polygon', coordinates: [[[81, 51], [82, 51], [82, 52], [81, 51.5]]] } }, 'audience.area.coordinates[0]'],
      [{ kind: 'AREA', area: { type: 'Polygon', coordinates: [[[81, 51], [500, 51], [82, 52], [81, 51]]] } }, 'audience.area.coordinates[0][1]'],
      [{ kind: 'AREA', area: bow }, 'audience.area'],
      [{ kind: 'PROBLEM', problemId: '999999' }, 'audience.problemId'],
      [{ kind: 'DISTRICTS', districtIds: [String(district.id)], from: '2026-02-30' }, 'audience.from'],
      [{ kind: 'DISTRICTS', districtIds: [String(district.id)], themeIds: ['1', 'x'] }, 'audience.themeIds[1]'],
    ];
    for (const [a, field] of cases) {
      const r = await app.gql(AUD, { a });
      expect(r.errors?.[0].extensions?.field, JSON.stringify(a).slice(0, 80)).toBe(field);
    }
    const ring = Array.from({ length: 2100 }, (_, i) => [81 + Math.cos(i) * 0.01, 51 + Math.sin(i) * 0.01]);
    ring.push(ring[0]);
    expect((await app.gql(AUD, { a: { kind: 'AREA', area: { type: 'Polygon', coordinates: [ring] } } })).errors?.[0].message).toMatch(/не больше 2000 вершин/);
  });

  it('planned works, drafts from templates, hostile values stay plain text', async () => {
    const [org] = await app.sql<{ id: number; name: string }>(`SELECT id, coalesce(short_name, name) AS name FROM organization WHERE code = 'vodokanal'`);
    const create = `mutation C($i: PlannedWorksInput!) { createPlannedWorks(input: $i) { id title address districtName organizationName startsAt endsAt createdBy } }`;
    const ok = await app.gql(create, { i: { title: 'Замена участка водопровода', address: 'ул. Ленина, 10–20', districtId: String(district.id), organizationId: String(org.id),
      startsAt: '2026-12-03T09:00:00+07:00', endsAt: '2026-12-04T18:00:00+07:00', description: 'Воды не будет с 9:00 до 18:00.' } });
    expect(ok.errors).toBeUndefined();
    worksId = ok.data.createPlannedWorks.id;
    expect(ok.data.createPlannedWorks).toMatchObject({ districtName: district.name, organizationName: org.name, createdBy: 'test-curator' });
    for (const [i, field] of [[{ title: '' }, 'input.title'], [{ title: '<img src=x onerror=alert(1)>' }, 'input.title'], [{ endsAt: '2026-12-01T00:00:00Z' }, 'input.endsAt'],
      [{ organizationId: '999999' }, 'input.organizationId']] as const) {
      const r = await app.gql(create, { i: { title: 'Работы', address: 'ул. Ленина, 1', startsAt: '2026-12-03T09:00:00+07:00', endsAt: '2026-12-04T18:00:00+07:00', ...i } });
      expect(r.errors?.[0].extensions?.field, JSON.stringify(i)).toBe(field);
    }
    const DRAFT = `query D($s: InformingSourceInput!, $t: String!) { informingDraft(source: $s, templateCode: $t) { text channel maxLength values sourceTitle } }`;
    const post = (await app.gql(DRAFT, { s: { kind: 'PLANNED_WORKS', id: worksId }, t: 'page.planned' })).data.informingDraft;
    expect(post.text).toMatch(/^Уважаемые жители! с 03\.12\.2026 09:00 по 04\.12\.2026 18:00 .+ проводит плановые работы: Замена участка водопровода\.\nАдрес: ул\. Ленина, 10–20/);
    expect(post.text).toContain('Воды не будет');
    const prob = (await app.gql(DRAFT, { s: { kind: 'PROBLEM', id: String(problemId) }, t: 'messenger.problem' }));
    expect(prob.errors).toBeUndefined();
    expect(prob.data.informingDraft.text).toMatch(/\d+ обращений по теме «/);
    // wrong source kind for the template; unknown template; missing id
    expect((await app.gql(DRAFT, { s: { kind: 'PROBLEM', id: String(problemId) }, t: 'page.planned' })).errors?.[0].message).toMatch(/для поводов: плановые работы/);
    expect((await app.gql(DRAFT, { s: { kind: 'PROBLEM', id: String(problemId) }, t: 'nope' })).errors?.[0].extensions?.field).toBe('templateCode');
    expect((await app.gql(DRAFT, { s: { kind: 'RISK' }, t: 'page.risk' })).errors?.[0].extensions?.field).toBe('source.id');

    // a hostile template is refused with a clear message; a good one with a hostile value renders as plain text
    const SET = `mutation S($c: String!, $ch: InformingChannel!, $k: [InformingSourceKind!]!, $t: String!, $b: String!) { setInformingTemplate(code: $c, channel: $ch, sourceKinds: $k, title: $t, body: $b) { code builtin updatedBy body } }`;
    const bad = await app.gql(SET, { c: 'own.works', ch: 'MESSENGER', k: ['PLANNED_WORKS'], t: 'Свой', b: 'Работы {{title}} {{secret}}' });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { field: 'body' } });
    expect(bad.errors?.[0].message).toMatch(/неизвестная подстановка \{\{secret\}\}; есть: \{\{municipality\}\}/);
    expect((await app.gql(SET, { c: 'own.works', ch: 'MESSENGER', k: ['PLANNED_WORKS'], t: 'Свой', b: 'x'.repeat(1001) })).errors?.[0].message).toMatch(/длиннее 1000/);
    expect((await app.gqlAs(Role.WORKER, SET, { c: 'own.works', ch: 'MESSENGER', k: ['PLANNED_WORKS'], t: 'Свой', b: '{{title}}' })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const good = await app.gql(SET, { c: 'own.works', ch: 'MESSENGER', k: ['PLANNED_WORKS'], t: 'Свой', b: 'Внимание: {{title}} — {{address}}' });
    expect(good.data.setInformingTemplate).toMatchObject({ code: 'own.works', builtin: false, updatedBy: 'test-curator' });
    const hostile = await app.gql(create, { i: { title: 'Работы {{municipality}}', address: 'ул. =HYPERLINK("http://x") 1', startsAt: '2026-12-03T09:00:00+07:00', endsAt: '2026-12-04T18:00:00+07:00' } });
    const h = (await app.gql(DRAFT, { s: { kind: 'PLANNED_WORKS', id: hostile.data.createPlannedWorks.id }, t: 'own.works' })).data.informingDraft;
    expect(h.text).toBe('Внимание: Работы {{municipality}} — ул. =HYPERLINK("http://x") 1');
    // the planned works without organisation: the built-in post needs {{organization}} → a clear error, not a hole
    const hole = await app.gql(DRAFT, { s: { kind: 'PLANNED_WORKS', id: hostile.data.createPlannedWorks.id }, t: 'page.planned' });
    expect(hole.errors?.[0].message).toMatch(/нет значения для \{\{organization\}\}/);
    const log = await app.sql<{ action: string; entity: string }>(`SELECT entity, action FROM audit_log WHERE entity IN ('informing_template', 'planned_works') ORDER BY id`);
    expect(log).toEqual([{ entity: 'planned_works', action: 'create' }, { entity: 'informing_template', action: 'create' }, { entity: 'planned_works', action: 'create' }]);
  });

  it('records informing (audited), produces the call-back list of consenting authors only (logged), exports it for allowed roles', async () => {
    const REC = `mutation R($i: RecordInformingInput!) { recordInforming(input: $i) { id channel sourceKind sourceTitle appeals authors consenting message informedBy informedAt templateCode } }`;
    const audience = { kind: 'DISTRICTS', districtIds: [String(district.id)] };
    const post = await app.gqlAs(Role.WORKER, REC, { i: { source: { kind: 'PLANNED_WORKS', id: worksId }, channel: 'OFFICIAL_PAGE', templateCode: 'page.planned', audience, message: 'Уважаемые жители! Завтра не будет воды.' } });
    expect(post.errors).toBeUndefined();
    expect(post.data.recordInforming).toMatchObject({ channel: 'OFFICIAL_PAGE', sourceKind: 'PLANNED_WORKS', sourceTitle: 'Замена участка водопровода', informedBy: 'test-worker' });
    expect(post.data.recordInforming.appeals).toBeGreaterThan(0);
    for (const [i, field] of [
      [{ message: 'Текст с {{title}}' }, 'input.message'], [{ message: '<a href="x">тут</a>' }, 'input.message'], [{ message: 'я'.repeat(4001) }, 'input.message'],
      [{ channel: 'MESSENGER' }, 'input.channel'], [{ source: { kind: 'PROBLEM', id: '999999' } }, 'source.id'],
    ] as const) {
      const r = await app.gql(REC, { i: { source: { kind: 'PLANNED_WORKS', id: worksId }, channel: 'OFFICIAL_PAGE', templateCode: 'page.planned', audience, message: 'Текст', ...i } });
      expect(r.errors?.[0].extensions?.field, JSON.stringify(i).slice(0, 60)).toBe(field);
    }
    expect((await app.gqlAs(Role.ANALYST, REC, { i: { source: { kind: 'NONE' }, channel: 'OFFICIAL_PAGE', audience, message: 'x' } })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const call = await app.gql(REC, { i: { source: { kind: 'PROBLEM', id: String(problemId) }, channel: 'CALLBACK', templateCode: 'callback.problem', audience, message: 'Здравствуйте! Звоним по вашему обращению.' } });
    expect(call.errors).toBeUndefined();
    const inf = call.data.recordInforming;
    expect(inf.consenting).toBeGreaterThan(0);
    const audit = await app.sql<{ actor: string; after: any }>(`SELECT actor, after FROM audit_log WHERE entity = 'informing' ORDER BY id`);
    expect(audit.map((a) => a.actor)).toEqual(['test-worker', 'test-curator']);
    expect(audit[1].after).toMatchObject({ channel: 'CALLBACK', source: { kind: 'PROBLEM', id: problemId } });

    const LIST = `query L($id: ID!) { callbackList(informingId: $id) { total rows { appealId fullName phone email address receivedAt } } }`;
    expect((await app.gql(LIST, { id: post.data.recordInforming.id })).errors?.[0].message).toMatch(/только для информирования по каналу «обзвон»/);
    const before = (await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pd_access_log WHERE operation = 'CALLBACK_LIST'`))[0].n;
    const list = (await app.gql(LIST, { id: inf.id })).data.callbackList;
    expect(list.total).toBe(inf.consenting);
    const ids = list.rows.map((r: any) => Number(r.appealId));
    const authors = await app.sql<{ consent: boolean; contact: boolean }>(`SELECT au.contact_consent AS consent, (au.phone IS NOT NULL OR au.email IS NOT NULL) AS contact
      FROM appeal a JOIN appeal_author au ON au.id = a.author_id WHERE a.id = ANY(?::int[])`, [`{${ids.join(',')}}`]);
    expect(authors.length).toBe(ids.length);
    expect(authors.every((a) => a.consent && a.contact)).toBe(true);
    const logged = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pd_access_log WHERE operation = 'CALLBACK_LIST' AND actor = 'test-curator'`);
    expect(logged[0].n - before).toBe(ids.length);
    // a non-consenting author in the same district never appears
    const [nc] = await app.sql<{ id: number }>(`SELECT a.id FROM appeal a JOIN appeal_author au ON au.id = a.author_id WHERE a.district_id = ? AND NOT au.contact_consent AND au.phone IS NOT NULL LIMIT 1`, [district.id]);
    expect(ids).not.toContain(nc.id);
    // roles without personal data: no list, no export
    expect((await app.gqlAs(Role.ANALYST, LIST, { id: inf.id })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gqlAs(Role.ORG_OFFICER, LIST, { id: inf.id })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const analyst = await app.as(Role.ANALYST);
    expect((await analyst.fetch(`/exports/callback.xlsx?informingId=${inf.id}`)).status).toBe(403);
    const worker = await app.as(Role.WORKER);
    const res = await worker.fetch(`/exports/callback.xlsx?informingId=${inf.id}`);
    expect(res.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(await res.arrayBuffer());
    const ws = wb.worksheets[0];
    expect(ws.getRow(5).values).toContain('Телефон');
    expect(ws.rowCount - 5).toBe(ids.length);
    const exported = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pd_access_log WHERE operation = 'CALLBACK_EXPORT' AND actor = 'test-worker'`);
    expect(exported[0].n).toBe(ids.length);
    expect((await worker.fetch(`/exports/callback.xlsx?informingId=abc`)).status).toBe(400);
    const journal = (await app.gqlAs(Role.ANALYST, `{ informings(first: 10) { totalCount nodes { id channel callbackRows informedBy } } }`)).data.informings;
    expect(journal.totalCount).toBe(2);
    expect(journal.nodes[0]).toMatchObject({ channel: 'CALLBACK', callbackRows: ids.length });
  });

  it('random arguments to every informing input: data or BAD_USER_INPUT, never internal; nothing half-written', { timeout: 300_000 }, async () => {
    const str = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("1'; DROP TABLE appeal; --", '\u0000', '\uD800', '-1', '0', '1', '999999999', '<b>x</b>', '{{title}}', '{{ nope }}', '}}{{', '\u202Eabc'));
    const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1, 81.2, 51.5, 1e308, 181));
    const ring = fc.tuple(fc.array(fc.tuple(num, num), { minLength: 0, maxLength: 6 }), fc.boolean()).map(([r, close]) => (r.length && close ? [...r, r[0]] : r));
    const area = fc.oneof(fc.json().map((j) => JSON.parse(j)), fc.record({ type: fc.constantFrom('Polygon', 'MultiPolygon', 'Point'), coordinates: fc.oneof(fc.array(ring, { maxLength: 2 }), fc.array(fc.array(ring, { maxLength: 2 }), { maxLength: 2 })) }));
    const audience = fc.record({ kind: fc.constantFrom('DISTRICTS', 'ADDRESSES', 'AREA', 'PROBLEM'), districtIds: fc.option(fc.array(str, { maxLength: 3 })), addresses: fc.option(fc.array(str, { maxLength: 3 })),
      area: fc.option(area), problemId: fc.option(str), themeIds: fc.option(fc.array(str, { maxLength: 2 })), from: fc.option(str), to: fc.option(str) }, { requiredKeys: ['kind'] });
    const source = fc.record({ kind: fc.constantFrom('PROBLEM', 'RISK', 'PLANNED_WORKS', 'NONE'), id: fc.option(str) }, { requiredKeys: ['kind'] });
    const ops: [string, fc.Arbitrary<Record<string, unknown>>][] = [
      ['query($a: AudienceInput!) { informingAudience(audience: $a) { appeals } }', fc.record({ a: audience })],
      ['query($s: InformingSourceInput!, $t: String!) { informingDraft(source: $s, templateCode: $t) { text } }', fc.record({ s: source, t: fc.oneof(str, fc.constantFrom('page.planned', 'page.problem', 'callback.risk')) })],
      ['mutation($c: String!, $b: String!, $t: String!) { setInformingTemplate(code: $c, channel: MESSENGER, sourceKinds: [PLANNED_WORKS], title: $t, body: $b) { code } }', fc.record({ c: fc.oneof(str, fc.constant('fuzz.t')), b: str, t: str })],
      ['mutation($i: PlannedWorksInput!) { createPlannedWorks(input: $i) { id } }', fc.record({ i: fc.record({ title: str, address: str, startsAt: fc.constantFrom('2026-12-01T00:00:00Z', '2027-12-01T00:00:00Z'), endsAt: fc.constantFrom('2026-12-02T00:00:00Z', '2026-11-01T00:00:00Z'),
        organizationId: fc.option(str), districtId: fc.option(str), area: fc.option(area), description: fc.option(str) }) })],
      ['mutation($i: RecordInformingInput!) { recordInforming(input: $i) { id } }', fc.record({ i: fc.record({ source, channel: fc.constantFrom('OFFICIAL_PAGE', 'MESSENGER', 'CALLBACK'), audience, message: str, note: fc.option(str), templateCode: fc.option(str) }) })],
      ['query($id: ID!) { callbackList(informingId: $id) { total } }', fc.record({ id: str })],
    ];
    const before = await app.sql<{ i: number; a: number }>(`SELECT (SELECT count(*) FROM informing)::int AS i, (SELECT count(*) FROM audit_log WHERE entity = 'informing')::int AS a`);
    const seen = { data: 0, refused: 0 };
    await fc.assert(fc.asyncProperty(fc.oneof(...ops.map(([q, vars]) => vars.map((v) => ({ q, v })))), async ({ q, v }) => {
      const r = await app.gql(q, v);
      seen[r.errors ? 'refused' : 'data']++;
      for (const e of r.errors ?? []) expect(e.extensions?.code, JSON.stringify({ q: q.slice(0, 60), v, e }).slice(0, 600)).toMatch(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/);
    }), { numRuns: 150, seed: 1202 });
    expect(seen.refused).toBeGreaterThan(0);
    // every stored informing has its audit entry (nothing half-written)
    const after = await app.sql<{ i: number; a: number }>(`SELECT (SELECT count(*) FROM informing)::int AS i, (SELECT count(*) FROM audit_log WHERE entity = 'informing')::int AS a`);
    expect(after[0].i - before[0].i).toBe(after[0].a - before[0].a);
  });

  it('intake sets the consent from a mapped column; unknown values warn and mean «no»', async () => {
    const mapping = { channel: 'DIRECT', format: 'csv', fields: { externalId: { column: 'id' }, receivedAt: { column: 'date', format: 'yyyy-MM-dd' }, text: { column: 'text' },
      authorName: { column: 'name' }, authorPhone: { column: 'phone' }, authorContactConsent: { column: 'consent' } } };
    const csv = 'id,date,text,name,phone,consent\nC1,2026-11-20,Нет воды в доме,Иванов,+79130000001,да\nC2,2026-11-20,Нет воды в доме,Петров,+79130000002,нет\nC3,2026-11-20,Нет воды в доме,Сидоров,+79130000003,может быть\n';
    const r = await gqlUpload(app.url, `mutation I($m: JSONObject, $file: Upload!) { importAppeals(mapping: $m, file: $file) { inserted issues { field reason } } }`,
      { m: mapping }, { name: 'c.csv', content: csv });
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals.inserted).toBe(3);
    expect(r.data.importAppeals.issues.find((i: any) => i.field === "authorContactConsent")?.reason).toMatch(/не распознано «может быть» — принято «нет»/);
    const rows = await app.sql<{ external_id: string; c: boolean }>(`SELECT a.external_id, au.contact_consent AS c FROM appeal a JOIN appeal_author au ON au.id = a.author_id WHERE a.external_id IN ('C1','C2','C3') ORDER BY 1`);
    expect(rows).toEqual([{ external_id: 'C1', c: true }, { external_id: 'C2', c: false }, { external_id: 'C3', c: false }]);
  });
});
