import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { aboveCity, ORG_MEASURES, orgShares } from '../db/org-shares.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { InputError } from '../errors.js';
import { IndicatorService } from '../indicators/service.js';

/**
 * Seminars for the specialists of the bodies and organisations (decree 2.2.11) and the library of best practices
 * (2.2.10). The hub suggests whom to invite from the figures: organisations whose share of formal answers, of late
 * answers or of open data errors is far above the city's.
 */

export type InviteBasis = 'FORMAL_ANSWERS' | 'LATE_ANSWERS' | 'DATA_ERRORS';
const BASES: InviteBasis[] = ['FORMAL_ANSWERS', 'LATE_ANSWERS', 'DATA_ERRORS'];
/** An organisation is suggested when its share is at least this many times the city's and it has enough cases. */
const SUGGEST_FACTOR = 1.5;
const SUGGEST_MIN_CASES = 10;

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
function isoDate(field: string, v: string | null | undefined): string {
  const s = String(v ?? '').trim();
  const d = DATE_RE.test(s) ? new Date(`${s}T00:00:00Z`) : null;
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) throw new InputError(field, `дата в формате ГГГГ-ММ-ДД, получено «${s.slice(0, 30)}»`);
  return s;
}
function text(field: string, v: string | null | undefined, max: number, required = true): string | null {
  const s = String(v ?? '').replace(/\u0000/g, '').trim();
  if (!s) {
    if (required) throw new InputError(field, 'обязательное поле');
    return null;
  }
  if (s.length > max) throw new InputError(field, `не длиннее ${max} символов`);
  return s;
}

export interface SeminarInput { topic: string; heldOn: string; organiser: string; place?: string | null; materials?: string[] | null }
export interface InviteeInput { organizationId: string; person?: string | null; reason?: string | null }
export interface PracticeInput { title: string; description: string; source: string; organizationId?: string | null; indicator?: string | null; beforeMonth?: string | null; afterMonth?: string | null }

export class SeminarService {
  constructor(private readonly em: EntityManager, private readonly ctx: AuditActor) {}

  private get mid() {
    return this.ctx.municipalityId;
  }

  private actor() {
    return this.ctx.user?.login ?? this.ctx.actor ?? 'system';
  }

  private materials(list: string[] | null | undefined): string[] {
    const out = (list ?? []).map((m, i) => text(`materials[${i}]`, m, 1000)!);
    if (out.length > 50) throw new InputError('materials', 'не более 50 материалов');
    return out;
  }

  async list() {
    const seminars = await query<Record<string, any>>(this.em, `
      SELECT s.id::text, s.topic, s.held_on::text AS "heldOn", s.organiser, s.place, s.status, s.materials, s.created_by AS "createdBy"
        FROM seminar s WHERE s.municipality_id = ? ORDER BY s.held_on DESC, s.id DESC LIMIT 200`, [this.mid]);
    const invitees = seminars.length ? await query<Record<string, any>>(this.em, `
      SELECT i.id::text, i.seminar_id::text AS "seminarId", i.organization_id::text AS "organizationId", o.name AS "organizationName", nullif(i.person, '') AS person, i.reason, i.attended
        FROM seminar_invitee i JOIN organization o ON o.id = i.organization_id WHERE i.seminar_id = ANY(?::int[]) ORDER BY o.name, i.id`,
    [seminars.map((s) => Number(s.id))]) : [];
    return seminars.map((s) => {
      const inv = invitees.filter((i) => i.seminarId === s.id);
      return { ...s, invitees: inv, invitedCount: inv.length, attendedCount: inv.filter((i) => i.attended).length };
    });
  }

  private async get(id: number) {
    const s = (await this.list()).find((x) => (x as { id?: string }).id === String(id));
    if (!s) throw new InputError('seminarId', `семинар ${id} не найден`);
    return s;
  }

  async create(input: SeminarInput) {
    const topic = text('topic', input.topic, 500)!;
    const heldOn = isoDate('heldOn', input.heldOn);
    if (!['CENTRE', 'CENTRE_WITH_CUR'].includes(input.organiser)) throw new InputError('organiser', 'CENTRE (МЦУ) или CENTRE_WITH_CUR (МЦУ совместно с ЦУР)');
    const place = text('place', input.place, 300, false);
    const materials = this.materials(input.materials);
    return this.em.transactional(async (tem) => {
      const [r] = await query<{ id: number }>(tem, `INSERT INTO seminar (municipality_id, topic, held_on, organiser, place, materials, created_by) VALUES (?, ?, ?, ?, ?, ?::jsonb, ?) RETURNING id`,
        [this.mid, topic, heldOn, input.organiser, place, JSON.stringify(materials), this.actor()]);
      await audit(tem, this.ctx, { entity: 'seminar', entityId: r.id, action: 'create', before: null, after: { topic, heldOn, organiser: input.organiser, place, materials } });
      return new SeminarService(tem, this.ctx).get(r.id);
    });
  }

