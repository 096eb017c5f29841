import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { referenceLoaders } from '../reference/loaders.js';
import { appealLoaders } from '../appeals/loaders.js';
import { AppealService } from '../appeals/service.js';
import type { AuthUser } from '../auth/users.js';
import type { RequestAuth } from '../auth/http.js';
import { scopeOf } from '../auth/scope.js';

export interface Context {
  /** This request's own EntityManager fork (identity map not shared between requests). */
  em: EntityManager;
  loaders: ReturnType<typeof createLoaders>;
  /** The municipality served: the signed-in user's (or the default one when nobody is signed in). */
  municipalityId: number;
  appeals: AppealService;
  /** The signed-in user (absent only for the anonymous signIn mutation). */
  user?: AuthUser;
  /** Who acts, for the history of appeals and import batches: the user's login. */
  actor: string;
  /** The request's session (sign-in / sign-out set and clear its cookie). */
  auth?: RequestAuth;
  /** The caller's address (the rate limit's key when nobody is signed in). */
  clientIp?: string;
}

function createLoaders(em: EntityManager) {
  return { ...referenceLoaders(em), ...appealLoaders(em) };
}

/** One EntityManager fork and one set of DataLoaders per request. */
export function createContext(orm: MikroORM, municipalityId: number, auth?: RequestAuth, clientIp?: string): Context {
  const em = orm.em.fork();
  const user = auth?.user;
  return {
    em,
    loaders: createLoaders(em),
    municipalityId: user?.municipalityId ?? municipalityId,
    appeals: new AppealService(em, user ? scopeOf(user) : undefined),
    user,
    actor: user?.login ?? 'anonymous',
    auth,
    clientIp,
  };
}
