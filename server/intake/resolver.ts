import { Arg, Authorized, Ctx, Field, FieldResolver, Float, ID, Int, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { GraphQLUpload } from 'graphql-upload-minimal';
import type { Readable } from 'node:stream';
import type { Context } from '../graphql/context.js';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { Appeal } from '../appeals/entities.js';
import { Channel } from '../reference/entities.js';
import { IntakeService } from './service.js';
import { DEFAULT_SETTINGS } from './pipeline.js';
import { importAddressRegister } from './address-register.js';
import { APPEAL_EDITORS, IMPORTERS, READERS, REFERENCE_EDITORS } from '../auth/roles.js';
import { auditedAppealChange } from '../auth/guard.js';
import { audit } from '../audit/audit.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { Theme } from '../reference/entities.js';
import { trainClassifier } from './context.js';
import { isRestricted, scopeOf, scopeSql } from '../auth/scope.js';
import { maySeePersonalData } from '../auth/personal-data.js';

export enum SourceFormatEnum { csv = 'csv', xlsx = 'xlsx', jsonl = 'jsonl', geojson = 'geojson' }
registerEnumType(SourceFormatEnum, { name: 'SourceFormat', description: 'Формат файла: csv, xlsx, jsonl (JSON lines), geojson' });

interface FileUpload { filename: string; mimetype: string; createReadStream(): Readable }

@ObjectType({ description: 'Замечание к строке файла: ошибка (строка отклонена) или предупреждение (сохранена с пометкой)' })
export class ImportIssue {
  @Field(() => Int, { description: 'Строка файла (для GeoJSON — номер объекта)' }) line!: number;
  @Field() field!: string;
  @Field({ description: 'ERROR или WARNING' }) severity!: string;
  @Field() reason!: string;
  @Field({ nullable: true }) externalId?: string;
}

@ObjectType({ description: 'Итог импорта' })
export class ImportReportType {
  @Field(() => ID) batchId!: number;
  @Field({ description: 'DONE или FAILED' }) status!: string;
  @Field(() => Int, { description: 'Прочитано записей' }) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) unchanged!: number;
  @Field(() => Int, { description: 'Отклонено (с причиной в issues)' }) rejected!: number;
  @Field(() => Int, { description: 'Сохранено с предупреждением' }) flagged!: number;
  @Field(() => [ImportIssue], { description: 'Первые 1000 замечаний; все — в importBatch(id).issues' }) issues!: ImportIssue[];
  @Field({ nullable: true }) error?: string;
}

@ObjectType({ description: 'Пакет импорта' })
export class ImportBatch {
  @Field(() => ID) id!: number;
  @Field(() => Channel) channel!: Channel;
  @Field() sourceName!: string;
  @Field() format!: string;
  @Field() actor!: string;
  @Field({ description: 'RUNNING, DONE, FAILED или INTERRUPTED (прерван остановкой или сбоем сервера; сохранённое — в счётчиках)' }) status!: string;
  @Field() startedAt!: Date;
  @Field({ nullable: true }) finishedAt?: Date;
  @Field(() => Int) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) unchanged!: number;
  @Field(() => Int) rejected!: number;
  @Field(() => Int) flagged!: number;
  @Field({ nullable: true }) error?: string;
  @Field(() => Int, { description: 'Замечаний всего (хранятся только первые IMPORT_MAX_STORED_ISSUES; остальные — в issueCounts)' }) issuesTotal!: number;
  @Field(() => GraphQLJSONObject, { description: 'Число замечаний по причинам: «ERROR поле: причина» → число' }) issueCounts!: Record<string, number>;
}

@ObjectType()
export class AddressImportReportType {
  @Field(() => Int) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) rejected!: number;
  @Field(() => [ImportIssue]) issues!: ImportIssue[];
}

@ObjectType({ description: 'Правило маршрутизации: тема × район → ответственная организация' })
export class RoutingRule {
  @Field(() => ID) id!: number;
  @Field(() => ID) themeId!: number;
  @Field(() => ID, { nullable: true, description: 'null — любой район' }) districtId?: number;
  @Field(() => ID) organizationId!: number;
}

const BATCH_SQL = `SELECT id, channel, source_name AS "sourceName", format, actor, status, started_at AS "startedAt", finished_at AS "finishedAt",
  rows_read AS read, inserted, updated, unchanged, rejected, flagged, error, issues_total AS "issuesTotal", issue_counts AS "issueCounts" FROM import_batch b`;

/**
 * Row scope of import batches (as for appeals): a BLOCK_LEAD or ORG_OFFICER sees the batches that stored at least one
 * appeal of their scope, and of their issues only the rows of those appeals (a rejected row belongs to nobody's scope).
 */
