import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { BBoxInput } from '../appeals/filter.js';

export enum ProblemStatus {
  DETECTED = 'DETECTED',
  CONFIRMED = 'CONFIRMED',
  IN_PROGRESS = 'IN_PROGRESS',
  PLANNED = 'PLANNED',
  RESOLVED = 'RESOLVED',
  REJECTED = 'REJECTED',
}
registerEnumType(ProblemStatus, {
  name: 'ProblemStatus',
  description: 'DETECTED — выявлена, CONFIRMED — подтверждена, IN_PROGRESS — в работе, PLANNED — включена в план, RESOLVED — решена, REJECTED — отклонена',
});

export const STATUS_LABELS: Record<ProblemStatus, string> = {
  DETECTED: 'выявлена', CONFIRMED: 'подтверждена', IN_PROGRESS: 'в работе', PLANNED: 'включена в план', RESOLVED: 'решена', REJECTED: 'отклонена',
};

/** Allowed lifecycle transitions (a resolved problem is also reopened automatically when its appeals return). */
export const TRANSITIONS: Record<ProblemStatus, ProblemStatus[]> = {
  DETECTED: [ProblemStatus.CONFIRMED, ProblemStatus.REJECTED],
  CONFIRMED: [ProblemStatus.IN_PROGRESS, ProblemStatus.PLANNED, ProblemStatus.RESOLVED, ProblemStatus.REJECTED],
  IN_PROGRESS: [ProblemStatus.PLANNED, ProblemStatus.RESOLVED, ProblemStatus.CONFIRMED],
  PLANNED: [ProblemStatus.IN_PROGRESS, ProblemStatus.RESOLVED],
  RESOLVED: [ProblemStatus.CONFIRMED],
  REJECTED: [ProblemStatus.DETECTED],
};

export enum ProblemSource {
  APPEALS = 'APPEALS',
  CUR = 'CUR',
  DISCUSSION = 'DISCUSSION',
}
registerEnumType(ProblemSource, {
  name: 'ProblemSource',
  description: 'APPEALS — кластер обращений, CUR — горячие ячейки тепловой карты ЦУР без обращений, DISCUSSION — итоги общественных обсуждений',
});

export enum ProblemOrder {
  SCORE = 'SCORE',
  APPEALS = 'APPEALS',
  GROWTH = 'GROWTH',
  FIRST_SEEN = 'FIRST_SEEN',
  LAST_APPEAL = 'LAST_APPEAL',
}
registerEnumType(ProblemOrder, { name: 'ProblemOrder', description: 'Порядок перечня (по убыванию): балл, число обращений, рост, дата выявления, последнее обращение' });

@ObjectType({ description: 'Вклад фактора в балл проблемы' })
export class ScoreFactor {
  @Field({ description: 'Код фактора: volume, authors, growth, repeats, overdue, lowSatisfaction, cur, perCapita' }) factor!: string;
  @Field() label!: string;
  @Field(() => Float, { description: 'Исходное значение (число, доля 0…1 или отношение)' }) value!: number;
  @Field(() => Float, { description: 'Нормированное значение 0…1' }) normalized!: number;
  @Field(() => Float, { description: 'Вес фактора (доля суммы весов)' }) weight!: number;
  @Field(() => Float, { description: 'Баллы, которые дал фактор (сумма — балл проблемы, 0…100)' }) points!: number;
}

@ObjectType({ description: 'Размер и балл проблемы при одном пересчёте' })
export class ProblemSnapshot {
  @Field(() => ID) runId!: string;
  @Field() at!: Date;
  @Field(() => Int) appealCount!: number;
  @Field(() => Int) authorCount!: number;
  @Field(() => Float) score!: number;
}

@ObjectType({ description: 'Событие в истории проблемы' })
export class ProblemEvent {
  @Field(() => ID) id!: string;
  @Field() at!: Date;
  @Field() actor!: string;
  @Field({ description: 'DETECTED, STATUS, ORGANIZATION, COMMENT, PLAN_DUE, REOPENED, VANISHED, RETURNED' }) kind!: string;
  @Field(() => String, { nullable: true }) fromValue!: string | null;
  @Field(() => String, { nullable: true }) toValue!: string | null;
  @Field(() => String, { nullable: true }) comment!: string | null;
}

@ObjectType({ description: 'Проблема территории: кластер обращений (и тепловой карты) с темой, районом, баллом и жизненным циклом' })
export class Problem {
  @Field(() => ID) id!: string;
  @Field() title!: string;
  @Field(() => ProblemSource) source!: ProblemSource;
  @Field(() => ProblemStatus) status!: ProblemStatus;
  @Field({ description: 'Статус по-русски' }) statusLabel!: string;
  @Field({ description: 'Выявлена при последнем пересчёте' }) active!: boolean;
  themeId!: number | null;
  districtId!: number | null;
  organizationId!: number | null;
  @Field(() => Float, { description: 'Балл 0…100' }) score!: number;
  @Field(() => Int, { nullable: true, description: 'Место в городе' }) rankCity!: number | null;
  @Field(() => Int, { nullable: true, description: 'Место в районе' }) rankDistrict!: number | null;
  @Field(() => [ScoreFactor], { description: 'Балл по факторам' }) breakdown!: ScoreFactor[];
  @Field(() => Int) appealCount!: number;
  @Field(() => Int, { description: 'Разных заявителей' }) authorCount!: number;
  @Field(() => Float, { description: 'Рост к прошлому периоду той же длины: (N − Nпрош) / max(Nпрош, 5)' }) growth!: number;
  @Field(() => GraphQLJSONObject, { description: 'Контур (GeoJSON, EPSG:4326)' }) hull!: object;
  @Field(() => GraphQLJSONObject, { description: 'Центр (GeoJSON Point)' }) center!: object;
  @Field() periodFrom!: Date;
  @Field() periodTo!: Date;
  @Field() firstSeenAt!: Date;
  @Field() lastSeenAt!: Date;
  @Field(() => Date, { nullable: true }) firstAppealAt!: Date | null;
  @Field(() => Date, { nullable: true }) lastAppealAt!: Date | null;
  @Field(() => Int, { description: 'Сколько раз открывалась снова после решения' }) reopenedCount!: number;
  @Field(() => Date, { nullable: true }) reopenedAt!: Date | null;
  @Field(() => Date, { nullable: true }) resolvedAt!: Date | null;
  @Field(() => String, { nullable: true, description: 'Плановый срок (YYYY-MM-DD)' }) planDueAt!: string | null;
}

