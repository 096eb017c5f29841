import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from '../graphql/relay.js';

export enum RatingPeriodKind { MONTH = 'MONTH', QUARTER = 'QUARTER', YEAR = 'YEAR', CUSTOM = 'CUSTOM' }
registerEnumType(RatingPeriodKind, { name: 'RatingPeriodKind', description: 'MONTH — календарный месяц, QUARTER — квартал, YEAR — год, CUSTOM — произвольный диапазон дат' });

export enum ControlQueueState { OVERDUE = 'OVERDUE', AT_RISK = 'AT_RISK' }
registerEnumType(ControlQueueState, { name: 'ControlQueueState', description: 'OVERDUE — срок ответа истёк, AT_RISK — срок под угрозой (осталось меньше заданной доли времени)' });

@InputType({ description: 'Период рейтинга: месяц, квартал или год, содержащий start, или диапазон start…end (включительно, не более трёх лет); даты местные' })
export class RatingPeriodInput {
  @Field(() => RatingPeriodKind) kind!: RatingPeriodKind;
  @Field({ description: 'ГГГГ-ММ-ДД' }) start!: string;
  @Field(() => String, { nullable: true, description: 'ГГГГ-ММ-ДД, только для CUSTOM' }) end?: string | null;
}

@ObjectType({ description: 'Период рейтинга и предыдущий период той же длины' })
export class RatingPeriod {
  @Field(() => RatingPeriodKind) kind!: RatingPeriodKind;
  @Field({ description: 'Первый день' }) from!: string;
  @Field({ description: 'День после последнего' }) to!: string;
  @Field() previousFrom!: string;
  @Field() previousTo!: string;
  @Field() label!: string;
}

@ObjectType({ description: 'Фактор рейтинга организации и его вклад в балл' })
export class RatingFactor {
  @Field({ description: 'onTime, answerTime, overdue, formal, satisfaction, repeats или ind:<код показателя>' }) factor!: string;
  @Field() label!: string;
  @Field(() => Float, { nullable: true, description: 'Исходное значение: доля 0…1, медиана рабочих минут или значение показателя; null — нет данных' }) value!: number | null;
  @Field(() => Float, { nullable: true, description: 'Нормированное значение 0…100 (100 — лучше); null — нет данных, фактор не учитывается' }) normalized!: number | null;
  @Field(() => Float, { description: 'Опубликованный вес' }) weight!: number;
  @Field(() => Float, { description: 'Доля веса среди факторов с данными, 0…1' }) effectiveWeight!: number;
  @Field(() => Float, { description: 'Вклад в итоговый балл (сумма — балл, 0…100)' }) points!: number;
}

@ObjectType({ description: 'Показатели организации за период' })
export class RatingFigures {
  @Field(() => Int, { description: 'Поступило обращений' }) received!: number;
  @Field(() => Int, { description: 'С известным исходом срока (отвечены или просрочены)' }) dueJudged!: number;
  @Field(() => Int, { description: 'Отвечено в срок' }) onTime!: number;
  @Field(() => Int) answered!: number;
  @Field(() => Float, { nullable: true, description: 'Доля ответов в срок, 0…1' }) onTimeShare!: number | null;
  @Field(() => Float, { nullable: true, description: 'Медиана рабочего времени до ответа, минут' }) medianAnswerMinutes!: number | null;
  @Field(() => Int, { description: 'Просрочено сейчас (без ответа, срок истёк)' }) overdueNow!: number;
  @Field(() => Int, { description: 'Ответов с оценкой качества' }) judged!: number;
  @Field(() => Int, { description: 'Формальных ответов (отписок)' }) formal!: number;
  @Field(() => Float, { nullable: true, description: 'Доля формальных ответов, 0…1' }) formalShare!: number | null;
  @Field(() => Int, { description: 'Оценок гражданами' }) rated!: number;
  @Field(() => Float, { nullable: true, description: 'Средняя оценка 1–5' }) satisfactionMean!: number | null;
  @Field(() => Float, { nullable: true, description: 'Доля оценок 4–5, 0…1' }) satisfiedShare!: number | null;
  @Field(() => Int, { description: 'Ответы, после которых пришло повторное обращение' }) repeated!: number;
  @Field(() => Float, { nullable: true, description: 'Доля повторных, 0…1' }) repeatShare!: number | null;
}

