import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { parseId } from '../graphql/ids.js';
import type { CommKind } from './detector.js';
import { CommunicationService } from './service.js';

@ObjectType({ description: 'Вид ошибки коммуникации (словарь — db/reference/communication/lexicon.json)' })
class CommKindType {
  @Field() code!: string;
  @Field() label!: string;
  @Field() description!: string;
  @Field(() => Int, { description: 'Сколько выражений словаря относится к виду' }) patterns!: number;
}

@ObjectType({ description: 'Проверка ответов на ошибки коммуникации' })
class CommRun {
  @Field(() => ID) runId!: string;
  @Field() periodFrom!: string;
  @Field() periodTo!: string;
  @Field(() => Int, { description: 'Проверено ответов на обращения' }) answers!: number;
  @Field(() => Int, { description: 'Проверено ответов на официальных страницах' }) replies!: number;
  @Field(() => Int) findings!: number;
  @Field(() => GraphQLJSONObject, { description: 'Число найденного по видам' }) byKind!: Record<string, number>;
}

@ObjectType({ description: 'Последняя проверка' })
class CommLastRun {
  @Field(() => ID) id!: string;
  @Field() actor!: string;
  @Field() periodFrom!: string;
  @Field() periodTo!: string;
  @Field(() => Int) answers!: number;
  @Field(() => Int) replies!: number;
  @Field(() => Int) findings!: number;
  @Field() finishedAt!: Date;
  @Field(() => Int) lexiconVersion!: number;
}

@ObjectType({ description: 'Ошибки коммуникации организации по последней проверке' })
class CommSummaryRow {
  @Field(() => ID, { nullable: true }) organizationId!: string | null;
  @Field(() => String, { nullable: true }) organizationName!: string | null;
  @Field(() => Int, { description: 'Ответов на обращения за период проверки' }) answers!: number;
  @Field(() => Int, { description: 'Ответов на обращения с ошибками (ответы на страницах — только в числах по видам)' }) withErrors!: number;
  @Field(() => Number, { nullable: true, description: 'Доля ответов с ошибками (0–1)' }) share!: number | null;
  @Field(() => GraphQLJSONObject, { description: 'Число ошибок по видам' }) byKind!: Record<string, number>;
}

@ObjectType({ description: 'Ошибка коммуникации: вид, объяснение и фрагмент ответа' })
class CommFinding {
  @Field(() => ID) id!: string;
  @Field() kind!: string;
  @Field() kindLabel!: string;
  @Field({ description: 'APPEAL — ответ на обращение, PAGE_REPLY — ответ на официальной странице' }) source!: string;
  @Field(() => ID, { nullable: true }) appealId!: string | null;
  @Field(() => String, { nullable: true }) appealExternalId!: string | null;
  @Field(() => ID, { nullable: true }) commentId!: string | null;
  @Field(() => ID, { nullable: true }) organizationId!: string | null;
  @Field(() => String, { nullable: true }) organizationName!: string | null;
  @Field(() => ID, { nullable: true, description: 'Для противоречий: обращение с другим ответом' }) otherAppealId!: string | null;
  @Field(() => String, { nullable: true, description: 'Для противоречий: другая организация' }) otherOrganizationName!: string | null;
  @Field({ description: 'Правило словаря' }) rule!: string;
  @Field() explanation!: string;
  @Field({ description: 'Фрагмент ответа' }) excerpt!: string;
  @Field(() => Date, { nullable: true }) answeredAt!: Date | null;
}

@ObjectType()
class CommFindingPage {
  @Field(() => Int) total!: number;
  @Field(() => [CommFinding]) items!: CommFinding[];
}

@ObjectType()
class CommHitType {
  @Field() kind!: string;
  @Field() kindLabel!: string;
  @Field() rule!: string;
  @Field() explanation!: string;
  @Field() excerpt!: string;
}

@ObjectType({ description: 'Разбор одного текста ответа' })
class CommAnalysis {
  @Field(() => [CommHitType]) hits!: CommHitType[];
  @Field(() => String, { nullable: true, description: 'DONE, PLANNED, NOT_PLANNED, NOT_COMPETENT' }) stance!: string | null;
  @Field(() => String, { nullable: true }) stanceLabel!: string | null;
}

const service = (ctx: Context) => new CommunicationService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });

@Resolver()
export class CommunicationResolver {
  @Authorized(READERS)
  @Query(() => [CommKindType], { description: 'Виды ошибок коммуникации (п. 2.1.3)' })
  communicationKinds(@Ctx() ctx: Context) {
    return service(ctx).kinds();
  }

  @Authorized(READERS)
  @Query(() => CommLastRun, { nullable: true, description: 'Последняя проверка ответов' })
  communicationLastRun(@Ctx() ctx: Context) {
    return service(ctx).lastRun();
  }

  @Authorized(READERS)
  @Query(() => [CommSummaryRow], { description: 'Ошибки коммуникации по организациям (последняя проверка; сотрудник организации видит свою)' })
  communicationSummary(@Ctx() ctx: Context) {
    return service(ctx).summary();
  }

  @Authorized(READERS)
  @Query(() => CommFindingPage, { description: 'Найденные ошибки с объяснением и фрагментом ответа' })
  communicationFindings(@Ctx() ctx: Context, @Arg('organizationId', () => ID, { nullable: true }) organizationId?: string, @Arg('kind', { nullable: true }) kind?: string,
    @Arg('first', () => Int, { defaultValue: 50 }) first = 50, @Arg('offset', () => Int, { defaultValue: 0 }) offset = 0) {
    return service(ctx).findings(organizationId ? parseId('organizationId', organizationId) : null, (kind as CommKind) ?? null, first, offset);
  }

  @Authorized(READERS)
  @Query(() => CommAnalysis, { description: 'Проверить один текст ответа (ничего не сохраняется)' })
  analyseAnswerText(@Ctx() ctx: Context, @Arg('text') text: string, @Arg('address', () => String, { nullable: true }) address?: string, @Arg('author', () => String, { nullable: true }) author?: string) {
    return service(ctx).analyse(text, address, author);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => CommRun, { description: 'Проверить ответы периода (по умолчанию — 365 дней до последнего обращения); найденное заменяет прошлую проверку' })
  runCommunicationCheck(@Ctx() ctx: Context, @Arg('from', () => String, { nullable: true }) from?: string, @Arg('to', () => String, { nullable: true }) to?: string) {
    return service(ctx).check(from, to).then((r) => ({ ...r, runId: String(r.runId) }));
  }
}

export const communicationResolvers = [CommunicationResolver] as const;
