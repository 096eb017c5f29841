import { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import type { AuthUser } from '../auth/users.js';
import type { RowScope } from '../auth/scope.js';
import { IntakeService } from '../intake/service.js';
import { aggregateOrganizations, evaluate, loadFigures, type OrgMonth, type PageMonth } from './checks.js';
import { ensurePageCategories, pagesSettings } from './config.js';
import { importPageFile, pageAuditView, pageSnapshot, upsertPage, type PageImportReport, type PageInput } from './importer.js';
import type { FileKind } from './mapping.js';
import { checkPageUrl, checkPosWidgetUrl, ogrnValid, PLATFORMS, type Platform } from './urls.js';
import { stringify } from 'csv-stringify/sync';
import { DAY, localToUtc } from '../worktime/worktime.js';
import { VkClient } from './vk.js';
import { builtinPageMapping } from './mapping.js';

/** The indicator the rating of bodies reads (org_indicator_value). */
export const INDICATOR = 'official_pages_score';
export const SOURCE = 'official_pages';

export interface PageRow {
  id: number; organizationId: number; platform: Platform; url: string; name: string; categoryId: number; responsible: string | null;
  verified: boolean; posWidget: boolean; posWidgetUrl: string | null; commentsOpen: boolean; hasCover: boolean; hasDescription: boolean;
  ogrn: string | null; active: boolean; createdAt: Date; updatedAt: Date;
}

export interface CategoryRow {
  id: number; code: string; name: string; description: string | null; sortOrder: number;
  minPostsPerWeek: number | null; maxReplyHours: number | null; minAnsweredShare: number | null; minErPost: number | null;
  minErMonth: number | null; minReachShare: number | null;
  requireVerified: boolean; requirePosWidget: boolean; requireOpenComments: boolean; requireDesign: boolean;
}

export interface PageFilterInput {
  organizationIds?: string[] | null;
  platforms?: Platform[] | null;
  categoryIds?: string[] | null;
  text?: string | null;
  active?: boolean | null;
}

export interface PageFields {
  organizationId: string; platform: Platform; url: string; name?: string | null; categoryId: string; responsible?: string | null;
  verified?: boolean | null; posWidget?: boolean | null; posWidgetUrl?: string | null; commentsOpen?: boolean | null;
  hasCover?: boolean | null; hasDescription?: boolean | null; ogrn?: string | null; active?: boolean | null;
}

export interface CategoryFields {
  code: string; name: string; description?: string | null; sortOrder?: number | null;
  minPostsPerWeek?: number | null; maxReplyHours?: number | null; minAnsweredShare?: number | null; minErPost?: number | null;
  minErMonth?: number | null; minReachShare?: number | null;
  requireVerified?: boolean | null; requirePosWidget?: boolean | null; requireOpenComments?: boolean | null; requireDesign?: boolean | null;
}

const PAGE_SELECT = `p.id, p.organization_id AS "organizationId", p.platform, p.url, p.name, p.category_id AS "categoryId", p.responsible, p.verified,
  p.pos_widget AS "posWidget", p.pos_widget_url AS "posWidgetUrl", p.comments_open AS "commentsOpen", p.has_cover AS "hasCover",
  p.has_description AS "hasDescription", p.ogrn, p.active, p.created_at AS "createdAt", p.updated_at AS "updatedAt"`;

const CATEGORY_SELECT = `id, code, name, description, sort_order AS "sortOrder", min_posts_per_week AS "minPostsPerWeek", max_reply_hours AS "maxReplyHours",
  min_answered_share AS "minAnsweredShare", min_er_post AS "minErPost", min_er_month AS "minErMonth", min_reach_share AS "minReachShare",
  require_verified AS "requireVerified", require_pos_widget AS "requirePosWidget", require_open_comments AS "requireOpenComments", require_design AS "requireDesign"`;

const MONTH_RE = /^(\d{4})-(\d{2})$/;

/** "2026-03" → "2026-03-01" (bad input named). */
export function monthArg(field: string, v: string): string {
  const m = MONTH_RE.exec(v.trim());
  if (!m || +m[2] < 1 || +m[2] > 12 || +m[1] < 2000 || +m[1] > 2100) throw new InputError(field, `месяц ожидается как ГГГГ-ММ, получено «${v.slice(0, 20)}»`);
  return `${m[1]}-${m[2]}-01`;
}

export function addMonths(month: string, n: number): string {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return d.toISOString().slice(0, 10);
}

const ids = (field: string, v?: string[] | null): number[] | undefined => {
  if (v == null) return undefined;
  if (v.length > 1000) throw new InputError(field, 'не более 1000 идентификаторов');
  return v.map((x) => {
    if (!/^\d{1,9}$/.test(x)) throw new InputError(field, `«${String(x).slice(0, 20)}» не является идентификатором`);
    return Number(x);
  });
};

export class PageService {
  readonly actorCtx: AuditActor;
  constructor(readonly em: EntityManager, readonly opts: { municipalityId: number; user?: AuthUser; actor?: string; scope?: RowScope }) {
    this.actorCtx = { municipalityId: opts.municipalityId, user: opts.user, actor: opts.actor };
  }

  get municipalityId() { return this.opts.municipalityId; }

  /** Organisations whose pages the user sees: all, or (ORG_OFFICER) their organisation and its subordinates. */
  async visibleOrganizations(): Promise<number[] | undefined> {
    const org = this.opts.scope?.organizationId;
    if (org == null) return undefined;
    const r = await query<{ id: number }>(this.em, `WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ? AND municipality_id = ?
      UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub`, [org, this.municipalityId]);
    return r.map((x) => x.id);
  }

  async categories(): Promise<CategoryRow[]> {
    await ensurePageCategories(this.em, this.municipalityId);
    return query<CategoryRow>(this.em, `SELECT ${CATEGORY_SELECT} FROM page_category WHERE municipality_id = ? ORDER BY sort_order, id`, [this.municipalityId]);
  }

  async upsertCategory(f: CategoryFields): Promise<CategoryRow> {
    if (!/^[a-z0-9_-]{1,40}$/.test(f.code)) throw new InputError('input.code', 'код категории: латиница в нижнем регистре, цифры, «_» и «-», до 40 символов');
    const name = f.name.trim();
    if (!name || name.length > 100) throw new InputError('input.name', 'название категории: от 1 до 100 символов');
    const nonNeg = (field: string, v: number | null | undefined, max?: number) => {
      if (v == null) return null;
      if (!Number.isFinite(v) || v < 0 || (max != null && v > max)) throw new InputError(`input.${field}`, `значение ${v} вне допустимого диапазона 0…${max ?? '∞'}`);
      return v;
    };
    const vals = {
      minPostsPerWeek: nonNeg('minPostsPerWeek', f.minPostsPerWeek, 100), maxReplyHours: nonNeg('maxReplyHours', f.maxReplyHours, 1000),
      minAnsweredShare: nonNeg('minAnsweredShare', f.minAnsweredShare, 1), minErPost: nonNeg('minErPost', f.minErPost, 100),
      minErMonth: nonNeg('minErMonth', f.minErMonth, 10000), minReachShare: nonNeg('minReachShare', f.minReachShare, 1),
    };
    if (vals.maxReplyHours === 0) throw new InputError('input.maxReplyHours', 'срок ответа должен быть больше нуля');
    return this.em.transactional(async (tem) => {
      const [old] = await query<CategoryRow>(tem, `SELECT ${CATEGORY_SELECT} FROM page_category WHERE municipality_id = ? AND code = ?`, [this.municipalityId, f.code]);
      const [row] = await query<CategoryRow>(tem, `
        INSERT INTO page_category (municipality_id, code, name, description, sort_order, min_posts_per_week, max_reply_hours, min_answered_share,
          min_er_post, min_er_month, min_reach_share, require_verified, require_pos_widget, require_open_comments, require_design)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (municipality_id, code) DO UPDATE SET name = excluded.name, description = excluded.description, sort_order = excluded.sort_order,
          min_posts_per_week = excluded.min_posts_per_week, max_reply_hours = excluded.max_reply_hours, min_answered_share = excluded.min_answered_share,
          min_er_post = excluded.min_er_post, min_er_month = excluded.min_er_month, min_reach_share = excluded.min_reach_share,
          require_verified = excluded.require_verified, require_pos_widget = excluded.require_pos_widget,
          require_open_comments = excluded.require_open_comments, require_design = excluded.require_design, updated_at = now()
        RETURNING ${CATEGORY_SELECT}`,
      [this.municipalityId, f.code, name, f.description?.slice(0, 1000) ?? null, f.sortOrder ?? old?.sortOrder ?? 0, vals.minPostsPerWeek, vals.maxReplyHours,
        vals.minAnsweredShare, vals.minErPost, vals.minErMonth, vals.minReachShare, f.requireVerified ?? true, f.requirePosWidget ?? true,
        f.requireOpenComments ?? true, f.requireDesign ?? true]);
      await audit(tem, this.actorCtx, { entity: 'page_category', entityId: row.id, action: old ? 'update' : 'create', before: old ?? undefined, after: row });
      await this.recompute(undefined, undefined, tem);
      return row;
    });
  }

  private pageWhere(f: PageFilterInput | undefined, visible: number[] | undefined) {
    const where = ['p.municipality_id = ?'];
    const params: unknown[] = [this.municipalityId];
    if (visible) { where.push('p.organization_id = ANY(?::int[])'); params.push(visible); }
    const orgs = ids('filter.organizationIds', f?.organizationIds);
    if (orgs) { where.push('p.organization_id = ANY(?::int[])'); params.push(orgs); }
    const cats = ids('filter.categoryIds', f?.categoryIds);
    if (cats) { where.push('p.category_id = ANY(?::int[])'); params.push(cats); }
    if (f?.platforms) { where.push('p.platform = ANY(?::text[])'); params.push(f.platforms); }
    if (f?.active != null) { where.push('p.active = ?'); params.push(f.active); }
    if (f?.text) {
      if (f.text.length > 200) throw new InputError('filter.text', 'не длиннее 200 символов');
      where.push(`(p.name ILIKE ? OR p.url ILIKE ? OR p.responsible ILIKE ?)`);
      const like = `%${f.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      params.push(like, like, like);
    }
    return { sql: where.join(' AND '), params };
  }

  async list(f: PageFilterInput | undefined, first: number, after?: string): Promise<{ rows: PageRow[]; total: number; offset: number }> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw new InputError('first', 'от 1 до 500');
    const offset = after ? Number(Buffer.from(after, 'base64').toString('utf8').replace(/^o:/, '')) + 1 : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new InputError('after', 'неверный курсор');
    const w = this.pageWhere(f, await this.visibleOrganizations());
    const rows = await query<PageRow>(this.em, `SELECT ${PAGE_SELECT} FROM official_page p JOIN organization o ON o.id = p.organization_id
      WHERE ${w.sql} ORDER BY o.kind, o.name, p.platform, p.id LIMIT ? OFFSET ?`, [...w.params, first, offset]);
    const [{ n }] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM official_page p WHERE ${w.sql}`, w.params);
    return { rows, total: n, offset };
  }

  async all(f?: PageFilterInput): Promise<PageRow[]> {
    const w = this.pageWhere(f, await this.visibleOrganizations());
    return (await query<PageRow>(this.em, `SELECT ${PAGE_SELECT} FROM official_page p JOIN organization o ON o.id = p.organization_id
      WHERE ${w.sql} ORDER BY o.kind, o.name, p.platform, p.id LIMIT 10000`, w.params)).map(pageDates);
  }

  async get(id: string): Promise<PageRow | null> {
    const [n] = ids('id', [id])!;
    const visible = await this.visibleOrganizations();
    const [r] = await query<PageRow>(this.em, `SELECT ${PAGE_SELECT} FROM official_page p WHERE p.id = ? AND p.municipality_id = ?
      ${visible ? 'AND p.organization_id = ANY(?::int[])' : ''}`, visible ? [n, this.municipalityId, visible] : [n, this.municipalityId]);
    return r ? pageDates(r) : null;
  }

  private async validate(f: PageFields, existingId?: number): Promise<PageInput> {
    const settings = await pagesSettings(this.em, this.municipalityId);
    if (!(PLATFORMS as readonly string[]).includes(f.platform)) throw new InputError('input.platform', `неизвестная площадка «${String(f.platform).slice(0, 20)}»`);
    let checked;
    try {
      checked = checkPageUrl(f.platform, f.url);
    } catch (e) {
      throw new InputError('input.url', (e as Error).message);
    }
    const [orgId] = ids('input.organizationId', [f.organizationId])!;
    const [org] = await query(this.em, 'SELECT 1 FROM organization WHERE id = ? AND municipality_id = ?', [orgId, this.municipalityId]);
    if (!org) throw new InputError('input.organizationId', `организация ${f.organizationId} не найдена`);
    const [catId] = ids('input.categoryId', [f.categoryId])!;
    const [cat] = await query(this.em, 'SELECT 1 FROM page_category WHERE id = ? AND municipality_id = ?', [catId, this.municipalityId]);
    if (!cat) throw new InputError('input.categoryId', `категория ${f.categoryId} не найдена`);
    const ogrn = f.ogrn?.trim() || null;
    if (ogrn && !ogrnValid(ogrn)) throw new InputError('input.ogrn', `«${ogrn.slice(0, 20)}» не является ОГРН (13 цифр с верной контрольной цифрой)`);
    const posWidgetUrl = f.posWidgetUrl?.trim() || null;
    if (posWidgetUrl) {
      if (posWidgetUrl.length > 1000) throw new InputError('input.posWidgetUrl', 'ссылка длиннее 1000 символов');
      const w = checkPosWidgetUrl(posWidgetUrl, { region: settings.regionCode || undefined, ogrn });
      if (!w.ok) throw new InputError('input.posWidgetUrl', `ссылка виджета ПОС не по формату pos.gosuslugi.ru/form/?opaId=…&utm_source=vk&utm_medium=<код региона>&utm_campaign=<ОГРН>: ${w.problems.join('; ')}`);
    }
    const [dup] = await query<{ id: number }>(this.em, 'SELECT id FROM official_page WHERE municipality_id = ? AND url_key = ? AND id <> ?', [this.municipalityId, checked.key, existingId ?? 0]);
    if (dup) throw new InputError('input.url', `страница ${checked.url} уже есть в реестре (№ ${dup.id})`);
    const name = (f.name?.trim() || checked.handle || checked.url).slice(0, 300);
    return {
      organizationId: orgId, platform: f.platform, url: checked.url, urlKey: checked.key, name, categoryId: catId,
      responsible: f.responsible?.trim().slice(0, 300) || null, verified: f.verified ?? false, posWidget: f.posWidget ?? !!posWidgetUrl,
      posWidgetUrl, commentsOpen: f.commentsOpen ?? true, hasCover: f.hasCover ?? false, hasDescription: f.hasDescription ?? false, ogrn, active: f.active ?? true,
    };
  }

  async create(f: PageFields): Promise<PageRow> {
    const p = await this.validate(f);
    const id = await this.em.transactional(async (tem) => {
      const r = await upsertPage(tem, this.municipalityId, p);
      await audit(tem, this.actorCtx, { entity: 'official_page', entityId: r.id, action: 'create', after: pageAuditView(p) });
      return r.id;
    });
    return (await this.get(String(id)))!;
  }

  async update(idArg: string, f: PageFields): Promise<PageRow> {
    const current = await this.get(idArg);
    if (!current) throw new InputError('id', `страница ${idArg} не найдена`);
    const p = await this.validate(f, current.id);
    await this.em.transactional(async (tem) => {
      const r = await upsertPage(tem, this.municipalityId, p, current.id);
      if (r.before) {
        const after = pageAuditView(p);
        await audit(tem, this.actorCtx, { entity: 'official_page', entityId: current.id, action: 'update', before: r.before, after: Object.fromEntries(Object.keys(r.before).map((k) => [k, after[k]])) });
        await this.recompute(undefined, undefined, tem);
      }
    });
    return (await this.get(idArg))!;
  }

  async remove(idArg: string): Promise<boolean> {
    const current = await this.get(idArg);
    if (!current) throw new InputError('id', `страница ${idArg} не найдена`);
    await this.em.transactional(async (tem) => {
      const before = await pageSnapshot(tem, current.id);
      await query(tem, 'DELETE FROM official_page WHERE id = ?', [current.id]);
      await audit(tem, this.actorCtx, { entity: 'official_page', entityId: current.id, action: 'delete', before });
      await this.recompute(undefined, undefined, tem);
    });
    return true;
  }

  /** The last month with statistics (default for views). */
  async latestMonth(): Promise<string | null> {
    const [r] = await query<{ m: string | null }>(this.em, `SELECT to_char(max(month), 'YYYY-MM-DD') AS m FROM official_page_stat WHERE municipality_id = ?`, [this.municipalityId]);
    return r?.m ?? null;
  }

  /** Checks and scores of every visible page × month in the range. */
  async results(fromMonth: string, toMonth: string, opts: { pageIds?: number[]; em?: EntityManager; allOrganizations?: boolean } = {}): Promise<PageMonth[]> {
    const em = opts.em ?? this.em;
    const settings = await pagesSettings(em, this.municipalityId);
    const visible = opts.allOrganizations ? undefined : await this.visibleOrganizations();
    const t0 = performance.now();
    const rows = await loadFigures(em, { municipalityId: this.municipalityId, fromMonth, toMonth, pageIds: opts.pageIds, organizationIds: visible });
    if (process.env.MCU_PROFILE) console.log(`[pages] figures ${rows.length} rows in ${Math.round(performance.now() - t0)} ms`);
    const ctx = { population: settings.population, regionCode: settings.regionCode, widgetCache: new Map() };
    return rows.map((r) => evaluate(r, ctx));
  }

  /** Pages ranked by score for a month and organisations by their pages. */
  async rating(month: string): Promise<{ month: string; pages: (PageMonth & { rank: number })[]; organizations: (OrgMonth & { rank: number })[] }> {
    const res = await this.results(month, month);
    const pages = [...res].sort((a, b) => b.score - a.score || a.pageId - b.pageId).map((p, i) => ({ ...p, rank: i + 1 }));
    const organizations = aggregateOrganizations(res).map((o, i) => ({ ...o, rank: i + 1 }));
    return { month, pages, organizations };
  }

  /**
   * Writes every organisation's page score per month of the range (all months with statistics by default) into
   * org_indicator_value (indicator official_pages_score, source official_pages), replacing the range's earlier values.
   */
  async recompute(fromMonth?: string, toMonth?: string, em: EntityManager = this.em): Promise<{ months: number; organizations: number; pages: number; ms: number }> {
    const t0 = performance.now();
    let from = fromMonth;
    let to = toMonth;
    if (!from || !to) {
      const [r] = await query<{ a: string | null; b: string | null }>(em,
        `SELECT to_char(min(month), 'YYYY-MM-DD') AS a, to_char(max(month), 'YYYY-MM-DD') AS b FROM official_page_stat WHERE municipality_id = ?`, [this.municipalityId]);
      from ??= r.a ?? undefined;
      to ??= r.b ?? undefined;
    }
    const run = async (tem: EntityManager) => {
      if (!from || !to) {
        await query(tem, `DELETE FROM org_indicator_value WHERE municipality_id = ? AND indicator = ? AND source = ?`, [this.municipalityId, INDICATOR, SOURCE]);
        return { months: 0, organizations: 0, pages: 0 };
      }
      const t1 = performance.now();
      const pages = await this.results(from, to, { em: tem, allOrganizations: true });
      const t2 = performance.now();
      const orgs = aggregateOrganizations(pages);
      if (process.env.MCU_PROFILE) console.log(`[pages] results ${Math.round(t2 - t1)} ms, aggregate ${Math.round(performance.now() - t2)} ms`);
      await query(tem, `DELETE FROM org_indicator_value WHERE municipality_id = ? AND indicator = ? AND source = ? AND period_start BETWEEN ?::date AND ?::date`,
        [this.municipalityId, INDICATOR, SOURCE, from, to]);
      if (orgs.length) {
        await query(tem, `INSERT INTO org_indicator_value (municipality_id, organization_id, indicator, period_start, period_end, value, source)
          SELECT ?, u.org, ?, u.m, (u.m + interval '1 month' - interval '1 day')::date, u.v, ?
            FROM unnest(?::int[], ?::date[], ?::float8[]) AS u(org, m, v)`,
        [this.municipalityId, INDICATOR, SOURCE, orgs.map((o) => o.organizationId), orgs.map((o) => o.month), orgs.map((o) => o.score)]);
      }
      return { months: new Set(orgs.map((o) => o.month)).size, organizations: new Set(orgs.map((o) => o.organizationId)).size, pages: pages.length };
    };
    const r = em.isInTransaction() ? await run(em) : await em.transactional(run);
    return { ...r, ms: performance.now() - t0 };
  }

  /** Imports a file (all-or-nothing) and brings the organisations' scores of the touched months up to date. */
  async importFile(kind: FileKind, input: Readable, opts: { fileName: string; format?: 'csv' | 'xlsx'; mapping?: unknown }): Promise<PageImportReport> {
    await ensurePageCategories(this.em, this.municipalityId);
    const report = await importPageFile(this.em, input, { municipalityId: this.municipalityId, kind, fileName: opts.fileName, format: opts.format, mapping: opts.mapping, actor: this.actorCtx });
    if (report.status === 'DONE') {
      if (kind === 'pages') await this.recompute();
      else if (report.months.length) await this.recompute(report.months[0], report.months[report.months.length - 1]);
    }
    return report;
  }

  /**
   * Comments that ask or complain (kind QUESTION / COMPLAINT) not yet taken in become appeals of the channel OFFICIAL_PAGE
   * through the intake pipeline (classification, routing, duplicates, events): external id «page<id>-<comment id>», the reply
   * time as the first response (appeal.first_response_at). Idempotent: a comment already linked is skipped, and the intake
   * keys by (channel, external id).
   */
  async takeCommentsAsAppeals(opts: { pageIds?: string[] | null; fromMonth?: string; toMonth?: string } = {}): Promise<{ comments: number; inserted: number; updated: number; rejected: number; batchId: number | null }> {
    const visible = await this.visibleOrganizations();
    // Not yet taken in, or taken in before the page replied: the reply, when it comes, becomes the appeal's first reaction
    // (the intake updates the appeal by its external id, with its event and the first-reaction minutes).
    const where = ['c.municipality_id = ?', "c.kind IN ('QUESTION', 'COMPLAINT')",
      '(c.appeal_id IS NULL OR (c.replied_at IS NOT NULL AND a.first_response_at IS NULL))'];
    const params: unknown[] = [this.municipalityId];
    const pageIds = ids('pageIds', opts.pageIds);
    if (pageIds) {
      // Pages of another municipality (or unknown ones) are named, not silently skipped.
      const known = new Set((await query<{ id: number }>(this.em, 'SELECT id FROM official_page WHERE municipality_id = ? AND id = ANY(?::int[])', [this.municipalityId, pageIds])).map((r) => r.id));
      const unknown = pageIds.filter((id) => !known.has(id));
      if (unknown.length) throw new InputError('pageIds', `страницы не найдены: ${unknown.slice(0, 10).join(', ')}`);
      where.push('c.page_id = ANY(?::int[])'); params.push(pageIds);
    }
    if (visible) { where.push('p.organization_id = ANY(?::int[])'); params.push(visible); }
    if (opts.fromMonth) { where.push('c.month >= ?::date'); params.push(opts.fromMonth); }
    if (opts.toMonth) { where.push('c.month <= ?::date'); params.push(opts.toMonth); }
    const rows = await query<{ page_id: number; external_id: string; posted_at: string; text: string; author_name: string | null; author_url: string | null; replied_at: string | null; reply_work_minutes: number | null; url: string }>(this.em,
      `SELECT c.page_id, c.external_id, c.posted_at, c.text, c.author_name, c.author_url, c.replied_at, c.reply_work_minutes, p.url
         FROM official_page_comment c JOIN official_page p ON p.id = c.page_id
         LEFT JOIN appeal a ON a.municipality_id = c.municipality_id AND a.id = c.appeal_id
        WHERE ${where.join(' AND ')} ORDER BY c.posted_at, c.id LIMIT 50000`, params);
    if (!rows.length) return { comments: 0, inserted: 0, updated: 0, rejected: 0, batchId: null };
    const lines = rows.map((r) => JSON.stringify({
      id: `page${r.page_id}-${r.external_id}`, created_at: new Date(r.posted_at).toISOString(), text: r.text,
      author: { name: r.author_name, url: r.author_url }, first_response_at: r.replied_at ? new Date(r.replied_at).toISOString() : null,
    }) + '\n');
    const mapping = {
      name: 'Комментарии на официальных страницах', channel: 'OFFICIAL_PAGE', format: 'jsonl',
      fields: { externalId: 'id', receivedAt: 'created_at', text: 'text', authorName: 'author.name', authorProfileUrl: 'author.url', firstResponseAt: 'first_response_at' },
    };
    const intake = new IntakeService(this.em, this.municipalityId, this.opts.user?.login ?? this.opts.actor ?? 'system:official_pages');
    const report = await intake.importFile(Readable.from(lines), { fileName: 'official-page-comments', mapping, format: 'jsonl' });
    await this.em.transactional(async (tem) => {
      const linked = await query<{ id: number }>(tem, `UPDATE official_page_comment c SET appeal_id = a.id
          FROM appeal a
         WHERE a.municipality_id = c.municipality_id AND a.channel = 'OFFICIAL_PAGE' AND a.external_id = 'page' || c.page_id || '-' || c.external_id
           AND c.municipality_id = ? AND c.appeal_id IS NULL AND c.page_id = ANY(?::int[])
        RETURNING c.id`, [this.municipalityId, [...new Set(rows.map((r) => r.page_id))]]);
      await audit(tem, this.actorCtx, { entity: 'official_page_comment', action: 'take-as-appeals', after: { comments: rows.length, linked: linked.length, batchId: report.batchId, inserted: report.inserted } });
    });
    return { comments: rows.length, inserted: report.inserted, updated: report.updated, rejected: report.rejected, batchId: report.batchId };
  }

  /**
   * Fetches a VK page's month through the VK API and stores it exactly as the file import would (same checks,
   * all-or-nothing): the counters as a statistics row, the comments with the community's replies, and the page's
   * marks (verified, cover, description, comments open) from groups.getById, audited.
   */
  async syncFromVk(idArg: string, monthValue: string, client: VkClient = VkClient.fromEnv()): Promise<{ stats: PageImportReport; comments: PageImportReport | null }> {
    const page = await this.get(idArg);
    if (!page) throw new InputError('id', `страница ${idArg} не найдена`);
    if (page.platform !== 'VK') throw new InputError('id', `страница ${page.url} не во ВКонтакте: загрузите её статистику файлом`);
    const month = monthArg('month', monthValue);
    const { timezone } = await pagesSettings(this.em, this.municipalityId);
    const start = (m: string) => {
      const [y, mo] = m.split('-').map(Number);
      return new Date(localToUtc(timezone, Date.UTC(y, mo - 1, 1) / DAY, 0));
    };
    const from = start(month);
    const to = start(addMonths(month, 1));
    const handle = checkPageUrl('VK', page.url).handle!;
    const data = await client.monthData(handle, from, to);
    const statsMap = builtinPageMapping('stats').fields;
    const sum = (f: (p: (typeof data.posts)[number]) => number) => data.posts.reduce((s, p) => s + f(p), 0);
    const statsCsv = stringify([{
      [statsMap.page.column]: page.url, [statsMap.month.column]: month.slice(0, 7), [statsMap.posts.column]: data.posts.length,
      [statsMap.views.column]: sum((p) => p.views), [statsMap.likes.column]: sum((p) => p.likes), [statsMap.reposts.column]: sum((p) => p.reposts),
      [statsMap.comments.column]: sum((p) => p.comments), [statsMap.subscribers.column]: data.group.membersCount,
    }], { header: true, delimiter: ';' });
    // All or nothing: the month's statistics, its comments and the page's marks are stored together, or not at all
    // (a response the import refuses is an error naming the response and its rows).
    return this.em.transactional(async (tem) => {
      const svc = new PageService(tem, this.opts);
      const refused = (what: string, r: PageImportReport) => new InputError('vk', `VK API, страница ${handle}, ${month.slice(0, 7)}: ${what} не приняты — ` +
        r.issues.filter((i) => i.severity === 'ERROR').slice(0, 5).map((i) => `строка ${i.line}, ${i.field}: ${i.reason}`).join('; '));
      const stats = await svc.importFile('stats', Readable.from([statsCsv]), { fileName: `vk-api:${handle}:${month.slice(0, 7)}.csv`, format: 'csv' });
      if (stats.status !== 'DONE') throw refused('счётчики (groups.getById, wall.get)', stats);
      let comments: PageImportReport | null = null;
      if (data.comments.length) {
        const cm = builtinPageMapping('comments').fields;
        const csv = stringify(data.comments.map((c) => ({
          [cm.page.column]: page.url, [cm.commentId.column]: `${c.postId}_${c.id}`, [cm.postedAt.column]: c.date.toISOString(), [cm.text.column]: c.text.slice(0, 4000) || '(без текста)',
          [cm.author.column]: '', [cm.authorUrl.column]: c.fromId > 0 ? `https://vk.com/id${c.fromId}` : '', [cm.repliedAt.column]: c.replyAt ? c.replyAt.toISOString() : '', [cm.replyText.column]: c.replyText?.slice(0, 20_000) ?? '', [cm.kind.column]: '',
        })), { header: true, delimiter: ';' });
        comments = await svc.importFile('comments', Readable.from([csv]), { fileName: `vk-api:${handle}:${month.slice(0, 7)}-comments.csv`, format: 'csv' });
        if (comments.status !== 'DONE') throw refused('комментарии (wall.getComments)', comments);
      }
      const g = data.group;
      const marks = { verified: g.verified, hasCover: g.hasCover, hasDescription: g.hasDescription, commentsOpen: g.canComment ?? page.commentsOpen };
      const changed = (Object.keys(marks) as (keyof typeof marks)[]).filter((k) => page[k] !== marks[k]);
      if (changed.length) {
        await query(tem, `UPDATE official_page SET verified = ?, has_cover = ?, has_description = ?, comments_open = ?, updated_at = now() WHERE id = ?`,
          [marks.verified, marks.hasCover, marks.hasDescription, marks.commentsOpen, page.id]);
        await audit(tem, this.actorCtx, { entity: 'official_page', entityId: page.id, action: 'vk-sync',
          before: Object.fromEntries(changed.map((k) => [k, page[k]])), after: Object.fromEntries(changed.map((k) => [k, marks[k]])) });
        await svc.recompute(undefined, undefined, tem);
      }
      return { stats, comments };
    });
  }
}

/** Raw rows carry timestamps as text ("2026-12-02 03:53:14.2+00"), which the DateTime scalar refuses: Dates. */
function pageDates(r: PageRow): PageRow {
  return { ...r, createdAt: new Date(r.createdAt), updatedAt: new Date(r.updatedAt) };
}
