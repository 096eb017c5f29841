import { startApp, type App } from '../../server/app.js';
import { freshDatabase, type BackendName, type FreshDatabase } from './backends.js';

export interface TestApp extends App {
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }>;
  sql<T = any>(query: string, params?: unknown[]): Promise<T[]>;
  /** SQL statements seen since the last reset. */
  statements: string[];
  db: FreshDatabase;
}

/** Starts the whole app on a fresh database of the backend, on a free loopback port. */
export async function startTestApp(backend: BackendName, demoCount = 2000, dataDir?: string): Promise<TestApp> {
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
  });
  const close = app.close.bind(app);
  return Object.assign(app, {
    db,
    statements,
    async gql(query: string, variables?: Record<string, unknown>) {
      const res = await fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return res.json();
    },
    async sql(query: string, params: unknown[] = []) {
      return app.orm.em.fork().execute(query, params);
    },
    async close() {
      await close();
      await db.drop();
    },
  });
}
