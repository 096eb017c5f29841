import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ExcelJS from 'exceljs';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { bearer, upload } from './hostile-support.js';
import { InputError } from '../server/errors.js';
import { parseHeatCsv, parseHeatGeoJson, importHeatLayer } from '../server/heatmap/importer.js';
import { HeatLayerFormat } from '../server/heatmap/entities.js';
import { parseDistrictCollection, importDistricts } from '../server/reference/districts.js';
import { builtinMapping, parseMapping, type Mapping } from '../server/intake/mapping.js';
import { normalizeRecord, type IntakeRefs } from '../server/intake/normalize.js';
import { readSource } from '../server/intake/sources.js';
import { IntakeService } from '../server/intake/service.js';
import { parseFilter } from '../server/appeals/filter.js';

/**
 * Property-based and fuzz tests of every importer: appeals (CSV, XLSX, JSON lines, GeoJSON through
 * mappings), the ЦУР heat layer and the district GeoJSON. Inputs are real sample files mutated at
 * random (cut, spliced, with quotes, separators, NUL bytes, lone surrogates, huge fields, BOMs,
 * swapped coordinates) and plain garbage. Each importer must answer with a report or a clear
 * InputError, never anything else; and the database must agree with the report to the row: a
 * rejected import writes nothing.
 */

const root = path.resolve(import.meta.dirname, '..');
const sample = (f: string) => fs.readFileSync(path.join(root, 'db/samples', f), 'utf8');
const CENTER: [number, number] = [81.21, 51.515];

const nasty = fc.constantFrom(
  '\u0000', '\uD800', '\uDFFF', '"', '""', ';', ',', '\t', '\n', '\r\n', '\r', '\uFEFF', '\\', '\u00a0', '\u202e', '{', '}', '[', ']', ':',
  "'; DROP TABLE appeal; --", '<img src=x onerror=alert(1)>', 'NaN', 'Infinity', '-0', '1e308', '-1e308', '9'.repeat(40), '0x1F',
  '31.02.2026 25:61', '2026-13-45T99:99:99Z', '0000-00-00', '51.5;81.2', '81.2, 51.5', 'x'.repeat(25_000), '😀', 'ё', '\u0301',
);

/** A string mutated at random: a slice removed, garbage or one of the nasty fragments spliced in. */
function mutated(base: string): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat({ max: 200 }), fc.oneof(nasty, fc.string({ maxLength: 30 }), fc.constant('')));
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = base;
    for (const [at, cut, insert] of edits) {
      const i = s.length ? at % s.length : 0;
      s = s.slice(0, i) + insert + s.slice(i + cut);
    }
    return s;
  });
}

function expectOnlyInputError(e: unknown) {
  if (!(e instanceof InputError)) throw new Error(`expected an InputError, got ${(e as Error)?.stack ?? String(e)}`);
  expect(e.field).toEqual(expect.any(String));
  expect(e.message.length).toBeGreaterThan(e.field.length + 2);
}

