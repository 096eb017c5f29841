import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { Channel } from '../reference/entities.js';
import { repoRoot } from '../reference/files.js';
import { isValidTimeZone } from '../util/timezone.js';

/**
 * A mapping file tells the generic importer how to read a source: which column holds
 * what, date formats, value maps. Every channel's built-in importer is such a file
 * (db/mappings/); any other source (other cities' open data…) needs only a new one.
 */
export const FIELD_NAMES = [
  'externalId', 'receivedAt', 'text', 'address', 'lat', 'lon', 'district', 'channel', 'theme', 'organization', 'status',
  'dueAt', 'firstResponseAt', 'answeredAt', 'answerText', 'satisfaction',
  'authorKind', 'authorName', 'authorPhone', 'authorEmail', 'authorProfileUrl', 'authorContactConsent',
] as const;
export type FieldName = (typeof FIELD_NAMES)[number];

export interface ColumnSpec {
  /** Column header (CSV/XLSX) or dot path of a property (JSON lines, GeoJSON properties). */
  column: string;
  /** Date format, e.g. "dd.MM.yyyy HH:mm" (local time of the mapping's time zone). */
  format?: string;
  /** Source value → our code (theme code, organisation code, status, author kind, channel, district). */
  map?: Record<string, string>;
  /** Value when the cell is empty. */
  default?: string;
  /** Several columns joined (their non-empty values, in this order) instead of one, e.g. a text from title + body. */
  columns?: string[];
  /** Between joined columns (default ". " for text and answerText, ", " otherwise). */
  separator?: string;
}

export type SourceFormat = 'csv' | 'xlsx' | 'jsonl' | 'geojson';

export interface Mapping {
  name?: string;
  channel?: Channel;
  format?: SourceFormat;
  csv?: { delimiter?: string; quote?: string };
  sheet?: string;
  timezone?: string;
  /** One column holding both coordinates, e.g. "51.51, 81.21". */
  coordinates?: { column: string; order: 'latlon' | 'lonlat' };
  fields: Partial<Record<FieldName, ColumnSpec>>;
}

const FORMATS: SourceFormat[] = ['csv', 'xlsx', 'jsonl', 'geojson'];

