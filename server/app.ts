import 'reflect-metadata';
import { query } from './db/sql.js';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expressMiddleware } from '@as-integrations/express5';
import { graphqlUploadExpress } from 'graphql-upload-minimal';
import { loadDemoAddressRegister } from './intake/address-register.js';
import { markInterruptedBatches } from './intake/pipeline.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type Limits } from './config.js';
import { contentSecurityPolicy, originOf, securityHeaders } from './http/headers.js';
import { clientInfo, megabytes, routeLimiter, routeRateLimit, sendRateLimited, uploadSizeGuard } from './http/limits.js';
import { startEmbedded, type EmbeddedDatabase } from './db/embedded.js';
import { createOrm, migrate } from './db/orm.js';
import { ensureMunicipality } from './reference/seed.js';
import { readReference, repoRoot } from './reference/files.js';
import { loadDemo } from './demo/load.js';
import { judgeAll } from './quality/service.js';
import { createContext } from './graphql/context.js';
import { createApollo } from './http/graphql.js';
import { ensureDemoHeatLayer } from './heatmap/demo.js';
import { ProblemService } from './problems/service.js';
import { problemExportHandler } from './problems/export.js';
import { ratingExportHandler } from './rating/export.js';
import { callbackExportHandler } from './informing/export.js';
import { createTileServer } from './heatmap/tiles.js';
import { loadAuthConfig, type AuthConfig } from './auth/config.js';
import { AuthService } from './auth/sessions.js';
import { authenticate, authenticateCached, graphqlGate, privateCacheControl, rejectAnonymousUploads, sendUnauthenticated , requireSignedIn } from './auth/http.js';
import { authRoutes, tileGate } from './auth/routes.js';
import { isRestricted, scopeOf } from './auth/scope.js';
import { disableDemoAccounts, ensureDemoAccounts, type DemoAccount } from './auth/demo.js';
import { anonymiseClosedAppealAuthors } from './auth/retention.js';
import { ensureDefaultIndicators } from './indicators/service.js';
import { planExportHandler } from './plans/export.js';
import { noticeExportHandler } from './dataquality/notice.js';
import { mountPageRoutes, preparePages } from './pages/routes.js';
import { mountOpen311, type Open311Options } from './open311/routes.js';

export interface StartOptions {
  /** Real PostGIS; absent = embedded PGlite in dataDir. */
  databaseUrl?: string;
  dataDir?: string;
  host?: string;
  port?: number;
  /** Load generated demo appeals when the municipality has none. */
  demo?: { count: number; seed?: number } | false;
  municipality?: string;
  basemapStyleUrl?: string | null;
  /** Count SQL statements (tests). */
  onQuery?: (sql: string) => void;
  log?: (msg: string) => void;
  /** Overrides of the account and session settings read from the environment (tests). */
  auth?: Partial<AuthConfig>;
  /** Overrides of the limits read from the environment (tests, benchmarks). */
  limits?: Partial<Limits>;
  /** Overrides of the Open311 endpoint's settings (tests). */
  open311?: Open311Options;
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
  close(): Promise<void>;
}

