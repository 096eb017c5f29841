import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { GraphQLUpload } from 'graphql-upload-minimal';
import type { Readable } from 'node:stream';
import { GraphQLError } from 'graphql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import type { Context } from '../graphql/context.js';
import { Organization } from '../reference/entities.js';
import { Role, READERS, REFERENCE_EDITORS, IMPORTERS } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { CHECK_INFO, type CheckCode, type PageMonth } from './checks.js';
import { pagesSettings } from './config.js';
import { addMonths, monthArg, PageService, type CategoryRow, type PageRow } from './service.js';
import { checkPosWidgetUrl } from './urls.js';
import {
  CommentsToAppealsResult, OfficialPage, OfficialPageConnection, OfficialPageFilter, OfficialPageInput, OrgPageScore, PageCategory, PageCategoryInput,
  PageFileFormat, PageFileKind, PageImportReportType, PageMonthResult, PageRating, PageRecomputeResult, VkSyncResult,
} from './types.js';

/** Who edits the registry and categories (the task: administrators and coordinators; curators have full access). */
const PAGE_EDITORS = REFERENCE_EDITORS;
/** Who loads statistics and comments files, recomputes and syncs (the centre's staff). */
const PAGE_LOADERS: Role[] = [Role.ADMIN, Role.CURATOR, Role.COORDINATOR, Role.WORKER];

interface FileUpload { filename: string; mimetype: string; createReadStream(): Readable }

const service = (ctx: Context) =>
  new PageService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });

const out = (m: PageMonth & { rank?: number }): PageMonthResult => ({ ...m, month: m.month.slice(0, 7), checks: m.checks as PageMonthResult['checks'] });

/** Per-request caches (one query per month for every page of a list, not one per page). */
const monthCache = new WeakMap<Context, Map<string, Promise<Map<number, PageMonth>>>>();
const categoryCache = new WeakMap<Context, Promise<Map<number, CategoryRow>>>();
const pageCache = new WeakMap<Context, Promise<Map<number, PageRow>>>();

function monthResults(ctx: Context, month: string): Promise<Map<number, PageMonth>> {
  let m = monthCache.get(ctx);
  if (!m) monthCache.set(ctx, (m = new Map()));
  let p = m.get(month);
  if (!p) {
    p = service(ctx).results(month, month).then((rows) => new Map(rows.map((r) => [r.pageId, r])));
    m.set(month, p);
  }
  return p;
}

async function defaultMonth(ctx: Context, month?: string | null): Promise<string | null> {
  if (month) return monthArg('month', month);
  return service(ctx).latestMonth();
}

@Resolver()
export class PageQueries {
  @Authorized(READERS)
  @Query(() => OfficialPageConnection, { description: 'Реестр официальных страниц; сотрудник организации видит страницы своей организации и подведомственных; first ≤ 500' })
  async officialPages(
    @Ctx() ctx: Context,
    @Arg('filter', () => OfficialPageFilter, { nullable: true }) filter: OfficialPageFilter | undefined,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
  ): Promise<OfficialPageConnection> {
    const { rows, total, offset } = await service(ctx).list(filter, first, after);
    const cursor = (i: number) => Buffer.from(`o:${offset + i}`).toString('base64');
    return {
      edges: rows.map((r, i) => ({ cursor: cursor(i), node: r as unknown as OfficialPage })),
      totalCount: total,
      pageInfo: { hasNextPage: offset + rows.length < total, hasPreviousPage: offset > 0, startCursor: rows.length ? cursor(0) : null, endCursor: rows.length ? cursor(rows.length - 1) : null },
    };
  }

  @Authorized(READERS)
  @Query(() => OfficialPage, { nullable: true })
  officialPage(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return service(ctx).get(id);
  }

  @Authorized(READERS)
  @Query(() => [PageCategory], { description: 'Категории страниц и их целевые показатели' })
  pageCategories(@Ctx() ctx: Context) {
    return service(ctx).categories();
  }

