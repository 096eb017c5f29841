import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError, GraphQLIncludeDirective, GraphQLSkipDirective, Kind, getArgumentValues, getDirectiveValues, getNamedType, getNullableType, getOperationAST,
  isInterfaceType, isLeafType, isListType, isObjectType, visit, type ASTNode, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLNamedType,
  type GraphQLSchema, type SelectionSetNode, type ValidationContext, type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Limits } from '../config.js';

/**
 * Static limits of a GraphQL operation, checked before anything runs:
 * depth, aliases, directives and tokens (graphql-armor), estimated cost and the page
 * size of every connection (graphql-query-complexity with the request's variables), the total counts over large
 * tables (GRAPHQL_MAX_COUNTS).
 * Every rejection is a BAD_USER_INPUT error (HTTP 400) with a Russian message that
 * names the limit and its environment variable.
 */

const bad = (message: string, field: string, http = 400) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', field, http: { status: http } } });

/** graphql-armor reports in English ("Query depth limit of 10 exceeded, found 12."): say it in Russian. */
function armorMessage(message: string, limits: Limits): { message: string; field: string } {
  const found = /found (\d+)/.exec(message)?.[1];
  const tail = found ? `, в запросе ${found}` : '';
  if (/depth/i.test(message)) return { field: 'query', message: `Запрос слишком глубокий: не более ${limits.maxDepth} уровней вложенности${tail} (GRAPHQL_MAX_DEPTH)` };
  if (/aliases/i.test(message)) return { field: 'query', message: `Слишком много псевдонимов (alias): не более ${limits.maxAliases}${tail} (GRAPHQL_MAX_ALIASES)` };
  if (/directives/i.test(message)) return { field: 'query', message: `Слишком много директив: не более ${limits.maxDirectives}${tail} (GRAPHQL_MAX_DIRECTIVES)` };
  return { field: 'query', message: `Запрос отклонён: ${message}` };
}

export interface Hardening {
  plugins: ApolloServerPlugin<any>[];
  validationRules: ValidationRule[];
}

export function graphqlHardening(limits: Limits, opts: { blockFieldSuggestions: boolean }): Hardening {
  const report = (ctx: ValidationContext | null, error: GraphQLError) => {
    const { message, field } = armorMessage(error.message, limits);
    if (ctx) ctx.reportError(bad(message, field));
    else throw bad(message, field);
  };
  const common = { propagateOnRejection: false, onReject: [report], exposeLimits: true };
  const armor = new ApolloArmor({
    maxDepth: { ...common, n: limits.maxDepth, ignoreIntrospection: true },
    maxAliases: { ...common, n: limits.maxAliases },
    maxDirectives: { ...common, n: limits.maxDirectives },
    // Tokens are bounded by the parser itself (parseOptions.maxTokens, see server/http/graphql.ts).
    maxTokens: { enabled: false },
    // Our own cost estimate below knows list sizes (`first`, `limit`); armor's does not.
    costLimit: { enabled: false },
    // "Did you mean …?" hints reveal the schema: off when introspection is off.
    blockFieldSuggestion: { enabled: opts.blockFieldSuggestions },
  }).protect();
  // (armor is typed against the CommonJS build of @apollo/server; the plugin objects are the same)
  return { plugins: [...(armor.plugins as unknown as ApolloServerPlugin<any>[]), costPlugin(limits)], validationRules: armor.validationRules };
}

/** Number of items a field asks for: `first` of connections and lists, `limit` of point layers. */
function requested(args: Record<string, unknown>): number | undefined {
  const v = typeof args.first === 'number' ? args.first : typeof args.limit === 'number' ? args.limit : undefined;
  return v === undefined ? undefined : Math.max(0, v);
}

/**
 * Cost of an operation: every field costs 1; a field whose arguments ask for `first` (or `limit`)
 * items multiplies the cost of its selection by that number; a scalar answer of `limit` items
 * (the GeoJSON point layer) costs one per 10 points.
 */
