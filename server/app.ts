import 'reflect-metadata';
import { query } from './db/sql.js';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import { expressMiddleware } from '@as-integrations/express5';
import type { ApolloServer } from '@apollo/server';
import { graphqlUploadExpress } from 'graphql-upload-minimal';
import { loadDemoAddressRegister } from './intake/address-register.js';
import { markInterruptedBatches } from './intake/pipeline.js';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { PRIMARY_POOL, loadConfig, type AppConfig, type DatabaseSettings, type Limits } from './config.js';
import { admissionOf, configureAdmission } from './db/admission.js';
import { configureResultCache, resultCacheOf } from './db/result-cache.js';
import { heavyRoute } from './http/heavy.js';
import { contentSecurityPolicy, originOf, securityHeaders } from './http/headers.js';
import { megabytes, routeRateLimit, uploadSizeGuard } from './http/limits.js';
import type { Mount, MountDeps, Mounted } from './http/mount.js';
import { startEmbedded, type EmbeddedDatabase } from './db/embedded.js';
import { createOrm, migrate } from './db/orm.js';
import { schema } from './modules.js';
import { ensureMunicipality } from './reference/seed.js';
import { readReference, repoRoot } from './reference/files.js';
import { loadDemo } from './demo/load.js';
import { judgeAll } from './quality/service.js';
import { createContext, type Context } from './graphql/context.js';
import { createApollo } from './http/graphql.js';
import { ensureDemoHeatLayer } from './heatmap/demo.js';
import { ProblemService } from './problems/service.js';
import { loadAuthConfig, type AuthConfig } from './auth/config.js';
import { AuthService } from './auth/sessions.js';
import { authenticate, graphqlGate, rejectAnonymousUploads, requireSignedIn } from './auth/http.js';
import { REGION_DEMO, disableDemoAccounts, ensureDemoAccounts, municipalDemo, type DemoAccount } from './auth/demo.js';
import { anonymiseClosedAppealAuthors } from './auth/retention.js';
import { ensureDefaultIndicators } from './indicators/service.js';
import { preparePages } from './pages/routes.js';
import type { Open311Options } from './open311/routes.js';
import { mount as heatmapRoutes } from './heatmap/routes.js';
import { mount as authRoutes } from './auth/routes.js';
import { mount as problemExport } from './problems/export.js';
import { mount as planExport } from './plans/export.js';
import { mount as noticeExport } from './dataquality/notice.js';
import { mount as ratingExport } from './rating/export.js';
import { mount as pageRoutes } from './pages/routes.js';
import { mount as open311Routes } from './open311/routes.js';
import { mount as callbackExport } from './informing/export.js';
import { mount as reportRoutes } from './reports/routes.js';
import { markInterruptedReports } from './reports/service.js';
import { ReportScheduler } from './reports/schedule.js';

/**
 * Every capability's HTTP routes, mounted in this order before GraphQL and the static client (a new capability
 * with routes: its `export const mount: Mount` in its folder and one line here).
 */
const MOUNTS: Mount[] = [
  heatmapRoutes, // /tiles/… (cached tiles also answered before Express)
  authRoutes, // /auth/login, /auth/logout, /auth/me
  problemExport, // /exports/problems.(xlsx|csv|geojson)
  planExport, // /exports/plan.xlsx, /exports/plan.docx
  noticeExport, // /exports/notice.docx
  ratingExport, // /exports/rating.xlsx
  pageRoutes, // /exports/official-pages.xlsx
  callbackExport, // /exports/callback.xlsx (personal data: roles that inform and see it; reads logged)
  open311Routes, // /open311/v2/… (its own keys, never the session cookie)
  reportRoutes, // /reports/<id>.(pdf|docx); the weekly-report scheduler (stopped on close)
];

