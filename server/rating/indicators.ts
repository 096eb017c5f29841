import type { EntityManager } from '@mikro-orm/postgresql';
import type { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { checkXlsx } from '../files/xlsx-guard.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { loadIndicators } from './settings.js';
import { parseDate } from './period.js';

/**
 * Import of digital-transformation indicators per organisation and period (CSV or XLSX), all or nothing.
 * Columns (Russian or English headers, any order): организация|organization (code, short or full name),
 * показатель|indicator (code of a rating_indicator), значение|value (number, decimal comma allowed),
 * период|period (2026-03, 2026-Q1 / 2026-К1, 2026, or 2026-03-01..2026-03-31) — the period column may be omitted
 * when the whole file is for the period given with the import. Any bad row → an error naming the rows and fields,
 * nothing stored. Bounded: ≤ 2 MB file, ≤ 20 MB unpacked XLSX, ≤ 10 000 rows.
 */

export const MAX_FILE_BYTES = 2 * 1024 * 1024;
export const MAX_XLSX_UNPACKED = 20 * 1024 * 1024;
export const MAX_ROWS = 10_000;
const MAX_ERRORS = 20;

export interface IndicatorImportReport { read: number; inserted: number; updated: number; organizations: number; indicators: string[] }

export function readBounded(input: Readable, limit = MAX_FILE_BYTES): Promise<Buffer> {
  // Past the limit the rest is drained, not stored (destroying the upload stream would reset the client's connection).
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    input.on('data', (c: Buffer) => { n += c.length; if (n <= limit) chunks.push(c); });
    input.on('error', (e) => reject(e));
    input.on('end', () => (n > limit ? reject(new InputError('file', `файл больше ${limit / 1024 / 1024} МБ`)) : resolve(Buffer.concat(chunks))));
  });
}

/**
 * The shared XLSX guard (server/files/xlsx-guard.ts) before ExcelJS unpacks the workbook: the bytes actually inflated
 * (a zip header that understates a part's size is not trusted), the number of parts and the length of every cell.
 */
const checkZip = (buf: Buffer) => checkXlsx(buf, { maxUncompressedBytes: MAX_XLSX_UNPACKED, maxCellChars: 32_767, maxEntries: 500, sizeSetting: 'предел импорта показателей' });

const HEADERS: Record<string, string[]> = {
  organization: ['организация', 'organization', 'орган', 'учреждение'],
  indicator: ['показатель', 'indicator', 'код показателя'],
  value: ['значение', 'value'],
  period: ['период', 'period'],
};

function cellText(v: unknown): string {
  if (v == null) return '';
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('result' in o) return cellText(o.result);
    if ('text' in o) return cellText(o.text);
    if (Array.isArray(o.richText)) return (o.richText as { text: string }[]).map((x) => x.text).join('');
    return '';
  }
  return String(v).trim();
}

async function readTable(buf: Buffer, fileName: string): Promise<string[][]> {
  const isXlsx = /\.xlsx$/i.test(fileName) || (buf[0] === 0x50 && buf[1] === 0x4b);
  if (isXlsx) {
    await checkZip(buf);
    const wb = new ExcelJS.Workbook();
    try {
      await wb.xlsx.load(buf as unknown as ArrayBuffer);
    } catch {
      throw new InputError('file', 'файл XLSX повреждён или не является XLSX');
    }
    const ws = wb.worksheets[0];
    if (!ws) throw new InputError('file', 'в файле XLSX нет листов');
    if (ws.rowCount > MAX_ROWS + 1) throw new InputError('file', `не более ${MAX_ROWS} строк, в файле ${ws.rowCount - 1}`);
    const out: string[][] = [];
    ws.eachRow({ includeEmpty: true }, (row) => {
      const cells: string[] = [];
      for (let c = 1; c <= Math.min(ws.columnCount, 20); c++) cells.push(cellText(row.getCell(c).value));
      out.push(cells);
    });
    return out;
  }
  let text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\uFFFD')) throw new InputError('file', 'файл CSV должен быть в кодировке UTF-8');
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const delimiter = [';', ',', '\t'].sort((a, b) => first.split(b).length - first.split(a).length)[0];
  try {
    return parse(text, { delimiter, relax_column_count: true, skip_empty_lines: false, to_line: MAX_ROWS + 2, bom: true }) as string[][];
  } catch (e) {
    throw new InputError('file', `не удалось прочитать CSV: ${(e as Error).message.slice(0, 200)}`);
  }
}