  async invite(seminarId: number, invitees: InviteeInput[]) {
    if (!invitees.length || invitees.length > 200) throw new InputError('invitees', 'от 1 до 200 приглашённых за раз');
    return this.em.transactional(async (tem) => {
      const [s] = await query<{ status: string }>(tem, 'SELECT status FROM seminar WHERE id = ? AND municipality_id = ? FOR UPDATE', [seminarId, this.mid]);
      if (!s) throw new InputError('seminarId', `семинар ${seminarId} не найден`);
      if (s.status !== 'PLANNED') throw new InputError('seminarId', 'приглашать можно только на запланированный семинар');
      const rows = [];
      for (const [i, inv] of invitees.entries()) {
        const org = Number(inv.organizationId);
        const [o] = Number.isInteger(org) ? await query<{ id: number }>(tem, 'SELECT id FROM organization WHERE id = ? AND municipality_id = ?', [org, this.mid]) : [];
        if (!o) throw new InputError(`invitees[${i}].organizationId`, `организация ${String(inv.organizationId).slice(0, 20)} не найдена`);
        rows.push({ org, person: text(`invitees[${i}].person`, inv.person, 200, false), reason: text(`invitees[${i}].reason`, inv.reason, 500, false) });
      }
      await query(tem, `INSERT INTO seminar_invitee (seminar_id, municipality_id, organization_id, person, reason)
        SELECT ?, ?, u.org, coalesce(u.person, ''), u.reason FROM unnest(?::int[], ?::text[], ?::text[]) AS u(org, person, reason)
        ON CONFLICT (seminar_id, organization_id, person, municipality_id) DO UPDATE SET reason = excluded.reason`,
      [seminarId, this.mid, rows.map((r) => r.org), rows.map((r) => r.person), rows.map((r) => r.reason)]);
      await audit(tem, this.ctx, { entity: 'seminar', entityId: seminarId, action: 'invite', before: null, after: rows });
      return new SeminarService(tem, this.ctx).get(seminarId);
    });
  }

  /** Records the seminar as held with who attended (invitee ids), or cancelled. */
  async complete(seminarId: number, status: 'HELD' | 'CANCELLED', attendedIds: string[], materials?: string[] | null) {
    if (status !== 'HELD' && status !== 'CANCELLED') throw new InputError('status', 'HELD или CANCELLED');
    const more = this.materials(materials);
    return this.em.transactional(async (tem) => {
      const [s] = await query<{ status: string }>(tem, 'SELECT status FROM seminar WHERE id = ? AND municipality_id = ? FOR UPDATE', [seminarId, this.mid]);
      if (!s) throw new InputError('seminarId', `семинар ${seminarId} не найден`);
      if (s.status !== 'PLANNED') throw new InputError('seminarId', 'семинар уже отмечен проведённым или отменённым');
      const ids = attendedIds.map(Number);
      const known = await query<{ id: number }>(tem, 'SELECT id FROM seminar_invitee WHERE seminar_id = ? AND id = ANY(?::int[])', [seminarId, ids.filter(Number.isInteger)]);
      const unknown = ids.filter((i) => !known.some((k) => k.id === i));
      if (unknown.length) throw new InputError('attended', `не приглашены на этот семинар: ${unknown.slice(0, 10).join(', ')}`);
      if (status === 'CANCELLED' && ids.length) throw new InputError('attended', 'у отменённого семинара нет присутствовавших');
      await query(tem, `UPDATE seminar SET status = ?, materials = materials || ?::jsonb WHERE id = ?`, [status, JSON.stringify(more), seminarId]);
      if (status === 'HELD') await query(tem, 'UPDATE seminar_invitee SET attended = (id = ANY(?::int[])) WHERE seminar_id = ?', [ids, seminarId]);
      await audit(tem, this.ctx, { entity: 'seminar', entityId: seminarId, action: status === 'HELD' ? 'held' : 'cancel', before: { status: s.status }, after: { status, attended: ids, materials: more } });
      return new SeminarService(tem, this.ctx).get(seminarId);
    });
  }

