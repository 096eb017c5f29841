import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../server/app.js';
import { freshDatabase } from './helpers/backends.js';
import { parseMapping } from '../server/intake/mapping.js';
import { findDistrict, normalizeRecord, type IntakeRefs } from '../server/intake/normalize.js';
import { districtInAddress } from '../server/intake/address.js';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';

const DISTRICTS = [
  { id: 1, code: 'centralny', name: 'Центральный' }, { id: 2, code: 'zapadny', name: 'Западный' }, { id: 5, code: 'cheryomushki', name: 'Черёмушки' },
  { id: 6, code: 'altaysky', name: 'Алтайский' }, { id: 7, code: 'yuzhny', name: 'Южный' }, { id: 8, code: 'domiki', name: 'Домики' },
  { id: 9, code: 'sad-gorod', name: 'Сад-город' },
];
const refs: IntakeRefs = {
  timezone: 'America/Los_Angeles', extent: { minLon: 81, minLat: 51, maxLon: 82, maxLat: 52 },
  themes: new Map([['roads.potholes', 10]]), organizations: new Map([['org', 20]]), districts: DISTRICTS,
};

/** A MyLA311-like mapping: the channel comes from the source column through a value map. */
const MAPPING = {
  channel: 'DIRECT',
  fields: {
    externalId: 'SRNumber',
    receivedAt: { column: 'Created Date', format: 'M/d/yy H:mm' },
    text: { columns: ['RequestType', 'Details'] },
    channel: { column: 'RequestSource', map: { 'Mobile App': 'соцсети', Call: 'DIRECT', 'Self Service': 'POS', Email: 'messenger' } },
    district: 'CD',
    lat: 'Latitude', lon: 'Longitude',
    theme: 'Theme', organization: 'Agency', status: 'Status',
    dueAt: { column: 'Due', format: 'M/d/yy H:mm' }, answeredAt: { column: 'Closed', format: 'M/d/yy H:mm' },
    satisfaction: 'Score',
  },
};

const GOOD: Record<string, string> = {
  SRNumber: '1-100', 'Created Date': '3/8/20 1:05', RequestType: 'Graffiti', Details: 'On the wall', RequestSource: 'Mobile App',
  CD: 'Западный', Latitude: '', Longitude: '', Theme: 'roads.potholes', Agency: 'org', Status: 'new', Due: '', Closed: '', Score: '',
};

