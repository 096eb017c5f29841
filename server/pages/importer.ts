import type { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { readSource } from '../intake/sources.js';
import { num, parseDate, str } from '../intake/values.js';
import type { Mapping } from '../intake/mapping.js';
import { builtinPageMapping, KIND_FIELDS, parsePageMapping, type FileKind, type PageMapping } from './mapping.js';
import { checkPageUrl, checkPosWidgetUrl, ogrnValid, pageKeyOf, parsePlatform, platformOfUrl, PLATFORM_LABELS, type Platform } from './urls.js';
import { localMonthStart } from '../worktime/worktime.js';
import { pagesSettings, type PagesSettings } from './config.js';

/**
 * Imports of the official-page files (registry, statistics by month, comments with replies). All-or-nothing per file:
 * every row is read and checked first; one ERROR anywhere rejects the whole file with the report of every bad row
 * (line, field, reason) and nothing stored changes. A clean file is written in one transaction, with its audit entry.
 * Idempotent: pages by their canonical URL, statistics by page × month (a re-import replaces the month), comments by
 * page × comment id (a re-import replaces the page's comments of the months the file covers).
 */
export interface PageImportIssue { line: number; field: string; severity: 'ERROR' | 'WARNING'; reason: string }
export interface PageImportReport {
  kind: FileKind;
  status: 'DONE' | 'REJECTED';
  read: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Months the file touched (YYYY-MM-01). */
  months: string[];
  issues: PageImportIssue[];
}

export const MAX_ROWS: Record<FileKind, number> = { pages: 5_000, stats: 100_000, comments: 200_000 };
const MAX_ISSUES = 1000;
const MAX_CELL = 10_000;

export interface ImportOptions { municipalityId: number; kind: FileKind; fileName: string; format?: 'csv' | 'xlsx'; mapping?: unknown; actor: AuditActor }

class RowReader {
  issues: PageImportIssue[] = [];
  errors = 0;
  constructor(readonly mapping: PageMapping, readonly settings: PagesSettings) {}
  issue(line: number, field: string, severity: 'ERROR' | 'WARNING', reason: string) {
    if (severity === 'ERROR') this.errors++;
    if (this.issues.length < MAX_ISSUES) this.issues.push({ line, field, severity, reason });
  }
  raw(rec: { get(c: string): unknown }, field: string): unknown {
    const spec = this.mapping.fields[field];
    if (!spec) return undefined;
    let v = rec.get(spec.column);
    const s = str(v);
    if (s !== undefined && s.length > MAX_CELL) throw new Error(`значение длиннее ${MAX_CELL} символов`);
    if (s === undefined && spec.default !== undefined) v = spec.default;
    if (spec.map && s !== undefined && spec.map[s] !== undefined) v = spec.map[s];
    return v;
  }
  text(rec: { get(c: string): unknown }, field: string): string | undefined {
    return str(this.raw(rec, field));
  }
}

const BOOL: Record<string, boolean> = {
  'да': true, 'нет': false, 'есть': true, 'yes': true, 'no': false, 'true': true, 'false': false, '1': true, '0': false, '+': true, '-': false,
  'y': true, 'n': false, 'д': true, 'н': false, 'открыты': true, 'закрыты': false, 'имеется': true, 'отсутствует': false,
};

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = str(v);
  if (s === undefined) return undefined;
  const b = BOOL[s.toLowerCase()];
  if (b === undefined) throw new Error(`«${s.slice(0, 30)}» — ожидается «да» или «нет»`);
  return b;
}

function count(v: unknown): number | undefined {
  const n = num(v);
  if (n === undefined) return undefined;
  if (n < 0) throw new Error(`отрицательное значение ${n}`);
  if (!Number.isInteger(n)) throw new Error(`${n} — ожидается целое число`);
  if (n > 2_000_000_000) throw new Error(`${n} — слишком большое значение`);
  return n;
}

const RU_MONTHS = ['январ', 'феврал', 'март', 'апрел', 'ма', 'июн', 'июл', 'август', 'сентябр', 'октябр', 'ноябр', 'декабр'];

