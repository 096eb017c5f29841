import { Arg, Authorized, Ctx, Field, Float, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS } from '../auth/roles.js';
import { parseId } from '../graphql/ids.js';
import { SeminarService, type InviteBasis } from './service.js';

@ObjectType({ description: 'Приглашённый на семинар' })
class SeminarInvitee {
  @Field(() => ID) id!: string;
  @Field(() => ID) organizationId!: string;
  @Field() organizationName!: string;
  @Field(() => String, { nullable: true }) person?: string | null;
  @Field(() => String, { nullable: true, description: 'Почему приглашён (например, доля отписок выше городской)' }) reason?: string | null;
  @Field(() => Boolean, { nullable: true, description: 'Присутствовал (после проведения)' }) attended?: boolean | null;
}

@ObjectType({ description: 'Семинар для специалистов органов и организаций' })
class Seminar {
  @Field(() => ID) id!: string;
  @Field() topic!: string;
  @Field({ description: 'Дата проведения, ГГГГ-ММ-ДД' }) heldOn!: string;
  @Field({ description: 'CENTRE — МЦУ, CENTRE_WITH_CUR — МЦУ совместно с ЦУР' }) organiser!: string;
  @Field(() => String, { nullable: true }) place?: string | null;
  @Field({ description: 'PLANNED, HELD, CANCELLED' }) status!: string;
  @Field(() => [String], { description: 'Материалы: ссылки или названия документов' }) materials!: string[];
  @Field() createdBy!: string;
  @Field(() => [SeminarInvitee]) invitees!: SeminarInvitee[];
  @Field(() => Int) invitedCount!: number;
  @Field(() => Int) attendedCount!: number;
}

@InputType()
class SeminarInput {
  @Field() topic!: string;
  @Field() heldOn!: string;
  @Field({ defaultValue: 'CENTRE' }) organiser!: string;
  @Field(() => String, { nullable: true }) place?: string | null;
  @Field(() => [String], { nullable: true }) materials?: string[] | null;
}

@InputType()
class InviteeInput {
  @Field(() => ID) organizationId!: string;
  @Field(() => String, { nullable: true }) person?: string | null;
  @Field(() => String, { nullable: true }) reason?: string | null;
}

@ObjectType({ description: 'Кого пригласить по цифрам' })
class InviteSuggestion {
  @Field(() => ID) organizationId!: string;
  @Field() organizationName!: string;
  @Field(() => Float, { description: 'Показатель организации (%, или число ошибок)' }) figure!: number;
  @Field(() => Float, { nullable: true, description: 'Тот же показатель по городу' }) cityFigure?: number | null;
  @Field() reason!: string;
}

@ObjectType({ description: 'Лучшая практика' })
class BestPractice {
  @Field(() => ID) id!: string;
  @Field() title!: string;
  @Field() description!: string;
  @Field({ description: 'Источник (муниципалитет, регион, документ)' }) source!: string;
  @Field(() => ID, { nullable: true }) organizationId?: string | null;
  @Field(() => String, { nullable: true }) organizationName?: string | null;
  @Field(() => String, { nullable: true }) indicatorName?: string | null;
  @Field(() => String, { nullable: true }) indicatorUnit?: string | null;
  @Field(() => String, { nullable: true }) beforeMonth?: string | null;
  @Field(() => String, { nullable: true }) afterMonth?: string | null;
  @Field(() => Float, { nullable: true, description: 'Значение показателя до (из комплекса показателей)' }) beforeValue?: number | null;
  @Field(() => Float, { nullable: true, description: 'Значение показателя после' }) afterValue?: number | null;
  @Field() createdBy!: string;
}

@InputType()
class BestPracticeInput {
  @Field() title!: string;
  @Field() description!: string;
  @Field() source!: string;
  @Field(() => ID, { nullable: true }) organizationId?: string | null;
  @Field(() => String, { nullable: true, description: 'Код показателя' }) indicator?: string | null;
  @Field(() => String, { nullable: true, description: 'ГГГГ-ММ' }) beforeMonth?: string | null;
  @Field(() => String, { nullable: true, description: 'ГГГГ-ММ' }) afterMonth?: string | null;
}

const service = (ctx: Context) => new SeminarService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor });
const id = parseId;

@Resolver()
export class SeminarResolver {
  @Authorized(READERS)
  @Query(() => [Seminar], { description: 'Семинары, новые сначала' })
  seminars(@Ctx() ctx: Context) {
    return service(ctx).list();
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Seminar, { description: 'Запланировать семинар' })
  createSeminar(@Ctx() ctx: Context, @Arg('input', () => SeminarInput) input: SeminarInput) {
    return service(ctx).create(input);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Seminar, { description: 'Пригласить организации (и их специалистов) на семинар' })
  inviteToSeminar(@Ctx() ctx: Context, @Arg('seminarId', () => ID) seminarId: string, @Arg('invitees', () => [InviteeInput]) invitees: InviteeInput[]) {
    return service(ctx).invite(id('seminarId', seminarId), invitees);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Seminar, { description: 'Отметить семинар проведённым (с присутствовавшими) или отменённым' })
  completeSeminar(@Ctx() ctx: Context, @Arg('seminarId', () => ID) seminarId: string, @Arg('status') status: string,
    @Arg('attended', () => [ID], { defaultValue: [] }) attended: string[], @Arg('materials', () => [String], { nullable: true }) materials?: string[]) {
    return service(ctx).complete(id('seminarId', seminarId), status as 'HELD', attended, materials);
  }

  @Authorized(READERS)
  @Query(() => [InviteSuggestion], { description: 'Кого пригласить: FORMAL_ANSWERS — много отписок, LATE_ANSWERS — много ответов с нарушением срока, DATA_ERRORS — неустранённые ошибки в данных' })
  seminarInviteSuggestions(@Ctx() ctx: Context, @Arg('basis') basis: string, @Arg('from') from: string, @Arg('to') to: string) {
    return service(ctx).suggest(basis as InviteBasis, from, to);
  }

  @Authorized(READERS)
  @Query(() => [BestPractice], { description: 'Библиотека лучших практик' })
  bestPractices(@Ctx() ctx: Context) {
    return service(ctx).practices();
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => BestPractice, { description: 'Добавить лучшую практику (с показателем до и после — из комплекса показателей)' })
  addBestPractice(@Ctx() ctx: Context, @Arg('input', () => BestPracticeInput) input: BestPracticeInput) {
    return service(ctx).addPractice(input);
  }
}

export const seminarResolvers = [SeminarResolver] as const;
