import type { District, Organization, Theme, OrganizationKind } from './entities.js';

/**
 * Row → object mappers for reference data read with plain SQL (snake_case columns, or
 * to_jsonb() of the row). Relations become id-only references for the DataLoaders.
 * Used where ORM hydration would cost more than the query (pages of appeals).
 */
type Row = Record<string, any>;
const ref = <T>(id: number | null | undefined): T | undefined => (id == null ? undefined : ({ id } as T));

export function rowToDistrict(r: Row): District {
  return Object.assign({} as District, {
    id: r.id, municipality: ref(r.municipality_id), code: r.code, name: r.name, kind: r.kind ?? undefined,
    population: r.population ?? undefined, approximate: r.approximate,
  });
}

export function rowToTheme(r: Row): Theme {
  return Object.assign({} as Theme, {
    id: r.id, municipality: ref(r.municipality_id), code: r.code, name: r.name, parent: ref(r.parent_id),
    block: ref(r.block_id), organization: ref(r.organization_id), keywords: r.keywords ?? [], isLeaf: r.is_leaf,
  });
}

export function rowToOrganization(r: Row): Organization {
  return Object.assign({} as Organization, {
    id: r.id, municipality: ref(r.municipality_id), code: r.code, name: r.name, shortName: r.short_name ?? undefined,
    kind: r.kind as OrganizationKind, parent: ref(r.parent_id),
  });
}

const COLUMNS = {
  district: ['id', 'municipality_id', 'code', 'name', 'kind', 'population', 'approximate'],
  theme: ['id', 'municipality_id', 'code', 'name', 'parent_id', 'block_id', 'organization_id', 'keywords', 'is_leaf'],
  organization: ['id', 'municipality_id', 'code', 'name', 'short_name', 'kind', 'parent_id'],
} as const;
type ReferenceTable = keyof typeof COLUMNS;

/** SQL selecting each reference table's columns (district without its geometry). */
export const REFERENCE_SQL = {
  district: `SELECT ${COLUMNS.district.join(', ')} FROM district`,
  theme: `SELECT ${COLUMNS.theme.join(', ')} FROM theme`,
  organization: `SELECT ${COLUMNS.organization.join(', ')} FROM organization`,
} as const;

/** `d.id AS d__id, d.code AS d__code, …` for a LEFT JOINed reference table aliased `alias`. */
export function joinedColumns(table: ReferenceTable, alias: string): string {
  return COLUMNS[table].map((c) => `${alias}.${c} AS ${alias}__${c}`).join(', ');
}

/** GraphQL field → the columns it needs, per reference table (fields resolved by loaders need only the id). */
const FIELD_COLUMNS: Record<ReferenceTable, Record<string, readonly string[]>> = {
  district: { id: [], municipality: ['municipality_id'], code: ['code'], name: ['name'], kind: ['kind'], population: ['population'], approximate: ['approximate'], geometry: [] },
  theme: {
    id: [], municipality: ['municipality_id'], code: ['code'], name: ['name'], parentId: ['parent_id'], parent: ['parent_id'], block: ['block_id'],
    organization: ['organization_id'], keywords: ['keywords'], isLeaf: ['is_leaf'],
  },
  organization: { id: [], municipality: ['municipality_id'], code: ['code'], name: ['name'], shortName: ['short_name'], kind: ['kind'], parent: ['parent_id'] },
};

/**
 * The columns of a reference table that the GraphQL fields `fields` need (id always): a page of appeals asking for
 * `theme { name }` reads the name, never the keywords. An unknown field (a field added to the type later) reads
 * every column, so nothing is ever missing.
 */
export function columnsFor(table: ReferenceTable, fields: Iterable<string>): readonly string[] {
  const cols = new Set<string>(['id']);
  for (const f of fields) {
    if (f === '__typename') continue;
    const c = FIELD_COLUMNS[table][f];
    if (!c) return COLUMNS[table];
    c.forEach((x) => cols.add(x));
  }
  return [...cols];
}

/** The joined table's own row out of a wide row (null when the join found nothing). */
export function joinedRow(table: ReferenceTable, alias: string, row: Row): Row | null {
  if (row[`${alias}__id`] == null) return null;
  return Object.fromEntries(COLUMNS[table].map((c) => [c, row[`${alias}__${c}`]]));
}
