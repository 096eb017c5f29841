import type { Readable } from 'node:stream';
import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { GraphQLUpload } from 'graphql-upload-minimal';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS, REFERENCE_EDITORS, Role } from '../auth/roles.js';
import { InputError } from '../errors.js';
import { RatingService } from './service.js';
import { importIndicators, readBounded } from './indicators.js';
import { periodOut, queueItemOut, rowOut, settingsOut } from './present.js';
import {
  ControlQueueConnection, ControlQueueState, IndicatorImportReportType, IndicatorWeightInput, OrganizationRating, OrganizationRatingCard,
  RatingPeriodInput, RatingSettingsType, RatingWeightsInput,
} from './types.js';
import { figuresOut } from './present.js';

interface FileUpload { filename: string; createReadStream(): Readable }

export const ratingService = (ctx: Context) => new RatingService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor });

/** Who edits the weights: the centre's leadership and the administrator (ADMIN, CURATOR, COORDINATOR). */
export const RATING_EDITORS: Role[] = [Role.ADMIN, Role.COORDINATOR, Role.CURATOR];

export function queueConnection(r: { items: import('./service.js').QueueItem[]; total: number }, offset: number): ControlQueueConnection {
  const edges = r.items.map((n, i) => ({ cursor: Buffer.from(`q:${offset + i + 1}`).toString('base64url'), node: queueItemOut(n) }));
  return {
    edges, totalCount: r.total,
    pageInfo: { hasNextPage: offset + edges.length < r.total, hasPreviousPage: offset > 0, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

export function parseCursor(after?: string | null): number {
  if (!after) return 0;
  const m = /^q:(\d{1,7})$/.exec(Buffer.from(after, 'base64url').toString());
  if (!m) throw new InputError('after', 'неверный курсор');
  return Number(m[1]);
}

@Resolver()
export class RatingResolver {
  @Authorized(READERS)
  @Query(() => OrganizationRating, {
    description: 'Рейтинг органов и подведомственных организаций за период (и по тематическому блоку). Баллы и места видны всем ролям '
      + 'внутри администрации; BLOCK_LEAD видит рейтинг своего блока',
  })
  async organizationRating(@Ctx() ctx: Context, @Arg('period', () => RatingPeriodInput) period: RatingPeriodInput,
    @Arg('blockId', () => ID, { nullable: true }) blockId?: string) {
    const r = await ratingService(ctx).rating(period, blockId);
    return { period: periodOut(r.period), blockId: r.blockId == null ? null : String(r.blockId), rows: r.rows.map(rowOut), settings: settingsOut(r.settings), computedAt: r.computedAt };
  }

  @Authorized(READERS)
  @Query(() => OrganizationRatingCard, { description: 'Карточка организации: место, факторы, динамика по месяцам, просроченные и под угрозой, формальные ответы. ORG_OFFICER — только своя организация и подведомственные' })
  async organizationRatingCard(@Ctx() ctx: Context, @Arg('organizationId', () => ID) organizationId: string,
    @Arg('period', () => RatingPeriodInput) period: RatingPeriodInput, @Arg('blockId', () => ID, { nullable: true }) blockId?: string) {
    const svc = ratingService(ctx);
    const org = await svc.checkOrganization(organizationId);
    const block = await svc.effectiveBlock(blockId);
    const r = await svc.rating(period, block);
    const row = r.rows.find((x) => x.organizationId === org) ?? null;
    const [{ name }] = await ctx.em.execute<{ name: string }[]>('SELECT name FROM organization WHERE id = ?', [org]);
    const trend = await svc.trend(org, period, block);
    const overdue = await svc.queue('OVERDUE', { organizationId: org, blockId: block }, 100, 0);
    const atRisk = await svc.queue('AT_RISK', { organizationId: org, blockId: block }, 100, 0);
    const formal = await svc.formalAnswers(org, period, block);
    return {
      organizationId: String(org), name, period: periodOut(r.period), row: row ? rowOut(row) : null, rankedCount: r.rows.filter((x) => x.rank != null).length,
      trend: trend.map((t) => ({ month: t.month, score: t.score, figures: figuresOut(t.agg) })),
      overdue: queueConnection(overdue, 0), atRisk: queueConnection(atRisk, 0),
      formalAnswers: formal.items.map((f) => ({ ...f, id: String(f.id) })), formalAnswersTotal: formal.total,
    };
  }

  @Authorized(READERS)
  @Query(() => ControlQueueConnection, { description: 'Очередь контроля: открытые обращения с истёкшим сроком или под угрозой, сначала срочные, затем с наименьшим остатком времени; в области доступа пользователя' })
  async controlQueue(@Ctx() ctx: Context, @Arg('state', () => ControlQueueState) state: ControlQueueState,
    @Arg('organizationId', () => ID, { nullable: true }) organizationId?: string, @Arg('blockId', () => ID, { nullable: true }) blockId?: string,
    @Arg('first', () => Int, { defaultValue: 50 }) first = 50, @Arg('after', () => String, { nullable: true }) after?: string) {
    const svc = ratingService(ctx);
    const org = organizationId ? await svc.checkOrganization(organizationId) : null;
    const block = await svc.effectiveBlock(blockId);
    const offset = parseCursor(after);
    return queueConnection(await svc.queue(state, { organizationId: org, blockId: block }, first, offset), offset);
  }

  @Authorized(READERS)
  @Query(() => RatingSettingsType, { description: 'Опубликованные веса и параметры рейтинга' })
  async ratingSettings(@Ctx() ctx: Context) {
    return settingsOut(await ratingService(ctx).settings());
  }

  @Authorized(RATING_EDITORS)
  @Mutation(() => RatingSettingsType, { description: 'Изменить веса и параметры рейтинга (ADMIN, CURATOR, COORDINATOR; изменение записывается в журнал аудита)' })
  async setRatingSettings(@Ctx() ctx: Context,
    @Arg('weights', () => RatingWeightsInput, { nullable: true }) weights?: RatingWeightsInput,
    @Arg('indicatorWeights', () => [IndicatorWeightInput], { nullable: true }) indicatorWeights?: IndicatorWeightInput[],
    @Arg('minAppeals', () => Int, { nullable: true }) minAppeals?: number,
    @Arg('answerTargetMinutes', () => Int, { nullable: true }) answerTargetMinutes?: number,
    @Arg('answerWorstMinutes', () => Int, { nullable: true }) answerWorstMinutes?: number,
    @Arg('satisfactionGoal', () => Number, { nullable: true }) satisfactionGoal?: number) {
    if ((indicatorWeights?.length ?? 0) > 100) throw new InputError('indicatorWeights', 'не более 100 показателей');
    return settingsOut(await ratingService(ctx).updateSettings({ weights: weights ? { ...weights } : undefined, indicatorWeights, minAppeals, answerTargetMinutes, answerWorstMinutes, satisfactionGoal }));
  }

  @Authorized([...new Set([...REFERENCE_EDITORS, ...FULL_ACCESS])])
  @Mutation(() => IndicatorImportReportType, { description: 'Загрузка показателей цифровой трансформации (CSV или XLSX: организация, показатель, значение, период); всё или ничего' })
  async importOrgIndicators(@Ctx() ctx: Context, @Arg('file', () => GraphQLUpload) file: Promise<FileUpload>,
    @Arg('periodStart', () => String, { nullable: true }) periodStart?: string, @Arg('periodEnd', () => String, { nullable: true }) periodEnd?: string) {
    const f = await file;
    const buf = await readBounded(f.createReadStream());
    return importIndicators(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor }, buf, f.filename ?? 'file', { periodStart, periodEnd });
  }
}

export const ratingResolvers = [RatingResolver] as const;
