import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { repoRoot } from '../reference/files.js';
import { isValidTimeZone } from '../util/timezone.js';

/**
 * Column mappings of the official-page files, like the appeals importer's (server/intake/mapping.ts): for each field the
 * column (CSV/XLSX header), optionally a date `format` ("dd.MM.yyyy HH:mm", local time of `timezone`), a value `map`
 * (source value → our value) and a `default` for empty cells. The built-in mappings (db/mappings/official-*.json) read
 * the documented layouts (docs/official-pages.md, samples in db/samples/); another tool's export needs only a new mapping.
 */
export const FILE_KINDS = ['pages', 'stats', 'comments'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

export const KIND_FIELDS: Record<FileKind, { fields: readonly string[]; required: readonly string[] }> = {
  pages: {
    fields: ['organization', 'platform', 'url', 'name', 'category', 'responsible', 'verified', 'posWidget', 'posWidgetUrl', 'commentsOpen', 'hasCover', 'hasDescription', 'ogrn', 'active'],
    required: ['organization', 'platform', 'url', 'category'],
  },
  stats: {
    fields: ['page', 'month', 'posts', 'views', 'likes', 'reposts', 'comments', 'subscribers', 'reach', 'commentsAnswered', 'replyMedianMinutes'],
    required: ['page', 'month', 'posts', 'views', 'likes', 'reposts', 'comments', 'subscribers'],
  },
  comments: {
    fields: ['page', 'commentId', 'postedAt', 'text', 'author', 'authorUrl', 'repliedAt', 'replyText', 'kind'],
    required: ['page', 'commentId', 'postedAt', 'text'],
  },
};

export interface PageColumnSpec { column: string; format?: string; map?: Record<string, string>; default?: string }

export interface PageMapping {
  name?: string;
  kind: FileKind;
  format?: 'csv' | 'xlsx';
  csv?: { delimiter?: string; quote?: string };
  sheet?: string;
  timezone?: string;
  fields: Record<string, PageColumnSpec>;
}

export function parsePageMapping(raw: unknown, kind: FileKind, at = 'mapping'): PageMapping {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(at, 'ожидается JSON-объект');
  const m = raw as Record<string, unknown>;
  if (JSON.stringify(m).length > 100_000) throw new InputError(at, 'сопоставление больше 100 КБ');
  const out: PageMapping = { kind, fields: {} };
  if (m.kind != null && m.kind !== kind) throw new InputError(`${at}.kind`, `сопоставление для файла «${String(m.kind).slice(0, 20)}», а загружается файл вида «${kind}»`);
  if (m.name != null) out.name = String(m.name).slice(0, 200);
  if (m.format != null) {
    if (m.format !== 'csv' && m.format !== 'xlsx') throw new InputError(`${at}.format`, 'формат: csv или xlsx');
    out.format = m.format;
  }
  if (m.csv != null) {
    const c = m.csv as Record<string, unknown>;
    if (c.delimiter != null && (typeof c.delimiter !== 'string' || c.delimiter.length !== 1)) throw new InputError(`${at}.csv.delimiter`, 'разделитель — один символ');
    if (c.quote != null && (typeof c.quote !== 'string' || c.quote.length !== 1)) throw new InputError(`${at}.csv.quote`, 'кавычка — один символ');
    out.csv = { delimiter: c.delimiter as string | undefined, quote: c.quote as string | undefined };
  }
  if (m.sheet != null) out.sheet = String(m.sheet).slice(0, 100);
  if (m.timezone != null) {
    if (!isValidTimeZone(String(m.timezone))) throw new InputError(`${at}.timezone`, `неизвестный часовой пояс «${String(m.timezone).slice(0, 40)}»`);
    out.timezone = String(m.timezone);
  }
  const fields = m.fields;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new InputError(`${at}.fields`, 'не описаны поля');
  const allowed = KIND_FIELDS[kind].fields;
  for (const [name, spec] of Object.entries(fields)) {
    const f = `${at}.fields.${name}`;
    if (!allowed.includes(name)) throw new InputError(f, `неизвестное поле; допустимы: ${allowed.join(', ')}`);
    const s = typeof spec === 'string' ? { column: spec } : (spec as PageColumnSpec);
    if (!s || typeof s !== 'object' || typeof s.column !== 'string' || !s.column) throw new InputError(`${f}.column`, 'не указан столбец');
    if (s.map != null && (typeof s.map !== 'object' || Array.isArray(s.map))) throw new InputError(`${f}.map`, 'ожидается объект «значение → значение»');
    if (s.format != null && (typeof s.format !== 'string' || !/^[dMyHms.:\-/ T]{2,30}$/.test(s.format))) throw new InputError(`${f}.format`, 'формат даты из dd, MM, yyyy, HH, mm, ss и разделителей');
    out.fields[name] = { column: s.column, format: s.format, map: s.map, default: s.default == null ? undefined : String(s.default) };
  }
  for (const r of KIND_FIELDS[kind].required) {
    if (!out.fields[r]) throw new InputError(`${at}.fields.${r}`, 'обязательное поле не сопоставлено со столбцом');
  }
  return out;
}

const BUILTIN_FILES: Record<FileKind, string> = { pages: 'official-pages', stats: 'official-page-stats', comments: 'official-page-comments' };

export function builtinPageMapping(kind: FileKind): PageMapping {
  const name = BUILTIN_FILES[kind];
  return parsePageMapping(JSON.parse(fs.readFileSync(path.join(repoRoot(), 'db', 'mappings', `${name}.json`), 'utf8')), kind, `db/mappings/${name}.json`);
}