describe('every field error names the mapping path, the column and the row', () => {
  const m = parseMapping(MAPPING);
  // [row changes, field, severity, the reason's beginning]
  const table: [Record<string, string>, string, 'ERROR' | 'WARNING', string][] = [
    [{ 'Created Date': '13/45/20 1:05' }, 'receivedAt', 'ERROR', 'mapping.fields.receivedAt (столбец "Created Date"): дата не распознана'],
    [{ 'Created Date': '' }, 'receivedAt', 'ERROR', 'mapping.fields.receivedAt (столбец "Created Date"): пустая дата'],
    [{ 'Created Date': '3/8/99 1:05' }, 'receivedAt', 'ERROR', 'mapping.fields.receivedAt (столбец "Created Date"): дата поступления'],
    [{ RequestType: '', Details: '' }, 'text', 'ERROR', 'mapping.fields.text (столбцы "RequestType", "Details"): пустой текст'],
    [{ SRNumber: '' }, 'externalId', 'ERROR', 'mapping.fields.externalId (столбец "SRNumber"): нет идентификатора'],
    [{ SRNumber: 'x'.repeat(201) }, 'externalId', 'ERROR', 'mapping.fields.externalId (столбец "SRNumber"): идентификатор длиннее'],
    [{ RequestSource: 'Carrier Pigeon' }, 'channel', 'ERROR', 'mapping.fields.channel (столбец "RequestSource"): неизвестный канал «Carrier Pigeon»'],
    [{ CD: 'Марсианский' }, 'district', 'WARNING', 'mapping.fields.district (столбец "CD"): неизвестный район «Марсианский»'],
    [{ Theme: 'nope' }, 'theme', 'WARNING', 'mapping.fields.theme (столбец "Theme"): неизвестная тема'],
    [{ Agency: 'nope' }, 'organization', 'WARNING', 'mapping.fields.organization (столбец "Agency"): неизвестная организация'],
    [{ Status: 'nope' }, 'status', 'WARNING', 'mapping.fields.status (столбец "Status"): неизвестный статус'],
    [{ Score: 'много' }, 'satisfaction', 'WARNING', 'mapping.fields.satisfaction (столбец "Score"): оценка не распознана'],
    [{ Score: '9' }, 'satisfaction', 'WARNING', 'mapping.fields.satisfaction (столбец "Score"): оценка 9 вне шкалы'],
    [{ Due: 'завтра' }, 'dueAt', 'WARNING', 'mapping.fields.dueAt (столбец "Due"): дата не распознана'],
    [{ Closed: '2/30/20 1:00' }, 'answeredAt', 'WARNING', 'mapping.fields.answeredAt (столбец "Closed"): дата не распознана'],
    [{ Latitude: '51,5', Longitude: '' }, 'coordinates', 'WARNING', 'mapping.fields.lat/lon (столбцы "Latitude", "Longitude"): координаты не распознаны'],
    [{ Latitude: '95', Longitude: '300' }, 'coordinates', 'WARNING', 'mapping.fields.lat/lon (столбцы "Latitude", "Longitude"): координаты вне'],
  ];
  it.each(table.map((t, i) => [i + 2, ...t] as const))('row %i: %o → %s', (line, change, field, severity, begins) => {
    const row = { ...GOOD, ...change };
    const r = normalizeRecord({ line, get: (c) => row[c] }, m, refs);
    const found = r.issues.filter((i) => i.field === field);
    expect(found, JSON.stringify(r.issues)).toHaveLength(1);
    expect(found[0]).toMatchObject({ line, severity });
    expect(found[0].reason.startsWith(begins), found[0].reason).toBe(true);
    expect(found[0].at).toBe(begins.slice(0, begins.indexOf('):') + 1));
    if (severity === 'ERROR') expect(r.candidate).toBeUndefined();
    else expect(r.candidate).toBeDefined();
  });

  it('a coordinates column and a GeoJSON geometry are named too', () => {
    const m2 = parseMapping({ fields: { externalId: 'id', receivedAt: 'd', text: 't' }, coordinates: { column: 'Координаты', order: 'latlon' } });
    const row: Record<string, string> = { id: '1', d: '01.03.2026', t: 'яма', 'Координаты': '51.5' };
    const r = normalizeRecord({ line: 9, get: (c) => row[c] }, m2, refs);
    expect(r.issues[0].reason).toMatch(/^mapping\.coordinates \(столбец "Координаты"\): координаты не распознаны/);
    const m3 = parseMapping({ fields: { externalId: 'id', receivedAt: 'd', text: 't' } });
    const r3 = normalizeRecord({ line: 4, get: (c) => row[c], geometryType: 'Polygon' }, m3, refs);
    expect(r3.issues[0]).toMatchObject({ line: 4, field: 'coordinates' });
    expect(r3.issues[0].reason).toMatch(/^геометрия записи \(GeoJSON\): координаты не распознаны: геометрия Polygon/);
  });
});

describe('channel from a column with a value map', () => {
  it('maps each row to its channel; an empty cell takes the file’s channel', () => {
    const m = parseMapping(MAPPING);
    const get = (over: Record<string, string>) => normalizeRecord({ line: 2, get: (c) => ({ ...GOOD, ...over })[c] }, m, refs).candidate;
    expect(get({}).channel).toBe('SOCIAL');
    expect(get({ RequestSource: 'Call' })!.channel).toBe('DIRECT');
    expect(get({ RequestSource: 'Self Service' })!.channel).toBe('POS');
    expect(get({ RequestSource: '' })!.channel).toBeUndefined();          // the file's channel (DIRECT) at insert
    // A value that is itself a channel alias needs no map entry, in any case.
    expect(get({ RequestSource: 'ПОС' })!.channel).toBe('POS');
  });

  it('refuses a value map or default naming an unknown channel, by its mapping path', () => {
    const bad = { ...MAPPING, fields: { ...MAPPING.fields, channel: { column: 'RequestSource', map: { 'Mobile App': 'APP' } } } };
    expect(() => parseMapping(bad)).toThrow(/mapping\.fields\.channel\.map\.Mobile App: неизвестный канал «APP»/);
    const bad2 = { ...MAPPING, fields: { ...MAPPING.fields, channel: { column: 'RequestSource', default: 'голубиная почта' } } };
    expect(() => parseMapping(bad2)).toThrow(/mapping\.fields\.channel\.default/);
  });
});

