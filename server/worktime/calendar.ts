import { XMLParser } from 'fast-xml-parser';
import { InputError } from '../errors.js';

/**
 * The production calendar (производственный календарь): the days that differ from the ordinary week
 * (Monday–Friday working, Saturday–Sunday off).
 *   HOLIDAY — a day off or holiday on a weekday (xmlcalendar t="1"),
 *   SHORT   — a shortened pre-holiday working day (t="2", one hour shorter),
 *   WORKDAY — a working Saturday or Sunday (t="3", a day off moved elsewhere).
 */
export type CalendarDayKind = 'HOLIDAY' | 'SHORT' | 'WORKDAY';

export interface CalendarDay {
  /** Local date, YYYY-MM-DD. */
  date: string;
  kind: CalendarDayKind;
  holiday?: string | null;
  /** The date a moved day off came from (YYYY-MM-DD). */
  movedFrom?: string | null;
}

export interface CalendarYear {
  year: number;
  days: CalendarDay[];
}

const KINDS: Record<string, CalendarDayKind> = { '1': 'HOLIDAY', '2': 'SHORT', '3': 'WORKDAY' };
export const MAX_CALENDAR_BYTES = 1_000_000;
const MAX_DAYS = 400;

const pad = (n: number) => String(n).padStart(2, '0');

/** `MM.DD` of `year` → YYYY-MM-DD, or null when that date does not exist. */
function dateOf(year: number, md: string): string | null {
  const m = /^(\d{2})\.(\d{2})$/.exec(md);
  if (!m) return null;
  const month = Number(m[1]);
  const day = Number(m[2]);
  const d = new Date(Date.UTC(year, month - 1, day));
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return null;
  return `${year}-${pad(month)}-${pad(day)}`;
}

/**
 * Parses one year of the xmlcalendar format (`<calendar year="2027"><holidays>…</holidays><days><day d="MM.DD" t="1|2|3" h="id" f="MM.DD"/>…`).
 * Every problem is an InputError naming the entry; nothing is returned half-checked.
 */
export function parseCalendarXml(xml: string, source = 'calendar'): CalendarYear {
  if (xml.length > MAX_CALENDAR_BYTES) throw new InputError(source, `файл календаря больше ${MAX_CALENDAR_BYTES / 1_000_000} МБ`);
  let doc: any;
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => name === 'day' || name === 'holiday', processEntities: false })
      .parse(xml, true);
  } catch (e) {
    throw new InputError(source, `не XML: ${(e as Error).message.slice(0, 200)}`);
  }
  const cal = doc?.calendar;
  if (!cal || typeof cal !== 'object') throw new InputError(source, 'нет элемента <calendar> (ожидается формат xmlcalendar)');
  const year = Number(cal.year);
  if (!/^\d{4}$/.test(String(cal.year ?? '')) || year < 1990 || year > 2100) throw new InputError(`${source}: calendar.year`, `неверный год «${String(cal.year ?? '').slice(0, 20)}» (ожидается 1990–2100)`);
  const holidays = new Map<string, string>();
  for (const h of cal.holidays?.holiday ?? []) if (h?.id != null) holidays.set(String(h.id), String(h.title ?? '').slice(0, 200));
  const list = cal.days?.day ?? [];
  if (list.length > MAX_DAYS) throw new InputError(`${source}: days`, `слишком много дней (${list.length}), не более ${MAX_DAYS}`);
  const seen = new Set<string>();
  const days: CalendarDay[] = list.map((d: any, i: number) => {
    const at = `${source}: days.day[${i + 1}]`;
    const date = dateOf(year, String(d?.d ?? ''));
    if (!date) throw new InputError(`${at}.d`, `невозможная дата «${String(d?.d ?? '').slice(0, 20)}» в ${year} году (ожидается ММ.ДД)`);
    if (seen.has(date)) throw new InputError(`${at}.d`, `день ${date} указан дважды`);
    seen.add(date);
    const kind = KINDS[String(d?.t ?? '')];
    if (!kind) throw new InputError(`${at}.t`, `неизвестный тип дня «${String(d?.t ?? '').slice(0, 10)}» для ${date}; допустимы 1 (выходной), 2 (сокращённый), 3 (рабочий)`);
    let movedFrom: string | null = null;
    if (d.f != null) {
      // A day off moved from a date of this year, or (early January) of the year before / late December of the next.
      movedFrom = dateOf(year, String(d.f)) ?? null;
      if (!movedFrom) throw new InputError(`${at}.f`, `невозможная дата переноса «${String(d.f).slice(0, 20)}»`);
    }
    return { date, kind, holiday: d.h != null ? holidays.get(String(d.h)) ?? null : null, movedFrom };
  });
  days.sort((a, b) => a.date.localeCompare(b.date));
  return { year, days };
}

/** Checks a calendar given as JSON rows (the GraphQL import of a year): same rules as the XML. */
export function checkCalendarDays(year: number, days: { date: string; kind: string; holiday?: string | null }[], at = 'days'): CalendarYear {
  if (!Number.isInteger(year) || year < 1990 || year > 2100) throw new InputError('year', `неверный год ${year}`);
  if (days.length > MAX_DAYS) throw new InputError(at, `слишком много дней (${days.length}), не более ${MAX_DAYS}`);
  const seen = new Set<string>();
  const out = days.map((d, i) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d.date ?? '');
    const date = m && Number(m[1]) === year ? dateOf(year, `${m[2]}.${m[3]}`) : null;
    if (!date) throw new InputError(`${at}[${i}].date`, `невозможная дата «${String(d.date).slice(0, 20)}» в ${year} году`);
    if (seen.has(date)) throw new InputError(`${at}[${i}].date`, `день ${date} указан дважды`);
    seen.add(date);
    if (!['HOLIDAY', 'SHORT', 'WORKDAY'].includes(d.kind)) throw new InputError(`${at}[${i}].kind`, `неизвестный тип дня «${String(d.kind).slice(0, 20)}»; допустимы HOLIDAY, SHORT, WORKDAY`);
    return { date, kind: d.kind as CalendarDayKind, holiday: d.holiday ?? null, movedFrom: null };
  });
  out.sort((a, b) => a.date.localeCompare(b.date));
  return { year, days: out };
}