/** A period cell → [start, end] (inclusive dates). */
export function parsePeriodCell(v: string): [string, string] | null {
  const s = v.trim();
  let m = /^(\d{4})$/.exec(s);
  if (m) return [`${m[1]}-01-01`, `${m[1]}-12-31`];
  m = /^(\d{4})-(\d{2})$/.exec(s);
  if (m) {
    const mo = Number(m[2]);
    if (mo < 1 || mo > 12) return null;
    const end = new Date(Date.UTC(Number(m[1]), mo, 0)).toISOString().slice(0, 10);
    return [`${m[1]}-${m[2]}-01`, end];
  }
  m = /^(\d{4})-[QqКк]([1-4])$/.exec(s);
  if (m) {
    const q = Number(m[2]);
    const end = new Date(Date.UTC(Number(m[1]), q * 3, 0)).toISOString().slice(0, 10);
    return [`${m[1]}-${String(q * 3 - 2).padStart(2, '0')}-01`, end];
  }
  m = /^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|—|–)\s*(\d{4}-\d{2}-\d{2})$/.exec(s);
  if (m) {
    try { parseDate('p', m[1]); parseDate('p', m[2]); } catch { return null; }
    return m[1] <= m[2] ? [m[1], m[2]] : null;
  }
  return null;
}