describe('importers without a database (property-based)', () => {
  it('heat CSV: a report or an InputError; accepted rows are valid, rejections name line and field', () => {
    fc.assert(fc.property(fc.oneof(mutated(sample('cur-heat.csv')), fc.string({ maxLength: 300 })), (content) => {
      const rejected: { line: number; field: string; reason: string }[] = [];
      try {
        const { rows, read } = parseHeatCsv(content, CENTER, (r) => rejected.push(r));
        expect(rows.length + rejected.length).toBe(read);
        for (const r of rows) {
          expect(Number.isFinite(r.lon) && Number.isFinite(r.lat) && Number.isFinite(r.weight) && r.weight >= 0).toBe(true);
          expect(Math.abs(r.lat - CENTER[1])).toBeLessThan(3);
        }
        for (const r of rejected) {
          expect(r.line).toBeGreaterThanOrEqual(1);
          expect(r.field).toMatch(/^rows\[\d+\]/);
          expect(r.reason.length).toBeGreaterThan(3);
        }
      } catch (e) {
        expectOnlyInputError(e);
      }
    }), { numRuns: 400, seed: 1 });
  });

  it('heat GeoJSON: a report or an InputError', () => {
    fc.assert(fc.property(fc.oneof(mutated(sample('cur-heat.geojson')), fc.json(), fc.string({ maxLength: 200 })), (content) => {
      try {
        const rejected: unknown[] = [];
        const { rows, read } = parseHeatGeoJson(content, CENTER, (r) => rejected.push(r));
        expect(rows.length + rejected.length).toBe(read);
      } catch (e) {
        expectOnlyInputError(e);
      }
    }), { numRuns: 400, seed: 2 });
  });

  const districtsText = fs.readFileSync(path.join(root, 'db/reference/rubtsovsk/districts.geojson'), 'utf8');
  it('district GeoJSON: parsed districts or an InputError naming the feature and field', () => {
    fc.assert(fc.property(fc.oneof(mutated(districtsText), fc.json()), (text) => {
      let input: unknown;
      try {
        input = JSON.parse(text);
      } catch {
        return; // not JSON at all: the GraphQL layer refuses it before us
      }
      try {
        const ds = parseDistrictCollection(input, CENTER);
        for (const d of ds) expect(d.code && d.name && d.geometry.type === 'MultiPolygon').toBeTruthy();
      } catch (e) {
        expectOnlyInputError(e);
      }
    }), { numRuns: 300, seed: 3 });
  });

  it('mappings: a mapping or an InputError', () => {
    const base = sample('open-data.mapping.json');
    fc.assert(fc.property(fc.oneof(mutated(base), fc.json()), (text) => {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        return;
      }
      try {
        const m = parseMapping(raw);
        expect(m.fields.externalId && m.fields.receivedAt && m.fields.text).toBeTruthy();
      } catch (e) {
        expectOnlyInputError(e);
      }
    }), { numRuns: 400, seed: 4 });
  });

  it('a record of any shape is normalised into a candidate or rejected with issues, never thrown', async () => {
    const refs: IntakeRefs = { timezone: 'Asia/Barnaul', extent: { minLon: 81.0, minLat: 51.4, maxLon: 81.4, maxLat: 51.7 }, themes: new Map([['roads', 1]]), organizations: new Map([['uzhkh', 2]]) };
    const mappings = ['pos', 'im', 'social', 'messenger', 'direct', 'public'].map((c) => builtinMapping(c));
    const value = fc.oneof(fc.string(), nasty, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: false }), fc.object());
    await fc.assert(fc.asyncProperty(fc.nat(mappings.length - 1), fc.dictionary(fc.string(), value), async (mi, obj) => {
      const m = mappings[mi];
      // Every mapped column gets a random value.
      const cells: Record<string, unknown> = { ...obj };
      for (const spec of Object.values(m.fields)) if (spec && Math.random() < 0.8) cells[spec.column] = obj[spec.column] ?? Object.values(obj)[0];
      const { candidate, issues } = normalizeRecord({ line: 7, get: (c) => cells[c] }, m, refs);
      if (candidate) {
        expect(candidate.externalId.length).toBeGreaterThan(0);
        expect(Number.isNaN(candidate.receivedAt.getTime())).toBe(false);
        expect(issues.every((i) => i.severity === 'WARNING')).toBe(true);
      } else expect(issues.some((i) => i.severity === 'ERROR')).toBe(true);
    }), { numRuns: 500, seed: 5 });
  });

  it('sources stream records or unreadable markers from any bytes, and never hang or throw', async () => {
    const mapping: Mapping = parseMapping({ format: 'csv', channel: 'POS', fields: { externalId: 'Номер', receivedAt: 'Дата подачи', text: 'Текст' } });
    const formats = ['csv', 'jsonl', 'geojson', 'xlsx'] as const;
    await fc.assert(fc.asyncProperty(fc.constantFrom(...formats), fc.oneof(mutated(sample('pos.csv')), mutated(sample('social.jsonl')), mutated(sample('open-data.geojson')), fc.string()), async (format, text) => {
      let n = 0;
      try {
        for await (const item of readSource(Readable.from([Buffer.from(text)]), format, mapping)) {
          n++;
          expect(item.line).toBeGreaterThanOrEqual(0);
        }
      } catch (e) {
        // A source that is not of its format at all ends the import: the pipeline reports it as FAILED.
        expect((e as Error).message.length).toBeGreaterThan(0);
      }
      expect(n).toBeGreaterThanOrEqual(0);
    }), { numRuns: 200, seed: 6 });
  });

  it('filters: a parsed filter or an InputError', () => {
    fc.assert(fc.property(fc.object({ maxDepth: 2 }), (raw) => {
      try {
        parseFilter(raw as never, 1);
      } catch (e) {
        // Inputs of the wrong shape are refused by GraphQL's types before parseFilter; what reaches it typed is either fine or an InputError.
        if (!(e instanceof InputError) && !(e instanceof TypeError)) throw e;
      }
    }), { numRuns: 300, seed: 7 });
  });
});

