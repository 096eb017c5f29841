import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { DEADLINE_UNITS, type DeadlineUnit } from '../worktime/worktime.js';
import { atRiskAt, extensionLimit, type RuleVersion } from './rules.js';
import { loadDeadlineContext, ruleVersions, type DeadlineContext } from './store.js';
import { localDateTimeText } from '../util/timezone.js';

/**
 * Deadlines of individual appeals: the due times at registration, working minutes at the first reaction and the
 * answer, extensions, urgency, call-back ratings, and the bulk (re)computation for appeals already stored.
 */

const iso = (t: number | null | undefined) => (t == null ? null : new Date(t).toISOString());
const ms = (v: string | Date | null | undefined) => (v == null ? null : new Date(v).getTime());

async function appealEvent(em: EntityManager, municipalityId: number, appealId: number, actor: string, kind: string, from: string | null, to: string | null, comment?: string | null) {
  await query(em, `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment) VALUES (?, ?, now(), ?, ?, ?, ?, ?)`,
    [municipalityId, appealId, actor, kind, from, to, comment ?? null]);
}

interface AppealRow {
  id: number; channel: string; theme_id: number | null; received_at: string; urgent: boolean; status: string; answered_at: string | null;
  first_response_at: string | null; answer_due_at: string | null; deadline_rule_id: number | null; satisfaction: number | null; timezone: string;
}

async function lockAppeal(em: EntityManager, id: number): Promise<AppealRow> {
  const [a] = await query<AppealRow>(em,
    `SELECT a.id, a.channel, a.theme_id, a.received_at, a.urgent, a.status, a.answered_at, a.first_response_at, a.answer_due_at, a.deadline_rule_id,
            a.satisfaction, m.timezone
       FROM appeal a JOIN municipality m ON m.id = a.municipality_id WHERE a.id = ? FOR UPDATE OF a`, [id]);
  if (!a) throw new InputError('appealId', `обращение ${id} не найдено`);
  return a;
}

async function ruleOf(em: EntityManager, dc: DeadlineContext, municipalityId: number, a: AppealRow): Promise<RuleVersion | null> {
  if (a.deadline_rule_id != null) {
    const [r] = await ruleVersions(em, municipalityId, { ids: [a.deadline_rule_id] });
    if (r) return r;
  }
  return dc.rules.pick(a.channel, a.theme_id, a.urgent, ms(a.received_at)!);
}

/** Fills the working minutes to the first reaction and to the answer from the stored instants (after a workflow change). */
export async function refreshAppealMinutes(em: EntityManager, municipalityId: number, appealId: number): Promise<void> {
  const dc = await loadDeadlineContext(em, municipalityId);
  const [a] = await query<{ received_at: string; first_response_at: string | null; answered_at: string | null }>(em,
    'SELECT received_at, first_response_at, answered_at FROM appeal WHERE id = ?', [appealId]);
  if (!a) return;
  const r = ms(a.received_at)!;
  await query(em, 'UPDATE appeal SET first_reaction_minutes = ?, answer_minutes = ? WHERE id = ?',
    [dc.minutes(r, ms(a.first_response_at ?? a.answered_at)), dc.minutes(r, ms(a.answered_at)), appealId]);
}

export interface ExtensionRequest {
  reason: string;
  newDueAt?: Date | null;
  by?: { amount: number; unit: DeadlineUnit } | null;
  authorNotified?: boolean | null;
  /** The text of an interim answer to the author: the extension's ground (and the first reaction, if none yet). */
  interimAnswer?: string | null;
}

/**
 * Продление: moves the answer due time within the rule's allowance (counted from the rule's original due time, so
 * repeated extensions cannot go beyond it); under 59-ФЗ the author must have been notified. An EXTENSION event records
 * the old and the new due time and the reason. Runs inside the caller's transaction (audited by the caller).
 */
