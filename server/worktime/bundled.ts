import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../reference/files.js';
import { parseCalendarXml, type CalendarYear } from './calendar.js';

/** The production calendars shipped in db/reference/calendar/ (ru-YYYY.xml), parsed. */
export function bundledCalendars(): CalendarYear[] {
  const dir = path.join(repoRoot(), 'db', 'reference', 'calendar');
  return fs.readdirSync(dir).filter((f) => /^ru-\d{4}\.xml$/.test(f)).sort()
    .map((f) => parseCalendarXml(fs.readFileSync(path.join(dir, f), 'utf8'), f));
}

/** Calendar years as the engine's map of special days. */
export function calendarMap(years: CalendarYear[]): Map<string, 'HOLIDAY' | 'SHORT' | 'WORKDAY'> {
  const m = new Map<string, 'HOLIDAY' | 'SHORT' | 'WORKDAY'>();
  for (const y of years) for (const d of y.days) m.set(d.date, d.kind);
  return m;
}
