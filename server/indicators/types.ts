import { Field, Float, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

export enum IndicatorUnit { PERCENT = 'PERCENT', PER_1000 = 'PER_1000', COUNT = 'COUNT', HOURS = 'HOURS', DAYS = 'DAYS', SCORE = 'SCORE', RUB = 'RUB', OTHER = 'OTHER' }
registerEnumType(IndicatorUnit, { name: 'IndicatorUnit', description: 'Единица: PERCENT — %, PER_1000 — на 1 000 жителей, COUNT — штук, HOURS, DAYS, SCORE — балл, RUB — рублей, OTHER' });

export enum IndicatorDirection { HIGHER_IS_BETTER = 'HIGHER_IS_BETTER', LOWER_IS_BETTER = 'LOWER_IS_BETTER' }
registerEnumType(IndicatorDirection, { name: 'IndicatorDirection', description: 'Что лучше: большее или меньшее значение' });

export enum IndicatorSource { COMPUTED = 'COMPUTED', IMPORTED = 'IMPORTED' }
registerEnumType(IndicatorSource, { name: 'IndicatorSource', description: 'COMPUTED — вычисляется по данным системы запросом из каталога; IMPORTED — загружается из таблицы' });

export enum IndicatorStatus { OK = 'OK', WARN = 'WARN', FAIL = 'FAIL', NO_DATA = 'NO_DATA', NO_TARGET = 'NO_TARGET' }
registerEnumType(IndicatorStatus, {
  name: 'IndicatorStatus',
  description: 'OK — цель достигнута; WARN — отклонение не более 10 % от цели; FAIL — больше; NO_DATA — значение не получено; NO_TARGET — цель не задана',
});

@ObjectType({ description: 'Запрос каталога, по которому показатель вычисляется из данных системы' })
export class CatalogueQueryType {
  @Field() code!: string;
  @Field() name!: string;
  @Field() description!: string;
  @Field(() => IndicatorUnit) unit!: IndicatorUnit;
  @Field(() => IndicatorDirection) direction!: IndicatorDirection;
}

@ObjectType({ description: 'Показатель комплекса показателей, характеризующих ситуацию в городе' })
export class Indicator {
  @Field(() => ID) id!: string;
  @Field() code!: string;
  @Field() name!: string;
  @Field({ nullable: true }) description?: string;
  @Field(() => IndicatorUnit) unit!: IndicatorUnit;
  @Field(() => IndicatorDirection) direction!: IndicatorDirection;
  @Field(() => ID, { nullable: true, description: 'Ответственный тематический блок (заместитель Главы); null — показатель центра' }) blockId?: string | null;
  @Field(() => IndicatorSource) source!: IndicatorSource;
  @Field(() => String, { nullable: true, description: 'Код запроса каталога (для COMPUTED)' }) queryCode?: string | null;
  @Field(() => GraphQLJSONObject, { description: 'Охват запроса: {"theme": "<код темы>"} или {"block": "<код блока>"}' }) params!: Record<string, unknown>;
  @Field() active!: boolean;
}

@ObjectType({ description: 'Значение показателя за месяц' })
export class IndicatorPoint {
  @Field({ description: 'Месяц, ГГГГ-ММ' }) month!: string;
  @Field(() => Float, { nullable: true, description: 'Значение; null — не получено (см. reason)' }) value?: number | null;
  @Field(() => Float, { nullable: true }) target?: number | null;
  @Field(() => String, { nullable: true, description: 'Почему значения нет' }) reason?: string | null;
  @Field({ description: 'Месяц ещё не закончился' }) partial!: boolean;
  @Field(() => IndicatorStatus) status!: IndicatorStatus;
}

@ObjectType({ description: 'Карточка показателя на панели «Показатели»' })
export class IndicatorCard {
  @Field(() => Indicator) indicator!: Indicator;
  @Field(() => [IndicatorPoint], { description: 'Значения по месяцам периода' }) series!: IndicatorPoint[];
  @Field(() => IndicatorPoint, { nullable: true, description: 'Последний завершённый месяц периода со значением (текущий — если других нет)' }) latest?: IndicatorPoint | null;
  @Field(() => Float, { nullable: true, description: 'Изменение последнего значения к предыдущему месяцу со значением' }) change?: number | null;
}

@ObjectType({ description: 'Группа карточек одного тематического блока' })
export class IndicatorGroup {
  @Field(() => ID, { nullable: true }) blockId?: string | null;
  @Field({ description: 'Название блока или «Показатели центра»' }) title!: string;
  @Field(() => [IndicatorCard]) cards!: IndicatorCard[];
}

@ObjectType()
export class IndicatorDashboard {
  @Field() from!: string;
  @Field() to!: string;
  @Field(() => [IndicatorGroup], { description: 'Группы по блокам; блок руководителя — первым' }) groups!: IndicatorGroup[];
  @Field({ description: 'Значения взяты из кэша (по версии данных)' }) cached!: boolean;
  @Field({ description: 'Данные изменились после расчёта; показан последний расчёт, новый идёт в фоне (на больших базах)' }) stale!: boolean;
}

@InputType({ description: 'Определение показателя' })
export class IndicatorInput {
  @Field() code!: string;
  @Field() name!: string;
  @Field({ nullable: true }) description?: string;
  @Field(() => IndicatorUnit) unit!: IndicatorUnit;
  @Field(() => IndicatorDirection) direction!: IndicatorDirection;
  @Field({ nullable: true, description: 'Код тематического блока' }) block?: string;
  @Field(() => IndicatorSource) source!: IndicatorSource;
  @Field({ nullable: true }) queryCode?: string;
  @Field(() => GraphQLJSONObject, { nullable: true }) params?: Record<string, unknown>;
  @Field({ nullable: true }) active?: boolean;
}

@ObjectType({ description: 'Итог загрузки значений показателей' })
export class IndicatorImportReport {
  @Field() rows!: number;
  @Field() stored!: number;
}
