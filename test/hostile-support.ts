import crypto from 'node:crypto';
import type { App } from '../server/app.js';
import { UserService } from '../server/auth/users.js';
import { Role } from '../server/auth/roles.js';

/**
 * Helpers of the hostile-input, fuzz and fault tests: a signed-in user of a given role on any
 * app (the test's own account, created through the user service), and raw GraphQL requests.
 */
export async function bearer(app: App, role: Role = Role.CURATOR): Promise<Record<string, string>> {
  const login = `t-${role.toLowerCase().replace(/_/g, '-')}-${crypto.randomBytes(4).toString('hex')}`;
  const password = `${crypto.randomBytes(12).toString('base64url')}Aa1!`;
  await new UserService(app.orm.em.fork(), app.municipalityId).create({ login, role, password, displayName: `Тест ${role}` });
  const s = await app.auth.signIn(login, password);
  return { authorization: `Bearer ${s.token}` };
}

export type GqlBody = { data?: any; errors?: { message: string; extensions?: Record<string, any> }[] };

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: GqlBody; headers: Headers }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: GqlBody;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A GraphQL multipart request (one file under variable `file`), as the web client sends it. */
export async function upload(url: string, query: string, variables: Record<string, unknown>, file: { name: string; content: Buffer | string }, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([file.content]), file.name);
  const res = await fetch(`${url}/graphql`, { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true', ...headers } });
  return { status: res.status, body: (await res.json()) as GqlBody };
}
