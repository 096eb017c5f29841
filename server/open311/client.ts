import fs from 'node:fs';
import dns from 'node:dns/promises';
import net from 'node:net';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { Channel } from '../reference/entities.js';
import { repoRoot } from '../reference/files.js';
import { IntakeService } from '../intake/service.js';
import type { Issue } from '../intake/normalize.js';
import { XMLParser } from 'fast-xml-parser';

/**
 * The Open311 client importer: pulls requests from another GeoReport v2 server into the hub, incrementally, through
 * the ordinary intake pipeline (IntakeService.importRecords: validation, geocoding, classification, routing,
 * duplicates; idempotent by channel + external id `open311:<source id>:<their service_request_id>`).
 *
 * Incremental: by `updated_datetime` where the server offers it (mapping `"incremental": "updated"`: the
 * `updated_after`/`updated_before` parameters, as this hub's own endpoint does), the cursor being the end of the last
 * window pulled; otherwise by windows of `requested_datetime` of at most 90 days (`start_date`/`end_date`), the next
 * run starting `overlapDays` before the last window's end so that recent requests' status changes come too. A window
 * that returns as many requests as the server's cap (`maxResults`, 1 000 by the spec) is split in halves.
 * Every fetch has a timeout and a size bound; errors name the URL and what was wrong with its answer.
 */
export interface Open311Mapping {
  name?: string;
  channel?: Channel;
  /** Their service_code → our theme code. Unmapped codes are tried as our theme code or name, else classified from the text. */
  services?: Record<string, string>;
  /** Their status → our status (default open → NEW, closed → CLOSED). */
  status?: Record<string, string>;
  /** Take agency_responsible as the organisation (by name or code); off: our routing decides. */
  agency?: boolean;
  incremental?: 'updated' | 'window';
  windowDays?: number;
  overlapDays?: number;
  maxResults?: number;
  /** The server pages with page/page_size (this hub does); without it a full window is split instead. */
  paging?: boolean;
  /** `xml` for a server that speaks only XML (the specification's required format; JSON is optional). Default `json`. */
  format?: 'json' | 'xml';
  jurisdictionId?: string;
}

export interface PullOptions {
  baseUrl: string;
  mapping?: Open311Mapping | unknown;
  /** Start of the first pull (default: the last 90 days); later pulls continue from the stored cursor. */
  since?: Date;
  now?: Date;
  fetch?: typeof fetch;
  timeoutMs?: number;
  maxBytes?: number;
  /** Bounds of one run. */
  maxCalls?: number;
  maxRecords?: number;
  actor: string;
}