export interface StartOptions {
  /** Real PostGIS; absent = embedded PGlite in dataDir. */
  databaseUrl?: string;
  dataDir?: string;
  host?: string;
  port?: number;
  /** Load generated demo appeals when the municipality has none. */
  demo?: { count: number; seed?: number } | false;
  municipality?: string;
  /** Further municipalities served by the deployment (default MUNICIPALITIES); demo appeals in proportion to population. */
  municipalities?: string[];
  basemapStyleUrl?: string | null;
  /** Count SQL statements (tests). */
  onQuery?: (sql: string) => void;
  log?: (msg: string) => void;
  /** Overrides of the account and session settings read from the environment (tests). */
  auth?: Partial<AuthConfig>;
  /** Overrides of the limits read from the environment (tests, benchmarks). */
  limits?: Partial<Limits>;
  /** Overrides of the pool and heavy-work settings read from the environment (tests, benchmarks). */
  database?: Partial<DatabaseSettings>;
  /** Overrides of the Open311 endpoint's settings (tests). */
  open311?: Open311Options;
  /** The weekly-report scheduler: off, or its check interval (default every minute). */
  reportScheduler?: false | { intervalMs?: number };
  /**
   * A worker of a cluster (WEB_CONCURRENCY > 1, server/cluster.ts): the primary has migrated and prepared the
   * database and runs the schedulers (preparePrimary); this process only serves HTTP, with the municipalities given.
   */
  worker?: { municipalityId: number; municipalities: { code: string; id: number }[] };
}

export interface App {
  url: string;
  orm: MikroORM;
  municipalityId: number;
  /** Connection string of the database in use (the embedded one listens on loopback). */
  databaseUrl: string;
  embedded: boolean;
  /** Sign-in and sessions. */
  auth: AuthService;
  /** Demo mode: the accounts created for each role, with this start's passwords. */
  demoAccounts: DemoAccount[];
  /** Further municipalities of the deployment (StartOptions.municipalities) and their ids. */
  municipalities: { code: string; id: number }[];
  /** The HTTP routes of the express app, read from its router ("GET /tiles/:layer/…", "USE /open311/v2", …; tests). */
  routes(): string[];
  close(): Promise<void>;
}

