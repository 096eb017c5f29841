import { offsetLabel, zoneTable } from '../util/timezone.js';

/**
 * `GET requests` rendered by PostgreSQL and JS together, without per-field JS values: one statement selects the page
 * of appeals and writes the fixed parts of each request's JSON object (or XML element) as text — id, status, the
 * theme's and the organisation's names (escaped once per theme / organisation), the ISO times — and returns between
 * them the few values JS renders itself, exactly as the reference path (Open311Service.view) does:
 *
 * - `description` and an answer's `status_notes` through maskPersonalText (the one masking of texts for the public)
 *   and the 4 000-character cut;
 * - `address`, `lat`, `long` at the municipality's precision (publicAddress, publicCoordinate), and `media_url`.
 *
 * ISO times use the same offset table as isoFormatter (zoneTable in server/util/timezone.ts), so both give the same text;
 * test/open311.test.ts compares the two renderings byte for byte.
 */

/** The raw columns of a request (the reference path's input; the benchmark's raw SQL baseline selects the same). */
export const REQUEST_COLUMNS = `a.id, a.status, a.answer_text, t.code, t.name AS theme_name, a.text, o.name AS agency, a.received_at, a.updated_at,
       a.answered_at, a.answer_due_at AS due, a.address, ST_Y(a.point) AS lat, ST_X(a.point) AS lon, r.media_url, a.duplicate_of_id`;

/** Characters XML 1.0 cannot carry (PostgreSQL text holds no NUL and no surrogates): removed, as xmlText does. */
const XML_INVALID = String.raw`'[\x01-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]'`;

/**
 * The ISO 8601 text of a timestamptz expression at the zone's offsets (as isoFormatter), or NULL. The current period
 * (where nearly every appeal's times are) is one comparison (`z.since`, `z.mins`, `z.label`); an earlier time finds
 * its period by binary search (width_bucket) in the zone's table (`z.f` starts, `z.m` minutes, `z.l` labels). All
 * bound once per statement: see zoneParams.
 */
function isoSql(col: string): string {
  const k = `GREATEST(width_bucket(${col}, z.f), 1)`;
  return `(CASE WHEN ${col} >= z.since THEN to_char((${col} AT TIME ZONE 'UTC') + z.mins, 'YYYY-MM-DD"T"HH24:MI:SS') || z.label
    ELSE to_char((${col} AT TIME ZONE 'UTC') + make_interval(mins => z.m[${k}]), 'YYYY-MM-DD"T"HH24:MI:SS') || z.l[${k}] END)`;
}

/** The parameters of the zone table (the last six of the statement). */
export function zoneParams(timeZone: string): [string, string, string, string[], number[], string[]] {
  const { from, minutes } = zoneTable(timeZone);
  const last = from.length - 1;
  return [new Date(from[last]).toISOString(), `${minutes[last]} minutes`, offsetLabel(minutes[last]),
    from.map((ms) => new Date(ms).toISOString()), minutes, minutes.map(offsetLabel)];
}

/** JSON.stringify in SQL (PostgreSQL escapes strings as JSON.stringify does: \" \\ \b \f \n \r \t, other controls \u00xx). */
const j = (e: string) => `COALESCE(to_json(${e})::text, 'null')`;
/** xmlText in SQL: invalid characters removed, then & < > " ' escaped. */
const x = (e: string) =>
  `COALESCE(replace(replace(replace(replace(replace(regexp_replace(${e}, ${XML_INVALID}, '', 'g'), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&apos;'), '')`;

const CLOSED = `a.status IN ('ANSWERED', 'CLOSED', 'REJECTED')`;
/** status_notes of an appeal without an answer (fixed texts, nothing to escape); with one, JS writes them (masked, «Отклонено: » first on a rejection). */
const FIXED_NOTES = `CASE WHEN a.status = 'REJECTED' THEN 'Отклонено' WHEN a.duplicate_of_id IS NOT NULL THEN 'Повторяет обращение ' || a.duplicate_of_id
  WHEN a.status = 'IN_PROGRESS' THEN 'В работе' END`;
const UPDATED = `CASE WHEN ${CLOSED} AND a.answered_at > a.updated_at THEN a.answered_at ELSE a.updated_at END`;

