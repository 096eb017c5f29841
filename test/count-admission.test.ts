import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema, parse } from 'graphql';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { admissionOf } from '../server/db/admission.js';
import { admittedCount } from '../server/db/count.js';
import { countedTotals, countsError } from '../server/graphql/limits.js';
import { loadDatabaseSettings, loadLimits } from '../server/config.js';
import { Role } from '../server/auth/roles.js';

/**
 * Total counts over large tables (docs/graphql.md, "Total counts"): a count of at most COUNT_LIGHT_ROWS rows is one
 * cheap statement beside the page; a larger one is made in full under the admission of heavy work; an operation asks
 * for at most GRAPHQL_MAX_COUNTS of them (aliases and counts inside the items of a page counted).
 */

describe('the count limit of an operation (static)', () => {
  const schema = buildSchema(`
    type Query { appeals(first: Int! = 50, filter: String): AppealConnection! problems(first: Int! = 50): ProblemConnection! auditLog(first: Int! = 50): AuditConnection! }
    type AppealConnection { totalCount: Int! edges: [AppealEdge!]! }
    type AppealEdge { node: Appeal! }
    type Appeal { id: ID! }
    type AuditConnection { totalCount: Int! }
    type ProblemConnection { totalCount: Int! edges: [ProblemEdge!]! }
    type ProblemEdge { node: Problem! }
    type Problem { id: ID! appeals(first: Int! = 50): AppealConnection! }`);
  const count = (q: string, variables: Record<string, unknown> = {}) => Object.fromEntries(countedTotals(schema, parse(q), undefined, variables));

  it('counts aliases, fragments, counts inside the items of a page, and honours @skip / @include', () => {
    expect(count('{ appeals { totalCount edges { node { id } } } problems { totalCount } }')).toEqual({ appeals: 1 });
    expect(count(`{ ${Array.from({ length: 20 }, (_, i) => `a${i}: appeals(filter: "${i}") { totalCount }`).join(' ')} }`)).toEqual({ appeals: 20 });
    expect(count('{ a: appeals { ...C } b: appeals { ...C } c: auditLog { totalCount } } fragment C on AppealConnection { totalCount }')).toEqual({ appeals: 2, auditLog: 1 });
    expect(count('query($n: Int!) { problems(first: $n) { edges { node { appeals(first: 1) { totalCount } } } } }', { n: 30 })).toEqual({ appeals: 30 });
    expect(count('query($s: Boolean!) { appeals { totalCount @skip(if: $s) } x: appeals @include(if: $s) { totalCount } }', { s: true })).toEqual({ appeals: 1 });
    // Fields and spreads repeated under one response key are merged, as execution merges them (one count each);
    // 10 levels of 10 spreads each are one field, not 10^10.
    expect(count('{ appeals { totalCount } appeals { totalCount edges { node { id } } } }')).toEqual({ appeals: 1 });
    const levels = Array.from({ length: 10 }, (_, i) => `fragment L${i} on Query { ${i < 9 ? Array.from({ length: 10 }, () => `...L${i + 1}`).join(' ') : 'appeals { totalCount }'} }`);
    expect(count(`{ ...L0 } ${levels.join(' ')}`)).toEqual({ appeals: 1 });
  });

  it('names the field and the limit in Russian', () => {
    expect(countsError(new Map([['appeals', 4]]), 4)).toBeUndefined();
    const e = countsError(new Map([['appeals', 20], ['auditLog', 1]]), 4)!;
    expect(e.field).toBe('totalCount');
    expect(e.message).toMatch(/Слишком много подсчётов totalCount в одном запросе: 21 \(appeals — 20, auditLog — 1\), допускается не более 4 \(GRAPHQL_MAX_COUNTS\)/);
  });

  it('reads GRAPHQL_MAX_COUNTS and COUNT_LIGHT_ROWS from the environment', () => {
    expect(loadLimits({}).maxCounts).toBe(4);
    expect(loadLimits({ GRAPHQL_MAX_COUNTS: '10' }).maxCounts).toBe(10);
    expect(() => loadLimits({ GRAPHQL_MAX_COUNTS: '0' })).toThrow(/GRAPHQL_MAX_COUNTS/);
    expect(loadDatabaseSettings({ COUNT_LIGHT_ROWS: '0' }).countLightRows).toBe(0);
    expect(() => loadDatabaseSettings({ COUNT_LIGHT_ROWS: '-1' })).toThrow(/COUNT_LIGHT_ROWS/);
  });
});

