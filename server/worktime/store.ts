import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { readReference } from '../reference/files.js';
import type { CalendarDayKind, CalendarYear } from './calendar.js';
import { bundledCalendarFiles } from './bundled.js';
import { DEFAULT_WORKING_HOURS, WorkTime, WorkingHoursError, parseWorkingHours, type WorkingHours } from './worktime.js';
import { isValidTimeZone } from '../util/timezone.js';

/**
 * The database side of working time: the national production calendar (imported a year at a time), the
 * administration's working hours per municipality (deadline_setting 'workingHours') and its time zone
 * (municipality.timezone), and a per-process cache of the ready WorkTime engines.
 */

const CACHE_MS = 60_000;
const cache = new Map<number, { at: number; version: number; wt: Promise<WorkTime> }>();
/** Bumped by every change in this process (other processes' changes are seen within CACHE_MS). */
let version = 0;
export function invalidateWorkTime() { version++; }

/** The WorkTime of a municipality (cached for a minute; rebuilt at once after a change made by this process). */
export function loadWorkTime(em: EntityManager, municipalityId: number): Promise<WorkTime> {
  const c = cache.get(municipalityId);
  if (c && c.version === version && Date.now() - c.at < CACHE_MS) return c.wt;
  const wt = buildWorkTime(em, municipalityId);
  cache.set(municipalityId, { at: Date.now(), version, wt });
  wt.catch(() => cache.delete(municipalityId));
  return wt;
}

async function buildWorkTime(em: EntityManager, municipalityId: number): Promise<WorkTime> {
  const [m] = await query<{ timezone: string; hours: WorkingHours | null }>(em,
    `SELECT m.timezone, s.value AS hours FROM municipality m
       LEFT JOIN deadline_setting s ON s.municipality_id = m.id AND s.key = 'workingHours' WHERE m.id = ?`, [municipalityId]);
  if (!m) throw new Error(`municipality ${municipalityId} not found`);
  const days = await query<{ day: string; kind: CalendarDayKind }>(em, `SELECT to_char(day, 'YYYY-MM-DD') AS day, kind FROM production_calendar_day`);
  return new WorkTime({ timezone: m.timezone, hours: m.hours ?? DEFAULT_WORKING_HOURS, calendar: new Map(days.map((d) => [d.day, d.kind])) });
}

/** Stores one calendar year in place of what was there (one transaction with its audit entry). */
async function storeYear(em: EntityManager, cal: CalendarYear, source: string, actor: string, sha256: string | null = null) {
  await query(em, 'DELETE FROM production_calendar_year WHERE year = ?', [cal.year]);
  await query(em, 'INSERT INTO production_calendar_year (year, source, imported_by, content_sha256) VALUES (?, ?, ?, ?)', [cal.year, source.slice(0, 300), actor, sha256]);
  if (cal.days.length) {
    await query(em,
      `INSERT INTO production_calendar_day (day, year, kind, holiday, moved_from)
       SELECT t.day, ?, t.kind, t.holiday, t.moved_from FROM unnest(?::date[], ?::text[], ?::text[], ?::date[]) AS t(day, kind, holiday, moved_from)`,
      [cal.year, cal.days.map((d) => d.date), cal.days.map((d) => d.kind), cal.days.map((d) => d.holiday ?? null), cal.days.map((d) => d.movedFrom ?? null)]);
  }
}

/** Who stored the years that came from db/reference/calendar/. */
const BUNDLE_ACTOR = 'system:reference';

/**
 * Loads the bundled calendar years the database lacks, and reloads a year it loaded from the bundle before when the
 * bundled file has changed since (its SHA-256 differs); a year imported by a person is never overwritten. When every
 * year is stored with the same hash — every start but the first — nothing is parsed or written. Returns the number of
 * years stored.
 */
export async function ensureBundledCalendar(em: EntityManager): Promise<number> {
  const files = bundledCalendarFiles();
  const stale = async (q: EntityManager) => {
    const stored = new Map((await query<{ year: number; imported_by: string; content_sha256: string | null }>(q,
      'SELECT year, imported_by, content_sha256 FROM production_calendar_year WHERE year = ANY(?::int[])', [files.map((f) => f.year)])).map((r) => [r.year, r]));
    return files.filter((f) => { const s = stored.get(f.year); return !s || (s.imported_by === BUNDLE_ACTOR && s.content_sha256 !== f.sha256); });
  };
  if (!(await stale(em)).length) return 0;
  const stored = await em.transactional(async (tem) => {
    // Processes starting together load the bundle one after another; the second finds nothing left to do.
    await query(tem, 'SELECT pg_advisory_xact_lock(hashtext(?))', ['production_calendar_bundle']);
    const todo = await stale(tem);
    for (const f of todo) await storeYear(tem, f.parse(), f.source, BUNDLE_ACTOR, f.sha256);
    return todo.length;
  });
  if (stored) invalidateWorkTime();
  return stored;
}

export interface CalendarImportResult { year: number; days: number; holidays: number; shortened: number; workingWeekends: number; replaced: boolean; workingDays: number }

