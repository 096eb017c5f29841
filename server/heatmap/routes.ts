import type { NextFunction, Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { authenticate, authenticateCached, privateCacheControl, sendUnauthenticated } from '../auth/http.js';
import { isRestricted, scopeOf } from '../auth/scope.js';
import { routeLimiter, routeRateLimit, sendRateLimited } from '../http/limits.js';
import type { Mount } from '../http/mount.js';
import { createTileServer, parseTileRequest, renderTileRequest, sendTileError, tileMunicipality, type TileEncoder } from './tiles.js';
import { heavy } from '../db/admission.js';

/**
 * /tiles/:layer/:z/:x/:file — signed-in users only (auth's session guard). Users who see every row of their
 * municipality share the tile server's cache, keyed by municipality (tileCacheKey; the municipality is checked first) (a tile is an aggregate, the same for all of them), and a fresh cached
 * tile is answered before Express (`front`); a BLOCK_LEAD or ORG_OFFICER gets tiles rendered for their row scope,
 * never cached on the server nor shared (Cache-Control: private, no-store).
 */
export const mount: Mount = async (app, { orm, municipalityId, auth, limits }) => {
  const tiles = await createTileServer(orm, municipalityId);
  // RATE_LIMIT_PER_MINUTE=0 switches every rate limit off (benchmarks).
  const perMinute = limits.rateLimitPerMinute > 0 ? limits.tileRatePerMinute : 0;
  const limiter = routeLimiter(perMinute, 'TILE_RATE_LIMIT_PER_MINUTE');
  app.get('/tiles/:layer/:z/:x/:file', authenticate(auth), routeRateLimit(perMinute, 'TILE_RATE_LIMIT_PER_MINUTE', limiter),
    scopedTiles(orm, municipalityId, () => tiles.encoder), tiles.handler);
  return {
    // Cached tiles are answered before Express (see TileServer.serveCached): the session is checked first (from its
    // cache when fresh); only users who see every row share cached tiles.
    front(req, res, next) {
      if (req.method !== 'GET' || !req.url?.startsWith('/tiles/')) return next();
      const a = authenticateCached(auth, req, res);
      if (a && !a.user) return sendUnauthenticated(res);
      if (!a?.user || isRestricted(scopeOf(a.user))) return next();
      const user = a.user;
      const serve = () => {
        (req as { rateCounted?: boolean }).rateCounted = true;
        privateCacheControl(res);
        if (!tiles.serveCached(req, res)) next();
      };
      if (!limiter) return serve();
      // The cached path counts against the same limit as the rendered one (the limiter of /tiles in Express
      // is not reached from here).
      limiter(`user:${user.id}`).then((wait) => (wait ? sendRateLimited(res, wait, perMinute, 'TILE_RATE_LIMIT_PER_MINUTE') : serve()), () => next());
    },
    close: () => tiles.close(),
  };
};

/** In front of the shared tile handler: signed-in users only; a user with a row scope gets a tile of that scope here. */
function scopedTiles(orm: MikroORM, municipalityId: number, encoder: () => TileEncoder) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const user = req.auth?.user;
    if (!user) return sendUnauthenticated(res);
    privateCacheControl(res);
    if (!isRestricted(scopeOf(user))) return next();
    try {
      const { body, etag } = await heavy(orm.em, () => renderTileRequest(orm.em.fork(), parseTileRequest(req, { municipalityId: tileMunicipality(req, municipalityId), user }), encoder()));
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { 'Cache-Control': 'private, no-store', ETag: etag });
        res.end();
        return;
      }
      res.writeHead(200, { 'Cache-Control': 'private, no-store', ETag: etag, 'Content-Type': 'application/vnd.mapbox-vector-tile', 'Content-Length': body.length });
      res.end(body);
    } catch (e) {
      sendTileError(res, e);
    }
  };
}
