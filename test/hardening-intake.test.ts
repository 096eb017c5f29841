import fs from 'node:fs';
import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { Role } from '../server/auth/roles.js';
import { markInterruptedBatches } from '../server/intake/pipeline.js';

/** Hostile and awkward import files (issue 16, items 2, 4, 7, 11, 14). */

const IMPORT = `mutation($file: Upload!, $channel: Channel, $mapping: JSONObject, $format: SourceFormat) {
  importAppeals(file: $file, channel: $channel, mapping: $mapping, format: $format) {
    batchId status read inserted rejected flagged error issues { line field severity reason externalId } } }`;
const POS_HEADER = 'Номер;Дата подачи;Категория;Подкатегория;Текст;Адрес;Широта;Долгота;Статус;Срок;Дата ответа;Ответ;Оценка;Заявитель;Телефон;E-mail';
const posRow = (id: string, text = 'Яма на дороге у дома', address = 'пр. Ленина, 85') => `${id};01.02.2026 10:00;Дороги;Ямы;${text};${address};;;Новое;;;;;Иванов Иван;+79130000000;`;

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}


/** A zip whose headers state `declared` as the inflated size of the parts named in `lieAbout` (a bomb that understates them). */
function lyingZip(parts: [string, Buffer][], declared: number, lieAbout: RegExp): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of parts) {
    const packed = zlib.deflateRawSync(data, { level: 9 });
    const nm = Buffer.from(name);
    const size = lieAbout.test(name) ? declared : data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8);
    local.writeUInt32LE(packed.length, 18); local.writeUInt32LE(size, 22); local.writeUInt16LE(nm.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(20, 4); cd.writeUInt16LE(20, 6); cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(packed.length, 20); cd.writeUInt32LE(size, 24); cd.writeUInt16LE(nm.length, 28); cd.writeUInt32LE(offset, 42);
    locals.push(local, nm, packed);
    central.push(cd, nm);
    offset += 30 + nm.length + packed.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(parts.length, 8); end.writeUInt16LE(parts.length, 10);
  end.writeUInt32LE(cdBuf.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBuf, end]);
}

