import { startApp, type App, type StartOptions } from '../../server/app.js';
import { Role } from '../../server/auth/roles.js';
import { UserService, randomPassword } from '../../server/auth/users.js';
import { freshDatabase, type BackendName, type FreshDatabase } from './backends.js';

export type GqlResult<T = any> = { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };

/** The fetch of the platform, before startTestApp taught it to sign requests to test apps in. */
export const rawFetch: typeof fetch = globalThis.fetch.bind(globalThis);

/** Origins of running test apps → the token their requests carry when the caller sent none. */
const defaultTokens = new Map<string, string>();
let fetchPatched = false;

/**
 * Requests to a test app's origin that carry neither `Authorization` nor a cookie are sent with the app's
 * default session (a CURATOR): the test files written before accounts existed keep working unchanged, and they
 * go through the real authentication (a real token checked by the server). Use rawFetch for anonymous requests.
 */
export function signRequestsTo(origin: string, token: string): void {
  defaultTokens.set(origin, token);
  if (fetchPatched) return;
  fetchPatched = true;
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const token = defaultTokens.get(url.origin);
    if (token) {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      if (!headers.has('authorization') && !headers.has('cookie')) {
        headers.set('authorization', `Bearer ${token}`);
        return rawFetch(input, { ...init, headers });
      }
    }
    return rawFetch(input, init);
  }) as typeof fetch;
}

export function forgetRequestsTo(origin: string): void {
  defaultTokens.delete(origin);
}

/** A client of the app signed in as one user (or anonymous). */
export interface Client {
  login?: string;
  role?: Role;
  token?: string;
  userId?: number;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  /** fetch with this client's credentials (none for the anonymous client). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface TestApp extends App {
  /** GraphQL as the default full-access user (CURATOR). */
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  sql<T = any>(query: string, params?: unknown[]): Promise<T[]>;
  /** A client signed in with a test account of the role (created on first use; BLOCK_LEAD: block gkh, ORG_OFFICER: uzhkh). */
  as(role: Role): Promise<Client>;
  gqlAs<T = any>(role: Role, query: string, variables?: Record<string, unknown>): Promise<GqlResult<T>>;
  /** A client without credentials. */
  anonymous: Client;
  /** Creates an account and signs it in. */
  signInNew(opts: { login: string; role: Role; organization?: string; thematicBlock?: string; password?: string }): Promise<Client>;
  /** The default user's client. */
  defaultClient: Client;
  /** SQL statements seen since the last reset. */
  statements: string[];
  db: FreshDatabase;
}

export function clientFor(baseUrl: string, token?: string, extra: Partial<Client> = {}): Client {
  const auth = (init?: RequestInit): RequestInit => {
    const headers = new Headers(init?.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return { ...init, headers };
  };
  return {
    ...extra,
    token,
    fetch: (path, init) => rawFetch(`${baseUrl}${path}`, auth(init)),
    async gql(query, variables) {
      const res = await rawFetch(`${baseUrl}/graphql`, auth({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }));
      return res.json();
    },
  };
}

/** Creates an account directly in the database and signs it in over HTTP (the real sign-in). */
export async function createAndSignIn(app: App, opts: { login: string; role: Role; organization?: string; thematicBlock?: string; password?: string; municipalityId?: number }): Promise<Client> {
  const password = opts.password ?? randomPassword(16);
  const em = app.orm.em.fork();
  const svc = new UserService(em, opts.municipalityId ?? app.municipalityId);
  const existing = await svc.byLogin(opts.login);
  const user = existing ?? await svc.create({ login: opts.login, displayName: `Тест ${opts.role}`, role: opts.role, password, organization: opts.organization, thematicBlock: opts.thematicBlock });
  if (existing) await svc.setPassword(existing.id, password);
  const res = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: opts.login, password }) });
  const body = await res.json() as { token?: string; errors?: unknown };
  if (!res.ok || !body.token) throw new Error(`sign-in of ${opts.login} failed: ${res.status} ${JSON.stringify(body)}`);
  return clientFor(app.url, body.token, { login: opts.login, role: opts.role, userId: user.id });
}

const ROLE_SCOPE: Partial<Record<Role, { organization?: string; thematicBlock?: string }>> = {
  [Role.BLOCK_LEAD]: { thematicBlock: 'gkh' },
  [Role.ORG_OFFICER]: { organization: 'uzhkh' },
};

/** Starts the whole app on a fresh database of the backend, on a free loopback port, signed in as a CURATOR. */
export async function startTestApp(backend: BackendName, demoCount = 2000, dataDir?: string, options: Partial<StartOptions> = {}): Promise<TestApp> {
  const db = dataDir ? { dataDir, drop: async () => undefined } : await freshDatabase(backend);
  const statements: string[] = [];
  const app = await startApp({
    databaseUrl: db.databaseUrl,
    dataDir: db.dataDir,
    port: 0,
    host: '127.0.0.1',
    demo: demoCount ? { count: demoCount, seed: 7 } : false,
    log: () => undefined,
    onQuery: (s) => statements.push(s),
    ...options,
    // Sessions stay cached for a minute, so statement counts do not depend on timing.
    auth: { sessionCacheSeconds: 60, ...options.auth },
  });
  const close = app.close.bind(app);
  const clients = new Map<Role, Promise<Client>>();
  const as = (role: Role) => {
    let c = clients.get(role);
    if (!c) {
      c = createAndSignIn(app, { login: `test-${role.toLowerCase().replace('_', '-')}`, role, ...ROLE_SCOPE[role] });
      clients.set(role, c);
    }
    return c;
  };
  let defaultClient: Client;
  try {
    defaultClient = await as(Role.CURATOR);
  } catch (e) {
    await close();
    await db.drop();
    throw e;
  }
  signRequestsTo(new URL(app.url).origin, defaultClient.token!);
  return Object.assign(app, {
    db,
    statements,
    defaultClient,
    anonymous: clientFor(app.url),
    as,
    async gqlAs(role: Role, query: string, variables?: Record<string, unknown>) {
      return (await as(role)).gql(query, variables);
    },
    signInNew: (opts: { login: string; role: Role; organization?: string; thematicBlock?: string; password?: string }) => createAndSignIn(app, opts),
    gql(query: string, variables?: Record<string, unknown>) {
      return defaultClient.gql(query, variables);
    },
    async sql(query: string, params: unknown[] = []) {
      return app.orm.em.fork().execute(query, params);
    },
    async close() {
      forgetRequestsTo(new URL(app.url).origin);
      await close();
      await db.drop();
    },
  }) as TestApp;
}