/** A month: 2026-03, 03.2026, 01.03.2026, 2026-03-01, «март 2026», an Excel date → 2026-03-01. */
export function parseMonth(v: unknown, timezone: string): string | undefined {
  if (v instanceof Date || typeof v === 'number') {
    const d = parseDate(v, timezone);
    return d ? localMonthStart(timezone, d.getTime()) : undefined;
  }
  const s = str(v);
  if (s === undefined) return undefined;
  let y: number | undefined;
  let m: number | undefined;
  let x: RegExpExecArray | null;
  if ((x = /^(\d{4})-(\d{1,2})(?:-01)?$/.exec(s))) { y = +x[1]; m = +x[2]; }
  else if ((x = /^(?:01\.)?(\d{1,2})\.(\d{4})$/.exec(s))) { y = +x[2]; m = +x[1]; }
  else if ((x = /^([а-яё]+)\s+(\d{4})(?:\s*г\.?)?$/i.exec(s))) {
    const word = x[1].toLowerCase();
    const i = word.startsWith('ма') ? (word.startsWith('мар') ? 2 : 4) : RU_MONTHS.findIndex((p) => word.startsWith(p));
    if (i >= 0) { y = +x[2]; m = i + 1; }
  }
  if (y === undefined || m === undefined) throw new Error(`«${s.slice(0, 30)}» — месяц ожидается как ГГГГ-ММ (например 2026-03) или ММ.ГГГГ`);
  if (m < 1 || m > 12) throw new Error(`«${s.slice(0, 30)}»: месяц ${m} вне 1–12`);
  if (y < 2000 || y > 2100) throw new Error(`«${s.slice(0, 30)}»: год ${y} вне 2000–2100`);
  return `${y}-${String(m).padStart(2, '0')}-01`;
}

async function records(input: Readable, format: 'csv' | 'xlsx', mapping: PageMapping, kind: FileKind) {
  const out: { line: number; get(c: string): unknown }[] = [];
  const unreadable: PageImportIssue[] = [];
  const limit = MAX_ROWS[kind];
  for await (const item of readSource(input, format, { csv: mapping.csv, sheet: mapping.sheet, fields: {} } as Mapping)) {
    if ('unreadable' in item) { unreadable.push({ line: item.line, field: 'строка', severity: 'ERROR', reason: item.unreadable }); continue; }
    if (out.length >= limit) {
      input.destroy();
      throw new InputError('file', `в файле больше ${limit.toLocaleString('ru-RU')} строк: разделите его на части`);
    }
    out.push(item);
  }
  return { rows: out, unreadable };
}

function lookups<T>(rows: { key: string; value: T }[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const r of rows) if (r.key) m.set(r.key.toLowerCase().replace(/\s+/g, ' ').trim(), r.value);
  return m;
}
const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

/** Reads, checks and (when every row is good) writes one file. */
export async function importPageFile(em: EntityManager, input: Readable, opts: ImportOptions): Promise<PageImportReport> {
  const mapping = opts.mapping != null ? parsePageMapping(opts.mapping, opts.kind) : builtinPageMapping(opts.kind);
  const format = opts.format ?? mapping.format ?? (/\.xlsx$/i.test(opts.fileName) ? 'xlsx' : /\.(csv|txt)$/i.test(opts.fileName) ? 'csv' : undefined);
  if (!format) throw new InputError('format', `не удалось определить формат файла «${opts.fileName.slice(0, 100)}»: укажите csv или xlsx`);
  const settings = await pagesSettings(em, opts.municipalityId);
  const reader = new RowReader(mapping, settings);
  const { rows, unreadable } = await records(input, format, mapping, opts.kind);
  for (const u of unreadable) reader.issue(u.line, u.field, 'ERROR', u.reason);
  const report: PageImportReport = { kind: opts.kind, status: 'DONE', read: rows.length + unreadable.length, inserted: 0, updated: 0, deleted: 0, months: [], issues: reader.issues };
  if (rows.length === 0 && unreadable.length === 0) reader.issue(0, 'file', 'ERROR', 'в файле нет строк с данными (или не найдены заголовки столбцов)');
  // Columns the mapping needs must be in the file's header.
  if (rows.length) {
    const missing = Object.entries(mapping.fields).filter(([, s]) => s.default === undefined && rows.every((r) => r.get(s.column) === undefined))
      .map(([f, s]) => ({ f, s }));
    for (const { f, s } of missing) {
      const required = KIND_FIELDS[opts.kind].required.includes(f);
      if (required) reader.issue(1, s.column, 'ERROR', `в файле нет столбца «${s.column}» (поле ${f})`);
    }
  }
  const tz = mapping.timezone ?? settings.timezone;
  if (opts.kind === 'pages') await importPages(em, rows, reader, report, opts, settings);
  else if (opts.kind === 'stats') await importStats(em, rows, reader, report, opts, tz);
  else await importComments(em, rows, reader, report, opts, tz, settings);
  return report;
}

