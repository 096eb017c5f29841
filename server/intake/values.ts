/**
 * Parsing of cell values from exports: dates in the formats staff actually get,
 * numbers with a decimal comma, trimmed strings. Each parser returns undefined for an
 * empty cell and throws a short Russian reason for a malformed one.
 */

import { wallToUtc, zoneOffsetMinutes } from '../util/timezone.js';

export function str(v: unknown): string | undefined {
  if (v == null) return undefined;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    // exceljs rich text / hyperlink cells
    const o = v as { text?: unknown; richText?: { text: string }[]; hyperlink?: string; result?: unknown };
    if (Array.isArray(o.richText)) return str(o.richText.map((r) => r.text).join(''));
    if (o.text != null) return str(o.text);
    if (o.result != null) return str(o.result);
    if (o.hyperlink) return str(o.hyperlink);
    return undefined;
  }
  // NUL cannot be stored in PostgreSQL text (and is never meant in an export): dropped.
  const s = String(v).replace(/\u00a0/g, ' ').replace(/\u0000/g, '').trim();
  return s === '' ? undefined : s;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('не число');
    return v;
  }
  const s = str(v);
  if (s === undefined) return undefined;
  const n = Number(s.replace(/\s/g, '').replace(',', '.'));
  if (!Number.isFinite(n)) throw new Error(`«${s.slice(0, 40)}» не число`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Date formats: a tokenizer and a linear left-to-right matcher (no regular expression is built from a format, no
// backtracking): each token consumes what it can and the next one continues from there.

type FieldName = 'd' | 'M' | 'y2' | 'y4' | 'H' | 'h' | 'm' | 's';
type FormatToken =
  | { kind: 'num'; field: FieldName; min: number; max: number; name: string }
  | { kind: 'ampm' }
  | { kind: 'space' }
  | { kind: 'lit'; ch: string };

const NUM_TOKENS: [string, FieldName, number, number][] = [
  ['yyyy', 'y4', 4, 4], ['yy', 'y2', 2, 2], ['dd', 'd', 1, 2], ['d', 'd', 1, 2], ['MM', 'M', 1, 2], ['M', 'M', 1, 2],
  ['HH', 'H', 1, 2], ['H', 'H', 1, 2], ['hh', 'h', 1, 2], ['h', 'h', 1, 2], ['mm', 'm', 1, 2], ['ss', 's', 1, 2],
];
/** Longest format and value looked at (bounded work per value). */
const MAX_FORMAT = 64;
const MAX_VALUE = 100;
const formatCache = new Map<string, FormatToken[]>();

/** Splits a format into tokens; letters other than the known tokens are an error naming them. */
export function compileFormat(format: string): FormatToken[] {
  let c = formatCache.get(format);
  if (c) return c;
  if (format.length > MAX_FORMAT) throw new Error(`формат даты длиннее ${MAX_FORMAT} символов`);
  const out: FormatToken[] = [];
  let i = 0;
  while (i < format.length) {
    const ch = format[i];
    if (/\s/.test(ch)) {
      while (i < format.length && /\s/.test(format[i])) i++;
      if (out.at(-1)?.kind !== 'space') out.push({ kind: 'space' });
      continue;
    }
    const num = NUM_TOKENS.find(([t]) => format.startsWith(t, i));
    if (num) { out.push({ kind: 'num', field: num[1], min: num[2], max: num[3], name: num[0] }); i += num[0].length; continue; }
    if (ch === 'a') { out.push({ kind: 'ampm' }); i++; continue; }
    if (/[A-Za-zА-Яа-я]/.test(ch)) throw new Error(`неизвестный элемент формата даты «${format.slice(i, i + 4)}» (допустимы d, dd, M, MM, yy, yyyy, H, HH, h, hh, a, mm, ss)`);
    out.push({ kind: 'lit', ch });
    i++;
  }
  if (out.some((t) => t.kind === 'num' && t.field === 'h') !== out.some((t) => t.kind === 'ampm')) {
    throw new Error('формат даты: h (12-часовой) используется вместе с a (AM/PM)');
  }
  if (formatCache.size > 1000) formatCache.clear();
  formatCache.set(format, out);
  return out;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\u00a0';

/** Matches a value against format tokens in one pass; null when it does not fit. */
function matchFormat(tokens: FormatToken[], s: string): Partial<Record<FieldName, number>> & { pm?: boolean } | null {
  if (s.length > MAX_VALUE) return null;
  const f: Partial<Record<FieldName, number>> & { pm?: boolean } = {};
  let i = 0;
  for (const t of tokens) {
    if (t.kind === 'space') {
      if (i >= s.length || !isSpace(s[i])) return null;
      while (i < s.length && isSpace(s[i])) i++;
    } else if (t.kind === 'lit') {
      if (s[i] !== t.ch) return null;
      i++;
    } else if (t.kind === 'ampm') {
      const w = s.slice(i, i + 2).toLowerCase();
      if (w === 'am' || w === 'дп') f.pm = false;
      else if (w === 'pm' || w === 'пп') f.pm = true;
      else return null;
      i += 2;
    } else {
      let n = 0, k = 0;
      while (k < t.max && i < s.length && isDigit(s.charCodeAt(i))) { n = n * 10 + (s.charCodeAt(i) - 48); i++; k++; }
      if (k < t.min) return null;
      f[t.field] = n;
    }
  }
  return i === s.length ? f : null;
}

/** Excel serial date (days since 1899-12-30, local time) in a plausible range (1954–2119). */
function fromExcel(v: number, timeZone: string): Date {
  if (!Number.isFinite(v) || v < 20000 || v > 80000) throw new Error(`число ${v} не похоже на дату`);
  return fromLocal(new Date(Math.round((v - 25569) * 86400_000)), timeZone);
}

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})$/;
const EXCEL_TEXT = /^\d{5}(?:[.,]\d{1,12})?$/;

/**
 * Parses a date. `format` like "dd.MM.yyyy HH:mm" or "M/d/yy h:mm a" (local time in `timeZone`; tokens d, dd, M, MM,
 * yy, yyyy, H, HH, h/hh with a, mm, ss; a space matches any run of spaces; "excel" = an Excel serial number); a value
 * in ISO 8601 with an offset is accepted whatever the format. Without a format: ISO 8601 (with or without offset),
 * "dd.MM.yyyy[ HH:mm[:ss]]", or an Excel serial date (number or its text). Linear time, bounded input.
 */
export function parseDate(v: unknown, timeZone: string, format?: string): Date | undefined {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new Error('некорректная дата');
    return v;
  }
  if (typeof v === 'number' && (!format || format === 'excel')) return fromExcel(v, timeZone);
  const s = str(v);
  if (s === undefined) return undefined;
  if (s.length > MAX_VALUE) throw new Error(`дата длиннее ${MAX_VALUE} символов`);
  const shown = s.slice(0, 40);
  if (ISO_WITH_OFFSET.test(s)) {
    const d = new Date(s.replace(' ', 'T'));
    if (Number.isNaN(d.getTime())) throw new Error(`некорректная дата «${shown}»`);
    return d;
  }
  if (format === 'excel' || (!format && EXCEL_TEXT.test(s))) {
    if (!EXCEL_TEXT.test(s)) throw new Error(`«${shown}» не число дня Excel`);
    return fromExcel(Number(s.replace(',', '.')), timeZone);
  }
  let y: number, M: number, d: number, H = 0, m = 0, sec = 0;
  if (format) {
    const f = matchFormat(compileFormat(format), s);
    if (!f) throw new Error(`«${shown}» не соответствует формату ${format}`);
    if (f.y4 === undefined && f.y2 === undefined) throw new Error(`формат ${format} без года (yyyy или yy)`);
    y = f.y4 ?? 2000 + f.y2!;
    M = f.M ?? 1; d = f.d ?? 1; m = f.m ?? 0; sec = f.s ?? 0;
    if (f.h !== undefined) {
      if (f.h < 1 || f.h > 12) throw new Error(`некорректный час «${shown}» (h: от 1 до 12)`);
      H = (f.h % 12) + (f.pm ? 12 : 0);
    } else H = f.H ?? 0;
  } else {
    const ru = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]{1,3}(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
    const iso = ru ? null : /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d{1,9})?)?$/.exec(s);
    if (ru) { d = +ru[1]; M = +ru[2]; y = +ru[3]; H = +(ru[4] ?? 0); m = +(ru[5] ?? 0); sec = +(ru[6] ?? 0); }
    else if (iso) { y = +iso[1]; M = +iso[2]; d = +iso[3]; H = +(iso[4] ?? 0); m = +(iso[5] ?? 0); sec = +(iso[6] ?? 0); }
    else throw new Error(`не удалось распознать дату «${shown}»`);
  }
  if (M < 1 || M > 12 || d < 1 || d > 31 || H > 23 || m > 59 || sec > 59) throw new Error(`некорректная дата «${shown}»`);
  const local = new Date(Date.UTC(y, M - 1, d, H, m, sec));
  if (local.getUTCDate() !== d) throw new Error(`несуществующая дата «${shown}»`);
  return fromLocal(local, timeZone);
}

/** Offsets in whole minutes (rounded), as dates read from files have always been placed. */
const minuteOffset = (timeZone: string, t: number) => zoneOffsetMinutes(timeZone, t) * 60_000;

/** A wall-clock time (stored as if UTC) in the zone → the real instant (the offset of that very instant). */
function fromLocal(local: Date, timeZone: string): Date {
  return new Date(wallToUtc(timeZone, local.getTime(), minuteOffset));
}
