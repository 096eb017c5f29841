import { Arg, Authorized, Ctx, FieldResolver, ID, Info, Int, Float, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../graphql/context.js';
import { District, Organization, Theme } from '../reference/entities.js';
import { AppealConnection, AppealQueries } from '../appeals/resolver.js';
import { ANSWERERS, APPEAL_EDITORS, FULL_ACCESS, READERS } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { ProblemService } from './service.js';
import type { ProblemSettings } from './settings.js';
import {
  DetectionSettingInput, Problem, ProblemConnection, ProblemEvent, ProblemFilter, ProblemOrder, ProblemRun, ProblemSettingsType,
  ProblemSnapshot, ProblemStatus, WeightsInput,
} from './types.js';

const service = (ctx: Context) =>
  new ProblemService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });

const settingsOut = (s: ProblemSettings): ProblemSettingsType => ({
  defaults: { ...s.defaults, themeId: null },
  themes: s.themes.map((t) => ({ ...t, themeId: String(t.themeId) })),
  weights: s.weights, windowDays: s.windowDays, curHotThreshold: s.curHotThreshold,
});

@Resolver()
export class ProblemQueries {
  @Authorized(READERS)
  @Query(() => ProblemConnection, { description: 'Перечень проблем территории; first ≤ 500' })
  problems(
    @Ctx() ctx: Context,
    @Arg('filter', () => ProblemFilter, { nullable: true }) filter: ProblemFilter | undefined,
    @Arg('orderBy', () => ProblemOrder, { defaultValue: ProblemOrder.SCORE }) orderBy: ProblemOrder,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
  ) {
    return service(ctx).list(filter, orderBy, first, after);
  }

  @Authorized(READERS)
  @Query(() => Problem, { nullable: true })
  problem(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return service(ctx).get(id);
  }

  @Authorized(READERS)
  @Query(() => [ProblemRun], { description: 'Последние пересчёты перечня' })
  problemRuns(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 20 }) first: number) {
    return service(ctx).runs(first);
  }

  @Authorized(READERS)
  @Query(() => ProblemSettingsType)
  async problemSettings(@Ctx() ctx: Context) {
    return settingsOut(await service(ctx).settings());
  }

  // The city-wide problem list is the centre's: only curators and coordinators recompute it (any period changes
  // the list for everyone); a block lead or a worker has no block-scoped recompute.
  @Authorized(FULL_ACCESS)
  @Mutation(() => ProblemRun, { description: 'Пересчитать перечень проблем за период (по умолчанию — настроенное число дней до сегодня); только куратор и руководитель-координатор' })
  async recomputeProblems(@Ctx() ctx: Context, @Arg('from', { nullable: true }) from?: Date, @Arg('to', { nullable: true }) to?: Date) {
    const s = service(ctx);
    const r = await s.recompute(from, to);
    return (await s.runs(1, r.runId))[0];
  }

  @Authorized(ANSWERERS)
  @Mutation(() => Problem, { description: 'Перевести проблему в другой статус жизненного цикла (для «отклонена» нужен комментарий)' })
  setProblemStatus(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('status', () => ProblemStatus) status: ProblemStatus,
    @Arg('comment', () => String, { nullable: true }) comment?: string) {
    return service(ctx).setStatus(id, status, comment);
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Problem, { description: 'Назначить ответственную организацию' })
  assignProblem(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('organizationId', () => ID) organizationId: string,
    @Arg('comment', () => String, { nullable: true }) comment?: string) {
    return service(ctx).assign(id, organizationId, comment);
  }

  @Authorized(ANSWERERS)
  @Mutation(() => Problem, { description: 'Добавить комментарий к проблеме' })
  commentProblem(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('comment') comment: string) {
    return service(ctx).comment(id, comment);
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Problem, { description: 'Установить плановый срок решения (ГГГГ-ММ-ДД; null — снять)' })
  setProblemPlanDue(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('planDueAt', () => String, { nullable: true }) planDueAt: string | null,
    @Arg('comment', () => String, { nullable: true }) comment?: string) {
    return service(ctx).setPlanDue(id, planDueAt, comment);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ProblemSettingsType, { description: 'Изменить параметры выявления и веса факторов; новые веса сразу пересчитывают баллы' })
  async setProblemSettings(
    @Ctx() ctx: Context,
    @Arg('detection', () => DetectionSettingInput, { nullable: true }) detection?: DetectionSettingInput,
    @Arg('weights', () => WeightsInput, { nullable: true }) weights?: WeightsInput,
    @Arg('windowDays', () => Int, { nullable: true }) windowDays?: number,
    @Arg('curHotThreshold', () => Float, { nullable: true }) curHotThreshold?: number,
  ) {
    return settingsOut(await service(ctx).updateSettings(detection, weights, windowDays, curHotThreshold));
  }
}

@Resolver(() => Problem)
export class ProblemFields {
  @FieldResolver(() => Theme, { nullable: true })
  theme(@Root() p: Readonly<Problem>, @Ctx() ctx: Context) {
    return p.themeId ? ctx.loaders.theme.load(p.themeId) : null;
  }

  @FieldResolver(() => District, { nullable: true })
  district(@Root() p: Readonly<Problem>, @Ctx() ctx: Context) {
    return p.districtId ? ctx.loaders.district.load(p.districtId) : null;
  }

  @FieldResolver(() => Organization, { nullable: true, description: 'Ответственная организация' })
  organization(@Root() p: Readonly<Problem>, @Ctx() ctx: Context) {
    return p.organizationId ? ctx.loaders.organization.load(p.organizationId) : null;
  }

  @FieldResolver(() => [ProblemSnapshot], { description: 'Размер и балл при каждом пересчёте' })
  history(@Root() p: Readonly<Problem>, @Ctx() ctx: Context) {
    return service(ctx).history(Number(p.id));
  }

  @FieldResolver(() => [ProblemEvent], { description: 'История изменений' })
  events(@Root() p: Readonly<Problem>, @Ctx() ctx: Context) {
    return service(ctx).events(Number(p.id));
  }

  @FieldResolver(() => AppealConnection, { description: 'Обращения проблемы (последнего пересчёта), новые сначала' })
  appeals(
    @Root() p: Readonly<Problem>,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Info() info: GraphQLResolveInfo,
  ) {
    return new AppealQueries().appeals(ctx, first, after, { problemId: p.id }, info);
  }
}

export const problemResolvers = [ProblemQueries, ProblemFields] as const;
