import fs from 'node:fs';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, freshDatabase } from './helpers/backends.js';
import { startApp } from '../server/app.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { IntakeService } from '../server/intake/service.js';

const IMPORT = `mutation($file: Upload!, $channel: Channel, $mapping: JSONObject, $format: SourceFormat) {
  importAppeals(file: $file, channel: $channel, mapping: $mapping, format: $format) {
    batchId status read inserted updated unchanged rejected flagged error issues { line field severity reason externalId } } }`;

const sample = (name: string) => ({ name, content: fs.readFileSync(`db/samples/${name}`) });
const HEADER = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';

describe.each(backends)('appeals intake on %s', (backend) => {
  let app: TestApp;
  const importFile = (file: { name: string; content: Buffer | string }, variables: Record<string, unknown>) => gqlUpload(app.url, IMPORT, variables, file);
  const count = async (where = 'true', params: unknown[] = []) => (await app.sql(`SELECT count(*)::int AS n FROM appeal WHERE ${where}`, params))[0].n as number;

  beforeAll(async () => {
    app = await startTestApp(backend, 1500);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('imports the sample of every channel cleanly, structured and routed', async () => {
    const cases: [string, Record<string, unknown>, number][] = [
      ['incident-management.csv', { channel: 'INCIDENT_MANAGEMENT' }, 4],
      ['pos.csv', { channel: 'POS' }, 3],
      ['social.jsonl', { channel: 'SOCIAL' }, 3],
      ['messenger.jsonl', { channel: 'MESSENGER' }, 2],
      ['direct.csv', { channel: 'DIRECT' }, 2],
      ['public-discussion.csv', { channel: 'PUBLIC_DISCUSSION' }, 2],
      ['open-data.geojson', { mapping: JSON.parse(fs.readFileSync('db/samples/open-data.mapping.json', 'utf8')) }, 2],
    ];
    for (const [file, vars, rows] of cases) {
      const r = await importFile(sample(file), vars);
      expect(r.errors, file).toBeUndefined();
      const rep = r.data.importAppeals;
      expect(rep, file).toMatchObject({ status: 'DONE', read: rows, inserted: rows, rejected: 0, updated: 0 });
    }
    // Theme given by the source is kept; otherwise the classifier decides; every new appeal is routed.
    const lenin = (await app.sql(`SELECT a.place_status, a.theme_source, t.code, a.organization_id, d.name AS district FROM appeal a
      JOIN theme t ON t.id = a.theme_id LEFT JOIN district d ON d.id = a.district_id WHERE external_id = 'IM-9000001'`))[0];
    expect(lenin).toMatchObject({ place_status: 'GEOCODED', theme_source: 'SOURCE', code: 'gkh.heating', district: 'Центральный' });
    expect(lenin.organization_id).not.toBeNull();
    const lights = (await app.sql(`SELECT a.theme_source, t.code FROM appeal a JOIN theme t ON t.id = a.theme_id WHERE external_id = 'IM-9000003'`))[0];
    expect(lights).toMatchObject({ theme_source: 'MODEL', code: 'blag.lighting' });
    expect(await count(`batch_id IS NOT NULL AND organization_id IS NULL AND theme_id IS NOT NULL`)).toBe(0);
    // Personal data went to appeal_author, not onto the appeal.
    const pd = (await app.sql(`SELECT au.full_name, au.phone FROM appeal a JOIN appeal_author au ON au.id = a.author_id WHERE external_id = 'POS-55001'`))[0];
    expect(pd).toEqual({ full_name: 'Иванов Пётр Сергеевич', phone: '+7 (913) 555-12-34' });
  });

  it('is idempotent, and a changed re-import updates with events', async () => {
    const again = await importFile(sample('pos.csv'), { channel: 'POS' });
    expect(again.data.importAppeals).toMatchObject({ read: 3, inserted: 0, updated: 0, unchanged: 3, rejected: 0 });
    const changed = fs.readFileSync('db/samples/pos.csv', 'utf8').replace(
      'POS-55002;03.02.2026 12:45;Дороги;Уборка снега;Тротуар на пр. Ленина не чистят, люди падают на гололёде.;пр. Ленина, 85;51.51395;81.21176;На рассмотрении;13.02.2026;;;;',
      'POS-55002;03.02.2026 12:45;Дороги;Уборка снега;Тротуар на пр. Ленина не чистят, люди падают на гололёде.;пр. Ленина, 85;51.51395;81.21176;Дан ответ;13.02.2026;05.02.2026 10:00;Тротуар очищен и посыпан.;5;',
    );
    const r = await importFile({ name: 'pos.csv', content: changed }, { channel: 'POS' });
    expect(r.data.importAppeals).toMatchObject({ inserted: 0, updated: 1, unchanged: 2 });
    const events = await app.sql(`SELECT e.kind, e.from_value, e.to_value FROM appeal_event e JOIN appeal a ON a.id = e.appeal_id
      WHERE a.external_id = 'POS-55002' AND e.comment LIKE 'повторный импорт%' ORDER BY e.id`);
    expect(events).toEqual(expect.arrayContaining([
      { kind: 'STATUS', from_value: 'IN_PROGRESS', to_value: 'ANSWERED' },
      { kind: 'ANSWER', from_value: null, to_value: 'Тротуар очищен и посыпан.' },
      { kind: 'SATISFACTION', from_value: null, to_value: '5' },
    ]));
  });

  it('reports every bad row of a salted file with line, field and reason, and keeps the good ones', async () => {
    const before = await count();
    const csv = [
      HEADER,
      'S-1;01.03.2026 10:00;ВКонтакте;;Нет горячей воды в доме;Анна;Отопление;пр. Ленина, 85;Новый;;',            // 2 good
      'S-2;32.13.2026 10:00;ВКонтакте;;Яма на дороге;Анна;Дороги;;Новый;;',                                            // 3 bad date
      'S-3;01.03.2026 10:00;ВКонтакте;;;Анна;Дороги;;Новый;;',                                                          // 4 empty text
      ';01.03.2026 10:00;ВКонтакте;;Текст без номера;Анна;Дороги;;Новый;;',                                             // 5 no id
      'S-5;01.03.2026 11:00;ВКонтакте;;Не вывозят мусор;Анна;Неведомая категория;пр. Ленина, 85;Новый;;',               // 6 unknown theme: kept, flagged
      'S-6;01.03.2026 12:00;ВКонтакте;;Не горят фонари;Анна;Освещение;Несуществующая ул., 1;Новый;;',                   // 7 address not found: review queue
      'S-7;01.03.2026 13:00;ВКонтакте;;Сломана скамейка;Анна;Благоустройство;;Непонятный статус;;',                     // 8 unknown status: kept as NEW
      'S-8;01.03.2099 13:00;ВКонтакте;;Из будущего;Анна;Благоустройство;;Новый;;',                                      // 9 future date
      'S-9;01.03.2026 14:00;ВКонтакте;;"Кавычка не закрыта;Анна;Дороги;;Новый;;',                                        // 10 broken quote (relaxed) or rejected
    ].join('\n');
    const r = await importFile({ name: 'salted.csv', content: csv }, { channel: 'INCIDENT_MANAGEMENT' });
    const rep = r.data.importAppeals;
    const issue = (line: number, field: string) => rep.issues.find((i: any) => i.line === line && i.field === field);
    expect(issue(3, 'receivedAt')).toMatchObject({ severity: 'ERROR' });
    expect(issue(3, 'receivedAt').reason).toMatch(/дата/);
    expect(issue(4, 'text')).toMatchObject({ severity: 'ERROR', reason: 'mapping.fields.text (столбец "Текст"): пустой текст обращения' });
    expect(issue(5, 'externalId')).toMatchObject({ severity: 'ERROR' });
    expect(issue(6, 'theme')).toMatchObject({ severity: 'WARNING' });
    expect(issue(7, 'address')).toMatchObject({ severity: 'WARNING' });
    expect(issue(8, 'status')).toMatchObject({ severity: 'WARNING' });
    expect(issue(9, 'receivedAt')).toMatchObject({ severity: 'ERROR' });
    expect(rep.rejected).toBeGreaterThanOrEqual(4);
    expect(rep.inserted + rep.rejected).toBe(rep.read);
    expect(await count()).toBe(before + rep.inserted);
    expect(await count(`external_id IN ('S-1', 'S-5', 'S-6', 'S-7')`)).toBe(4);
    // The batch and all its issues are queryable afterwards.
    const b = await app.gql(`query($id: ID!) { importBatch(id: $id) { status rejected flagged issues(first: 100) { line field severity } } }`, { id: String(rep.batchId) });
    expect(b.data.importBatch.issues.length).toBe(rep.issues.length);
    const list = await app.gql('{ importBatches(first: 5) { id sourceName status } }');
    expect(list.data.importBatches[0]).toMatchObject({ id: String(rep.batchId), sourceName: 'salted.csv' });
  });

  it('fixes swapped coordinates, keeps points outside the municipality flagged, and queues unknown addresses', async () => {
    const lines = [
      'Номер;Дата подачи;Категория;Подкатегория;Текст;Адрес;Широта;Долгота;Статус;Срок;Дата ответа;Ответ;Оценка;Заявитель;Телефон;E-mail',
      'G-1;05.03.2026 10:00;ЖКХ;Отопление;Холодно в квартире;;81.21176;51.51395;Зарегистрировано;;;;;;;',
      'G-2;05.03.2026 10:00;ЖКХ;Отопление;Холодно в квартире, Барнаул;;53.35;83.77;Зарегистрировано;;;;;;;',
      'G-3;05.03.2026 10:00;ЖКХ;Отопление;Холодно;;951.5;81.2;Зарегистрировано;;;;;;;',
      'G-4;05.03.2026 10:00;ЖКХ;Отопление;Холодно;проспект Ленина д.85;;;Зарегистрировано;;;;;;;',
      'G-5;05.03.2026 10:00;ЖКХ;Отопление;Холодно;ул. Выдуманная, 7;;;Зарегистрировано;;;;;;;',
    ].join('\n');
    const r = await importFile({ name: 'geo.csv', content: lines }, { channel: 'POS' });
    expect(r.data.importAppeals).toMatchObject({ inserted: 5, rejected: 0 });
    const rows = await app.sql(`SELECT external_id, place_status, round(ST_X(point)::numeric, 5) AS lon, district_id FROM appeal WHERE external_id LIKE 'G-%' ORDER BY external_id`);
    expect(rows.map((x: any) => x.place_status)).toEqual(['SWAPPED_FIXED', 'OUTSIDE', 'NONE', 'GEOCODED', 'UNRESOLVED']);
    expect(Number(rows[0].lon)).toBeCloseTo(81.21176, 4);
    expect(rows[0].district_id).not.toBeNull();
    expect(rows[1].district_id).toBeNull();
    const queue = await app.gql(`{ appeals(filter: { placeStatuses: ["UNRESOLVED"] }, first: 50) { totalCount edges { node { id externalId: externalId address } } } }`);
    const g5 = queue.data.appeals.edges.find((e: any) => e.node.externalId === 'G-5');
    expect(g5).toBeTruthy();
    const fixed = await app.gql(`mutation($id: ID!) { resolveAppealPlace(id: $id, lon: 81.2118, lat: 51.5141) { placeStatus district { name } events { kind } } }`, { id: g5.node.id });
    expect(fixed.errors).toBeUndefined();
    expect(fixed.data.resolveAppealPlace).toMatchObject({ placeStatus: 'MANUAL', district: { name: 'Центральный' } });
    expect(fixed.data.resolveAppealPlace.events.map((e: any) => e.kind)).toContain('PLACE');
    // The register learnt the address: the next appeal there is geocoded.
    const next = await importFile({ name: 'geo2.csv', content: lines.split('\n')[0] + '\nG-6;06.03.2026 10:00;ЖКХ;Отопление;Опять холодно;Выдуманная ул., дом 7;;;Зарегистрировано;;;;;;;' }, { channel: 'POS' });
    expect(next.data.importAppeals.inserted).toBe(1);
    expect((await app.sql(`SELECT place_status FROM appeal WHERE external_id = 'G-6'`))[0].place_status).toBe('GEOCODED');
    const wrong = await app.gql(`mutation($id: ID!) { resolveAppealPlace(id: $id, lon: 51.51, lat: 81.21) { id } }`, { id: g5.node.id });
    expect(wrong.errors[0].extensions.field).toBe('lon');
  });

  it('links duplicates and repeats, and sends unsure themes to triage where a person decides', async () => {
    const csv = [
      HEADER,
      'D-1;10.03.2026 09:00;ВКонтакте;https://vk.com/id777;Во дворе огромная яма, машины не проедут;Пётр;Дороги;пр. Ленина, 85;Новый;;',
      'D-2;10.03.2026 15:00;ВКонтакте;https://vk.com/id888;Огромная яма во дворе, машины не могут проехать;Ольга;Дороги;пр. Ленина, 85;Новый;;',
      'D-3;20.03.2026 09:00;ВКонтакте;https://vk.com/id777;Яма так и не заделана! Уже вторая жалоба;Пётр;Дороги;ул. Комсомольская, 100;Новый;;',
      'D-4;21.03.2026 09:00;ВКонтакте;;Ыыы ааа;Кто-то;;;Новый;;',
    ].join('\n');
    const r = await importFile({ name: 'dups.csv', content: csv }, { channel: 'INCIDENT_MANAGEMENT' });
    expect(r.data.importAppeals.inserted).toBe(4);
    const rows = await app.sql(`SELECT a.external_id, o.external_id AS dup, p.external_id AS rep, a.triage FROM appeal a
      LEFT JOIN appeal o ON o.id = a.duplicate_of_id LEFT JOIN appeal p ON p.id = a.repeat_of_id WHERE a.external_id LIKE 'D-%' ORDER BY a.external_id`);
    expect(rows[1]).toMatchObject({ external_id: 'D-2', dup: 'D-1' });
    expect(rows[2]).toMatchObject({ external_id: 'D-3', rep: 'D-1' });
    expect(rows[3]).toMatchObject({ external_id: 'D-4', triage: true });
    const themes = (await app.gql('{ themes { id code } }')).data.themes;
    const d4 = (await app.sql(`SELECT id FROM appeal WHERE external_id = 'D-4'`))[0].id;
    const triage = await app.gql('{ appeals(filter: { triage: true }, first: 100) { edges { node { id } } } }');
    expect(triage.data.appeals.edges.map((e: any) => Number(e.node.id))).toContain(d4);
    const lighting = themes.find((t: any) => t.code === 'blag.lighting').id;
    const done = await app.gql(`mutation($id: ID!, $t: ID!) { reclassifyAppeal(id: $id, themeId: $t, comment: "проверено") { triage themeSource theme { code } organization { id } events { kind actor comment } } }`, { id: String(d4), t: lighting });
    expect(done.errors).toBeUndefined();
    expect(done.data.reclassifyAppeal).toMatchObject({ triage: false, themeSource: 'PERSON', theme: { code: 'blag.lighting' } });
    expect(done.data.reclassifyAppeal.organization).not.toBeNull();
    expect(done.data.reclassifyAppeal.events.find((e: any) => e.kind === 'THEME')).toMatchObject({ actor: 'test-curator', comment: 'проверено' });
    const group = themes.find((t: any) => t.code === 'gkh').id;
    const bad = await app.gql(`mutation($id: ID!, $t: ID!) { reclassifyAppeal(id: $id, themeId: $t) { id } }`, { id: String(d4), t: group });
    expect(bad.errors[0].extensions.field).toBe('themeId');
  });

  it('finds the same duplicates and repeats whatever the chunk size (within a chunk as across chunks)', async () => {
    const texts = ['Во дворе огромная яма, машины не проедут', 'Огромная яма во дворе, машины не могут проехать', 'Не горит фонарь у подъезда, темно вечером'];
    const links: string[][] = [];
    for (const [k, chunkSize] of [[1, 1], [2, 7], [3, 1000]] as const) {
      // A year apart per run: no duplicate or repeat period reaches another run's appeals.
      const rows = Array.from({ length: 40 }, (_, i) =>
        `Z${k}-${String(i).padStart(2, '0')};${String(1 + Math.floor(i / 3)).padStart(2, '0')}.03.${2020 + k} ${String(8 + (i % 3)).padStart(2, '0')}:00;ВКонтакте;https://vk.com/id${900 + (i % 5)};` +
        `${texts[i % 3]};Житель;Дороги;${['пр. Ленина, 85', 'ул. Комсомольская, 100'][i % 2]};Новый;;`);
      const em = app.orm.em.fork();
      const r = await new IntakeService(em, app.municipalityId, 'test').importFile(Readable.from([[HEADER, ...rows].join('\n')]), { fileName: `z${k}.csv`, channel: 'INCIDENT_MANAGEMENT', chunkSize });
      expect(r).toMatchObject({ status: 'DONE', inserted: 40 });
      const got = await app.sql<{ id: string; dup: string | null; rep: string | null }>(
        `SELECT substr(a.external_id, 4) AS id, substr(o.external_id, 4) AS dup, substr(p.external_id, 4) AS rep FROM appeal a
           LEFT JOIN appeal o ON o.id = a.duplicate_of_id LEFT JOIN appeal p ON p.id = a.repeat_of_id
          WHERE a.external_id LIKE ? ORDER BY a.external_id`, [`Z${k}-%`]);
      links.push(got.map((g) => `${g.id}:${g.dup ?? '-'}:${g.rep ?? '-'}`));
      const events = await app.sql<{ kind: string; n: number }>(
        `SELECT e.kind, count(*)::int AS n FROM appeal_event e JOIN appeal a ON a.id = e.appeal_id WHERE a.external_id LIKE ? GROUP BY e.kind ORDER BY e.kind`, [`Z${k}-%`]);
      expect(events).toEqual([
        { kind: 'CREATED', n: 40 },
        { kind: 'DUPLICATE', n: got.filter((g) => g.dup).length },
        { kind: 'REPEAT', n: got.filter((g) => g.rep).length },
      ]);
    }
    expect(links[0].filter((l) => !l.includes(':-:')).length).toBeGreaterThan(5); // duplicates found
    expect(links[0].filter((l) => !l.endsWith(':-')).length).toBeGreaterThan(5); // repeats found
    expect(links[1]).toEqual(links[0]);
    expect(links[2]).toEqual(links[0]);
    // The creation event tells where the appeal came from and what the import decided.
    const [created] = await app.sql<{ comment: string }>(`SELECT e.comment FROM appeal_event e JOIN appeal a ON a.id = e.appeal_id WHERE a.external_id = 'Z1-00' AND e.kind = 'CREATED'`);
    expect(created.comment).toMatch(/^z1\.csv, строка 2; исполнитель — по правилам маршрутизации$/);
  });

  it('links a repeat by place: the same theme and place after an answer, whoever writes, within a chunk as across chunks', async () => {
    const got: string[][] = [];
    for (const [k, chunkSize] of [[1, 1], [2, 1000]] as const) {
      const y = 2016 + k; // years no other test uses: no period reaches another run's appeals
      const rows = [
        `P${k}-1;01.02.${y} 09:00;ВКонтакте;https://vk.com/id701;Яма на дороге у дома, колесо пробил;Анна;Дороги;пр. Ленина, 85;Дан ответ;Яму заделали 3 февраля, проверено мастером;03.02.${y} 10:00`,
        // nine days later, another author, the same place and theme: the answer did not solve it
        `P${k}-2;10.02.${y} 09:00;ВКонтакте;https://vk.com/id702;Снова провал асфальта напротив подъезда;Борис;Дороги;пр. Ленина, 85;Новый;;`,
        // the same theme elsewhere: no repeat
        `P${k}-3;12.02.${y} 09:00;ВКонтакте;https://vk.com/id703;Провал асфальта на перекрёстке;Вера;Дороги;ул. Октябрьская, 50;Новый;;`,
        // more than 90 days after the answer: no repeat
        `P${k}-4;20.06.${y} 09:00;ВКонтакте;https://vk.com/id704;Разбита дорога у дома, ямы;Глеб;Дороги;пр. Ленина, 85;Новый;;`,
      ];
      const em = app.orm.em.fork();
      const r = await new IntakeService(em, app.municipalityId, 'test').importFile(Readable.from([[HEADER, ...rows].join('\n')]), { fileName: `p${k}.csv`, channel: 'INCIDENT_MANAGEMENT', chunkSize });
      expect(r).toMatchObject({ status: 'DONE', inserted: 4 });
      const links = await app.sql<{ id: string; rep: string | null; dup: string | null; comment: string | null }>(
        `SELECT substr(a.external_id, 4) AS id, substr(p.external_id, 4) AS rep, a.duplicate_of_id::text AS dup, e.comment FROM appeal a
           LEFT JOIN appeal p ON p.id = a.repeat_of_id LEFT JOIN appeal_event e ON e.appeal_id = a.id AND e.kind = 'REPEAT'
          WHERE a.external_id LIKE ? ORDER BY a.external_id`, [`P${k}-%`]);
      expect(links.map((l) => l.dup)).toEqual([null, null, null, null]);
      got.push(links.map((l) => `${l.id}:${l.rep ?? '-'}`));
      expect(links[1].comment).toBe('повторное обращение по той же теме в том же месте после ответа');
    }
    expect(got[0]).toEqual(['1:-', '2:1', '3:-', '4:-']);
    expect(got[1]).toEqual(got[0]);
  });

  it('routes by the rules table, and reassignment is an event', async () => {
    const ids = (await app.gql('{ themes { id code } districts { id name } organizations { id code } }')).data;
    const potholes = ids.themes.find((t: any) => t.code === 'roads.potholes').id;
    const central = ids.districts.find((d: any) => d.name === 'Центральный').id;
    const uks = ids.organizations.find((o: any) => o.code === 'uks').id;
    const set = await app.gql(`mutation($t: ID!, $d: ID, $o: ID!) { setRoutingRule(themeId: $t, districtId: $d, organizationId: $o) }`, { t: potholes, d: central, o: uks });
    expect(set.errors).toBeUndefined();
    await importFile({ name: 'route.csv', content: `${HEADER}\nR-1;22.03.2026 09:00;ВКонтакте;;Яма у дома;Иван;Дороги;пр. Ленина, 85;Новый;;` }, { channel: 'INCIDENT_MANAGEMENT' });
    const r1 = (await app.sql(`SELECT id, organization_id FROM appeal WHERE external_id = 'R-1'`))[0];
    expect(String(r1.organization_id)).toBe(uks);
    const admin = ids.organizations.find((o: any) => o.code === 'admin').id;
    const moved = await app.gql(`mutation($id: ID!, $o: ID!) { reassignAppeal(id: $id, organizationId: $o) { organization { id } events { kind fromValue toValue } } }`, { id: String(r1.id), o: admin });
    expect(moved.data.reassignAppeal.organization.id).toBe(admin);
    expect(moved.data.reassignAppeal.events.at(-1)).toMatchObject({ kind: 'ORGANIZATION', fromValue: uks, toValue: admin });
  });

  it('reads a generic CSV whose mapping names no delimiter: commas in texts and decimal commas do not split fields', async () => {
    const mapping = { channel: 'DIRECT', fields: { externalId: 'id', receivedAt: { column: 'date', format: 'dd.MM.yyyy HH:mm' }, text: 'text', lat: 'lat', lon: 'lon' } };
    const semicolons = ['id;date;text;lat;lon', 'D-1;24.03.2026 10:00;Яма, большая, у остановки;51,51395;81,21176', 'D-2;24.03.2026 11:00;Нет света, второй день;51.5141;81.2118'].join('\r\n');
    const r1 = await importFile({ name: 'generic.csv', content: semicolons }, { mapping });
    expect(r1.errors).toBeUndefined();
    expect(r1.data.importAppeals).toMatchObject({ read: 2, inserted: 2, rejected: 0 });
    const commas = ['id,date,text,lat,lon', 'D-3,24.03.2026 12:00,"Мусор; контейнеры, переполнены",51.51395,81.21176', 'D-4,24.03.2026 13:00,Не горит фонарь,51.5141,81.2118'].join('\n');
    const r2 = await importFile({ name: 'generic2.csv', content: commas }, { mapping });
    expect(r2.data.importAppeals).toMatchObject({ read: 2, inserted: 2, rejected: 0 });
    const rows = await app.sql(`SELECT external_id, text, round(ST_Y(point)::numeric, 5)::float AS lat FROM appeal WHERE external_id LIKE 'D-_' AND channel = 'DIRECT' ORDER BY external_id`);
    expect(rows.map((x: any) => [x.external_id, x.text, x.lat])).toEqual([
      ['D-1', 'Яма, большая, у остановки', 51.51395], ['D-2', 'Нет света, второй день', 51.5141],
      ['D-3', 'Мусор; контейнеры, переполнены', 51.51395], ['D-4', 'Не горит фонарь', 51.5141],
    ]);
  });

  it('loads the address register from CSV with any delimiter and decimal commas, and reports bad rows', async () => {
    const upload = (name: string, content: string) => gqlUpload(app.url, `mutation($file: Upload!) { importAddressRegister(file: $file) { read inserted updated rejected issues { line field reason } } }`, {}, { name, content });
    const r1 = await upload('reg.csv', ['улица;дом;широта;долгота', 'ул. Регистровая;1;51,51395;81,21176', 'ул. Регистровая;2;;', 'ул. Регистровая;3;51.5141;81.2118'].join('\n'));
    expect(r1.errors).toBeUndefined();
    expect(r1.data.importAddressRegister).toMatchObject({ read: 3, inserted: 2, rejected: 1 });
    expect(r1.data.importAddressRegister.issues).toEqual([{ line: 3, field: 'lat/lon', reason: 'нет координат' }]);
    const r2 = await upload('reg2.csv', ['street,house,lat,lon', '"ул. Регистровая",4,51.5142,81.2119'].join('\n'));
    expect(r2.data.importAddressRegister).toMatchObject({ read: 1, inserted: 1, rejected: 0 });
    const next = await importFile({ name: 'reg-appeal.csv', content: `${HEADER}\nRG-1;24.03.2026 14:00;ВКонтакте;;Яма во дворе;Иван;Дороги;ул. Регистровая, д. 4;Новый;;` }, { channel: 'INCIDENT_MANAGEMENT' });
    expect(next.data.importAppeals.inserted).toBe(1);
    const [a] = await app.sql(`SELECT place_status, round(ST_Y(point)::numeric, 4)::float AS lat FROM appeal WHERE external_id = 'RG-1'`);
    expect(a).toEqual({ place_status: 'GEOCODED', lat: 51.5142 });
  });

  it('reads XLSX exports', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Обращения');
    ws.addRow(HEADER.split(';'));
    ws.addRow(['X-1', '23.03.2026 10:00', 'ВКонтакте', '', 'Не работает светофор на перекрёстке', 'Марк', '', 'ул. Комсомольская, 12', 'Новый', '', '']);
    ws.addRow(['X-2', new Date('2026-03-23T05:00:00Z'), 'ВКонтакте', '', 'Нет воды в доме второй день', 'Марк', 'Холодная вода', '', 'В работе', '', '']);
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    const r = await importFile({ name: 'im.xlsx', content: buf }, { channel: 'INCIDENT_MANAGEMENT' });
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals).toMatchObject({ read: 2, inserted: 2, rejected: 0 });
    expect((await app.sql(`SELECT received_at FROM appeal WHERE external_id = 'X-2'`))[0].received_at).toBeTruthy();
  });

  it('rejects unusable requests with a clear error and writes nothing', async () => {
    const before = await count();
    const noChannel = await importFile({ name: 'x.csv', content: HEADER }, {});
    expect(noChannel.errors[0].extensions!.field).toBe('channel');
    const badMapping = await importFile({ name: 'x.csv', content: HEADER }, { mapping: { channel: 'POS', fields: { externalId: 'id' } } });
    expect(badMapping.errors[0].extensions!.field).toBe('mapping.fields.receivedAt');
    const wrongFormat = await importFile({ name: 'x.bin', content: 'zzz' }, { mapping: JSON.parse(fs.readFileSync('db/samples/open-data.mapping.json', 'utf8').replace('"geojson"', 'null')) });
    expect(wrongFormat.errors[0].extensions!.field).toBe('format');
    const garbage = await importFile({ name: 'x.jsonl', content: '{"id": 1\nnot json\n[1,2]\n' }, { channel: 'SOCIAL' });
    expect(garbage.data.importAppeals).toMatchObject({ read: 3, inserted: 0, rejected: 3 });
    expect(await count()).toBe(before);
  });

  it('survives a crash mid-import: committed chunks stay whole and a re-run completes with exact counts', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => `C-${i};24.03.2026 10:${String(i % 60).padStart(2, '0')};ВКонтакте;;Не вывозят мусор с площадки номер ${i};Житель;Мусор;;Новый;;`);
    const content = [HEADER, ...rows].join('\n');
    // A source that dies after 130 rows, as a killed process would (pulled lazily, row by row).
    const all = [HEADER, ...rows];
    let sent = 0;
    const dying = new Readable({
      highWaterMark: 16,
      read() {
        if (sent < 131) this.push(all[sent++] + '\n');
        else this.destroy(new Error('соединение прервано'));
      },
    });
    const em = app.orm.em.fork();
    const service = new IntakeService(em, app.municipalityId, 'test');
    const crashed = await service.importFile(dying, { fileName: 'crash.csv', channel: 'INCIDENT_MANAGEMENT', chunkSize: 50 });
    expect(crashed.status).toBe('FAILED');
    const afterCrash = await count(`external_id LIKE 'C-%'`);
    expect(afterCrash).toBeGreaterThan(0);
    expect(afterCrash % 50).toBe(0);
    expect(afterCrash).toBe(crashed.inserted);
    const events = await app.sql(`SELECT count(*)::int AS n FROM appeal_event e JOIN appeal a ON a.id = e.appeal_id WHERE a.external_id LIKE 'C-%' AND e.kind = 'CREATED'`);
    expect(events[0].n).toBe(afterCrash);
    const rerun = await service.importFile(Readable.from([content]), { fileName: 'crash.csv', channel: 'INCIDENT_MANAGEMENT', chunkSize: 50 });
    expect(rerun).toMatchObject({ status: 'DONE', read: 250, inserted: 250 - afterCrash, unchanged: afterCrash, rejected: 0 });
    expect(await count(`external_id LIKE 'C-%'`)).toBe(250);
  });
});