function reject(report: PageImportReport, reader: RowReader): PageImportReport {
  report.status = 'REJECTED';
  report.inserted = report.updated = report.deleted = 0;
  report.months = [];
  report.issues = reader.issues;
  return report;
}

type Rec = { line: number; get(c: string): unknown };

async function pageIndex(em: EntityManager, municipalityId: number) {
  return new Map((await query<{ url_key: string; id: number; platform: Platform }>(em,
    'SELECT url_key, id, platform FROM official_page WHERE municipality_id = ?', [municipalityId])).map((r) => [r.url_key, r]));
}

async function importPages(em: EntityManager, rows: Rec[], reader: RowReader, report: PageImportReport, opts: ImportOptions, settings: PagesSettings) {
  const orgs = lookups((await query<{ id: number; code: string; name: string; short_name: string | null }>(em,
    'SELECT id, code, name, short_name FROM organization WHERE municipality_id = ?', [opts.municipalityId]))
    .flatMap((o) => [{ key: o.code, value: o.id }, { key: o.name, value: o.id }, { key: o.short_name ?? '', value: o.id }]));
  const cats = lookups((await query<{ id: number; code: string; name: string }>(em, 'SELECT id, code, name FROM page_category WHERE municipality_id = ?', [opts.municipalityId]))
    .flatMap((c) => [{ key: c.code, value: c.id }, { key: c.name, value: c.id }]));
  const seen = new Map<string, number>();
  const good: PageInput[] = [];
  for (const rec of rows) {
    const err = (field: string, reason: string) => reader.issue(rec.line, field, 'ERROR', reason);
    const before = reader.errors;
    const cell = <T>(field: string, parse: (v: unknown) => T): T | undefined => {
      try {
        return parse(reader.raw(rec, field));
      } catch (e) {
        err(mappingColumn(reader, field), (e as Error).message);
        return undefined;
      }
    };
    const orgText = cell('organization', str);
    const organizationId = orgText ? orgs.get(norm(orgText)) : undefined;
    if (!orgText) err(mappingColumn(reader, 'organization'), 'не указана организация');
    else if (organizationId === undefined) err(mappingColumn(reader, 'organization'), `неизвестная организация «${orgText.slice(0, 80)}»: укажите код или название из справочника организаций`);
    const urlText = cell('url', str);
    const platformText = cell('platform', str);
    let platform = platformText ? parsePlatform(platformText) : urlText ? platformOfUrl(urlText) ?? 'WEBSITE' : undefined;
    if (platformText && !platform) err(mappingColumn(reader, 'platform'), `неизвестная площадка «${platformText.slice(0, 40)}»: VK, OK, TELEGRAM, MAX или WEBSITE`);
    if (!platformText && !urlText) platform = undefined;
    let checked: ReturnType<typeof checkPageUrl> | undefined;
    if (!urlText) err(mappingColumn(reader, 'url'), 'не указан адрес страницы');
    else if (platform) {
      try {
        checked = checkPageUrl(platform, urlText);
      } catch (e) {
        err(mappingColumn(reader, 'url'), (e as Error).message);
      }
    }
    if (checked) {
      const dup = seen.get(checked.key);
      if (dup !== undefined) err(mappingColumn(reader, 'url'), `страница ${checked.url} уже есть в строке ${dup}`);
      else seen.set(checked.key, rec.line);
    }
    const catText = cell('category', str);
    const categoryId = catText ? cats.get(norm(catText)) : undefined;
    if (!catText) err(mappingColumn(reader, 'category'), 'не указана категория страницы');
    else if (categoryId === undefined) err(mappingColumn(reader, 'category'), `неизвестная категория «${catText.slice(0, 40)}»; есть: ${[...new Set(cats.keys())].join(', ')}`);
    const ogrn = cell('ogrn', str);
    if (ogrn && !ogrnValid(ogrn)) err(mappingColumn(reader, 'ogrn'), `«${ogrn.slice(0, 20)}» не является ОГРН (13 цифр с верной контрольной цифрой)`);
    const posWidgetUrl = cell('posWidgetUrl', str);
    if (posWidgetUrl) {
      const w = checkPosWidgetUrl(posWidgetUrl, { region: settings.regionCode || undefined, ogrn: ogrn && ogrnValid(ogrn) ? ogrn : undefined });
      if (!w.ok) reader.issue(rec.line, mappingColumn(reader, 'posWidgetUrl'), 'WARNING', `ссылка виджета ПОС не по формату: ${w.problems.join('; ')} — сохранена, проверка «Виджет ПОС» не будет пройдена`);
    }
    const flags = {
      verified: cell('verified', bool) ?? false,
      posWidget: cell('posWidget', bool) ?? !!posWidgetUrl,
      commentsOpen: cell('commentsOpen', bool) ?? true,
      hasCover: cell('hasCover', bool) ?? false,
      hasDescription: cell('hasDescription', bool) ?? false,
      active: cell('active', bool) ?? true,
    };
    const name = cell('name', str);
    const responsible = cell('responsible', str);
    if (reader.errors > before || !checked || !platform || organizationId === undefined || categoryId === undefined) continue;
    good.push({
      organizationId, platform, url: checked.url, urlKey: checked.key, name: (name ?? checked.handle ?? checked.url).slice(0, 300), categoryId,
      responsible: responsible?.slice(0, 300) ?? null, posWidgetUrl: posWidgetUrl ?? null, ogrn: ogrn ?? null, ...flags,
    });
  }
  if (reader.errors) return reject(report, reader);
  await em.transactional(async (tem) => {
    const existing = await pageIndex(tem, opts.municipalityId);
    for (const p of good) {
      const old = existing.get(p.urlKey);
      const { id, created, before } = await upsertPage(tem, opts.municipalityId, p, old?.id);
      if (created) report.inserted++;
      else if (before) report.updated++;
      if (created || before) await audit(tem, opts.actor, { entity: 'official_page', entityId: id, action: created ? 'import-create' : 'import-update', before: before ?? undefined, after: pageAuditView(p) });
    }
    await audit(tem, opts.actor, { entity: 'official_page_import', action: 'import', after: { kind: 'pages', file: opts.fileName.slice(0, 200), read: report.read, inserted: report.inserted, updated: report.updated } });
  });
}

