import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit } from '../audit/audit.js';
import { addDays } from './data.js';
import { localDate, wallToUtc } from '../util/timezone.js';
import { checkScopeKind, ReportService, type ReportActor } from './service.js';
import type { ScopeKind } from './data.js';

/**
 * Weekly reports. A schedule names a scope, a weekday (1 = Monday … 7 = Sunday) and a local hour; at that time the
 * report on the previous seven days (ending yesterday, local dates) is generated. The scheduler is in-process: a
 * timer checks due schedules every minute (claiming each by moving its next run forward in one UPDATE, so two
 * processes never both run it); after downtime a missed week runs once, not once per missed week.
 */

export interface ScheduleRow {
  id: number; scope_kind: ScopeKind; scope_id: number | null; weekday: number; hour: number; active: boolean; created_by: string; created_at: Date;
  next_run_at: Date; last_run_at: Date | null; last_report_id: number | null; scope_name: string | null;
}

/** Local wall time → instant, in an IANA zone (exact for zones without DST; resolved by one correction otherwise). */
export function localToUtc(day: string, hour: number, tz: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(wallToUtc(tz, Date.UTC(y, m - 1, d, hour)));
}

/** The local date (YYYY-MM-DD) of an instant in a zone. */
export function localDay(at: Date, tz: string): string {
  return localDate(tz, at.getTime());
}

/** ISO weekday (1 = Monday) of a YYYY-MM-DD date. */
export function weekdayOf(day: string): number {
  const w = new Date(`${day}T00:00:00Z`).getUTCDay();
  return w === 0 ? 7 : w;
}

/** The first run strictly after `after`: the next local `weekday` at `hour`:00. */
export function nextRunAt(weekday: number, hour: number, tz: string, after: Date): Date {
  const today = localDay(after, tz);
  for (let k = 0; k <= 7; k++) {
    const day = addDays(today, k);
    if (weekdayOf(day) !== weekday) continue;
    const at = localToUtc(day, hour, tz);
    if (at > after) return at;
  }
  return localToUtc(addDays(today, 7 + ((weekday - weekdayOf(today) + 7) % 7)), hour, tz);
}

/** The period a run at `runAt` reports on: the seven local days ending the day before. */
export function weeklyPeriod(runAt: Date, tz: string): { from: string; to: string } {
  const day = localDay(runAt, tz);
  return { from: addDays(day, -7), to: addDays(day, -1) };
}

export function checkWeekday(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 7) throw new InputError('weekday', `день недели от 1 (понедельник) до 7 (воскресенье), получено «${String(v).slice(0, 10)}»`);
  return n;
}

export function checkHour(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 23) throw new InputError('hour', `час от 0 до 23, получено «${String(v).slice(0, 10)}»`);
  return n;
}

const COLUMNS = `s.id, s.scope_kind, s.scope_id, s.weekday, s.hour, s.active, s.created_by, s.created_at, s.next_run_at, s.last_run_at, s.last_report_id,
  CASE s.scope_kind WHEN 'CITY' THEN (SELECT name FROM municipality WHERE id = s.municipality_id)
    WHEN 'DISTRICT' THEN (SELECT name FROM district WHERE id = s.scope_id) WHEN 'BLOCK' THEN (SELECT name FROM thematic_block WHERE id = s.scope_id)
    ELSE (SELECT name FROM organization WHERE id = s.scope_id) END AS scope_name`;

/** At most this many active schedules per municipality. */
export const MAX_SCHEDULES = 50;

export class ScheduleService {
  constructor(private readonly em: EntityManager, private readonly who: ReportActor) {}

  private async tz(): Promise<string> {
    const [m] = await query<{ timezone: string }>(this.em, 'SELECT timezone FROM municipality WHERE id = ?', [this.who.municipalityId]);
    return m.timezone;
  }

  async list(): Promise<ScheduleRow[]> {
    return query<ScheduleRow>(this.em, `SELECT ${COLUMNS} FROM report_schedule s WHERE s.municipality_id = ? AND s.active ORDER BY s.weekday, s.hour, s.id`, [this.who.municipalityId]);
  }

