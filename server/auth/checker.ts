import { GraphQLError } from 'graphql';
import type { AuthChecker } from 'type-graphql';
import { ROLE_LABELS, type Role } from './roles.js';
import type { AuthUser } from './users.js';

export class UnauthenticatedError extends GraphQLError {
  constructor(message = 'Требуется вход в систему') {
    super(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
  }
}

export class ForbiddenError extends GraphQLError {
  constructor(message = 'Недостаточно прав для этого действия') {
    super(message, { extensions: { code: 'FORBIDDEN' } });
  }
}

/**
 * type-graphql's authChecker for `@Authorized(...roles)`: `@Authorized()` = any signed-in user,
 * `@Authorized(PROCESSORS)` = one of these roles. Throws (Russian messages, codes UNAUTHENTICATED / FORBIDDEN)
 * instead of returning false, so clients get a message they can show.
 */
export const authChecker: AuthChecker<{ user?: AuthUser }, Role> = ({ context, info }, roles) => {
  const user = context.user;
  if (!user) throw new UnauthenticatedError();
  if (roles.length && !roles.includes(user.role)) {
    throw new ForbiddenError(`Недостаточно прав: «${info.parentType.name}.${info.fieldName}» недоступно для роли «${ROLE_LABELS[user.role]}»`);
  }
  return true;
};

/** For checks inside resolvers (row scope, own account). */
export function requireUser(ctx: { user?: AuthUser }): AuthUser {
  if (!ctx.user) throw new UnauthenticatedError();
  return ctx.user;
}

export function requireRole(ctx: { user?: AuthUser }, roles: readonly Role[], what: string): AuthUser {
  const user = requireUser(ctx);
  if (!roles.includes(user.role)) throw new ForbiddenError(`Недостаточно прав: ${what} недоступно для роли «${ROLE_LABELS[user.role]}»`);
  return user;
}