export function estimator(onConnection: (typeName: string, first: unknown) => void): ComplexityEstimator {
  return ({ args, childComplexity, field }) => {
    const named = getNamedType(field.type);
    if (named.name.endsWith('Connection')) onConnection(named.name, args.first);
    const n = requested(args);
    // A scalar answer of `limit` rows (the GeoJSON point layer, ~200 bytes a point) costs one per 10 rows:
    // what it costs to build and send, in the same units as a page of objects (one per field and row).
    if (isLeafType(named)) return 1 + (n === undefined ? 0 : Math.ceil(n / 10));
    return 1 + childComplexity * Math.max(1, n ?? 1);
  };
}

/**
 * Names of the variables the cost can depend on: those used by `first` / `limit` arguments
 * (list sizes, page-size limit) and by @include / @skip. Other variables (filters, rectangles)
 * do not change the estimate.
 */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const collect = (node: ASTNode) => visit(node, { Variable(v) { names.add(v.name.value); } });
  visit(document, {
    Argument(a) { if (a.name.value === 'first' || a.name.value === 'limit') collect(a.value); },
    Directive(d) { if (d.name.value === 'include' || d.name.value === 'skip') collect(d); },
  });
  return [...names].sort();
}

/**
 * Connections whose `totalCount` counts rows of a table that can hold a million (the appeals, the audit and
 * personal-data access logs). Each such count is exact, and one over more than
 * COUNT_LIGHT_ROWS rows runs under the admission of heavy work (server/db/count.ts) — but aliases (`a1: appeals(filter:
 * {}) { totalCount } a2: …`) or a count inside every item of a page (`problems { edges { node { appeals { totalCount }
 * } } }`) would queue many such counts from one request, ahead of other users' heavy work. So one operation may ask
 * for at most GRAPHQL_MAX_COUNTS of them. The other connections (problems, pages, informing, recommendations, risk
 * signals, reports, API keys) count small tables of their municipality and are bounded by the cost estimate; the
 * control queue's total is a window count over the rows its ordered page reads anyway (docs/graphql.md).
 */
export const COUNTED_CONNECTIONS = new Set(['AppealConnection', 'AuditConnection', 'PersonalDataAccessConnection']);

/**
 * The total counts of COUNTED_CONNECTIONS an operation asks for, by the name of the connection field (`appeals`,
 * `auditLog`, …), as execution would make them: fields are grouped by response key the way GraphQL merges them (the
 * same field twice, or a fragment spread twice, is one field), every alias counts, a count inside the items of a page
 * counts `first` times (`edges` / `nodes` of a connection, a list with `first` / `limit`), @skip / @include are
 * honoured.
 */
export function countedTotals(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined,
  variables: Record<string, unknown>): Map<string, number> {
  const out = new Map<string, number>();
  const op = getOperationAST(document, operationName);
  const root = op && schema.getRootType(op.operation);
  if (!op || !root) return out;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const included = (node: Parameters<typeof getDirectiveValues>[1]) => {
    try {
      return getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true && getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
    } catch {
      return true;
    }
  };
  // The fields of selection sets on `type`, by response key (graphql-js collectFields, without type narrowing: a
  // fragment on another type of an interface is counted as if it applied — an over-estimate, never an under-estimate).
  const collect = (sets: readonly SelectionSetNode[], into: Map<string, FieldNode[]>, seen: Set<string>) => {
    for (const set of sets) {
      for (const sel of set.selections) {
        if (!included(sel)) continue;
        if (sel.kind === Kind.FIELD) {
          const key = sel.alias?.value ?? sel.name.value;
          const list = into.get(key);
          if (list) list.push(sel);
          else into.set(key, [sel]);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          collect([sel.selectionSet], into, seen);
        } else if (!seen.has(sel.name.value)) {
          seen.add(sel.name.value);
          const frag = fragments.get(sel.name.value);
          if (frag) collect([frag.selectionSet], into, seen);
        }
      }
    }
    return into;
  };
  // `connection`: the connection field whose object `type` is (its name and `first`), for its totalCount and edges.
  const walk = (sets: readonly SelectionSetNode[], type: GraphQLNamedType, connection: { name: string; first: number } | undefined, times: number) => {
    if (times <= 0 || (!isObjectType(type) && !isInterfaceType(type))) return;
    for (const nodes of collect(sets, new Map(), new Set()).values()) {
      const field = nodes[0];
      const name = field.name.value;
      const def = type.getFields()[name];
      if (!def) continue;
      if (name === 'totalCount' && COUNTED_CONNECTIONS.has(type.name)) {
        const label = connection?.name ?? type.name;
        out.set(label, (out.get(label) ?? 0) + times);
      }
      const subsets = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
      if (!subsets.length) continue;
      let args: Record<string, unknown> = {};
      try {
        args = getArgumentValues(def, field, variables);
      } catch {
        // Arguments that do not fit their types: execution refuses them.
      }
      const n = requested(args);
      const named = getNamedType(def.type);
      let k = 1;
      if (connection && type.name.endsWith('Connection') && (name === 'edges' || name === 'nodes')) k = connection.first;
      else if (isListType(getNullableType(def.type)) && n !== undefined) k = n;
      walk(subsets, named, named.name.endsWith('Connection') ? { name, first: n ?? 1 } : undefined, times * k);
    }
  };
  walk([op.selectionSet], root, undefined, 1);
  return out;
}

