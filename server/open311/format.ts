/**
 * Open311 GeoReport v2 output: ISO 8601 times with the municipality's offset, the spec's XML documents and its
 * error format. Pure: no database, no HTTP.
 */

const formatters = new Map<string, (d: Date | string | null | undefined) => string | null>();

/**
 * Formats instants as ISO 8601 with the offset of a time zone ("2026-11-30T14:05:00+07:00"). One formatter per zone
 * for the process; the offset is looked up once per UTC day (when the day starts and ends with the same offset, the
 * whole day has it), per hour only on days with a transition.
 */
export function isoFormatter(timeZone: string): (d: Date | string | null | undefined) => string | null {
  let f = formatters.get(timeZone);
  if (!f) {
    f = makeIsoFormatter(timeZone);
    formatters.set(timeZone, f);
  }
  return f;
}

function makeIsoFormatter(timeZone: string): (d: Date | string | null | undefined) => string | null {
  const dtf = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  const lookup = (ms: number) => {
    const name = dtf.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
  };
  const days = new Map<number, number | null>();
  const hours = new Map<number, number>();
  const offsetMinutes = (ms: number) => {
    const day = Math.floor(ms / 86_400_000);
    let off = days.get(day);
    if (off === undefined) {
      const a = lookup(day * 86_400_000);
      const b = lookup((day + 1) * 86_400_000 - 1);
      off = a === b ? a : null;
      if (days.size > 100_000) days.clear();
      days.set(day, off);
    }
    if (off !== null) return off;
    const hour = Math.floor(ms / 3_600_000);
    let h = hours.get(hour);
    if (h === undefined) {
      h = lookup(ms);
      if (hours.size > 100_000) hours.clear();
      hours.set(hour, h);
    }
    return h;
  };
  return (d) => {
    if (d == null) return null;
    const ms = typeof d === 'string' ? Date.parse(d) : d.getTime();
    if (!Number.isFinite(ms)) return null;
    const off = offsetMinutes(ms);
    const local = new Date(ms + off * 60_000).toISOString().slice(0, 19);
    const a = Math.abs(off);
    return `${local}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  };
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
/** Characters XML 1.0 cannot carry at all (control characters other than tab, LF, CR; lone surrogates; U+FFFE/FFFF). */
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Whether a text needs any escaping or cleaning at all (most values — codes, numbers, times — do not). */
// eslint-disable-next-line no-control-regex
const XML_SPECIAL = /[&<>"'\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;

export function xmlText(s: string): string {
  if (!XML_SPECIAL.test(s)) return s;
  return s.replace(XML_INVALID, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

/**
 * A list of flat records (every value a scalar or null) as `<root><item><k>v</k>…</item>…</root>`: the hot path of
 * `GET requests.xml` (1 000 requests × 17 fields), without the generic recursion.
 */
export function xmlFlatList(root: string, item: string, rows: readonly object[]): string {
  const parts: string[] = [`<?xml version="1.0" encoding="utf-8"?><${root}>`];
  for (const row of rows) {
    let out = `<${item}>`;
    for (const k in row) {
      const v = (row as Record<string, unknown>)[k];
      out += v === null || v === undefined ? `<${k}></${k}>` : `<${k}>${xmlText(typeof v === 'string' ? v : String(v))}</${k}>`;
    }
    parts.push(`${out}</${item}>`);
  }
  parts.push(`</${root}>`);
  return parts.join('');
}

type XmlValue = string | number | boolean | null | undefined | XmlValue[] | { [k: string]: XmlValue };

/**
 * One element of the GeoReport XML: scalars as text (null → an empty element, as the spec's examples), arrays as
 * repeated children named by `itemName`, objects as nested elements in key order.
 */
export function xmlElement(name: string, value: XmlValue, itemNames: Record<string, string> = {}): string {
  if (value === null || value === undefined) return `<${name}></${name}>`;
  if (Array.isArray(value)) {
    const item = itemNames[name] ?? 'item';
    return `<${name}>${value.map((v) => xmlElement(item, v, itemNames)).join('')}</${name}>`;
  }
  if (typeof value === 'object') {
    let out = `<${name}>`;
    for (const k in value) out += xmlElement(k, value[k], itemNames);
    return `${out}</${name}>`;
  }
  return `<${name}>${xmlText(String(value))}</${name}>`;
}

export function xmlDocument(root: string, items: XmlValue[], item: string, itemNames: Record<string, string> = {}): string {
  let out = `<?xml version="1.0" encoding="utf-8"?><${root}>`;
  for (const v of items) out += xmlElement(item, v, itemNames);
  return `${out}</${root}>`;
}

/** An Open311 error: an HTTP status and the spec's [{code, description}] list. */
export class Open311Error extends Error {
  constructor(readonly status: number, readonly description: string, readonly code: number = status) {
    super(description);
  }
}

export function errorBody(format: 'json' | 'xml', errors: { code: number; description: string }[]): string {
  if (format === 'json') return JSON.stringify(errors);
  return xmlDocument('errors', errors, 'error');
}
