import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { APPEAL_EDITORS, FULL_ACCESS, READERS } from '../auth/roles.js';
import { scopeOf } from '../auth/scope.js';
import { InformingService } from './service.js';
import {
  Audience, AudienceInput, CallbackList, Informing, InformingChannel, InformingConnection, InformingDraft, InformingPlaceholder, InformingSourceInput,
  InformingSourceKind, InformingTemplate, PlannedWorks, PlannedWorksInput, RecordInformingInput,
} from './types.js';

/** Roles that inform people and produce call-back lists (the centre's staff who process appeals: they may see personal data). */
export const INFORMERS = APPEAL_EDITORS;

export const informingService = (ctx: Context) =>
  new InformingService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });

@Resolver()
export class InformingResolver {
  @Authorized(READERS)
  @Query(() => [InformingTemplate], { description: 'Шаблоны сообщений (встроенные и центра)' })
  informingTemplates(@Ctx() ctx: Context) { return informingService(ctx).templates(); }

  @Authorized(READERS)
  @Query(() => [InformingPlaceholder], { description: 'Подстановки шаблонов {{имя}} и у каких поводов они есть' })
  informingPlaceholders(@Ctx() ctx: Context) { return informingService(ctx).placeholders(); }

  @Authorized(READERS)
  @Query(() => [PlannedWorks], { description: 'Плановые работы, последние сначала' })
  plannedWorks(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 100 }) first: number) { return informingService(ctx).plannedWorksList(first); }

  @Authorized(READERS)
  @Query(() => Audience, { description: 'Размер аудитории выбранного места и тем (в пределах видимых вам обращений)' })
  informingAudience(@Ctx() ctx: Context, @Arg('audience', () => AudienceInput) audience: AudienceInput) { return informingService(ctx).audience(audience); }

  @Authorized(READERS)
  @Query(() => InformingDraft, { description: 'Черновик сообщения по шаблону, заполненный из повода' })
  informingDraft(@Ctx() ctx: Context, @Arg('source', () => InformingSourceInput) source: InformingSourceInput, @Arg('templateCode') templateCode: string) {
    return informingService(ctx).draft(source, templateCode);
  }

  @Authorized(READERS)
  @Query(() => InformingConnection, { description: 'Журнал информирования: что, кому, когда, по какому каналу, кто' })
  informings(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('sourceKind', () => InformingSourceKind, { nullable: true }) sourceKind?: InformingSourceKind, @Arg('sourceId', () => ID, { nullable: true }) sourceId?: string) {
    return informingService(ctx).list(first, sourceKind ?? undefined, sourceId ?? undefined);
  }

  @Authorized(INFORMERS)
  @Query(() => CallbackList, { description: 'Список обзвона информирования по каналу CALLBACK: только авторы, согласные на обратную связь; чтение записывается в журнал персональных данных' })
  callbackList(@Ctx() ctx: Context, @Arg('informingId', () => ID) informingId: string) { return informingService(ctx).callbackList(informingId); }

  @Authorized(INFORMERS)
  @Mutation(() => PlannedWorks, { description: 'Добавить плановые работы (что, где, когда, организация)' })
  createPlannedWorks(@Ctx() ctx: Context, @Arg('input', () => PlannedWorksInput) input: PlannedWorksInput) { return informingService(ctx).createPlannedWorks(input); }

  @Authorized(INFORMERS)
  @Mutation(() => Informing, { description: 'Записать информирование: повод, канал, аудитория, текст (записывается в журнал)' })
  recordInforming(@Ctx() ctx: Context, @Arg('input', () => RecordInformingInput) input: RecordInformingInput) { return informingService(ctx).record(input); }

  @Authorized(FULL_ACCESS)
  @Mutation(() => InformingTemplate, { description: 'Создать или изменить шаблон сообщения (только простой текст, подстановки {{имя}})' })
  setInformingTemplate(@Ctx() ctx: Context, @Arg('code') code: string, @Arg('channel', () => InformingChannel) channel: InformingChannel,
    @Arg('sourceKinds', () => [InformingSourceKind]) sourceKinds: InformingSourceKind[], @Arg('title') title: string, @Arg('body') body: string) {
    return informingService(ctx).setTemplate(code, channel, sourceKinds, title, body);
  }
}

export const informingResolvers = [InformingResolver] as const;