export interface PullReport {
  sourceId: number;
  baseUrl: string;
  mode: 'updated' | 'window';
  calls: number;
  fetched: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  flagged: number;
  batchIds: number[];
  cursor: string | null;
  issues: Issue[];
  /** Set when the run stopped early (a bound reached); the cursor marks what was completed. */
  stoppedEarly?: string;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

export function parseOpen311Mapping(raw: unknown, at = 'mapping'): Open311Mapping {
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(at, 'ожидается JSON-объект');
  const m = raw as Record<string, unknown>;
  const out: Open311Mapping = {};
  const dict = (k: string) => {
    const v = m[k];
    if (v == null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new InputError(`${at}.${k}`, 'ожидается объект «их значение → наш код»');
    return v as Record<string, string>;
  };
  if (m.name != null) out.name = String(m.name).slice(0, 200);
  if (m.channel != null) {
    if (!(Object.values(Channel) as unknown[]).includes(m.channel)) throw new InputError(`${at}.channel`, `неизвестный канал «${String(m.channel).slice(0, 40)}»`);
    out.channel = m.channel as Channel;
  }
  out.services = dict('services');
  out.status = dict('status');
  if (m.agency != null) out.agency = m.agency === true;
  if (m.incremental != null) {
    if (m.incremental !== 'updated' && m.incremental !== 'window') throw new InputError(`${at}.incremental`, 'ожидается updated или window');
    out.incremental = m.incremental;
  }
  const int = (k: 'windowDays' | 'overlapDays' | 'maxResults', min: number, max: number) => {
    if (m[k] == null) return;
    const v = m[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new InputError(`${at}.${k}`, `целое число от ${min} до ${max}`);
    out[k] = v;
  };
  int('windowDays', 1, 90);
  int('overlapDays', 0, 90);
  int('maxResults', 1, 100_000);
  if (m.paging != null) out.paging = m.paging === true;
  if (m.format != null) {
    if (m.format !== 'json' && m.format !== 'xml') throw new InputError(`${at}.format`, 'ожидается json или xml');
    out.format = m.format;
  }
  if (m.jurisdictionId != null) out.jurisdictionId = String(m.jurisdictionId).slice(0, 100);
  return out;
}

/** A mapping file from db/mappings/ by name (`open311`) or a path. */
export function readOpen311Mapping(file: string): Open311Mapping {
  const p = fs.existsSync(file) ? file : path.join(repoRoot(), 'db', 'mappings', `${file}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    throw new InputError('mapping', `файл сопоставления ${file} не читается как JSON: ${(e as Error).message}`);
  }
  return parseOpen311Mapping(raw, path.basename(p));
}

/** Loopback, private, link-local and unique-local addresses (what a server-side fetch must not be pointed at by a user). */
export function isPrivateAddress(ip: string): boolean {
  if (net.isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number);
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  const v = ip.toLowerCase();
  if (v.startsWith('::ffff:')) return isPrivateAddress(v.slice(7));
  return v === '::1' || v === '::' || v.startsWith('fc') || v.startsWith('fd') || v.startsWith('fe80');
}

/**
 * For pulls started through GraphQL: the server must be public (no loopback or private network address), unless
 * OPEN311_IMPORT_ALLOW_PRIVATE=1 (a source inside the municipality's own network). The CLI is run by an operator and
 * is not restricted.
 */
export async function assertPublicSource(baseUrl: string): Promise<void> {
  if (process.env.OPEN311_IMPORT_ALLOW_PRIVATE === '1') return;
  const u = normaliseBase(baseUrl);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true })).map((a) => a.address);
  } catch {
    throw new InputError('baseUrl', `адрес ${host} не найден (DNS)`);
  }
  if (addresses.some(isPrivateAddress)) {
    throw new InputError('baseUrl', `${host} — адрес внутренней сети; загрузка с него разрешается настройкой OPEN311_IMPORT_ALLOW_PRIVATE=1 или командой npm run import`);
  }
}

interface RemoteRequest {
  service_request_id?: unknown; status?: unknown; status_notes?: unknown; service_name?: unknown; service_code?: unknown; description?: unknown;
  agency_responsible?: unknown; requested_datetime?: unknown; updated_datetime?: unknown; expected_datetime?: unknown; address?: unknown;
  lat?: unknown; long?: unknown; media_url?: unknown;
}

const text = (v: unknown, max = 20_000): string | undefined => {
  if (v == null) return undefined;
  const s = (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '').trim();
  return s ? s.slice(0, max) : undefined;
};

/** An http(s) link as its standard serialisation (a valid URI, as the media_url we publish must be), or undefined. */
function publicUrl(v: string | undefined): string | undefined {
  if (!v) return undefined;
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.href.length <= 2000 ? u.href : undefined;
  } catch {
    return undefined;
  }
}

function normaliseBase(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError('baseUrl', `«${url.slice(0, 100)}» — не URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError('baseUrl', 'адрес сервера Open311 — http(s)');
  if (u.username || u.password) throw new InputError('baseUrl', 'адрес не должен содержать логин и пароль');
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

const xmlParser = new XMLParser({
  ignoreAttributes: true, parseTagValue: false, processEntities: true, htmlEntities: false,
  isArray: (name, path) => path === 'service_requests.request' || path === 'errors.error',
});

/**
 * A GeoReport XML document as the JSON one: `service_requests` → its `request` list (every value a string, an empty
 * element null), `errors` → its `error` list; anything else → null.
 */
function fromXml(body: string): unknown {
  const doc = xmlParser.parse(body) as Record<string, unknown>;
  const list = (v: unknown, item: string) => {
    const items = v && typeof v === 'object' ? (v as Record<string, unknown>)[item] : undefined;
    return (Array.isArray(items) ? items : []).map((x) => (x && typeof x === 'object'
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, val]) => [k, val === '' || typeof val === 'object' ? null : val]))
      : x));
  };
  if ('service_requests' in doc) return list(doc.service_requests, 'request');
  if ('errors' in doc) return list(doc.errors, 'error');
  return null;
}

/** GET of one JSON (or GeoReport XML) document with a timeout and a size bound; every error names the URL. */
async function fetchJson(fetchImpl: typeof fetch, url: string, timeoutMs: number, maxBytes: number, format: 'json' | 'xml' = 'json'): Promise<unknown> {
  const shown = url.replace(/([?&]api_key=)[^&]*/, '$1…');
  let res: Response;
  try {
    res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: format === 'xml' ? 'application/xml, text/xml' : 'application/json' }, redirect: 'error' });
  } catch (e) {
    const err = e as Error;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = err.name === 'TimeoutError' || err.name === 'AbortError' ? `нет ответа за ${Math.round(timeoutMs / 1000)} с`
      : cause?.code ? `${err.message} (${cause.code})` : err.message;
    throw new InputError('open311', `${shown}: запрос не выполнен — ${why}`);
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  if (length > maxBytes) throw new InputError('open311', `${shown}: ответ ${Math.round(length / 1024)} КБ больше допустимых ${Math.round(maxBytes / 1024)} КБ`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new InputError('open311', `${shown}: ответ больше допустимых ${Math.round(maxBytes / 1024)} КБ`);
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError('open311', `${shown}: ответ не дочитан — ${(e as Error).name === 'TimeoutError' ? `нет ответа за ${Math.round(timeoutMs / 1000)} с` : (e as Error).message}`);
    }
  }
  const body = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    if (format === 'xml') {
      if (!/^\s*(?:<\?xml[^>]*>\s*)?<(?:service_requests|errors)[\s>/]/.test(body)) throw new Error('not GeoReport XML');
      json = fromXml(body);
    } else {
      json = JSON.parse(body);
    }
  } catch {
    throw new InputError('open311', `${shown}: HTTP ${res.status}, ответ не ${format === 'xml' ? 'XML GeoReport (service_requests или errors)' : 'JSON'}: «${body.slice(0, 120)}»`);
  }
  if (!res.ok) {
    const errs = Array.isArray(json) ? json.map((x) => (x && typeof x === 'object' ? `${(x as { code?: unknown }).code ?? ''} ${(x as { description?: unknown }).description ?? ''}`.trim() : '')).join('; ') : '';
    throw new InputError('open311', `${shown}: HTTP ${res.status}${errs ? ` — ${errs.slice(0, 300)}` : ''}`);
  }
  return json;
}

