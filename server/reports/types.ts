import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

export enum ReportScopeKind { CITY = 'CITY', DISTRICT = 'DISTRICT', BLOCK = 'BLOCK', ORGANIZATION = 'ORGANIZATION' }
registerEnumType(ReportScopeKind, { name: 'ReportScopeKind', description: 'Охват справки: город, район, тематический блок, организация (с подведомственными)' });

export enum ReportStatus { RUNNING = 'RUNNING', DONE = 'DONE', FAILED = 'FAILED' }
registerEnumType(ReportStatus, { name: 'ReportStatus', description: 'RUNNING — формируется, DONE — готова (DOCX и PDF), FAILED — не сформирована (см. error)' });

@ObjectType({ description: 'Аналитическая справка за период и охват (DOCX и PDF), хранится с параметрами и может быть пересоздана' })
export class AnalyticReport {
  @Field(() => ID) id!: string;
  @Field(() => ReportScopeKind) scopeKind!: ReportScopeKind;
  @Field(() => ID, { nullable: true, description: 'Район, блок или организация; null — город' }) scopeId!: string | null;
  @Field({ description: 'Название охвата на момент заказа' }) scopeName!: string;
  @Field({ description: 'Первый день периода, ГГГГ-ММ-ДД' }) periodFrom!: string;
  @Field({ description: 'Последний день периода (включительно), ГГГГ-ММ-ДД' }) periodTo!: string;
  @Field({ description: 'Кто заказал (логин или schedule:<номер>)' }) requestedBy!: string;
  @Field(() => ID, { nullable: true }) scheduleId!: string | null;
  @Field() createdAt!: Date;
  @Field(() => ReportStatus) status!: ReportStatus;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => Date, { nullable: true }) generatedAt!: Date | null;
  @Field(() => Int, { description: 'Сколько раз сформирована' }) generations!: number;
  @Field(() => Int, { nullable: true, description: 'Время формирования, мс' }) ms!: number | null;
  @Field(() => Int, { nullable: true, description: 'Страниц в PDF' }) pages!: number | null;
  @Field(() => Int, { nullable: true }) docxBytes!: number | null;
  @Field(() => Int, { nullable: true }) pdfBytes!: number | null;
  @Field(() => String, { nullable: true, description: 'Адрес скачивания DOCX (нужен вход)' }) docxUrl!: string | null;
  @Field(() => String, { nullable: true, description: 'Адрес скачивания PDF (нужен вход)' }) pdfUrl!: string | null;
  @Field(() => GraphQLJSONObject, { description: 'Главные цифры: appeals, previousAppeals, overdue, problems, risks, recommendations' }) summary!: Record<string, unknown>;
}

@ObjectType()
export class AnalyticReportEdge { @Field() cursor!: string; @Field(() => AnalyticReport) node!: AnalyticReport }

@ObjectType()
export class AnalyticReportConnection {
  @Field(() => [AnalyticReportEdge]) edges!: AnalyticReportEdge[];
  @Field(() => Int) totalCount!: number;
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@InputType({ description: 'Заказ справки: охват и период (не длиннее 366 дней)' })
export class ReportRequestInput {
  @Field(() => ReportScopeKind) scopeKind!: ReportScopeKind;
  @Field(() => ID, { nullable: true, description: 'Для DISTRICT, BLOCK, ORGANIZATION' }) scopeId?: string | null;
  @Field({ description: 'Первый день, ГГГГ-ММ-ДД' }) from!: string;
  @Field({ description: 'Последний день (включительно), ГГГГ-ММ-ДД' }) to!: string;
}

@InputType({ description: 'Еженедельная справка: охват, день недели и час (местное время); справка — за семь дней до дня запуска' })
export class ReportScheduleInput {
  @Field(() => ReportScopeKind) scopeKind!: ReportScopeKind;
  @Field(() => ID, { nullable: true }) scopeId?: string | null;
  @Field(() => Int, { description: '1 — понедельник … 7 — воскресенье' }) weekday!: number;
  @Field(() => Int, { description: 'Час 0–23, местное время' }) hour!: number;
}

@ObjectType({ description: 'Расписание еженедельной справки' })
export class ReportSchedule {
  @Field(() => ID) id!: string;
  @Field(() => ReportScopeKind) scopeKind!: ReportScopeKind;
  @Field(() => ID, { nullable: true }) scopeId!: string | null;
  @Field(() => String, { nullable: true }) scopeName!: string | null;
  @Field(() => Int) weekday!: number;
  @Field(() => Int) hour!: number;
  @Field() createdBy!: string;
  @Field() createdAt!: Date;
  @Field({ description: 'Следующий запуск' }) nextRunAt!: Date;
  @Field(() => Date, { nullable: true }) lastRunAt!: Date | null;
  @Field(() => ID, { nullable: true }) lastReportId!: string | null;
}