/** Validates a mapping object (from a file or a GraphQL argument). */
/** The first string in a JSON value that PostgreSQL's jsonb cannot hold (NUL, a lone surrogate), with its path. */
function unstorableString(v: unknown, at: string, depth = 0): string | undefined {
  if (typeof v === 'string') return /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v) ? at : undefined;
  if (typeof v !== 'object' || v === null || depth > 20) return undefined;
  for (const [k, x] of Object.entries(v)) {
    const bad = unstorableString(k, at, depth + 1) ?? unstorableString(x, `${at}.${k}`, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

export function parseMapping(raw: unknown, at = 'mapping'): Mapping {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(at, 'ожидается JSON-объект');
  const unstorable = unstorableString(raw, at);
  if (unstorable) throw new InputError(unstorable, 'строка содержит нулевой символ или одиночный суррогат UTF-16');
  const m = raw as Record<string, unknown>;
  const out: Mapping = { fields: {} };
  if (m.name != null) out.name = String(m.name);
  if (m.channel != null) {
    const code = typeof m.channel === 'string' ? channelCode(m.channel) : undefined;
    if (!code || !Object.values(Channel).includes(code as Channel)) throw new InputError(`${at}.channel`, `неизвестный канал «${String(m.channel).slice(0, 40)}»`);
    out.channel = code as Channel;
  }
  if (m.format != null) {
    if (!FORMATS.includes(m.format as SourceFormat)) throw new InputError(`${at}.format`, `формат должен быть одним из: ${FORMATS.join(', ')}`);
    out.format = m.format as SourceFormat;
  }
  if (m.csv != null) {
    const c = m.csv as Record<string, unknown>;
    if (c.delimiter != null && (typeof c.delimiter !== 'string' || c.delimiter.length !== 1)) throw new InputError(`${at}.csv.delimiter`, 'разделитель — один символ');
    out.csv = { delimiter: c.delimiter as string | undefined, quote: c.quote as string | undefined };
  }
  if (m.sheet != null) out.sheet = String(m.sheet);
  if (m.timezone != null) {
    if (!isValidTimeZone(String(m.timezone))) throw new InputError(`${at}.timezone`, `неизвестный часовой пояс «${String(m.timezone)}»`);
    out.timezone = String(m.timezone);
  }
  if (m.coordinates != null) {
    const c = m.coordinates as Record<string, unknown>;
    if (typeof c.column !== 'string' || !c.column) throw new InputError(`${at}.coordinates.column`, 'не указан столбец');
    if (c.order !== 'latlon' && c.order !== 'lonlat') throw new InputError(`${at}.coordinates.order`, 'порядок: latlon или lonlat');
    out.coordinates = { column: c.column, order: c.order };
  }
  const fields = m.fields;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new InputError(`${at}.fields`, 'не описаны поля');
  for (const [name, spec] of Object.entries(fields)) {
    const f = `${at}.fields.${name}`;
    if (!(FIELD_NAMES as readonly string[]).includes(name)) throw new InputError(f, `неизвестное поле; допустимы: ${FIELD_NAMES.join(', ')}`);
    const s = typeof spec === 'string' ? { column: spec } : (spec as ColumnSpec);
    if (s && typeof s === 'object' && s.columns != null) {
      if (!Array.isArray(s.columns) || s.columns.length < 1 || s.columns.length > 10 || s.columns.some((c) => typeof c !== 'string' || !c)) {
        throw new InputError(`${f}.columns`, 'ожидается список от 1 до 10 названий столбцов');
      }
      if (s.separator != null && (typeof s.separator !== 'string' || s.separator.length > 10)) throw new InputError(`${f}.separator`, 'разделитель — строка до 10 символов');
      if (s.column == null) (s as ColumnSpec).column = s.columns[0];
    }
    if (!s || typeof s !== 'object' || typeof s.column !== 'string' || !s.column) throw new InputError(`${f}.column`, 'не указан столбец');
    if (s.map != null && (typeof s.map !== 'object' || Array.isArray(s.map))) throw new InputError(`${f}.map`, 'ожидается объект «значение → код»');
    out.fields[name as FieldName] = { column: s.column, format: s.format, map: s.map, default: s.default,
      ...(s.columns ? { columns: [...s.columns], separator: s.separator ?? (name === 'text' || name === 'answerText' ? '. ' : ', ') } : {}) };
  }
  // The channel column's value map and default must name known channels (checked once, not per row).
  const ch = out.fields.channel;
  if (ch) {
    for (const [k, v] of Object.entries(ch.map ?? {})) {
      if (typeof v !== 'string' || !channelCode(v)) throw new InputError(`${at}.fields.channel.map.${k}`, `неизвестный канал «${String(v).slice(0, 40)}»`);
    }
    if (ch.default != null && !channelCode(String(ch.default))) throw new InputError(`${at}.fields.channel.default`, `неизвестный канал «${String(ch.default).slice(0, 40)}»`);
  }
  for (const required of ['externalId', 'receivedAt', 'text'] as const) {
    if (!out.fields[required]) throw new InputError(`${at}.fields.${required}`, 'обязательное поле не сопоставлено со столбцом');
  }
  return out;
}

/** Built-in mappings: db/mappings/<name>.json, by channel alias. */
export const BUILTIN: Record<string, string> = {
  im: 'incident-management', incident_management: 'incident-management',
  pos: 'pos',
  social: 'social',
  messenger: 'messenger',
  direct: 'direct',
  public_discussion: 'public-discussion', public: 'public-discussion',
};

/** Channel codes by their aliases (lowercase, spaces and hyphens as "_"): English codes, short names, Russian names. */
const CHANNEL_ALIASES: Record<string, string> = {
  incident_management: 'INCIDENT_MANAGEMENT', im: 'INCIDENT_MANAGEMENT', инцидент_менеджмент: 'INCIDENT_MANAGEMENT', им: 'INCIDENT_MANAGEMENT',
  pos: 'POS', пос: 'POS', платформа_обратной_связи: 'POS',
  social: 'SOCIAL', социальные_сети: 'SOCIAL', соцсети: 'SOCIAL',
  messenger: 'MESSENGER', messengers: 'MESSENGER', мессенджеры: 'MESSENGER', мессенджер: 'MESSENGER',
  direct: 'DIRECT', прямое_обращение: 'DIRECT', прямое: 'DIRECT',
  public_discussion: 'PUBLIC_DISCUSSION', public: 'PUBLIC_DISCUSSION', общественные_обсуждения: 'PUBLIC_DISCUSSION', обсуждения: 'PUBLIC_DISCUSSION',
  official_page: 'OFFICIAL_PAGE', official: 'OFFICIAL_PAGE', официальные_страницы: 'OFFICIAL_PAGE', официальная_страница: 'OFFICIAL_PAGE',
  open311: 'OPEN311', open_311: 'OPEN311',
};

/** The channel code of an argument in any case, by its code or its Russian or English alias; undefined if unknown. */
export function channelCode(arg: string): string | undefined {
  const k = arg.trim().toLowerCase().replace(/ё/g, 'е').replace(/[\s-]+/g, '_');
  return Object.hasOwn(CHANNEL_ALIASES, k) ? CHANNEL_ALIASES[k] : undefined;
}

const BUILTIN_BY_CODE: Record<string, string> = {
  INCIDENT_MANAGEMENT: 'incident-management', POS: 'pos', SOCIAL: 'social', MESSENGER: 'messenger', DIRECT: 'direct', PUBLIC_DISCUSSION: 'public-discussion',
};

export function builtinMapping(alias: string): Mapping {
  const code = channelCode(alias);
  const name = code ? BUILTIN_BY_CODE[code] : undefined;
  if (!name) throw new InputError('channel', `нет встроенного импорта для «${alias}»; укажите --mapping. Встроенные: ${Object.keys(BUILTIN).join(', ')}`);
  return parseMapping(JSON.parse(fs.readFileSync(path.join(repoRoot(), 'db', 'mappings', `${name}.json`), 'utf8')), `db/mappings/${name}.json`);
}

export function formatFromName(fileName: string): SourceFormat | undefined {
  const ext = path.extname(fileName).toLowerCase();
  return ({ '.csv': 'csv', '.txt': 'csv', '.xlsx': 'xlsx', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.geojson': 'geojson' } as Record<string, SourceFormat>)[ext];
}
