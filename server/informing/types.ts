import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

export enum InformingChannel { OFFICIAL_PAGE = 'OFFICIAL_PAGE', MESSENGER = 'MESSENGER', CALLBACK = 'CALLBACK' }
registerEnumType(InformingChannel, { name: 'InformingChannel', description: 'OFFICIAL_PAGE — пост на официальной странице, MESSENGER — канал в мессенджере, CALLBACK — обзвон авторов, согласных на связь' });
export enum InformingSourceKind { PROBLEM = 'PROBLEM', RISK = 'RISK', PLANNED_WORKS = 'PLANNED_WORKS', NONE = 'NONE' }
registerEnumType(InformingSourceKind, { name: 'InformingSourceKind', description: 'Повод информирования: проблема перечня, сигнал информационного риска, плановые работы или без источника' });
export enum AudienceKind { DISTRICTS = 'DISTRICTS', ADDRESSES = 'ADDRESSES', AREA = 'AREA', PROBLEM = 'PROBLEM' }
registerEnumType(AudienceKind, { name: 'AudienceKind', description: 'Как выбрано место: районы, список адресов, нарисованный контур, контур проблемы перечня' });

@InputType({ description: 'Повод: вид и номер (для NONE номер не нужен)' })
export class InformingSourceInput {
  @Field(() => InformingSourceKind) kind!: InformingSourceKind;
  @Field(() => ID, { nullable: true }) id?: string;
}

@InputType({ description: 'Аудитория: место (одним из способов) и темы; обращения за период (по умолчанию — год до последнего обращения)' })
export class AudienceInput {
  @Field(() => AudienceKind) kind!: AudienceKind;
  @Field(() => [ID], { nullable: true, description: 'DISTRICTS: районы' }) districtIds?: string[];
  @Field(() => [String], { nullable: true, description: 'ADDRESSES: адреса или их части (улица, дом), до 100' }) addresses?: string[];
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'AREA: GeoJSON Polygon или MultiPolygon (EPSG:4326), до 2 000 вершин' }) area?: Record<string, unknown>;
  @Field(() => ID, { nullable: true, description: 'PROBLEM: проблема перечня (её контур и 100 м вокруг)' }) problemId?: string;
  @Field(() => [ID], { nullable: true, description: 'Только эти темы' }) themeIds?: string[];
  @Field(() => String, { nullable: true, description: 'Начало периода обращений, ГГГГ-ММ-ДД' }) from?: string;
  @Field(() => String, { nullable: true, description: 'Конец периода обращений, ГГГГ-ММ-ДД' }) to?: string;
}

@ObjectType({ description: 'Размер аудитории: обращения, их авторы, авторы, согласные на обратную связь' })
export class Audience {
  @Field(() => Int) appeals!: number;
  @Field(() => Int, { description: 'Разных авторов' }) authors!: number;
  @Field(() => Int, { description: 'Авторов, согласных на обратную связь (с телефоном или e-mail) — столько войдёт в список обзвона' }) consenting!: number;
  @Field(() => Int, { nullable: true, description: 'Жителей в выбранных районах (по справочнику), только для DISTRICTS' }) residents!: number | null;
  @Field() periodFrom!: string;
  @Field() periodTo!: string;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Выбранное место (GeoJSON geometry) для карты' }) areaGeoJSON!: Record<string, unknown> | null;
  @Field(() => [String], { description: 'Адреса списка, по которым не нашлось ни одного обращения' }) unmatchedAddresses!: string[];
  @Field(() => [String], { description: 'Описание выбора словами' }) description!: string[];
}

@ObjectType({ description: 'Шаблон сообщения: канал, для каких поводов, текст с подстановками {{имя}}' })
export class InformingTemplate {
  @Field() code!: string;
  @Field(() => InformingChannel) channel!: InformingChannel;
  @Field() channelLabel!: string;
  @Field(() => [InformingSourceKind]) sourceKinds!: InformingSourceKind[];
  @Field() title!: string;
  @Field() body!: string;
  @Field(() => Int, { description: 'Наибольшая длина сообщения для канала' }) maxLength!: number;
  @Field({ description: 'true — встроенный (не менялся центром)' }) builtin!: boolean;
  @Field(() => String, { nullable: true }) updatedBy!: string | null;
}

@ObjectType({ description: 'Подстановка шаблона' })
export class InformingPlaceholder {
  @Field() key!: string;
  @Field() label!: string;
  @Field(() => [InformingSourceKind]) sources!: InformingSourceKind[];
}

