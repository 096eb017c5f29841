import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { HexagonDrawer } from './grid.js';
import { RawJson } from '../graphql/raw-json.js';
import { District } from '../reference/entities.js';
import { HeatLayer, HeatLayerFormat } from './entities.js';
import { HeatLayerKind } from './service.js';

registerEnumType(HeatLayerKind, {
  name: 'HeatLayerKind',
  description: 'APPEALS — обращения; CUR — тепловая карта ЦУР; MERGED — сводная (оба источника, нормированные и взвешенные)',
});

@InputType({ description: 'Веса источников сводной карты (нормируются к сумме 1)' })
export class HeatWeightsInput {
  @Field(() => Float, { nullable: true, description: 'Вес обращений (по умолчанию 0.5)' }) appeals?: number;
  @Field(() => Float, { nullable: true, description: 'Вес ЦУР (по умолчанию 0.5)' }) cur?: number;
}

@InputType({ description: 'Загрузка слоя тепловой карты ЦУР' })
export class HeatLayerImportInput {
  @Field({ description: 'Содержимое файла (CSV или GeoJSON) как строка' }) content!: string;
  @Field(() => HeatLayerFormat) format!: HeatLayerFormat;
  @Field({ description: 'Начало периода данных (включительно)' }) periodFrom!: Date;
  @Field({ description: 'Конец периода данных (не включая)' }) periodTo!: Date;
  @Field(() => ID, { nullable: true, description: 'Тема всего слоя (строки могут указать свою в столбце theme)' }) themeId?: string;
  @Field({ nullable: true }) name?: string;
  @Field({ nullable: true, description: 'Источник; по умолчанию «ЦУР»' }) source?: string;
}

// The cells of a heat map come by the thousand: their fields are plain properties read by GraphQL's
// default resolver (simpleResolvers: no per-field middleware), the geometry a getter computed only
// when the query asks for it.
@ObjectType({ description: 'Вклад источников в значение ячейки; appeals + cur = value', simpleResolvers: true })
export class HeatCellParts {
  @Field(() => Float) appeals!: number;
  @Field(() => Float) cur!: number;
}

@ObjectType({ description: 'Шестиугольная ячейка тепловой карты', simpleResolvers: true })
export class HeatMapCell {
  @Field(() => ID, { description: 'q:r — осевые координаты шестиугольника в сетке масштаба' })
  get id(): string {
    return `${this.q}:${this.r}`;
  }

  @Field(() => Int) q: number;
  @Field(() => Int) r: number;
  @Field(() => Float, { description: 'APPEALS — число обращений; CUR — сумма весов ЦУР; MERGED — ‰ от взвешенного целого' }) value: number;
  @Field(() => Int, { description: 'Обращений в ячейке (по фильтру и в пределах bbox)' }) appeals: number;
  @Field(() => Float, { description: 'Сумма весов ЦУР в ячейке' }) cur: number;
  @Field(() => HeatCellParts) parts: HeatCellParts;

  // Already serialised (coordinate texts shared between neighbouring cells); written into the
  // response verbatim by stringifyResponse, read as the same object by any other JSON.stringify.
  @Field(() => GraphQLJSONObject, { description: 'GeoJSON Polygon шестиугольника, EPSG:4326' })
  get geometry(): RawJson {
    return new RawJson(this.drawer.polygonJson(this.q, this.r));
  }

  constructor(q: number, r: number, value: number, appeals: number, cur: number, parts: HeatCellParts, private readonly drawer: HexagonDrawer) {
    this.q = q;
    this.r = r;
    this.value = value;
    this.appeals = appeals;
    this.cur = cur;
    this.parts = parts;
  }
}

@ObjectType({ description: 'Тепловая карта прямоугольника' })
export class HeatMap {
  @Field(() => HeatLayerKind) layer!: HeatLayerKind;
  @Field(() => Int) zoom!: number;
  @Field(() => Float, { description: 'Радиус описанной окружности ячейки, м (на местности)' }) cellSizeMeters!: number;
  @Field(() => Float, { description: 'Вес обращений в сводной карте (после нормировки)' }) weightAppeals!: number;
  @Field(() => Float, { description: 'Вес ЦУР в сводной карте (после нормировки)' }) weightCur!: number;
  @Field(() => Int, { nullable: true, description: 'MERGED: всего обращений по фильтру в муниципальном образовании (база нормировки)' }) appealsTotal!: number | null;
  @Field(() => Float, { nullable: true, description: 'MERGED: сумма весов ЦУР по фильтру (база нормировки)' }) curTotal!: number | null;
  @Field(() => Float, { description: 'Сумма значений ячеек' }) total!: number;
  @Field(() => Float, { description: 'Наибольшее значение ячейки' }) maxValue!: number;
  @Field(() => [HeatMapCell]) cells!: HeatMapCell[];
}

@ObjectType({ description: 'Обращения в районе' })
export class DistrictStat {
  @Field(() => District) district!: District;
  @Field(() => Int, { description: 'Обращений за период (точка в границах района)' }) count!: number;
  @Field(() => Float, { nullable: true, description: 'На 1 000 жителей' }) per1000!: number | null;
  @Field(() => Int, { nullable: true, description: 'За предыдущий период той же длины' }) previousCount!: number | null;
  @Field(() => Int, { nullable: true }) change!: number | null;
  @Field(() => Float, { nullable: true, description: 'Изменение, %; null — в предыдущем периоде обращений не было' }) changePercent!: number | null;
}

@ObjectType({ description: 'Статистика районов за период и сравнение с предыдущим периодом той же длины' })
export class DistrictStats {
  @Field(() => Date, { nullable: true }) from!: Date | null;
  @Field(() => Date, { nullable: true }) to!: Date | null;
  @Field(() => Date, { nullable: true }) previousFrom!: Date | null;
  @Field(() => Date, { nullable: true }) previousTo!: Date | null;
  @Field(() => [DistrictStat]) districts!: DistrictStat[];
}

@ObjectType({ description: 'Отклонённая строка файла' })
export class ImportRejection {
  @Field(() => Int, { description: 'CSV — номер строки файла (заголовок — 1); GeoJSON — номер объекта с 1' }) line!: number;
  @Field({ description: 'Поле, например rows[12].lat' }) field!: string;
  @Field() reason!: string;
}

@ObjectType({ description: 'Итог загрузки слоя тепловой карты ЦУР' })
export class HeatLayerImportReport {
  @Field(() => HeatLayer) layer!: HeatLayer;
  @Field({ description: 'Этот файл уже был загружен: ничего не изменено' }) alreadyImported!: boolean;
  @Field(() => Int) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) rejected!: number;
  @Field(() => [ImportRejection], { description: 'Не более 1000 первых отклонённых строк' }) rejections!: ImportRejection[];
}