function batchScope(ctx: Context): { sql: string; params: unknown[] } {
  const s = ctx.user ? scopeOf(ctx.user) : undefined;
  if (!isRestricted(s)) return { sql: 'TRUE', params: [] };
  const sc = scopeSql(s!, 'a');
  return { sql: `EXISTS (SELECT 1 FROM appeal a WHERE a.batch_id = b.id AND ${sc.sql})`, params: sc.params };
}

/** Values quoted in a reason («…») may be personal data (an address, a name): masked for roles without the right. */
const maskReason = (reason: string) => reason.replace(/«[^»]*»?/g, '«***»');
const toBatch = (r: Record<string, any>) => ({ ...r, startedAt: new Date(r.startedAt), finishedAt: r.finishedAt ? new Date(r.finishedAt) : undefined, error: r.error ?? undefined });

@ObjectType({ description: 'Обученный классификатор тем и его оценка скользящим контролем (на текстах, отложенных при обучении)' })
export class ClassifierReport {
  @Field(() => Int, { description: 'Тем, известных модели' }) themes!: number;
  @Field(() => Int, { description: 'Признаков (основы слов, пары основ, буквенные n-граммы)' }) features!: number;
  @Field(() => Int, { description: 'Блоков скользящего контроля' }) folds!: number;
  @Field(() => Int, { description: 'Текстов, оценённых скользящим контролем' }) evaluated!: number;
  @Field(() => Float, { description: 'Макро-F1' }) macroF1!: number;
  @Field(() => Float, { description: 'Доля верных тем' }) accuracy!: number;
  @Field(() => Float, { description: 'Ожидаемая ошибка калибровки уверенности (ECE)' }) calibrationError!: number;
  @Field(() => Float, { description: 'Температура калибровки' }) temperature!: number;
  @Field(() => Float, { description: 'Порог автоматического принятия темы' }) threshold!: number;
  @Field(() => Float, { description: 'Доля обращений с уверенностью не ниже порога' }) autoAcceptedShare!: number;
  @Field(() => Float, { description: 'Доля верных тем среди принятых автоматически' }) autoAcceptedAccuracy!: number;
}

/** Per-request loaders of the intake's appeal columns (one statement per page of appeals). */
const intakeLoaders = new WeakMap<object, ReturnType<typeof createIntakeLoaders>>();
function createIntakeLoaders(ctx: Context) {
  return {
    info: new DataLoader<number, { secondary: number[]; precision: string | null }>(async (ids) => {
      const rows = await query<{ id: number; secondary_theme_ids: number[] | null; place_precision: string | null }>(
        ctx.em, 'SELECT id, secondary_theme_ids, place_precision FROM appeal WHERE id = ANY(?::int[])', [[...ids]]);
      const m = new Map(rows.map((r) => [r.id, { secondary: r.secondary_theme_ids ?? [], precision: r.place_precision }]));
      return ids.map((id) => m.get(id) ?? { secondary: [], precision: null });
    }),
    /** Linked appeals through the row scope of the user (another organisation's appeal stays null). */
    appeal: new DataLoader<number, Appeal | null>((ids) => ctx.appeals.byIds(ids)),
  };
}
function loadersOf(ctx: Context) {
  let l = intakeLoaders.get(ctx);
  if (!l) intakeLoaders.set(ctx, (l = createIntakeLoaders(ctx)));
  return l;
}

function intake(ctx: Context, em: EntityManager = ctx.em) {
  return new IntakeService(em, ctx.municipalityId, ctx.actor);
}

@Authorized(READERS)
@Resolver()
export class IntakeResolver {
  @Authorized(IMPORTERS)
  @Mutation(() => ImportReportType, {
    description: 'Импорт файла обращений (multipart). Без mapping используется встроенное сопоставление канала; с mapping — универсальный импорт любого источника.',
  })
  async importAppeals(
    @Ctx() ctx: Context,
    @Arg('file', () => GraphQLUpload) file: Promise<FileUpload>,
    @Arg('channel', () => Channel, { nullable: true }) channel?: Channel,
    @Arg('mapping', () => GraphQLJSONObject, { nullable: true }) mapping?: Record<string, unknown>,
    @Arg('format', () => SourceFormatEnum, { nullable: true }) format?: SourceFormatEnum,
  ) {
    const f = await file;
    const report = await intake(ctx).importFile(f.createReadStream(), { fileName: f.filename, channel, mapping, format: format as never });
    // Row changes are in appeal_event (actor import:<batch>); the audit log gets the import itself.
    await audit(ctx.em, ctx, { entity: 'import_batch', entityId: report.batchId, action: 'import', before: null,
      after: { fileName: f.filename, channel: channel ?? null, read: report.read, inserted: report.inserted, updated: report.updated,
        unchanged: report.unchanged, rejected: report.rejected, flagged: report.flagged, status: report.status } });
    return report;
  }

