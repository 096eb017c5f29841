import 'reflect-metadata';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getMetadataStorage } from 'type-graphql';
import { getSchema } from '../server/graphql/schema.js';
import { ALL_ROLES, Role } from '../server/auth/roles.js';
import { OFFICER_PROBLEM_STATUSES } from '../server/problems/service.js';

/**
 * The role table (docs/accounts.md) equals the code: for every role, the mutations it may call and the queries restricted
 * to some roles are derived from the schema's @Authorized rules (field rule, else the resolver class's rule) and
 * compared with the backticked names of the table's row; the in-code limits the table names are checked too.
 */

const COMMON = new Set(['changePassword', 'signOut', 'signIn']);

function rulesOf(kind: 'mutations' | 'queries'): Map<string, Role[]> {
  const m = getMetadataStorage() as any;
  const out = new Map<string, Role[]>();
  for (const f of m[kind] as { target: unknown; methodName: string; schemaName: string }[]) {
    const field = m.authorizedFields.find((a: any) => a.target === f.target && a.fieldName === f.methodName);
    const cls = m.authorizedResolver.find((a: any) => a.target === f.target);
    const roles: Role[] | undefined = field ? field.roles : cls ? cls.roles : undefined;
    if (roles) out.set(f.schemaName, roles.length ? roles : ALL_ROLES);
  }
  return out;
}

function readmeTable(): Map<Role, { mutations: Set<string>; queries: Set<string>; text: string }> {
  const md = fs.readFileSync('docs/accounts.md', 'utf8');
  const start = md.indexOf('| role | sees | may change');
  expect(start).toBeGreaterThan(0);
  const rows = md.slice(start).split('\n').slice(2).filter((l) => l.startsWith('|'));
  const out = new Map<Role, { mutations: Set<string>; queries: Set<string>; text: string }>();
  for (const row of rows) {
    const [, roles, , change, queries] = row.split('|').map((c) => c.trim());
    const names = (s: string) => new Set([...s.matchAll(/`([A-Za-z][A-Za-z0-9]*)`/g)].map((x) => x[1]).filter((n) => !COMMON.has(n)));
    for (const r of roles.split(',').map((x) => x.trim()) as Role[]) out.set(r, { mutations: names(change), queries: names(queries), text: row });
  }
  return out;
}

describe('the role table of docs/accounts.md', () => {
  it('lists exactly the mutations and restricted queries each role may call', async () => {
    await getSchema();
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual([...ALL_ROLES].sort());
    const mutations = rulesOf('mutations');
    const queries = rulesOf('queries');
    for (const role of ALL_ROLES) {
      const mayMutate = [...mutations].filter(([n, roles]) => !COMMON.has(n) && roles.includes(role)).map(([n]) => n).sort();
      const restricted = [...queries].filter(([, roles]) => roles.length < ALL_ROLES.length && roles.includes(role)).map(([n]) => n).sort();
      expect([...table.get(role)!.mutations].sort(), `${role}: mutations`).toEqual(mayMutate);
      expect([...table.get(role)!.queries].sort(), `${role}: restricted queries`).toEqual(restricted);
    }
    // Every mutation and query has a rule (signIn is the anonymous one).
    const m = getMetadataStorage() as any;
    for (const f of [...m.mutations, ...m.queries]) if (f.schemaName !== 'signIn') expect(mutations.has(f.schemaName) || queries.has(f.schemaName), f.schemaName).toBe(true);
  });

  it('names the limits the code puts on an organisation officer', () => {
    const row = readmeTable().get(Role.ORG_OFFICER)!.text;
    expect(row).toContain(`problem statuses ${OFFICER_PROBLEM_STATUSES.join(' / ')} only`);
    expect(row).toContain('NEW / IN_PROGRESS only');
  });
});
