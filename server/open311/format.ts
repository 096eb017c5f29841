/**
 * Open311 GeoReport v2 output: ISO 8601 times with the municipality's offset, the spec's XML documents and its
 * error format. Pure: no database, no HTTP.
 */

import { offsetLabel, zoneTable, type ZoneTable } from '../util/timezone.js';

const formatters = new Map<string, (d: Date | string | null | undefined) => string | null>();

/**
 * Formats instants as ISO 8601 with the offset of a time zone ("2026-11-30T14:05:00+07:00"), whole seconds
 * (truncated). One formatter per zone for the process; offsets from the zone's whole-minute table (zoneTable in
 * server/util/timezone.ts, the table the SQL rendering binds too: render.ts); the newest period is checked first.
 */
export function isoFormatter(timeZone: string): (d: Date | string | null | undefined) => string | null {
  let f = formatters.get(timeZone);
  if (!f) {
    f = makeIsoFormatter(zoneTable(timeZone));
    if (formatters.size >= 500) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

function makeIsoFormatter({ from, minutes }: ZoneTable): (d: Date | string | null | undefined) => string | null {
  const labels = minutes.map(offsetLabel);
  const last = from.length - 1;
  return (d) => {
    if (d == null) return null;
    const ms = typeof d === 'string' ? Date.parse(d) : d.getTime();
    if (!Number.isFinite(ms)) return null;
    let i = last;
    while (i > 0 && ms < from[i]) i--;
    return `${new Date(ms + minutes[i] * 60_000).toISOString().slice(0, 19)}${labels[i]}`;
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

/** Characters JSON.stringify escapes in a string: quote, backslash, controls, lone surrogates. */
// eslint-disable-next-line no-control-regex
const JSON_SPECIAL = /["\\\u0000-\u001F\uD800-\uDFFF]/;

/** JSON.stringify of a string, without its per-character pass when there is nothing to escape (the usual text). */
export function jsonText(s: string): string {
  return JSON_SPECIAL.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** One flat record (every value a scalar or null) as `<item><k>v</k>…</item>` (null → an empty element). */
export function xmlRow(item: string, row: object): string {
  let out = `<${item}>`;
  for (const k in row) {
    const v = (row as Record<string, unknown>)[k];
    out += v === null || v === undefined ? `<${k}></${k}>` : `<${k}>${xmlText(typeof v === 'string' ? v : String(v))}</${k}>`;
  }
  return `${out}</${item}>`;
}

/** A list of flat records as `<root><item>…</item>…</root>` (the reference rendering of `GET requests.xml`). */
export function xmlFlatList(root: string, item: string, rows: readonly object[]): string {
  let out = `<?xml version="1.0" encoding="utf-8"?><${root}>`;
  for (const row of rows) out += xmlRow(item, row);
  return `${out}</${root}>`;
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