  @Mutation(() => AddressImportReportType, { description: 'Загрузка адресного реестра (CSV: street; house; lat; lon)' })
  @Authorized(REFERENCE_EDITORS)
  async importAddressRegister(@Ctx() ctx: Context, @Arg('file', () => GraphQLUpload) file: Promise<FileUpload>) {
    const f = await file;
    const r = await importAddressRegister(ctx.em, ctx.municipalityId, f.createReadStream());
    await audit(ctx.em, ctx, { entity: 'address_register', action: 'import', before: null,
      after: { fileName: f.filename, read: r.read, inserted: r.inserted, updated: r.updated, rejected: r.rejected } });
    return r;
  }

  @Query(() => [ImportBatch], { description: 'Пакеты импорта, новые сначала' })
  async importBatches(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 20 }) first: number, @Arg('before', () => ID, { nullable: true }) before?: string) {
    if (first < 1 || first > 200) throw new InputError('first', 'от 1 до 200');
    const b = before ? parseIds('before', [before])![0] : 2 ** 31 - 1;
    const sc = batchScope(ctx);
    const rows = await query(ctx.em, `${BATCH_SQL} WHERE municipality_id = ? AND id < ? AND ${sc.sql} ORDER BY id DESC LIMIT ?`, [ctx.municipalityId, b, ...sc.params, first]);
    return rows.map(toBatch);
  }

  @Query(() => ImportBatch, { nullable: true })
  async importBatch(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    const sc = batchScope(ctx);
    const [r] = await query(ctx.em, `${BATCH_SQL} WHERE municipality_id = ? AND id = ? AND ${sc.sql}`, [ctx.municipalityId, parseIds('id', [id])![0], ...sc.params]);
    return r ? toBatch(r) : null;
  }

  @Query(() => [RoutingRule])
  routingRules(@Ctx() ctx: Context) {
    return query(ctx.em, `SELECT id, theme_id AS "themeId", district_id AS "districtId", organization_id AS "organizationId" FROM routing_rule WHERE municipality_id = ? ORDER BY id`, [ctx.municipalityId]);
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => Boolean, { description: 'Задать правило маршрутизации (тема × район → организация); districtId не указан — для любого района' })
  async setRoutingRule(
    @Ctx() ctx: Context,
    @Arg('themeId', () => ID) themeId: string,
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('districtId', () => ID, { nullable: true }) districtId?: string,
  ) {
    await ctx.em.transactional(async (tem) => {
      const rule = (em: EntityManager) => query<{ id: number; organization_id: number }>(em,
        `SELECT id, organization_id FROM routing_rule WHERE municipality_id = ? AND theme_id = ?::int AND district_id IS NOT DISTINCT FROM ?::int`,
        [ctx.municipalityId, /^\d{1,9}$/.test(themeId) ? themeId : null, districtId && /^\d{1,9}$/.test(districtId) ? districtId : null]);
      const [before] = await rule(tem);
      await intake(ctx, tem).setRoutingRule(themeId, districtId, organizationId);
      const [after] = await rule(tem);
      await audit(tem, ctx, { entity: 'routing_rule', entityId: after?.id, action: before ? 'update' : 'create',
        before: before ? { themeId, districtId: districtId ?? null, organizationId: String(before.organization_id) } : null,
        after: { themeId, districtId: districtId ?? null, organizationId: String(after?.organization_id ?? organizationId) } });
    });
    return true;
  }

  @Authorized(REFERENCE_EDITORS)
  @Mutation(() => ClassifierReport, {
    description: 'Переобучить классификатор тем (начальный корпус + темы из источников и исправления работников) и сообщить его оценку скользящим контролем',
  })
  async retrainClassifier(@Ctx() ctx: Context) {
    const model = await trainClassifier(ctx.em, ctx.municipalityId, true);
    const cv = model.cv;
    await audit(ctx.em, ctx, { entity: 'classifier', action: 'retrain', before: null,
      after: { themes: model.trainedThemes.length, macroF1: cv?.macroF1 ?? null, ece: cv?.ece ?? null } });
    const threshold = DEFAULT_SETTINGS.triageThreshold;
    const accepted = cv ? model.cvAutoAccepted(threshold) : null;
    return {
      themes: model.trainedThemes.length, features: model.vocabularySize, folds: cv?.folds ?? 0, evaluated: cv?.n ?? 0,
      macroF1: cv?.macroF1 ?? 0, accuracy: cv?.accuracy ?? 0, calibrationError: cv?.ece ?? 0, temperature: model.temperature,
      threshold, autoAcceptedShare: accepted?.share ?? 0, autoAcceptedAccuracy: accepted?.accuracy ?? 0,
    };
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Appeal, { description: 'Назначить тему вручную (очередь сортировки): событие в истории, обучающий пример для классификатора' })
  async reclassifyAppeal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('themeId', () => ID) themeId: string, @Arg('comment', { nullable: true }) comment?: string) {
    const n = await auditedAppealChange(ctx, id, 'reclassify', (em) => intake(ctx, em).reclassify(id, themeId, comment), comment ? { comment } : undefined);
    return (await ctx.appeals.byIds([n]))[0];
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Appeal, { description: 'Передать обращение другой организации' })
  async reassignAppeal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('organizationId', () => ID) organizationId: string, @Arg('comment', { nullable: true }) comment?: string) {
    const n = await auditedAppealChange(ctx, id, 'reassign', (em) => intake(ctx, em).reassign(id, organizationId, comment), comment ? { comment } : undefined);
    return (await ctx.appeals.byIds([n]))[0];
  }

  @Authorized(APPEAL_EDITORS)
  @Mutation(() => Appeal, { description: 'Указать место обращения вручную (очередь проверки адресов)' })
  async resolveAppealPlace(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('lon', () => Float) lon: number,
    @Arg('lat', () => Float) lat: number,
    @Arg('addToRegister', { defaultValue: true, description: 'Запомнить адрес в адресном реестре' }) addToRegister: boolean,
  ) {
    const n = await auditedAppealChange(ctx, id, 'resolve_place', (em) => intake(ctx, em).resolvePlace(id, lon, lat, addToRegister));
    return (await ctx.appeals.byIds([n]))[0];
  }
}

