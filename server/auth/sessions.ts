import crypto from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { inCluster, onPeers, sharedLimiter, tellPeers } from '../util/peers.js';
import { InputError } from '../errors.js';
import type { AuthConfig } from './config.js';
import { isRegionRole } from './roles.js';
import { USER_COLUMNS, authUserOf, dummyPasswordHash, rowToUser, verifyPassword, type AuthUser } from './users.js';

/** Wrong login or password, or a locked / disabled account: one message for all but the lock (no account probing). */
export class SignInError extends GraphQLError {
  constructor(message: string, readonly reason: 'INVALID' | 'LOCKED') {
    super(message, { extensions: { code: 'UNAUTHENTICATED', reason } });
  }
}

export interface SessionInfo {
  token: string;
  expiresAt: Date;
  user: AuthUser;
}

/** A request's authentication: the user and the hash of the token that proved it. */
export interface Authenticated {
  user: AuthUser;
  tokenHash: string;
  sessionId: number;
}

interface CacheEntry extends Authenticated {
  checkedAt: number;
  expiresAt: number;
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sign-in, sessions and lock-out. Tokens are 256 random bits (base64url) handed to the client once;
 * the database keeps only their SHA-256. A validated session is trusted for `sessionCacheSeconds`
 * without a query (the tile and GraphQL hot paths); sign-out, lock and account changes made through
 * this process drop the cached entries at once (another process sees them within that time).
 */
export class AuthService {
  private readonly cache = new Map<string, CacheEntry>();
  /**
   * Failed sign-ins per client address (any login): against trying one password on many accounts. The server's
   * count (with several workers it lives in the primary); the lock-out per login and address is in the database.
   */
  private readonly ipFailures: RateLimiterAbstract;

  constructor(private readonly orm: MikroORM, readonly config: AuthConfig) {
    this.ipFailures = sharedLimiter({ points: config.ipMaxFailures, duration: config.lockMinutes * 60, keyPrefix: 'AUTH_IP_MAX_FAILURES' });
    // Another worker ended a session or changed an account: its cached validations go here too (server/util/peers.ts).
    if (inCluster()) onPeers<{ tokenHash?: string; userId?: number; exceptTokenHash?: string }>('auth:forget', (m) => this.drop(m));
  }

  private drop(m: { tokenHash?: string; userId?: number; exceptTokenHash?: string }): void {
    if (m.tokenHash) this.cache.delete(m.tokenHash);
    if (m.userId != null) for (const [k, e] of this.cache) if (e.user.id === m.userId && k !== m.exceptTokenHash) this.cache.delete(k);
  }

  /** Drops cached validations here and in every other worker; resolves when all of them have dropped them. */
  private forget(m: { tokenHash?: string; userId?: number; exceptTokenHash?: string }): Promise<void> {
    this.drop(m);
    return tellPeers('auth:forget', m);
  }

  private async failed(ip: string | undefined): Promise<never> {
    if (ip) await this.ipFailures.consume(ip).catch(() => undefined);
    throw new SignInError('Неверный логин или пароль', 'INVALID');
  }

  private lockedError(until: Date): SignInError {
    return new SignInError(`Вход с вашего адреса временно заблокирован после ${this.config.maxFailures} неудачных попыток; попробуйте после ${until.toISOString()}`, 'LOCKED');
  }

  /**
   * Counts a failed sign-in of (login, source); the maxFailures-th in a row locks the pair, the k-th lock of the pair
   * for lockMinutes × 2^(k−1) (at most 24 h). Returns the lock's end when this failure locked the pair.
   */
  private async countFailure(em: EntityManager, login: string, source: string): Promise<string | null> {
    const [r] = await query<{ failures: number; strikes: number }>(em,
      `INSERT INTO sign_in_lock (login, source, failures) VALUES (?, ?, 1)
       ON CONFLICT (login, source) DO UPDATE
         SET failures = CASE WHEN sign_in_lock.locked_until IS NOT NULL AND sign_in_lock.locked_until <= now() THEN 1 ELSE sign_in_lock.failures + 1 END,
             locked_until = CASE WHEN sign_in_lock.locked_until <= now() THEN NULL ELSE sign_in_lock.locked_until END,
             updated_at = now()
       RETURNING failures, strikes`, [login, source]);
    // Old unlocked pairs go (bounded table whatever logins and addresses are tried).
    if (Math.random() < 0.02) await query(em, `DELETE FROM sign_in_lock WHERE updated_at < now() - interval '2 days' AND (locked_until IS NULL OR locked_until < now())`);
    if (r.failures < this.config.maxFailures) return null;
    const minutes = Math.min(24 * 60, this.config.lockMinutes * 2 ** Math.min(r.strikes, 20));
    const [l] = await query<{ locked_until: string }>(em,
      `UPDATE sign_in_lock SET strikes = strikes + 1, locked_until = now() + make_interval(mins => ?) WHERE login = ? AND source = ? RETURNING locked_until`,
      [minutes, login, source]);
    return l.locked_until;
  }

