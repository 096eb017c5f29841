import { GraphQLError } from 'graphql';
import { parseIds } from './ids.js';
import { Role } from '../auth/roles.js';
import type { AuthUser } from '../auth/users.js';

/** What the municipality helpers need of a request: its municipality, the ones it may read, its user. */
export interface MunicipalityOwner {
  municipalityId: number;
  municipalityIds: number[];
  user?: AuthUser;
}

/** The municipalities a user may read: their own; a regional role every municipality of its region. */
export function accessibleMunicipalities(user: AuthUser | undefined, fallback: number): number[] {
  if (!user) return [fallback];
  return user.regionMunicipalityIds?.length ? user.regionMunicipalityIds : [user.municipalityId];
}

/**
 * A `municipalityId` argument → the municipality it names, or the request's own when absent. A municipality the
 * user may not read is FORBIDDEN (never silently another one). `write`: changing the data of a municipality is its
 * own users' business; only the regional curator writes (the ЦУР heat map) into a municipality of its region.
 */
export function municipalityArg(owner: MunicipalityOwner, id: string | null | undefined, mode: 'read' | 'write' = 'read', field = 'municipalityId'): number {
  if (id == null) return owner.municipalityId;
  const mid = parseIds(field, [id])![0];
  if (!owner.municipalityIds.includes(mid)) {
    throw new GraphQLError(`${field}: муниципальное образование ${mid} недоступно этой учётной записи`, { extensions: { code: 'FORBIDDEN', field } });
  }
  if (mode === 'write' && mid !== owner.municipalityId && owner.user?.role !== Role.REGION_CURATOR) {
    throw new GraphQLError(`${field}: изменять данные можно только своего муниципального образования`, { extensions: { code: 'FORBIDDEN', field } });
  }
  return mid;
}
