import { Arg, Authorized, Ctx, Field, ID, Info, InputType, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { GraphQLJSON } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { PageInfo } from '../graphql/relay.js';
import { query } from '../db/sql.js';
import { admittedCount } from '../db/count.js';
import { requestedFields } from '../graphql/selection.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { USER_ADMINS } from '../auth/roles.js';

const MAX_PAGE = 500;

// Type-level rule as well: whatever resolver returns these objects, only admins read their fields.
@Authorized(USER_ADMINS)
@ObjectType({ description: 'Запись журнала изменений: кто, когда, что было, что стало' })
export class AuditEntry {
  @Field(() => ID) id!: string;
  @Field() at!: Date;
  @Field({ description: 'Логин пользователя или имя системного процесса' }) actor!: string;
  @Field(() => ID, { nullable: true }) actorId?: string;
  @Field({ description: 'Сущность: appeal, user, routing_rule, district, heat_layer, address_register, import_batch, problem…' }) entity!: string;
  @Field({ nullable: true }) entityId?: string;
  @Field() action!: string;
  @Field(() => GraphQLJSON, { nullable: true }) before?: unknown;
  @Field(() => GraphQLJSON, { nullable: true }) after?: unknown;
}

@ObjectType()
export class AuditEntryEdge {
  @Field() cursor!: string;
  @Field(() => AuditEntry) node!: AuditEntry;
}

@ObjectType({ description: 'Страница журнала изменений, новые сначала' })
export class AuditConnection {
  @Field(() => [AuditEntryEdge]) edges!: AuditEntryEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@InputType({ description: 'Отбор записей журнала изменений' })
export class AuditFilter {
  @Field({ nullable: true }) entity?: string;
  @Field({ nullable: true }) entityId?: string;
  @Field({ nullable: true }) action?: string;
  @Field(() => ID, { nullable: true }) actorId?: string;
  @Field({ nullable: true, description: 'Не раньше' }) from?: Date;
  @Field({ nullable: true, description: 'Раньше' }) to?: Date;
}

@Authorized(USER_ADMINS)
@ObjectType({ description: 'Чтение персональных данных автора обращения (152-ФЗ): кто, когда, какое обращение' })
export class PersonalDataAccess {
  @Field(() => ID) id!: string;
  @Field() at!: Date;
  @Field() actor!: string;
  @Field(() => ID, { nullable: true }) userId?: string;
  @Field(() => ID) appealId!: string;
  @Field() operation!: string;
}

@ObjectType()
export class PersonalDataAccessEdge {
  @Field() cursor!: string;
  @Field(() => PersonalDataAccess) node!: PersonalDataAccess;
}

@ObjectType({ description: 'Страница журнала доступа к персональным данным, новые сначала' })
export class PersonalDataAccessConnection {
  @Field(() => [PersonalDataAccessEdge]) edges!: PersonalDataAccessEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

function cursorOf(id: string): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

function afterId(after: string | undefined): string | null {
  if (!after) return null;
  const m = /^id:(\d{1,18})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
  if (!m) throw new InputError('after', 'неверный курсор страницы');
  return m[1];
}

function checkFirst(first: number) {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new InputError('first', `размер страницы от 0 до ${MAX_PAGE}`);
}

/**
 * A page of a log, newest first. The logs grow without bound (every change, every read of personal data): the total
 * is counted only when asked for, and a large count runs under the admission of heavy work (server/db/count.ts).
 */
async function page<T extends { id: string }>(ctx: Context, info: GraphQLResolveInfo, table: string, where: string[], params: unknown[], first: number,
  after: string | undefined, columns: string, map: (r: Record<string, any>) => T) {
  checkFirst(first);
  const cursor = afterId(after);
  const w = ['municipality_id = ?', ...where];
  const p: unknown[] = [ctx.municipalityId, ...params];
  const [rows, n] = await Promise.all([
    query<Record<string, any>>(ctx.em, `SELECT ${columns} FROM ${table} WHERE ${[...w, ...(cursor ? ['id < ?::bigint'] : [])].join(' AND ')} ORDER BY id DESC LIMIT ?`,
      [...p, ...(cursor ? [cursor] : []), first + 1]),
    requestedFields(info, []).has('totalCount') ? admittedCount(ctx.em, `${table} WHERE ${w.join(' AND ')}`, p) : 0,
  ]);
  const nodes = rows.slice(0, first).map(map);
  const edges = nodes.map((node) => ({ cursor: cursorOf(node.id), node }));
  return {
    edges, totalCount: n,
    pageInfo: { hasNextPage: rows.length > first, hasPreviousPage: !!cursor, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
  };
}

@Resolver()
export class AuditQueries {
  @Authorized(USER_ADMINS)
  @Query(() => AuditConnection, { description: 'Журнал изменений (администратор), новые сначала; first ≤ 500' })
  auditLog(
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('filter', () => AuditFilter, { nullable: true }) filter?: AuditFilter,
  ) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter?.entity) { where.push('entity = ?'); params.push(filter.entity); }
    if (filter?.entityId) { where.push('entity_id = ?'); params.push(filter.entityId); }
    if (filter?.action) { where.push('action = ?'); params.push(filter.action); }
    if (filter?.actorId) { where.push('actor_id = ?'); params.push(parseIds('filter.actorId', [filter.actorId])![0]); }
    if (filter?.from) { where.push('at >= ?'); params.push(filter.from); }
    if (filter?.to) { where.push('at < ?'); params.push(filter.to); }
    return page(ctx, info, 'audit_log', where, params, first, after,
      'id::text AS id, at, actor, actor_id, entity, entity_id, action, before, after',
      (r) => ({ id: r.id, at: new Date(r.at), actor: r.actor, actorId: r.actor_id == null ? undefined : String(r.actor_id), entity: r.entity,
        entityId: r.entity_id ?? undefined, action: r.action, before: r.before ?? undefined, after: r.after ?? undefined }));
  }

  @Authorized(USER_ADMINS)
  @Query(() => PersonalDataAccessConnection, { description: 'Журнал чтения персональных данных авторов обращений (администратор), новые сначала' })
  personalDataAccessLog(
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('appealId', () => ID, { nullable: true }) appealId?: string,
    @Arg('userId', () => ID, { nullable: true }) userId?: string,
  ) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (appealId) { where.push('appeal_id = ?'); params.push(parseIds('appealId', [appealId])![0]); }
    if (userId) { where.push('user_id = ?'); params.push(parseIds('userId', [userId])![0]); }
    return page(ctx, info, 'pd_access_log', where, params, first, after, 'id::text AS id, at, actor, user_id, appeal_id, operation',
      (r) => ({ id: r.id, at: new Date(r.at), actor: r.actor, userId: r.user_id == null ? undefined : String(r.user_id), appealId: String(r.appeal_id), operation: r.operation }));
  }
}

export const auditResolvers = [AuditQueries] as const;
