import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { onPeers, sharedLimiter, tellPeers } from '../util/peers.js';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { Channel } from '../reference/entities.js';

/**
 * API keys of Open311 clients. A key is a random 256-bit secret shown once when issued; only its SHA-256 is stored
 * (with an 8-character prefix to recognise it in lists). Each key is bound to a channel (where the appeals it posts
 * arrive) and a rate limit per minute. Keys are issued and revoked by an ADMIN (audited); every use is logged in
 * open311_key_use.
 */
export interface ApiKeyRow {
  id: number;
  name: string;
  prefix: string;
  channel: Channel;
  rate_per_minute: number;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
  last_used_at: string | null;
  uses: number;
}

export const hashKey = (secret: string) => createHash('sha256').update(secret).digest('hex');

const KEY_COLUMNS = `k.id, k.name, k.prefix, k.channel, k.rate_per_minute, k.created_at, k.created_by, k.revoked_at, k.revoked_by, k.last_used_at,
  (SELECT count(*)::int FROM open311_key_use u WHERE u.key_id = k.id) AS uses`;

export async function listKeys(em: EntityManager, municipalityId: number, opts: { includeRevoked?: boolean; first?: number; afterId?: number } = {}): Promise<{ rows: ApiKeyRow[]; total: number }> {
  const where = `k.municipality_id = ?${opts.includeRevoked === false ? ' AND k.revoked_at IS NULL' : ''}`;
  const rows = await query<ApiKeyRow>(em, `SELECT ${KEY_COLUMNS} FROM open311_api_key k WHERE ${where} AND k.id > ? ORDER BY k.id LIMIT ?`,
    [municipalityId, opts.afterId ?? 0, opts.first ?? 100]);
  const [{ n }] = await query<{ n: number }>(em, `SELECT count(*)::int AS n FROM open311_api_key k WHERE ${where}`, [municipalityId]);
  return { rows, total: n };
}

export async function keyById(em: EntityManager, municipalityId: number, id: number): Promise<ApiKeyRow | undefined> {
  const [r] = await query<ApiKeyRow>(em, `SELECT ${KEY_COLUMNS} FROM open311_api_key k WHERE k.id = ? AND k.municipality_id = ?`, [id, municipalityId]);
  return r;
}

