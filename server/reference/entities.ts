import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Geometry } from 'geojson';
import { GeometryType } from '../db/geometry.js';

export enum OrganizationKind {
  ADMINISTRATION = 'ADMINISTRATION',
  FUNCTIONAL_BODY = 'FUNCTIONAL_BODY',
  SUBORDINATE = 'SUBORDINATE',
}
registerEnumType(OrganizationKind, {
  name: 'OrganizationKind',
  description: 'Администрация города; отраслевой (функциональный) орган; подведомственная организация',
});

export enum Channel {
  INCIDENT_MANAGEMENT = 'INCIDENT_MANAGEMENT',
  POS = 'POS',
  SOCIAL = 'SOCIAL',
  MESSENGER = 'MESSENGER',
  DIRECT = 'DIRECT',
  PUBLIC_DISCUSSION = 'PUBLIC_DISCUSSION',
  OFFICIAL_PAGE = 'OFFICIAL_PAGE',
  OPEN311 = 'OPEN311',
}
registerEnumType(Channel, { name: 'Channel', description: 'Канал поступления обращения' });

@ObjectType({ description: 'Муниципальное образование' })
@Entity({ tableName: 'municipality' })
export class Municipality {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @Field() @Property({ type: 'text' }) @Unique() code!: string;
  @Field() @Property({ type: 'text' }) name!: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) region?: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) oktmo?: string;
  @Field() @Property({ type: 'text' }) timezone!: string;
  @Field(() => Int, { nullable: true }) @Property({ type: 'integer', nullable: true }) population?: number;
  @Field(() => GraphQLJSONObject, { description: 'GeoJSON Point' })
  @Property({ type: new GeometryType('Point') })
  center!: Geometry;
}

@ObjectType({ description: 'Район, микрорайон, посёлок' })
@Entity({ tableName: 'district' })
@Unique({ properties: ['municipality', 'code'] })
export class District {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Field() @Property({ type: 'text' }) code!: string;
  @Field() @Property({ type: 'text' }) name!: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) kind?: string;
  @Field(() => Int, { nullable: true }) @Property({ type: 'integer', nullable: true }) population?: number;
  @Field({ description: 'Границы приблизительные (не из официального источника)' })
  @Property({ type: 'boolean', default: false })
  approximate: boolean = false;
  @Field(() => GraphQLJSONObject, { description: 'GeoJSON MultiPolygon, EPSG:4326' })
  @Property({ type: new GeometryType('MultiPolygon'), fieldName: 'geom', lazy: true })
  geometry!: Geometry;
}

@ObjectType({ description: 'Орган или организация: администрация, отраслевой орган, подведомственная организация' })
@Entity({ tableName: 'organization' })
@Unique({ properties: ['municipality', 'code'] })
export class Organization {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Field() @Property({ type: 'text' }) code!: string;
  @Field() @Property({ type: 'text' }) name!: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) shortName?: string;
  @Field(() => OrganizationKind) @Enum({ items: () => OrganizationKind, nativeEnumName: undefined, type: 'text' }) kind!: OrganizationKind;
  @ManyToOne(() => Organization, { nullable: true }) parent?: Organization;
}

@ObjectType({ description: 'Отраслевой тематический блок (ответственный — заместитель Главы)' })
@Entity({ tableName: 'thematic_block' })
@Unique({ properties: ['municipality', 'code'] })
export class ThematicBlock {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Field() @Property({ type: 'text' }) code!: string;
  @Field() @Property({ type: 'text' }) name!: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) ownerTitle?: string;
}

@ObjectType({ description: 'Тема (рубрика) обращения; дерево' })
@Entity({ tableName: 'theme' })
@Unique({ properties: ['municipality', 'code'] })
export class Theme {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Field() @Property({ type: 'text' }) code!: string;
  @Field() @Property({ type: 'text' }) name!: string;
  @ManyToOne(() => Theme, { nullable: true }) parent?: Theme;
  @ManyToOne(() => ThematicBlock, { nullable: true }) block?: ThematicBlock;
  /** Default responsible organisation (routing rules refine it). */
  @ManyToOne(() => Organization, { nullable: true }) organization?: Organization;
  @Field(() => [String]) @Property({ type: 'text[]', default: '{}' }) keywords: string[] = [];
  @Field() @Property({ type: 'boolean', default: true }) isLeaf: boolean = true;
}

@ObjectType('ChannelInfo', { description: 'Канал (источник) обращений' })
@Entity({ tableName: 'channel' })
export class ChannelRef {
  @Field(() => Channel) @PrimaryKey({ type: 'text' }) code!: Channel;
  @Field() @Property({ type: 'text' }) name!: string;
}

export const referenceEntities = [Municipality, District, Organization, ThematicBlock, Theme, ChannelRef];