function mappingColumn(reader: RowReader, field: string): string {
  return reader.mapping.fields[field]?.column ?? field;
}

export interface PageInput {
  organizationId: number; platform: Platform; url: string; urlKey: string; name: string; categoryId: number; responsible: string | null;
  verified: boolean; posWidget: boolean; posWidgetUrl: string | null; commentsOpen: boolean; hasCover: boolean; hasDescription: boolean;
  ogrn: string | null; active: boolean;
}

export function pageAuditView(p: PageInput): Record<string, unknown> {
  return {
    organizationId: p.organizationId, platform: p.platform, url: p.url, name: p.name, categoryId: p.categoryId, responsible: p.responsible,
    verified: p.verified, posWidget: p.posWidget, posWidgetUrl: p.posWidgetUrl, commentsOpen: p.commentsOpen, hasCover: p.hasCover,
    hasDescription: p.hasDescription, ogrn: p.ogrn, active: p.active,
  };
}

const PAGE_COLUMNS = `organization_id AS "organizationId", platform, url, name, category_id AS "categoryId", responsible, verified,
  pos_widget AS "posWidget", pos_widget_url AS "posWidgetUrl", comments_open AS "commentsOpen", has_cover AS "hasCover",
  has_description AS "hasDescription", ogrn, active`;

