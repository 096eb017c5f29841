import express, { type NextFunction, type Request, type Response } from 'express';
import { sendRouteError } from '../http/errors.js';
import { authenticate, sendUnauthenticated } from './http.js';
import type { Mount } from '../http/mount.js';
import { ROLE_LABELS } from './roles.js';
import type { AuthService } from './sessions.js';

const sendGraphQLError = (res: Response, e: unknown) => sendRouteError(res, e, 'auth');

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

/** /auth/login, /auth/logout, /auth/me (see authRoutes). */
export const mount: Mount = (app, { auth }) => {
  app.use('/auth', authenticate(auth), authRoutes(auth));
};
