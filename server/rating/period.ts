import { InputError } from '../errors.js';

export type PeriodKind = 'MONTH' | 'QUARTER' | 'YEAR' | 'CUSTOM';

/** A period of local calendar dates [from, to) in the municipality's time zone, and the previous one of the same length. */
export interface Period {
  kind: PeriodKind;
  /** First day, YYYY-MM-DD. */
  from: string;
  /** Day after the last, YYYY-MM-DD (exclusive). */
  to: string;
  prevFrom: string;
  prevTo: string;
  label: string;
}

const MONTHS = ['январь', 'февраль', 'март', 'апрель', 'май', 'июнь', 'июль', 'август', 'сентябрь', 'октябрь', 'ноябрь', 'декабрь'];
const MAX_DAYS = 3 * 366;

const iso = (d: Date) => d.toISOString().slice(0, 10);
const utc = (y: number, m: number, d = 1) => new Date(Date.UTC(y, m, d));

export function parseDate(field: string, v: string | undefined | null): Date {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new InputError(field, `ожидается дата ГГГГ-ММ-ДД, получено «${String(v ?? '').slice(0, 30)}»`);
  const [y, m, d] = v.split('-').map(Number);
  const t = utc(y, m - 1, d);
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) throw new InputError(field, `такой даты нет: «${v}»`);
  if (y < 2000 || y > 2100) throw new InputError(field, `год должен быть от 2000 до 2100, получено ${y}`);
  return t;
}

/**
 * MONTH / QUARTER / YEAR: the calendar unit containing `start`; the previous period is the previous unit.
 * CUSTOM: `start`…`end` inclusive (at most three years); the previous period is as many days right before it.
 */
export function resolvePeriod(kind: PeriodKind, start: string, end?: string | null): Period {
  const s = parseDate('period.start', start);
  const y = s.getUTCFullYear();
  const m = s.getUTCMonth();
  let from: Date, to: Date, prevFrom: Date, label: string;
  switch (kind) {
    case 'MONTH':
      from = utc(y, m); to = utc(y, m + 1); prevFrom = utc(y, m - 1); label = `${MONTHS[m]} ${y}`; break;
    case 'QUARTER': {
      const q = Math.floor(m / 3);
      from = utc(y, q * 3); to = utc(y, q * 3 + 3); prevFrom = utc(y, q * 3 - 3); label = `${q + 1} квартал ${y}`; break;
    }
    case 'YEAR':
      from = utc(y, 0); to = utc(y + 1, 0); prevFrom = utc(y - 1, 0); label = `${y} год`; break;
    case 'CUSTOM': {
      const e = parseDate('period.end', end);
      if (e < s) throw new InputError('period.end', `конец периода (${end}) раньше начала (${start})`);
      const days = Math.round((e.getTime() - s.getTime()) / 86_400_000) + 1;
      if (days > MAX_DAYS) throw new InputError('period.end', `период не длиннее трёх лет, получено ${days} дн.`);
      from = s; to = new Date(e.getTime() + 86_400_000); prevFrom = new Date(s.getTime() - days * 86_400_000);
      label = `${fmt(s)} — ${fmt(e)}`; break;
    }
    default:
      throw new InputError('period.kind', `неизвестный вид периода «${String(kind).slice(0, 20)}»; допустимы: MONTH, QUARTER, YEAR, CUSTOM`);
  }
  return { kind, from: iso(from), to: iso(to), prevFrom: iso(prevFrom), prevTo: iso(from), label };
}

function fmt(d: Date) {
  return `${String(d.getUTCDate()).padStart(2, '0')}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${d.getUTCFullYear()}`;
}

/** The last day of a period (inclusive), YYYY-MM-DD. */
export function lastDay(to: string): string {
  return iso(new Date(Date.parse(`${to}T00:00:00Z`) - 86_400_000));
}

/** The first days of the `n` calendar months ending with the month that contains `day` (oldest first). */
export function monthsEndingAt(day: string, n: number): string[] {
  const d = parseDate('period', day);
  const out: string[] = [];
  for (let i = n - 1; i >= 0; i--) out.push(iso(utc(d.getUTCFullYear(), d.getUTCMonth() - i)));
  return out;
}

export const MONTH_NAMES = MONTHS;