@ObjectType()
export class ProblemEdge {
  @Field() cursor!: string;
  @Field(() => Problem) node!: Problem;
}

@ObjectType({ description: 'Страница перечня проблем' })
export class ProblemConnection {
  @Field(() => [ProblemEdge]) edges!: ProblemEdge[];
  @Field(() => Int) totalCount!: number;
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@InputType({ description: 'Отбор проблем; условия соединяются через И' })
export class ProblemFilter {
  @Field(() => ID, { nullable: true }) municipalityId?: string;
  @Field(() => [ID], { nullable: true }) districtIds?: string[];
  @Field(() => [ID], { nullable: true, description: 'Темы; раздел включает подтемы' }) themeIds?: string[];
  @Field(() => [ProblemStatus], { nullable: true }) statuses?: ProblemStatus[];
  @Field(() => [ProblemSource], { nullable: true }) sources?: ProblemSource[];
  @Field(() => [ID], { nullable: true }) organizationIds?: string[];
  @Field({ nullable: true, description: 'true (по умолчанию) — только выявленные при последнем пересчёте; false — только исчезнувшие' }) active?: boolean;
  @Field(() => Float, { nullable: true }) minScore?: number;
  @Field(() => BBoxInput, { nullable: true, description: 'Контур пересекает прямоугольник' }) bbox?: BBoxInput;
  @Field({ nullable: true, description: 'Есть обращения не раньше' }) from?: Date;
  @Field({ nullable: true, description: 'Выявлена раньше' }) to?: Date;
  @Field({ nullable: true, description: 'Поиск в названии' }) text?: string;
}

@ObjectType({ description: 'Пересчёт перечня проблем' })
export class ProblemRun {
  @Field(() => ID) id!: string;
  @Field({ description: 'FULL или INCREMENTAL' }) kind!: string;
  @Field() periodFrom!: Date;
  @Field() periodTo!: Date;
  @Field() startedAt!: Date;
  @Field() finishedAt!: Date;
  @Field(() => Int) appeals!: number;
  @Field(() => Int) clusters!: number;
  @Field(() => Int) created!: number;
  @Field(() => Int) matched!: number;
  @Field(() => Int) vanished!: number;
  @Field(() => Int) reopened!: number;
  @Field() actor!: string;
}

@ObjectType({ description: 'Параметры выявления для темы (или по умолчанию)' })
export class DetectionSettingType {
  @Field(() => ID, { nullable: true, description: 'null — по умолчанию' }) themeId!: string | null;
  @Field(() => Float, { description: 'Радиус DBSCAN, м' }) epsMeters!: number;
  @Field(() => Int, { description: 'Минимальный размер кластера' }) minPoints!: number;
  @Field(() => Float, { description: 'Защита от фона: минимум не меньше k × ожидаемого числа обращений темы в круге радиуса при равномерном распределении' }) densityFactor!: number;
}

@ObjectType({ description: 'Настройки перечня проблем' })
export class ProblemSettingsType {
  @Field(() => DetectionSettingType) defaults!: DetectionSettingType;
  @Field(() => [DetectionSettingType]) themes!: DetectionSettingType[];
  @Field(() => GraphQLJSONObject, { description: 'Веса факторов балла' }) weights!: object;
  @Field(() => Int, { description: 'Период по умолчанию, дней назад' }) windowDays!: number;
  @Field(() => Float, { description: 'Порог «горячей» ячейки ЦУР (доля максимума слоя)' }) curHotThreshold!: number;
}

@InputType({ description: 'Параметры выявления' })
export class DetectionSettingInput {
  @Field(() => ID, { nullable: true, description: 'Тема; без неё — по умолчанию для всех тем' }) themeId?: string;
  @Field(() => Float) epsMeters!: number;
  @Field(() => Int) minPoints!: number;
  @Field(() => Float, { nullable: true, defaultValue: 3 }) densityFactor!: number;
}

@InputType({ description: 'Веса факторов (любое подмножество)' })
export class WeightsInput {
  @Field(() => Float, { nullable: true }) volume?: number;
  @Field(() => Float, { nullable: true }) authors?: number;
  @Field(() => Float, { nullable: true }) growth?: number;
  @Field(() => Float, { nullable: true }) repeats?: number;
  @Field(() => Float, { nullable: true }) overdue?: number;
  @Field(() => Float, { nullable: true }) lowSatisfaction?: number;
  @Field(() => Float, { nullable: true }) cur?: number;
  @Field(() => Float, { nullable: true }) perCapita?: number;
}