/** Row counts of everything an import can write. */
async function tableCounts(app: TestApp) {
  return (await app.sql(`SELECT (SELECT count(*) FROM appeal)::int AS appeal, (SELECT count(*) FROM appeal_event)::int AS appeal_event,
    (SELECT count(*) FROM appeal_author)::int AS appeal_author, (SELECT count(*) FROM import_batch)::int AS import_batch,
    (SELECT count(*) FROM heat_layer)::int AS heat_layer, (SELECT count(*) FROM heat_cell)::int AS heat_cell,
    (SELECT md5(coalesce(string_agg(id || code || name || coalesce(population, -1) || md5(ST_AsBinary(geom)::text), ',' ORDER BY id), '')) FROM district) AS districts,
    (SELECT md5(coalesce(string_agg(id || ':' || coalesce(district_id, 0), ',' ORDER BY id), '')) FROM appeal) AS appeal_districts`))[0];
}

async function xlsxOf(rows: unknown[][]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Лист1');
  for (const r of rows) ws.addRow(r);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

describe.each(backends)('importers against the database on %s (fuzz)', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 50);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('appeal imports in every format: the report matches the database row for row', { timeout: 600_000 }, async () => {
    const pos = sample('pos.csv');
    const posHeader = pos.split('\n')[0].split(';');
    const inputs = fc.oneof(
      fc.record({ kind: fc.constant('csv' as const), text: mutated(pos) }),
      fc.record({ kind: fc.constant('jsonl' as const), text: mutated(sample('social.jsonl')) }),
      fc.record({ kind: fc.constant('geojson' as const), text: mutated(sample('open-data.geojson')) }),
      fc.record({ kind: fc.constant('xlsx' as const), rows: fc.array(fc.array(fc.oneof(fc.string(), nasty, fc.double(), fc.integer(), fc.date(), fc.constant(null)), { maxLength: posHeader.length }), { maxLength: 8 }) }),
      fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 2000 }), format: fc.constantFrom('csv', 'xlsx', 'jsonl', 'geojson') }),
    );
    let run = 0;
    const seen = { inserted: 0, rejected: 0, refused: 0, failed: 0 };
    await fc.assert(fc.asyncProperty(inputs, async (input) => {
      run++;
      const before = await tableCounts(app);
      const svc = new IntakeService(app.orm.em.fork(), app.municipalityId, 'fuzz');
      let content: Buffer;
      let opts: Parameters<IntakeService['importFile']>[1];
      if (input.kind === 'csv') [content, opts] = [Buffer.from(input.text), { fileName: `f${run}.csv`, channel: 'pos' }];
      else if (input.kind === 'jsonl') [content, opts] = [Buffer.from(input.text), { fileName: `f${run}.jsonl`, channel: 'social' }];
      else if (input.kind === 'geojson') [content, opts] = [Buffer.from(input.text), { fileName: `f${run}.geojson`, mapping: JSON.parse(sample('open-data.mapping.json')) }];
      else if (input.kind === 'xlsx') [content, opts] = [await xlsxOf([posHeader, ...input.rows]), { fileName: `f${run}.xlsx`, channel: 'pos', format: 'xlsx' }];
      else [content, opts] = [Buffer.from(input.bytes), { fileName: `f${run}.${input.format}`, channel: 'pos', format: input.format as never }];
      let report;
      try {
        report = await svc.importFile(Readable.from([content]), opts);
      } catch (e) {
        expectOnlyInputError(e);
        expect(await tableCounts(app)).toEqual(before);
        seen.refused++;
        return;
      }
      if (report.inserted) seen.inserted++;
      if (report.rejected) seen.rejected++;
      if (report.status === 'FAILED') seen.failed++;
      const after = await tableCounts(app);
      const [batch] = await app.sql('SELECT status, rows_read, inserted, updated, unchanged, rejected, error FROM import_batch WHERE id = ?', [report.batchId]);
      expect(after.import_batch).toBe(before.import_batch + 1);
      expect(after.appeal - before.appeal).toBe(report.inserted);
      expect({ status: batch.status, read: batch.rows_read, inserted: batch.inserted, updated: batch.updated, unchanged: batch.unchanged, rejected: batch.rejected })
        .toEqual({ status: report.status, read: report.read, inserted: report.inserted, updated: report.updated, unchanged: report.unchanged, rejected: report.rejected });
      expect(report.inserted + report.updated + report.unchanged + report.rejected).toBe(report.read);
      if (report.status === 'FAILED') {
        expect(report.error).toBeTruthy();
        expect(report.error).not.toMatch(/SELECT|INSERT|UPDATE .* SET|unnest|syntax error at/);
      }
      for (const i of report.issues) expect(i.reason.length).toBeGreaterThan(3);
      // What went in reads back as it came: the stored texts have no NUL and survive a round trip.
      const stored = await app.sql('SELECT text FROM appeal WHERE batch_id = ? LIMIT 20', [report.batchId]);
      for (const s of stored) expect(s.text).not.toContain('\u0000');
    }), { numRuns: 60, seed: 8 });
    // The run covered files that went in, rows that were rejected and files that could not be read at all.
    expect(seen.inserted).toBeGreaterThan(0);
    expect(seen.rejected).toBeGreaterThan(0);
    expect(seen.failed + seen.refused).toBeGreaterThan(0);
  });

  it('uploads of any bytes through GraphQL: a report or BAD_USER_INPUT, never an internal error', { timeout: 300_000 }, async () => {
    const auth = await bearer(app);
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.constantFrom('x.csv', 'x.xlsx', 'x.jsonl', 'x.geojson', 'x.bin', 'x'), fc.constantFrom('POS', 'SOCIAL', null), async (bytes, name, channel) => {
      const r = await upload(app.url, 'mutation($file: Upload!, $channel: Channel) { importAppeals(file: $file, channel: $channel) { status read inserted rejected error } }', { channel }, { name, content: Buffer.from(bytes) }, auth);
      expect(r.status).toBeLessThan(500);
      if (r.body.errors) for (const e of r.body.errors) expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      else expect(['DONE', 'FAILED']).toContain(r.body.data.importAppeals.status);
    }), { numRuns: 30, seed: 9 });
  });

  it('heat-layer imports: a rejected file writes nothing, an accepted one exactly its rows', { timeout: 300_000 }, async () => {
    const inputs = fc.oneof(
      fc.record({ format: fc.constant(HeatLayerFormat.CSV), content: fc.oneof(mutated(sample('cur-heat.csv')), fc.string()) }),
      fc.record({ format: fc.constant(HeatLayerFormat.GEOJSON), content: fc.oneof(mutated(sample('cur-heat.geojson')), fc.json()) }),
    );
    let accepted = 0;
    await fc.assert(fc.asyncProperty(inputs, async ({ format, content }) => {
      const before = await tableCounts(app);
      try {
        const r = await importHeatLayer(app.orm.em.fork(), app.municipalityId, { content, format, periodFrom: new Date('2026-01-01'), periodTo: new Date('2026-02-01') });
        const after = await tableCounts(app);
        if (r.alreadyImported) expect(after).toEqual(before);
        else {
          accepted++;
          expect(after.heat_layer).toBe(before.heat_layer + 1);
          expect(after.heat_cell - before.heat_cell).toBe(r.inserted);
          expect(r.inserted + r.rejected).toBe(r.read);
        }
      } catch (e) {
        expectOnlyInputError(e);
        expect(await tableCounts(app)).toEqual(before);
      }
    }), { numRuns: 60, seed: 10 });
    expect(accepted).toBeGreaterThan(0);
  });

  it('district imports: all or nothing; a rejected file leaves districts and appeals untouched', { timeout: 300_000 }, async () => {
    const valid = fs.readFileSync(path.join(root, 'db/reference/rubtsovsk/districts.geojson'), 'utf8');
    let rejected = 0;
    await fc.assert(fc.asyncProperty(fc.oneof({ arbitrary: mutated(valid), weight: 4 }, { arbitrary: fc.json(), weight: 1 }, { arbitrary: fc.constant(valid), weight: 1 }), async (text) => {
      let input: unknown;
      try {
        input = JSON.parse(text);
      } catch {
        return;
      }
      const before = await tableCounts(app);
      try {
        const r = await importDistricts(app.orm.em.fork(), app.municipalityId, input);
        expect(r.read).toBe(r.inserted + r.updated);
      } catch (e) {
        rejected++;
        expectOnlyInputError(e);
        expect(await tableCounts(app)).toEqual(before);
      }
    }), { numRuns: 50, seed: 11 });
    expect(rejected).toBeGreaterThan(0);
  });
});