export async function extendDeadline(em: EntityManager, municipalityId: number, actor: string, appealId: number, req: ExtensionRequest): Promise<{ from: number; to: number }> {
  const interim = req.interimAnswer?.trim() || null;
  if (interim && interim.length > 4000) throw new InputError('interimAnswer', 'промежуточный ответ длиннее 4000 символов');
  const reason = req.reason?.trim() || (interim ? 'промежуточный ответ' : '');
  if (!reason) throw new InputError('reason', 'укажите причину продления');
  if (reason.length > 2000) throw new InputError('reason', 'причина длиннее 2000 символов');
  if (req.newDueAt != null && req.by != null) throw new InputError('newDueAt', 'укажите либо новый срок (newDueAt), либо на сколько продлить (by)');
  if (req.newDueAt == null && req.by == null && !interim)
    throw new InputError('newDueAt', 'укажите новый срок (newDueAt), на сколько продлить (by) или промежуточный ответ (interimAnswer) — тогда до предела правила');
  const dc = await loadDeadlineContext(em, municipalityId);
  const a = await lockAppeal(em, appealId);
  if (a.answered_at != null || a.status === 'CLOSED' || a.status === 'REJECTED') throw new InputError('appealId', 'на обращение уже дан ответ или оно закрыто: срок не продлевается');
  const rule = await ruleOf(em, dc, municipalityId, a);
  if (!rule || a.answer_due_at == null) throw new InputError('appealId', 'у обращения нет срока ответа (не найдено правило сроков)');
  if (rule.extensionMax == null) throw new InputError('appealId', 'правило сроков этого канала не предусматривает продления');
  const received = ms(a.received_at)!;
  const current = ms(a.answer_due_at)!;
  const limit = extensionLimit(dc.wt, rule, received)!;
  let target: number;
  if (req.by == null && req.newDueAt == null) target = limit; // an interim answer: up to the rule's limit
  else if (req.by) {
    if (!DEADLINE_UNITS.includes(req.by.unit)) throw new InputError('by.unit', `неизвестная единица «${String(req.by.unit).slice(0, 30)}»`);
    if (!Number.isFinite(req.by.amount) || req.by.amount <= 0 || req.by.amount > 365) throw new InputError('by.amount', 'продление — больше нуля и не более 365');
    target = dc.wt.add(current, req.by.amount, req.by.unit);
  } else {
    target = req.newDueAt!.getTime();
    if (!Number.isFinite(target)) throw new InputError('newDueAt', 'неверная дата');
  }
  if (target <= current) {
    throw new InputError(req.by ? 'by.amount' : req.newDueAt ? 'newDueAt' : 'interimAnswer',
      req.by || req.newDueAt ? `новый срок должен быть позже текущего (${localDateTimeText(a.timezone, current)})` : `срок уже продлён до предела правила (${localDateTimeText(a.timezone, current)})`);
  }
  if (target > limit) {
    throw new InputError(req.by ? 'by.amount' : 'newDueAt',
      `продление сверх допустимого: не позднее ${localDateTimeText(a.timezone, limit)} (правило: ${rule.extensionFrom === 'RECEIVED'
        ? `срок ответа не более ${rule.extensionMax} ${unitLabel(rule.extensionUnit!)} от регистрации`
        : `не более ${rule.extensionMax} ${unitLabel(rule.extensionUnit!)} к исходному сроку`})`);
  }
  if (rule.extensionNotice && !req.authorNotified) throw new InputError('authorNotified', 'о продлении нужно уведомить автора обращения (59-ФЗ, ст. 12 ч. 2): подтвердите уведомление');
  await query(em, 'UPDATE appeal SET answer_due_at = ?, answer_at_risk_at = ?, updated_at = now() WHERE id = ?',
    [iso(target), iso(atRiskAt(dc.wt, received, target, rule.atRiskShare)), appealId]);
  await appealEvent(em, municipalityId, appealId, actor, 'EXTENSION', iso(current), iso(target),
    reason + (req.authorNotified ? '; автор уведомлён' : '') + (interim && reason !== 'промежуточный ответ' ? '; промежуточный ответ' : '') + (interim ? `: «${interim}»` : ''));
  // The interim answer is the appeal's first reaction when there was none.
  if (interim && a.first_response_at == null) {
    const [{ now }] = await query<{ now: string }>(em, 'SELECT now() AS now');
    await query(em, `UPDATE appeal SET first_response_at = ?, first_reaction_minutes = ?, status = CASE WHEN status = 'NEW' THEN 'IN_PROGRESS' ELSE status END WHERE id = ?`,
      [now, dc.minutes(received, ms(now)), appealId]);
    await appealEvent(em, municipalityId, appealId, actor, 'FIRST_REACTION', null, new Date(now).toISOString(), 'промежуточный ответ');
    if (a.status === 'NEW') await appealEvent(em, municipalityId, appealId, actor, 'STATUS', 'NEW', 'IN_PROGRESS', 'промежуточный ответ');
  }
  return { from: current, to: target };
}

export function unitLabel(u: DeadlineUnit): string {
  return u === 'WORKING_HOURS' ? 'рабочих часов' : u === 'WORKING_DAYS' ? 'рабочих дней' : 'календарных дней';
}

