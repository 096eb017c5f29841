import { Arg, Authorized, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Context } from '../graphql/context.js';
import { PageInfo } from '../graphql/relay.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { IMPORTERS, USER_ADMINS } from '../auth/roles.js';
import { audit } from '../audit/audit.js';
import { Channel } from '../reference/entities.js';
import { issueKey, listKeys, revokeKey, type ApiKeyRow } from './keys.js';
import { assertPublicSource, Open311Client } from './client.js';

@Authorized(USER_ADMINS)
@ObjectType({ description: 'Ключ доступа клиента Open311 (сам ключ показывается один раз при выдаче; хранится только его хеш)' })
export class Open311ApiKey {
  @Field(() => ID) id!: string;
  @Field({ description: 'Кому выдан' }) name!: string;
  @Field({ description: 'Первые символы ключа — чтобы узнать его в списке' }) prefix!: string;
  @Field(() => Channel, { description: 'Канал, в который поступают обращения, отправленные с этим ключом' }) channel!: Channel;
  @Field(() => Int, { description: 'Лимит запросов в минуту' }) ratePerMinute!: number;
  @Field() createdAt!: Date;
  @Field() createdBy!: string;
  @Field({ nullable: true }) revokedAt?: Date;
  @Field({ nullable: true }) revokedBy?: string;
  @Field({ nullable: true }) lastUsedAt?: Date;
  @Field(() => Int, { description: 'Сколько раз ключ использован (каждое использование в журнале open311_key_use)' }) uses!: number;
}

@ObjectType()
export class Open311ApiKeyEdge {
  @Field() cursor!: string;
  @Field(() => Open311ApiKey) node!: Open311ApiKey;
}

@ObjectType()
export class Open311ApiKeyConnection {
  @Field(() => [Open311ApiKeyEdge]) edges!: Open311ApiKeyEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  @Field(() => Int) totalCount!: number;
}

@ObjectType({ description: 'Выданный ключ: секрет показывается только в этом ответе' })
export class IssuedOpen311Key {
  @Field(() => Open311ApiKey) key!: Open311ApiKey;
  @Field({ description: 'Ключ api_key — сохраните его сейчас, повторно он не показывается' }) secret!: string;
}

@InputType()
export class IssueOpen311KeyInput {
  @Field({ description: 'Кому выдан ключ (приложение, организация)' }) name!: string;
  @Field(() => Channel, { nullable: true, description: 'Канал обращений (по умолчанию OPEN311)' }) channel?: Channel;
  @Field(() => Int, { nullable: true, description: 'Запросов в минуту (по умолчанию 60)' }) ratePerMinute?: number;
}

@InputType()
export class Open311KeyFilter {
  @Field({ nullable: true, description: 'false — только действующие' }) includeRevoked?: boolean;
}

@ObjectType({ description: 'Замечание к заявке, загруженной с сервера Open311' })
export class Open311PullIssue {
  @Field(() => Int, { description: 'Номер заявки в загруженном окне' }) line!: number;
  @Field() field!: string;
  @Field({ description: 'ERROR или WARNING' }) severity!: string;
  @Field() reason!: string;
  @Field({ nullable: true }) externalId?: string;
}

@ObjectType({ description: 'Отчёт о загрузке заявок с другого сервера Open311' })
export class Open311PullReport {
  @Field(() => ID) sourceId!: number;
  @Field() baseUrl!: string;
  @Field({ description: 'updated — по updated_datetime; window — окнами по дате подачи' }) mode!: string;
  @Field(() => Int) calls!: number;
  @Field(() => Int) fetched!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) unchanged!: number;
  @Field(() => Int) rejected!: number;
  @Field(() => Int) flagged!: number;
  @Field(() => [ID]) batchIds!: number[];
  @Field({ nullable: true, description: 'До какого момента загружено (следующий запуск продолжит отсюда)' }) cursor?: string;
  @Field({ nullable: true }) stoppedEarly?: string;
  @Field(() => [Open311PullIssue]) issues!: Open311PullIssue[];
}

