import { Arg, Authorized, Ctx, Field, FieldResolver, Float, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import DataLoader from 'dataloader';
import type { Context } from '../graphql/context.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { Appeal } from '../appeals/entities.js';
import { Channel, Theme } from '../reference/entities.js';
import { ANSWERERS, APPEAL_EDITORS, READERS, REFERENCE_EDITORS } from '../auth/roles.js';
import { auditedAppealChange } from '../auth/guard.js';
import { audit } from '../audit/audit.js';
import { DEADLINE_UNITS, type DeadlineUnit as Unit } from '../worktime/worktime.js';
import { DeadlineState } from './state.js';
import { deadlineState, type RuleVersion } from './rules.js';
import { deadlineSettings, retireRule, ruleVersions, setDeadlineSettings, setRule } from './store.js';
import { extendDeadline, recomputeDeadlines, recordFirstReaction, recordSatisfaction, setUrgency } from './appeals.js';

export enum DeadlineUnit {
  WORKING_HOURS = 'WORKING_HOURS',
  WORKING_DAYS = 'WORKING_DAYS',
  CALENDAR_DAYS = 'CALENDAR_DAYS',
}
registerEnumType(DeadlineUnit, { name: 'DeadlineUnit', description: 'WORKING_HOURS — рабочие часы, WORKING_DAYS — рабочие дни, CALENDAR_DAYS — календарные дни' });

export enum ExtensionFrom {
  DUE = 'DUE',
  RECEIVED = 'RECEIVED',
}
registerEnumType(ExtensionFrom, {
  name: 'ExtensionFrom',
  description: 'Откуда считается предельное продление: DUE — прибавляется к исходному сроку ответа (59-ФЗ: 30 + 30 дней); RECEIVED — предельный срок ответа от регистрации (ИМ: промежуточный ответ — до 7 рабочих дней)',
});

@ObjectType({ description: 'Версия правила сроков: канал × тема (подтемы включены) × срочность → нормы первой реакции и ответа' })
export class DeadlineRule {
  @Field(() => ID) id!: number;
  @Field(() => Channel) channel!: string;
  @Field(() => ID, { nullable: true, description: 'Тема (правило охватывает её подтемы); null — все темы канала' }) themeId!: number | null;
  @Field({ description: 'Правило для срочных обращений' }) urgent!: boolean;
  @Field(() => Float, { nullable: true }) firstReactionNorm!: number | null;
  @Field(() => DeadlineUnit, { nullable: true }) firstReactionUnit!: Unit | null;
  @Field(() => Float) answerNorm!: number;
  @Field(() => DeadlineUnit) answerUnit!: Unit;
  @Field(() => Float, { description: '«Под угрозой», когда осталось меньше этой доли отведённого рабочего времени' }) atRiskShare!: number;
  @Field(() => Float, { nullable: true, description: 'Предельное продление: к исходному сроку ответа (DUE) или предельный срок от регистрации (RECEIVED), см. extensionFrom' }) extensionMax!: number | null;
  @Field(() => DeadlineUnit, { nullable: true }) extensionUnit!: Unit | null;
  @Field({ description: 'Продление — только с уведомлением автора (59-ФЗ)' }) extensionNotice!: boolean;
  @Field(() => ExtensionFrom, { description: 'Откуда считается предельное продление' }) extensionFrom!: ExtensionFrom;
  @Field({ description: 'Значение по умолчанию из открытой практики: подтвердить локально' }) isDefault!: boolean;
  @Field(() => String, { nullable: true, description: 'Откуда норма' }) source!: string | null;
  @Field(() => String, { nullable: true }) note!: string | null;
  @Field() validFrom!: Date;
  @Field(() => Date, { nullable: true, description: 'Конец действия версии; null — действует' }) validTo!: Date | null;
  @Field() createdBy!: string;
}

@InputType({ description: 'Правило сроков (ключ: канал × тема × срочность; сохранение закрывает действующую версию и открывает новую)' })
export class DeadlineRuleInput {
  @Field(() => Channel) channel!: Channel;
  @Field(() => ID, { nullable: true }) themeId?: string | null;
  @Field({ defaultValue: false }) urgent!: boolean;
  @Field(() => Float, { nullable: true }) firstReactionNorm?: number | null;
  @Field(() => DeadlineUnit, { nullable: true }) firstReactionUnit?: DeadlineUnit | null;
  @Field(() => Float) answerNorm!: number;
  @Field(() => DeadlineUnit) answerUnit!: DeadlineUnit;
  @Field(() => Float, { defaultValue: 0.25 }) atRiskShare!: number;
  @Field(() => Float, { nullable: true }) extensionMax?: number | null;
  @Field(() => DeadlineUnit, { nullable: true }) extensionUnit?: DeadlineUnit | null;
  @Field({ defaultValue: false }) extensionNotice!: boolean;
  @Field(() => ExtensionFrom, { defaultValue: ExtensionFrom.DUE, description: 'DUE — к исходному сроку; RECEIVED — от регистрации (промежуточный ответ ИМ)' }) extensionFrom!: ExtensionFrom;
  @Field({ defaultValue: false, description: 'Оставить пометку «по умолчанию, подтвердить локально»' }) isDefault!: boolean;
  @Field(() => String, { nullable: true }) source?: string | null;
  @Field(() => String, { nullable: true }) note?: string | null;
}

@ObjectType({ description: 'Настройки контроля сроков' })
export class DeadlineSettingsView {
  @Field(() => [String], { description: 'Шаблоны ключевых слов срочности' }) urgentKeywords!: string[];
  @Field(() => Float, { description: 'Целевая доля оценок из satisfactionRatings (ПОС: 4–5 ≥ 60 %)' }) satisfactionTargetShare!: number;
  @Field(() => [Int]) satisfactionRatings!: number[];
  @Field(() => Int, { description: 'Окно повторного обращения, дней после ответа' }) repeatWindowDays!: number;
}

@InputType()
export class DeadlineSettingsInput {
  @Field(() => [String], { nullable: true }) urgentKeywords?: string[];
  @Field(() => Float, { nullable: true }) satisfactionTargetShare?: number;
  @Field(() => [Int], { nullable: true }) satisfactionRatings?: number[];
  @Field(() => Int, { nullable: true }) repeatWindowDays?: number;
}

@InputType({ description: 'На сколько продлить срок ответа' })
export class ExtensionByInput {
  @Field(() => Float) amount!: number;
  @Field(() => DeadlineUnit) unit!: DeadlineUnit;
}

@ObjectType({ description: 'Итог пересчёта сроков' })
export class DeadlineRecomputeReport {
  @Field(() => Int) appeals!: number;
  @Field(() => Int, { description: 'Обращений, для которых нашлось правило' }) withRule!: number;
  @Field(() => Int) urgent!: number;
}

function ruleValues(input: DeadlineRuleInput) {
  const themeId = input.themeId == null ? null : parseIds('rule.themeId', [input.themeId])![0];
  const unit = (field: string, u: string | null | undefined) => {
    if (u != null && !DEADLINE_UNITS.includes(u as Unit)) throw new InputError(field, `неизвестная единица ${u}`);
    return (u ?? null) as Unit | null;
  };
  return {
    channel: input.channel, themeId, urgent: !!input.urgent,
    firstReactionNorm: input.firstReactionNorm ?? null, firstReactionUnit: unit('rule.firstReactionUnit', input.firstReactionUnit),
    answerNorm: input.answerNorm, answerUnit: unit('rule.answerUnit', input.answerUnit)!, atRiskShare: input.atRiskShare,
    extensionMax: input.extensionMax ?? null, extensionUnit: unit('rule.extensionUnit', input.extensionUnit), extensionNotice: !!input.extensionNotice,
    extensionFrom: (input.extensionFrom ?? 'DUE') as 'DUE' | 'RECEIVED', isDefault: !!input.isDefault, source: input.source?.trim() || null, note: input.note?.trim() || null,
  };
}

@Resolver()
export class DeadlineRuleResolver {
  @Authorized(READERS)
  @Query(() => [DeadlineRule], { description: 'Правила сроков: действующие версии (history: true — и прежние)' })
  deadlineRules(@Ctx() ctx: Context, @Arg('history', { defaultValue: false }) history: boolean): Promise<RuleVersion[]> {
    return ruleVersions(ctx.em, ctx.municipalityId, { current: !history });
  }

  @Authorized(READERS)
  @Query(() => DeadlineSettingsView)
  async deadlineSettings(@Ctx() ctx: Context): Promise<DeadlineSettingsView> {
    const s = await deadlineSettings(ctx.em, ctx.municipalityId);
    return { urgentKeywords: s.urgentKeywords, satisfactionTargetShare: s.satisfactionTarget.share, satisfactionRatings: s.satisfactionTarget.ratings, repeatWindowDays: s.repeatWindowDays };
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => DeadlineRule, { description: 'Задать правило сроков: действующая версия того же ключа закрывается, открывается новая. Аудит' })
  setDeadlineRule(@Ctx() ctx: Context, @Arg('rule', () => DeadlineRuleInput) rule: DeadlineRuleInput): Promise<RuleVersion> {
    return setRule(ctx.em, ctx, ruleValues(rule));
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => DeadlineRule, { description: 'Отменить правило темы или срочности (основное правило канала отменить нельзя). Аудит' })
  retireDeadlineRule(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<RuleVersion> {
    return retireRule(ctx.em, ctx, parseIds('id', [id])![0]);
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => DeadlineSettingsView, { description: 'Настройки: ключевые слова срочности, цель удовлетворённости, окно повторного обращения. Аудит' })
  async setDeadlineSettings(@Ctx() ctx: Context, @Arg('settings', () => DeadlineSettingsInput) input: DeadlineSettingsInput): Promise<DeadlineSettingsView> {
    const cur = await deadlineSettings(ctx.em, ctx.municipalityId);
    const s = await setDeadlineSettings(ctx.em, ctx, {
      urgentKeywords: input.urgentKeywords ?? undefined,
      satisfactionTarget: input.satisfactionTargetShare != null || input.satisfactionRatings != null
        ? { share: input.satisfactionTargetShare ?? cur.satisfactionTarget.share, ratings: input.satisfactionRatings ?? cur.satisfactionTarget.ratings } : undefined,
      repeatWindowDays: input.repeatWindowDays ?? undefined,
    });
    return { urgentKeywords: s.urgentKeywords, satisfactionTargetShare: s.satisfactionTarget.share, satisfactionRatings: s.satisfactionTarget.ratings, repeatWindowDays: s.repeatWindowDays };
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => DeadlineRecomputeReport, { description: 'Пересчитать правило, сроки и рабочие минуты сохранённых обращений (продления сохраняются). Аудит' })
  async recomputeAppealDeadlines(
    @Ctx() ctx: Context,
    @Arg('from', () => Date, { nullable: true }) from?: Date,
    @Arg('to', () => Date, { nullable: true }) to?: Date,
    @Arg('detectUrgency', { defaultValue: false }) detectUrgency?: boolean,
  ): Promise<DeadlineRecomputeReport> {
    if (from && to && from > to) throw new InputError('from', 'начало периода позже его конца');
    const r = await recomputeDeadlines(ctx.em, ctx.municipalityId, { from, to, detectUrgency, actor: ctx.actor });
    await audit(ctx.em, ctx, { entity: 'appeal_deadlines', action: 'recompute', after: { from, to, detectUrgency, ...r } });
    return r;
  }
}

@Resolver(() => DeadlineRule)
export class DeadlineRuleFields {
  @FieldResolver(() => Theme, { nullable: true })
  theme(@Root() r: RuleVersion, @Ctx() ctx: Context) {
    return r.themeId == null ? null : ctx.loaders.theme.load(r.themeId);
  }
  @FieldResolver(() => Boolean, { description: 'Версия действует сейчас' })
  current(@Root() r: RuleVersion) {
    return r.validTo == null;
  }
}

const ruleLoaders = new WeakMap<object, DataLoader<number, RuleVersion | null>>();
function ruleLoader(ctx: Context) {
  let l = ruleLoaders.get(ctx.em);
  if (!l) {
    l = new DataLoader(async (ids: readonly number[]) => {
      const rows = await ruleVersions(ctx.em, ctx.municipalityId, { ids: [...ids] });
      const m = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => m.get(id) ?? null);
    });
    ruleLoaders.set(ctx.em, l);
  }
  return l;
}

@Resolver(() => Appeal)
export class AppealDeadlineFields {
  @FieldResolver(() => DeadlineState, { nullable: true, description: 'Состояние срока ответа сейчас (выводится при чтении)' })
  deadlineState(@Root() a: Readonly<Appeal>): string | null {
    return deadlineState(a.answeredAt?.getTime(), a.answerDueAt?.getTime(), a.answerAtRiskAt?.getTime(), Date.now());
  }
  @FieldResolver(() => Int, { nullable: true, description: 'Рабочих минут от регистрации до первой реакции' })
  workingMinutesToFirstReaction(@Root() a: Readonly<Appeal>) { return a.firstReactionMinutes ?? null; }
  @FieldResolver(() => Int, { nullable: true, description: 'Рабочих минут от регистрации до ответа' })
  workingMinutesToAnswer(@Root() a: Readonly<Appeal>) { return a.answerMinutes ?? null; }
  @FieldResolver(() => DeadlineRule, { nullable: true, description: 'Версия правила сроков, применённая к обращению' })
  deadlineRule(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return a.deadlineRuleId == null ? null : ruleLoader(ctx).load(a.deadlineRuleId);
  }
}

@Resolver()
export class AppealDeadlineMutations {
  @Authorized(ANSWERERS)
  @Mutation(() => Appeal, {
    description: 'Продлить срок ответа (в пределах правила; по 59-ФЗ — с уведомлением автора): событие EXTENSION, аудит. '
      + 'С промежуточным ответом (interimAnswer) без newDueAt/by — до предела правила (ИМ: 7 рабочих дней от регистрации); он же — первая реакция',
  })
  async extendAppealDeadline(
    @Ctx() ctx: Context,
    @Arg('appealId', () => ID) appealId: string,
    @Arg('reason') reason: string,
    @Arg('newDueAt', () => Date, { nullable: true }) newDueAt?: Date,
    @Arg('by', () => ExtensionByInput, { nullable: true }) by?: ExtensionByInput,
    @Arg('authorNotified', { nullable: true }) authorNotified?: boolean,
    @Arg('interimAnswer', () => String, { nullable: true, description: 'Текст промежуточного ответа автору' }) interimAnswer?: string,
  ): Promise<Appeal | null> {
    const n = await auditedAppealChange(ctx, appealId, 'extend', async (em) => {
      await extendDeadline(em, ctx.municipalityId, ctx.actor, Number(appealId),
        { reason, newDueAt, by: by ? { amount: by.amount, unit: by.unit as Unit } : null, authorNotified, interimAnswer });
      return Number(appealId);
    }, { reason, authorNotified: !!authorNotified, interimAnswer: interimAnswer ?? null });
    return (await ctx.appeals.byIds([n]))[0];
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Appeal, { description: 'Оценка гражданина 1–5 после обратного звонка: событие SATISFACTION, аудит' })
  async recordSatisfaction(
    @Ctx() ctx: Context,
    @Arg('appealId', () => ID) appealId: string,
    @Arg('rating', () => Int) rating: number,
    @Arg('comment', () => String, { nullable: true }) comment?: string,
  ): Promise<Appeal | null> {
    const n = await auditedAppealChange(ctx, appealId, 'satisfaction', async (em) => {
      await recordSatisfaction(em, ctx.municipalityId, ctx.actor, Number(appealId), rating, comment);
      return Number(appealId);
    }, { satisfaction: rating });
    return (await ctx.appeals.byIds([n]))[0];
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Appeal, { description: 'Отметить обращение срочным (или снять отметку): событие URGENCY, сроки пересчитываются, аудит' })
  async setAppealUrgent(
    @Ctx() ctx: Context,
    @Arg('appealId', () => ID) appealId: string,
    @Arg('urgent') urgent: boolean,
    @Arg('reason', () => String, { nullable: true }) reason?: string,
  ): Promise<Appeal | null> {
    const n = await auditedAppealChange(ctx, appealId, 'urgency', async (em) => {
      await setUrgency(em, ctx.municipalityId, ctx.actor, Number(appealId), urgent, reason);
      return Number(appealId);
    }, { urgent });
    return (await ctx.appeals.byIds([n]))[0];
  }

  @Authorized(ANSWERERS)
  @Mutation(() => Appeal, { description: 'Отметить первую реакцию (принято в работу, промежуточный ответ): событие FIRST_REACTION, аудит' })
  async recordFirstReaction(
    @Ctx() ctx: Context,
    @Arg('appealId', () => ID) appealId: string,
    @Arg('comment', () => String, { nullable: true }) comment?: string,
  ): Promise<Appeal | null> {
    const n = await auditedAppealChange(ctx, appealId, 'first_reaction', async (em) => {
      await recordFirstReaction(em, ctx.municipalityId, ctx.actor, Number(appealId), comment);
      return Number(appealId);
    }, { firstReaction: true });
    return (await ctx.appeals.byIds([n]))[0];
  }
}

export const deadlineResolvers = [DeadlineRuleResolver, DeadlineRuleFields, AppealDeadlineFields, AppealDeadlineMutations] as const;