@ObjectType({ description: 'Черновик сообщения по шаблону' })
export class InformingDraft {
  @Field() templateCode!: string;
  @Field(() => InformingChannel) channel!: InformingChannel;
  @Field() text!: string;
  @Field(() => Int) maxLength!: number;
  @Field(() => GraphQLJSONObject, { description: 'Подставленные значения' }) values!: Record<string, string>;
  @Field() sourceTitle!: string;
}

@ObjectType({ description: 'Плановые работы: что, где, когда, какая организация' })
export class PlannedWorks {
  @Field(() => ID) id!: string;
  @Field() title!: string;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field() address!: string;
  @Field(() => ID, { nullable: true }) districtId!: string | null;
  @Field(() => String, { nullable: true }) districtName!: string | null;
  @Field(() => ID, { nullable: true }) themeId!: string | null;
  @Field(() => String, { nullable: true }) themeName!: string | null;
  @Field(() => ID, { nullable: true }) organizationId!: string | null;
  @Field(() => String, { nullable: true }) organizationName!: string | null;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Зона работ (GeoJSON geometry)' }) area!: Record<string, unknown> | null;
  @Field() startsAt!: Date;
  @Field() endsAt!: Date;
  @Field() createdBy!: string;
}

@InputType()
export class PlannedWorksInput {
  @Field({ description: 'Что: вид работ (до 300 символов)' }) title!: string;
  @Field(() => String, { nullable: true, description: 'Подробности (до 2 000)' }) description?: string;
  @Field({ description: 'Где: адрес или участок (до 300)' }) address!: string;
  @Field(() => ID, { nullable: true }) districtId?: string;
  @Field(() => ID, { nullable: true }) themeId?: string;
  @Field(() => ID, { nullable: true, description: 'Какая организация проводит работы' }) organizationId?: string;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Зона работ: GeoJSON Polygon / MultiPolygon' }) area?: Record<string, unknown>;
  @Field({ description: 'Когда: начало (ISO 8601 с часовым поясом)' }) startsAt!: Date;
  @Field({ description: 'Когда: окончание' }) endsAt!: Date;
}

@ObjectType({ description: 'Запись об информировании: что, кому (место, темы, размер аудитории), по какому каналу, когда, кто' })
export class Informing {
  @Field(() => ID) id!: string;
  @Field(() => InformingSourceKind) sourceKind!: InformingSourceKind;
  @Field(() => ID, { nullable: true }) sourceId!: string | null;
  @Field(() => String, { nullable: true }) sourceTitle!: string | null;
  @Field(() => InformingChannel) channel!: InformingChannel;
  @Field() channelLabel!: string;
  @Field(() => String, { nullable: true }) templateCode!: string | null;
  @Field(() => GraphQLJSONObject, { description: 'Как выбрана аудитория' }) audience!: Record<string, unknown>;
  @Field(() => Int) appeals!: number;
  @Field(() => Int) authors!: number;
  @Field(() => Int) consenting!: number;
  @Field() message!: string;
  @Field(() => String, { nullable: true }) note!: string | null;
  @Field() informedBy!: string;
  @Field() informedAt!: Date;
  @Field(() => Int, { nullable: true, description: 'Строк в последнем выпущенном списке обзвона' }) callbackRows!: number | null;
  @Field(() => Date, { nullable: true }) callbackAt!: Date | null;
}

@InputType()
export class RecordInformingInput {
  @Field(() => InformingSourceInput) source!: InformingSourceInput;
  @Field(() => InformingChannel) channel!: InformingChannel;
  @Field(() => String, { nullable: true }) templateCode?: string;
  @Field(() => AudienceInput) audience!: AudienceInput;
  @Field({ description: 'Текст, который ушёл (черновик по шаблону, при необходимости поправленный); только простой текст' }) message!: string;
  @Field(() => String, { nullable: true }) note?: string;
}

@ObjectType()
export class InformingConnection {
  @Field(() => [Informing]) nodes!: Informing[];
  @Field(() => Int) totalCount!: number;
}

@ObjectType({ description: 'Строка списка обзвона (персональные данные: чтение записано в журнал)' })
export class CallbackRow {
  @Field(() => ID) appealId!: string;
  @Field(() => String, { nullable: true }) fullName!: string | null;
  @Field(() => String, { nullable: true }) phone!: string | null;
  @Field(() => String, { nullable: true }) email!: string | null;
  @Field(() => String, { nullable: true }) address!: string | null;
  @Field(() => String, { nullable: true }) themeName!: string | null;
  @Field() receivedAt!: Date;
}

@ObjectType({ description: 'Список обзвона: только авторы, согласные на обратную связь' })
export class CallbackList {
  @Field(() => ID) informingId!: string;
  @Field(() => Int) total!: number;
  @Field(() => [CallbackRow]) rows!: CallbackRow[];
}
