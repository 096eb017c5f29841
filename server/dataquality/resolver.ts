import { Arg, Authorized, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS, REFERENCE_EDITORS } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { parseId } from '../graphql/ids.js';
import { DQ_RULES, DataQualityService } from './service.js';

@ObjectType({ description: 'Правило контроля качества данных' })
class DqRuleType {
  @Field() code!: string;
  @Field() name!: string;
  @Field() description!: string;
  @Field() enabled!: boolean;
}

@ObjectType({ description: 'Пороги и включённые правила контроля качества данных' })
class DqSettingsType {
  @Field(() => Int, { description: 'Обращение «застряло», если статус не менялся дольше стольких дней' }) stuckDays!: number;
  @Field(() => Int, { description: 'Адрес из одного источника не распознан столько раз и более' }) geocodeFailures!: number;
  @Field(() => [String]) disabledRules!: string[];
  @Field(() => [DqRuleType]) rules!: DqRuleType[];
}

@InputType()
class DqSettingsInput {
  @Field(() => Int, { nullable: true }) stuckDays?: number;
  @Field(() => Int, { nullable: true }) geocodeFailures?: number;
  @Field(() => [String], { nullable: true }) disabledRules?: string[];
}

@ObjectType({ description: 'Ошибка в данных, найденная правилом' })
class DqFinding {
  @Field(() => ID) id!: string;
  @Field() rule!: string;
  @Field(() => ID, { nullable: true }) organizationId?: string | null;
  @Field(() => String, { nullable: true }) organizationName?: string | null;
  @Field(() => ID, { nullable: true }) appealId?: string | null;
  @Field() details!: string;
  @Field() firstFoundAt!: Date;
  @Field() lastFoundAt!: Date;
  @Field(() => Date, { nullable: true, description: 'Когда ошибка перестала находиться (устранена)' }) resolvedAt?: Date | null;
  @Field(() => ID, { nullable: true, description: 'Уведомление, в которое она вошла' }) noticeId?: string | null;
}

@ObjectType({ description: 'Число неустранённых ошибок организации по правилу' })
class DqSummaryRow {
  @Field(() => ID, { nullable: true }) organizationId?: string | null;
  @Field(() => String, { nullable: true }) organizationName?: string | null;
  @Field() rule!: string;
  @Field(() => Int) open!: number;
  @Field(() => Int, { description: 'Из них уже в уведомлениях' }) noticed!: number;
}

@ObjectType({ description: 'Итог проверки' })
class DqCheckResult {
  @Field(() => Int) found!: number;
  @Field(() => Int) created!: number;
  @Field(() => Int) resolved!: number;
}

@ObjectType({ description: 'Уведомление руководителю организации об ошибках в данных' })
class DqNotice {
  @Field(() => ID) id!: string;
  @Field(() => ID) organizationId!: string;
  @Field() organizationName!: string;
  @Field(() => String, { nullable: true }) headName?: string | null;
  @Field() createdBy!: string;
  @Field() createdAt!: Date;
  @Field({ description: 'Устранить до, ГГГГ-ММ-ДД' }) fixBy!: string;
  @Field(() => String, { nullable: true }) comment?: string | null;
  @Field(() => Int) findings!: number;
  @Field(() => Int) openFindings!: number;
  @Field({ description: 'SENT — направлено, FIXED — все ошибки устранены, OVERDUE — срок прошёл' }) status!: string;
  @Field({ description: 'Письмо (DOCX)' }) documentUrl!: string;
}

@ObjectType({ description: 'Руководитель и контакты организации' })
class OrganizationContacts {
  @Field(() => String, { nullable: true }) headName?: string | null;
  @Field(() => String, { nullable: true }) headTitle?: string | null;
  @Field(() => String, { nullable: true }) email?: string | null;
  @Field(() => String, { nullable: true }) phone?: string | null;
  @Field() active!: boolean;
}