/** Planned deadline columns of an appeal under its (possibly new) urgency, keeping a later extended due time. */
async function replan(em: EntityManager, dc: DeadlineContext, a: AppealRow, urgent: boolean) {
  const received = ms(a.received_at)!;
  const { rule, due } = dc.plan(a.channel, a.theme_id, urgent, received);
  const [ext] = await query<{ to_value: string }>(em, `SELECT to_value FROM appeal_event WHERE appeal_id = ? AND kind = 'EXTENSION' ORDER BY at DESC, id DESC LIMIT 1`, [a.id]);
  let answerDue = due?.answerDueAt ?? null;
  let risk = due?.answerAtRiskAt ?? null;
  const extended = ext ? ms(ext.to_value) : null;
  if (rule && extended != null && answerDue != null && extended > answerDue) { answerDue = extended; risk = atRiskAt(dc.wt, received, extended, rule.atRiskShare); }
  return { rule, firstDue: due?.firstReactionDueAt ?? null, answerDue, risk };
}

/** Marks an appeal urgent or not (a person's decision): URGENCY event, rule and due times recomputed. */
export async function setUrgency(em: EntityManager, municipalityId: number, actor: string, appealId: number, urgent: boolean, reason?: string | null): Promise<void> {
  if (reason && reason.length > 2000) throw new InputError('reason', 'причина длиннее 2000 символов');
  const dc = await loadDeadlineContext(em, municipalityId);
  const a = await lockAppeal(em, appealId);
  if (a.urgent === urgent) return;
  const p = await replan(em, dc, a, urgent);
  await query(em, `UPDATE appeal SET urgent = ?, deadline_rule_id = ?, first_reaction_due_at = ?, answer_due_at = ?, answer_at_risk_at = ?, updated_at = now() WHERE id = ?`,
    [urgent, p.rule?.id ?? null, iso(p.firstDue), iso(p.answerDue), iso(p.risk), appealId]);
  await appealEvent(em, municipalityId, appealId, actor, 'URGENCY', String(a.urgent), String(urgent), reason?.trim() || 'отметка работника');
}

/** The first reaction (принято в работу, промежуточный ответ): time and working minutes, FIRST_REACTION event. */
export async function recordFirstReaction(em: EntityManager, municipalityId: number, actor: string, appealId: number, comment?: string | null): Promise<void> {
  if (comment && comment.length > 2000) throw new InputError('comment', 'комментарий длиннее 2000 символов');
  const dc = await loadDeadlineContext(em, municipalityId);
  const a = await lockAppeal(em, appealId);
  if (a.first_response_at != null) throw new InputError('appealId', `первая реакция уже отмечена (${localDateTimeText(a.timezone, ms(a.first_response_at)!)})`);
  const [{ now }] = await query<{ now: string }>(em, 'SELECT now() AS now');
  await query(em, `UPDATE appeal SET first_response_at = ?, first_reaction_minutes = ?, status = CASE WHEN status = 'NEW' THEN 'IN_PROGRESS' ELSE status END, updated_at = now() WHERE id = ?`,
    [now, dc.minutes(ms(a.received_at)!, ms(now)), appealId]);
  await appealEvent(em, municipalityId, appealId, actor, 'FIRST_REACTION', null, new Date(now).toISOString(), comment?.trim() || null);
  if (a.status === 'NEW') await appealEvent(em, municipalityId, appealId, actor, 'STATUS', 'NEW', 'IN_PROGRESS', 'первая реакция');
}

/** A call-back rating 1–5 entered by the centre's staff: SATISFACTION event. */
export async function recordSatisfaction(em: EntityManager, municipalityId: number, actor: string, appealId: number, rating: number, comment?: string | null): Promise<void> {
  if (!Number.isInteger(rating) || rating < 1 || rating > 5) throw new InputError('rating', `оценка — целое число от 1 до 5, получено ${rating}`);
  if (comment && comment.length > 2000) throw new InputError('comment', 'комментарий длиннее 2000 символов');
  const a = await lockAppeal(em, appealId);
  if (a.answered_at == null && a.status !== 'ANSWERED' && a.status !== 'CLOSED') throw new InputError('appealId', 'оценку ставят после ответа: на обращение ещё не ответили');
  await query(em, 'UPDATE appeal SET satisfaction = ?, updated_at = now() WHERE id = ?', [rating, appealId]);
  await appealEvent(em, municipalityId, appealId, actor, 'SATISFACTION', a.satisfaction == null ? null : String(a.satisfaction), String(rating), comment?.trim() || 'обратный звонок');
}

export interface RecomputeOptions {
  /** Only these appeals (e.g. just created by another capability). */
  ids?: number[];
  from?: Date;
  to?: Date;
  /** Also mark appeals urgent whose text matches the urgency keywords (never clears a mark). */
  detectUrgency?: boolean;
  batchSize?: number;
  actor?: string;
  onProgress?: (done: number) => void;
}

