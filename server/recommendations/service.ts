import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { scopeSql, type RowScope } from '../auth/scope.js';
import { parseIds } from '../graphql/ids.js';
import { RULES, type RuleDef } from './rules.js';
import {
  RecommendationDecision, RecommendationStatus, type Recommendation, type RecommendationConnection, type RecommendationEvidence, type RecommendationFilter, type RecommendationRule, type RecommendationRun,
} from './types.js';

const MAX_PAGE = 500;
const MAX_TEXT = 4000;

function validDay(v: unknown): v is string {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const t = Date.parse(`${v}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === v;
}
const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

export class RecommendationService {
  private readonly municipalityId: number;
  constructor(private readonly em: EntityManager, private readonly who: AuditActor & { actor: string; scope?: RowScope }) {
    this.municipalityId = who.municipalityId;
  }

  private rule(code: string): RuleDef {
    const r = RULES.find((x) => x.code === code);
    if (!r) throw new InputError('code', `нет правила «${code.slice(0, 40)}»; есть: ${RULES.map((x) => x.code).join(', ')}`);
    return r;
  }

  async rules(): Promise<RecommendationRule[]> {
    const stored = await query<{ code: string; enabled: boolean; thresholds: Record<string, number> }>(this.em,
      'SELECT code, enabled, thresholds FROM recommendation_rule WHERE municipality_id = ?', [this.municipalityId]);
    return RULES.map((r) => {
      const s = stored.find((x) => x.code === r.code);
      return { code: r.code, label: r.label, explanation: r.explanation, enabled: s?.enabled ?? true, thresholds: { ...r.defaults, ...s?.thresholds }, defaults: r.defaults,
        specs: r.specs.map((x) => ({ key: x.key, label: x.label, min: x.min, max: x.max, integer: !!x.integer })) };
    });
  }

  async setRule(code: string, enabled: boolean | undefined, thresholds: Record<string, unknown> | undefined): Promise<RecommendationRule> {
    const r = this.rule(code);
    const current = (await this.rules()).find((x) => x.code === code)!;
    const next = { ...current.thresholds };
    for (const [k, v] of Object.entries(thresholds ?? {})) {
      const spec = r.specs.find((s) => s.key === k);
      if (!spec) throw new InputError(`thresholds.${k}`, `у правила ${code} нет порога «${k.slice(0, 40)}»; есть: ${r.specs.map((s) => s.key).join(', ')}`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < spec.min || v > spec.max || (spec.integer && !Number.isInteger(v))) {
        throw new InputError(`thresholds.${k}`, `${spec.label}: ожидается ${spec.integer ? 'целое ' : ''}число от ${spec.min} до ${spec.max}, получено ${JSON.stringify(v)?.slice(0, 40)}`);
      }
      next[k] = v;
    }
    await this.em.transactional(async (em) => {
      await query(em, `INSERT INTO recommendation_rule (municipality_id, code, enabled, thresholds, updated_by) VALUES (?, ?, ?, ?::jsonb, ?)
        ON CONFLICT (municipality_id, code) DO UPDATE SET enabled = excluded.enabled, thresholds = excluded.thresholds, updated_by = excluded.updated_by, updated_at = now()`,
        [this.municipalityId, code, enabled ?? current.enabled, JSON.stringify(next), this.who.actor]);
      await audit(em, this.who, { entity: 'recommendation_rule', entityId: code, action: 'update', before: { enabled: current.enabled, thresholds: current.thresholds }, after: { enabled: enabled ?? current.enabled, thresholds: next } });
    });
    return (await this.rules()).find((x) => x.code === code)!;
  }

  /** Runs every enabled rule over the period (default: the 90 days up to the latest appeal); decided recommendations are kept as they are. */
  async generate(from?: string, to?: string): Promise<RecommendationRun> {
    for (const [k, v] of [['from', from], ['to', to]] as const) if (v != null && !validDay(v)) throw new InputError(k, `дата ожидается в виде ГГГГ-ММ-ДД, получено «${String(v).slice(0, 40)}»`);
    const [m] = await query<{ timezone: string; last: string | null }>(this.em,
      `SELECT m.timezone, (SELECT to_char(max(a.received_at) AT TIME ZONE m.timezone, 'YYYY-MM-DD') FROM appeal a WHERE a.municipality_id = m.id) AS last FROM municipality m WHERE m.id = ?`, [this.municipalityId]);
    const notes: string[] = [];
    const periodTo = to ?? m.last ?? new Date().toISOString().slice(0, 10);
    const periodFrom = from ?? addDays(periodTo, -89);
    if (periodFrom > periodTo) throw new InputError('from', `начало периода ${periodFrom} позже конца ${periodTo}`);
    if (!m.last) notes.push('Нет ни одного обращения: рекомендаций нет.');
    let created = 0, updated = 0;
    const rules = await this.rules();
    await this.em.transactional(async (em) => {
      for (const rule of rules) {
        if (!rule.enabled) { notes.push(`Правило ${rule.code} выключено.`); continue; }
        const findings = await this.rule(rule.code).run(em, { municipalityId: this.municipalityId, tz: m.timezone, from: periodFrom, to: periodTo, t: rule.thresholds });
        if (!findings.length) notes.push(`${rule.label}: нет случаев выше порогов.`);
        for (const f of findings) {
          const [r] = await query<{ inserted: boolean }>(em,
            `INSERT INTO recommendation (municipality_id, rule_code, subject_key, period_from, period_to, organization_id, district_id, theme_id, problem_id, text, figures, thresholds, evidence_appeal_ids)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?::int[])
             ON CONFLICT (municipality_id, rule_code, subject_key, period_from, period_to) DO UPDATE
               SET text = excluded.text, figures = excluded.figures, thresholds = excluded.thresholds, evidence_appeal_ids = excluded.evidence_appeal_ids
               WHERE recommendation.status = 'PROPOSED' AND (recommendation.text, recommendation.figures) IS DISTINCT FROM (excluded.text, excluded.figures)
             RETURNING (xmax = 0) AS inserted`,
            [this.municipalityId, rule.code, f.subjectKey, periodFrom, periodTo, f.organizationId ?? null, f.districtId ?? null, f.themeId ?? null, f.problemId ?? null,
              f.text, JSON.stringify(f.figures), JSON.stringify(rule.thresholds), f.evidence]);
          if (r?.inserted) created++; else if (r) updated++;
        }
        // proposals of this rule and period that the data (or the new thresholds) no longer support are withdrawn
        const gone = await query(em, `DELETE FROM recommendation WHERE municipality_id = ? AND rule_code = ? AND period_from = ? AND period_to = ? AND status = 'PROPOSED'
            AND NOT (subject_key = ANY(?::text[])) RETURNING id`, [this.municipalityId, rule.code, periodFrom, periodTo, findings.map((f) => f.subjectKey)]);
        if (gone.length) notes.push(`${rule.label}: снято предложений, которые больше не проходят пороги: ${gone.length}.`);
      }
    });
    return { periodFrom, periodTo, created, updated, notes };
  }

  private where(f: RecommendationFilter | undefined) {
    const parts = ['r.municipality_id = ?'];
    const params: unknown[] = [this.municipalityId];
    const sc = this.who.scope;
    if (sc?.thematicBlockId != null) { parts.push('(r.theme_id IN (SELECT id FROM theme WHERE block_id = ?))'); params.push(sc.thematicBlockId); }
    if (sc?.organizationId != null) {
      parts.push(`r.organization_id IN (WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ? UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub)`);
      params.push(sc.organizationId);
    }
    if (f?.statuses?.length) { parts.push('r.status = ANY(?::text[])'); params.push(f.statuses); }
    if (f?.ruleCodes?.length) { for (const c of f.ruleCodes) this.rule(c); parts.push('r.rule_code = ANY(?::text[])'); params.push(f.ruleCodes); }
    const o = parseIds('filter.organizationIds', f?.organizationIds);
    if (o) { parts.push('r.organization_id = ANY(?::int[])'); params.push(o); }
    return { sql: parts.join(' AND '), params };
  }

  async list(f: RecommendationFilter | undefined, first: number, after?: string): Promise<RecommendationConnection> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw new InputError('first', `размер страницы — от 1 до ${MAX_PAGE}`);
    let offset = 0;
    if (after) {
      const mm = /^c:(\d{1,7})$/.exec(Buffer.from(after, 'base64url').toString());
      if (!mm) throw new InputError('after', 'неверный курсор страницы');
      offset = Number(mm[1]);
    }
    const w = this.where(f);
    const rows = await query<Row>(this.em, `SELECT ${COLS} FROM recommendation r WHERE ${w.sql} ORDER BY CASE r.status WHEN 'PROPOSED' THEN 0 ELSE 1 END, r.created_at DESC, r.id DESC LIMIT ? OFFSET ?`,
      [...w.params, first + 1, offset]);
    const [{ n }] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM recommendation r WHERE ${w.sql}`, w.params);
    const page = rows.slice(0, first).map(toRec);
    const cur = (k: number) => Buffer.from(`c:${k}`).toString('base64url');
    return { edges: page.map((node, i) => ({ node, cursor: cur(offset + i + 1) })), totalCount: n, hasNextPage: rows.length > first, endCursor: page.length ? cur(offset + page.length) : null };
  }

  /** The evidence appeals of a recommendation (within the reader's row scope). */
  async evidence(ids: string[]): Promise<RecommendationEvidence[]> {
    const nums = ids.slice(0, 50).map(Number).filter((n) => Number.isInteger(n));
    if (!nums.length) return [];
    const sc = this.who.scope ? scopeSql(this.who.scope, 'a') : { sql: 'a.municipality_id = ?', params: [this.municipalityId] };
    const rows = await query<{ id: number; received_at: Date; address: string | null; text: string; status: string; theme: string | null }>(this.em,
      `SELECT a.id, a.received_at, a.address, a.text, a.status, t.name AS theme FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id
        WHERE ${sc.sql} AND a.id = ANY(?::int[]) ORDER BY a.received_at DESC, a.id DESC`, [...sc.params, nums]);
    return rows.map((r) => ({ id: String(r.id), receivedAt: new Date(r.received_at), address: r.address, text: r.text, status: r.status, themeName: r.theme }));
  }

  async get(id: string): Promise<Recommendation | null> {
    const [n] = parseIds('id', [id])!;
    const w = this.where(undefined);
    const [r] = await query<Row>(this.em, `SELECT ${COLS} FROM recommendation r WHERE ${w.sql} AND r.id = ?`, [...w.params, n]);
    return r ? toRec(r) : null;
  }

  async decide(id: string, decision: RecommendationDecision, text?: string | null, comment?: string | null): Promise<Recommendation> {
    const cur = await this.get(id);
    if (!cur) throw new InputError('id', `рекомендация ${id} не найдена`);
    if (cur.status !== RecommendationStatus.PROPOSED) throw new InputError('decision', `рекомендация уже ${cur.status === 'ACCEPTED' ? 'принята' : 'отклонена'}`);
    const edited = text?.trim() || null;
    const note = comment?.trim() || null;
    if (edited && decision !== RecommendationDecision.ACCEPT) throw new InputError('text', 'править текст можно только при принятии');
    if (edited && edited.length > MAX_TEXT) throw new InputError('text', `текст длиннее ${MAX_TEXT} символов`);
    if (note && note.length > 2000) throw new InputError('comment', 'комментарий длиннее 2000 символов');
    if (decision === RecommendationDecision.REJECT && !note) throw new InputError('comment', 'укажите, почему рекомендация отклонена');
    const status = decision === RecommendationDecision.ACCEPT ? RecommendationStatus.ACCEPTED : RecommendationStatus.REJECTED;
    await this.em.transactional(async (em) => {
      const rows = await query(em, `UPDATE recommendation SET status = ?, edited_text = ?, comment = ?, decided_by = ?, decided_at = now() WHERE id = ? AND status = 'PROPOSED' RETURNING id`,
        [status, edited, note, this.who.actor, Number(cur.id)]);
      if (!rows.length) throw new InputError('decision', 'рекомендацию только что изменил кто-то другой: обновите список');
      await audit(em, this.who, { entity: 'recommendation', entityId: cur.id, action: decision.toLowerCase(), before: { status: cur.status, text: cur.text }, after: { status, editedText: edited, comment: note } });
    });
    return (await this.get(id))!;
  }
}

