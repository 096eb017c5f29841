import fs from 'node:fs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { referenceFile } from '../reference/files.js';
import { WorkTime } from './worktime.js';

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
  work: WorkTime;
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
    work: new WorkTime({ timezone: m.timezone, ...d.workingHours, holidays: d.holidays, workdays: d.workdays }),
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