  async create(input: { scopeKind: unknown; scopeId?: unknown; weekday: unknown; hour: unknown }, now = new Date()): Promise<ScheduleRow> {
    const kind = checkScopeKind(input.scopeKind);
    const weekday = checkWeekday(input.weekday);
    const hour = checkHour(input.hour);
    const scope = await new ReportService(this.em, this.who).checkScope(kind, input.scopeId);
    const next = nextRunAt(weekday, hour, await this.tz(), now);
    const id = await this.em.transactional(async (em) => {
      const [c] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM report_schedule WHERE municipality_id = ? AND active', [this.who.municipalityId]);
      if (c.n >= MAX_SCHEDULES) throw new InputError('scope', `не более ${MAX_SCHEDULES} расписаний; отмените ненужные`);
      const [r] = await query<{ id: number }>(em, `INSERT INTO report_schedule (municipality_id, scope_kind, scope_id, weekday, hour, created_by, next_run_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, [this.who.municipalityId, kind, scope.id, weekday, hour, this.who.actor, next]);
      await audit(em, this.who, { entity: 'report_schedule', entityId: r.id, action: 'create', after: { scopeKind: kind, scopeId: scope.id, weekday, hour } });
      return r.id;
    });
    const [row] = await query<ScheduleRow>(this.em, `SELECT ${COLUMNS} FROM report_schedule s WHERE s.municipality_id = ? AND s.id = ?`, [this.who.municipalityId, id]);
    return row;
  }

  async cancel(rawId: unknown): Promise<boolean> {
    const id = Number(rawId);
    if (!Number.isInteger(id) || id <= 0 || id > 2 ** 31 - 1) throw new InputError('id', `неверный номер расписания «${String(rawId).slice(0, 20)}»`);
    return this.em.transactional(async (em) => {
      const r = await query<{ id: number }>(em, 'UPDATE report_schedule SET active = false WHERE municipality_id = ? AND id = ? AND active RETURNING id', [this.who.municipalityId, id]);
      if (!r.length) throw new InputError('id', `расписание ${id} не найдено`);
      await audit(em, this.who, { entity: 'report_schedule', entityId: id, action: 'cancel' });
      return true;
    });
  }

  /**
   * Runs every schedule due at `now`: claims it (moves next_run_at past now), then generates the report of the
   * previous week. Returns the ids of the reports made.
   */
  async runDue(now: Date): Promise<number[]> {
    const tz = await this.tz();
    const due = await query<ScheduleRow>(this.em, `SELECT ${COLUMNS} FROM report_schedule s WHERE s.municipality_id = ? AND s.active AND s.next_run_at <= ? ORDER BY s.next_run_at, s.id LIMIT 10`,
      [this.who.municipalityId, now]);
    const made: number[] = [];
    for (const s of due) {
      const next = nextRunAt(s.weekday, s.hour, tz, now);
      const claimed = await query<{ id: number }>(this.em, `UPDATE report_schedule SET next_run_at = ?, last_run_at = ? WHERE municipality_id = ? AND id = ? AND next_run_at = ? RETURNING id`,
        [next, now, this.who.municipalityId, s.id, s.next_run_at]);
      if (!claimed.length) continue;
      // The week before the scheduled moment (not before `now`: a late run reports on the same week).
      const period = weeklyPeriod(new Date(s.next_run_at), tz);
      const svc = new ReportService(this.em, { municipalityId: this.who.municipalityId, actor: `schedule:${s.id}` });
      try {
        const r = await svc.request({ scopeKind: s.scope_kind, scopeId: s.scope_id ?? undefined, from: period.from, to: period.to }, s.id);
        await query(this.em, 'UPDATE report_schedule SET last_report_id = ? WHERE municipality_id = ? AND id = ?', [r.id, this.who.municipalityId, s.id]);
        made.push(r.id);
      } catch (e) {
        console.error(`[reports] schedule ${s.id} failed`, e);
      }
    }
    return made;
  }
}

export interface SchedulerOptions {
  intervalMs?: number;
  log?: (m: string) => void;
  now?: () => Date;
}

/** The in-process scheduler the app starts and stops (stop waits for a run in progress). */
export class ReportScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;

  constructor(private readonly orm: MikroORM, private readonly municipalityId: number, private readonly opts: SchedulerOptions = {}) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** One check (no overlap with a check still running). */
  tick(now = this.opts.now?.() ?? new Date()): Promise<number[]> {
    if (this.stopped) return Promise.resolve([]);
    if (this.running) return this.running as Promise<number[]>;
    const p = new ScheduleService(this.orm.em.fork(), { municipalityId: this.municipalityId, actor: 'system:schedule' }).runDue(now)
      .then((ids) => { if (ids.length) this.opts.log?.(`Справки по расписанию сформированы: ${ids.join(', ')}`); return ids; })
      .catch((e) => { console.error('[reports] scheduler failed', e); return [] as number[]; })
      .finally(() => { this.running = undefined; });
    this.running = p;
    return p;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
