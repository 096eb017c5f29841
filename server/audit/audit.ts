import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import type { AuthUser } from '../auth/users.js';

/** Who acts: the GraphQL context (its signed-in user) or a system job with its own name. */
export interface AuditActor {
  municipalityId: number;
  user?: AuthUser;
  /** The actor's name when there is no user (e.g. 'cli', 'system:retention'). */
  actor?: string;
}

export interface AuditChange {
  /** What changed: 'appeal', 'user', 'routing_rule', 'district', 'heat_layer', 'address_register', 'import_batch', 'problem', … */
  entity: string;
  entityId?: string | number | null;
  /** What was done: 'reclassify', 'reassign', 'create', 'update', 'import', … */
  action: string;
  /** State before and after (JSON-serialisable; never passwords or their hashes). */
  before?: unknown;
  after?: unknown;
}

export function actorName(ctx: AuditActor): string {
  return ctx.user?.login ?? ctx.actor ?? 'system';
}

/**
 * Records one change in audit_log: who (user id and login), when, which entity, what before and after.
 * Call it with the EntityManager of the transaction that makes the change, so both commit or neither.
 */
export async function audit(em: EntityManager, ctx: AuditActor, change: AuditChange): Promise<void> {
  await query(em,
    `INSERT INTO audit_log (municipality_id, actor_id, actor, entity, entity_id, action, before, after)
     VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)`,
    [ctx.municipalityId, ctx.user?.id ?? null, actorName(ctx), change.entity, change.entityId == null ? null : String(change.entityId),
      change.action, change.before === undefined ? null : JSON.stringify(change.before), change.after === undefined ? null : JSON.stringify(change.after)]);
}

/** The fields of an appeal that people change (for before/after of appeal changes). */
export async function appealSnapshot(em: EntityManager, id: number): Promise<Record<string, unknown> | null> {
  const [r] = await query<Record<string, unknown>>(em,
    `SELECT status, theme_id AS "themeId", organization_id AS "organizationId", district_id AS "districtId",
            ST_AsText(point) AS point, place_status AS "placeStatus", triage, answer_text AS "answerText", answered_at AS "answeredAt"
       FROM appeal WHERE id = ?`, [id]);
  if (!r) return null;
  if (r.answeredAt != null) r.answeredAt = new Date(r.answeredAt as string).toISOString();
  return r;
}

/** Keeps only the keys whose values differ (both sides), so an entry shows what changed. */
export function changedOnly(before: Record<string, unknown> | null, after: Record<string, unknown> | null): { before: Record<string, unknown> | null; after: Record<string, unknown> | null } {
  if (!before || !after) return { before, after };
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) { b[k] = before[k]; a[k] = after[k]; }
  }
  return { before: b, after: a };
}