@Resolver(() => ImportBatch)
export class ImportBatchFields {
  @FieldResolver(() => [ImportIssue], { description: 'Замечания по строкам' })
  async issues(
    @Root() b: Readonly<ImportBatch>,
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Arg('afterLine', () => Int, { defaultValue: 0 }) afterLine: number,
    @Arg('severity', { nullable: true }) severity?: string,
  ) {
    if (first < 1 || first > 1000) throw new InputError('first', 'от 1 до 1000');
    const s = ctx.user ? scopeOf(ctx.user) : undefined;
    const sc = isRestricted(s) ? scopeSql(s!, 'a') : undefined;
    // A scoped user sees the issues of rows stored as appeals of their scope only.
    const scoped = sc ? `AND EXISTS (SELECT 1 FROM appeal a JOIN import_batch b ON b.id = i.batch_id
                                      WHERE (a.channel = b.channel OR a.batch_id = b.id) AND a.municipality_id = b.municipality_id
                                        AND a.external_id = i.external_id AND ${sc.sql})` : '';
    const rows = await query<ImportIssue>(ctx.em,
      `SELECT line, field, severity, reason, external_id AS "externalId" FROM import_issue i
        WHERE batch_id = ? AND line > ? AND (?::text IS NULL OR severity = ?) ${scoped} ORDER BY line, id LIMIT ?`,
      [b.id, afterLine, severity ?? null, severity ?? null, ...(sc?.params ?? []), first]);
    if (maySeePersonalData(ctx.user)) return rows;
    return rows.map((r) => ({ ...r, externalId: undefined, reason: maskReason(r.reason) }));
  }
}

@Resolver(() => Appeal)
export class AppealIntakeFields {
  @FieldResolver(() => [Theme], { description: 'Другие темы, которые классификатор явно видит в тексте (до двух); ответственная тема одна — theme' })
  async secondaryThemes(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    const { secondary } = await loadersOf(ctx).info.load(a.id);
    const themes = await Promise.all(secondary.map((id) => ctx.loaders.theme.load(id)));
    return themes.filter((t) => t != null);
  }

  @FieldResolver(() => String, { nullable: true, description: 'Точность места: HOUSE — дом, STREET — улица без дома, DISTRICT — район, NONE — места нет' })
  async placePrecision(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return (await loadersOf(ctx).info.load(a.id)).precision;
  }

  @FieldResolver(() => Appeal, { nullable: true, description: 'Дубликат: более раннее похожее обращение рядом по той же теме' })
  duplicateOf(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return a.duplicateOf ? loadersOf(ctx).appeal.load(a.duplicateOf.id) : null;
  }

  @FieldResolver(() => Appeal, { nullable: true, description: 'Повтор: более раннее обращение того же автора по той же теме' })
  repeatOf(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return a.repeatOf ? loadersOf(ctx).appeal.load(a.repeatOf.id) : null;
  }
}

export const intakeResolvers = [IntakeResolver, ImportBatchFields, AppealIntakeFields] as const;