  @Authorized(READERS)
  @Query(() => [String], { description: 'Месяцы, за которые есть статистика (ГГГГ-ММ), новые сначала' })
  async officialPageMonths(@Ctx() ctx: Context) {
    const r = await query<{ m: string }>(ctx.em, `SELECT DISTINCT to_char(month, 'YYYY-MM') AS m FROM official_page_stat WHERE municipality_id = ? ORDER BY 1 DESC LIMIT 120`, [ctx.municipalityId]);
    return r.map((x) => x.m);
  }

  @Authorized(READERS)
  @Query(() => PageRating, { nullable: true, description: 'Рейтинг страниц и организаций по страницам за месяц (ГГГГ-ММ; по умолчанию — последний месяц со статистикой)' })
  async officialPageRating(@Ctx() ctx: Context, @Arg('month', () => String, { nullable: true }) month?: string): Promise<PageRating | null> {
    const m = await defaultMonth(ctx, month);
    if (!m) return null;
    const r = await service(ctx).rating(m);
    return {
      month: m.slice(0, 7),
      pages: r.pages.map(out),
      organizations: r.organizations.map((o) => ({
        ...o, month: o.month.slice(0, 7),
        breakdown: Object.entries(o.passShare).map(([code, share]) => ({ code, label: CHECK_INFO[code as CheckCode].label, share })),
      })) as OrgPageScore[],
    };
  }

  @Authorized(PAGE_EDITORS)
  @Mutation(() => OfficialPage, { description: 'Добавить страницу в реестр' })
  createOfficialPage(@Ctx() ctx: Context, @Arg('input', () => OfficialPageInput) input: OfficialPageInput) {
    return service(ctx).create(input as never);
  }

  @Authorized(PAGE_EDITORS)
  @Mutation(() => OfficialPage, { description: 'Изменить страницу реестра' })
  updateOfficialPage(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('input', () => OfficialPageInput) input: OfficialPageInput) {
    return service(ctx).update(id, input as never);
  }

  @Authorized(PAGE_EDITORS)
  @Mutation(() => Boolean, { description: 'Удалить страницу из реестра (со статистикой и комментариями)' })
  deleteOfficialPage(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return service(ctx).remove(id);
  }

  @Authorized(PAGE_EDITORS)
  @Mutation(() => PageCategory, { description: 'Создать или изменить категорию страниц (по коду) и её целевые показатели' })
  upsertPageCategory(@Ctx() ctx: Context, @Arg('input', () => PageCategoryInput) input: PageCategoryInput) {
    return service(ctx).upsertCategory(input);
  }

  @Authorized(PAGE_LOADERS)
  @Mutation(() => PageImportReportType, {
    description: 'Загрузить файл: реестр страниц (pages), статистику по месяцам (stats) или комментарии с ответами (comments). Всё или ничего: при ошибках файл отклоняется целиком (status REJECTED) с перечнем строк',
  })
  async importOfficialPageFile(
    @Ctx() ctx: Context,
    @Arg('kind', () => PageFileKind) kind: PageFileKind,
    @Arg('file', () => GraphQLUpload) file: Promise<FileUpload>,
    @Arg('mapping', () => GraphQLJSONObject, { nullable: true }) mapping?: Record<string, unknown>,
    @Arg('format', () => PageFileFormat, { nullable: true }) format?: PageFileFormat,
  ) {
    if (kind === PageFileKind.PAGES && ctx.user && !PAGE_EDITORS.includes(ctx.user.role)) {
      throw new GraphQLError('Реестр страниц загружают администратор, куратор или руководитель-координатор', { extensions: { code: 'FORBIDDEN' } });
    }
    const f = await file;
    return service(ctx).importFile(kind as never, f.createReadStream(), { fileName: f.filename, mapping, format: format as never });
  }

  @Authorized(PAGE_LOADERS)
  @Mutation(() => PageRecomputeResult, { description: 'Пересчитать баллы организаций по страницам (org_indicator_value) за месяцы ГГГГ-ММ (по умолчанию — все)' })
  recomputeOfficialPageScores(@Ctx() ctx: Context, @Arg('from', () => String, { nullable: true }) from?: string, @Arg('to', () => String, { nullable: true }) to?: string) {
    return service(ctx).recompute(from ? monthArg('from', from) : undefined, to ? monthArg('to', to) : undefined);
  }