@ObjectType({ description: 'Строка рейтинга органов и подведомственных организаций' })
export class RatingRowType {
  @Field(() => ID) organizationId!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) shortName!: string | null;
  @Field({ description: 'ADMINISTRATION, FUNCTIONAL_BODY, SUBORDINATE' }) kind!: string;
  @Field(() => ID, { nullable: true, description: 'Вышестоящий орган' }) parentId!: string | null;
  @Field(() => Float, { nullable: true, description: 'Итоговый балл 0…100' }) score!: number | null;
  @Field({ description: 'Участвует в ранжировании (не меньше минимального числа обращений)' }) ranked!: boolean;
  @Field(() => Int, { nullable: true }) rank!: number | null;
  @Field(() => Float, { nullable: true }) previousScore!: number | null;
  @Field(() => Int, { nullable: true }) previousRank!: number | null;
  @Field(() => Int, { nullable: true, description: 'Изменение места: положительное — поднялась' }) rankChange!: number | null;
  @Field(() => Float, { nullable: true, description: 'Изменение балла к предыдущему периоду' }) scoreChange!: number | null;
  @Field(() => Boolean, { nullable: true, description: 'Доля оценок 4–5 не ниже цели ПОС' }) satisfactionGoalMet!: boolean | null;
  @Field(() => RatingFigures) figures!: RatingFigures;
  @Field(() => [RatingFactor]) breakdown!: RatingFactor[];
}

@ObjectType({ description: 'Показатель цифровой трансформации' })
export class RatingIndicatorType {
  @Field() code!: string;
  @Field() name!: string;
  @Field(() => Float) minValue!: number;
  @Field(() => Float) maxValue!: number;
  @Field() higherIsBetter!: boolean;
  @Field(() => Float) weight!: number;
}

@ObjectType({ description: 'Вес фактора рейтинга' })
export class RatingWeight {
  @Field() factor!: string;
  @Field() label!: string;
  @Field(() => Float) weight!: number;
}

@ObjectType({ description: 'Опубликованные настройки рейтинга' })
export class RatingSettingsType {
  @Field(() => [RatingWeight]) weights!: RatingWeight[];
  @Field(() => [RatingIndicatorType]) indicators!: RatingIndicatorType[];
  @Field(() => Int, { description: 'Минимум обращений за период для места в рейтинге' }) minAppeals!: number;
  @Field(() => Int, { description: 'Медиана не больше — 100 баллов (рабочие минуты)' }) answerTargetMinutes!: number;
  @Field(() => Int, { description: 'Медиана не меньше — 0 баллов (рабочие минуты)' }) answerWorstMinutes!: number;
  @Field(() => Float, { description: 'Цель ПОС: доля оценок 4–5' }) satisfactionGoal!: number;
  @Field(() => Date, { nullable: true }) updatedAt!: Date | null;
  @Field(() => String, { nullable: true }) updatedBy!: string | null;
}

@ObjectType({ description: 'Рейтинг органов и подведомственных организаций за период' })
export class OrganizationRating {
  @Field(() => RatingPeriod) period!: RatingPeriod;
  @Field(() => ID, { nullable: true }) blockId!: string | null;
  @Field(() => [RatingRowType], { description: 'Сначала ранжированные по месту, затем не ранжированные' }) rows!: RatingRowType[];
  @Field(() => RatingSettingsType) settings!: RatingSettingsType;
  @Field() computedAt!: Date;
}

