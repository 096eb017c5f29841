import crypto from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { GraphQLError } from 'graphql';
import { InputError } from '../errors.js';
import { parseFilter } from '../appeals/filter.js';
import { AppealService } from '../appeals/service.js';
import { TILE_LAYERS, parseTileAddress, renderTile, tileMunicipality, tileQueryToFilter, type TileEncoder } from '../heatmap/tiles.js';
import { privateCacheControl, sendUnauthenticated } from './http.js';
import { isRestricted, scopeOf } from './scope.js';
import { ROLE_LABELS } from './roles.js';
import type { AuthService } from './sessions.js';

function sendGraphQLError(res: Response, e: unknown) {
  if (e instanceof InputError) {
    res.status(400).json({ errors: [{ message: e.message, extensions: { code: 'BAD_USER_INPUT', field: e.field } }] });
  } else if (e instanceof GraphQLError && e.extensions.code === 'UNAUTHENTICATED') {
    res.status(401).json({ errors: [{ message: e.message, extensions: e.extensions }] });
  } else {
    console.error('[auth] internal error', e);
    res.status(500).json({ errors: [{ message: 'Внутренняя ошибка сервера', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  }
}

/** Refuses a state-changing /auth request that is not JSON or that a browser says comes from another site. */
export function sameOriginJson(req: Request, res: Response, next: NextFunction) {
  const refuse = (status: number, message: string) =>
    res.status(status).set('Cache-Control', 'no-store').json({ errors: [{ message, extensions: { code: 'FORBIDDEN' } }] });
  const site = req.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return refuse(403, `Запрос с другого сайта отклонён (Sec-Fetch-Site: ${site.slice(0, 20)})`);
  const origin = req.get('origin');
  if (origin && origin !== 'null') {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.get('host')) return refuse(403, 'Запрос с другого сайта отклонён (Origin)');
  } else if (origin === 'null') {
    return refuse(403, 'Запрос с другого сайта отклонён (Origin: null)');
  }
  if (!req.is('application/json')) {
    return res.status(415).set('Cache-Control', 'no-store').json({ errors: [{ message: 'Ожидается тело запроса в JSON (Content-Type: application/json)', extensions: { code: 'BAD_REQUEST' } }] });
  }
  next();
}

/**
 * POST /auth/login ({login, password} as JSON) → {token, expiresAt, user} and the HttpOnly session cookie;
 * POST /auth/logout ends the current session; GET /auth/me → the signed-in user or 401.
 * (The same as the GraphQL signIn / signOut / me, for clients that do not speak GraphQL.)
 */
export function authRoutes(service: AuthService): express.Router {
  const r = express.Router();
  // Sign-in and sign-out change the browser's session: JSON bodies only (a cross-site form can send neither JSON
  // nor a custom content type without a CORS preflight, which this server never grants) and, when the browser
  // says where the request comes from, only from this site (login/logout CSRF).
  r.use((req, res, next) => (req.method === 'POST' ? sameOriginJson(req, res, next) : next()));
  r.use(express.json({ limit: '16kb' }));
  r.post('/login', async (req, res) => {
    try {
      const { login, password } = (req.body ?? {}) as Record<string, unknown>;
      const s = await service.signIn(login as string, password as string, req.auth?.meta);
      req.auth?.setSessionCookie(s.token, s.expiresAt);
      res.set('Cache-Control', 'no-store').json({ token: s.token, expiresAt: s.expiresAt, user: { ...s.user, roleLabel: ROLE_LABELS[s.user.role] } });
    } catch (e) {
      sendGraphQLError(res, e);
    }
  });
  r.post('/logout', async (req, res) => {
    try {
      const ended = req.auth?.tokenHash ? await service.signOut(req.auth.tokenHash) : false;
      req.auth?.clearSessionCookie();
      res.set('Cache-Control', 'no-store').json({ ok: ended });
    } catch (e) {
      sendGraphQLError(res, e);
    }
  });
  r.get('/me', (req, res) => {
    const u = req.auth?.user;
    if (!u) return sendUnauthenticated(res);
    res.set('Cache-Control', 'no-store').json({ user: { ...u, roleLabel: ROLE_LABELS[u.role] } });
  });
  return r;
}

/**
 * In front of /tiles/...: signed-in users only. Users who see every row of the municipality share the tile
 * server's cache (a tile is an aggregate, the same for all of them); a BLOCK_LEAD or ORG_OFFICER gets tiles
 * rendered for their row scope, never cached on the server nor shared (Cache-Control: private, no-store).
 */
export function tileGate(orm: MikroORM, municipalityId: number, encoder: () => TileEncoder) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const user = req.auth?.user;
    if (!user) return sendUnauthenticated(res);
    privateCacheControl(res);
    const scope = scopeOf(user);
    if (!isRestricted(scope)) return next();
    try {
      const layer = TILE_LAYERS[req.params.layer as string];
      if (!layer) throw new InputError('layer', `неизвестный слой «${String(req.params.layer).slice(0, 20)}»; допустимы: ${Object.keys(TILE_LAYERS).join(', ')}`);
      const { z, x, y } = parseTileAddress(String(req.params.z), String(req.params.x), String(req.params.file));
      const q = tileQueryToFilter(req.query as Record<string, unknown>);
      const filter = parseFilter({ ...q.filter, municipalityId: undefined }, { municipalityId: tileMunicipality(req, municipalityId), user });
      const curLayerIds = q.curLayerIds?.map((v, i) => {
        if (!/^\d{1,9}$/.test(v)) throw new InputError(`curLayerIds[${i}]`, `неверный идентификатор «${v.slice(0, 40)}»`);
        return Number(v);
      });
      const em = orm.em.fork();
      await new AppealService(em).checkReferences(filter);
      const body = await renderTile(em, { layer, z, x, y, filter, weights: q.weights, curLayerIds }, encoder());
      const etag = `"${crypto.createHash('sha1').update(body).digest('base64url')}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { 'Cache-Control': 'private, no-store', ETag: etag });
        res.end();
        return;
      }
      res.writeHead(200, { 'Cache-Control': 'private, no-store', ETag: etag, 'Content-Type': 'application/vnd.mapbox-vector-tile', 'Content-Length': body.length });
      res.end(body);
    } catch (e) {
      sendGraphQLError(res, e);
    }
  };
}
