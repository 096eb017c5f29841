import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../reference/files.js';
import { parseCalendarXml, type CalendarYear } from './calendar.js';

export interface BundledCalendarFile {
  /** The year of its name (ru-YYYY.xml). */
  year: number;
  /** Relative to the repository: db/reference/calendar/ru-YYYY.xml. */
  source: string;
  /** SHA-256 of the file's bytes (hex). */
  sha256: string;
  /** Parses the file (the year inside must be the year of its name). */
  parse(): CalendarYear;
}

/** The production calendars shipped in db/reference/calendar/ (ru-YYYY.xml), read and hashed but not parsed. */
export function bundledCalendarFiles(): BundledCalendarFile[] {
  const dir = path.join(repoRoot(), 'db', 'reference', 'calendar');
  return fs.readdirSync(dir).filter((f) => /^ru-\d{4}\.xml$/.test(f)).sort().map((f) => {
    const bytes = fs.readFileSync(path.join(dir, f));
    const year = Number(f.slice(3, 7));
    return {
      year, source: `db/reference/calendar/${f}`, sha256: createHash('sha256').update(bytes).digest('hex'),
      parse: () => {
        const cal = parseCalendarXml(bytes.toString('utf8'), f);
        if (cal.year !== year) throw new Error(`${f}: the calendar inside is for ${cal.year}, not ${year}`);
        return cal;
      },
    };
  });
}

/** The production calendars shipped in db/reference/calendar/ (ru-YYYY.xml), parsed. */
export function bundledCalendars(): CalendarYear[] {
  return bundledCalendarFiles().map((f) => f.parse());
}

/** Calendar years as the engine's map of special days. */
export function calendarMap(years: CalendarYear[]): Map<string, 'HOLIDAY' | 'SHORT' | 'WORKDAY'> {
  const m = new Map<string, 'HOLIDAY' | 'SHORT' | 'WORKDAY'>();
  for (const y of years) for (const d of y.days) m.set(d.date, d.kind);
  return m;
}