async function workbook(rows: unknown[][]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Лист1');
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

describe.each(backends)('hardened imports on %s', (backend) => {
  let app: TestApp;
  const importFile = (file: { name: string; content: Buffer | string }, variables: Record<string, unknown>) => gqlUpload(app.url, IMPORT, variables, file);
  const posHeaderCells = POS_HEADER.split(';');

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('refuses an XLSX whose shared strings inflate beyond the limit, before reading it, with a clear message', async () => {
    // 3 000 distinct strings of 1 000 characters: ~3 MB of XML, well compressed (a small bomb; the limit is lowered).
    const rows = [posHeaderCells, ...Array.from({ length: 3000 }, (_, i) => [`B-${i}`, '01.02.2026 10:00', 'Дороги', 'Ямы', `${i} ${'яма '.repeat(250)}`, 'пр. Ленина, 85'])];
    const buf = await workbook(rows);
    expect(buf.length).toBeLessThan(1024 * 1024);
    const r = await withEnv({ XLSX_MAX_UNCOMPRESSED_MB: '1' }, () => importFile({ name: 'bomb.xlsx', content: buf }, { channel: 'POS', format: 'xlsx' }));
    const rep = r.data.importAppeals;
    expect(rep.status).toBe('FAILED');
    expect(rep.error).toMatch(/в распакованном виде больше 1 МБ \(XLSX_MAX_UNCOMPRESSED_MB\)/);
    expect(rep.inserted).toBe(0);
    expect(rep.read).toBe(0);
  });

  it('guards the indicator import\'s XLSX like the appeals\' (bytes actually inflated, cell length), not by the zip headers', async () => {
    const IMPORT_IND = 'mutation I($file: Upload!) { importOrgIndicators(file: $file, periodStart: "2026-03-01", periodEnd: "2026-03-31") { read } }';
    // 30 MB of shared strings whose headers say 100 bytes: the old check summed the headers and let ExcelJS inflate it all.
    const strings = Buffer.from(`<sst>${'<si><t>'.concat('а'.repeat(1000), '</t></si>').repeat(15_000)}</sst>`);
    const bomb = lyingZip([['[Content_Types].xml', Buffer.from('<Types/>')], ['xl/sharedStrings.xml', strings]], 100, /sharedStrings/);
    expect(bomb.length).toBeLessThan(200_000);
    const r = await gqlUpload(app.url, IMPORT_IND, {}, { name: 'bomb.xlsx', content: bomb });
    expect(r.errors?.[0].message).toMatch(/часть xl\/sharedStrings\.xml книги XLSX повреждена/);
    // A cell longer than Excel allows is refused before ExcelJS reads the book.
    const long = await workbook([['организация', 'показатель', 'значение'], ['я'.repeat(40_000), 'official_pages_score', 1]]);
    const r2 = await gqlUpload(app.url, IMPORT_IND, {}, { name: 'long.xlsx', content: long });
    expect(r2.errors?.[0].message).toMatch(/ячейка длиннее 32767 символов/);
  });

  it('refuses an XLSX with a cell longer than Excel allows (32 767 characters)', async () => {
    const buf = await workbook([posHeaderCells, ['L-1', '01.02.2026 10:00', 'Дороги', 'Ямы', 'я'.repeat(40_000), 'пр. Ленина, 85']]);
    const rep = (await importFile({ name: 'long.xlsx', content: buf }, { channel: 'POS', format: 'xlsx' })).data.importAppeals;
    expect(rep.status).toBe('FAILED');
    expect(rep.error).toMatch(/ячейка длиннее 32767 символов \(xl\/(sharedStrings|worksheets\/sheet1)\.xml/);
    // A normal workbook still imports.
    const ok = await workbook([posHeaderCells, ['OK-1', '01.02.2026 10:00', 'Дороги', 'Ямы', 'Яма на дороге', 'пр. Ленина, 85']]);
    const rep2 = (await importFile({ name: 'ok.xlsx', content: ok }, { channel: 'POS', format: 'xlsx' })).data.importAppeals;
    expect(rep2).toMatchObject({ status: 'DONE', inserted: 1 });
  });

  it('stores a rejected row\'s oversized external id truncated, and the batch ends DONE with the truth', async () => {
    const longId = 'Z'.repeat(5000);
    const csv = `${POS_HEADER}\n${posRow(longId)}\n${posRow('SHORT-1')}\n`;
    const rep = (await importFile({ name: 'longid.csv', content: csv }, { channel: 'POS' })).data.importAppeals;
    expect(rep).toMatchObject({ status: 'DONE', read: 2, inserted: 1, rejected: 1 });
    expect(rep.error).toBeNull();
    const [row] = await app.sql(`SELECT length(external_id) AS n, reason FROM import_issue WHERE batch_id = ? AND field = 'externalId'`, [rep.batchId]);
    expect(row.n).toBeLessThanOrEqual(200);
    expect(row.reason).toMatch(/длиннее 200/);
    expect(rep.issues[0].externalId.length).toBeLessThanOrEqual(200);
  });

  it('stores at most IMPORT_MAX_STORED_ISSUES issue rows per batch, counting all by reason', async () => {
    const bad = Array.from({ length: 300 }, (_, i) => posRow(`BAD-${i}`, '')).join('\n');
    const rep = (await withEnv({ IMPORT_MAX_STORED_ISSUES: '50', INTAKE_CHUNK_SIZE: '64' }, () => importFile({ name: 'bad.csv', content: `${POS_HEADER}\n${bad}\n` }, { channel: 'POS' }))).data.importAppeals;
    expect(rep).toMatchObject({ status: 'DONE', read: 300, inserted: 0, rejected: 300 });
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM import_issue WHERE batch_id = ?', [rep.batchId]);
    expect(n).toBe(50);
    const b = await app.gql(`query($id: ID!) { importBatch(id: $id) { issuesTotal issueCounts rejected } }`, { id: rep.batchId });
    // Every row: an empty text (ERROR) and an unknown theme (WARNING); all 600 issues counted, 50 stored.
    expect(b.data.importBatch.issuesTotal).toBe(600);
    expect(b.data.importBatch.issueCounts['ERROR text: пустой текст обращения']).toBe(300);
    expect(Object.values(b.data.importBatch.issueCounts as Record<string, number>).reduce((x, y) => x + y, 0)).toBe(600);
  });

  it('reads a Windows-1251 CSV (what Russian Excel writes) as Cyrillic, and refuses an unknown encoding clearly', async () => {
    const csv = `${POS_HEADER}\n${posRow('CP-1', 'Не вывозят мусор во дворе, ёлки стоят')}\n`;
    const rep = (await importFile({ name: 'cp1251.csv', content: iconv.encode(csv, 'win1251') }, { channel: 'POS' })).data.importAppeals;
    expect(rep).toMatchObject({ status: 'DONE', inserted: 1, rejected: 0 });
    const [a] = await app.sql(`SELECT text FROM appeal WHERE external_id = 'CP-1'`);
    expect(a.text).toBe('Не вывозят мусор во дворе, ёлки стоят');
    // A Latin-header mapping: the Cyrillic values arrive intact, never «�».
    const mapping = { channel: 'DIRECT', format: 'csv', fields: { externalId: 'id', receivedAt: { column: 'date', format: 'dd.MM.yyyy' }, text: 'text' } };
    const rep2 = (await importFile({ name: 'latin.csv', content: iconv.encode('id;date;text\nLT-1;01.02.2026;Сломана скамейка в сквере\n', 'win1251') }, { mapping })).data.importAppeals;
    expect(rep2).toMatchObject({ status: 'DONE', inserted: 1 });
    const [b] = await app.sql(`SELECT text FROM appeal WHERE external_id = 'LT-1'`);
    expect(b.text).toBe('Сломана скамейка в сквере');
    // Bytes that are neither UTF-8 nor Cyrillic Windows-1251: refused, nothing stored.
    const junk = Buffer.concat([Buffer.from('id;date;text\nJ-1;01.02.2026;'), Buffer.from(Array.from({ length: 40 }, (_, i) => 0x80 + (i % 0x20))), Buffer.from('\n')]);
    const rep3 = (await importFile({ name: 'junk.csv', content: junk }, { mapping })).data.importAppeals;
    expect(rep3.status).toBe('FAILED');
    expect(rep3.error).toMatch(/кодировка файла не распознана/);
  });

  it('reports a Polygon in an appeals GeoJSON import instead of storing it silently without a point', async () => {
    const mapping = JSON.parse(fs.readFileSync('db/samples/open-data.mapping.json', 'utf8'));
    const fc = { type: 'FeatureCollection', features: [
      { type: 'Feature', properties: { number: 'PG-1', created: '2026-05-01', description: 'Свалка на пустыре', rubric: 'eco.dumps', state: 'open' },
        geometry: { type: 'Polygon', coordinates: [[[81.2, 51.5], [81.21, 51.5], [81.21, 51.51], [81.2, 51.5]]] } },
    ] };
    const rep = (await importFile({ name: 'poly.geojson', content: JSON.stringify(fc) }, { mapping })).data.importAppeals;
    expect(rep.issues).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'coordinates', reason: expect.stringMatching(/геометрия Polygon не поддерживается/) })]));
  });

  it('scopes import batches and their issues like appeals, and masks personal data in issues', async () => {
    const csv = `${POS_HEADER}\n${posRow('SC-1', 'Яма на дороге у дома', 'пр. Ленина, 85')}\n${posRow('SC-2', '', 'ул. Тайная, 1 кв. 5')}\n`;
    const rep = (await importFile({ name: 'scope.csv', content: csv }, { channel: 'POS' })).data.importAppeals;
    const [{ org }] = await app.sql(`SELECT o.code AS org FROM appeal a JOIN organization o ON o.id = a.organization_id WHERE a.external_id = 'SC-1'`);
    const Q = `query($id: ID!) { importBatch(id: $id) { id issues { externalId reason } } importBatches(first: 200) { id } }`;
    // An officer of another organisation: no batch, no issues (the rejected row SC-2 belongs to nobody's scope).
    const other = await app.signInNew({ login: 'officer-other', role: Role.ORG_OFFICER, organization: org === 'uo' ? 'culture' : 'uo' });
    const seen = await other.gql(Q, { id: rep.batchId });
    expect(seen.errors).toBeUndefined();
    expect(seen.data.importBatch).toBeNull();
    expect(seen.data.importBatches.map((b: { id: string }) => b.id)).not.toContain(String(rep.batchId));
    // The analyst sees the batch without personal data: no external ids, quoted values masked.
    const analyst = await app.gqlAs(Role.ANALYST, Q, { id: rep.batchId });
    expect(analyst.data.importBatch.issues.length).toBeGreaterThan(0);
    for (const i of analyst.data.importBatch.issues) {
      expect(i.externalId).toBeNull();
      expect(i.reason).not.toMatch(/Тайная/);
    }
    // The curator sees everything.
    const curator = await app.gql(Q, { id: rep.batchId });
    expect(curator.data.importBatch.issues.map((i: { externalId: string }) => i.externalId)).toContain('SC-2');
  });

  it('marks batches left RUNNING by a crash as INTERRUPTED at start-up, with what was stored; a live one stays', async () => {
    const [{ id: mid }] = await app.sql('SELECT id FROM municipality LIMIT 1');
    const [dead] = await app.sql(`INSERT INTO import_batch (municipality_id, channel, source_name, format, mapping, actor, rows_read, inserted)
                                   VALUES (?, 'POS', 'crashed.csv', 'csv', '{}'::jsonb, 'test', 2000, 1000) RETURNING id`, [mid]);
    let holder: pg.Client | undefined;
    let live: { id: number } | undefined;
    if (backend === 'postgis') {
      // An import running in another process holds its batch's lock: it must stay RUNNING.
      [live] = await app.sql(`INSERT INTO import_batch (municipality_id, channel, source_name, format, mapping, actor)
                               VALUES (?, 'POS', 'running.csv', 'csv', '{}'::jsonb, 'test') RETURNING id`, [mid]);
      holder = new pg.Client({ connectionString: app.databaseUrl });
      await holder.connect();
      await holder.query('SELECT pg_advisory_lock(736251, $1)', [live!.id]);
    }
    try {
      expect(await markInterruptedBatches(app.orm.em.fork())).toBe(1);
    } finally {
      await holder?.end();
    }
    const [b] = await app.sql('SELECT status, error, finished_at FROM import_batch WHERE id = ?', [dead.id]);
    expect(b.status).toBe('INTERRUPTED');
    expect(b.error).toMatch(/1000 новых.*2000 прочитанных/);
    expect(b.finished_at).not.toBeNull();
    if (live) expect((await app.sql('SELECT status FROM import_batch WHERE id = ?', [live.id]))[0].status).toBe('RUNNING');
    const g = await app.gql(`query($id: ID!) { importBatch(id: $id) { status } }`, { id: dead.id });
    expect(g.data.importBatch.status).toBe('INTERRUPTED');
  });
});
