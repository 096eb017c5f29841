import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Geometry } from 'geojson';
import { GeometryType } from '../db/geometry.js';
import { Channel, District, Municipality, Organization, Theme } from '../reference/entities.js';

export enum AuthorKind {
  CITIZEN = 'CITIZEN',
  LEGAL_ENTITY = 'LEGAL_ENTITY',
}
registerEnumType(AuthorKind, { name: 'AuthorKind', description: 'Гражданин или юридическое лицо' });

export enum AppealStatus {
  NEW = 'NEW',
  IN_PROGRESS = 'IN_PROGRESS',
  ANSWERED = 'ANSWERED',
  CLOSED = 'CLOSED',
  REJECTED = 'REJECTED',
}
registerEnumType(AppealStatus, {
  name: 'AppealStatus',
  description: 'NEW — новое, IN_PROGRESS — в работе, ANSWERED — дан ответ, CLOSED — закрыто, REJECTED — отклонено',
});

export enum AppealEventKind {
  CREATED = 'CREATED',
  STATUS = 'STATUS',
  THEME = 'THEME',
  ORGANIZATION = 'ORGANIZATION',
  DISTRICT = 'DISTRICT',
  ANSWER = 'ANSWER',
  SATISFACTION = 'SATISFACTION',
  PLACE = 'PLACE',
  DUE = 'DUE',
  DUPLICATE = 'DUPLICATE',
  REPEAT = 'REPEAT',
  EXTENSION = 'EXTENSION',
  FIRST_REACTION = 'FIRST_REACTION',
  QUALITY = 'QUALITY',
  URGENCY = 'URGENCY',
}
registerEnumType(AppealEventKind, { name: 'AppealEventKind', description: 'Что изменилось в обращении' });

/**
 * Personal data of an appeal's author (152-ФЗ), kept apart from the appeal's content:
 * roles without the right never read this table.
 */
@Entity({ tableName: 'appeal_author' })
export class AppealAuthor {
  @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Enum({ items: () => AuthorKind, type: 'text' }) kind!: AuthorKind;
  @Property({ type: 'text', nullable: true }) fullName?: string;
  @Property({ type: 'text', nullable: true }) phone?: string;
  @Property({ type: 'text', nullable: true }) email?: string;
  @Property({ type: 'text', nullable: true }) profileUrl?: string;
  @Property({ type: 'timestamptz', defaultRaw: 'now()' }) createdAt: Date = new Date();
}