  private em(): EntityManager {
    return this.orm.em.fork();
  }

  async signIn(loginArg: string, password: string, meta: { userAgent?: string; ip?: string } = {}): Promise<SessionInfo> {
    if (typeof loginArg !== 'string' || !loginArg.trim()) throw new InputError('login', 'введите логин');
    if (typeof password !== 'string' || !password) throw new InputError('password', 'введите пароль');
    const login = loginArg.trim().toLowerCase().slice(0, 64);
    const ipState = meta.ip ? await this.ipFailures.get(meta.ip) : null;
    if (ipState && ipState.remainingPoints <= 0) {
      throw new SignInError(`Слишком много неудачных попыток входа с вашего адреса; попробуйте через ${Math.ceil(ipState.msBeforeNext / 60_000)} мин.`, 'LOCKED');
    }
    const em = this.em();
    // Lock-out per login AND source: an attacker elsewhere cannot lock a user out of their own desk, and a login
    // that does not exist is locked exactly like one that does (no account probing by the answer).
    const source = (meta.ip ?? 'unknown').slice(0, 100);
    const [lock] = await query<{ locked_until: string }>(em, `SELECT locked_until FROM sign_in_lock WHERE login = ? AND source = ? AND locked_until > now()`, [login, source]);
    if (lock) throw this.lockedError(new Date(lock.locked_until));
    const [row] = await query<Record<string, any>>(em, `SELECT ${USER_COLUMNS}, u.password_hash FROM app_user u WHERE u.login = ?`, [login]);
    if (!row) {
      await verifyPassword(await dummyPasswordHash(), password); // same time as for a real account
      await this.countFailure(em, login, source);
      return this.failed(meta.ip);
    }
    const ok = await verifyPassword(row.password_hash, password);
    if (!ok || !row.active) {
      if (!ok) {
        const lockedUntil = await this.countFailure(em, login, source);
        // The account's own counters are information for the administrator (users.failedAttempts, lockedUntil).
        await query(em, `UPDATE app_user SET failed_attempts = failed_attempts + 1, locked_until = CASE WHEN ?::timestamptz IS NULL THEN locked_until ELSE greatest(locked_until, ?::timestamptz) END WHERE id = ?`,
          [lockedUntil, lockedUntil, row.id]);
      }
      return this.failed(meta.ip);
    }
    await query(em, 'DELETE FROM sign_in_lock WHERE login = ? AND source = ?', [login, source]);
    const token = crypto.randomBytes(32).toString('base64url');
    const [s] = await em.transactional(async (tem) => {
      await query(tem, `UPDATE app_user SET failed_attempts = 0, locked_until = NULL, last_login_at = now() WHERE id = ?`, [row.id]);
      return query<{ id: number; expires_at: string }>(tem,
        `INSERT INTO user_session (user_id, token_hash, expires_at, user_agent, ip) VALUES (?, ?, now() + make_interval(hours => ?), ?, ?)
         RETURNING id, expires_at`,
        [row.id, hashToken(token), this.config.sessionHours, meta.userAgent?.slice(0, 300) ?? null, meta.ip?.slice(0, 100) ?? null]);
    });
    return { token, expiresAt: new Date(s.expires_at), user: authUserOf(rowToUser(row)) };
  }

  /** A cached, still fresh validation of the token, without touching the database; undefined when it must be asked. */
  cached(token: string): Authenticated | undefined {
    if (!TOKEN_RE.test(token)) return undefined;
    const e = this.cache.get(hashToken(token));
    const now = Date.now();
    if (!e || now - e.checkedAt > this.config.sessionCacheSeconds * 1000 || now >= e.expiresAt) return undefined;
    return e;
  }

