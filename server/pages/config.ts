import fs from 'node:fs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { referenceFile } from '../reference/files.js';
import { DAY, MINUTE, WorkTime, type WorkingHours } from '../worktime/worktime.js';
import type { CalendarDayKind } from '../worktime/calendar.js';

/** The municipality's defaults for official pages: db/reference/<code>/official-pages.json (see its _comment). */
export interface CategoryDefaults {
  code: string; name: string; description?: string; sortOrder?: number;
  minPostsPerWeek: number | null; maxReplyHours: number | null; minAnsweredShare: number | null;
  minErPost: number | null; minErMonth: number | null; minReachShare: number | null;
  requireVerified: boolean; requirePosWidget: boolean; requireOpenComments: boolean; requireDesign: boolean;
}
export interface PagesDefaults {
  regionCode: string;
  workingHours: { start: string; end: string; lunchStart?: string; lunchEnd?: string; weekdays: number[] };
  holidays: string[];
  workdays: string[];
  categories: CategoryDefaults[];
}

export interface PagesSettings {
  municipalityId: number;
  timezone: string;
  population: number | null;
  regionCode: string;
  /** Working time in which reply times to comments are measured. */
  work: ReplyClock;
}

/** The pages' simple schedule (one set of hours for every working weekday) in the shared engine's form. */
export function sharedWorkingHours(h: PagesDefaults['workingHours']): WorkingHours {
  const hm = (v: string) => {
    const m = /^(\d{1,2}):(\d{2})$/.exec(v);
    if (!m) throw new Error(`время «${v}» не в формате ЧЧ:ММ`);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const text = (x: number) => `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`;
  const s = hm(h.start);
  const e = hm(h.end);
  // The lunch break cuts the day in two (a break reaching past either end only shortens the day).
  const ivs: [number, number][] = h.lunchStart && h.lunchEnd
    ? [[s, Math.min(e, Math.max(s, hm(h.lunchStart)))], [Math.max(s, Math.min(e, hm(h.lunchEnd))), e]]
    : [[s, e]];
  const day = ivs.filter(([a, b]) => b > a).map(([a, b]) => `${text(a)}-${text(b)}`);
  const week: Record<string, string[]> = {};
  for (let wd = 1; wd <= 7; wd++) week[String(wd)] = h.weekdays.includes(wd) ? day : [];
  // A moved working day (a Saturday or Sunday of `workdays`) is worked with the ordinary hours; no shortened days.
  return { week, movedWorkdayAs: h.weekdays.find((d) => d >= 1 && d <= 5) ?? 1, shortenedMinutes: 0 };
}

/**
 * Reply times to comments in working minutes, measured by the shared working-time engine (server/worktime) over the
 * pages' schedule and calendar of official-pages.json (holidays on weekdays, moved working weekends).
 */
export class ReplyClock {
  readonly engine: WorkTime;
  constructor(timezone: string, d: Pick<PagesDefaults, 'workingHours' | 'holidays' | 'workdays'>) {
    const calendar = new Map<string, CalendarDayKind>();
    for (const day of d.holidays) calendar.set(day, 'HOLIDAY');
    for (const day of d.workdays) calendar.set(day, 'WORKDAY');
    this.engine = new WorkTime({ timezone, hours: sharedWorkingHours(d.workingHours), calendar });
  }

  /** Working minutes in [from, to), rounded (0 when to ≤ from); spans longer than 400 days are counted up to 400 days. */
  minutesBetween(from: Date, to: Date): number {
    const a = from.getTime();
    const b = Math.min(to.getTime(), a + 400 * DAY);
    return Math.round(this.engine.workingMsBetween(a, b) / MINUTE);
  }
}

const FALLBACK: PagesDefaults = {
  regionCode: '',
  workingHours: { start: '09:00', end: '18:00', weekdays: [1, 2, 3, 4, 5] },
  holidays: [], workdays: [], categories: [],
};

const defaultsCache = new Map<string, PagesDefaults>();
export function readDefaults(code: string): PagesDefaults {
  let d = defaultsCache.get(code);
  if (!d) {
    let file = '';
    try { file = referenceFile(code, 'official-pages.json'); } catch { /* no reference folder: defaults */ }
    d = file && fs.existsSync(file) ? { ...FALLBACK, ...(JSON.parse(fs.readFileSync(file, 'utf8')) as PagesDefaults) } : FALLBACK;
    defaultsCache.set(code, d);
  }
  return d;
}

const settingsCache = new Map<number, PagesSettings>();

export async function pagesSettings(em: EntityManager, municipalityId: number): Promise<PagesSettings> {
  let s = settingsCache.get(municipalityId);
  if (s) return s;
  const [m] = await query<{ code: string; timezone: string; population: number | null }>(em,
    'SELECT code, timezone, population FROM municipality WHERE id = ?', [municipalityId]);
  const d = readDefaults(m.code);
  s = {
    municipalityId, timezone: m.timezone, population: m.population, regionCode: d.regionCode,
    work: new ReplyClock(m.timezone, d),
  };
  settingsCache.set(municipalityId, s);
  return s;
}

/** Inserts the default categories of the municipality when it has none (first start). */
export async function ensurePageCategories(em: EntityManager, municipalityId: number): Promise<number> {
  const [m] = await query<{ code: string; n: number }>(em,
    'SELECT code, (SELECT count(*)::int FROM page_category WHERE municipality_id = m.id) AS n FROM municipality m WHERE id = ?', [municipalityId]);
  if (!m || m.n > 0) return 0;
  const cats = readDefaults(m.code).categories;
  for (const c of cats) {
    await query(em, `INSERT INTO page_category (municipality_id, code, name, description, sort_order, min_posts_per_week, max_reply_hours, min_answered_share,
        min_er_post, min_er_month, min_reach_share, require_verified, require_pos_widget, require_open_comments, require_design)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [municipalityId, c.code, c.name, c.description ?? null, c.sortOrder ?? 0, c.minPostsPerWeek, c.maxReplyHours, c.minAnsweredShare,
      c.minErPost, c.minErMonth, c.minReachShare, c.requireVerified, c.requirePosWidget, c.requireOpenComments, c.requireDesign]);
  }
  return cats.length;
}