export async function pageSnapshot(em: EntityManager, id: number): Promise<Record<string, unknown> | null> {
  const [r] = await query<Record<string, unknown>>(em, `SELECT ${PAGE_COLUMNS} FROM official_page WHERE id = ?`, [id]);
  return r ?? null;
}

/** Inserts or updates one page; `before` is the changed fields' old values (null when nothing changed). */
export async function upsertPage(em: EntityManager, municipalityId: number, p: PageInput, id?: number): Promise<{ id: number; created: boolean; before: Record<string, unknown> | null }> {
  const values = [p.organizationId, p.platform, p.url, p.urlKey, p.name, p.categoryId, p.responsible, p.verified, p.posWidget, p.posWidgetUrl,
    p.commentsOpen, p.hasCover, p.hasDescription, p.ogrn, p.active];
  if (id === undefined) {
    const [r] = await query<{ id: number }>(em, `INSERT INTO official_page (municipality_id, organization_id, platform, url, url_key, name, category_id, responsible,
        verified, pos_widget, pos_widget_url, comments_open, has_cover, has_description, ogrn, active)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, [municipalityId, ...values]);
    return { id: r.id, created: true, before: null };
  }
  const old = await pageSnapshot(em, id);
  const now = pageAuditView(p);
  const changed = Object.keys(now).filter((k) => JSON.stringify(old?.[k]) !== JSON.stringify(now[k]));
  if (!changed.length) return { id, created: false, before: null };
  await query(em, `UPDATE official_page SET organization_id = ?, platform = ?, url = ?, url_key = ?, name = ?, category_id = ?, responsible = ?,
      verified = ?, pos_widget = ?, pos_widget_url = ?, comments_open = ?, has_cover = ?, has_description = ?, ogrn = ?, active = ?, updated_at = now()
    WHERE id = ?`, [...values, id]);
  return { id, created: false, before: Object.fromEntries(changed.map((k) => [k, old?.[k]])) };
}

async function resolvePage(reader: RowReader, rec: Rec, pages: Map<string, { id: number; platform: Platform }>) {
  const column = mappingColumn(reader, 'page');
  const text = reader.text(rec, 'page');
  if (!text) { reader.issue(rec.line, column, 'ERROR', 'не указана страница'); return undefined; }
  const key = pageKeyOf(text);
  if (!key) { reader.issue(rec.line, column, 'ERROR', `«${text.slice(0, 80)}» не является адресом страницы`); return undefined; }
  const page = pages.get(key);
  if (!page) { reader.issue(rec.line, column, 'ERROR', `страница «${text.slice(0, 80)}» не найдена в реестре официальных страниц: сначала добавьте её в реестр`); return undefined; }
  return page;
}

async function importStats(em: EntityManager, rows: Rec[], reader: RowReader, report: PageImportReport, opts: ImportOptions, tz: string) {
  const pages = await pageIndex(em, opts.municipalityId);
  const seen = new Map<string, number>();
  const cols = { page: [] as number[], month: [] as string[], posts: [] as number[], views: [] as number[], likes: [] as number[], reposts: [] as number[],
    comments: [] as number[], subscribers: [] as number[], reach: [] as (number | null)[], answered: [] as (number | null)[], reply: [] as (number | null)[] };
  for (const rec of rows) {
    const before = reader.errors;
    const page = await resolvePage(reader, rec, pages);
    const cell = <T>(field: string, parse: (v: unknown) => T, required = false): T | undefined => {
      try {
        const v = parse(reader.raw(rec, field));
        if (v === undefined && required) reader.issue(rec.line, mappingColumn(reader, field), 'ERROR', 'значение не указано');
        return v;
      } catch (e) {
        reader.issue(rec.line, mappingColumn(reader, field), 'ERROR', (e as Error).message);
        return undefined;
      }
    };
    const month = cell('month', (v) => parseMonth(v, tz), true);
    const counters = (['posts', 'views', 'likes', 'reposts', 'comments', 'subscribers'] as const).map((f) => cell(f, count, true));
    const reach = cell('reach', count);
    const answered = cell('commentsAnswered', count);
    const reply = cell('replyMedianMinutes', (v) => {
      const n = num(v);
      if (n !== undefined && n < 0) throw new Error(`отрицательное значение ${n}`);
      return n;
    });
    if (answered != null && counters[4] != null && answered > counters[4]) reader.issue(rec.line, mappingColumn(reader, 'commentsAnswered'), 'ERROR', `комментариев с ответом (${answered}) больше, чем комментариев (${counters[4]})`);
    if (page && month) {
      const k = `${page.id}|${month}`;
      const dup = seen.get(k);
      if (dup !== undefined) reader.issue(rec.line, mappingColumn(reader, 'month'), 'ERROR', `страница и месяц ${month.slice(0, 7)} уже есть в строке ${dup}: один месяц страницы — одна строка`);
      else seen.set(k, rec.line);
    }
    if (reader.errors > before || !page || !month || counters.some((c) => c === undefined)) continue;
    cols.page.push(page.id); cols.month.push(month);
    cols.posts.push(counters[0]!); cols.views.push(counters[1]!); cols.likes.push(counters[2]!); cols.reposts.push(counters[3]!);
    cols.comments.push(counters[4]!); cols.subscribers.push(counters[5]!);
    cols.reach.push(reach ?? null); cols.answered.push(answered ?? null); cols.reply.push(reply ?? null);
  }
  if (reader.errors) return reject(report, reader);
  await em.transactional(async (tem) => {
    const r = await query<{ inserted: boolean }>(tem, `
      INSERT INTO official_page_stat (page_id, month, municipality_id, posts, views, likes, reposts, comments, subscribers, reach, comments_answered, reply_median_minutes, source)
      SELECT u.page, u.month, ?, u.posts, u.views, u.likes, u.reposts, u.comments, u.subscribers, u.reach, u.answered, u.reply, ?
        FROM unnest(?::int[], ?::date[], ?::int[], ?::bigint[], ?::int[], ?::int[], ?::int[], ?::int[], ?::int[], ?::int[], ?::float8[])
          AS u(page, month, posts, views, likes, reposts, comments, subscribers, reach, answered, reply)
      ON CONFLICT (page_id, month, municipality_id) DO UPDATE SET posts = excluded.posts, views = excluded.views, likes = excluded.likes, reposts = excluded.reposts,
        comments = excluded.comments, subscribers = excluded.subscribers, reach = excluded.reach, comments_answered = excluded.comments_answered,
        reply_median_minutes = excluded.reply_median_minutes, source = excluded.source, updated_at = now()
      RETURNING (xmax = 0) AS inserted`,
    [opts.municipalityId, `file:${opts.fileName.slice(0, 200)}`, cols.page, cols.month, cols.posts, cols.views, cols.likes, cols.reposts, cols.comments,
      cols.subscribers, cols.reach, cols.answered, cols.reply]);
    report.inserted = r.filter((x) => x.inserted).length;
    report.updated = r.length - report.inserted;
    report.months = [...new Set(cols.month)].sort();
    await audit(tem, opts.actor, { entity: 'official_page_import', action: 'import', after: { kind: 'stats', file: opts.fileName.slice(0, 200), read: report.read, inserted: report.inserted, updated: report.updated, months: report.months } });
  });
}

const KIND_WORDS: Record<string, 'QUESTION' | 'COMPLAINT' | 'OTHER'> = {
  question: 'QUESTION', 'вопрос': 'QUESTION', complaint: 'COMPLAINT', 'жалоба': 'COMPLAINT', 'обращение': 'COMPLAINT',
  other: 'OTHER', 'прочее': 'OTHER', 'другое': 'OTHER', 'благодарность': 'OTHER', 'отзыв': 'OTHER',
};

/** Asks or complains? A question mark or a request/complaint word; anything else (thanks, chat) is OTHER. */
export function commentKind(text: string): 'QUESTION' | 'COMPLAINT' | 'OTHER' {
  const t = text.toLowerCase();
  if (/\?/.test(t) || /(^|[^а-яё])(когда|почему|зачем|куда|где|сколько|подскажите|скажите)([^а-яё]|$)/.test(t)) return 'QUESTION';
  if (/(не работа|не убира|не вывоз|нет (воды|света|отопления|тепла)|отключ|яма|ямы|мусор|грязь|прорыв|течёт|течет|жалоб|прошу|примите меры|безобраз|невозможно|опасн|сломан|не горит|разбит|затоп)/.test(t)) return 'COMPLAINT';
  return 'OTHER';
}

async function importComments(em: EntityManager, rows: Rec[], reader: RowReader, report: PageImportReport, opts: ImportOptions, tz: string, settings: PagesSettings) {
  const pages = await pageIndex(em, opts.municipalityId);
  const seen = new Map<string, number>();
  const c = { page: [] as number[], month: [] as string[], ext: [] as string[], posted: [] as string[], text: [] as string[], author: [] as (string | null)[],
    authorUrl: [] as (string | null)[], replied: [] as (string | null)[], replyText: [] as (string | null)[], minutes: [] as (number | null)[], work: [] as (number | null)[], kind: [] as string[] };
  for (const rec of rows) {
    const before = reader.errors;
    const page = await resolvePage(reader, rec, pages);
    const col = (f: string) => mappingColumn(reader, f);
    const cell = <T>(field: string, parse: (v: unknown) => T): T | undefined => {
      try {
        return parse(reader.raw(rec, field));
      } catch (e) {
        reader.issue(rec.line, col(field), 'ERROR', (e as Error).message);
        return undefined;
      }
    };
    const ext = cell('commentId', str);
    if (!ext && reader.errors === before) reader.issue(rec.line, col('commentId'), 'ERROR', 'не указан идентификатор комментария');
    if (ext && ext.length > 100) reader.issue(rec.line, col('commentId'), 'ERROR', 'идентификатор длиннее 100 символов');
    const fmt = (f: string) => reader.mapping.fields[f]?.format;
    const posted = cell('postedAt', (v) => parseDate(v, tz, fmt('postedAt')));
    if (!posted && reader.errors === before) reader.issue(rec.line, col('postedAt'), 'ERROR', 'не указана дата комментария');
    const replied = cell('repliedAt', (v) => parseDate(v, tz, fmt('repliedAt')));
    if (posted && replied && replied < posted) reader.issue(rec.line, col('repliedAt'), 'ERROR', 'ответ раньше комментария');
    const text = cell('text', str);
    if (!text) reader.issue(rec.line, col('text'), 'ERROR', 'пустой текст комментария');
    else if (text.length > 4000) reader.issue(rec.line, col('text'), 'ERROR', 'текст длиннее 4000 символов');
    // The community's reply (its text is checked for communication errors, server/communication).
    const replyText = cell('replyText', str);
    if (replyText && replyText.length > 20000) reader.issue(rec.line, col('replyText'), 'ERROR', 'текст ответа длиннее 20 000 символов');
    const kindText = cell('kind', str);
    const kind = kindText ? KIND_WORDS[kindText.toLowerCase()] : text ? commentKind(text) : 'OTHER';
    if (kindText && !kind) reader.issue(rec.line, col('kind'), 'ERROR', `неизвестный тип «${kindText.slice(0, 30)}»: вопрос, жалоба или прочее`);
    const authorUrl = cell('authorUrl', str);
    if (page && ext) {
      const k = `${page.id}|${ext}`;
      const dup = seen.get(k);
      if (dup !== undefined) reader.issue(rec.line, col('commentId'), 'ERROR', `комментарий ${ext.slice(0, 40)} этой страницы уже есть в строке ${dup}`);
      else seen.set(k, rec.line);
    }
    if (reader.errors > before || !page || !ext || !posted || !text || !kind) continue;
    c.page.push(page.id); c.month.push(localMonthStart(settings.timezone, posted.getTime())); c.ext.push(ext); c.posted.push(posted.toISOString());
    c.text.push(text); c.author.push(cell('author', str)?.slice(0, 300) ?? null); c.authorUrl.push(authorUrl?.slice(0, 500) ?? null);
    c.replied.push(replied ? replied.toISOString() : null);
    c.replyText.push(replyText || null);
    c.minutes.push(replied ? Math.round((replied.getTime() - posted.getTime()) / 60000) : null);
    c.work.push(replied ? settings.work.minutesBetween(posted, replied) : null);
    c.kind.push(kind);
  }
  if (reader.errors) return reject(report, reader);
  const covered = new Map<string, [number, string]>();
  for (let i = 0; i < c.page.length; i++) covered.set(`${c.page[i]}|${c.month[i]}`, [c.page[i], c.month[i]]);
  const cp = [...covered.values()].map((x) => x[0]);
  const cm = [...covered.values()].map((x) => x[1]);
  await em.transactional(async (tem) => {
    const del = await query<{ id: number }>(tem, `
      DELETE FROM official_page_comment c
       WHERE (c.page_id, c.month) IN (SELECT * FROM unnest(?::int[], ?::date[]))
         AND NOT EXISTS (SELECT 1 FROM unnest(?::int[], ?::text[]) AS f(p, e) WHERE f.p = c.page_id AND f.e = c.external_id)
      RETURNING id`, [cp, cm, c.page, c.ext]);
    report.deleted = del.length;
    const r = await query<{ inserted: boolean }>(tem, `
      INSERT INTO official_page_comment (page_id, municipality_id, month, external_id, posted_at, text, author_name, author_url, replied_at, reply_text, reply_minutes, reply_work_minutes, kind)
      SELECT u.page, ?, u.month, u.ext, u.posted, u.text, u.author, u.author_url, u.replied, u.reply_text, u.minutes, u.work, u.kind
        FROM unnest(?::int[], ?::date[], ?::text[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::int[], ?::int[], ?::text[])
          AS u(page, month, ext, posted, text, author, author_url, replied, reply_text, minutes, work, kind)
      ON CONFLICT (page_id, external_id, municipality_id) DO UPDATE SET month = excluded.month, posted_at = excluded.posted_at, text = excluded.text,
        author_name = excluded.author_name, author_url = excluded.author_url, replied_at = excluded.replied_at, reply_text = excluded.reply_text, reply_minutes = excluded.reply_minutes,
        reply_work_minutes = excluded.reply_work_minutes, kind = excluded.kind
      RETURNING (xmax = 0) AS inserted`,
    [opts.municipalityId, c.page, c.month, c.ext, c.posted, c.text, c.author, c.authorUrl, c.replied, c.replyText, c.minutes, c.work, c.kind]);
    report.inserted = r.filter((x) => x.inserted).length;
    report.updated = r.length - report.inserted;
    await refreshCommentMonths(tem, opts.municipalityId, cp, cm);
    report.months = [...new Set(cm)].sort();
    await audit(tem, opts.actor, { entity: 'official_page_import', action: 'import', after: { kind: 'comments', file: opts.fileName.slice(0, 200), read: report.read, inserted: report.inserted, updated: report.updated, deleted: report.deleted, months: report.months } });
  });
}

/** Rebuilds the comment figures of the given page × month pairs from the comments. */
export async function refreshCommentMonths(em: EntityManager, municipalityId: number, pageIds: number[], months: string[]): Promise<void> {
  await query(em, `DELETE FROM official_page_comment_month WHERE (page_id, month) IN (SELECT * FROM unnest(?::int[], ?::date[]))`, [pageIds, months]);
  await query(em, `
    INSERT INTO official_page_comment_month (page_id, month, municipality_id, comments, answered, reply_median_work_minutes, reply_median_minutes)
    SELECT c.page_id, c.month, ?, count(*), count(c.replied_at),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY c.reply_work_minutes), percentile_cont(0.5) WITHIN GROUP (ORDER BY c.reply_minutes)
      FROM official_page_comment c
     WHERE (c.page_id, c.month) IN (SELECT * FROM unnest(?::int[], ?::date[]))
     GROUP BY c.page_id, c.month`, [municipalityId, pageIds, months]);
}

export { PLATFORM_LABELS };
