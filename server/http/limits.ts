import { AsyncLocalStorage } from 'node:async_hooks';
import type { ApolloServerPlugin } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { sharedLimiter } from '../util/peers.js';

/**
 * HTTP-side limits: who is asking (for the rate limit), GraphQL operations per user or
 * address and minute, and the size of uploads, checked before a byte of them is read.
 */

interface ClientInfo {
  ip: string;
}

const client = new AsyncLocalStorage<ClientInfo>();

/** Remembers the caller's address for the rest of the request (goes right before Apollo's middleware). */
export function clientInfo(req: Request, _res: Response, next: NextFunction) {
  client.run({ ip: req.ip ?? req.socket.remoteAddress ?? 'unknown' }, next);
}

const megabytes = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} МБ`;

/**
 * The rate-limit key: the signed-in user when the context has one, else the client's address (the context's
 * `clientIp`, set from the request when the context is created; clientInfo's per-request AsyncLocalStorage is the
 * fallback for callers that still use it — it cost ~5 % of a small GraphQL request, issue 17).
 */
export function rateLimitKey(contextValue: unknown): string {
  const c = contextValue as { user?: { id?: unknown } | null; clientIp?: string } | undefined;
  if (c?.user?.id != null) return `user:${String(c.user.id)}`;
  return `ip:${c?.clientIp ?? client.getStore()?.ip ?? 'unknown'}`;
}

/**
 * At most `perMinute` GraphQL operations per key and minute (fixed one-minute windows). Over the
 * limit the operation is not executed: HTTP 429 with `Retry-After` and code TOO_MANY_REQUESTS.
 * The counters are the server's: with several workers (WEB_CONCURRENCY) they live in the primary.
 */
export function rateLimitPlugin(perMinute: number): ApolloServerPlugin<any> | undefined {
  if (perMinute <= 0) return undefined;
  const limiter = sharedLimiter({ points: perMinute, duration: 60, keyPrefix: 'RATE_LIMIT_PER_MINUTE' });
  return {
    async requestDidStart({ contextValue }) {
      let refused: RateLimiterRes | undefined;
      try {
        await limiter.consume(rateLimitKey(contextValue));
      } catch (e) {
        if (!(e instanceof RateLimiterRes)) throw e;
        refused = e;
      }
      if (!refused) return;
      const seconds = Math.max(1, Math.ceil(refused.msBeforeNext / 1000));
      return {
        async didResolveOperation() {
          throw new GraphQLError(`Слишком много запросов: не более ${perMinute} в минуту (RATE_LIMIT_PER_MINUTE); повторите через ${seconds} с`, {
            extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: seconds, http: { status: 429, headers: new Map([['retry-after', String(seconds)]]) } },
          });
        },
      };
    },
  };
}

/**
 * Refuses a multipart upload whose declared length exceeds the limit before reading it, so an
 * oversized file never starts an import (streams without a length are cut by graphql-upload).
 */
export function uploadSizeGuard(maxUploadBytes: number) {
  // Room for the multipart envelope (operations, map, boundaries).
  const allowed = maxUploadBytes + 1024 * 1024;
  return (req: Request, res: Response, next: NextFunction) => {
    const length = Number(req.headers['content-length']);
    if (req.is('multipart/form-data') && Number.isFinite(length) && length > allowed) {
      req.resume();
      res.status(413).set('connection', 'close').json({
        errors: [{
          message: `Файл слишком большой: ${megabytes(length)}, допускается не более ${megabytes(maxUploadBytes)} (MAX_UPLOAD_MB)`,
          extensions: { code: 'PAYLOAD_TOO_LARGE', field: 'file' },
        }],
      });
      return;
    }
    next();
  };
}

export { megabytes };

/**
 * A per-minute request limit of an HTTP route (/tiles, /exports), per signed-in user or else per address:
 * `check(key)` resolves to 0 when allowed, else the seconds to wait. perMinute ≤ 0: no limit. `name` (the limit's
 * variable) names its counters, which with several workers live in the primary (server/util/peers.ts).
 */
export function routeLimiter(perMinute: number, name: string): ((key: string) => Promise<number>) | undefined {
  if (perMinute <= 0) return undefined;
  const limiter = sharedLimiter({ points: perMinute, duration: 60, keyPrefix: name });
  return async (key) => {
    try {
      await limiter.consume(key);
      return 0;
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return Math.max(1, Math.ceil(e.msBeforeNext / 1000));
    }
  };
}

/** The 429 answer of a route limit (JSON, Russian, naming the variable). */
export function sendRateLimited(res: import('node:http').ServerResponse, seconds: number, perMinute: number, variable: string) {
  const body = JSON.stringify({ errors: [{ message: `Слишком много запросов: не более ${perMinute} в минуту (${variable}); повторите через ${seconds} с`, extensions: { code: 'TOO_MANY_REQUESTS', retryAfterSeconds: seconds } }] });
  res.writeHead(429, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': String(seconds), 'Cache-Control': 'no-store' });
  res.end(body);
}

/** Express middleware of a route limit (after authentication: the key is the user when signed in). */
export function routeRateLimit(perMinute: number, variable: string, check = routeLimiter(perMinute, variable)) {
  return (req: Request, res: Response, next: NextFunction) => {
    // Already counted in front of Express (the cached tile path of server/heatmap/routes.ts).
    if (!check || (req as Request & { rateCounted?: boolean }).rateCounted) return next();
    const id = (req as Request & { auth?: { user?: { id?: unknown } } }).auth?.user?.id;
    check(id != null ? `user:${String(id)}` : `ip:${req.ip ?? 'unknown'}`).then((wait) => {
      if (wait) sendRateLimited(res, wait, perMinute, variable);
      else next();
    }, next);
  };
}