export async function startApp(opts: StartOptions = {}): Promise<App> {
  const config = loadConfig();
  const limits: Limits = { ...config.limits, ...opts.limits };
  const log = opts.log ?? ((m: string) => console.log(m));
  const municipality = opts.municipality ?? config.municipality;
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
    orm = await createOrm({ url, embedded: !!embedded, onQuery: opts.onQuery });
    const applied = await migrate(orm);
    if (applied.length) log(`Миграции применены: ${applied.join(', ')}`);
    const em = orm.em.fork();
    const interrupted = await markInterruptedBatches(em);
    if (interrupted) log(`Импорты, прерванные остановкой или сбоем, отмечены как INTERRUPTED: ${interrupted}`);
    const mun = await ensureMunicipality(em, municipality);
    if (mun.created) log(`Загружены справочники: ${municipality}`);
    const indicators = await ensureDefaultIndicators(em, mun.id, municipality);
    if (indicators) log(`Загружен комплекс показателей по умолчанию: ${indicators}`);
    if (opts.demo && opts.demo.count > 0) {
      const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ?', [mun.id]);
      if (n === 0) {
        log(`Генерация демонстрационных обращений: ${opts.demo.count}…`);
        const r = await loadDemo(em, mun.id, { count: opts.demo.count, seed: opts.demo.seed });
        log(`Загружено ${r.appeals} обращений, ${r.events} событий за ${r.seconds.toFixed(1)} с`);
        const q = await judgeAll(em, mun.id);
        log(`Оценка ответов: ${q.judged}, отписок — ${q.formal}, шаблонов — ${q.templates}, за ${q.seconds.toFixed(1)} с`);
      }
      const heat = await ensureDemoHeatLayer(em, mun.id, municipality);
      if (heat) log(`Загружен демонстрационный слой ЦУР: ${heat.inserted} точек`);
      const addresses = await loadDemoAddressRegister(em, mun.id);
      if (addresses) log(`Загружен демонстрационный адресный реестр: ${addresses} домов`);
      // The demo opens with a territorial problem list (the default period up to today).
      const [{ runs }] = await query<{ runs: number }>(em, 'SELECT count(*)::int AS runs FROM problem_run WHERE municipality_id = ?', [mun.id]);
      if (runs === 0) {
        const r = await new ProblemService(em, { municipalityId: mun.id, actor: 'system:demo' }).recompute();
        log(`Перечень проблем территории: выявлено проблем — ${r.created}, за ${(r.ms / 1000).toFixed(1)} с`);
      }
    }

    await preparePages(em, mun.id, !!(opts.demo && opts.demo.count > 0), log);

    const apollo = await createApollo({ limits });
    // Accounts: demo accounts per role only in demo mode (new passwords on every start), disabled otherwise.
    const auth = new AuthService(orm, { ...loadAuthConfig(), ...opts.auth });
    let demoAccounts: DemoAccount[] = [];
    if (opts.demo) {
      demoAccounts = await ensureDemoAccounts(em, mun.id);
      log('Демонстрационные учётные записи (пароли действуют до перезапуска):');
      for (const a of demoAccounts) log(`  ${a.login.padEnd(12)} ${a.password}  ${a.role}${a.scope ? ` — ${a.scope}` : ''}`);
    } else {
      const off = await disableDemoAccounts(em);
      if (off) log(`Демонстрационные учётные записи отключены: ${off}`);
    }
    // Personal-data retention (PD_RETENTION_SCHEDULE): once at start and every 24 h.
    let retentionTimer: NodeJS.Timeout | undefined;
    if (auth.config.retentionScheduled) {
      const run = () => anonymiseClosedAppealAuthors(ormRef.em.fork(), mun.id, { days: auth.config.retentionDays })
        .then((r) => r.authors && log(`Обезличены авторы закрытых обращений: ${r.authors}`))
        .catch((e) => console.error('[retention] failed', e));
      retentionTimer = setInterval(run, 86_400_000);
      retentionTimer.unref();
      void run();
    }
    const app = express();
    app.disable('x-powered-by');
    // No ETag hashed over every res.send body (a heat map's GraphQL answer is ~100 KB); tiles and static files set their own.
    app.set('etag', false);
    const webDir = path.join(repoRoot(), 'dist', 'web');
    const municipalityInfo = readReference<{ code: string; name: string; center: [number, number] }>(municipality, 'municipality.json');
    const ormRef = orm;
    const tiles = await createTileServer(orm, mun.id);
    // Rate limits of the HTTP routes; RATE_LIMIT_PER_MINUTE=0 switches every rate limit off (benchmarks).
    const tileLimitPerMinute = limits.rateLimitPerMinute > 0 ? limits.tileRatePerMinute : 0;
    const exportLimitPerMinute = limits.rateLimitPerMinute > 0 ? limits.exportRatePerMinute : 0;
    const tileLimit = routeLimiter(tileLimitPerMinute);
    // Tiles: signed-in users only; BLOCK_LEAD / ORG_OFFICER get tiles of their row scope (server/auth/routes.ts).
    app.get('/tiles/:layer/:z/:x/:file', authenticate(auth), routeRateLimit(tileLimitPerMinute, 'TILE_RATE_LIMIT_PER_MINUTE', tileLimit), tileGate(orm, mun.id, () => tiles.encoder), tiles.handler);
    app.use('/auth', authenticate(auth), authRoutes(auth));
    // Exports of the problem list (XLSX, CSV, GeoJSON): signed-in users, their row scope.
    app.get('/exports/problems.:format', authenticate(auth), requireSignedIn(), routeRateLimit(exportLimitPerMinute, 'EXPORT_RATE_LIMIT_PER_MINUTE'), problemExportHandler(orm, mun.id));
    // The centre's activity plan in the shape of a municipal plan (XLSX).
    app.get('/exports/plan.xlsx', authenticate(auth), requireSignedIn(), routeRateLimit(exportLimitPerMinute, 'EXPORT_RATE_LIMIT_PER_MINUTE'), planExportHandler(orm, mun.id));
    // A data-quality notice to the head of an organisation (DOCX); officers only their organisation's.
    app.get('/exports/notice.docx', authenticate(auth), requireSignedIn(), routeRateLimit(exportLimitPerMinute, 'EXPORT_RATE_LIMIT_PER_MINUTE'), noticeExportHandler(orm, mun.id));
    // The rating of bodies and organisations with its queues, for the head's meeting (same auth and row scope).
    app.get('/exports/rating.xlsx', authenticate(auth), requireSignedIn(), routeRateLimit(exportLimitPerMinute, 'EXPORT_RATE_LIMIT_PER_MINUTE'), ratingExportHandler(orm, mun.id));
    // The call-back list of a targeted informing (XLSX): roles that inform and see personal data; reads are logged.
    app.get('/exports/callback.xlsx', authenticate(auth), requireSignedIn(), routeRateLimit(exportLimitPerMinute, 'EXPORT_RATE_LIMIT_PER_MINUTE'), callbackExportHandler(orm, mun.id));
    mountPageRoutes(app, orm, mun.id, auth);

    // Open311 GeoReport v2 (server/open311/): a public API with its own keys, never the session cookie.
    await mountOpen311(app, orm, mun.id, opts.open311);
    // Healthy = the database answers a query within HEALTH_TIMEOUT_MS (a dead or hung database → 503).
    app.get('/healthz', async (_req, res) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          ormRef.em.fork().execute('SELECT 1'),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), limits.healthTimeoutMs); }),
        ]);
        res.set('cache-control', 'no-store').json({ status: 'ok' });
      } catch {
        res.status(503).set('cache-control', 'no-store').json({ status: 'unavailable', database: 'не отвечает' });
      } finally {
        clearTimeout(timer);
      }
    });
    app.get('/config.json', (_req, res) => {
      res.json({
        basemapStyleUrl: opts.basemapStyleUrl !== undefined ? opts.basemapStyleUrl : config.basemapStyleUrl,
        municipality: { code: municipalityInfo.code, name: municipalityInfo.name, center: municipalityInfo.center, zoom: 12 },
      });
    });
    // A browser asking for /graphql gets the offline GraphiQL; API clients get GraphQL.
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
      clientInfo,
      // Anonymous requests may only sign in; roles are checked by @Authorized in the schema.
      graphqlGate(),
      expressMiddleware(apollo, { context: async ({ req }) => createContext(ormRef, mun.id, req.auth) }),
    );
    // Source maps are for development: not served in production (they would publish the client's sources).
    if (config.production) app.use((req, res, next) => (req.path.endsWith('.map') ? res.status(404).type('text/plain; charset=utf-8').send('Не найдено') : next()));
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

    const host = opts.host ?? config.host;
    const basemap = opts.basemapStyleUrl !== undefined ? opts.basemapStyleUrl : config.basemapStyleUrl;
    const setSecurityHeaders = securityHeaders({ extraConnect: originOf(basemap) });
    let draining = false;
    let closing: Promise<void> | undefined;
    const server = await new Promise<import('node:http').Server>((resolve, reject) => {
      // Cached tiles are answered before Express (see TileServer.serveCached); everything else goes to the app.
      // The session is checked first (from its cache when fresh); only users who see every row share cached tiles.
      const s = http.createServer((req, res) => {
        setSecurityHeaders(req, res);
        // Stopping: this request is still answered, then its connection closes (no new request on it).
        if (draining) res.setHeader('connection', 'close');
        if (req.method === 'GET' && req.url?.startsWith('/tiles/')) {
          const a = authenticateCached(auth, req, res);
          if (a && !a.user) return sendUnauthenticated(res);
          if (a?.user && !isRestricted(scopeOf(a.user)) && a.user.municipalityId === mun.id) {
            const user = a.user;
            const serve = () => {
              (req as { rateCounted?: boolean }).rateCounted = true;
              privateCacheControl(res);
              if (!tiles.serveCached(req, res)) app(req, res);
            };
            if (!tileLimit) return serve();
            // The cached path counts against the same limit as the rendered one (the limiter of /tiles in Express
            // is not reached from here).
            tileLimit(`user:${user.id}`).then((wait) => (wait ? sendRateLimited(res, wait, tileLimitPerMinute, 'TILE_RATE_LIMIT_PER_MINUTE') : serve()),
              () => app(req, res));
            return;
          }
        }
        app(req, res);
      });
      s.once('error', reject);
      s.listen(opts.port ?? config.port, host, () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return {
      url: `http://${publicHost}:${port}`,
      orm,
      municipalityId: mun.id,
      databaseUrl: url,
      embedded: !!embedded,
      auth,
      demoAccounts,
      close() {
        closing ??= (async () => {
          clearInterval(retentionTimer);
          // Stop accepting; idle keep-alive connections would hold close() forever, so they go now; responses
          // still being written say `Connection: close`, and requests still running get 5 s to finish.
          draining = true;
          const closed = new Promise<void>((r) => server.close(() => r()));
          server.closeIdleConnections();
          const force = setTimeout(() => server.closeAllConnections(), 5000);
          await closed;
          clearTimeout(force);
          // GraphQL stops once, here (Apollo's own signal handlers are off: server/http/graphql.ts).
          await apollo.stop();
          tiles.close();
          await ormRef.close(true);
          await embedded?.stop();
        })();
        return closing;
      },
    };
  } catch (e) {
    await orm?.close(true).catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    throw e;
  }
}
