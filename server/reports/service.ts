import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { holdJob, nextId, sweepDeadJobs } from '../db/jobs.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { ForbiddenError } from '../auth/checker.js';
import { Role } from '../auth/roles.js';
import { collect, daysBetween, scopeName, SCOPE_KINDS, type ScopeKind, type ReportParams } from './data.js';
import { buildDocument } from './content.js';
import { renderPdf } from './pdf.js';
import { renderDocx } from './docx.js';
import { localDateTimeText } from '../util/timezone.js';
import { fontsAvailable } from './charts.js';

/** The longest period of one report (a leap year). */
export const MAX_DAYS = 366;
const MAX_PAGE = 200;

export interface ReportRow {
  id: number; scope_kind: ScopeKind; scope_id: number | null; scope_name: string; period_from: string; period_to: string; requested_by: string;
  schedule_id: number | null; created_at: Date; status: 'RUNNING' | 'DONE' | 'FAILED'; error: string | null; generated_at: Date | null; generations: number;
  ms: number | null; pages: number | null; docx_bytes: number | null; pdf_bytes: number | null; summary: Record<string, unknown>;
}

const COLUMNS = `id, scope_kind, scope_id, scope_name, to_char(period_from, 'YYYY-MM-DD') AS period_from, to_char(period_to, 'YYYY-MM-DD') AS period_to,
  requested_by, schedule_id, created_at, status, error, generated_at, generations, ms, pages, octet_length(docx) AS docx_bytes, octet_length(pdf) AS pdf_bytes, summary`;

export interface ReportActor extends AuditActor { actor: string }

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
export function checkDate(field: string, v: unknown): string {
  if (typeof v !== 'string' || !DATE_RE.test(v)) throw new InputError(field, `ожидается дата ГГГГ-ММ-ДД, получено «${String(v ?? '').slice(0, 30)}»`);
  const [y, m, d] = v.split('-').map(Number);
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) throw new InputError(field, `такой даты нет: «${v}»`);
  if (y < 2000 || y > 2100) throw new InputError(field, `год от 2000 до 2100, получено ${y}`);
  return v;
}

export function checkPeriod(from: unknown, to: unknown): { from: string; to: string } {
  const f = checkDate('period.from', from);
  const t = checkDate('period.to', to);
  if (t < f) throw new InputError('period.to', `конец периода (${t}) раньше начала (${f}): период пуст`);
  const days = daysBetween(f, t);
  if (days > MAX_DAYS) throw new InputError('period.to', `период не длиннее ${MAX_DAYS} дней, получено ${days}`);
  return { from: f, to: t };
}

export function checkScopeKind(v: unknown): ScopeKind {
  if (!SCOPE_KINDS.includes(v as ScopeKind)) throw new InputError('scope.kind', `одно из ${SCOPE_KINDS.join(', ')}, получено «${String(v ?? '').slice(0, 30)}»`);
  return v as ScopeKind;
}

/** Organisation ids of an organisation and its subordinates. */
async function orgSubtree(em: EntityManager, id: number): Promise<number[]> {
  const r = await query<{ id: number }>(em, `WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ?
    UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub`, [id]);
  return r.map((x) => x.id);
}

/** Serialises generations in this process: one report is rendered at a time (bounded CPU and memory). */
let chain: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const next = chain.then(fn, fn);
  chain = next.catch(() => undefined);
  return next;
}

export class ReportService {
  constructor(private readonly em: EntityManager, private readonly who: ReportActor) {}

  private get mid() { return this.who.municipalityId; }

  /** Checks the scope (exists in the municipality; within the user's row scope) and returns its name. */
  async checkScope(kind: ScopeKind, rawId: unknown): Promise<{ id: number | null; name: string }> {
    let id: number | null = null;
    if (kind !== 'CITY') {
      id = Number(rawId);
      if (rawId == null || rawId === '' || !Number.isInteger(id) || id <= 0 || id > 2 ** 31 - 1) throw new InputError('scope.id', `для охвата ${kind} нужен идентификатор, получено «${String(rawId ?? '').slice(0, 20)}»`);
    } else if (rawId != null && rawId !== '') {
      throw new InputError('scope.id', 'для охвата CITY идентификатор не указывается');
    }
    await this.assertAllowed(kind, id);
    const name = await scopeName(this.em, this.mid, kind, id);
    if (name == null) throw new InputError('scope.id', `${kind === 'DISTRICT' ? 'район' : kind === 'BLOCK' ? 'тематический блок' : 'организация'} ${id} не найден(а)`);
    return { id, name };
  }

