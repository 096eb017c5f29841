import { pipeline, Readable, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv } from 'csv-parse';
import ExcelJS from 'exceljs';
import StreamJson from 'stream-json';
import Pick from 'stream-json/filters/Pick.js';
import StreamArray from 'stream-json/streamers/StreamArray.js';
import fs from 'node:fs';
import type { Mapping, SourceFormat } from './mapping.js';
import { decodeStream } from '../files/encoding.js';
import { spoolXlsx, xlsxLimits } from '../files/xlsx-guard.js';

/** One record of a source file, with the line (or feature number) it came from. */
export interface SourceRecord {
  line: number;
  get(column: string): unknown;
  /** [lon, lat] of a GeoJSON Point feature. */
  point?: [number, number];
  /** The type of a GeoJSON feature's geometry when it is not a usable Point (reported by normalize). */
  geometryType?: string;
}

/** A record that could not even be read (broken CSV row, invalid JSON line). */
export interface UnreadableRecord {
  line: number;
  unreadable: string;
}

export type SourceItem = SourceRecord | UnreadableRecord;

function byPath(obj: unknown, pathStr: string): unknown {
  let cur: unknown = obj;
  for (const key of pathStr.split('.')) {
    if (cur == null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Pipes with error propagation: a source that fails mid-way fails the import instead of hanging it. */
function through<T extends Duplex>(input: Readable, ...stages: [...Duplex[], T]): T {
  (pipeline as (...args: unknown[]) => void)(input, ...stages, () => undefined);
  return stages[stages.length - 1] as T;
}

const CSV_DELIMITERS = [';', ',', '\t'];

/**
 * The delimiter of a CSV file that does not name one: whichever of ; , and tab occurs most often in its header line
 * (outside quotes), ';' on a tie — what Russian Excel writes. Only one delimiter may apply to a file: with all three
 * at once, a comma in a text ("Яма, большая") or a decimal comma ("51,51") would split a field.
 * Returns the delimiter and a stream that still yields the whole file.
 */
export async function sniffCsvDelimiter(input: Readable, given?: string): Promise<{ delimiter: string; input: Readable }> {
  if (given) return { delimiter: given, input };
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < 65_536) {
    const next = await it.next();
    if (next.done) { done = true; break; }
    const b = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(b);
    size += b.length;
    if (b.includes(10)) break;
  }
  const text = Buffer.concat(head).toString('utf8').replace(/^\uFEFF/, '');
  const counts = new Map(CSV_DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (ch === '\n' && !quoted) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  const delimiter = [...counts].reduce((best, cur) => (cur[1] > best[1] ? cur : best))[0];
  async function* whole() {
    yield* head;
    if (done) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { delimiter, input: Readable.from(whole(), { objectMode: false }) };
}

async function* csvRecords(source: Readable, mapping: Mapping): AsyncGenerator<SourceItem> {
  const skipped: UnreadableRecord[] = [];
  // UTF-8 (with or without BOM) or Windows-1251 (Russian Excel's «CSV»), detected; anything else is refused.
  const { text } = await decodeStream(source);
  const { delimiter, input } = await sniffCsvDelimiter(text, mapping.csv?.delimiter);
  const parser = through(
    input,
    parseCsv({
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      delimiter,
      quote: mapping.csv?.quote ?? '"',
      relax_quotes: true,
      skip_empty_lines: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (err: { message: string; lines?: number } | undefined) => {
        if (err) skipped.push({ line: err.lines ?? 0, unreadable: `строка CSV не разобрана: ${err.message}` });
      },
    }),
  );
  for await (const item of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    while (skipped.length) yield skipped.shift()!;
    const rec = item.record;
    yield { line: item.info.lines, get: (c) => rec[c] };
  }
  while (skipped.length) yield skipped.shift()!;
}

async function* xlsxRecords(input: Readable, mapping: Mapping): AsyncGenerator<SourceItem> {
  // The workbook is inflated and counted before it is read (server/files/xlsx-guard.ts): a shared-strings bomb
  // or an oversized cell is refused before ExcelJS materialises anything.
  const limits = xlsxLimits();
  const book = await spoolXlsx(input, limits);
  try {
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(fs.createReadStream(book.file), { sharedStrings: 'cache', hyperlinks: 'cache', styles: 'cache', worksheets: 'emit' });
    let sheetIndex = 0;
    for await (const sheet of reader) {
      sheetIndex++;
      const ws = sheet as unknown as AsyncIterable<ExcelJS.Row> & { name?: string };
      if (mapping.sheet && mapping.sheet !== ws.name && mapping.sheet !== String(sheetIndex)) continue;
      let header: string[] | undefined;
      for await (const row of ws) {
        const values = (row.values as unknown[]).slice(1);
        if (!header) {
          header = values.map((v) => String(v ?? '').trim());
          continue;
        }
        if (values.every((v) => v == null || v === '')) continue;
        const rec = Object.fromEntries(header.map((h, i) => [h, values[i]]));
        yield { line: row.number, get: (c) => rec[c] };
      }
      if (!mapping.sheet) break; // first sheet only unless one is named
    }
  } finally {
    book.remove();
  }
}

async function* lines(input: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const parts = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = parts.pop()!;
    yield* parts;
  }
  rest += decoder.end();
  if (rest) yield rest;
}

async function* jsonlRecords(input: Readable): AsyncGenerator<SourceItem> {
  let line = 0;
  for await (const text of lines(input)) {
    line++;
    const t = text.trim();
    if (!t) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch (e) {
      yield { line, unreadable: `строка не является JSON: ${(e as Error).message}` };
      continue;
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      yield { line, unreadable: 'ожидается JSON-объект' };
      continue;
    }
    yield { line, get: (c) => byPath(obj, c) };
  }
}

async function* geojsonRecords(input: Readable): AsyncGenerator<SourceItem> {
  const features = through(input, StreamJson.parser(), Pick.pick({ filter: 'features' }), StreamArray.streamArray());
  for await (const { key, value } of features as AsyncIterable<{ key: number; value: any }>) {
    const line = key + 1;
    if (!value || value.type !== 'Feature') {
      yield { line, unreadable: 'объект не является GeoJSON Feature' };
      continue;
    }
    const g = value.geometry;
    const point = g && g.type === 'Point' && Array.isArray(g.coordinates) && typeof g.coordinates[0] === 'number' && typeof g.coordinates[1] === 'number'
      ? ([g.coordinates[0], g.coordinates[1]] as [number, number]) : undefined;
    const geometryType = g && !point ? String(g.type ?? 'без типа') : undefined;
    const props = value.properties ?? {};
    yield { line, get: (c) => byPath(props, c), point, geometryType };
  }
}

/** Streams records from a source (no whole file in memory). */
export function readSource(input: Readable, format: SourceFormat, mapping: Mapping): AsyncGenerator<SourceItem> {
  switch (format) {
    case 'csv': return csvRecords(input, mapping);
    case 'xlsx': return xlsxRecords(input, mapping);
    case 'jsonl': return jsonlRecords(input);
    case 'geojson': return geojsonRecords(input);
  }
}