export interface RenderedRow {
  /** From the start of the request to `status_notes`' value (included when there is no answer). */
  p1: string;
  /** The answer, when not empty: then status_notes are JS's («Отклонено: » first when `rejected`). */
  answer: string | null;
  rejected: boolean;
  /** From after status_notes to `description`'s value. */
  p2: string;
  text: string;
  /** From after the description to `address`' value. */
  p3: string;
  address: string | null;
  lat: number | null;
  lon: number | null;
  media_url: string | null;
}

const statements = new Map<string, string>();

/**
 * The statement around a page query `inner` (selecting the page's appeals, ordered and limited, as `a`): joins and
 * rendering happen only for the page's rows, in its order (`order`: the same keys; nested loops keep it, so rows
 * stream out as they are made). Parameters: the inner query's, then zoneParams'.
 */
export function renderStatement(format: 'json' | 'xml', inner: string, order: string): string {
  const cacheKey = `${format}\u0000${inner}\u0000${order}`;
  const hit = statements.get(cacheKey);
  if (hit) return hit;
  const iso = isoSql;
  const status = `CASE WHEN ${CLOSED} THEN 'closed' ELSE 'open' END`;
  const p1 = format === 'json'
    ? `'{"service_request_id":"' || a.id || '","status":"' || ${status} || '","status_notes":' || CASE WHEN a.answer_text <> '' THEN '' ELSE COALESCE('"' || ${FIXED_NOTES} || '"', 'null') END`
    : `'<request><service_request_id>' || a.id || '</service_request_id><status>' || ${status}
       || '</status><status_notes>' || CASE WHEN a.answer_text <> '' THEN '' ELSE COALESCE(${FIXED_NOTES}, '') END`;
  const p2 = format === 'json'
    ? `',"service_name":' || COALESCE(t.name_r, '"Тема не определена"') || ',"service_code":' || COALESCE(t.code_r, '"unclassified"') || ',"description":'`
    : `'</status_notes><service_name>' || COALESCE(t.name_r, 'Тема не определена') || '</service_name><service_code>' || COALESCE(t.code_r, 'unclassified')
       || '</service_code><description>'`;
  const p3 = format === 'json'
    ? `',"agency_responsible":' || COALESCE(o.name_r, 'null') || ',"service_notice":null,"requested_datetime":"'
       || ${iso('a.received_at')} || '","updated_datetime":' || COALESCE('"' || ${iso(UPDATED)} || '"', 'null')
       || ',"expected_datetime":' || COALESCE('"' || ${iso('a.answer_due_at')} || '"', 'null') || ',"address":'`
    : `'</description><agency_responsible>' || COALESCE(o.name_r, '') || '</agency_responsible><service_notice></service_notice><requested_datetime>'
       || ${iso('a.received_at')} || '</requested_datetime><updated_datetime>' || COALESCE(${iso(UPDATED)}, '')
       || '</updated_datetime><expected_datetime>' || COALESCE(${iso('a.answer_due_at')}, '') || '</expected_datetime><address>'`;
  // Names of themes and organisations rendered once per theme / organisation of the page: the expressions are not
  // strict (COALESCE), so PostgreSQL evaluates them at the scan of theme / organization, below its Memoize cache (a
  // strict one would be evaluated for every appeal, and to_json looks its type up on every call).
  const render = format === 'json' ? j : x;
  const sql = `SELECT ${p1} AS p1, CASE WHEN a.answer_text <> '' THEN a.answer_text END AS answer, a.status = 'REJECTED' AS rejected,
       ${p2} AS p2, a.text, ${p3} AS p3, a.address, ST_Y(a.point) AS lat, ST_X(a.point) AS lon, r.media_url
  FROM (${inner}) a
  CROSS JOIN (SELECT ?::timestamptz AS since, ?::interval AS mins, ?::text AS label, ?::timestamptz[] AS f, ?::int[] AS m, ?::text[] AS l) z
  LEFT JOIN (SELECT id, ${render('name')} AS name_r, ${render('code')} AS code_r FROM theme) t ON t.id = a.theme_id
  LEFT JOIN (SELECT id, ${render('name')} AS name_r FROM organization) o ON o.id = a.organization_id
  LEFT JOIN open311_request r ON r.appeal_id = a.id
 ORDER BY ${order}`;
  if (statements.size > 200) statements.clear();
  statements.set(cacheKey, sql);
  return sql;
}