  @Authorized(IMPORTERS)
  @Mutation(() => CommentsToAppealsResult, { description: 'Принять комментарии-вопросы и жалобы как обращения (канал OFFICIAL_PAGE) через общий приём' })
  takeOfficialPageCommentsAsAppeals(@Ctx() ctx: Context, @Arg('pageIds', () => [ID], { nullable: true }) pageIds?: string[],
    @Arg('from', () => String, { nullable: true }) from?: string, @Arg('to', () => String, { nullable: true }) to?: string) {
    return service(ctx).takeCommentsAsAppeals({ pageIds, fromMonth: from ? monthArg('from', from) : undefined, toMonth: to ? monthArg('to', to) : undefined });
  }

  @Authorized(PAGE_LOADERS)
  @Mutation(() => VkSyncResult, { description: 'Загрузить месяц страницы ВКонтакте через VK API (нужен VK_API_TOKEN на сервере)' })
  async syncOfficialPageFromVk(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('month') month: string) {
    try {
      return await service(ctx).syncFromVk(id, month);
    } catch (e) {
      if (e instanceof GraphQLError) throw e;
      throw new GraphQLError((e as Error).message, { extensions: { code: 'BAD_REQUEST', field: 'vk' } });
    }
  }
}

@Resolver(() => OfficialPage)
export class OfficialPageFields {
  @FieldResolver(() => Organization)
  organization(@Root() p: PageRow, @Ctx() ctx: Context) {
    return ctx.loaders.organization.load(p.organizationId);
  }

  @FieldResolver(() => PageCategory)
  async category(@Root() p: PageRow, @Ctx() ctx: Context) {
    let c = categoryCache.get(ctx);
    if (!c) categoryCache.set(ctx, (c = service(ctx).categories().then((rows) => new Map(rows.map((r) => [r.id, r])))));
    return (await c).get(p.categoryId);
  }

  @FieldResolver(() => [String], { description: 'Почему ссылка виджета ПОС не по формату (пусто — в порядке)' })
  async posWidgetProblems(@Root() p: PageRow, @Ctx() ctx: Context) {
    if (!p.posWidget) return [];
    if (!p.posWidgetUrl) return ['не указана ссылка виджета'];
    const s = await pagesSettings(ctx.em, ctx.municipalityId);
    return checkPosWidgetUrl(p.posWidgetUrl, { region: s.regionCode || undefined, ogrn: p.ogrn }).problems;
  }

  @FieldResolver(() => PageMonthResult, { nullable: true, description: 'Показатели и проверки за месяц ГГГГ-ММ (по умолчанию — последний со статистикой)' })
  async result(@Root() p: PageRow, @Ctx() ctx: Context, @Arg('month', () => String, { nullable: true }) month?: string) {
    const m = await defaultMonth(ctx, month);
    if (!m) return null;
    const r = (await monthResults(ctx, m)).get(p.id);
    return r ? out(r) : null;
  }

  @FieldResolver(() => [PageMonthResult], { description: 'Динамика по месяцам (до 36), старые сначала' })
  async history(@Root() p: PageRow, @Ctx() ctx: Context, @Arg('months', () => Int, { defaultValue: 12 }) months: number) {
    if (months < 1 || months > 36) throw new InputError('months', 'от 1 до 36');
    const last = await service(ctx).latestMonth();
    if (!last) return [];
    return (await service(ctx).results(addMonths(last, -(months - 1)), last, { pageIds: [p.id] })).map(out);
  }
}

@Resolver(() => OrgPageScore)
export class OrgPageScoreFields {
  @FieldResolver(() => Organization)
  organization(@Root() o: OrgPageScore, @Ctx() ctx: Context) {
    return ctx.loaders.organization.load(o.organizationId);
  }
}

@Resolver(() => PageMonthResult)
export class PageMonthFields {
  @FieldResolver(() => OfficialPage, { nullable: true })
  page(@Root() r: PageMonthResult, @Ctx() ctx: Context) {
    let c = pageCache.get(ctx);
    if (!c) pageCache.set(ctx, (c = service(ctx).all().then((rows) => new Map(rows.map((x) => [x.id, x])))));
    return c.then((m) => m.get(r.pageId) ?? null);
  }
}

export const pageResolvers = [PageQueries, OfficialPageFields, OrgPageScoreFields, PageMonthFields] as const;