  /**
   * The user of a token, or null when the token is unknown, expired, idle too long, revoked, or its account disabled.
   * A lock-out stops sign-in only: sessions already proven stay valid (nobody can sign a user out by guessing).
   */
  async authenticate(token: string): Promise<Authenticated | null> {
    if (!TOKEN_RE.test(token)) return null;
    const hit = this.cached(token);
    if (hit) return hit;
    const tokenHash = hashToken(token);
    this.cache.delete(tokenHash);
    const em = this.em();
    const [r] = await query<Record<string, any>>(em,
      `SELECT ${USER_COLUMNS}, s.id AS session_id, s.expires_at AS session_expires_at,
              (s.last_seen_at < now() - interval '1 minute') AS stale,
              s.municipality_id AS opened_municipality_id, hm.region_id AS region_id,
              CASE WHEN u.role IN ('REGION_ANALYST', 'REGION_CURATOR') AND hm.region_id IS NOT NULL
                   THEN (SELECT array_agg(m.id ORDER BY m.id) FROM municipality m WHERE m.region_id = hm.region_id) END AS region_municipality_ids
         FROM user_session s JOIN app_user u ON u.id = s.user_id JOIN municipality hm ON hm.id = u.municipality_id
        WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > now()
          AND s.last_seen_at > now() - make_interval(mins => ?)
          AND u.active`,
      [tokenHash, this.config.idleMinutes]);
    if (!r) return null;
    // The idle clock moves at most once a minute per session.
    if (r.stale) await query(em, 'UPDATE user_session SET last_seen_at = now() WHERE id = ?', [r.session_id]);
    const auth: Authenticated = { user: regionalUser(authUserOf(rowToUser(r)), r), tokenHash, sessionId: r.session_id };
    if (this.config.sessionCacheSeconds > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(tokenHash, { ...auth, checkedAt: Date.now(), expiresAt: new Date(r.session_expires_at).getTime() });
    }
    return auth;
  }

  /**
   * A regional role opens one municipality of its region for this session (drill-down from the regional view): from
   * then on its requests (GraphQL, tiles, exports) serve that municipality, read-only. null = back to the home one.
   */
  async openMunicipality(tokenHash: string, user: AuthUser, municipalityId: number | null): Promise<void> {
    if (municipalityId != null && !(user.regionMunicipalityIds ?? []).includes(municipalityId)) {
      throw new GraphQLError(`municipalityId: муниципальное образование ${municipalityId} не входит в регион учётной записи`, { extensions: { code: 'FORBIDDEN', field: 'municipalityId' } });
    }
    await query(this.em(), 'UPDATE user_session SET municipality_id = ? WHERE token_hash = ? AND revoked_at IS NULL', [municipalityId, tokenHash]);
    await this.forget({ tokenHash });
  }

  /** Ends one session (sign-out); answered once no worker of the server trusts the session any more. */
  async signOut(tokenHash: string): Promise<boolean> {
    this.cache.delete(tokenHash);
    const r = await query(this.em(), 'UPDATE user_session SET revoked_at = now() WHERE token_hash = ? AND revoked_at IS NULL RETURNING id', [tokenHash]);
    // After the update: a validation cached meanwhile (here or in another worker) goes too.
    await this.forget({ tokenHash });
    return r.length > 0;
  }

  /**
   * Ends every session of a user (disabled, role or password changed). Inside a transaction (`em`), call forgetUser
   * after it commits: a validation cached before the commit would otherwise be trusted for AUTH_SESSION_CACHE_SECONDS.
   */
  async revokeUser(userId: number, em: EntityManager = this.em(), exceptTokenHash?: string): Promise<void> {
    await query(em, 'UPDATE user_session SET revoked_at = now() WHERE user_id = ? AND revoked_at IS NULL AND token_hash <> ?', [userId, exceptTokenHash ?? '']);
    await this.forget({ userId, exceptTokenHash });
  }

  /** Forgets cached validations of a user (their account changed: role, scope, name) here and in every other worker. */
  forgetUser(userId: number, exceptTokenHash?: string): Promise<void> {
    return this.forget({ userId, exceptTokenHash });
  }
}

/** A regional role's request serves the municipality its session opened (one of its region), else its home one. */
function regionalUser(u: AuthUser, r: Record<string, any>): AuthUser {
  if (!isRegionRole(u.role)) return u;
  const ids: number[] = (typeof r.region_municipality_ids === 'string'
    ? r.region_municipality_ids.replace(/[{}]/g, '').split(',').filter(Boolean).map(Number)
    : (r.region_municipality_ids ?? []).map(Number));
  const regionIds = ids.length ? ids : [u.municipalityId];
  const opened = r.opened_municipality_id == null ? null : Number(r.opened_municipality_id);
  return {
    ...u, homeMunicipalityId: u.municipalityId, regionId: r.region_id ?? null, regionMunicipalityIds: regionIds,
    municipalityId: opened != null && regionIds.includes(opened) ? opened : u.municipalityId,
  };
}