export class Open311Client {
  constructor(private readonly em: EntityManager, private readonly municipalityId: number) {}

  async pull(opts: PullOptions): Promise<PullReport> {
    const base = normaliseBase(opts.baseUrl);
    const mapping = parseOpen311Mapping(opts.mapping);
    const channel = mapping.channel ?? Channel.OPEN311;
    const fetchImpl = opts.fetch ?? globalThis.fetch;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const maxBytes = opts.maxBytes ?? 20 * 1024 * 1024;
    const maxCalls = opts.maxCalls ?? 1000;
    const maxRecords = opts.maxRecords ?? 200_000;
    const now = opts.now ?? new Date();
    const mode = mapping.incremental ?? 'window';
    const windowMs = (mapping.windowDays ?? 90) * DAY;
    const cap = mapping.maxResults ?? 1000;

    const [src] = await query<{ id: number; updated_cursor: Date | null; window_cursor: Date | null; channel: string }>(this.em,
      `INSERT INTO open311_source (municipality_id, base_url, channel) VALUES (?, ?, ?)
       ON CONFLICT (municipality_id, base_url) DO UPDATE SET channel = excluded.channel
       RETURNING id, updated_cursor, window_cursor, channel`, [this.municipalityId, base.href, channel]);
    const report: PullReport = {
      sourceId: src.id, baseUrl: base.href, mode, calls: 0, fetched: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, flagged: 0,
      batchIds: [], cursor: null, issues: [],
    };
    const stored = mode === 'updated' ? src.updated_cursor : src.window_cursor;
    let start = stored
      ? new Date(new Date(stored).getTime() - (mode === 'window' ? (mapping.overlapDays ?? 7) * DAY : 0))
      : opts.since ?? new Date(now.getTime() - 90 * DAY);
    if (opts.since && stored && opts.since < start) start = opts.since;
    const url = (resource: string, params: Record<string, string>) => {
      const u = new URL(resource, base);
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      if (mapping.jurisdictionId) u.searchParams.set('jurisdiction_id', mapping.jurisdictionId);
      return u.href;
    };
    const get = async (resource: string, params: Record<string, string>): Promise<RemoteRequest[]> => {
      if (report.calls >= maxCalls) throw new StopPull(`достигнут предел ${maxCalls} запросов за один запуск`);
      report.calls++;
      const u = url(resource, params);
      const json = await fetchJson(fetchImpl, u, timeoutMs, maxBytes, mapping.format);
      if (!Array.isArray(json)) throw new InputError('open311', `${u}: ожидается JSON-массив заявок, получено ${json === null ? 'null' : typeof json}`);
      return json as RemoteRequest[];
    };
    const fmt = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const requestsPath = mapping.format === 'xml' ? 'requests.xml' : 'requests.json';
    const [after, before] = mode === 'updated' ? ['updated_after', 'updated_before'] : ['start_date', 'end_date'];

    /** The requests of one window (paged, or split while the server's cap is reached). */
    const windowRequests = async (from: Date, to: Date): Promise<RemoteRequest[]> => {
      if (mapping.paging || mode === 'updated') {
        const out: RemoteRequest[] = [];
        for (let page = 1; ; page++) {
          const rows = await get(requestsPath, { [after]: fmt(from), [before]: fmt(to), page: String(page), page_size: String(cap) });
          out.push(...rows);
          if (out.length > maxRecords) throw new StopPull(`в окне больше ${maxRecords} заявок`);
          if (rows.length < cap) return out;
        }
      }
      const rows = await get(requestsPath, { [after]: fmt(from), [before]: fmt(to) });
      if (rows.length < cap || to.getTime() - from.getTime() <= HOUR) return rows;
      const mid = new Date(Math.floor((from.getTime() + to.getTime()) / 2));
      return [...await windowRequests(from, mid), ...await windowRequests(new Date(mid.getTime() + 1000), to)];
    };

    const intake = new IntakeService(this.em, this.municipalityId, opts.actor);
    const statusMap: Record<string, string> = { open: 'NEW', closed: 'CLOSED', ...mapping.status };
    try {
      for (let from = start; from < now;) {
        // Whole seconds: the cursor is exactly the bound that was asked for (servers take ISO 8601 without fractions).
        const to = new Date(Math.floor(Math.min(from.getTime() + windowMs, now.getTime()) / 1000) * 1000);
        if (to <= from) break;
        const rows = await windowRequests(from, to);
        report.fetched += rows.length;
        if (report.fetched > maxRecords) throw new StopPull(`получено больше ${maxRecords} заявок`);
        const records: Record<string, unknown>[] = [];
        const media = new Map<string, string>();
        rows.forEach((r, i) => {
          if (!r || typeof r !== 'object') {
            report.issues.push({ line: i + 1, field: 'request', severity: 'ERROR', reason: `${fmt(from)}…${fmt(to)}: элемент ${i + 1} не объект` });
            report.rejected++;
            return;
          }
          const id = text(r.service_request_id, 200);
          const code = text(r.service_code, 200);
          const status = text(r.status, 40)?.toLowerCase();
          const closed = status === 'closed';
          const externalId = id ? `open311:${src.id}:${id}` : undefined;
          const mediaUrl = publicUrl(text(r.media_url, 2000));
          if (externalId && mediaUrl) media.set(externalId, mediaUrl);
          records.push({
            id: externalId,
            requested: text(r.requested_datetime, 60),
            description: text(r.description) ?? text(r.service_name, 500) ?? (code ? `Заявка Open311 (${code})` : undefined),
            address: text(r.address, 500),
            lat: typeof r.lat === 'number' || typeof r.lat === 'string' ? r.lat : undefined,
            lon: typeof r.long === 'number' || typeof r.long === 'string' ? r.long : undefined,
            service: code === 'unclassified' ? undefined : code ? (mapping.services?.[code] ?? code) : undefined,
            status: status ? (statusMap[status] ?? status) : undefined,
            answer: closed ? text(r.status_notes) : undefined,
            answered_at: closed ? text(r.updated_datetime, 60) : undefined,
            due: text(r.expected_datetime, 60),
            agency: mapping.agency ? text(r.agency_responsible, 500) : undefined,
          });
        });
        if (records.length) {
          const r = await intake.importRecords(records, { sourceName: `open311:${base.host}`.slice(0, 100), mapping: { ...PULL_MAPPING, channel } });
          report.batchIds.push(r.batchId);
          report.inserted += r.inserted;
          report.updated += r.updated;
          report.unchanged += r.unchanged;
          report.rejected += r.rejected;
          report.flagged += r.flagged;
          if (report.issues.length < 1000) report.issues.push(...r.issues.slice(0, 1000 - report.issues.length));
          if (r.status !== 'DONE') throw new InputError('open311', `импорт окна ${fmt(from)}…${fmt(to)} не завершён: ${r.error ?? 'ошибка'}`);
          if (media.size) {
            await query(this.em,
              `INSERT INTO open311_request (appeal_id, municipality_id, token, source_id, media_url)
               SELECT a.id, a.municipality_id, 'import:' || a.external_id, ?, m.url
                 FROM unnest(?::text[], ?::text[]) AS m(external_id, url)
                 JOIN appeal a ON a.municipality_id = ? AND a.channel = ? AND a.external_id = m.external_id
               ON CONFLICT (appeal_id, municipality_id) DO UPDATE SET media_url = excluded.media_url`,
              [src.id, [...media.keys()], [...media.values()], this.municipalityId, channel]);
          }
        }
        // The window is complete: the cursor moves to its end.
        await query(this.em, `UPDATE open311_source SET ${mode === 'updated' ? 'updated_cursor' : 'window_cursor'} = ?, last_run_at = now() WHERE id = ?`, [to.toISOString(), src.id]);
        report.cursor = to.toISOString();
        from = to;
      }
    } catch (e) {
      if (!(e instanceof StopPull)) throw e;
      report.stoppedEarly = e.message;
    }
    const summary = { ...report, issues: report.issues.length };
    await query(this.em, 'UPDATE open311_source SET last_run_at = now(), last_report = ?::jsonb WHERE id = ?', [JSON.stringify(summary), src.id]);
    return report;
  }
}

class StopPull extends Error {}

/** How a pulled request is read by the intake pipeline. */
export const PULL_MAPPING = {
  name: 'Open311 pull',
  format: 'jsonl',
  fields: {
    externalId: 'id', receivedAt: 'requested', text: 'description', address: 'address', lat: 'lat', lon: 'lon', theme: 'service',
    status: 'status', answerText: 'answer', answeredAt: 'answered_at', dueAt: 'due', organization: 'agency',
  },
};