export async function startApp(opts: StartOptions = {}): Promise<App> {
  const config = loadConfig();
  const limits: Limits = { ...config.limits, ...opts.limits };
  const log = opts.log ?? ((m: string) => console.log(m));
  const municipality = opts.municipality ?? config.municipality;
  const worker = opts.worker;
  const db = await openDatabase(opts, config, worker ? () => undefined : log, { migrate: !worker });
  const { orm } = db;
  try {
    const em = orm.em.fork();
    // A cluster's worker: the primary did the one-time work (migrations, reference and demo data, accounts) and runs
    // the schedulers; this process serves.
    const municipalityId = worker ? worker.municipalityId : await prepareData(em, municipality, opts, log);
    // Further municipalities of the deployment (a region on one deployment): demo appeals in proportion to population.
    const extra = worker ? worker.municipalities : await prepareFurther(em, municipality, opts, config, log);
    const apollo = await createApollo({ limits });
    const auth = new AuthService(orm, { ...loadAuthConfig(), ...opts.auth });
    const demoAccounts = worker ? [] : await prepareAccounts(em, municipalityId, !!opts.demo, log, extra);
    const retentionTimer = worker ? undefined : startRetention(orm, [municipalityId, ...extra.map((m) => m.id)], auth, log);

    const app = express();
    app.disable('x-powered-by');
    // No ETag hashed over every res.send body (a heat map's GraphQL answer is ~100 KB); tiles and static files set their own.
    app.set('etag', false);
    const webDir = path.join(repoRoot(), 'dist', 'web');
    // RATE_LIMIT_PER_MINUTE=0 switches every rate limit off (benchmarks).
    const exportLimitPerMinute = limits.rateLimitPerMinute > 0 ? limits.exportRatePerMinute : 0;
    const deps: MountDeps = {
      orm, municipalityId, municipalityIds: [municipalityId, ...extra.map((m) => m.id)], auth, limits, open311: opts.open311,
      reportScheduler: worker ? false : opts.reportScheduler, log,
      // Exports are heavy work: they run under the pool's admission (server/db/admission.ts) until their answer is sent.
      exportGuard: [authenticate(auth), requireSignedIn(), routeRateLimit(exportLimitPerMinute, 'EXPORT_RATE_LIMIT_PER_MINUTE'), heavyRoute(orm)],
    };
    const mounted: Mounted[] = [];
    for (const mount of MOUNTS) mounted.push((await mount(app, deps)) ?? {});
    mountCore(app, deps, readReference(municipality, 'municipality.json'), opts.basemapStyleUrl !== undefined ? opts.basemapStyleUrl : config.basemapStyleUrl);
    mountGraphql(app, apollo, deps, webDir);
    mountClient(app, webDir, config.production, limits);

    const host = opts.host ?? config.host;
    const basemap = opts.basemapStyleUrl !== undefined ? opts.basemapStyleUrl : config.basemapStyleUrl;
    const server = await listen(app, mounted, { host, port: opts.port ?? config.port, basemap });
    const port = (server.address() as AddressInfo).port;
    const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${publicHost}:${port}`,
      orm,
      municipalityId,
      databaseUrl: db.url,
      embedded: !!db.embedded,
      auth,
      demoAccounts,
      municipalities: extra,
      routes: () => routeList(app),
      close() {
        closing ??= (async () => {
          clearInterval(retentionTimer);
          // Heavy work still waiting for a slot runs at once: the requests in flight finish within the drain.
          admissionOf(orm.em).open();
          // Connections already made but not yet accepted are taken first (see drain()): from the kernel's backlog, and
          // in a cluster's worker those the primary still holds for it.
          const { grace } = await server.drain(worker ? { quietMs: 300, maxWaitMs: 2000 } : { quietMs: 100, maxWaitMs: 1000 });
          log(grace ? 'HTTP: запросы в работе завершены, соединения закрыты' : 'HTTP: запросов в работе нет, соединения закрыты сразу');
          // GraphQL stops once, here (Apollo's own signal handlers are off: server/http/graphql.ts).
          await apollo.stop();
          for (const m of mounted) await m.close?.();
          await db.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

/** The primary process of a cluster (server/cluster.ts): what it prepared for its workers, and its schedulers. */
export interface Primary {
  municipalityId: number;
  municipalities: { code: string; id: number }[];
  demoAccounts: DemoAccount[];
  /** Stops the schedulers (waiting for a run in progress) and closes the database. */
  close(): Promise<void>;
}

/**
 * The one-time work of a cluster's start, done once by the primary before it forks the workers (a real PostgreSQL
 * only): migrations, reference data, demo data and accounts — the same steps as startApp's — then the schedulers
 * (weekly reports, personal-data retention) on a pool of PRIMARY_POOL connections; no HTTP.
 */
export async function preparePrimary(opts: StartOptions = {}): Promise<Primary> {
  const config = loadConfig();
  const log = opts.log ?? ((m: string) => console.log(m));
  const municipality = opts.municipality ?? config.municipality;
  const databaseUrl = opts.databaseUrl ?? config.databaseUrl;
  if (!databaseUrl) throw new Error('preparePrimary: a cluster needs DATABASE_URL (the embedded database serves one process)');
  const db = await openDatabase(opts, config, log);
  let municipalityId: number, extra: { code: string; id: number }[], demoAccounts: DemoAccount[];
  const authConfig = { ...loadAuthConfig(), ...opts.auth };
  try {
    const em = db.orm.em.fork();
    municipalityId = await prepareData(em, municipality, opts, log);
    extra = await prepareFurther(em, municipality, opts, config, log);
    demoAccounts = await prepareAccounts(em, municipalityId, !!opts.demo, log, extra);
  } finally {
    await db.close();
  }
  // The schedulers' own small pool (the workers share the rest of DATABASE_POOL_MAX: config.workerShare).
  const orm = await createOrm({ url: databaseUrl, embedded: false, poolMax: PRIMARY_POOL, poolMin: 0, ...schema });
  configureAdmission(orm.em, { limit: 1, queueMax: 256 });
  const retentionTimer = startRetention(orm, [municipalityId, ...extra.map((m) => m.id)], new AuthService(orm, authConfig), log);
  const scheduler = new ReportScheduler(orm, municipalityId, { intervalMs: opts.reportScheduler ? opts.reportScheduler.intervalMs : undefined, log });
  if (opts.reportScheduler !== false) scheduler.start();
  let closing: Promise<void> | undefined;
  return {
    municipalityId, municipalities: extra, demoAccounts,
    close() {
      closing ??= (async () => {
        clearInterval(retentionTimer);
        await scheduler.stop();
        await orm.close(true);
      })();
      return closing;
    },
  };
}

interface Database {
  orm: MikroORM;
  /** Connection string of the database in use. */
  url: string;
  embedded?: EmbeddedDatabase;
  close(): Promise<void>;
}

/** Step 1: the database (real PostGIS by DATABASE_URL, else embedded PGlite in the data folder), migrated. */
async function openDatabase(opts: StartOptions, config: AppConfig, log: (m: string) => void, o: { migrate: boolean } = { migrate: true }): Promise<Database> {
  const databaseUrl = opts.databaseUrl ?? config.databaseUrl;
  let embedded: EmbeddedDatabase | undefined;
  let url = databaseUrl;
  if (!url) {
    const dataDir = opts.dataDir ?? config.dataDir;
    log(`База данных: встроенная PGlite + PostGIS в ${dataDir}`);
    embedded = await startEmbedded(dataDir);
    url = embedded.url;
  } else {
    log('База данных: PostgreSQL + PostGIS по DATABASE_URL');
  }
  let orm: MikroORM | undefined;
  try {
    const database = { ...config.database, ...opts.database };
    orm = await createOrm({ url, embedded: !!embedded, onQuery: opts.onQuery, poolMax: database.poolMax, poolMin: database.poolMin, ...schema });
    // Heavy work's share of the pool, and the aggregate cache (docs/performance.md).
    configureAdmission(orm.em, { limit: embedded ? 1 : database.heavyConcurrency, queueMax: database.heavyQueueMax, lightRows: database.geojsonLightRows, countLightRows: database.countLightRows });
    configureResultCache(orm.em, database.aggregateCacheEntries, database.dataVersionTtlMs);
    const applied = o.migrate ? await migrate(orm) : [];
    if (applied.length) log(`Миграции применены: ${applied.join(', ')}`);
  } catch (e) {
    await orm?.close(true).catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw e;
  }
  const ready = orm;
  return {
    orm: ready, url, embedded,
    async close() {
      resultCacheOf(ready.em).dispose();
      await ready.close(true);
      await embedded?.stop();
    },
  };
}

/** Step 2: reference data of the municipality, default indicators and, in demo mode, the demo data. Returns its id. */
async function prepareData(em: EntityManager, municipality: string, opts: StartOptions, log: (m: string) => void): Promise<number> {
  const interrupted = await markInterruptedBatches(em);
  if (interrupted) log(`Импорты, прерванные остановкой или сбоем, отмечены как INTERRUPTED: ${interrupted}`);
  const interruptedReports = await markInterruptedReports(em);
  if (interruptedReports) log(`Справки, прерванные остановкой, отмечены как FAILED: ${interruptedReports}`);
  const id = await prepareMunicipality(em, municipality, opts.demo ? opts.demo : false, log);
  await preparePages(em, id, !!(opts.demo && opts.demo.count > 0), log);
  return id;
}

/**
 * Step 2b: the further municipalities of the deployment (StartOptions.municipalities, else MUNICIPALITIES): their
 * reference data and, in demo mode, demo appeals in proportion to population (official-page demo data is the first
 * municipality's own: the others get the page categories only).
 */
async function prepareFurther(em: EntityManager, first: string, opts: StartOptions, config: AppConfig, log: (m: string) => void): Promise<{ code: string; id: number }[]> {
  const others = [...new Set(opts.municipalities ?? config.municipalities)].filter((c) => c !== first);
  const population = (code: string) => readReference<{ population?: number }>(code, 'municipality.json').population ?? 0;
  const out: { code: string; id: number }[] = [];
  for (const code of others) {
    const share = population(first) > 0 ? population(code) / population(first) : 1;
    const demo = opts.demo ? { count: Math.max(1, Math.round(opts.demo.count * share)), seed: opts.demo.seed } : false as const;
    const id = await prepareMunicipality(em, code, demo, log);
    await preparePages(em, id, false, log);
    out.push({ code, id });
  }
  return out;
}

/** One municipality: reference data, default indicators and, in demo mode, its demo appeals, ЦУР layer, address register and problems. */
async function prepareMunicipality(em: EntityManager, municipality: string, demo: { count: number; seed?: number } | false, log: (m: string) => void): Promise<number> {
  const opts = { demo };
  const mun = await ensureMunicipality(em, municipality);
  if (mun.created) log(`Загружены справочники: ${municipality}`);
  const indicators = await ensureDefaultIndicators(em, mun.id, municipality);
  if (indicators) log(`Загружен комплекс показателей по умолчанию: ${indicators}`);
  if (opts.demo && opts.demo.count > 0) {
    const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ?', [mun.id]);
    if (n === 0) {
      log(`Генерация демонстрационных обращений (${municipality}): ${opts.demo.count}…`);
      const r = await loadDemo(em, mun.id, { count: opts.demo.count, seed: opts.demo.seed });
      log(`Загружено ${r.appeals} обращений, ${r.events} событий за ${r.seconds.toFixed(1)} с`);
      const q = await judgeAll(em, mun.id);
      log(`Оценка ответов: ${q.judged}, отписок — ${q.formal}, шаблонов — ${q.templates}, за ${q.seconds.toFixed(1)} с`);
    }
    const heat = await ensureDemoHeatLayer(em, mun.id, municipality);
    if (heat) log(`Загружен демонстрационный слой ЦУР (${municipality}): ${heat.inserted} точек`);
    const addresses = await loadDemoAddressRegister(em, mun.id);
    if (addresses) log(`Загружен демонстрационный адресный реестр (${municipality}): ${addresses} домов`);
    // The demo opens with a territorial problem list (the default period up to today).
    const [{ runs }] = await query<{ runs: number }>(em, 'SELECT count(*)::int AS runs FROM problem_run WHERE municipality_id = ?', [mun.id]);
    if (runs === 0) {
      const r = await new ProblemService(em, { municipalityId: mun.id, actor: 'system:demo' }).recompute();
      log(`Перечень проблем территории (${municipality}): выявлено проблем — ${r.created}, за ${(r.ms / 1000).toFixed(1)} с`);
    }
  }
  return mun.id;
}

/** Step 3: accounts — demo accounts per role only in demo mode (new passwords on every start), disabled otherwise. */
async function prepareAccounts(em: EntityManager, municipalityId: number, demo: boolean, log: (m: string) => void,
  further: { code: string; id: number }[] = []): Promise<DemoAccount[]> {
  if (!demo) {
    const off = await disableDemoAccounts(em);
    if (off) log(`Демонстрационные учётные записи отключены: ${off}`);
    return [];
  }
  const accounts = await ensureDemoAccounts(em, municipalityId);
  // The regional centre's accounts (home: the first municipality; they read every municipality of its region), and a
  // curator and an analyst of every further municipality.
  accounts.push(...await ensureDemoAccounts(em, municipalityId, REGION_DEMO));
  for (const m of further) accounts.push(...await ensureDemoAccounts(em, m.id, municipalDemo(m.code, readReference<{ name: string }>(m.code, 'municipality.json').name)));
  log('Демонстрационные учётные записи (пароли действуют до перезапуска):');
  for (const a of accounts) log(`  ${a.login.padEnd(12)} ${a.password}  ${a.role}${a.scope ? ` — ${a.scope}` : ''}`);
  return accounts;
}

/** Personal-data retention (PD_RETENTION_SCHEDULE): once at start and every 24 h; the timer to clear on close. */
function startRetention(orm: MikroORM, municipalityIds: number[], auth: AuthService, log: (m: string) => void): NodeJS.Timeout | undefined {
  if (!auth.config.retentionScheduled) return undefined;
  const run = () => Promise.all(municipalityIds.map((id) => anonymiseClosedAppealAuthors(orm.em.fork(), id, { days: auth.config.retentionDays })))
    .then((rs) => rs.reduce((n, r) => n + r.authors, 0))
    .then((n) => n && log(`Обезличены авторы закрытых обращений: ${n}`))
    .catch((e) => console.error('[retention] failed', e));
  const timer = setInterval(run, 86_400_000);
  timer.unref();
  void run();
  return timer;
}

/** /healthz and /config.json. */
function mountCore(app: express.Express, { orm, limits, auth, municipalityId }: MountDeps,
  municipalityInfo: { code: string; name: string; center: [number, number] }, basemapStyleUrl: string | null) {
  // Healthy = the database answers a query within HEALTH_TIMEOUT_MS (a dead or hung database → 503).
  app.get('/healthz', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        orm.em.fork().execute('SELECT 1'),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), limits.healthTimeoutMs); }),
      ]);
      res.set('cache-control', 'no-store').json({ status: 'ok' });
    } catch {
      res.status(503).set('cache-control', 'no-store').json({ status: 'unavailable', database: 'не отвечает' });
    } finally {
      clearTimeout(timer);
    }
  });
  // The map opens on the signed-in user's municipality (a regional role: the one it opened), else the first one.
  app.get('/config.json', authenticate(auth), async (req, res, next) => {
    try {
      const mid = req.auth?.user?.municipalityId ?? municipalityId;
      const [m] = mid === municipalityId ? [{ code: municipalityInfo.code, name: municipalityInfo.name, lon: municipalityInfo.center[0], lat: municipalityInfo.center[1] }]
        : await query<{ code: string; name: string; lon: number; lat: number }>(orm.em.fork(), 'SELECT code, name, ST_X(center) AS lon, ST_Y(center) AS lat FROM municipality WHERE id = ?', [mid]);
      res.set('cache-control', 'no-store').json({ basemapStyleUrl, municipality: { code: m.code, name: m.name, center: [m.lon, m.lat], zoom: 12 } });
    } catch (e) {
      next(e);
    }
  });
}

/** /graphql: the offline GraphiQL for a browser, GraphQL (with file uploads) for API clients. */
function mountGraphql(app: express.Express, apollo: ApolloServer<Context>, { orm, municipalityId, auth, limits }: MountDeps, webDir: string) {
  app.get('/graphql', authenticate(auth), (req, res, next) => {
    const graphiql = path.join(webDir, 'graphiql.html');
    if (req.accepts(['application/json', 'text/html']) === 'text/html' && !req.query.query) {
      // GraphiQL answers nothing without a session: sign in first, then come back.
      if (!req.auth?.user) return res.redirect(302, '/login.html?next=%2Fgraphql');
      // GraphiQL's editor injects <style> elements: inline styles allowed on this page only (scripts stay 'self').
      res.setHeader('Content-Security-Policy', contentSecurityPolicy({ inlineStyles: true }));
      if (fs.existsSync(graphiql)) return res.sendFile(graphiql);
      return res.status(404).type('text/plain; charset=utf-8').send('GraphiQL не собран: выполните npm run build');
    }
    next();
  });
  app.use(
    '/graphql',
    authenticate(auth),
    rejectAnonymousUploads(),
    // File uploads (GraphQL multipart request spec) for imports; clients send `apollo-require-preflight: true`.
    uploadSizeGuard(limits.maxUploadBytes),
    graphqlUploadExpress({ maxFileSize: limits.maxUploadBytes, maxFiles: 1 }),
    express.json({ limit: limits.maxBodyBytes }),
    // Anonymous requests may only sign in; roles are checked by @Authorized in the schema.
    graphqlGate(),
    expressMiddleware(apollo, { context: async ({ req }) => createContext(orm, municipalityId, req.auth, req.ip ?? req.socket.remoteAddress ?? 'unknown') }),
  );
}

/** The static web client, 404 for the rest, and a clear 4xx (never a stack trace) for bad requests. */
function mountClient(app: express.Express, webDir: string, production: boolean, limits: Limits) {
  // Source maps are for development: not served in production (they would publish the client's sources).
  if (production) app.use((req, res, next) => (req.path.endsWith('.map') ? res.status(404).type('text/plain; charset=utf-8').send('Не найдено') : next()));
  app.use(express.static(webDir, { index: 'index.html', maxAge: '1h' }));
  app.use((_req, res) => res.status(404).type('text/plain; charset=utf-8').send('Не найдено'));
  // Malformed JSON bodies and oversized requests: a clear 4xx, never a stack trace.
  app.use((err: { status?: number; type?: string; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) console.error('[http] internal error', err);
    const message = err.type === 'entity.too.large' ? `Запрос слишком большой: не более ${megabytes(limits.maxBodyBytes)} (MAX_BODY_MB)`
      : err.type === 'entity.parse.failed' ? 'Тело запроса не является корректным JSON'
      : status === 500 ? 'Внутренняя ошибка сервера' : (err.message ?? 'Ошибка запроса');
    res.status(status).json({ errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] });
  });
}

/** Without a request for this long (and none in flight) a stopping server closes idle connections without the grace. */
const QUIET_MS = 1000;

/**
 * The HTTP server: security headers on every answer, the capabilities' `front` hooks before Express (cached tiles),
 * and `drain()` for a clean stop.
 */
async function listen(app: express.Express, mounted: Mounted[], o: { host: string; port: number; basemap: string | null }) {
  const setSecurityHeaders = securityHeaders({ extraConnect: originOf(o.basemap) });
  const fronts = mounted.flatMap((m) => (m.front ? [m.front.bind(m)] : []));
  let draining = false;
  /** Responses to requests read and not yet answered (or aborted). */
  const inFlight = new Set<http.ServerResponse>();
  /** When the last request arrived: a client that was busy a moment ago may be sending its next one now. */
  let lastRequestAt = 0;
  const server = await new Promise<http.Server>((resolve, reject) => {
    const s = http.createServer((req, res) => {
      inFlight.add(res);
      lastRequestAt = Date.now();
      res.once('close', () => inFlight.delete(res));
      setSecurityHeaders(req, res);
      // Stopping: this request is still answered, then its connection closes (no new request on it).
      if (draining) res.setHeader('connection', 'close');
      const next = (i: number): void => (i < fronts.length ? fronts[i](req, res, () => next(i + 1)) : void app(req, res));
      next(0);
    });
    s.once('error', reject);
    s.listen(o.port, o.host, () => resolve(s));
  });
  let lastConnection = 0;
  server.on('connection', () => { lastConnection = Date.now(); });
  return Object.assign(server, {
    /**
     * Stops accepting; responses not yet sent say `Connection: close`, and requests still running get 5 s to
     * finish. Idle keep-alive connections would hold the close forever, so they go. While requests are in flight they
     * go only after a grace of 2.5 s: a request a client has already sent on a kept-alive connection may still wait
     * unread in the socket while the event loop is busy (such a connection counts as idle), and closing it at once
     * reset that request (ECONNRESET under 32 clients on a loaded machine). Within the grace it is read, answered and
     * its connection closed. With nothing in flight after one turn of the event loop (which reads requests already sent)
     * and no request for QUIET_MS (a client busy a moment ago may be writing its next request on a kept-alive connection:
     * closing it would reset that request, as under 32 clients), idle connections close at once: a stop of a quiet
     * server, and a test app's close after its last request, takes no 2.5 s. Returns whether the grace was given.
     * (The listener is closed through net.Server's close: http.Server's closes the idle connections at once, Node ≥ 19.)
     *
     * `quietMs`: connections a client has made but the server has not accepted yet are reset when the listener closes,
     * requests already sent on them included — those in the kernel's backlog while the event loop is busy, and in a
     * cluster those the primary still holds for a worker (it hands them over one at a time). So the server keeps
     * listening (answering with `Connection: close`) until no connection has come for `quietMs`, at most `maxWaitMs`.
     */
    async drain(o: { quietMs?: number; maxWaitMs?: number } = {}): Promise<{ grace: boolean }> {
      draining = true;
      if (o.quietMs) {
        const until = Date.now() + (o.maxWaitMs ?? 2000);
        lastConnection = Math.max(lastConnection, Date.now());
        while (Date.now() < until && Date.now() - lastConnection < o.quietMs) await new Promise((r) => setTimeout(r, 50));
      }
      const closed = new Promise<void>((r) => net.Server.prototype.close.call(server, () => r()));
      // Requests in flight: their answers close their connections (none waits for the idle grace).
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      // One full turn of the event loop with its I/O poll first: requests already sent but still unread (a busy loop)
      // are read now and count as in flight.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      const grace = inFlight.size > 0 || Date.now() - lastRequestAt < QUIET_MS;
      if (!grace) server.closeIdleConnections();
      const idle = setTimeout(() => setImmediate(() => server.closeIdleConnections()), grace ? 2500 : 0);
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await closed;
      clearTimeout(idle);
      clearTimeout(force);
      return { grace };
    },
  });
}

interface RouterLayer { rawPath?: unknown; name?: string; route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: RouterLayer[] } }

/** Every route and mount of an express app, sub-routers included, as "METHOD /path" (USE for middleware mounts). */
export function routeList(app: express.Express): string[] {
  const out = new Set<string>();
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const l of stack) {
      const p = l.route ? String(l.route.path) : String(l.rawPath ?? '/');
      const full = (prefix + (p === '/' ? '' : p)) || '/';
      if (l.route) for (const m of Object.keys(l.route.methods)) out.add(`${m.toUpperCase()} ${full}`);
      else if (l.handle?.stack) walk(l.handle.stack, full === '/' ? '' : full);
      else out.add(`USE ${full}`);
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return [...out].sort();
}
