/**
 * Parsing of cell values from exports: dates in the formats staff actually get,
 * numbers with a decimal comma, trimmed strings. Each parser returns undefined for an
 * empty cell and throws a short Russian reason for a malformed one.
 */

export function str(v: unknown): string | undefined {
  if (v == null) return undefined;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    // exceljs rich text / hyperlink cells
    const o = v as { text?: unknown; richText?: { text: string }[]; hyperlink?: string; result?: unknown };
    if (Array.isArray(o.richText)) return str(o.richText.map((r) => r.text).join(''));
    if (o.text != null) return str(o.text);
    if (o.result != null) return str(o.result);
    if (o.hyperlink) return str(o.hyperlink);
    return undefined;
  }
  // NUL cannot be stored in PostgreSQL text (and is never meant in an export): dropped.
  const s = String(v).replace(/\u00a0/g, ' ').replace(/\u0000/g, '').trim();
  return s === '' ? undefined : s;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('не число');
    return v;
  }
  const s = str(v);
  if (s === undefined) return undefined;
  const n = Number(s.replace(/\s/g, '').replace(',', '.'));
  if (!Number.isFinite(n)) throw new Error(`«${s.slice(0, 40)}» не число`);
  return n;
}

/** Offset of a time zone at a UTC instant, in minutes (Intl; Russia has no DST but others may). */
export function tzOffsetMinutes(timeZone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - at.getTime()) / 60000);
}

const offsetCache = new Map<string, number>();
function offsetFor(timeZone: string, at: Date): number {
  const key = `${timeZone}|${at.getUTCFullYear()}|${at.getUTCMonth()}`;
  let o = offsetCache.get(key);
  if (o === undefined) offsetCache.set(key, (o = tzOffsetMinutes(timeZone, at)));
  return o;
}

const FORMAT_TOKENS: Record<string, string> = { dd: '(\\d{1,2})', MM: '(\\d{1,2})', yyyy: '(\\d{4})', yy: '(\\d{2})', HH: '(\\d{1,2})', mm: '(\\d{2})', ss: '(\\d{2})' };
const formatCache = new Map<string, { re: RegExp; order: string[] }>();

function compileFormat(format: string) {
  let c = formatCache.get(format);
  if (c) return c;
  const order: string[] = [];
  const re = format.replace(/dd|MM|yyyy|yy|HH|mm|ss|[.*+?^${}()|[\]\\]/g, (t) => {
    if (FORMAT_TOKENS[t]) {
      order.push(t);
      return FORMAT_TOKENS[t];
    }
    return '\\' + t;
  });
  c = { re: new RegExp(`^${re.replace(/ /g, '\\s+')}$`), order };
  formatCache.set(format, c);
  return c;
}

/**
 * Parses a date. `format` like "dd.MM.yyyy HH:mm" (local time in `timeZone`); without a
 * format: ISO 8601 (with or without offset), "dd.MM.yyyy[ HH:mm[:ss]]", or an Excel date.
 */
export function parseDate(v: unknown, timeZone: string, format?: string): Date | undefined {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new Error('некорректная дата');
    return v;
  }
  if (typeof v === 'number' && !format) {
    // Excel serial date (days since 1899-12-30), local time.
    if (v < 20000 || v > 80000) throw new Error(`число ${v} не похоже на дату`);
    return fromLocal(new Date(Math.round((v - 25569) * 86400_000)), timeZone);
  }
  const s = str(v);
  if (s === undefined) return undefined;
  let fields: Record<string, number> | undefined;
  if (format) {
    const { re, order } = compileFormat(format);
    const m = re.exec(s);
    if (!m) throw new Error(`«${s.slice(0, 40)}» не соответствует формату ${format}`);
    fields = Object.fromEntries(order.map((t, i) => [t, Number(m[i + 1])]));
    if (fields.yy !== undefined) fields.yyyy = 2000 + fields.yy;
  } else {
    const ru = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
    if (ru) fields = { dd: +ru[1], MM: +ru[2], yyyy: +ru[3], HH: +(ru[4] ?? 0), mm: +(ru[5] ?? 0), ss: +(ru[6] ?? 0) };
    else if (/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) {
      const d = new Date(s.replace(' ', 'T'));
      if (Number.isNaN(d.getTime())) throw new Error(`некорректная дата «${s.slice(0, 40)}»`);
      return d;
    } else {
      const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?$/.exec(s);
      if (!iso) throw new Error(`не удалось распознать дату «${s.slice(0, 40)}»`);
      fields = { yyyy: +iso[1], MM: +iso[2], dd: +iso[3], HH: +(iso[4] ?? 0), mm: +(iso[5] ?? 0), ss: +(iso[6] ?? 0) };
    }
  }
  const { yyyy, MM, dd, HH = 0, mm = 0, ss = 0 } = fields as Record<string, number>;
  if (MM < 1 || MM > 12 || dd < 1 || dd > 31 || HH > 23 || mm > 59 || ss > 59) throw new Error(`некорректная дата «${s.slice(0, 40)}»`);
  const local = new Date(Date.UTC(yyyy, MM - 1, dd, HH, mm, ss));
  if (local.getUTCDate() !== dd) throw new Error(`несуществующая дата «${s.slice(0, 40)}»`);
  return fromLocal(local, timeZone);
}

/** A wall-clock time (stored as if UTC) in the zone → the real instant. */
function fromLocal(local: Date, timeZone: string): Date {
  const guess = new Date(local.getTime() - offsetFor(timeZone, local) * 60000);
  return new Date(local.getTime() - offsetFor(timeZone, guess) * 60000);
}
