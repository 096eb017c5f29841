import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Info, Int, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { requestedFields } from '../graphql/selection.js';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { PageInfo } from '../graphql/relay.js';
import { District, Organization, Theme } from '../reference/entities.js';
import { Appeal, AppealEvent, AppealStatus } from './entities.js';
import { AppealFilter, cacheableFilter, parseFilter, type ParsedFilter } from './filter.js';
import { heavy } from '../db/admission.js';
import { cacheKey, resultCacheOf } from '../db/result-cache.js';
import { parseIds } from '../graphql/ids.js';
import { AppealGroupBy, AppealOrder, encodeCursor, encodeDeadlineCursor, isJoined } from './service.js';
import { READERS } from '../auth/roles.js';

registerEnumType(AppealGroupBy, { name: 'AppealGroupBy', description: 'Разрез для подсчёта обращений' });
registerEnumType(AppealOrder, { name: 'AppealOrder', description: 'RECEIVED_DESC — новые сначала; DEADLINE — очередь: срочные сначала, затем по сроку ответа (только обращения со сроком)' });

@ObjectType()
export class AppealEdge {
  @Field() cursor!: string;
  @Field(() => Appeal) node!: Appeal;
}

/** An edge whose cursor is encoded only when read (most pages ask for pageInfo.endCursor, not for every edge's). */
class LazyEdge {
  constructor(readonly node: Appeal, private readonly byDeadline: boolean) {}
  get cursor(): string {
    return this.byDeadline ? encodeDeadlineCursor(this.node) : encodeCursor(this.node.receivedAt, this.node.id);
  }
}

@ObjectType({ description: 'Страница обращений (Relay connection)' })
export class AppealConnection {
  @Field(() => [AppealEdge]) edges!: AppealEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  /** The filter, kept for totalCount (computed only when asked for). */
  filter!: ParsedFilter;
  /** The count, when started together with the page. */
  total?: Promise<number>;
}

@ObjectType({ description: 'Количество обращений в группе' })
export class GroupCount {
  @Field(() => ID, { nullable: true, description: 'Идентификатор или код группы; null — не определено' }) key!: string | null;
  @Field() label!: string;
  @Field(() => Int) count!: number;
}