describe('an address or a column that names only a district', () => {
  it.each([
    ['в Западном микрорайоне', 2], ['Западный микрорайон', 2], ['мкр. Западный', 2], ['Западный', 2], ['западный р-н', 2],
    ['г. Рубцовск, микрорайон Черёмушки', 5], ['в Черемушках', 5], ['пос. Домики', 8], ['в посёлке Сад-город', 9], ['Южный район', 7],
    ['Алтайский край, г. Рубцовск, в Центральном районе', 1], ['в Алтайском', 6],
  ])('%s → district %i', (text, id) => {
    expect(districtInAddress(text, DISTRICTS)).toBe(id);
  });
  it.each([
    'ул. Западная, 5', 'Западный, 12', 'ул. Ленина', 'Алтайский край, г. Рубцовск', 'в районе рынка', 'Домостроительная', 'дом', '',
  ])('%s → none', (text) => {
    expect(districtInAddress(text, DISTRICTS)).toBeNull();
  });
  it('a district column accepts codes and names in any case and form', () => {
    expect(findDistrict(refs, 'zapadny')).toBe(2);
    expect(findDistrict(refs, 'ЗАПАДНЫЙ')).toBe(2);
    expect(findDistrict(refs, 'Черемушки')).toBe(5);
    expect(findDistrict(refs, 'Марсианский')).toBeUndefined();
  });
});

const IMPORT = `mutation($file: Upload!, $mapping: JSONObject) { importAppeals(file: $file, mapping: $mapping) {
  batchId status read inserted updated unchanged rejected error issues { line field severity reason } } }`;

describe.each(backends)('mapped import with a channel column and districts on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 50);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('stores each row under its own channel, rejects an unmapped one by path and row, and records DISTRICT precision', async () => {
    const mapping = {
      channel: 'DIRECT', csv: { delimiter: ',' },
      fields: {
        externalId: 'SRNumber', receivedAt: { column: 'Created Date', format: 'M/d/yy H:mm' },
        text: { columns: ['RequestType', 'Details'] }, address: 'Address', district: 'CD',
        channel: { column: 'RequestSource', map: { 'Mobile App': 'SOCIAL', Call: 'DIRECT', Email: 'MESSENGER' } },
      },
    };
    const csv = [
      'SRNumber,Created Date,RequestType,Details,Address,CD,RequestSource',
      'LA-1,3/8/26 1:05,Яма на дороге,Глубокая яма,,,Mobile App',                                   // 2 SOCIAL
      'LA-1,3/8/26 1:05,Яма на дороге,Та же заявка по телефону,,,Call',                            // 3 DIRECT: another appeal
      'LA-2,3/8/26 2:00,Не горят фонари,,в Западном микрорайоне,,',                                 // 4 file channel; district from the address
      'LA-3,3/8/26 3:00,Свалка мусора,,,Черёмушки,Email',                                           // 5 district from the column
      'LA-4,3/8/26 4:00,Сломана скамейка,,,,Carrier Pigeon',                                          // 6 unknown channel: rejected
      'LA-5,3/8/26 5:00,Нет воды,,ул. Несуществующая 5,Южный,Call',                                  // 7 address for review, district known
      'LA-6,3/8/26 6:00,Яма,,,Марсианский,Call',                                                     // 8 unknown district: warning
    ].join('\n');
    const r = await gqlUpload(app.url, IMPORT, { mapping }, { name: 'la311.csv', content: csv });
    expect(r.errors).toBeUndefined();
    const rep = r.data.importAppeals;
    expect(rep).toMatchObject({ status: 'DONE', read: 7, inserted: 6, rejected: 1 });
    const pigeon = rep.issues.find((i: any) => i.line === 6);
    expect(pigeon).toMatchObject({ field: 'channel', severity: 'ERROR' });
    expect(pigeon.reason).toMatch(/^mapping\.fields\.channel \(столбец "RequestSource"\): неизвестный канал «Carrier Pigeon»/);
    expect(rep.issues.find((i: any) => i.line === 8).reason).toMatch(/^mapping\.fields\.district \(столбец "CD"\): неизвестный район/);
    expect(rep.issues.find((i: any) => i.line === 7 && i.field === 'address').reason).toMatch(/^mapping\.fields\.address \(столбец "Address"\): адрес/);

    const rows = await app.sql(`SELECT a.external_id, a.channel, a.place_status, a.place_precision, a.point IS NULL AS no_point, d.code AS district
      FROM appeal a LEFT JOIN district d ON d.id = a.district_id WHERE a.external_id LIKE 'LA-%' ORDER BY a.external_id, a.channel`);
    expect(rows).toEqual([
      { external_id: 'LA-1', channel: 'DIRECT', place_status: 'NONE', place_precision: 'NONE', no_point: true, district: null },
      { external_id: 'LA-1', channel: 'SOCIAL', place_status: 'NONE', place_precision: 'NONE', no_point: true, district: null },
      { external_id: 'LA-2', channel: 'DIRECT', place_status: 'GEOCODED', place_precision: 'DISTRICT', no_point: true, district: 'zapadny' },
      { external_id: 'LA-3', channel: 'MESSENGER', place_status: 'NONE', place_precision: 'DISTRICT', no_point: true, district: 'cheryomushki' },
      { external_id: 'LA-5', channel: 'DIRECT', place_status: 'UNRESOLVED', place_precision: 'DISTRICT', no_point: true, district: 'yuzhny' },
      { external_id: 'LA-6', channel: 'DIRECT', place_status: 'NONE', place_precision: 'NONE', no_point: true, district: null },
    ]);
    // The same file again: every row is found under its own channel (nothing new, nothing changed).
    const again = (await gqlUpload(app.url, IMPORT, { mapping }, { name: 'la311.csv', content: csv })).data.importAppeals;
    expect(again).toMatchObject({ status: 'DONE', inserted: 0, updated: 0, unchanged: 6, rejected: 1 });
    // The API shows the precision and the district.
    const q = await app.gql('{ appeals(filter: { text: "фонари" }, first: 10) { edges { node { externalId channel placePrecision district { name } } } } }');
    expect(q.errors).toBeUndefined();
    expect(q.data.appeals.edges.map((e: any) => e.node).find((n: any) => n.externalId === 'LA-2'))
      .toMatchObject({ channel: 'DIRECT', placePrecision: 'DISTRICT', district: { name: 'Западный' } });
    // Only the street address the register lacks waits for a person; the district-only address does not.
    const review = await app.gql('{ appeals(filter: { placeStatuses: ["UNRESOLVED"] }, first: 100) { edges { node { externalId } } } }');
    expect(review.data.appeals.edges.map((e: any) => e.node.externalId).filter((x: string) => x.startsWith('LA-'))).toEqual(['LA-5']);
  });

  it('a person who places an appeal from the review queue makes its precision HOUSE', async () => {
    const [a] = await app.sql(`SELECT id FROM appeal WHERE external_id = 'LA-5'`);
    const r = await app.gql('mutation($id: ID!) { resolveAppealPlace(id: $id, lon: 81.21, lat: 51.515) { id placeStatus placePrecision } }', { id: String(a.id) });
    expect(r.errors).toBeUndefined();
    expect(r.data.resolveAppealPlace).toMatchObject({ placeStatus: 'MANUAL', placePrecision: 'HOUSE' });
  });
});