interface Row {
  id: number; rule_code: string; subject_key: string; period_from: string; period_to: string; organization_id: number | null; district_id: number | null; theme_id: number | null;
  problem_id: number | null; text: string; figures: Record<string, unknown>; thresholds: Record<string, unknown>; evidence_appeal_ids: number[]; status: RecommendationStatus;
  edited_text: string | null; decided_by: string | null; decided_at: Date | null; comment: string | null;
}
const COLS = `r.id, r.rule_code, r.subject_key, to_char(r.period_from, 'YYYY-MM-DD') AS period_from, to_char(r.period_to, 'YYYY-MM-DD') AS period_to, r.organization_id, r.district_id,
  r.theme_id, r.problem_id, r.text, r.figures, r.thresholds, r.evidence_appeal_ids, r.status, r.edited_text, r.decided_by, r.decided_at, r.comment`;
const s = (v: number | null) => (v == null ? null : String(v));
function toRec(r: Row): Recommendation {
  return {
    id: String(r.id), ruleCode: r.rule_code, ruleLabel: RULES.find((x) => x.code === r.rule_code)?.label ?? r.rule_code, subjectKey: r.subject_key, periodFrom: r.period_from,
    periodTo: r.period_to, text: r.text, editedText: r.edited_text, figures: r.figures, thresholds: r.thresholds, evidenceAppealIds: r.evidence_appeal_ids.map(String),
    organizationId: s(r.organization_id), districtId: s(r.district_id), themeId: s(r.theme_id), problemId: s(r.problem_id), status: r.status, decidedBy: r.decided_by,
    decidedAt: r.decided_at ? new Date(r.decided_at) : null, comment: r.comment,
  };
}
