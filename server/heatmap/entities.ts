import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { Geometry } from 'geojson';
import { GeometryType } from '../db/geometry.js';
import { Municipality, Theme } from '../reference/entities.js';

export enum HeatLayerFormat {
  CSV = 'CSV',
  GEOJSON = 'GEOJSON',
}
registerEnumType(HeatLayerFormat, {
  name: 'HeatLayerFormat',
  description: 'CSV — строки lat;lon;weight[;theme]; GEOJSON — FeatureCollection точек или полигонов со свойством weight',
});

/** One imported file of the regional centre's (ЦУР) heat map: a versioned layer with its period and source. */
@ObjectType({ description: 'Слой тепловой карты ЦУР: один загруженный файл со своим периодом и источником' })
@Entity({ tableName: 'heat_layer' })
@Unique({ properties: ['municipality', 'checksum'] })
export class HeatLayer {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Field({ description: 'Источник (например, «ЦУР Алтайского края»)' }) @Property({ type: 'text' }) source!: string;
  @Field() @Property({ type: 'text' }) name!: string;
  @Field(() => HeatLayerFormat) @Enum({ items: () => HeatLayerFormat, type: 'text' }) format!: HeatLayerFormat;
  @ManyToOne(() => Theme, { nullable: true }) theme?: Theme;
  @Field({ description: 'Начало периода (включительно)' }) @Property({ type: 'timestamptz' }) periodFrom!: Date;
  @Field({ description: 'Конец периода (не включая)' }) @Property({ type: 'timestamptz' }) periodTo!: Date;
  @Field({ description: 'SHA-256 файла: повторная загрузка того же файла ничего не меняет' }) @Property({ type: 'text' }) checksum!: string;
  @Field(() => Int, { description: 'Строк (объектов) в файле' }) @Property({ type: 'integer' }) rowsRead!: number;
  @Field(() => Int, { description: 'Принято ячеек' }) @Property({ type: 'integer' }) cellCount!: number;
  @Field(() => Float, { description: 'Сумма весов' }) @Property({ type: 'double precision' }) totalWeight!: number;
  @Field() @Property({ type: 'timestamptz', defaultRaw: 'now()' }) importedAt: Date = new Date();
}

/** A point or polygon of a ЦУР layer with its weight. */
@Entity({ tableName: 'heat_cell' })
export class HeatCell {
  @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @ManyToOne(() => HeatLayer) layer!: HeatLayer;
  /** Line of the CSV file, or 1-based number of the GeoJSON feature. */
  @Property({ type: 'integer' }) line!: number;
  @Property({ type: new GeometryType('Geometry'), fieldName: 'geom' }) geometry!: Geometry;
  /** The point used for gridding: the point itself or ST_PointOnSurface of the polygon. */
  @Property({ type: new GeometryType('Point') }) point!: Geometry;
  @Property({ type: 'double precision' }) weight!: number;
  @ManyToOne(() => Theme, { nullable: true }) theme?: Theme;
}

export const heatmapEntities = [HeatLayer, HeatCell];
