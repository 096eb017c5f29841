/**
 * Russian typography for the analytic reports: thousands separated by a narrow no-break space (U+202F), the decimal
 * comma, a no-break space before «%» and units, the true minus sign (U+2212), «ёлочки» for quotes („лапки“ inside),
 * dates as «1 ноября 2026 г.». Text from the database is cleaned before it reaches a document (see clean()).
 */

export const NBSP = '\u00A0';
/** Narrow no-break space: the thousands separator of Russian typography. */
export const THIN = '\u202F';
export const MINUS = '\u2212';

const MONTHS_GEN = ['января', 'февраля', 'марта', 'апреля', 'мая', 'июня', 'июля', 'августа', 'сентября', 'октября', 'ноября', 'декабря'];
export const MONTHS_NOM = ['январь', 'февраль', 'март', 'апрель', 'май', 'июнь', 'июль', 'август', 'сентябрь', 'октябрь', 'ноябрь', 'декабрь'];

function groupDigits(intPart: string): string {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, THIN);
}

/** A number with `digits` decimals the Russian way: 1 234 567,8 (minus sign U+2212). */
export function num(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '—';
  const fixed = Math.abs(x).toFixed(digits);
  const [i, f] = fixed.split('.');
  const neg = x < 0 && Number(fixed) !== 0;
  return `${neg ? MINUS : ''}${groupDigits(i)}${f ? `,${f}` : ''}`;
}

/** A share 0…1 as a percentage: 12,5 %. */
export function pct(share: number | null | undefined, digits = 1): string {
  if (share == null || !Number.isFinite(share)) return '—';
  return `${num(share * 100, digits)}${NBSP}%`;
}

/** Signed value: +12,5 or −3 (zero without a sign). */
export function signed(x: number, digits = 0): string {
  const s = num(x, digits);
  return Number(Math.abs(x).toFixed(digits)) === 0 ? s.replace(MINUS, '') : x > 0 ? `+${s}` : s;
}

/** Change of a count against the previous period: «+12 (+8,3 %)»; «нет данных» when the previous is 0. */
export function countChange(cur: number, prev: number): string {
  const d = cur - prev;
  if (prev === 0) return cur === 0 ? 'без изменений' : `${signed(d)} (в прошлом периоде — 0)`;
  return `${signed(d)} (${signed((100 * d) / prev, 1)}${NBSP}%)`;
}

/** Change of a share in percentage points: «+3,2 п.\u00A0п.». */
export function shareChange(cur: number | null, prev: number | null): string {
  if (cur == null || prev == null) return '—';
  return `${signed((cur - prev) * 100, 1)}${NBSP}п.${NBSP}п.`;
}

/** «текст» with inner «» turned into „“ (Russian nested quotes). */
export function quote(s: string): string {
  return `«${s.replace(/«/g, '„').replace(/»/g, '“')}»`;
}

/** 'YYYY-MM-DD' → «1 ноября 2026 г.» */
export function dateLong(iso: string): string {
  const [y, m, d] = iso.slice(0, 10).split('-').map(Number);
  return `${d}${NBSP}${MONTHS_GEN[m - 1]} ${y}${NBSP}г.`;
}

/** 'YYYY-MM-DD' → 01.11.2026 */
export function dateShort(iso: string): string {
  return iso.slice(0, 10).split('-').reverse().join('.');
}

/** A period of inclusive local dates: «1–30 ноября 2026 г.», «28 октября — 3 ноября 2026 г.», «28 декабря 2025 г. — 3 января 2026 г.». */
export function periodLabel(from: string, to: string): string {
  const [fy, fm, fd] = from.split('-').map(Number);
  const [ty, tm, td] = to.split('-').map(Number);
  if (from === to) return dateLong(from);
  if (fy === ty && fm === tm) return `${fd}–${td}${NBSP}${MONTHS_GEN[tm - 1]} ${ty}${NBSP}г.`;
  if (fy === ty) return `${fd}${NBSP}${MONTHS_GEN[fm - 1]} — ${td}${NBSP}${MONTHS_GEN[tm - 1]} ${ty}${NBSP}г.`;
  return `${dateLong(from)} — ${dateLong(to)}`;
}

/** Russian plural: plural(5, 'обращение', 'обращения', 'обращений') → 'обращений'. */
export function plural(n: number, one: string, few: string, many: string): string {
  const a = Math.abs(n) % 100;
  const b = a % 10;
  if (a > 10 && a < 20) return many;
  if (b === 1) return one;
  if (b >= 2 && b <= 4) return few;
  return many;
}

/**
 * Text from the database made safe for a document: characters XML 1.0 forbids (they make Word refuse the file),
 * lone surrogates, bidirectional overrides (they can reorder a line) and other invisible format characters are
 * dropped, whitespace runs collapse, and the result is cut to `max` characters with «…».
 */
export function clean(s: unknown, max = 300): string {
  const t = String(s ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]/g, '')
    .replace(/[\u200B-\u200F\u202A-\u202E\u2060-\u206F\uFEFF]/g, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (t.length <= max) return t;
  // Do not cut a surrogate pair in two.
  let cut = t.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Escapes text for SVG / XML. */
export function xml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]!));
}
