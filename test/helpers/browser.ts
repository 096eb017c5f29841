// Headless Chromium against the whole app on a fresh embedded database: one setup for every
// browser test (WebGL2 via ANGLE + SwiftShader, no GPU, no background traffic), recording every
// request so tests can assert that nothing leaves the machine.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startApp, type App } from '../../server/app.js';
import { freshDatabase, type BackendName, type FreshDatabase } from './backends.js';
import { createAndSignIn, forgetRequestsTo, signRequestsTo, type Client } from './app.js';
import { Role } from '../../server/auth/roles.js';
import { SESSION_COOKIE } from '../../server/auth/config.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const artifacts = path.join(repoRoot, 'test', 'artifacts');
export const HOOK_TIMEOUT = 240_000;

// Flags verified with Debian Chromium 156.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

export interface BrowserSession {
  app: App;
  browser: Browser;
  context: BrowserContext;
  origin: string;
  /** Every URL the pages requested. */
  requests: string[];
  /** Responses with status ≥ 400. */
  failedResponses: string[];
  /** The user the browser is signed in as (a CURATOR unless `signIn` says otherwise). */
  client?: Client;
  /** Requests to anything but the app's origin (inline data:, blob:, about: excepted). */
  offsite(): string[];
  close(): Promise<void>;
}

/** Builds the client if needed, starts the app with demo data and opens a Russian-locale browser context. */
export async function openBrowserSession(opts: { demo: { count: number; seed: number }; viewport?: { width: number; height: number }; signIn?: Role | false; backend?: BackendName; municipalities?: string[] }): Promise<BrowserSession> {
  if (!['index.html', 'graphiql.html', 'intake.html', 'login.html'].every((f) => fs.existsSync(path.join(repoRoot, 'dist/web', f)))) {
    const { build } = await import('vite');
    await build({ configFile: path.join(repoRoot, 'web/vite.config.ts'), logLevel: 'warn' });
  }
  fs.mkdirSync(artifacts, { recursive: true });
  // The embedded backend unless the test asks for real PostGIS (then TEST_DATABASE_URL must be set).
  let db: FreshDatabase | undefined = await freshDatabase(opts.backend ?? 'embedded');
  let app: App | undefined;
  let browser: Browser | undefined;
  try {
    app = await startApp({ dataDir: db.dataDir, databaseUrl: db.databaseUrl, host: '127.0.0.1', port: 0, demo: opts.demo, basemapStyleUrl: null, log: () => undefined, municipalities: opts.municipalities });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1440, height: 900 }, locale: 'ru-RU', timezoneId: 'Asia/Barnaul' });
    const origin = new URL(app.url).origin;
    // Signed in by default (the session cookie, as the login page would set it); raw fetch calls to the app too.
    let client: Client | undefined;
    if (opts.signIn !== false) {
      const role = opts.signIn ?? Role.CURATOR;
      client = await createAndSignIn(app, { login: `browser-${role.toLowerCase().replace('_', '-')}`, role,
        ...(role === Role.BLOCK_LEAD ? { thematicBlock: 'gkh' } : role === Role.ORG_OFFICER ? { organization: 'uzhkh' } : {}) });
      await context.addCookies([{ name: SESSION_COOKIE, value: client.token!, url: origin, httpOnly: true, sameSite: 'Strict' }]);
      signRequestsTo(origin, client.token!);
    }
    const requests: string[] = [];
    const failedResponses: string[] = [];
    context.on('request', (req) => requests.push(req.url()));
    context.on('response', (res) => {
      if (res.status() >= 400) failedResponses.push(`${res.status()} ${res.url()}`);
    });
    const session: BrowserSession = {
      app, browser, context, origin, requests, failedResponses, client,
      offsite: () => requests.filter((u) => !/^(data|blob|about):/.test(u) && new URL(u).origin !== origin),
      async close() {
        forgetRequestsTo(origin);
        await context.close().catch(() => undefined);
        await session.browser.close().catch(() => undefined);
        await session.app.close();
        await db?.drop();
      },
    };
    return session;
  } catch (e) {
    await browser?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await db?.drop();
    db = undefined;
    throw e;
  }
}
