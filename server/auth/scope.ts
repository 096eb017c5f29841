import { Role } from './roles.js';
import type { AuthUser } from './users.js';

/**
 * Row scope of a user: which appeals (and everything aggregated from them) they may see.
 * Every role is bound to its municipality; BLOCK_LEAD sees the themes of their thematic block,
 * ORG_OFFICER the appeals of their organisation and of the organisations subordinate to it.
 * Applied in SQL by filterSql (server/appeals/filter.ts) for lists, counts, GeoJSON, heat maps and tiles.
 */
export interface RowScope {
  municipalityId: number;
  thematicBlockId?: number;
  organizationId?: number;
}

export function scopeOf(user: AuthUser): RowScope {
  const s: RowScope = { municipalityId: user.municipalityId };
  if (user.role === Role.BLOCK_LEAD) s.thematicBlockId = user.thematicBlockId ?? -1; // no block: nothing
  if (user.role === Role.ORG_OFFICER) s.organizationId = user.organizationId ?? -1;
  return s;
}

/** True when the scope restricts rows beyond the municipality (its results differ from everyone else's). */
export function isRestricted(s: RowScope | undefined): boolean {
  return !!s && (s.thematicBlockId != null || s.organizationId != null);
}

/** True when the user sees every row of this municipality (shares its cached aggregates, e.g. tiles). */
export function seesWholeMunicipality(user: AuthUser, municipalityId: number): boolean {
  return !isRestricted(scopeOf(user)) && user.municipalityId === municipalityId;
}

/** A stable key of the scope (for caches). */
export function scopeKey(s: RowScope | undefined): string {
  return s ? `m${s.municipalityId}:b${s.thematicBlockId ?? ''}:o${s.organizationId ?? ''}` : 'all';
}

/** SQL over `appeal <alias>` with `?` placeholders. */
export function scopeSql(s: RowScope, alias = 'a', opts: { estimateOnly?: boolean } = {}): { sql: string; params: unknown[] } {
  // estimateOnly: without the municipality, for a planner's estimate that is never run (server/appeals/filter.ts).
  const parts = opts.estimateOnly ? ['true'] : [`${alias}.municipality_id = ?`];
  const params: unknown[] = opts.estimateOnly ? [] : [s.municipalityId];
  if (s.thematicBlockId != null) {
    parts.push(`${alias}.theme_id IN (SELECT id FROM theme WHERE block_id = ?)`);
    params.push(s.thematicBlockId);
  }
  if (s.organizationId != null) {
    parts.push(`${alias}.organization_id IN (WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ?
                 UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub)`);
    params.push(s.organizationId);
  }
  return { sql: parts.join(' AND '), params };
}
