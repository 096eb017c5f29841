import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { InputError } from '../errors.js';
import { PlanItemStatus, PlanPeriodKind, PlanStatus, type ActivityPlan, type PlanInput, type PlanItem, type PlanItemInput, type PlanItemProgressInput } from './types.js';

/**
 * Plans of the centre's activity (decree 4.1.1, 4.2.2): the coordinator drafts a plan per quarter or year with its
 * items; the curator approves it (recorded: who, when); progress and overdue items are visible; every change is audited.
 * Items may be added and reworded while the plan is a draft; after approval only their progress changes.
 */

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function isoDate(field: string, v: string | undefined | null): string {
  if (v == null || String(v).trim() === '') throw new InputError(field, 'срок исполнения обязателен (ГГГГ-ММ-ДД)');
  const m = DATE_RE.exec(String(v).trim());
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !d || d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw new InputError(field, `дата в формате ГГГГ-ММ-ДД, получено «${String(v).slice(0, 30)}»`);
  }
  return m[0];
}

const text = (field: string, v: string | undefined | null, max: number, required = true): string | null => {
  const s = (v ?? '').replace(/\u0000/g, '').trim();
  if (!s) {
    if (required) throw new InputError(field, 'обязательное поле');
    return null;
  }
  if (s.length > max) throw new InputError(field, `не длиннее ${max} символов`);
  return s;
};

interface PlanRow { id: number; title: string; period_kind: string; period_start: string; period_end: string; status: string; drafted_by: string; approved_by: string | null; approved_at: Date | null }
interface ItemRow {
  id: number; plan_id: number; position: number; title: string; responsible: string | null; block_id: number | null; block_name: string | null;
  due_date: string; indicator_id: number | null; indicator_name: string | null; problem_id: number | null; problem_title: string | null;
  status: string; progress: number; done_at: string | null; note: string | null; overdue: boolean;
}

const ITEM_SQL = `
  SELECT i.id, i.plan_id, i.position, i.title, i.responsible, i.block_id, b.name AS block_name, i.due_date::text AS due_date,
         i.indicator_id, ind.name AS indicator_name, i.problem_id, p.title AS problem_title, i.status, i.progress,
         i.done_at::text AS done_at, i.note,
         (i.status NOT IN ('DONE', 'CANCELLED') AND i.due_date < (now() AT TIME ZONE m.timezone)::date) AS overdue
    FROM plan_item i
    JOIN municipality m ON m.id = i.municipality_id
    LEFT JOIN thematic_block b ON b.id = i.block_id
    LEFT JOIN indicator ind ON ind.id = i.indicator_id
    LEFT JOIN problem p ON p.id = i.problem_id`;

export class PlanService {
  constructor(private readonly em: EntityManager, private readonly ctx: AuditActor) {}

  private get mid() {
    return this.ctx.municipalityId;
  }

  async list(): Promise<ActivityPlan[]> {
    const plans = await query<PlanRow>(this.em,
      `SELECT id, title, period_kind, period_start::text AS period_start, period_end::text AS period_end, status, drafted_by, approved_by, approved_at
         FROM activity_plan WHERE municipality_id = ? ORDER BY period_start DESC, id DESC LIMIT 200`, [this.mid]);
    const items = plans.length ? await query<ItemRow>(this.em, `${ITEM_SQL} WHERE i.plan_id = ANY(?::int[]) ORDER BY i.plan_id, i.position`, [plans.map((p) => p.id)]) : [];
    return plans.map((p) => toPlan(p, items.filter((i) => i.plan_id === p.id)));
  }

  async get(id: number): Promise<ActivityPlan> {
    const [p] = await query<PlanRow>(this.em,
      `SELECT id, title, period_kind, period_start::text AS period_start, period_end::text AS period_end, status, drafted_by, approved_by, approved_at
         FROM activity_plan WHERE id = ? AND municipality_id = ?`, [id, this.mid]);
    if (!p) throw new InputError('planId', `план ${id} не найден`);
    const items = await query<ItemRow>(this.em, `${ITEM_SQL} WHERE i.plan_id = ? ORDER BY i.position`, [id]);
    return toPlan(p, items);
  }