  /**
   * Organisations to invite, from the figures of [from, to): formal answers (answer_quality), late answers
   * (answered after answer_due_at) or open data errors (dq_finding). An organisation is suggested when it has at least
   * SUGGEST_MIN_CASES cases and its share is at least SUGGEST_FACTOR times the city's; data errors: every
   * organisation with open errors, most first.
   */
  async suggest(basis: InviteBasis, from: string, to: string) {
    if (!BASES.includes(basis)) throw new InputError('basis', BASES.join(', '));
    const f = isoDate('from', from);
    const t = isoDate('to', to);
    if (t <= f) throw new InputError('to', 'конец периода позже начала');
    if (basis === 'DATA_ERRORS') {
      const rows = await query<{ id: number; name: string; n: number }>(this.em, `
        SELECT o.id, o.name, count(*)::int AS n FROM dq_finding d JOIN organization o ON o.id = d.organization_id
         WHERE d.municipality_id = ? AND d.resolved_at IS NULL GROUP BY o.id, o.name ORDER BY n DESC, o.name LIMIT 50`, [this.mid]);
      return rows.map((r) => ({ organizationId: String(r.id), organizationName: r.name, figure: r.n, cityFigure: null,
        reason: `неустранённых ошибок в данных: ${r.n}` }));
    }
    const shares = await orgShares(this.em, basis === 'FORMAL_ANSWERS' ? ORG_MEASURES.FORMAL : ORG_MEASURES.ANSWERED_LATE,
      { sql: 'a.municipality_id = ? AND a.received_at >= ?::date AND a.received_at < ?::date', params: [this.mid, f, t] });
    if (shares.city.den < SUGGEST_MIN_CASES) return [];
    const city = shares.city.share!;
    const cityPct = Math.round(1000 * city) / 10;
    const what = basis === 'FORMAL_ANSWERS' ? 'формальных ответов' : 'ответов с нарушением срока';
    return aboveCity(shares, { ratio: SUGGEST_FACTOR, minCases: SUGGEST_MIN_CASES, minShare: 0.0001 })
      .sort((a, b) => b.share - a.share)
      .map((r) => {
        const figure = Math.round((1000 * r.num) / r.den) / 10;
        return { organizationId: String(r.organizationId), organizationName: r.name, figure, cityFigure: cityPct,
          reason: `доля ${what} ${figure.toLocaleString('ru-RU')} % (${r.num} из ${r.den}) при ${cityPct.toLocaleString('ru-RU')} % по городу` };
      });
  }

  async practices() {
    const rows = await query<Record<string, any>>(this.em, `
      SELECT p.id::text, p.title, p.description, p.source, p.organization_id::text AS "organizationId", o.name AS "organizationName",
             p.indicator_id AS indicator_id, i.name AS "indicatorName", i.unit AS "indicatorUnit",
             to_char(p.before_month, 'YYYY-MM') AS "beforeMonth", to_char(p.after_month, 'YYYY-MM') AS "afterMonth", p.created_by AS "createdBy"
        FROM best_practice p LEFT JOIN organization o ON o.id = p.organization_id LEFT JOIN indicator i ON i.id = p.indicator_id
       WHERE p.municipality_id = ? ORDER BY p.id DESC LIMIT 500`, [this.mid]);
    // The linked indicator's value before and after, read from the indicators (computed or imported), never typed in.
    const ind = new IndicatorService(this.em, this.ctx);
    for (const r of rows) {
      r.beforeValue = null;
      r.afterValue = null;
      if (r.indicator_id == null) continue;
      const d = await ind.dashboard(r.beforeMonth, r.afterMonth);
      const card = d.groups.flatMap((g) => g.cards).find((c) => Number(c.indicator.id) === r.indicator_id);
      r.beforeValue = card?.series.find((s) => s.month === r.beforeMonth)?.value ?? null;
      r.afterValue = card?.series.find((s) => s.month === r.afterMonth)?.value ?? null;
    }
    return rows;
  }

  async addPractice(input: PracticeInput) {
    const title = text('title', input.title, 300)!;
    const description = text('description', input.description, 20000)!;
    const source = text('source', input.source, 1000)!;
    return this.em.transactional(async (tem) => {
      let orgId: number | null = null;
      if (input.organizationId) {
        const [o] = await query<{ id: number }>(tem, 'SELECT id FROM organization WHERE id = ? AND municipality_id = ?', [Number(input.organizationId) || 0, this.mid]);
        if (!o) throw new InputError('organizationId', `организация ${String(input.organizationId).slice(0, 20)} не найдена`);
        orgId = o.id;
      }
      let indicatorId: number | null = null;
      let before: string | null = null;
      let after: string | null = null;
      if (input.indicator) {
        const [i] = await query<{ id: number }>(tem, 'SELECT id FROM indicator WHERE municipality_id = ? AND code = ?', [this.mid, input.indicator]);
        if (!i) throw new InputError('indicator', `показатель «${input.indicator.slice(0, 64)}» не найден`);
        indicatorId = i.id;
        const m = (field: string, v: string | null | undefined) => {
          if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(String(v ?? ''))) throw new InputError(field, 'месяц в формате ГГГГ-ММ');
          return `${v}-01`;
        };
        before = m('beforeMonth', input.beforeMonth);
        after = m('afterMonth', input.afterMonth);
        if (after <= before) throw new InputError('afterMonth', 'месяц «после» позже месяца «до»');
      } else if (input.beforeMonth || input.afterMonth) {
        throw new InputError('indicator', 'месяцы «до» и «после» задаются вместе с показателем');
      }
      const [r] = await query<{ id: number }>(tem, `INSERT INTO best_practice (municipality_id, title, description, source, organization_id, indicator_id, before_month, after_month, created_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, [this.mid, title, description, source, orgId, indicatorId, before, after, this.actor()]);
      await audit(tem, this.ctx, { entity: 'best_practice', entityId: r.id, action: 'create', before: null, after: { title, source, orgId, indicatorId, before, after } });
      return (await new SeminarService(tem, this.ctx).practices()).find((p) => p.id === String(r.id))!;
    });
  }
}