/** Imports (or replaces) one year of the production calendar, audited; all or nothing. */
export async function importCalendarYear(em: EntityManager, actor: AuditActor, cal: CalendarYear, source: string): Promise<CalendarImportResult> {
  const result = await em.transactional(async (tem) => {
    const [old] = await query<{ n: number }>(tem, 'SELECT count(*)::int AS n FROM production_calendar_day WHERE year = ?', [cal.year]);
    const [had] = await query<{ year: number }>(tem, 'SELECT year FROM production_calendar_year WHERE year = ?', [cal.year]);
    await storeYear(tem, cal, source, actor.user?.login ?? actor.actor ?? 'system');
    const count = (k: CalendarDayKind) => cal.days.filter((d) => d.kind === k).length;
    const r = { year: cal.year, days: cal.days.length, holidays: count('HOLIDAY'), shortened: count('SHORT'), workingWeekends: count('WORKDAY'), replaced: !!had, workingDays: 0 };
    await audit(tem, actor, { entity: 'production_calendar', entityId: cal.year, action: had ? 'replace' : 'import',
      before: had ? { days: old.n } : undefined, after: { source, days: r.days, holidays: r.holidays, shortened: r.shortened, workingWeekends: r.workingWeekends } });
    return r;
  });
  invalidateWorkTime();
  const wt = await loadWorkTime(em, actor.municipalityId);
  for (let d = Date.UTC(cal.year, 0, 1); d < Date.UTC(cal.year + 1, 0, 1); d += 86_400_000) if (wt.isWorkingDay(new Date(d).toISOString().slice(0, 10))) result.workingDays++;
  return result;
}

export interface StoredCalendarYear { year: number; source: string; importedAt: Date; importedBy: string }

export async function calendarYears(em: EntityManager): Promise<StoredCalendarYear[]> {
  const rows = await query<{ year: number; source: string; imported_at: string; imported_by: string }>(em, 'SELECT * FROM production_calendar_year ORDER BY year');
  return rows.map((r) => ({ year: r.year, source: r.source, importedAt: new Date(r.imported_at), importedBy: r.imported_by }));
}

export async function calendarDays(em: EntityManager, year: number) {
  return query<{ date: string; kind: CalendarDayKind; holiday: string | null; moved_from: string | null }>(em,
    `SELECT to_char(day, 'YYYY-MM-DD') AS date, kind, holiday, to_char(moved_from, 'YYYY-MM-DD') AS moved_from
       FROM production_calendar_day WHERE year = ? ORDER BY day`, [year]);
}

export async function workingHoursOf(em: EntityManager, municipalityId: number): Promise<{ timezone: string; hours: WorkingHours }> {
  const [m] = await query<{ timezone: string; hours: WorkingHours | null }>(em,
    `SELECT m.timezone, s.value AS hours FROM municipality m
       LEFT JOIN deadline_setting s ON s.municipality_id = m.id AND s.key = 'workingHours' WHERE m.id = ?`, [municipalityId]);
  return { timezone: m.timezone, hours: m.hours ?? DEFAULT_WORKING_HOURS };
}

/** Sets the working hours (and optionally the time zone) of a municipality, audited. */
export async function setWorkingHours(em: EntityManager, actor: AuditActor, hours: WorkingHours, timezone?: string): Promise<void> {
  try {
    parseWorkingHours(hours);
  } catch (e) {
    if (e instanceof WorkingHoursError) throw new InputError(`hours.${e.field}`, e.message.slice(e.field.length + 2));
    throw e;
  }
  const clean: WorkingHours = { week: Object.fromEntries(Object.entries(hours.week).filter(([k]) => /^[1-7]$/.test(k))), movedWorkdayAs: hours.movedWorkdayAs ?? 1, shortenedMinutes: hours.shortenedMinutes ?? 60 };
  if (timezone != null && !isValidTimeZone(timezone)) throw new InputError('timezone', `неизвестный часовой пояс «${timezone.slice(0, 40)}» (ожидается имя IANA, например Asia/Barnaul)`);
  await em.transactional(async (tem) => {
    const before = await workingHoursOf(tem, actor.municipalityId);
    await query(tem, `INSERT INTO deadline_setting (municipality_id, key, value, updated_by) VALUES (?, 'workingHours', ?::jsonb, ?)
                      ON CONFLICT (municipality_id, key) DO UPDATE SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by`,
      [actor.municipalityId, JSON.stringify(clean), actor.user?.login ?? actor.actor ?? 'system']);
    if (timezone != null) await query(tem, 'UPDATE municipality SET timezone = ? WHERE id = ?', [timezone, actor.municipalityId]);
    await audit(tem, actor, { entity: 'working_hours', entityId: actor.municipalityId, action: 'update', before, after: { timezone: timezone ?? before.timezone, hours: clean } });
  });
  invalidateWorkTime();
}

/** The municipality's working hours from its reference data (deadline_settings.json) when none are stored. */
export async function ensureWorkingHours(em: EntityManager, municipalityId: number, code: string): Promise<void> {
  let hours: WorkingHours = DEFAULT_WORKING_HOURS;
  try { hours = readReference<{ workingHours?: WorkingHours }>(code, 'deadline_settings.json').workingHours ?? hours; } catch { /* defaults */ }
  parseWorkingHours(hours);
  await query(em, `INSERT INTO deadline_setting (municipality_id, key, value, updated_by) VALUES (?, 'workingHours', ?::jsonb, 'system:reference')
                   ON CONFLICT (municipality_id, key) DO NOTHING`, [municipalityId, JSON.stringify(hours)]);
}