// Every signed-in role reads appeals and aggregates; rows are limited by the user's scope (parseFilter(…, ctx)),
// personal data by Appeal.author (server/auth/personal-data.ts).
@Authorized(READERS)
@Resolver()
export class AppealQueries {
  @Query(() => AppealConnection, { description: 'Обращения, новые сначала (или очередью по сроку: orderBy DEADLINE); first ≤ 500' })
  async appeals(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | undefined,
    @Arg('filter', () => AppealFilter, { nullable: true }) filter: AppealFilter | undefined,
    @Info() info: GraphQLResolveInfo,
    @Arg('orderBy', () => AppealOrder, { nullable: true }) orderBy?: AppealOrder,
  ): Promise<AppealConnection> {
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    // The count runs beside the page (on its own connection where the pool has several).
    // The count is cached per filter, scope and data version (a page of the same filter, the next page, the same view on
    // another desk). A miss counts at most COUNT_LIGHT_ROWS appeals at once beside the page, never queued behind heavy
    // work; a larger count is made in full under the admission of heavy work (server/db/count.ts). How many counts one
    // operation may ask for: GRAPHQL_MAX_COUNTS (server/graphql/limits.ts).
    const total = requestedFields(info, []).has('totalCount')
      ? (cacheableFilter(f) ? resultCacheOf(ctx.em).get(ctx.em, cacheKey('appealCount', f), () => ctx.appeals.count(f), { admit: false }) : ctx.appeals.count(f))
      : undefined;
    total?.catch(() => undefined); // awaited by totalCount; avoid an unhandled rejection if the page fails first
    const nodeFields = requestedFields(info, ['edges', 'node']);
    const relations = Object.fromEntries((['district', 'theme', 'organization'] as const)
      .filter((t) => nodeFields.has(t)).map((t) => [t, requestedFields(info, ['edges', 'node', t])]));
    const byDeadline = orderBy === AppealOrder.DEADLINE;
    const page = await ctx.appeals.page(f, first, after ?? undefined, nodeFields, orderBy ?? AppealOrder.RECEIVED_DESC, relations);
    // The relations read with the page are attached to their appeals (only the asked-for columns); the field
    // resolvers below return them as they are. Cursors are computed only when a query asks for them.
    const edges = page.rows.map((node) => new LazyEdge(node, byDeadline));
    return {
      edges,
      filter: f,
      total,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.hasPreviousPage,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  @Query(() => Appeal, { nullable: true })
  async appeal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    const [n] = parseIds('id', [id])!;
    const [a] = await ctx.appeals.byIds([n]);
    return a;
  }

  @Query(() => [GroupCount], { description: 'Количество обращений по районам, темам, каналам, статусам или исполнителям' })
  async appealCounts(
    @Ctx() ctx: Context,
    @Arg('groupBy', () => AppealGroupBy) groupBy: AppealGroupBy,
    @Arg('filter', () => AppealFilter, { nullable: true }) filter?: AppealFilter,
  ) {
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    if (!cacheableFilter(f)) return heavy(ctx.em, () => ctx.appeals.groupCounts(f, groupBy));
    return resultCacheOf(ctx.em).get(ctx.em, cacheKey('appealCounts', groupBy, f), () => ctx.appeals.groupCounts(f, groupBy));
  }

  @Query(() => GraphQLJSONObject, { description: 'Точки обращений для карты: GeoJSON FeatureCollection (новые сначала)' })
  async appealsGeoJSON(
    @Ctx() ctx: Context,
    @Arg('limit', () => Int, { defaultValue: 50_000 }) limit: number,
    @Arg('filter', () => AppealFilter, { nullable: true }) filter?: AppealFilter,
  ) {
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    return ctx.appeals.points(f, limit);
  }
}

// Roots are typed Readonly<…> so type-graphql passes them through instead of copying each
// into a new entity instance (which costs ORM property setters on every field).
@Resolver(() => AppealConnection)
export class AppealConnectionFields {
  @FieldResolver(() => Int, { description: 'Всего обращений по фильтру' })
  totalCount(@Root() c: Readonly<AppealConnection>, @Ctx() ctx: Context) {
    return c.total ?? ctx.appeals.count(c.filter);
  }
}

@Resolver(() => Appeal)
export class AppealFields {
  @FieldResolver(() => District, { nullable: true })
  district(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return a.district ? (isJoined(a.district) ? a.district : ctx.loaders.district.load(a.district.id)) : null;
  }

  @FieldResolver(() => Theme, { nullable: true })
  theme(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return a.theme ? (isJoined(a.theme) ? a.theme : ctx.loaders.theme.load(a.theme.id)) : null;
  }

  @FieldResolver(() => Organization, { nullable: true, description: 'Ответственная организация' })
  organization(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return a.organization ? (isJoined(a.organization) ? a.organization : ctx.loaders.organization.load(a.organization.id)) : null;
  }

  @FieldResolver(() => [AppealEvent], { description: 'Полная история изменений' })
  events(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return ctx.loaders.events.load(a.id);
  }

  @FieldResolver(() => Boolean, { description: 'Просрочено: срок прошёл, а ответа нет (или ответ дан после срока)' })
  overdue(@Root() a: Readonly<Appeal>): boolean {
    if (!a.dueAt) return false;
    const done = a.answeredAt ?? (a.status === AppealStatus.REJECTED ? a.firstResponseAt : undefined);
    return (done ?? new Date()) > a.dueAt;
  }
}

export const appealResolvers = [AppealQueries, AppealConnectionFields, AppealFields] as const;
