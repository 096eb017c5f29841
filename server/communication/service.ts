import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { InputError } from '../errors.js';
import type { RowScope } from '../auth/scope.js';
import { ALL_KINDS, analyseAnswer, contradicts, lexicon, stanceOf, wordingHits, wrongPerson, type CommHit, type CommKind, type Stance } from './detector.js';

/**
 * Communication errors over the stored answers (decree 2.1.3). A check reads the answers of the period in batches
 * (keyset by id, BATCH at a time, so memory stays flat on any size), applies the lexicon to each, and finds
 * contradictions between bodies within groups of answers to one problem (an appeal and its duplicates; the appeals
 * of one problem of the list) answered by different organisations. The findings replace those of the previous
 * check in one transaction.
 */

const BATCH = 5000;
const MAX_PAGE = 200;
/** At most this many findings per check (a lexicon that matched everything must not fill the database). */
const MAX_FINDINGS = 200_000;

export interface CommRunResult { runId: number; periodFrom: string; periodTo: string; answers: number; replies: number; findings: number; byKind: Record<string, number> }
export interface CommSummaryRow { organizationId: string | null; organizationName: string | null; answers: number; withErrors: number; share: number | null; byKind: Record<string, number> }
export interface CommFindingRow {
  id: string; kind: CommKind; kindLabel: string; source: string; appealId: string | null; appealExternalId: string | null; commentId: string | null;
  organizationId: string | null; organizationName: string | null; otherAppealId: string | null; otherOrganizationName: string | null;
  rule: string; explanation: string; excerpt: string; answeredAt: Date | null;
}