@ObjectType({ description: 'Обращение или сообщение гражданина либо юридического лица' })
@Entity({ tableName: 'appeal' })
@Unique({ properties: ['municipality', 'channel', 'externalId'] })
export class Appeal {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @Field(() => Channel) @Enum({ items: () => Channel, type: 'text' }) channel!: Channel;
  @Field({ description: 'Идентификатор в системе-источнике' }) @Property({ type: 'text' }) externalId!: string;
  @Field() @Index() @Property({ type: 'timestamptz' }) receivedAt!: Date;
  @Field(() => AuthorKind) @Enum({ items: () => AuthorKind, type: 'text' }) authorKind!: AuthorKind;
  @ManyToOne(() => AppealAuthor, { nullable: true, lazy: true }) author?: AppealAuthor;
  @Field() @Property({ type: 'text' }) text!: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) address?: string;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'GeoJSON Point, EPSG:4326' })
  @Property({ type: new GeometryType('Point'), nullable: true })
  point?: Geometry;
  @ManyToOne(() => District, { nullable: true }) district?: District;
  @ManyToOne(() => Theme, { nullable: true }) theme?: Theme;
  @ManyToOne(() => Organization, { nullable: true }) organization?: Organization;
  @Field(() => AppealStatus) @Enum({ items: () => AppealStatus, type: 'text' }) status: AppealStatus = AppealStatus.NEW;
  @Field({ nullable: true, description: 'Срок рассмотрения' }) @Property({ type: 'timestamptz', nullable: true }) dueAt?: Date;
  @Field({ nullable: true }) @Property({ type: 'timestamptz', nullable: true }) firstResponseAt?: Date;
  @Field({ nullable: true }) @Property({ type: 'timestamptz', nullable: true }) answeredAt?: Date;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) answerText?: string;
  @Field(() => Int, { nullable: true, description: 'Оценка гражданина 1–5' })
  @Property({ type: 'smallint', nullable: true })
  satisfaction?: number;
  @Field(() => Float, { nullable: true, description: 'Уверенность классификатора в теме, 0–1' })
  @Property({ type: 'real', nullable: true })
  themeConfidence?: number;
  @Field({ nullable: true, description: 'Откуда тема: SOURCE — из источника, MODEL — классификатор, KEYWORDS — ключевые слова, PERSON — работник' })
  @Property({ type: 'text', nullable: true })
  themeSource?: string;
  @Field({ description: 'Ждёт ручной проверки темы (очередь сортировки)' }) @Property({ type: 'boolean', default: false }) triage: boolean = false;
  @Field({ nullable: true, description: 'Место: POINT, SWAPPED_FIXED, GEOCODED, OUTSIDE, UNRESOLVED (на проверке адреса), MANUAL, NONE' })
  @Property({ type: 'text', nullable: true })
  placeStatus?: string;
  @ManyToOne(() => Appeal, { nullable: true }) duplicateOf?: Appeal;
  @ManyToOne(() => Appeal, { nullable: true }) repeatOf?: Appeal;
  @Property({ type: 'integer', nullable: true, fieldName: 'batch_id' }) batchId?: number;
  @Property({ type: 'text', nullable: true }) authorKey?: string;
  // The control loop's per-appeal deadlines (migration 20261202000100; filled by server/deadlines).
  @Field({ description: 'Срочное: авария, угроза жизни, нет отопления или воды в доме (ключевые слова, источник или отметка работника)' })
  @Property({ type: 'boolean', default: false }) urgent: boolean = false;
  @Property({ type: 'integer', nullable: true }) deadlineRuleId?: number;
  @Field({ nullable: true, description: 'Срок первой реакции (по правилу сроков)' }) @Property({ type: 'timestamptz', nullable: true }) firstReactionDueAt?: Date;
  @Field({ nullable: true, description: 'Срок ответа по правилу сроков (с учётом продления)' }) @Property({ type: 'timestamptz', nullable: true }) answerDueAt?: Date;
  @Field({ nullable: true, description: 'С этого момента обращение «под угрозой» (осталось меньше заданной доли рабочего времени)' })
  @Property({ type: 'timestamptz', nullable: true }) answerAtRiskAt?: Date;
  @Property({ type: 'integer', nullable: true }) firstReactionMinutes?: number;
  @Property({ type: 'integer', nullable: true }) answerMinutes?: number;
  @Property({ type: 'timestamptz', defaultRaw: 'now()' }) createdAt: Date = new Date();
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() }) updatedAt: Date = new Date();
}

@ObjectType({ description: 'Событие истории обращения: кто, когда, что было, что стало' })
@Entity({ tableName: 'appeal_event' })
export class AppealEvent {
  @Field(() => ID) @PrimaryKey({ type: 'integer' }) id!: number;
  @ManyToOne(() => Municipality) municipality!: Municipality;
  @ManyToOne(() => Appeal) appeal!: Appeal;
  @Field() @Property({ type: 'timestamptz' }) at!: Date;
  @Field({ description: 'Кто внёс изменение (пользователь, импорт, система)' }) @Property({ type: 'text' }) actor!: string;
  @Field(() => AppealEventKind) @Enum({ items: () => AppealEventKind, type: 'text' }) kind!: AppealEventKind;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) fromValue?: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) toValue?: string;
  @Field({ nullable: true }) @Property({ type: 'text', nullable: true }) comment?: string;
}

export const appealEntities = [AppealAuthor, Appeal, AppealEvent];
