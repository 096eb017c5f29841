import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSON, GraphQLJSONObject } from 'graphql-scalars';

export enum RiskStatus { NEW = 'NEW', ACKNOWLEDGED = 'ACKNOWLEDGED', RESOLVED = 'RESOLVED', FALSE_ALARM = 'FALSE_ALARM' }
registerEnumType(RiskStatus, { name: 'RiskStatus', description: 'NEW — новый, ACKNOWLEDGED — принят к сведению, RESOLVED — отработан, FALSE_ALARM — ложная тревога' });
export const RISK_STATUS_LABELS: Record<RiskStatus, string> = { NEW: 'новый', ACKNOWLEDGED: 'принят', RESOLVED: 'отработан', FALSE_ALARM: 'ложная тревога' };
export const RISK_TRANSITIONS: Record<RiskStatus, RiskStatus[]> = {
  NEW: [RiskStatus.ACKNOWLEDGED],
  ACKNOWLEDGED: [RiskStatus.RESOLVED, RiskStatus.FALSE_ALARM],
  RESOLVED: [],
  FALSE_ALARM: [],
};

export enum RiskKind { COUNT = 'COUNT', AUTHORS = 'AUTHORS', CROSS_CHANNEL = 'CROSS_CHANNEL', ESCALATION = 'ESCALATION', PUBLIC_OVERDUE = 'PUBLIC_OVERDUE' }
registerEnumType(RiskKind, {
  name: 'RiskKind',
  description: 'COUNT — всплеск числа обращений; AUTHORS — много разных авторов за короткое время; CROSS_CHANNEL — одно место в нескольких каналах; '
    + 'ESCALATION — упоминания прокуратуры, губернатора, суда, СМИ, коллективного обращения; PUBLIC_OVERDUE — просроченные обращения в публичных каналах',
});
export const RISK_KIND_LABELS: Record<RiskKind, string> = {
  COUNT: 'всплеск обращений', AUTHORS: 'много авторов', CROSS_CHANNEL: 'одно место в разных каналах', ESCALATION: 'угроза эскалации', PUBLIC_OVERDUE: 'просрочка в публичных каналах',
};

export enum RiskSeriesKind { DISTRICT_THEME = 'DISTRICT_THEME', THEME = 'THEME', ORGANIZATION = 'ORGANIZATION', CHANNEL = 'CHANNEL', PLACE = 'PLACE' }
registerEnumType(RiskSeriesKind, { name: 'RiskSeriesKind', description: 'Что наблюдается: район × тема, тема по городу, организация, канал, место (ячейка ~300 м)' });

export enum RiskGranularity { DAY = 'DAY', WEEK = 'WEEK' }
registerEnumType(RiskGranularity, { name: 'RiskGranularity', description: 'Ряд по дням или по неделям' });

@ObjectType({ description: 'Точка ряда для графика: наблюдено, ожидалось, верхняя граница, тревога' })
export class RiskPoint {
  @Field({ description: 'День (ГГГГ-ММ-ДД) или понедельник недели' }) date!: string;
  @Field(() => Int) observed!: number;
  @Field(() => Float, { nullable: true }) expected!: number | null;
  @Field(() => Float, { nullable: true }) upperbound!: number | null;
  @Field() alarm!: boolean;
}

@ObjectType({ description: 'Связанная проблема перечня (та же тема и район или пересечение с местом обращений)' })
export class RiskRelatedProblem {
  @Field(() => ID) id!: string;
  @Field() title!: string;
  @Field() status!: string;
  @Field(() => Float) score!: number;
  @Field(() => Int) appealCount!: number;
}