const toKey = (r: ApiKeyRow): Open311ApiKey => ({
  id: String(r.id), name: r.name, prefix: r.prefix, channel: r.channel, ratePerMinute: r.rate_per_minute, createdAt: new Date(r.created_at),
  createdBy: r.created_by, revokedAt: r.revoked_at ? new Date(r.revoked_at) : undefined, revokedBy: r.revoked_by ?? undefined,
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : undefined, uses: r.uses,
});

const cursorOf = (id: string) => Buffer.from(`id:${id}`).toString('base64url');

@Resolver()
export class Open311Resolver {
  @Authorized(USER_ADMINS)
  @Query(() => Open311ApiKeyConnection, { description: 'Ключи доступа Open311 (администратор); first ≤ 500' })
  async open311Keys(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('filter', () => Open311KeyFilter, { nullable: true }) filter?: Open311KeyFilter,
  ): Promise<Open311ApiKeyConnection> {
    if (!Number.isInteger(first) || first < 0 || first > 500) throw new InputError('first', 'размер страницы от 0 до 500');
    let afterId = 0;
    if (after) {
      const m = /^id:(\d{1,9})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
      if (!m) throw new InputError('after', 'неверный курсор страницы');
      afterId = Number(m[1]);
    }
    const { rows, total } = await listKeys(ctx.em, ctx.municipalityId, { includeRevoked: filter?.includeRevoked ?? true, first: first + 1, afterId });
    const edges = rows.slice(0, first).map((r) => ({ cursor: cursorOf(String(r.id)), node: toKey(r) }));
    return {
      edges, totalCount: total,
      pageInfo: { hasNextPage: rows.length > first, hasPreviousPage: afterId > 0, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
    };
  }

  @Authorized(USER_ADMINS)
  @Mutation(() => IssuedOpen311Key, { description: 'Выдать ключ Open311 (секрет показывается один раз)' })
  async issueOpen311Key(@Ctx() ctx: Context, @Arg('input', () => IssueOpen311KeyInput) input: IssueOpen311KeyInput): Promise<IssuedOpen311Key> {
    const r = await issueKey(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user }, input);
    return { key: toKey(r.key), secret: r.secret };
  }

  @Authorized(USER_ADMINS)
  @Mutation(() => Open311ApiKey, { description: 'Отозвать ключ Open311: следующие запросы с ним получат 403' })
  async revokeOpen311Key(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<Open311ApiKey> {
    const [n] = parseIds('id', [id])!;
    return toKey(await revokeKey(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user }, n));
  }

  @Authorized(IMPORTERS)
  @Mutation(() => Open311PullReport, { description: 'Загрузить заявки с другого сервера Open311 GeoReport v2 (инкрементно: следующий запуск продолжает с курсора)' })
  async importOpen311(
    @Ctx() ctx: Context,
    @Arg('baseUrl') baseUrl: string,
    @Arg('mapping', () => GraphQLJSONObject, { nullable: true }) mapping?: Record<string, unknown>,
    @Arg('since', () => Date, { nullable: true }) since?: Date,
  ): Promise<Open311PullReport> {
    if (baseUrl.length > 500) throw new InputError('baseUrl', 'адрес длиннее 500 символов');
    await assertPublicSource(baseUrl);
    const r = await new Open311Client(ctx.em, ctx.municipalityId).pull({ baseUrl, mapping, since, actor: ctx.actor });
    await audit(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user }, {
      entity: 'open311_source', entityId: r.sourceId, action: 'import',
      after: { baseUrl: r.baseUrl, fetched: r.fetched, inserted: r.inserted, updated: r.updated, rejected: r.rejected, cursor: r.cursor },
    });
    return { ...r, cursor: r.cursor ?? undefined, issues: r.issues.slice(0, 1000) };
  }
}

export const open311Resolvers = [Open311Resolver] as const;
