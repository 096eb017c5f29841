import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { referenceLoaders } from '../reference/loaders.js';
import { appealLoaders } from '../appeals/loaders.js';
import { AppealService } from '../appeals/service.js';

export interface Context {
  /** This request's own EntityManager fork (identity map not shared between requests). */
  em: EntityManager;
  loaders: ReturnType<typeof createLoaders>;
  /** The municipality served when a query names none. */
  municipalityId: number;
  appeals: AppealService;
  /** Who acts, for the history of appeals (accounts and roles come with access control). */
  actor: string;
}

function createLoaders(em: EntityManager) {
  return { ...referenceLoaders(em), ...appealLoaders(em) };
}

/** One EntityManager fork and one set of DataLoaders per request. */
export function createContext(orm: MikroORM, municipalityId: number): Context {
  const em = orm.em.fork();
  return { em, loaders: createLoaders(em), municipalityId, appeals: new AppealService(em), actor: 'оператор' };
}
