import { Arg, Authorized, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { Organization, ThematicBlock } from '../reference/entities.js';
import { audit } from '../audit/audit.js';
import { GraphQLError } from 'graphql';
import { REGION_ROLES, ROLE_LABELS, Role, USER_ADMINS, isRegionRole } from './roles.js';
import { requireUser, UnauthenticatedError } from './checker.js';
import { UserService, verifyPassword, type UserRow } from './users.js';
import { query } from '../db/sql.js';

@ObjectType({ description: 'Пользователь МЦУ Hub' })
export class User {
  @Field(() => ID) id!: number;
  @Field() login!: string;
  @Field() displayName!: string;
  @Field(() => Role) role!: Role;
  organizationId!: number | null;
  thematicBlockId!: number | null;
  @Field({ description: 'false — учётная запись отключена' }) active!: boolean;
  @Field({ description: 'Демонстрационная учётная запись (режим --demo)' }) demo!: boolean;
  @Field({ nullable: true, description: 'Заблокирована после неудачных попыток входа до' }) lockedUntil?: Date;
  @Field({ nullable: true }) lastLoginAt?: Date;
  @Field() createdAt!: Date;
}

@ObjectType({ description: 'Результат входа: токен для заголовка Authorization: Bearer (веб-клиент получает его же в cookie HttpOnly)' })
export class SignInResult {
  @Field() token!: string;
  @Field() expiresAt!: Date;
  @Field(() => User) user!: User;
}

@InputType({ description: 'Новая учётная запись' })
export class CreateUserInput {
  @Field({ description: 'Латинские буквы, цифры, . _ -; 2–64 символа' }) login!: string;
  @Field({ nullable: true, description: 'ФИО для интерфейса и журналов' }) displayName?: string;
  @Field(() => Role) role!: Role;
  @Field({ description: 'Не короче 10 символов' }) password!: string;
  @Field(() => ID, { nullable: true, description: 'Организация (для ORG_OFFICER): идентификатор или код' }) organization?: string;
  @Field(() => ID, { nullable: true, description: 'Тематический блок (для BLOCK_LEAD): идентификатор или код' }) thematicBlock?: string;
}

@InputType({ description: 'Изменение учётной записи (не указанные поля не меняются)' })
export class UpdateUserInput {
  @Field({ nullable: true }) displayName?: string;
  @Field(() => Role, { nullable: true }) role?: Role;
  @Field(() => ID, { nullable: true }) organization?: string;
  @Field(() => ID, { nullable: true }) thematicBlock?: string;
  @Field({ nullable: true, description: 'false — отключить (все сеансы завершаются)' }) active?: boolean;
}

/**
 * Regional roles read every municipality of the region: a municipality's administrator cannot grant that (it would
 * open the neighbours' data), nor turn a regional account into a municipal one; they are managed on the server
 * (`npm run user:create -- --login … --role REGION_ANALYST`, server/cli/user.ts).
 */
function regionalRoleGuard(role: Role, field: string): void {
  if (isRegionRole(role)) {
    throw new GraphQLError(`${field}: роли региона (${REGION_ROLES.join(', ')}) назначаются на сервере командой npm run user:create, не администратором муниципалитета`, { extensions: { code: 'FORBIDDEN', field } });
  }
}

const toUser = (u: UserRow): User => ({
  id: u.id, login: u.login, displayName: u.displayName, role: u.role, organizationId: u.organizationId, thematicBlockId: u.thematicBlockId,
  active: u.active, demo: u.demo, lockedUntil: u.lockedUntil && u.lockedUntil > new Date() ? u.lockedUntil : undefined,
  lastLoginAt: u.lastLoginAt ?? undefined, createdAt: u.createdAt,
});

/** An account for audit entries: no hash, no counters. */
const auditView = (u: UserRow) => ({
  login: u.login, displayName: u.displayName, role: u.role, organizationId: u.organizationId, thematicBlockId: u.thematicBlockId, active: u.active,
});

function users(ctx: Context) {
  return new UserService(ctx.em, ctx.municipalityId);
}

@Resolver()
export class AuthResolver {
  @Mutation(() => SignInResult, { description: 'Вход по логину и паролю. Доступен без входа. После AUTH_MAX_FAILURES (5) неудач подряд — блокировка на AUTH_LOCK_MINUTES (15) минут' })
  async signIn(@Ctx() ctx: Context, @Arg('login') login: string, @Arg('password') password: string): Promise<SignInResult> {
    if (!ctx.auth) throw new UnauthenticatedError('Вход недоступен');
    const s = await ctx.auth.service.signIn(login, password, ctx.auth.meta);
    ctx.auth.setSessionCookie(s.token, s.expiresAt);
    const u = await new UserService(ctx.em, s.user.municipalityId).byId(s.user.id);
    return { token: s.token, expiresAt: s.expiresAt, user: toUser(u!) };
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Выход: текущий сеанс (cookie или токен) больше не действует' })
  async signOut(@Ctx() ctx: Context): Promise<boolean> {
    if (!ctx.auth?.tokenHash) return false;
    await ctx.auth.service.signOut(ctx.auth.tokenHash);
    ctx.auth.clearSessionCookie();
    return true;
  }

  @Authorized()
  @Query(() => User, { description: 'Текущий пользователь' })
  async me(@Ctx() ctx: Context): Promise<User> {
    const u = await users(ctx).byId(requireUser(ctx).id);
    if (!u) throw new UnauthenticatedError();
    return toUser(u);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Сменить свой пароль (остальные сеансы завершаются)' })
  async changePassword(@Ctx() ctx: Context, @Arg('oldPassword') oldPassword: string, @Arg('newPassword') newPassword: string): Promise<boolean> {
    const me = requireUser(ctx);
    const [r] = await query<{ password_hash: string }>(ctx.em, 'SELECT password_hash FROM app_user WHERE id = ?', [me.id]);
    if (!r || !(await verifyPassword(r.password_hash, oldPassword))) throw new InputError('oldPassword', 'неверный текущий пароль');
    if (oldPassword === newPassword) throw new InputError('newPassword', 'новый пароль совпадает с текущим');
    await ctx.em.transactional(async (tem) => {
      await new UserService(tem, ctx.municipalityId).setPassword(me.id, newPassword, 'newPassword');
      await ctx.auth?.service.revokeUser(me.id, tem, ctx.auth.tokenHash);
      await audit(tem, ctx, { entity: 'user', entityId: me.id, action: 'change_password', before: null, after: null });
    });
    // Committed: no worker trusts the other sessions' cached validations any more.
    await ctx.auth?.service.forgetUser(me.id, ctx.auth.tokenHash);
    return true;
  }

  @Authorized(USER_ADMINS)
  @Query(() => [User], { description: 'Учётные записи (администратор)' })
  async users(@Ctx() ctx: Context): Promise<User[]> {
    return (await users(ctx).list()).map(toUser);
  }

  @Authorized(USER_ADMINS)
  @Mutation(() => User, { description: 'Создать учётную запись (администратор)' })
  async createUser(@Ctx() ctx: Context, @Arg('input', () => CreateUserInput) input: CreateUserInput): Promise<User> {
    regionalRoleGuard(input.role, 'input.role');
    return ctx.em.transactional(async (tem) => {
      const u = await new UserService(tem, ctx.municipalityId).create(input, 'input.');
      await audit(tem, ctx, { entity: 'user', entityId: u.id, action: 'create', before: null, after: auditView(u) });
      return toUser(u);
    });
  }

  @Authorized(USER_ADMINS)
  @Mutation(() => User, { description: 'Изменить учётную запись (администратор). Смена роли, области или отключение завершают её сеансы' })
  async updateUser(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('input', () => UpdateUserInput) input: UpdateUserInput): Promise<User> {
    const [n] = parseIds('id', [id])!;
    if (input.role) regionalRoleGuard(input.role, 'input.role');
    if (n === ctx.user?.id && (input.active === false || (input.role && input.role !== ctx.user.role)))
      throw new InputError('input', 'нельзя отключить свою учётную запись или сменить себе роль');
    const result = await ctx.em.transactional(async (tem) => {
      const svc = new UserService(tem, ctx.municipalityId);
      const before = await svc.byId(n);
      if (!before) throw new InputError('id', `пользователь ${id} не найден`);
      const after = await svc.update(n, input);
      const access = (u: UserRow) => `${u.role}|${u.organizationId}|${u.thematicBlockId}|${u.active}`;
      if (access(before) !== access(after)) await ctx.auth?.service.revokeUser(n, tem);
      await audit(tem, ctx, { entity: 'user', entityId: n, action: 'update', before: auditView(before), after: auditView(after) });
      return after;
    });
    await ctx.auth?.service.forgetUser(n);
    return toUser(result);
  }

  @Authorized(USER_ADMINS)
  @Mutation(() => Boolean, { description: 'Задать пароль пользователю (администратор); его сеансы завершаются, блокировка снимается' })
  async setUserPassword(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('password') password: string): Promise<boolean> {
    const [n] = parseIds('id', [id])!;
    await ctx.em.transactional(async (tem) => {
      const svc = new UserService(tem, ctx.municipalityId);
      if (!(await svc.byId(n))) throw new InputError('id', `пользователь ${id} не найден`);
      await svc.setPassword(n, password);
      await ctx.auth?.service.revokeUser(n, tem);
      await audit(tem, ctx, { entity: 'user', entityId: n, action: 'set_password', before: null, after: null });
    });
    await ctx.auth?.service.forgetUser(n);
    return true;
  }

  @Authorized(USER_ADMINS)
  @Mutation(() => User, { description: 'Снять блокировку после неудачных попыток входа (администратор)' })
  async unlockUser(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<User> {
    const [n] = parseIds('id', [id])!;
    return ctx.em.transactional(async (tem) => {
      const svc = new UserService(tem, ctx.municipalityId);
      const before = await svc.byId(n);
      if (!before) throw new InputError('id', `пользователь ${id} не найден`);
      const after = await svc.unlock(n);
      await audit(tem, ctx, { entity: 'user', entityId: n, action: 'unlock', before: { lockedUntil: before.lockedUntil, failedAttempts: before.failedAttempts }, after: { lockedUntil: null, failedAttempts: 0 } });
      return toUser(after);
    });
  }
}

@Resolver(() => User)
export class UserFields {
  @FieldResolver(() => String, { description: 'Роль по-русски' })
  roleLabel(@Root() u: Readonly<User>): string {
    return ROLE_LABELS[u.role];
  }

  @FieldResolver(() => Organization, { nullable: true, description: 'Организация сотрудника (ORG_OFFICER)' })
  organization(@Root() u: Readonly<User>, @Ctx() ctx: Context) {
    return u.organizationId == null ? null : ctx.loaders.organization.load(u.organizationId);
  }

  @FieldResolver(() => ThematicBlock, { nullable: true, description: 'Тематический блок (BLOCK_LEAD)' })
  thematicBlock(@Root() u: Readonly<User>, @Ctx() ctx: Context) {
    return u.thematicBlockId == null ? null : ctx.loaders.thematicBlock.load(u.thematicBlockId);
  }
}

export const authResolvers = [AuthResolver, UserFields] as const;