export async function importIndicators(em: EntityManager, actor: AuditActor, buf: Buffer, fileName: string,
  defaults: { periodStart?: string | null; periodEnd?: string | null } = {}): Promise<IndicatorImportReport> {
  if (buf.length > MAX_FILE_BYTES) throw new InputError('file', `файл больше ${MAX_FILE_BYTES / 1024 / 1024} МБ`);
  let defaultPeriod: [string, string] | null = null;
  if (defaults.periodStart || defaults.periodEnd) {
    parseDate('periodStart', defaults.periodStart);
    parseDate('periodEnd', defaults.periodEnd);
    if (defaults.periodEnd! < defaults.periodStart!) throw new InputError('periodEnd', 'конец периода раньше начала');
    defaultPeriod = [defaults.periodStart!, defaults.periodEnd!];
  }
  const table = await readTable(buf, fileName);
  const header = (table[0] ?? []).map((h) => h.trim().toLowerCase());
  const col: Record<string, number> = {};
  for (const [key, names] of Object.entries(HEADERS)) {
    const i = header.findIndex((h) => names.includes(h));
    if (i >= 0) col[key] = i;
  }
  for (const k of ['organization', 'indicator', 'value']) {
    if (col[k] == null) throw new InputError('file', `в первой строке нет столбца «${HEADERS[k][0]}» (${HEADERS[k][1]}); найдены: ${header.filter(Boolean).join(', ').slice(0, 200) || 'ничего'}`);
  }
  if (col.period == null && !defaultPeriod) throw new InputError('file', 'нет столбца «период» и период не задан при загрузке (periodStart, periodEnd)');
  const mid = actor.municipalityId;
  const orgs = await query<{ id: number; code: string; name: string; short_name: string | null }>(em, 'SELECT id, code, name, short_name FROM organization WHERE municipality_id = ?', [mid]);
  const byName = new Map<string, number>();
  const norm = (s: string) => s.trim().toLowerCase().replace(/ё/g, 'е').replace(/[«»"]/g, '').replace(/\s+/g, ' ');
  for (const o of orgs) for (const k of [o.code, o.name, o.short_name]) if (k) byName.set(norm(k), o.id);
  const indicators = await loadIndicators(em, mid);
  const errors: string[] = [];
  const rows: { org: number; indicator: string; start: string; end: string; value: number }[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < table.length; i++) {
    const r = table[i];
    if (!r || r.every((c) => !String(c ?? '').trim())) continue;
    const line = i + 1;
    const err = (field: string, msg: string) => { if (errors.length < MAX_ERRORS) errors.push(`строка ${line}, ${field}: ${msg}`); };
    const orgText = String(r[col.organization] ?? '').trim();
    const org = byName.get(norm(orgText));
    if (!orgText) err('организация', 'пусто');
    else if (org == null) err('организация', `неизвестная организация «${orgText.slice(0, 60)}»`);
    const code = String(r[col.indicator] ?? '').trim();
    const ind = indicators.find((x) => x.code === code || norm(x.name) === norm(code));
    if (!ind) err('показатель', `неизвестный показатель «${code.slice(0, 60)}»; допустимы: ${indicators.map((x) => x.code).join(', ')}`);
    const raw = String(r[col.value] ?? '').trim().replace(/\s/g, '').replace(',', '.').replace(/%$/, '');
    const value = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value)) err('значение', `не число: «${String(r[col.value] ?? '').slice(0, 30)}»`);
    else if (ind && (value < ind.minValue || value > ind.maxValue)) err('значение', `${value} вне шкалы показателя «${ind.code}» (${ind.minValue}…${ind.maxValue})`);
    let period = defaultPeriod;
    if (col.period != null && String(r[col.period] ?? '').trim()) {
      period = parsePeriodCell(String(r[col.period]));
      if (!period) err('период', `неверный период «${String(r[col.period]).slice(0, 30)}»: ожидается 2026-03, 2026-Q1, 2026 или 2026-03-01..2026-03-31`);
    } else if (!period) err('период', 'пусто');
    if (org != null && ind && Number.isFinite(value) && period) {
      const key = `${org}|${ind.code}|${period[0]}|${period[1]}`;
      if (seen.has(key)) err('показатель', `повтор строки ${seen.get(key)} (та же организация, показатель и период)`);
      seen.set(key, line);
      rows.push({ org, indicator: ind.code, start: period[0], end: period[1], value });
    }
  }
  if (errors.length) {
    throw new InputError('file', `файл не загружен, ничего не изменено. Ошибки (${errors.length}${errors.length >= MAX_ERRORS ? '+' : ''}): ${errors.join('; ')}`);
  }
  if (!rows.length) throw new InputError('file', 'в файле нет строк с данными');
  return em.transactional(async (tem) => {
    const r = await query<{ inserted: boolean }>(tem,
      `INSERT INTO org_indicator_value (municipality_id, organization_id, indicator, period_start, period_end, value, source, updated_at)
       SELECT ?, u.org, u.ind, u.ps, u.pe, u.v, ?, now() FROM unnest(?::int[], ?::text[], ?::date[], ?::date[], ?::float8[]) AS u(org, ind, ps, pe, v)
       ON CONFLICT (municipality_id, organization_id, indicator, period_start, period_end)
       DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, updated_at = now()
       RETURNING (xmax = 0) AS inserted`,
    [mid, `import:${fileName.slice(0, 100)}`, rows.map((x) => x.org), rows.map((x) => x.indicator), rows.map((x) => x.start), rows.map((x) => x.end), rows.map((x) => x.value)]);
    const report = { read: rows.length, inserted: r.filter((x) => x.inserted).length, updated: r.filter((x) => !x.inserted).length,
      organizations: new Set(rows.map((x) => x.org)).size, indicators: [...new Set(rows.map((x) => x.indicator))] };
    await audit(tem, actor, { entity: 'org_indicator_value', action: 'import', before: null, after: { fileName: fileName.slice(0, 200), ...report } });
    return report;
  });
}