  /** BLOCK_LEAD: only their block; ORG_OFFICER: only their organisation or one subordinate to it. */
  private async assertAllowed(kind: ScopeKind, id: number | null): Promise<void> {
    const u = this.who.user;
    if (!u) return;
    if (u.role === Role.BLOCK_LEAD && !(kind === 'BLOCK' && id === u.thematicBlockId)) {
      throw new ForbiddenError('Ответственному за блок доступны справки только по своему тематическому блоку');
    }
    if (u.role === Role.ORG_OFFICER) {
      const ok = kind === 'ORGANIZATION' && u.organizationId != null && (await orgSubtree(this.em, u.organizationId)).includes(id!);
      if (!ok) throw new ForbiddenError('Сотруднику организации доступны справки только по своей организации и подведомственным ей');
    }
  }

  /** SQL restricting analytic_report r (or report_schedule) rows to what the user may see. */
  private async visibleSql(alias = 'r'): Promise<{ sql: string; params: unknown[] }> {
    const u = this.who.user;
    if (u?.role === Role.BLOCK_LEAD) return { sql: ` AND ${alias}.scope_kind = 'BLOCK' AND ${alias}.scope_id = ?`, params: [u.thematicBlockId ?? -1] };
    if (u?.role === Role.ORG_OFFICER) return { sql: ` AND ${alias}.scope_kind = 'ORGANIZATION' AND ${alias}.scope_id = ANY(?::int[])`, params: [u.organizationId ? await orgSubtree(this.em, u.organizationId) : []] };
    return { sql: '', params: [] };
  }