/** The GRAPHQL_MAX_COUNTS refusal of an operation's counts, if it asks for too many. */
export function countsError(counts: Map<string, number>, maxCounts: number): { message: string; field: string } | undefined {
  let total = 0;
  for (const n of counts.values()) total += n;
  if (total <= maxCounts) return undefined;
  const fields = [...counts].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} — ${n}`).join(', ');
  return {
    field: 'totalCount',
    message: `Слишком много подсчётов totalCount в одном запросе: ${total} (${fields}), допускается не более ${maxCounts} (GRAPHQL_MAX_COUNTS); `
      + 'каждый подсчёт по большой таблице — тяжёлая работа: запрашивайте totalCount отдельными запросами или реже',
  };
}

interface CostEntry {
  variables: string[];
  /** key (operation name and the values of `variables`) → complexity and page-size error. */
  results: Map<string, { complexity: number; pageError?: { message: string; field: string }; countError?: { message: string; field: string } }>;
  /** Its expensive fields (counted once per document). */
  expensive: { total: number; repeated?: [string, number] };
}

const COST_RESULTS_PER_DOCUMENT = 256;

/**
 * Expensive fields: whatever their arguments, each reads and sends a large share of the data (the GeoJSON point
 * layer, the heat map's cells). Each at most once per operation (aliases would multiply it), and at most
 * EXPENSIVE_PER_USER of one user's operations with one run at once (the others wait for a slot).
 */
export const EXPENSIVE_FIELDS = new Set(['appealsGeoJSON', 'heatmap']);

/**
 * Fields asked at most once per operation (aliases with other arguments would multiply their work under a small
 * cost estimate): the expensive ones above, the aggregates over all appeals of a period (each alias with another
 * filter or period misses the aggregate cache and queues one more heavy job ahead of other users') and the full
 * introspection `__schema` (~150 KB of answer each, not priced by the cost estimate). The web client asks each once.
 */
export const ONCE_PER_OPERATION = new Set([...EXPENSIVE_FIELDS, 'appealCounts', 'districtStats', 'answerQualityByOrganization',
  'indicatorDashboard', 'regionOverview', 'organizationRating', 'informingAudience', '__schema']);

/** The expensive fields of an operation: how many in all, and the most any once-per-operation field is asked (aliases). */
function expensiveFields(document: DocumentNode): { total: number; repeated?: [string, number] } {
  const counts = new Map<string, number>();
  visit(document, { Field(f) { if (ONCE_PER_OPERATION.has(f.name.value)) counts.set(f.name.value, (counts.get(f.name.value) ?? 0) + 1); } });
  let total = 0;
  let repeated: [string, number] | undefined;
  for (const [name, n] of counts) {
    if (EXPENSIVE_FIELDS.has(name)) total += n;
    if (n > 1 && (!repeated || n > repeated[1])) repeated = [name, n];
  }
  return { total, repeated };
}

/** Slots per key with a bounded queue: acquire() resolves to a release function, or rejects when the queue is full. */
export class KeyedSemaphore {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  constructor(private readonly slots: number, private readonly maxWaiting = 32) {}
  async acquire(key: string): Promise<() => void> {
    const n = this.running.get(key) ?? 0;
    if (n >= this.slots) {
      const q = this.waiting.get(key) ?? [];
      if (q.length >= this.maxWaiting) throw new Error('queue full');
      await new Promise<void>((resolve) => { q.push(resolve); this.waiting.set(key, q); });
    } else {
      this.running.set(key, n + 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const q = this.waiting.get(key);
      const next = q?.shift();
      if (q && !q.length) this.waiting.delete(key);
      if (next) next(); // the slot passes to the next waiting operation
      else {
        const left = (this.running.get(key) ?? 1) - 1;
        if (left > 0) this.running.set(key, left);
        else this.running.delete(key);
      }
    };
  }
}

/** The key of a user for per-user limits: the signed-in user, else 'anonymous'. */
const userKey = (contextValue: unknown) => {
  const id = (contextValue as { user?: { id?: unknown } } | undefined)?.user?.id;
  return id == null ? 'anonymous' : `user:${String(id)}`;
};

function costPlugin(limits: Limits): ApolloServerPlugin<any> {
  const slots = limits.expensivePerUser > 0 ? new KeyedSemaphore(limits.expensivePerUser) : undefined;
  // Apollo hands every request of the same text the same parsed DocumentNode (its document store):
  // the estimate of a document is kept for each combination of the variables it depends on, so a
  // repeated operation (the map asks the same query with new rectangles) is not re-walked.
  const cache = new WeakMap<DocumentNode, CostEntry>();
  const evaluate = (document: DocumentNode, schema: GraphQLSchema, operationName: string | undefined, variables: Record<string, unknown>) => {
    let pageError: { message: string; field: string } | undefined;
    const complexity = getComplexity({
      schema,
      query: document,
      operationName,
      variables,
      estimators: [
        estimator((_type, first) => {
          if (typeof first === 'number' && first > limits.maxPageSize && !pageError)
            pageError = { message: `first: размер страницы не более ${limits.maxPageSize} (GRAPHQL_MAX_PAGE_SIZE), запрошено ${first}`, field: 'first' };
        }),
      ],
    });
    const countError = countsError(countedTotals(schema, document, operationName, variables), limits.maxCounts);
    return { complexity, pageError, countError };
  };
  return {
    async requestDidStart() {
      let release: (() => void) | undefined;
      return {
        async willSendResponse() {
          release?.();
        },
        async didResolveOperation({ request, document, schema, operationName, contextValue }) {

          const variables = request.variables ?? {};
          let entry = cache.get(document);
          if (!entry) {
            entry = { variables: costVariables(document), results: new Map(), expensive: expensiveFields(document) };
            cache.set(document, entry);
          }
          const key = JSON.stringify([operationName ?? null, ...entry.variables.map((v) => variables[v] ?? null)]);
          let result = entry.results.get(key);
          if (!result) {
            try {
              result = evaluate(document, schema as GraphQLSchema, operationName ?? undefined, variables);
            } catch {
              // Variables that do not fit their types: execution reports them as BAD_USER_INPUT.
              return;
            }
            if (entry.results.size >= COST_RESULTS_PER_DOCUMENT) entry.results.clear();
            entry.results.set(key, result);
          }
          if (result.pageError) throw bad(result.pageError.message, result.pageError.field);
          if (result.complexity > limits.maxComplexity)
            throw bad(`Запрос слишком сложный: оценка ${result.complexity}, допускается не более ${limits.maxComplexity} (GRAPHQL_MAX_COMPLEXITY); `
              + 'уменьшите first/limit, число псевдонимов или вложенных списков', 'query');
          if (result.countError) throw bad(result.countError.message, result.countError.field);
          const { total: expensive, repeated } = entry.expensive;
          if (repeated) {
            throw bad(`«Тяжёлое» поле ${repeated[0]} — не более одного раза в запросе, в запросе ${repeated[1]} (с псевдонимами): `
              + 'запрашивайте его отдельными запросами', 'query');
          }
          if (expensive && slots) {
            try {
              release = await slots.acquire(userKey(contextValue));
            } catch {
              throw new GraphQLError(`Слишком много одновременных «тяжёлых» запросов одного пользователя (EXPENSIVE_PER_USER = ${limits.expensivePerUser}); повторите позже`, {
                extensions: { code: 'TOO_MANY_REQUESTS', http: { status: 429, headers: new Map([['retry-after', '5']]) } },
              });
            }
          }
        },
      };
    },
  };
}