describe.each(backends)('total counts on %s', (backend) => {
  let app: TestApp;
  // 300 demo appeals; COUNT_LIGHT_ROWS 100: a count of more than 100 appeals is heavy work. No aggregate cache, so
  // every request counts (the cache would answer repeated filters without touching the admission).
  beforeAll(async () => {
    app = await startTestApp(backend, 300, undefined, { database: { countLightRows: 100, aggregateCacheEntries: 0 } });
  });
  afterAll(async () => {
    await app?.close();
  });
  const stats = () => ({ ...admissionOf(app.orm.em.fork()).stats });
  const counts = () => app.statements.filter((s) => /count\(\*\)/i.test(s));

  it('the ordinary page: an exact count of a narrow filter in one cheap statement beside the page, no EXPLAIN, no slot', async () => {
    const [{ d }] = await app.sql(`SELECT district_id AS d FROM appeal WHERE district_id IS NOT NULL GROUP BY 1 HAVING count(*) BETWEEN 1 AND 100 ORDER BY count(*) DESC LIMIT 1`);
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal WHERE district_id = ?', [d]);
    const before = stats();
    app.statements.length = 0;
    const r = await app.gql('query($f: AppealFilter) { appeals(first: 20, filter: $f) { totalCount pageInfo { hasNextPage } edges { node { id } } } }', { f: { districtIds: [String(d)] } });
    expect(r.errors).toBeUndefined();
    expect(r.data.appeals.totalCount).toBe(n);
    expect(r.data.appeals.edges).toHaveLength(Math.min(20, n));
    expect(counts()).toHaveLength(1);
    expect(app.statements.filter((s) => /EXPLAIN/i.test(s))).toEqual([]);
    const after = stats();
    expect(after.countLight).toBe(before.countLight + 1);
    expect(after.countHeavy).toBe(before.countHeavy);
    expect(after.admitted).toBe(before.admitted);
  });

  it('a count over more than COUNT_LIGHT_ROWS rows is exact and runs under the admission of heavy work', async () => {
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal');
    expect(n).toBeGreaterThan(100);
    const before = stats();
    const r = await app.gql('{ appeals(first: 5, filter: {}) { totalCount edges { node { id } } } }');
    expect(r.errors).toBeUndefined();
    expect(r.data.appeals.totalCount).toBe(n);
    const after = stats();
    expect(after.countHeavy).toBe(before.countHeavy + 1);
    expect(after.admitted).toBe(before.admitted + 1);
    // The same for the logs (counted only when asked for).
    const [{ a }] = await app.sql('SELECT count(*)::int AS a FROM audit_log WHERE municipality_id = ?', [app.municipalityId]);
    app.statements.length = 0;
    const log = await app.gqlAs(Role.ADMIN, '{ auditLog(first: 1) { edges { node { id } } } }');
    expect(log.errors).toBeUndefined();
    expect(counts()).toEqual([]);
    const counted = await app.gqlAs(Role.ADMIN, '{ auditLog(first: 1) { totalCount } }');
    expect(counted.errors).toBeUndefined();
    expect(counted.data.auditLog.totalCount).toBeGreaterThanOrEqual(a);
    // A filter with a date goes through the same bound statement.
    const since = await app.gqlAs(Role.ADMIN, '{ auditLog(first: 1, filter: { from: "2000-01-01T00:00:00Z" }) { totalCount } }');
    expect(since.errors).toBeUndefined();
    expect(since.data.auditLog.totalCount).toBeGreaterThanOrEqual(a);
    const future = await app.gqlAs(Role.ADMIN, '{ personalDataAccessLog(first: 1) { totalCount } auditLog(first: 1, filter: { from: "2999-01-01T00:00:00Z" }) { totalCount } }');
    expect(future.errors).toBeUndefined();
    expect(future.data.auditLog.totalCount).toBe(0);
  });

  it('admittedCount: at most the cap counted at once, more counted in full with a slot', async () => {
    const em = app.orm.em.fork();
    const before = stats();
    expect(await admittedCount(em, 'appeal a WHERE a.id <= ?', [50])).toBe(50);
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal');
    expect(await admittedCount(em, 'appeal a WHERE a.id > ?', [0])).toBe(n);
    const after = stats();
    expect(after.countLight - before.countLight).toBe(1);
    expect(after.countHeavy - before.countHeavy).toBe(1);
    expect(after.admitted - before.admitted).toBe(1);
  });

  it('hostile: 20 aliases of appeals { totalCount } are refused before anything is counted; four are answered', async () => {
    const before = stats();
    app.statements.length = 0;
    const hostile = `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: appeals(filter: ${i % 2 ? '{}' : `{ text: "x${i}" }`}) { totalCount }`).join(' ')} }`;
    const r = await app.gql(hostile);
    expect(r.data ?? null).toBeNull();
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0].message).toMatch(/Слишком много подсчётов totalCount в одном запросе: 20 \(appeals — 20\), допускается не более 4 \(GRAPHQL_MAX_COUNTS\)/);
    expect(counts()).toEqual([]);
    // Inside every item of a page of problems: 10 counts.
    const nested = await app.gql('{ problems(first: 10) { edges { node { appeals(first: 1) { totalCount } } } } }');
    expect(nested.errors?.[0].message).toMatch(/GRAPHQL_MAX_COUNTS/);
    expect(counts()).toEqual([]);
    expect(stats().countHeavy).toBe(before.countHeavy);
    // Four broad counts are allowed: each heavy, each with a slot.
    const four = await app.gql(`{ ${Array.from({ length: 4 }, (_, i) => `a${i}: appeals(first: 1, filter: { statuses: [${['NEW', 'IN_PROGRESS', 'ANSWERED', 'REJECTED'][i]}] }) { totalCount }`).join(' ')} all: appeals(first: 1) { edges { node { id } } } }`);
    expect(four.errors).toBeUndefined();
    const byStatus = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM appeal WHERE status IN ('NEW', 'IN_PROGRESS', 'ANSWERED', 'REJECTED')`);
    expect([0, 1, 2, 3].reduce((s, i) => s + four.data[`a${i}`].totalCount, 0)).toBe(byStatus[0].n);
  });
});
