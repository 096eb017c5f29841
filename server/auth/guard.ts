import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context } from '../graphql/context.js';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import { appealSnapshot, audit, changedOnly } from '../audit/audit.js';
import { ForbiddenError, requireUser } from './checker.js';
import { scopeOf, scopeSql } from './scope.js';

/**
 * The id of an appeal the signed-in user may act on: it exists in their municipality and lies in their
 * row scope (BLOCK_LEAD: a theme of their block; ORG_OFFICER: their organisation or a subordinate one).
 */
export async function checkAppealAccess(ctx: Context, id: string, field = 'id'): Promise<number> {
  const [n] = parseIds(field, [id])!;
  const user = requireUser(ctx);
  const s = scopeSql(scopeOf(user), 'a');
  const [r] = await query<{ id: number; visible: boolean }>(ctx.em,
    `SELECT a.id, (${s.sql}) AS visible FROM appeal a WHERE a.id = ? AND a.municipality_id = ?`, [...s.params, n, user.municipalityId]);
  if (!r) throw new InputError(field, `обращение ${id} не найдено`);
  if (!r.visible) throw new ForbiddenError(`Обращение ${id} вне вашей области доступа`);
  return n;
}

/**
 * A change of one appeal by a person: access check, then the change, its before/after (changed fields only)
 * in the audit log, all in one transaction. `change` gets the transaction's EntityManager and returns the appeal id.
 */
export async function auditedAppealChange(ctx: Context, id: string, action: string, change: (em: EntityManager) => Promise<number>, note?: Record<string, unknown>): Promise<number> {
  const n = await checkAppealAccess(ctx, id);
  return ctx.em.transactional(async (tem) => {
    const before = await appealSnapshot(tem, n);
    const result = await change(tem);
    const after = await appealSnapshot(tem, n);
    const d = changedOnly(before, after);
    await audit(tem, ctx, { entity: 'appeal', entityId: n, action, before: d.before, after: note ? { ...d.after, ...note } : d.after });
    return result;
  });
}
