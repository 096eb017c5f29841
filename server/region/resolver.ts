import { Arg, Authorized, Ctx, Field, Float, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { municipalityArg } from '../graphql/municipality.js';
import { REGION_ROLES } from '../auth/roles.js';
import { requireUser } from '../auth/checker.js';
import { InputError } from '../errors.js';
import { RegionService } from './service.js';

@ObjectType({ description: 'Регион (субъект РФ), объединяющий муниципальные образования' })
export class RegionInfo {
  @Field(() => ID) id!: number;
  @Field() code!: string;
  @Field() name!: string;
  @Field(() => Int, { nullable: true }) population?: number | null;
  @Field(() => [Float], { description: 'Центр карты региона [lon, lat]' }) center!: number[];
  @Field(() => Int) zoom!: number;
}

@ObjectType({ description: 'Муниципальное образование в региональном обзоре: показатели за период' })
export class RegionMunicipality {
  @Field(() => ID) id!: number;
  @Field() code!: string;
  @Field() name!: string;
  @Field(() => Int, { nullable: true }) population?: number | null;
  @Field(() => [Float], { description: 'Центр [lon, lat]' }) center!: number[];
  @Field(() => Int, { description: 'Обращений за период' }) appeals!: number;
  @Field(() => Float, { nullable: true, description: 'Обращений на 1 000 жителей за период' }) appealsPer1000?: number | null;
  @Field(() => Int, { description: 'Обращений за предыдущий период той же длины' }) previousAppeals!: number;
  @Field(() => Float, { nullable: true, description: 'Изменение к предыдущему периоду, доля (0.1 = +10 %)' }) change?: number | null;
  @Field(() => Int, { description: 'Без ответа (из поступивших за период)' }) open!: number;
  @Field(() => Int, { description: 'Просрочено сейчас (из поступивших за период)' }) overdue!: number;
  @Field(() => Float, { nullable: true, description: 'Доля ответов в срок среди отвеченных' }) answeredOnTimeShare?: number | null;
  @Field(() => Int, { description: 'Открытых проблем территории' }) problems!: number;
  @Field(() => Int, { description: 'Информационных рисков: новые и принятые' }) riskSignals!: number;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Граница (объединение районов, упрощённая), GeoJSON MultiPolygon' })
  geometry?: Record<string, unknown> | null;
}

@ObjectType({ description: 'Региональный обзор (ЦУР): муниципалитеты региона первым уровнем' })
export class RegionOverview {
  @Field(() => RegionInfo) region!: RegionInfo;
  @Field() from!: Date;
  @Field() to!: Date;
  @Field(() => ID, { description: 'Муниципалитет, открытый в этом сеансе (его данные показывают остальные страницы)' }) currentMunicipalityId!: number;
  @Field(() => [RegionMunicipality]) municipalities!: RegionMunicipality[];
}

@ObjectType({ description: 'Открытый муниципалитет региона' })
export class OpenedMunicipality {
  @Field(() => ID) id!: number;
  @Field() code!: string;
  @Field() name!: string;
}

const DAY = 86_400_000;

@Resolver()
export class RegionResolver {
  @Authorized(REGION_ROLES)
  @Query(() => RegionOverview, { description: 'Региональный обзор: все муниципалитеты региона учётной записи за период (по умолчанию — последние 90 дней)' })
  async regionOverview(
    @Ctx() ctx: Context,
    @Arg('from', () => Date, { nullable: true }) from?: Date,
    @Arg('to', () => Date, { nullable: true }) to?: Date,
  ): Promise<RegionOverview> {
    const user = requireUser(ctx);
    if (user.regionId == null) throw new GraphQLError('Муниципалитет учётной записи не отнесён к региону', { extensions: { code: 'FORBIDDEN' } });
    const end = to ?? new Date();
    const start = from ?? new Date(end.getTime() - 90 * DAY);
    for (const [k, d] of [['from', start], ['to', end]] as const) {
      if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1900 || d.getUTCFullYear() > 2200) throw new InputError(k, 'дата вне допустимого диапазона (1900–2200 годы)');
    }
    const svc = new RegionService(ctx.em);
    const region = (await svc.region(user.regionId))!;
    const rows = await svc.municipalities(ctx.municipalityIds, start, end);
    return {
      region: { id: region.id, code: region.code, name: region.name, population: region.population, center: [region.lon, region.lat], zoom: region.zoom },
      from: start, to: end, currentMunicipalityId: ctx.municipalityId,
      municipalities: rows.map((r) => ({
        id: r.id, code: r.code, name: r.name, population: r.population, center: [r.lon, r.lat], appeals: r.appeals,
        appealsPer1000: r.population ? Math.round((r.appeals / r.population) * 1000 * 100) / 100 : null,
        previousAppeals: r.previousAppeals,
        change: r.previousAppeals > 0 ? Math.round(((r.appeals - r.previousAppeals) / r.previousAppeals) * 1000) / 1000 : null,
        open: r.open, overdue: r.overdue,
        answeredOnTimeShare: r.answered > 0 ? Math.round((r.answeredOnTime / r.answered) * 1000) / 1000 : null,
        problems: r.problems, riskSignals: r.riskSignals, geometry: r.geometry,
      })),
    };
  }

  @Authorized(REGION_ROLES)
  @Mutation(() => OpenedMunicipality, {
    description: 'Роль региона открывает муниципалитет своего региона (только чтение): карта, списки, тайлы и выгрузки этого сеанса показывают его данные. Без аргумента — свой муниципалитет',
  })
  async openMunicipality(@Ctx() ctx: Context, @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string): Promise<OpenedMunicipality> {
    const user = requireUser(ctx);
    const mid = municipalityId == null ? (user.homeMunicipalityId ?? user.municipalityId) : municipalityArg(ctx, municipalityId);
    if (!ctx.auth?.tokenHash) throw new GraphQLError('Нет сеанса', { extensions: { code: 'UNAUTHENTICATED' } });
    await ctx.auth.service.openMunicipality(ctx.auth.tokenHash, user, municipalityId == null ? null : mid);
    const [m] = await ctx.em.execute<{ id: number; code: string; name: string }[]>('SELECT id, code, name FROM municipality WHERE id = ?', [mid]);
    return m;
  }
}

export const regionResolvers = [RegionResolver] as const;