/**
 * (Re)computes the rule, due times and working minutes of stored appeals, set-based: batches of appeals in id order
 * are read with their latest extension, computed in JS (the working-time engine does ~5 million additions a second)
 * and written back with one UPDATE … FROM unnest per batch, each batch its own transaction. Extended due times are kept.
 */
export async function recomputeDeadlines(em: EntityManager, municipalityId: number, opts: RecomputeOptions = {}): Promise<{ appeals: number; withRule: number; urgent: number }> {
  const dc = await loadDeadlineContext(em, municipalityId);
  const batch = Math.min(Math.max(opts.batchSize ?? 5000, 100), 20_000);
  let after = 0;
  const out = { appeals: 0, withRule: 0, urgent: 0 };
  for (;;) {
    const rows = await query<{ id: number; channel: string; theme_id: number | null; received_at: string; urgent: boolean; first_response_at: string | null;
      answered_at: string | null; ext: string | null; text: string | null }>(em,
      `SELECT a.id, a.channel, a.theme_id, a.received_at, a.urgent, a.first_response_at, a.answered_at,
              (SELECT e.to_value FROM appeal_event e WHERE e.appeal_id = a.id AND e.kind = 'EXTENSION' ORDER BY e.at DESC, e.id DESC LIMIT 1) AS ext,
              CASE WHEN ?::boolean AND NOT a.urgent THEN a.text END AS text
         FROM appeal a WHERE a.municipality_id = ? AND a.id > ?${opts.from ? ' AND a.received_at >= ?' : ''}${opts.to ? ' AND a.received_at < ?' : ''}
              ${opts.ids ? ' AND a.id = ANY(?::int[])' : ''}
        ORDER BY a.id LIMIT ?`,
      [!!opts.detectUrgency, municipalityId, after, ...(opts.from ? [opts.from] : []), ...(opts.to ? [opts.to] : []), ...(opts.ids ? [opts.ids] : []), batch]);
    if (!rows.length) break;
    after = rows[rows.length - 1].id;
    const cols = { id: [] as number[], urgent: [] as boolean[], rule: [] as (number | null)[], first: [] as (string | null)[], due: [] as (string | null)[],
      risk: [] as (string | null)[], frm: [] as (number | null)[], am: [] as (number | null)[] };
    const found: number[] = []; // newly urgent by keywords: an URGENCY event each
    for (const r of rows) {
      const received = ms(r.received_at)!;
      const urgent = r.urgent || (r.text != null && dc.urgentBy(r.text) != null);
      const { rule, due } = dc.plan(r.channel, r.theme_id, urgent, received);
      let answerDue = due?.answerDueAt ?? null;
      let risk = due?.answerAtRiskAt ?? null;
      const ext = ms(r.ext);
      if (rule && ext != null && answerDue != null && ext > answerDue) { answerDue = ext; risk = atRiskAt(dc.wt, received, ext, rule.atRiskShare); }
      cols.id.push(r.id); cols.urgent.push(urgent); cols.rule.push(rule?.id ?? null);
      cols.first.push(iso(due?.firstReactionDueAt)); cols.due.push(iso(answerDue)); cols.risk.push(iso(risk));
      cols.frm.push(dc.minutes(received, ms(r.first_response_at ?? r.answered_at))); cols.am.push(dc.minutes(received, ms(r.answered_at)));
      if (rule) out.withRule++;
      if (urgent) out.urgent++;
      if (urgent && !r.urgent) found.push(r.id);
    }
    await em.transactional(async (tem) => {
      await query(tem,
        `UPDATE appeal a SET urgent = t.urgent, deadline_rule_id = t.rule, first_reaction_due_at = t.first, answer_due_at = t.due, answer_at_risk_at = t.risk,
                first_reaction_minutes = t.frm, answer_minutes = t.am
           FROM unnest(?::int[], ?::boolean[], ?::int[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::int[], ?::int[])
             AS t(id, urgent, rule, first, due, risk, frm, am)
          WHERE a.id = t.id`,
        [cols.id, cols.urgent, cols.rule, cols.first, cols.due, cols.risk, cols.frm, cols.am]);
      if (found.length) {
        await query(tem, `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment)
                          SELECT ?, x, now(), ?, 'URGENCY', 'false', 'true', 'срочное по ключевым словам (пересчёт сроков)' FROM unnest(?::int[]) x`,
          [municipalityId, opts.actor ?? 'system:deadlines', found]);
      }
    });
    out.appeals += rows.length;
    opts.onProgress?.(out.appeals);
  }
  return out;
}