describe.each(backends)('import command with a mapping on %s', (backend) => {
  it('exits 1 when nothing was stored, says why by mapping path and row, and the batch is marked so', { timeout: 300_000 }, async () => {
    const { spawnSync } = await import('node:child_process');
    const db = await freshDatabase(backend);
    const env = { ...process.env, MUNICIPALITY: 'rubtsovsk', ...(db.databaseUrl ? { DATABASE_URL: db.databaseUrl } : { DATA_DIR: db.dataDir!, DATABASE_URL: '' }) };
    fs.mkdirSync('test/.cache', { recursive: true });
    const base = `test/.cache/la-${process.pid}-${backend}`;
    fs.writeFileSync(`${base}.json`, JSON.stringify({
      csv: { delimiter: ',' },
      fields: { externalId: 'SRNumber', receivedAt: { column: 'CreatedDate', format: 'M/d/yy H:mm' }, text: 'Details',
        channel: { column: 'Source', map: { 'Mobile App': 'SOCIAL', Call: 'DIRECT' } } },
    }));
    fs.writeFileSync(`${base}.csv`, 'SRNumber,CreatedDate,Details,Source\nX-1,2020-03-08 01:05,Graffiti,Call\nX-2,2020-03-08 02:05,Pothole,Mobile App\n');
    try {
      // The channel argument in lower case with --mapping (upper case, Russian alias: the same).
      const r = spawnSync(process.execPath, ['dist/server/cli/import.js', 'social', `${base}.csv`, '--mapping', `${base}.json`], { env, encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain('ничего не сохранено: отклонено 2 из 2; чаще всего — mapping.fields.receivedAt (столбец "CreatedDate"): дата не распознана');
      expect(r.stdout).toContain('строка 2 (X-1): отклонена — mapping.fields.receivedAt (столбец "CreatedDate"): дата не распознана: «2020-03-08 01:05» не соответствует формату M/d/yy H:mm');
      const app = await startApp({ databaseUrl: db.databaseUrl, dataDir: db.dataDir, port: 0, log: () => undefined });
      try {
        const [b] = await app.orm.em.fork().execute(`SELECT status, channel, inserted, rejected, error FROM import_batch ORDER BY id DESC LIMIT 1`);
        expect(b).toMatchObject({ status: 'DONE', channel: 'SOCIAL', inserted: 0, rejected: 2 });
        expect(b.error).toMatch(/^ничего не сохранено: отклонено 2 из 2/);
      } finally {
        await app.close();
      }
    } finally {
      fs.rmSync(`${base}.csv`, { force: true });
      fs.rmSync(`${base}.json`, { force: true });
      await db.drop();
    }
  });
});
