import { boolVar, intVar } from '../config.js';
/** Settings of accounts and sessions, from the environment (see README, "Учётные записи и роли"). */
export interface AuthConfig {
  /** AUTH_MAX_FAILURES: wrong passwords in a row that lock an account. */
  maxFailures: number;
  /** AUTH_LOCK_MINUTES: how long a locked account stays locked. */
  lockMinutes: number;
  /** AUTH_IP_MAX_FAILURES: failed sign-ins from one address within AUTH_LOCK_MINUTES before that address must wait (password spraying). */
  ipMaxFailures: number;
  /** AUTH_SESSION_HOURS: absolute lifetime of a session. */
  sessionHours: number;
  /** AUTH_IDLE_MINUTES: a session unused this long ends. */
  idleMinutes: number;
  /** AUTH_SESSION_CACHE_SECONDS: a validated session is trusted this long without asking the database (0 = every request). */
  sessionCacheSeconds: number;
  /** AUTH_COOKIE_SECURE: the session cookie only over HTTPS; default true in production. */
  cookieSecure: boolean;
  /** PD_RETENTION_DAYS: authors of appeals closed longer than this are anonymised. */
  retentionDays: number;
  /** PD_RETENTION_SCHEDULE: the server runs the retention job once a day. */
  retentionScheduled: boolean;
}

export const SESSION_COOKIE = 'mcu_session';
export const MIN_PASSWORD_LENGTH = 10;

export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return {
    maxFailures: intVar(env, 'AUTH_MAX_FAILURES', 5, 1, 1000),
    lockMinutes: intVar(env, 'AUTH_LOCK_MINUTES', 15, 1, 100_000),
    ipMaxFailures: intVar(env, 'AUTH_IP_MAX_FAILURES', 50, 1, 1_000_000),
    sessionHours: intVar(env, 'AUTH_SESSION_HOURS', 12, 1, 24 * 90),
    idleMinutes: intVar(env, 'AUTH_IDLE_MINUTES', 120, 1, 60 * 24 * 90),
    sessionCacheSeconds: intVar(env, 'AUTH_SESSION_CACHE_SECONDS', 5, 0, 300),
    cookieSecure: boolVar(env, 'AUTH_COOKIE_SECURE', env.NODE_ENV === 'production'),
    retentionDays: intVar(env, 'PD_RETENTION_DAYS', 1826, 1, 100_000),
    retentionScheduled: boolVar(env, 'PD_RETENTION_SCHEDULE', false),
  };
}