@InputType()
class OrganizationContactsInput {
  @Field(() => String, { nullable: true }) headName?: string | null;
  @Field(() => String, { nullable: true }) headTitle?: string | null;
  @Field(() => String, { nullable: true }) email?: string | null;
  @Field(() => String, { nullable: true }) phone?: string | null;
  @Field(() => Boolean, { nullable: true, description: 'false — организации больше нет (обращения и правила маршрутизации к ней станут ошибками)' }) active?: boolean | null;
}

const service = (ctx: Context) => new DataQualityService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });
const id = parseId;
const withUrl = (n: Record<string, unknown>) => ({ ...n, documentUrl: `/exports/notice.docx?id=${n.id}` }) as unknown as DqNotice;

@Resolver()
export class DataQualityResolver {
  @Authorized(READERS)
  @Query(() => DqSettingsType, { description: 'Правила контроля качества данных и их пороги' })
  async dataQualitySettings(@Ctx() ctx: Context) {
    const s = await service(ctx).settings();
    return { ...s, rules: DQ_RULES.map((r) => ({ ...r, enabled: !s.disabledRules.includes(r.code) })) };
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => DqSettingsType)
  async setDataQualitySettings(@Ctx() ctx: Context, @Arg('input', () => DqSettingsInput) input: DqSettingsInput) {
    const s = await service(ctx).updateSettings(input);
    return { ...s, rules: DQ_RULES.map((r) => ({ ...r, enabled: !s.disabledRules.includes(r.code) })) };
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => DqCheckResult, { description: 'Проверить данные всеми включёнными правилами' })
  runDataQualityCheck(@Ctx() ctx: Context) {
    return service(ctx).check();
  }

  @Authorized(READERS)
  @Query(() => [DqSummaryRow], { description: 'Неустранённые ошибки по организациям и правилам (сотрудник организации — только своей)' })
  dataQualitySummary(@Ctx() ctx: Context) {
    return service(ctx).summary();
  }

  @Authorized(READERS)
  @Query(() => [DqFinding], { description: 'Ошибки в данных; open = false — вместе с устранёнными' })
  dataQualityFindings(@Ctx() ctx: Context, @Arg('organizationId', () => ID, { nullable: true }) organizationId?: string,
    @Arg('rule', () => String, { nullable: true }) rule?: string, @Arg('open', { defaultValue: true }) open?: boolean,
    @Arg('first', () => Int, { defaultValue: 200 }) first?: number) {
    return service(ctx).findings({ organizationId: organizationId ? id('organizationId', organizationId) : null, rule, open, first: first! });
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => DqNotice, { description: 'Направить руководителю организации уведомление о её неустранённых ошибках со сроком устранения' })
  async createDataQualityNotice(@Ctx() ctx: Context, @Arg('organizationId', () => ID) organizationId: string, @Arg('fixBy') fixBy: string,
    @Arg('comment', () => String, { nullable: true }) comment?: string) {
    return withUrl(await service(ctx).createNotice(id('organizationId', organizationId), fixBy, comment));
  }

  @Authorized(READERS)
  @Query(() => [DqNotice], { description: 'Уведомления об ошибках в данных и их исполнение' })
  async dataQualityNotices(@Ctx() ctx: Context) {
    return (await service(ctx).notices()).map(withUrl);
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => OrganizationContacts, { description: 'Руководитель и контакты организации; active = false — организации больше нет' })
  setOrganizationContacts(@Ctx() ctx: Context, @Arg('organizationId', () => ID) organizationId: string,
    @Arg('input', () => OrganizationContactsInput) input: OrganizationContactsInput) {
    return service(ctx).setContacts(id('organizationId', organizationId), input).then((a) => ({ headName: a.head_name, headTitle: a.head_title, email: a.email, phone: a.phone, active: a.active }));
  }
}

export const dataQualityResolvers = [DataQualityResolver] as const;