export async function issueKey(em: EntityManager, actor: AuditActor, input: { name: string; channel?: string; ratePerMinute?: number }): Promise<{ key: ApiKeyRow; secret: string }> {
  const name = input.name?.trim() ?? '';
  if (!name) throw new InputError('name', 'укажите название ключа (кому он выдан)');
  if (name.length > 200) throw new InputError('name', 'название длиннее 200 символов');
  const channel = input.channel ?? Channel.OPEN311;
  if (!(Object.values(Channel) as string[]).includes(channel)) throw new InputError('channel', `неизвестный канал «${String(channel).slice(0, 40)}»`);
  const rate = input.ratePerMinute ?? 60;
  if (!Number.isInteger(rate) || rate < 1 || rate > 100_000) throw new InputError('ratePerMinute', 'лимит — целое число запросов в минуту от 1 до 100 000');
  const secret = `o311_${randomBytes(32).toString('base64url')}`;
  let id = 0;
  await em.transactional(async (tem) => {
    [{ id }] = await query<{ id: number }>(tem,
      `INSERT INTO open311_api_key (municipality_id, name, key_hash, prefix, channel, rate_per_minute, created_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [actor.municipalityId, name, hashKey(secret), secret.slice(0, 9), channel, rate, actor.user?.login ?? actor.actor ?? 'system']);
    await audit(tem, actor, { entity: 'open311_api_key', entityId: id, action: 'issue', after: { name, channel, ratePerMinute: rate, prefix: secret.slice(0, 9) } });
  });
  return { key: (await keyById(em, actor.municipalityId, id))!, secret };
}

export async function revokeKey(em: EntityManager, actor: AuditActor, id: number): Promise<ApiKeyRow> {
  const before = await keyById(em, actor.municipalityId, id);
  if (!before) throw new InputError('id', `ключ ${id} не найден`);
  if (before.revoked_at) return before;
  await em.transactional(async (tem) => {
    await query(tem, 'UPDATE open311_api_key SET revoked_at = now(), revoked_by = ? WHERE id = ?', [actor.user?.login ?? actor.actor ?? 'system', id]);
    await audit(tem, actor, { entity: 'open311_api_key', entityId: id, action: 'revoke', before: { revokedAt: null }, after: { revoked: true } });
  });
  keyCache.clear();
  // The other workers of the server (WEB_CONCURRENCY) forget it too before the revocation is answered.
  await tellPeers('open311:keys');
  return (await keyById(em, actor.municipalityId, id))!;
}

export interface VerifiedKey { id: number; name: string; channel: Channel; ratePerMinute: number }

/** Keys looked up in the last few seconds (a revocation in this process clears it at once). */
const keyCache = new Map<string, { at: number; found: { key: VerifiedKey; revoked: boolean } | null }>();
onPeers('open311:keys', () => keyCache.clear());

/** The key of a secret (also a revoked one, so that its use is logged), or null for an unknown secret. */
export async function verifyKey(em: EntityManager, municipalityId: number, secret: string): Promise<{ key: VerifiedKey; revoked: boolean } | null> {
  if (secret.length > 200) return null;
  const h = hashKey(secret);
  // Keyed by municipality too: a key is one municipality's, and another jurisdiction must not find it in the cache.
  const cacheKey = `${municipalityId}:${h}`;
  const cached = keyCache.get(cacheKey);
  if (cached && Date.now() - cached.at < 5_000) return cached.found;
  const [r] = await query<{ id: number; name: string; channel: Channel; rate_per_minute: number; revoked: boolean }>(em,
    'SELECT id, name, channel, rate_per_minute, revoked_at IS NOT NULL AS revoked FROM open311_api_key WHERE key_hash = ? AND municipality_id = ?', [h, municipalityId]);
  const found = r ? { key: { id: r.id, name: r.name, channel: r.channel, ratePerMinute: r.rate_per_minute }, revoked: r.revoked } : null;
  if (keyCache.size > 10_000) keyCache.clear();
  keyCache.set(cacheKey, { at: Date.now(), found });
  return found;
}

/** Limiters of one endpoint, one per rate (each key has its own points per minute, keyed by its id). */
export type KeyLimiters = Map<number, RateLimiterAbstract>;

export async function consumeKey(limiters: KeyLimiters, key: VerifiedKey): Promise<{ ok: true } | { ok: false; retryAfterSeconds: number }> {
  let l = limiters.get(key.ratePerMinute);
  if (!l) {
    l = sharedLimiter({ points: key.ratePerMinute, duration: 60, keyPrefix: `o311k${key.ratePerMinute}` });
    limiters.set(key.ratePerMinute, l);
  }
  try {
    await l.consume(String(key.id));
    return { ok: true };
  } catch (e) {
    if (e instanceof RateLimiterRes) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
    throw e;
  }
}

/** Limiters count per server: with several workers (WEB_CONCURRENCY) their counters live in the primary. */
export function anonymousLimiter(perMinute: number): RateLimiterAbstract | null {
  return perMinute > 0 ? sharedLimiter({ points: perMinute, duration: 60, keyPrefix: 'o311anon' }) : null;
}

/**
 * One row per use of a key (and the key's last use). `receivedAtUs` is when the request arrived (epoch microseconds):
 * the rows are written after the reply, concurrently, so their ids need not follow the order of the requests; `at` does.
 */
export async function logKeyUse(em: EntityManager, municipalityId: number, keyId: number, use: { method: string; path: string; status: number; ip?: string; appealId?: number | null; receivedAtUs: number }): Promise<void> {
  await query(em,
    `WITH u AS (UPDATE open311_api_key SET last_used_at = greatest(last_used_at, to_timestamp(?::float8 / 1e6)) WHERE id = ? AND municipality_id = ? RETURNING id, municipality_id)
     INSERT INTO open311_key_use (key_id, municipality_id, at, method, path, status, ip, appeal_id) SELECT id, municipality_id, to_timestamp(?::float8 / 1e6), ?, ?, ?, ?, ? FROM u`,
    [use.receivedAtUs, keyId, municipalityId, use.receivedAtUs, use.method, use.path.slice(0, 300), use.status, use.ip ?? null, use.appealId ?? null]);
}

/** Now in epoch microseconds, monotonic within the process (for ordering key uses). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
