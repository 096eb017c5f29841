import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { District, Organization, Theme } from '../reference/entities.js';
import { FULL_ACCESS, READERS, Role } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { InputError } from '../errors.js';
import { RiskService } from './service.js';
import { RiskPoint, RiskRelatedProblem, RiskRun, RiskSignal, RiskSignalConnection, RiskSignalFilter, RiskStatus } from './types.js';

/** Who may acknowledge and close signals: the centre's leads and the responsible block lead (in their scope). */
const RISK_HANDLERS: Role[] = [...FULL_ACCESS, Role.BLOCK_LEAD];

const service = (ctx: Context) =>
  new RiskService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });

@Resolver()
export class RiskQueries {
  @Authorized(READERS)
  @Query(() => RiskSignalConnection, { description: 'Информационные риски: сначала новые, затем по последнему дню; first ≤ 500' })
  riskSignals(
    @Ctx() ctx: Context,
    @Arg('filter', () => RiskSignalFilter, { nullable: true }) filter: RiskSignalFilter | undefined,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
  ) {
    return service(ctx).list(filter, first, after);
  }

  @Authorized(READERS)
  @Query(() => RiskSignal, { nullable: true, description: 'Карточка сигнала' })
  riskSignal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return service(ctx).get(id);
  }

  @Authorized(READERS)
  @Query(() => Int, { description: 'Число новых сигналов в области видимости пользователя (для значка)' })
  newRiskSignalCount(@Ctx() ctx: Context) {
    return service(ctx).countNew();
  }

  @Authorized(READERS)
  @Query(() => [RiskRun], { description: 'Последние запуски выявления' })
  riskRuns(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 10 }) first: number) {
    return service(ctx).runs(first);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => RiskRun, { description: 'Выявить риски сейчас (полный расчёт по последним дням и неделям; повторный запуск не дублирует сигналы)' })
  async detectRisks(@Ctx() ctx: Context, @Arg('asOf', () => String, { nullable: true, description: 'По какой день (ГГГГ-ММ-ДД); по умолчанию — день последнего обращения' }) asOf?: string) {
    const s = service(ctx);
    const r = await s.run({ mode: 'FULL', asOf: asOf ?? undefined });
    return (await s.runs(1))[0] ?? { id: String(r.runId), mode: 'FULL', actor: ctx.actor, startedAt: new Date(), ms: r.ms, asOf: r.asOf, series: r.series, created: r.created, updated: r.updated, notes: r.notes };
  }

  @Authorized(RISK_HANDLERS)
  @Mutation(() => RiskSignal, { description: 'Принять сигнал к сведению (NEW → ACKNOWLEDGED)' })
  acknowledgeRiskSignal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('comment', () => String, { nullable: true }) comment?: string) {
    return service(ctx).setStatus(id, RiskStatus.ACKNOWLEDGED, comment);
  }

  @Authorized(RISK_HANDLERS)
  @Mutation(() => RiskSignal, { description: 'Закрыть сигнал: RESOLVED (отработан) или FALSE_ALARM (ложная тревога), с комментарием' })
  closeRiskSignal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('status', () => RiskStatus) status: RiskStatus, @Arg('comment', () => String) comment: string) {
    if (status !== RiskStatus.RESOLVED && status !== RiskStatus.FALSE_ALARM) throw new InputError('status', 'закрыть можно как RESOLVED или FALSE_ALARM');
    return service(ctx).setStatus(id, status, comment);
  }
}

@Resolver(() => RiskSignal)
export class RiskSignalFields {
  @FieldResolver(() => District, { nullable: true })
  district(@Root() r: RiskSignal, @Ctx() ctx: Context) { return r.districtId ? ctx.loaders.district.load(r.districtId) : null; }

  @FieldResolver(() => Theme, { nullable: true })
  theme(@Root() r: RiskSignal, @Ctx() ctx: Context) { return r.themeId ? ctx.loaders.theme.load(r.themeId) : null; }

  @FieldResolver(() => Organization, { nullable: true, description: 'Организация ряда или чаще всего ответственная за обращения сигнала' })
  organization(@Root() r: RiskSignal, @Ctx() ctx: Context) { return r.organizationId ? ctx.loaders.organization.load(r.organizationId) : null; }

  @FieldResolver(() => [RiskPoint], { description: 'Ряд с ожидаемым значением и верхней границей (для графика)' })
  series(@Root() r: RiskSignal) { return r.seriesPoints; }

  @FieldResolver(() => [ID], { description: 'Обращения за сигналом (не больше 1000)' })
  appealIds(@Root() r: RiskSignal) { return r.appealIds.map(String); }

  @FieldResolver(() => GraphQLJSONObject, { description: 'Обращения сигнала точками GeoJSON (id, канал, просрочено)' })
  appealsGeoJSON(@Root() r: RiskSignal, @Ctx() ctx: Context) { return service(ctx).appealsGeoJSON(r); }

  @FieldResolver(() => Float, { nullable: true, description: 'Доля обращений из соцсетей и мессенджеров (0…1)' })
  async socialShare(@Root() r: RiskSignal, @Ctx() ctx: Context) { return (await service(ctx).shares(r)).social; }

  @FieldResolver(() => Float, { nullable: true, description: 'Доля просроченных среди обращений сигнала (0…1), по appeal_deadline_state' })
  async overdueShare(@Root() r: RiskSignal, @Ctx() ctx: Context) { return (await service(ctx).shares(r)).overdue; }

  @FieldResolver(() => [RiskRelatedProblem], { description: 'Связанные проблемы перечня' })
  relatedProblems(@Root() r: RiskSignal, @Ctx() ctx: Context) { return service(ctx).relatedProblems(r); }
}

export const riskResolvers = [RiskQueries, RiskSignalFields] as const;
