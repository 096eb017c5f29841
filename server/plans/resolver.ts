import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS, Role } from '../auth/roles.js';
import { parseId } from '../graphql/ids.js';
import { PlanService } from './service.js';
import { ActivityPlan, PlanInput, PlanItemInput, PlanItemProgressInput } from './types.js';

const service = (ctx: Context) => new PlanService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor });
const id = parseId;

@Resolver()
export class PlanResolver {
  @Authorized(READERS)
  @Query(() => [ActivityPlan], { description: 'Планы деятельности центра, новые сначала' })
  activityPlans(@Ctx() ctx: Context) {
    return service(ctx).list();
  }

  @Authorized(READERS)
  @Query(() => ActivityPlan)
  activityPlan(@Ctx() ctx: Context, @Arg('id', () => ID) planId: string) {
    return service(ctx).get(id('id', planId));
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ActivityPlan, { description: 'Подготовить проект плана на квартал или год (руководитель-координатор)' })
  createActivityPlan(@Ctx() ctx: Context, @Arg('input', () => PlanInput) input: PlanInput) {
    return service(ctx).create(input);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ActivityPlan, { description: 'Добавить мероприятие в проект плана' })
  addPlanItem(@Ctx() ctx: Context, @Arg('planId', () => ID) planId: string, @Arg('input', () => PlanItemInput) input: PlanItemInput) {
    return service(ctx).addItem(id('planId', planId), input);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ActivityPlan, { description: 'Изменить мероприятие проекта плана' })
  updatePlanItem(@Ctx() ctx: Context, @Arg('itemId', () => ID) itemId: string, @Arg('input', () => PlanItemInput) input: PlanItemInput) {
    return service(ctx).updateItem(id('itemId', itemId), input);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ActivityPlan, { description: 'Отметить ход исполнения мероприятия утверждённого плана' })
  setPlanItemProgress(@Ctx() ctx: Context, @Arg('itemId', () => ID) itemId: string, @Arg('input', () => PlanItemProgressInput) input: PlanItemProgressInput) {
    return service(ctx).setProgress(id('itemId', itemId), input);
  }

  @Authorized([Role.CURATOR])
  @Mutation(() => ActivityPlan, { description: 'Утвердить план (куратор)' })
  approveActivityPlan(@Ctx() ctx: Context, @Arg('planId', () => ID) planId: string) {
    return service(ctx).approve(id('planId', planId));
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ActivityPlan, { description: 'Закрыть утверждённый план по окончании периода' })
  closeActivityPlan(@Ctx() ctx: Context, @Arg('planId', () => ID) planId: string) {
    return service(ctx).close(id('planId', planId));
  }
}

export const planResolvers = [PlanResolver] as const;
