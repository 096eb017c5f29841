import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { RecommendationService } from './service.js';
import { Recommendation, RecommendationConnection, RecommendationDecision, RecommendationEvidence, RecommendationFilter, RecommendationRule, RecommendationRun } from './types.js';

const service = (ctx: Context) =>
  new RecommendationService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });

@Resolver()
export class RecommendationQueries {
  @Authorized(READERS)
  @Query(() => [RecommendationRule], { description: 'Правила рекомендаций с порогами и объяснением' })
  recommendationRules(@Ctx() ctx: Context) { return service(ctx).rules(); }

  @Authorized(READERS)
  @Query(() => RecommendationConnection, { description: 'Рекомендации: сначала предложенные; first ≤ 500' })
  recommendations(@Ctx() ctx: Context, @Arg('filter', () => RecommendationFilter, { nullable: true }) filter: RecommendationFilter | undefined,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number, @Arg('after', () => String, { nullable: true }) after: string | undefined) {
    return service(ctx).list(filter, first, after);
  }

  @Authorized(READERS)
  @Query(() => Recommendation, { nullable: true })
  recommendation(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) { return service(ctx).get(id); }

  @Authorized(FULL_ACCESS)
  @Mutation(() => RecommendationRule, { description: 'Изменить пороги правила или выключить его' })
  setRecommendationRule(@Ctx() ctx: Context, @Arg('code') code: string, @Arg('enabled', () => Boolean, { nullable: true }) enabled?: boolean,
    @Arg('thresholds', () => GraphQLJSONObject, { nullable: true }) thresholds?: Record<string, unknown>) {
    return service(ctx).setRule(code, enabled ?? undefined, thresholds ?? undefined);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => RecommendationRun, { description: 'Рассчитать рекомендации за период (ГГГГ-ММ-ДД; по умолчанию — 90 дней до последнего обращения)' })
  generateRecommendations(@Ctx() ctx: Context, @Arg('from', () => String, { nullable: true }) from?: string, @Arg('to', () => String, { nullable: true }) to?: string) {
    return service(ctx).generate(from ?? undefined, to ?? undefined);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Recommendation, { description: 'Принять (можно с правкой текста) или отклонить (с комментарием) рекомендацию' })
  decideRecommendation(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('decision', () => RecommendationDecision) decision: RecommendationDecision,
    @Arg('text', () => String, { nullable: true }) text?: string, @Arg('comment', () => String, { nullable: true }) comment?: string) {
    return service(ctx).decide(id, decision, text, comment);
  }
}

@Resolver(() => Recommendation)
export class RecommendationFields {
  @FieldResolver(() => [RecommendationEvidence], { description: 'Обращения-доказательства (до 50; только видимые вам), новые сначала' })
  evidenceAppeals(@Root() r: Recommendation, @Ctx() ctx: Context) { return service(ctx).evidence(r.evidenceAppealIds); }
}

export const recommendationResolvers = [RecommendationQueries, RecommendationFields] as const;