describe.each(backends)('import command on %s', (backend) => {
  it('kill -9 mid-file, then a re-run, gives exact counts', { timeout: 300_000 }, async () => {
    const { spawn, execFileSync } = await import('node:child_process');
    const db = await freshDatabase(backend);
    const env = { ...process.env, MUNICIPALITY: 'rubtsovsk', ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : { DATA_DIR: db.dataDir!, DATABASE_URL: '' }) };
    const n = 12000;
    const streets = ['пр. Ленина', 'ул. Комсомольская', 'ул. Дзержинского', 'ул. Урицкого', 'ул. Красная', 'ул. Октябрьская', 'ул. Калинина', 'ул. Пролетарская'];
    const rows = Array.from({ length: n }, (_, i) =>
      `K-${i};${String(1 + (i % 28)).padStart(2, '0')}.02.2026 ${String(8 + (i % 10)).padStart(2, '0')}:00;ВКонтакте;;Во дворе не убран снег, проход ${i};Житель;Уборка снега;${streets[i % streets.length]}, ${1 + (i % 150)};Новый;;`);
    fs.mkdirSync('test/.cache', { recursive: true });
    const file = `test/.cache/kill-${process.pid}-${backend}.csv`;
    fs.writeFileSync(file, [HEADER, ...rows].join('\n'));
    try {
      // Kill without warning right after the first chunk is committed.
      const child = spawn(process.execPath, ['dist/server/cli/import.js', 'im', file], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('записано')) resolve();
        });
        child.once('exit', () => resolve());
      });
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
      const out = execFileSync(process.execPath, ['dist/server/cli/import.js', 'im', file], { env, encoding: 'utf8' });
      const m = /прочитано (\d+), добавлено (\d+), обновлено (\d+), без изменений (\d+), отклонено (\d+)/.exec(out)!;
      const [read, inserted, updated, unchanged, rejected] = m.slice(1).map(Number);
      expect({ read, updated, rejected }).toEqual({ read: n, updated: 0, rejected: 0 });
      expect(unchanged).toBeGreaterThan(0); // the killed run had committed whole chunks
      expect(unchanged % 1000).toBe(0);
      expect(inserted + unchanged).toBe(n);
      const app = await startApp({ databaseUrl: db.databaseUrl, dataDir: db.dataDir, port: 0, log: () => undefined });
      try {
        const [c] = await app.orm.em.fork().execute(`SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS d FROM appeal WHERE external_id LIKE 'K-%'`);
        expect(c).toEqual({ n, d: n });
      } finally {
        await app.close();
      }
    } finally {
      fs.rmSync(file, { force: true });
      await db.drop();
    }
  });
});