  async create(input: PlanInput): Promise<ActivityPlan> {
    const title = text('title', input.title, 300)!;
    if (!Number.isInteger(input.year) || input.year < 2000 || input.year > 2100) throw new InputError('year', 'год от 2000 до 2100');
    let start: string;
    let end: string;
    if (input.periodKind === PlanPeriodKind.QUARTER) {
      if (!Number.isInteger(input.quarter) || input.quarter! < 1 || input.quarter! > 4) throw new InputError('quarter', 'квартал от 1 до 4');
      const m = (input.quarter! - 1) * 3 + 1;
      start = `${input.year}-${String(m).padStart(2, '0')}-01`;
      end = new Date(Date.UTC(input.year, m + 2, 0)).toISOString().slice(0, 10);
    } else {
      if (input.quarter != null) throw new InputError('quarter', 'у плана на год нет квартала');
      start = `${input.year}-01-01`;
      end = `${input.year}-12-31`;
    }
    return this.em.transactional(async (tem) => {
      const [r] = await query<{ id: number }>(tem,
        `INSERT INTO activity_plan (municipality_id, title, period_kind, period_start, period_end, drafted_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
        [this.mid, title, input.periodKind, start, end, this.actor()]);
      await audit(tem, this.ctx, { entity: 'activity_plan', entityId: r.id, action: 'create', before: null, after: { title, periodKind: input.periodKind, start, end } });
      return new PlanService(tem, this.ctx).get(r.id);
    });
  }

  private actor() {
    return this.ctx.user?.login ?? this.ctx.actor ?? 'system';
  }

  private async planRow(tem: EntityManager, id: number): Promise<PlanRow> {
    const [p] = await query<PlanRow>(tem,
      `SELECT id, title, period_kind, period_start::text AS period_start, period_end::text AS period_end, status, drafted_by, approved_by, approved_at
         FROM activity_plan WHERE id = ? AND municipality_id = ? FOR UPDATE`, [id, this.mid]);
    if (!p) throw new InputError('planId', `план ${id} не найден`);
    return p;
  }

  private async resolveItem(tem: EntityManager, input: PlanItemInput, plan: PlanRow) {
    const title = text('item.title', input.title, 1000)!;
    const responsible = text('item.responsible', input.responsible, 300, false);
    let blockId: number | null = null;
    if (input.block) {
      const [b] = await query<{ id: number }>(tem, 'SELECT id FROM thematic_block WHERE municipality_id = ? AND code = ?', [this.mid, input.block]);
      if (!b) throw new InputError('item.block', `тематический блок «${input.block}» не найден`);
      blockId = b.id;
    }
    if (!responsible && blockId == null) throw new InputError('item.responsible', 'укажите ответственного исполнителя или тематический блок');
    const due = isoDate('item.dueDate', input.dueDate);
    if (due < plan.period_start || due > plan.period_end) {
      throw new InputError('item.dueDate', `срок ${due} вне периода плана ${plan.period_start} — ${plan.period_end}`);
    }
    let indicatorId: number | null = null;
    if (input.indicator) {
      const [i] = await query<{ id: number }>(tem, 'SELECT id FROM indicator WHERE municipality_id = ? AND code = ?', [this.mid, input.indicator]);
      if (!i) throw new InputError('item.indicator', `показатель «${input.indicator}» не найден`);
      indicatorId = i.id;
    }
    let problemId: number | null = null;
    if (input.problemId != null) {
      const id = Number(input.problemId);
      const [p] = Number.isInteger(id) ? await query<{ id: number }>(tem, 'SELECT id FROM problem WHERE municipality_id = ? AND id = ?', [this.mid, id]) : [];
      if (!p) throw new InputError('item.problemId', `проблема ${String(input.problemId).slice(0, 20)} не найдена`);
      problemId = p.id;
    }
    return { title, responsible, blockId, due, indicatorId, problemId };
  }

  async addItem(planId: number, input: PlanItemInput): Promise<ActivityPlan> {
    return this.em.transactional(async (tem) => {
      const plan = await this.planRow(tem, planId);
      if (plan.status !== PlanStatus.DRAFT) throw new InputError('planId', 'план утверждён: мероприятия добавляются только в проект плана');
      const it = await this.resolveItem(tem, input, plan);
      const [{ n }] = await query<{ n: number }>(tem, 'SELECT count(*)::int AS n FROM plan_item WHERE plan_id = ?', [planId]);
      if (n >= 500) throw new InputError('planId', 'в плане не более 500 мероприятий');
      const [r] = await query<{ id: number }>(tem,
        `INSERT INTO plan_item (municipality_id, plan_id, position, title, responsible, block_id, due_date, indicator_id, problem_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        [this.mid, planId, n + 1, it.title, it.responsible, it.blockId, it.due, it.indicatorId, it.problemId]);
      await audit(tem, this.ctx, { entity: 'plan_item', entityId: r.id, action: 'create', before: null, after: { planId, ...it } });
      return new PlanService(tem, this.ctx).get(planId);
    });
  }

  async updateItem(itemId: number, input: PlanItemInput): Promise<ActivityPlan> {
    return this.em.transactional(async (tem) => {
      const [item] = await query<{ plan_id: number }>(tem, 'SELECT plan_id FROM plan_item WHERE id = ? AND municipality_id = ?', [itemId, this.mid]);
      if (!item) throw new InputError('itemId', `мероприятие ${itemId} не найдено`);
      const plan = await this.planRow(tem, item.plan_id);
      if (plan.status !== PlanStatus.DRAFT) throw new InputError('itemId', 'план утверждён: формулировки и сроки мероприятий не меняются');
      const it = await this.resolveItem(tem, input, plan);
      const [before] = await query(tem, 'SELECT title, responsible, block_id, due_date::text, indicator_id, problem_id FROM plan_item WHERE id = ?', [itemId]);
      await query(tem, 'UPDATE plan_item SET title = ?, responsible = ?, block_id = ?, due_date = ?, indicator_id = ?, problem_id = ? WHERE id = ?',
        [it.title, it.responsible, it.blockId, it.due, it.indicatorId, it.problemId, itemId]);
      await audit(tem, this.ctx, { entity: 'plan_item', entityId: itemId, action: 'update', before, after: it });
      return new PlanService(tem, this.ctx).get(item.plan_id);
    });
  }

  async setProgress(itemId: number, input: PlanItemProgressInput): Promise<ActivityPlan> {
    if (!(Object.values(PlanItemStatus) as string[]).includes(input.status)) throw new InputError('status', 'неизвестное состояние');
    const progress = input.status === PlanItemStatus.DONE ? 100 : input.progress ?? null;
    if (progress != null && (!Number.isInteger(progress) || progress < 0 || progress > 100)) throw new InputError('progress', 'целое от 0 до 100');
    const note = text('note', input.note, 2000, false);
    return this.em.transactional(async (tem) => {
      const [item] = await query<{ plan_id: number; status: string; progress: number; note: string | null }>(tem,
        'SELECT plan_id, status, progress, note FROM plan_item WHERE id = ? AND municipality_id = ? FOR UPDATE', [itemId, this.mid]);
      if (!item) throw new InputError('itemId', `мероприятие ${itemId} не найдено`);
      const plan = await this.planRow(tem, item.plan_id);
      if (plan.status !== PlanStatus.APPROVED) throw new InputError('itemId', 'ход исполнения отмечается в утверждённом плане');
      await query(tem,
        `UPDATE plan_item SET status = ?, progress = coalesce(?, progress), note = coalesce(?, note),
                done_at = CASE WHEN ? = 'DONE' THEN coalesce(done_at, (now() AT TIME ZONE (SELECT timezone FROM municipality WHERE id = ?))::date) ELSE NULL END
          WHERE id = ?`, [input.status, progress, note, input.status, this.mid, itemId]);
      await audit(tem, this.ctx, { entity: 'plan_item', entityId: itemId, action: 'progress', before: { status: item.status, progress: item.progress, note: item.note },
        after: { status: input.status, progress: progress ?? item.progress, note: note ?? item.note } });
      return new PlanService(tem, this.ctx).get(item.plan_id);
    });
  }

  /** The curator approves a draft plan (it must have items); the approval is recorded and audited. */
  async approve(planId: number): Promise<ActivityPlan> {
    return this.em.transactional(async (tem) => {
      const plan = await this.planRow(tem, planId);
      if (plan.status !== PlanStatus.DRAFT) throw new InputError('planId', 'утверждается только проект плана');
      const [{ n }] = await query<{ n: number }>(tem, 'SELECT count(*)::int AS n FROM plan_item WHERE plan_id = ?', [planId]);
      if (n === 0) throw new InputError('planId', 'в плане нет мероприятий');
      await query(tem, `UPDATE activity_plan SET status = 'APPROVED', approved_by = ?, approved_at = now() WHERE id = ?`, [this.actor(), planId]);
      await audit(tem, this.ctx, { entity: 'activity_plan', entityId: planId, action: 'approve', before: { status: plan.status }, after: { status: 'APPROVED', approvedBy: this.actor() } });
      return new PlanService(tem, this.ctx).get(planId);
    });
  }

  async close(planId: number): Promise<ActivityPlan> {
    return this.em.transactional(async (tem) => {
      const plan = await this.planRow(tem, planId);
      if (plan.status !== PlanStatus.APPROVED) throw new InputError('planId', 'закрывается только утверждённый план');
      await query(tem, `UPDATE activity_plan SET status = 'CLOSED' WHERE id = ?`, [planId]);
      await audit(tem, this.ctx, { entity: 'activity_plan', entityId: planId, action: 'close', before: { status: plan.status }, after: { status: 'CLOSED' } });
      return new PlanService(tem, this.ctx).get(planId);
    });
  }
}

function toPlan(p: PlanRow, items: ItemRow[]): ActivityPlan {
  const live = items.filter((i) => i.status !== 'CANCELLED');
  const done = live.filter((i) => i.status === 'DONE').length;
  return {
    id: String(p.id), title: p.title, periodKind: p.period_kind as PlanPeriodKind, periodStart: p.period_start, periodEnd: p.period_end,
    status: p.status as PlanStatus, draftedBy: p.drafted_by, approvedBy: p.approved_by, approvedAt: p.approved_at ? new Date(p.approved_at) : null,
    itemCount: items.length, doneCount: done, overdueCount: items.filter((i) => i.overdue).length,
    completion: live.length ? Math.round((1000 * done) / live.length) / 10 : 0,
    items: items.map(toItem),
  };
}

function toItem(i: ItemRow): PlanItem {
  return {
    id: String(i.id), position: i.position, title: i.title, responsible: i.responsible, blockId: i.block_id == null ? null : String(i.block_id), blockName: i.block_name,
    dueDate: i.due_date, indicatorId: i.indicator_id == null ? null : String(i.indicator_id), indicatorName: i.indicator_name,
    problemId: i.problem_id == null ? null : String(i.problem_id), problemTitle: i.problem_title, status: i.status as PlanItemStatus,
    progress: i.progress, doneAt: i.done_at, note: i.note, overdue: i.overdue,
  };
}