@ObjectType({ description: 'Информационный риск (карточка сигнала)' })
export class RiskSignal {
  @Field(() => ID) id!: string;
  @Field(() => RiskKind) kind!: RiskKind;
  @Field() kindLabel!: string;
  @Field(() => RiskSeriesKind) seriesKind!: RiskSeriesKind;
  @Field({ description: 'Ключ ряда: dt:<район>:<тема>, t:<тема>, o:<организация>, c:<канал>, place:<ячейка>' }) seriesKey!: string;
  @Field(() => RiskGranularity) granularity!: RiskGranularity;
  @Field({ description: 'Что выросло' }) title!: string;
  @Field({ description: 'Метод: EARS_C1/C2/C3, FARRINGTON_NOUFAILY или правило RULE_*' }) method!: string;
  @Field({ description: 'Метод и его параметры словами (в том числе почему не сезонный)' }) methodNote!: string;
  @Field({ description: 'С какого дня (ГГГГ-ММ-ДД)' }) startedOn!: string;
  @Field({ description: 'Последний день с превышением' }) lastOn!: string;
  @Field(() => Int, { description: 'Наблюдено в пиковый день (неделю); для правил — их мера' }) observed!: number;
  @Field(() => Float, { nullable: true, description: 'Ожидалось' }) expected!: number | null;
  @Field(() => Float, { nullable: true, description: 'Верхняя граница (порог тревоги)' }) upperbound!: number | null;
  @Field(() => RiskStatus) status!: RiskStatus;
  @Field() statusLabel!: string;
  districtId!: number | null;
  themeId!: number | null;
  organizationId!: number | null;
  @Field(() => String, { nullable: true }) channel!: string | null;
  @Field(() => String, { nullable: true }) acknowledgedBy!: string | null;
  @Field(() => Date, { nullable: true }) acknowledgedAt!: Date | null;
  @Field(() => String, { nullable: true }) closedBy!: string | null;
  @Field(() => Date, { nullable: true }) closedAt!: Date | null;
  @Field(() => String, { nullable: true }) comment!: string | null;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
  @Field(() => Int, { description: 'Число обращений за сигналом' }) appealCount!: number;
  @Field(() => GraphQLJSONObject, { description: 'Числа правила и эпизода (сумма за эпизод, каналы, упоминания…)' }) details!: Record<string, unknown>;
  appealIds!: number[];
  seriesPoints!: RiskPoint[];
}

@ObjectType()
export class RiskSignalEdge {
  @Field() cursor!: string;
  @Field(() => RiskSignal) node!: RiskSignal;
}

@ObjectType({ description: 'Страница информационных рисков' })
export class RiskSignalConnection {
  @Field(() => [RiskSignalEdge]) edges!: RiskSignalEdge[];
  @Field(() => Int) totalCount!: number;
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@InputType({ description: 'Отбор сигналов; условия соединяются через И' })
export class RiskSignalFilter {
  @Field(() => [RiskStatus], { nullable: true }) statuses?: RiskStatus[];
  @Field(() => [RiskKind], { nullable: true }) kinds?: RiskKind[];
  @Field(() => [ID], { nullable: true }) districtIds?: string[];
  @Field(() => [ID], { nullable: true }) themeIds?: string[];
  @Field(() => [ID], { nullable: true }) organizationIds?: string[];
  @Field(() => String, { nullable: true, description: 'Последний день сигнала не раньше (ГГГГ-ММ-ДД)' }) from?: string;
  @Field(() => String, { nullable: true, description: 'Первый день сигнала не позже (ГГГГ-ММ-ДД)' }) to?: string;
}

@ObjectType({ description: 'Запуск выявления рисков' })
export class RiskRun {
  @Field(() => ID) id!: string;
  @Field() mode!: string;
  @Field() actor!: string;
  @Field() startedAt!: Date;
  @Field(() => Int) ms!: number;
  @Field(() => String, { nullable: true, description: 'По какой день данные' }) asOf!: string | null;
  @Field(() => Int, { description: 'Рядов проверено' }) series!: number;
  @Field(() => Int) created!: number;
  @Field(() => Int) updated!: number;
  @Field(() => [String], { description: 'Пояснения: короткая история, пустой период, переход на запасной метод' }) notes!: string[];
}

export { GraphQLJSON };