  async get(id: unknown): Promise<ReportRow | null> {
    const n = Number(id);
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 31 - 1) throw new InputError('id', `неверный номер справки «${String(id).slice(0, 20)}»`);
    const v = await this.visibleSql();
    const [r] = await query<ReportRow>(this.em, `SELECT ${COLUMNS} FROM analytic_report r WHERE r.municipality_id = ? AND r.id = ?${v.sql}`, [this.mid, n, ...v.params]);
    return r ?? null;
  }

  async list(first = 50, offset = 0): Promise<{ rows: ReportRow[]; total: number }> {
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw new InputError('first', `от 0 до ${MAX_PAGE}, получено ${first}`);
    const v = await this.visibleSql();
    const rows = await query<ReportRow & { total: number }>(this.em, `SELECT ${COLUMNS}, count(*) OVER ()::int AS total FROM analytic_report r
      WHERE r.municipality_id = ?${v.sql} ORDER BY r.created_at DESC, r.id DESC LIMIT ? OFFSET ?`, [this.mid, ...v.params, first, offset]);
    let total = rows[0]?.total ?? 0;
    if (!rows.length && offset > 0) {
      const [c] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM analytic_report r WHERE r.municipality_id = ?${v.sql}`, [this.mid, ...v.params]);
      total = c.n;
    }
    return { rows, total };
  }

  /** The stored file of a report the user may see (null: no such report for them, or not generated). */
  async file(id: unknown, format: 'pdf' | 'docx'): Promise<{ row: ReportRow; data: Buffer } | null> {
    const row = await this.get(id);
    if (!row || row.status !== 'DONE') return row ? { row, data: Buffer.alloc(0) } : null;
    const [f] = await query<{ data: Buffer }>(this.em, `SELECT ${format === 'pdf' ? 'pdf' : 'docx'} AS data FROM analytic_report WHERE municipality_id = ? AND id = ?`, [this.mid, row.id]);
    return { row, data: f.data };
  }

  /** Orders a report: stored with its parameters (RUNNING), generated, then DONE with both files or FAILED with the reason. */
  async request(input: { scopeKind: unknown; scopeId?: unknown; from: unknown; to: unknown }, scheduleId: number | null = null): Promise<ReportRow> {
    const kind = checkScopeKind(input.scopeKind);
    const period = checkPeriod(input.from, input.to);
    const scope = await this.checkScope(kind, input.scopeId);
    // The report is alive while this process holds it (server/db/jobs.ts): held before its row shows RUNNING and
    // until the result is stored, so a sweep marks it FAILED only once its process is gone.
    const id = await nextId(this.em, 'analytic_report');
    const hold = (await holdJob(this.em, 'analyticReport', id))!;
    try {
      await this.em.transactional(async (em) => {
        await query(em, `INSERT INTO analytic_report (id, municipality_id, scope_kind, scope_id, scope_name, period_from, period_to, requested_by, schedule_id)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [id, this.mid, kind, scope.id, scope.name, period.from, period.to, this.who.actor, scheduleId]);
        await audit(em, this.who, { entity: 'analytic_report', entityId: id, action: 'request', after: { scopeKind: kind, scopeId: scope.id, from: period.from, to: period.to, scheduleId } });
      });
      await this.generate(id);
    } finally {
      await hold.release();
    }
    return (await this.get(id))!;
  }

  /** Generates the report again from its stored parameters (figures as of now); the files are replaced. */
  async regenerate(rawId: unknown): Promise<ReportRow> {
    const row = await this.get(rawId);
    if (!row) throw new InputError('id', `справка ${String(rawId).slice(0, 20)} не найдена`);
    await this.assertAllowed(row.scope_kind, row.scope_id);
    // Held by a live process (this one or another): it is being generated. A RUNNING report nobody holds was left by
    // a process that is gone, and may be generated again.
    const hold = await holdJob(this.em, 'analyticReport', row.id);
    if (!hold) throw new InputError('id', `справка ${row.id} ещё формируется`);
    try {
      await this.em.transactional(async (em) => {
        await query(em, `UPDATE analytic_report SET status = 'RUNNING', error = NULL WHERE municipality_id = ? AND id = ?`, [this.mid, row.id]);
        await audit(em, this.who, { entity: 'analytic_report', entityId: row.id, action: 'regenerate', before: { generatedAt: row.generated_at, generations: row.generations } });
      });
      await this.generate(row.id);
    } finally {
      await hold.release();
    }
    return (await this.get(row.id))!;
  }

  private async generate(id: number): Promise<void> {
    await serial(async () => {
      const t0 = Date.now();
      const [r] = await query<{ scope_kind: ScopeKind; scope_id: number | null; period_from: string; period_to: string; tz: string }>(this.em,
        `SELECT r.scope_kind, r.scope_id, to_char(r.period_from, 'YYYY-MM-DD') AS period_from, to_char(r.period_to, 'YYYY-MM-DD') AS period_to, m.timezone AS tz
           FROM analytic_report r JOIN municipality m ON m.id = r.municipality_id WHERE r.municipality_id = ? AND r.id = ?`, [this.mid, id]);
      try {
        const missing = fontsAvailable();
        if (missing) throw new Error(`нет файла шрифта ${missing} (пакет fonts-dejavu-core; каталог — REPORT_FONT_DIR)`);
        const params: ReportParams = { municipalityId: this.mid, scopeKind: r.scope_kind, scopeId: r.scope_id, from: r.period_from, to: r.period_to };
        const data = await collect(this.em, params);
        const doc = buildDocument(data);
        const stamp = `Справка № ${id}, сформирована ${localDateTimeText(r.tz, data.generatedAt.getTime())}`;
        const pdf = await renderPdf(doc, stamp);
        const docx = await renderDocx(doc, stamp);
        const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
        const summary = { appeals: data.cur.appeals, previousAppeals: data.prev.appeals, overdue: data.cur.overdue, problems: data.problems.length,
          risks: data.risksTotal, recommendations: data.recommendations.length, ratingRows: data.rating.total };
        await query(this.em, `UPDATE analytic_report SET status = 'DONE', error = NULL, docx = ?, pdf = ?, generated_at = now(), generations = generations + 1,
            ms = ?, pages = ?, summary = ?::jsonb WHERE municipality_id = ? AND id = ?`, [docx, pdf, Date.now() - t0, pages, JSON.stringify(summary), this.mid, id]);
      } catch (e) {
        console.error(`[reports] report ${id} failed`, e);
        const msg = e instanceof InputError ? e.message : `Не удалось сформировать справку: ${String((e as Error)?.message ?? e).slice(0, 300)}`;
        await query(this.em, `UPDATE analytic_report SET status = 'FAILED', error = ?, ms = ? WHERE municipality_id = ? AND id = ?`, [msg, Date.now() - t0, this.mid, id]);
      }
    });
  }
}

/** The message of a report whose generation was cut off with its process. */
export const INTERRUPTED_REPORT = 'Формирование прервано: процесс сервера остановлен или упал; пересоздайте справку';

/**
 * Reports left RUNNING by a process that is gone (a stop, a crash, a kill: server/db/jobs.ts) → FAILED; they can be
 * regenerated. Safe while other processes generate reports: run at start-up and, in cluster mode, by the primary when
 * a worker dies.
 */
export async function markInterruptedReports(em: EntityManager): Promise<number> {
  const ids = await sweepDeadJobs(em, 'analyticReport', 'analytic_report', async (tem, dead) => (await query<{ id: number }>(tem,
    `UPDATE analytic_report SET status = 'FAILED', error = ? WHERE id = ANY(?::int[]) AND status = 'RUNNING' RETURNING id`,
    [INTERRUPTED_REPORT, dead])).map((r) => r.id));
  return ids.length;
}