function validDay(v: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const t = Date.parse(`${v}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === v;
}
const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const toDate = (v: unknown) => (v == null ? null : v instanceof Date ? v : new Date(String(v).replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')));

interface Found { kind: CommKind; source: 'APPEAL' | 'PAGE_REPLY'; appealId: number | null; commentId: number | null; org: number | null; otherAppeal: number | null; otherOrg: number | null; hit: CommHit; answeredAt: string | null }

export class CommunicationService {
  constructor(private readonly em: EntityManager, private readonly ctx: AuditActor & { scope?: RowScope; actor?: string }) {}

  private get mid() {
    return this.ctx.municipalityId;
  }

  /** The lexicon's kinds with their labels and how many patterns each has. */
  kinds() {
    const lx = lexicon();
    return ALL_KINDS.map((k) => ({ code: k, label: lx.kinds[k].label, description: lx.kinds[k].description, patterns: lx.patterns.filter((p) => p.kind === k).length }));
  }

  /** Checks one text as the detector would (for the «try an answer» box): no database. */
  analyse(text: string, address?: string | null, author?: string | null) {
    if (text.length > 20_000) throw new InputError('text', 'текст длиннее 20 000 символов');
    const lx = lexicon();
    const st = stanceOf(text);
    return { hits: analyseAnswer(text, { address, author }).map((h) => ({ ...h, kindLabel: lx.kinds[h.kind].label })), stance: st?.stance ?? null, stanceLabel: st ? lx.stance.labels[st.stance] : null };
  }

  /** Runs the check over the answers received in [from, to] (default: the 365 days up to the latest appeal). */
  async check(from?: string | null, to?: string | null): Promise<CommRunResult> {
    for (const [k, v] of [['from', from], ['to', to]] as const) if (v != null && !validDay(v)) throw new InputError(k, `дата ожидается в виде ГГГГ-ММ-ДД, получено «${String(v).slice(0, 40)}»`);
    const [m] = await query<{ timezone: string; last: string | null }>(this.em,
      `SELECT m.timezone, (SELECT to_char(max(a.received_at) AT TIME ZONE m.timezone, 'YYYY-MM-DD') FROM appeal a WHERE a.municipality_id = m.id) AS last FROM municipality m WHERE m.id = ?`, [this.mid]);
    const periodTo = to ?? m.last ?? new Date().toISOString().slice(0, 10);
    const periodFrom = from ?? addDays(periodTo, -364);
    if (periodFrom > periodTo) throw new InputError('from', `начало периода ${periodFrom} позже конца ${periodTo}`);
    const started = new Date();
    const inPeriod = `a.municipality_id = ? AND a.received_at >= (?::date::timestamp AT TIME ZONE ?) AND a.received_at < (?::date::timestamp AT TIME ZONE ?) + interval '1 day'`;
    const pp = [this.mid, periodFrom, m.timezone, periodTo, m.timezone];
    const answered = `a.answer_text IS NOT NULL AND btrim(a.answer_text) <> ''`;

    // Groups of answers to one problem by different organisations: an appeal with its duplicates, and a problem's appeals.
    const groups = await query<{ ids: number[]; orgs: number[] }>(this.em, `
      WITH g AS (
        SELECT 'd' || coalesce(a.duplicate_of_id, a.id) AS gk, a.id, a.organization_id FROM appeal a WHERE ${inPeriod} AND ${answered} AND a.organization_id IS NOT NULL
        UNION ALL
        SELECT 'p' || pa.problem_id, a.id, a.organization_id FROM problem_appeal pa JOIN appeal a ON a.id = pa.appeal_id WHERE ${inPeriod} AND ${answered} AND a.organization_id IS NOT NULL)
      SELECT array_agg(id ORDER BY id) AS ids, array_agg(organization_id ORDER BY id) AS orgs FROM g GROUP BY gk HAVING count(DISTINCT organization_id) >= 2 LIMIT 50000`, [...pp, ...pp]);
    const inGroup = new Set(groups.flatMap((g) => g.ids));
    const stances = new Map<number, { stance: Stance; excerpt: string; answeredAt: string | null }>();

    const found: Found[] = [];
    let answers = 0, replies = 0, last = 0;
    for (;;) {
      const rows = await query<{ id: number; organization_id: number | null; answer_text: string; address: string | null; full_name: string | null; answered_at: string | null }>(this.em,
        `SELECT a.id, a.organization_id, left(a.answer_text, 20000) AS answer_text, a.address, au.full_name, a.answered_at::text AS answered_at
           FROM appeal a LEFT JOIN appeal_author au ON au.id = a.author_id
          WHERE ${inPeriod} AND ${answered} AND a.id > ? ORDER BY a.id LIMIT ${BATCH}`, [...pp, last]);
      if (!rows.length) break;
      for (const r of rows) {
        answers++;
        for (const hit of analyseAnswer(r.answer_text, { address: r.address, author: r.full_name })) {
          found.push({ kind: hit.kind, source: 'APPEAL', appealId: r.id, commentId: null, org: r.organization_id, otherAppeal: null, otherOrg: null, hit, answeredAt: r.answered_at });
        }
        if (inGroup.has(r.id)) {
          const st = stanceOf(r.answer_text);
          if (st) stances.set(r.id, { ...st, answeredAt: r.answered_at });
        }
      }
      last = rows[rows.length - 1].id;
      if (found.length > MAX_FINDINGS) throw new InputError('from', `найдено больше ${MAX_FINDINGS} ошибок: сократите период или проверьте словарь`);
    }

    // Contradictions: within a group, the first contradicting pair of each pair of organisations, on both sides.
    const lx = lexicon();
    const pairSeen = new Set<string>();
    for (const g of groups) {
      for (let i = 0; i < g.ids.length; i++) for (let j = i + 1; j < g.ids.length; j++) {
        const a = stances.get(g.ids[i]), b = stances.get(g.ids[j]);
        if (g.orgs[i] === g.orgs[j] || !a || !b || !contradicts(a.stance, b.stance)) continue;
        const key = `${Math.min(g.ids[i], g.ids[j])}|${Math.max(g.ids[i], g.ids[j])}`;
        if (pairSeen.has(key)) continue;
        pairSeen.add(key);
        for (const [x, y, sx, sy] of [[i, j, a, b], [j, i, b, a]] as const) {
          found.push({ kind: 'CONTRADICTION', source: 'APPEAL', appealId: g.ids[x], commentId: null, org: g.orgs[x], otherAppeal: g.ids[y], otherOrg: g.orgs[y], answeredAt: sx.answeredAt,
            hit: { kind: 'CONTRADICTION', rule: `stance.${sx.stance}-${sy.stance}`, explanation: `этот ответ: «${lx.stance.labels[sx.stance]}», а ответ другой организации по той же проблеме: «${lx.stance.labels[sy.stance]}» — «${sy.excerpt}»`, excerpt: sx.excerpt } });
        }
      }
    }

    // Official-page replies: wording, and the salutation against the commenter's name.
    last = 0;
    for (;;) {
      const rows = await query<{ id: number; organization_id: number; reply_text: string; author_name: string | null; replied_at: string | null }>(this.em,
        `SELECT c.id, p.organization_id, c.reply_text, c.author_name, c.replied_at::text AS replied_at FROM official_page_comment c JOIN official_page p ON p.id = c.page_id
          WHERE c.municipality_id = ? AND c.reply_text IS NOT NULL AND btrim(c.reply_text) <> ''
            AND c.posted_at >= (?::date::timestamp AT TIME ZONE ?) AND c.posted_at < (?::date::timestamp AT TIME ZONE ?) + interval '1 day' AND c.id > ?
          ORDER BY c.id LIMIT ${BATCH}`, [...pp, last]);
      if (!rows.length) break;
      for (const r of rows) {
        replies++;
        const hits = wordingHits(r.reply_text);
        const person = wrongPerson(r.reply_text, r.author_name);
        if (person) hits.push(person);
        for (const hit of hits) found.push({ kind: hit.kind, source: 'PAGE_REPLY', appealId: null, commentId: r.id, org: r.organization_id, otherAppeal: null, otherOrg: null, hit, answeredAt: r.replied_at });
      }
      last = rows[rows.length - 1].id;
    }

    const byKind: Record<string, number> = Object.fromEntries(ALL_KINDS.map((k) => [k, 0]));
    for (const f of found) byKind[f.kind]++;
    const runId = await this.em.transactional(async (tem) => {
      const [run] = await query<{ id: number }>(tem,
        `INSERT INTO comm_run (municipality_id, actor, period_from, period_to, lexicon_version, answers, replies, findings, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        [this.mid, this.ctx.actor ?? 'system', periodFrom, periodTo, lx.version, answers, replies, found.length, started]);
      await query(tem, 'DELETE FROM comm_finding WHERE municipality_id = ?', [this.mid]);
      for (let i = 0; i < found.length; i += BATCH) {
        const part = found.slice(i, i + BATCH);
        await query(tem, `INSERT INTO comm_finding (municipality_id, run_id, kind, source, appeal_id, comment_id, organization_id, other_appeal_id, other_organization_id, rule, explanation, excerpt, answered_at)
          SELECT ?, ?, u.kind, u.source, u.appeal, u.comment, u.org, u.other_appeal, u.other_org, u.rule, u.explanation, u.excerpt, u.answered_at
            FROM unnest(?::text[], ?::text[], ?::int[], ?::int[], ?::int[], ?::int[], ?::int[], ?::text[], ?::text[], ?::text[], ?::timestamptz[])
              AS u(kind, source, appeal, comment, org, other_appeal, other_org, rule, explanation, excerpt, answered_at)`,
        [this.mid, run.id, part.map((f) => f.kind), part.map((f) => f.source), part.map((f) => f.appealId), part.map((f) => f.commentId), part.map((f) => f.org),
          part.map((f) => f.otherAppeal), part.map((f) => f.otherOrg), part.map((f) => f.hit.rule), part.map((f) => f.hit.explanation.slice(0, 2000)),
          part.map((f) => f.hit.excerpt.slice(0, 1000)), part.map((f) => f.answeredAt)]);
      }
      await audit(tem, this.ctx, { entity: 'comm_run', entityId: run.id, action: 'check', after: { periodFrom, periodTo, answers, replies, findings: found.length, byKind } });
      return run.id;
    });
    return { runId, periodFrom, periodTo, answers, replies, findings: found.length, byKind };
  }

  /** The last check: its period and counts (null when there was none). */
  async lastRun() {
    const [r] = await query<{ id: number; actor: string; period_from: string; period_to: string; answers: number; replies: number; findings: number; finished_at: unknown; lexicon_version: number }>(this.em,
      `SELECT id, actor, to_char(period_from, 'YYYY-MM-DD') AS period_from, to_char(period_to, 'YYYY-MM-DD') AS period_to, answers, replies, findings, finished_at, lexicon_version
         FROM comm_run WHERE municipality_id = ? ORDER BY id DESC LIMIT 1`, [this.mid]);
    return r ? { id: String(r.id), actor: r.actor, periodFrom: r.period_from, periodTo: r.period_to, answers: r.answers, replies: r.replies, findings: r.findings, finishedAt: toDate(r.finished_at)!, lexiconVersion: r.lexicon_version } : null;
  }

  /** Row scope over comm_finding f: an organisation officer sees their organisation and its subordinates, a block lead the appeals of the block's themes. */
  private scopeWhere() {
    const parts = ['f.municipality_id = ?'];
    const params: unknown[] = [this.mid];
    const sc = this.ctx.scope;
    if (sc?.organizationId != null) {
      parts.push(`f.organization_id IN (WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ? UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub)`);
      params.push(sc.organizationId);
    }
    if (sc?.thematicBlockId != null) {
      parts.push('f.appeal_id IN (SELECT a.id FROM appeal a JOIN theme t ON t.id = a.theme_id WHERE a.municipality_id = f.municipality_id AND t.block_id = ?)');
      params.push(sc.thematicBlockId);
    }
    return { sql: parts.join(' AND '), params };
  }

  /** Per organisation: answers checked in the last run's period, answers with errors, counts by kind. */
  async summary(): Promise<CommSummaryRow[]> {
    const run = await this.lastRun();
    if (!run) return [];
    const [m] = await query<{ timezone: string }>(this.em, 'SELECT timezone FROM municipality WHERE id = ?', [this.mid]);
    const w = this.scopeWhere();
    const rows = await query<{ organization_id: number | null; name: string | null; kinds: Record<string, number>; with_errors: number; answers: number }>(this.em, `
      WITH f AS (SELECT f.* FROM comm_finding f WHERE ${w.sql}),
           k AS (SELECT organization_id, kind, count(*)::int AS n FROM f GROUP BY 1, 2),
           e AS (SELECT organization_id, count(DISTINCT appeal_id)::int AS n FROM f GROUP BY 1),
           n AS (SELECT a.organization_id, count(*)::int AS n FROM appeal a
                  WHERE a.municipality_id = ? AND a.answer_text IS NOT NULL AND btrim(a.answer_text) <> ''
                    AND a.received_at >= (?::date::timestamp AT TIME ZONE ?) AND a.received_at < (?::date::timestamp AT TIME ZONE ?) + interval '1 day'
                    AND a.organization_id IN (SELECT organization_id FROM e) GROUP BY 1)
      SELECT e.organization_id, coalesce(o.short_name, o.name) AS name, (SELECT jsonb_object_agg(kind, n) FROM k WHERE k.organization_id IS NOT DISTINCT FROM e.organization_id) AS kinds,
             e.n AS with_errors, coalesce(n.n, 0) AS answers
        FROM e LEFT JOIN organization o ON o.id = e.organization_id LEFT JOIN n ON n.organization_id = e.organization_id
       ORDER BY e.n DESC, name`, [...w.params, this.mid, run.periodFrom, m.timezone, run.periodTo, m.timezone]);
    return rows.map((r) => ({
      organizationId: r.organization_id == null ? null : String(r.organization_id), organizationName: r.name, answers: r.answers, withErrors: r.with_errors,
      share: r.answers ? Math.round((r.with_errors / r.answers) * 10000) / 10000 : null, byKind: { ...Object.fromEntries(ALL_KINDS.map((k) => [k, 0])), ...r.kinds },
    }));
  }

  /** Findings of the last check, newest answers first, optionally of one organisation and kind. */
  async findings(organizationId: number | null, kind: CommKind | null, first: number, offset: number): Promise<{ total: number; items: CommFindingRow[] }> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw new InputError('first', `размер страницы — от 1 до ${MAX_PAGE}`);
    if (!Number.isInteger(offset) || offset < 0 || offset > 1_000_000) throw new InputError('offset', 'смещение — от 0 до 1 000 000');
    if (kind != null && !ALL_KINDS.includes(kind)) throw new InputError('kind', `неизвестный вид ошибки «${String(kind).slice(0, 40)}»`);
    const w = this.scopeWhere();
    const parts = [w.sql];
    const params = [...w.params];
    if (organizationId != null) { parts.push('f.organization_id = ?'); params.push(organizationId); }
    if (kind) { parts.push('f.kind = ?'); params.push(kind); }
    const where = parts.join(' AND ');
    const [{ n }] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM comm_finding f WHERE ${where}`, params);
    const rows = await query<{ id: number; kind: CommKind; source: string; appeal_id: number | null; external_id: string | null; comment_id: number | null; organization_id: number | null; org: string | null;
      other_appeal_id: number | null; other_org: string | null; rule: string; explanation: string; excerpt: string; answered_at: unknown }>(this.em,
      `SELECT f.id, f.kind, f.source, f.appeal_id, a.external_id, f.comment_id, f.organization_id, coalesce(o.short_name, o.name) AS org, f.other_appeal_id,
              coalesce(o2.short_name, o2.name) AS other_org, f.rule, f.explanation, f.excerpt, f.answered_at
         FROM comm_finding f LEFT JOIN appeal a ON a.id = f.appeal_id LEFT JOIN organization o ON o.id = f.organization_id LEFT JOIN organization o2 ON o2.id = f.other_organization_id
        WHERE ${where} ORDER BY f.answered_at DESC NULLS LAST, f.id DESC LIMIT ? OFFSET ?`, [...params, first, offset]);
    const lx = lexicon();
    const s = (v: number | null) => (v == null ? null : String(v));
    return {
      total: n,
      items: rows.map((r) => ({
        id: String(r.id), kind: r.kind, kindLabel: lx.kinds[r.kind]?.label ?? r.kind, source: r.source, appealId: s(r.appeal_id), appealExternalId: r.external_id, commentId: s(r.comment_id),
        organizationId: s(r.organization_id), organizationName: r.org, otherAppealId: s(r.other_appeal_id), otherOrganizationName: r.other_org, rule: r.rule,
        explanation: r.explanation, excerpt: r.excerpt, answeredAt: toDate(r.answered_at),
      })),
    };
  }
}