@ObjectType({ description: 'Месяц в динамике организации' })
export class RatingTrendPoint {
  @Field({ description: 'Первый день месяца' }) month!: string;
  @Field(() => Float, { nullable: true }) score!: number | null;
  @Field(() => RatingFigures) figures!: RatingFigures;
}

@ObjectType({ description: 'Обращение в очереди контроля исполнения' })
export class ControlQueueItem {
  @Field(() => ID) id!: string;
  @Field() receivedAt!: Date;
  @Field() channel!: string;
  @Field(() => String, { nullable: true }) address!: string | null;
  @Field({ description: 'Текст (до 400 знаков)' }) text!: string;
  @Field(() => ID, { nullable: true }) organizationId!: string | null;
  @Field(() => String, { nullable: true }) organizationName!: string | null;
  @Field(() => String, { nullable: true }) themeName!: string | null;
  @Field() status!: string;
  @Field() urgent!: boolean;
  @Field() answerDueAt!: Date;
  @Field({ description: 'OVERDUE или AT_RISK' }) state!: string;
  @Field(() => Int, { description: 'Минут до срока (календарных; отрицательное — просрочено на)' }) minutesLeft!: number;
}

@ObjectType()
export class ControlQueueEdge {
  @Field() cursor!: string;
  @Field(() => ControlQueueItem) node!: ControlQueueItem;
}

@ObjectType({ description: 'Очередь просроченных или находящихся под угрозой обращений' })
export class ControlQueueConnection {
  @Field(() => [ControlQueueEdge]) edges!: ControlQueueEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType({ description: 'Формальный ответ (отписка)' })
export class FormalAnswerType {
  @Field(() => ID) id!: string;
  @Field() receivedAt!: Date;
  @Field(() => Date, { nullable: true }) answeredAt!: Date | null;
  @Field(() => String, { nullable: true }) themeName!: string | null;
  @Field() text!: string;
  @Field(() => String, { nullable: true }) answerText!: string | null;
  @Field(() => [String]) reasons!: string[];
  @Field({ description: 'Вердикт изменён координатором' }) overridden!: boolean;
}

@ObjectType({ description: 'Карточка организации в рейтинге' })
export class OrganizationRatingCard {
  @Field(() => ID) organizationId!: string;
  @Field() name!: string;
  @Field(() => RatingPeriod) period!: RatingPeriod;
  @Field(() => RatingRowType, { nullable: true, description: 'Строка рейтинга за период (null — нет данных)' }) row!: RatingRowType | null;
  @Field(() => Int, { description: 'Сколько организаций ранжировано' }) rankedCount!: number;
  @Field(() => [RatingTrendPoint], { description: '12 месяцев, заканчивая последним месяцем периода' }) trend!: RatingTrendPoint[];
  @Field(() => ControlQueueConnection) overdue!: ControlQueueConnection;
  @Field(() => ControlQueueConnection) atRisk!: ControlQueueConnection;
  @Field(() => [FormalAnswerType], { description: 'Формальные ответы за период (до 50, новые сначала)' }) formalAnswers!: FormalAnswerType[];
  @Field(() => Int) formalAnswersTotal!: number;
}

@InputType({ description: 'Вес показателя цифровой трансформации' })
export class IndicatorWeightInput {
  @Field() code!: string;
  @Field(() => Float) weight!: number;
}

@InputType({ description: 'Веса факторов рейтинга (относительные, 0…100; не указанные не меняются)' })
export class RatingWeightsInput {
  @Field(() => Float, { nullable: true }) onTime?: number;
  @Field(() => Float, { nullable: true }) answerTime?: number;
  @Field(() => Float, { nullable: true }) overdue?: number;
  @Field(() => Float, { nullable: true }) formal?: number;
  @Field(() => Float, { nullable: true }) satisfaction?: number;
  @Field(() => Float, { nullable: true }) repeats?: number;
}

@ObjectType({ description: 'Итог загрузки показателей' })
export class IndicatorImportReportType {
  @Field(() => Int) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) organizations!: number;
  @Field(() => [String]) indicators!: string[];
}
