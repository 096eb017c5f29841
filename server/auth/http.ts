import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { Kind, parse, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { SESSION_COOKIE } from './config.js';
import type { AuthService, Authenticated } from './sessions.js';
import type { AuthUser } from './users.js';

/** What a request carries about its authentication (on req.auth, and in the GraphQL context). */
export interface RequestAuth {
  service: AuthService;
  user?: AuthUser;
  tokenHash?: string;
  meta: { userAgent?: string; ip?: string };
  setSessionCookie(token: string, expiresAt: Date): void;
  clearSessionCookie(): void;
}

declare module 'node:http' {
  interface IncomingMessage {
    auth?: RequestAuth;
  }
}

/** The session token of a request: `Authorization: Bearer <token>` first, else the session cookie. */
export function requestToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    return m ? m[1] : undefined;
  }
  const cookie = req.headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function cookieHeader(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

function makeRequestAuth(service: AuthService, req: IncomingMessage, res: ServerResponse, a: Authenticated | null | undefined): RequestAuth {
  return {
    service,
    user: a?.user,
    tokenHash: a?.tokenHash,
    meta: { userAgent: req.headers['user-agent'], ip: (req as { ip?: string }).ip ?? req.socket.remoteAddress },
    setSessionCookie(token, expiresAt) {
      const seconds = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
      res.setHeader('Set-Cookie', cookieHeader(token, seconds, service.config.cookieSecure));
    },
    clearSessionCookie() {
      res.setHeader('Set-Cookie', cookieHeader('', 0, service.config.cookieSecure));
    },
  };
}

/** Synchronous authentication from the session cache (the cached-tile fast path); undefined = ask authenticate(). */
export function authenticateCached(service: AuthService, req: IncomingMessage, res: ServerResponse): RequestAuth | undefined {
  const token = requestToken(req);
  if (!token) {
    req.auth = makeRequestAuth(service, req, res, null);
    return req.auth;
  }
  const hit = service.cached(token);
  if (!hit) return undefined;
  req.auth = makeRequestAuth(service, req, res, hit);
  return req.auth;
}

export async function authenticateRequest(service: AuthService, req: IncomingMessage, res: ServerResponse): Promise<RequestAuth> {
  if (req.auth) return req.auth;
  const token = requestToken(req);
  const a = token ? await service.authenticate(token) : null;
  req.auth = makeRequestAuth(service, req, res, a);
  return req.auth;
}

/** Express middleware: sets req.auth (user or none). Never rejects by itself. */
export function authenticate(service: AuthService) {
  return (req: Request, res: Response, next: NextFunction) => {
    authenticateRequest(service, req, res).then(() => next(), next);
  };
}

export function sendUnauthenticated(res: ServerResponse, message = 'Требуется вход в систему'): void {
  res.statusCode = 401;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] }));
}

/** Root fields an anonymous request may ask for. */
const PUBLIC_ROOT_FIELDS = new Set(['signIn', '__typename']);

/** True when a GraphQL request only signs in (the one thing an anonymous client may do). */
export function isSignInOnly(body: unknown, queryString?: unknown): boolean {
  let source: unknown;
  let operationName: unknown;
  if (queryString != null) {
    source = queryString;
  } else if (body && typeof body === 'object' && !Array.isArray(body)) {
    source = (body as Record<string, unknown>).query;
    operationName = (body as Record<string, unknown>).operationName;
  }
  if (typeof source !== 'string' || source.length > 10_000) return false;
  let doc: DocumentNode;
  try {
    doc = parse(source, { maxTokens: 500 });
  } catch {
    return false;
  }
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = typeof operationName === 'string' ? ops.find((o) => o.name?.value === operationName) : ops.length === 1 ? ops[0] : undefined;
  if (!op || op.operation !== 'mutation') return false;
  return op.selectionSet.selections.every((s) => s.kind === Kind.FIELD && PUBLIC_ROOT_FIELDS.has(s.name.value));
}

/**
 * Express middleware in front of Apollo: an anonymous request gets 401 unless it is only the signIn mutation
 * (no introspection, no queries). Signed-in requests pass; roles are checked by @Authorized in the schema.
 */
export function graphqlGate() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.auth?.user) return next();
    if (req.method === 'POST' && isSignInOnly(req.body)) return next();
    sendUnauthenticated(res);
  };
}

/** Tiles and other HTTP data: only for signed-in users; the response may be cached by the browser only. */
export function requireSignedIn() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.auth?.user) return sendUnauthenticated(res);
    privateCacheControl(res);
    next();
  };
}

/** Rewrites `Cache-Control: public` of an authenticated response to `private` (no shared proxy may keep it). */
export function privateCacheControl(res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const headers = args.find((a, i) => i > 0 && a && typeof a === 'object') as Record<string, unknown> | undefined;
    const fix = (v: unknown) => (typeof v === 'string' ? v.replace(/\bpublic\b/, 'private') : v);
    if (headers) for (const k of Object.keys(headers)) if (k.toLowerCase() === 'cache-control') headers[k] = fix(headers[k]);
    const current = this.getHeader('cache-control');
    if (current != null) this.setHeader('Cache-Control', fix(current) as string);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/** Anonymous multipart uploads are refused before the file is read (only signIn is open, and it uploads nothing). */
export function rejectAnonymousUploads() {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.auth?.user && /^multipart\//i.test(req.headers['content-type'] ?? '')) return sendUnauthenticated(res);
    next();
  };
}
