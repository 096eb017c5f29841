import {
  getNamedType, isEnumType, isInputObjectType, isListType, isNonNullType, isObjectType, isScalarType, isInterfaceType, isUnionType,
  type GraphQLArgument, type GraphQLField, type GraphQLInputType, type GraphQLNamedType, type GraphQLObjectType, type GraphQLSchema,
} from 'graphql';

/**
 * Operations generated from the built schema for the isolation matrix (test/region.test.ts): every Query and Mutation
 * field gets a document with its arguments filled; ID arguments name another municipality's rows (by argument
 * name → table), so that a field which does not bind its reads and writes to the request's municipality shows it.
 */

/** Argument names of ID type → the table whose ids they take (the field's own `id` comes from its matrix entry). */
export const ID_ARG_TABLE: Record<string, string> = {
  appealId: 'appeal', problemId: 'problem', organizationId: 'organization', organizationIds: 'organization', organization: 'organization',
  blockId: 'thematic_block', thematicBlock: 'thematic_block', themeId: 'theme', themeIds: 'theme', districtId: 'district', districtIds: 'district',
  batchId: 'import_batch', before: 'import_batch', planId: 'activity_plan', itemId: 'plan_item', seminarId: 'seminar', attended: 'seminar_invitee',
  categoryId: 'page_category', categoryIds: 'page_category', pageIds: 'official_page', userId: 'app_user', actorId: 'app_user', curLayerIds: 'heat_layer',
};

export interface Filled { text: string; variables: Record<string, unknown>; idArgs: string[]; municipalityArgs: string[] }

const SCALAR_VALUES: Record<string, unknown> = {
  String: 'x', Int: 1, Float: 1, Boolean: false, DateTime: '2026-06-01T00:00:00.000Z', DateTimeISO: '2026-06-01T00:00:00.000Z',
  JSONObject: {}, JSON: {}, Upload: null,
};
const NAMED_STRINGS: Record<string, string> = {
  from: '2025-01-01', to: '2026-12-01', month: '2026-10', asOf: '2026-11-20', heldOn: '2026-12-10', fixBy: '2026-12-31', password: 'a-long-password-12',
  newPassword: 'a-long-password-13', oldPassword: 'a-long-password-12', basis: 'problems', url: 'https://vk.com/x', title: 'x', reason: 'x', text: 'x',
  login: 'matrix-user', content: 'lon;lat;weight\n81.2;51.5;1\n',
};

export interface Fill {
  /** The other municipality's id of each table (or a missing id when it has none). */
  idOf(table: string): string;
  otherMunicipalityId: string;
}

/** Fills one argument or input field; `all` also fills optional ID arguments (and inputs holding them). */
function value(name: string, type: GraphQLInputType, fill: Fill, idTable: string | undefined, all: boolean, path: string, out: Filled, depth = 0): unknown {
  const nonNull = isNonNullType(type);
  const inner = nonNull ? type.ofType : type;
  if (isListType(inner)) {
    const v = value(name, inner.ofType as GraphQLInputType, fill, idTable, all, path, out, depth);
    return v === undefined ? undefined : [v];
  }
  const named = getNamedType(type) as GraphQLNamedType;
  if (named.name === 'ID') {
    if (name === 'municipalityId') {
      out.municipalityArgs.push(path);
      return undefined; // tested on its own: FORBIDDEN for another municipality
    }
    const table = name === 'id' ? idTable : ID_ARG_TABLE[name];
    if (!nonNull && !all) return undefined;
    out.idArgs.push(`${path}→${table ?? '?'}`);
    return table ? fill.idOf(table) : '2000000000';
  }
  if (isInputObjectType(named)) {
    if (depth > 4) return undefined;
    const o: Record<string, unknown> = {};
    for (const f of Object.values(named.getFields())) {
      const v = value(f.name, f.type, fill, idTable, all, `${path}.${f.name}`, out, depth + 1);
      if (v !== undefined) o[f.name] = v;
    }
    if (!nonNull && Object.keys(o).length === 0) return undefined;
    return o;
  }
  if (!nonNull) return undefined;
  if (isEnumType(named)) return named.getValues()[0].value ?? named.getValues()[0].name;
  if (named.name === 'String' && NAMED_STRINGS[name]) return NAMED_STRINGS[name];
  if (isScalarType(named)) return SCALAR_VALUES[named.name] ?? 'x';
  return undefined;
}

function typeString(t: GraphQLInputType): string {
  return String(t);
}

/** A selection of every scalar field (and `__typename`, `id`) down to `depth` object levels; fields with required arguments are left out. */
export function selection(type: GraphQLNamedType, depth: number): string {
  if (isUnionType(type) || isInterfaceType(type)) return '{ __typename }';
  if (!isObjectType(type)) return '';
  const parts = ['__typename'];
  for (const f of Object.values((type as GraphQLObjectType).getFields())) {
    if (f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const n = getNamedType(f.type);
    if (isObjectType(n) || isUnionType(n) || isInterfaceType(n)) {
      if (depth <= 0) continue;
      parts.push(`${f.name} ${selection(n, depth - 1)}`);
    } else parts.push(f.name);
  }
  return `{ ${parts.join(' ')} }`;
}

/** The document calling one root field with its arguments filled (required ones always; with `all`, every ID too). */
export function operation(schema: GraphQLSchema, kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>, fill: Fill, opts: { id?: string; all: boolean; args?: Record<string, unknown>; depth?: number }): Filled {
  const out: Filled = { text: '', variables: {}, idArgs: [], municipalityArgs: [] };
  const defs: string[] = [];
  const uses: string[] = [];
  field.args.forEach((a: GraphQLArgument) => {
    const v = opts.args && a.name in opts.args ? opts.args[a.name] : value(a.name, a.type, fill, opts.id, opts.all, `${field.name}.${a.name}`, out);
    if (v === undefined) return;
    defs.push(`$${a.name}: ${typeString(a.type)}`);
    uses.push(`${a.name}: $${a.name}`);
    out.variables[a.name] = v;
  });
  const sel = selection(getNamedType(field.type), opts.depth ?? 2);
  out.text = `${kind} M${defs.length ? `(${defs.join(', ')})` : ''} { ${field.name}${uses.length ? `(${uses.join(', ')})` : ''} ${sel} }`;
  return out;
}

/** Whether a field (its arguments and the inputs they hold) takes any ID other than municipalityId. */
export function takesIds(field: GraphQLField<unknown, unknown>): boolean {
  const seen = new Set<string>();
  const walk = (name: string, t: GraphQLInputType): boolean => {
    const n = getNamedType(t);
    if (n.name === 'ID') return name !== 'municipalityId';
    if (isInputObjectType(n) && !seen.has(n.name)) {
      seen.add(n.name);
      return Object.values(n.getFields()).some((f) => walk(f.name, f.type));
    }
    return false;
  };
  return field.args.some((a) => walk(a.name, a.type));
}

/** Objects of another municipality found in a response: `Type:id` of every object whose id is one of that municipality's rows. */
export function foreignObjects(data: unknown, foreign: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) { v.forEach(walk); return; }
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.__typename === 'string' && o.id != null && foreign.get(o.__typename)?.has(String(o.id))) found.push(`${o.__typename}:${o.id}`);
    Object.values(o).forEach(walk);
  };
  walk(data);
  return found;
}
