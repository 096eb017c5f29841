import { recomputeDeadlines } from '../deadlines/appeals.js';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query, streamQuery } from '../db/sql.js';
import { IntakeService } from '../intake/service.js';
import { isoFormatter, jsonText, Open311Error, xmlText } from './format.js';
import { REQUEST_COLUMNS, renderStatement, zoneParams, type RenderedRow } from './render.js';
import { maskPersonalText, publicAddress, publicCoordinate, type AddressPrecision } from './mask.js';
import type { VerifiedKey } from './keys.js';

/**
 * Open311 GeoReport v2 over the hub's data (no HTTP here; server/open311/routes.ts serves it).
 * Services are the rubricator's leaf themes (group = the parent theme), plus `unclassified` for a request whose
 * theme the classifier decides from the description. Requests are appeals of every channel, published without
 * personal data: the author never, the address at the municipality's precision, the description masked.
 */

/** The service whose requests are classified from their description. */
export const UNCLASSIFIED = 'unclassified';
export const MAX_RANGE_DAYS = 90;
export const MAX_PAGE_SIZE = 1000;
const MAX_IDS = 100;
const DAY = 86_400_000;

export interface Municipality { id: number; code: string; name: string; timezone: string; lon: number; lat: number }

export interface Service {
  service_code: string; service_name: string; description: string | null; metadata: boolean; type: 'realtime';
  keywords: string | null; group: string | null;
}

export interface Attribute {
  variable: boolean; code: string; datatype: 'singlevaluelist'; required: boolean; datatype_description: string | null;
  order: number; description: string; values: { key: string; name: string }[];
}

const YES_NO = [{ key: 'yes', name: 'Да' }, { key: 'no', name: 'Нет' }];
const DANGER: Attribute = {
  variable: true, code: 'danger_to_life', datatype: 'singlevaluelist', required: false, datatype_description: 'Да или нет',
  order: 1, description: 'Есть угроза жизни или здоровью людей (обращение будет рассмотрено как срочное)', values: YES_NO,
};
const WHOLE_BUILDING = (what: string): Attribute => ({
  variable: true, code: 'whole_building', datatype: 'singlevaluelist', required: false, datatype_description: 'Да или нет',
  order: 2, description: `Без ${what} весь дом или несколько домов (обращение будет рассмотрено как срочное)`, values: YES_NO,
});

/**
 * Themes that ask for extra attributes: the ones where an appeal can be urgent (an accident, danger to life, a
 * building without heat, water or power). Either attribute answered «yes» marks the appeal urgent (appeal.urgent,
 * an URGENCY event), which the deadlines capability reads.
 */
export const SERVICE_ATTRIBUTES: Record<string, Attribute[]> = {
  'gkh.heating': [DANGER, WHOLE_BUILDING('отопления или горячей воды')],
  'gkh.water': [DANGER, WHOLE_BUILDING('холодной воды')],
  'gkh.electricity': [DANGER, WHOLE_BUILDING('электроснабжения')],
  'gkh.sewerage': [DANGER],
  'roads.traffic': [DANGER],
  'safety.emergency': [DANGER],
  'safety.abandoned': [DANGER],
};

export interface RequestView {
  service_request_id: string;
  status: 'open' | 'closed';
  status_notes: string | null;
  service_name: string | null;
  service_code: string;
  description: string | null;
  agency_responsible: string | null;
  service_notice: string | null;
  requested_datetime: string;
  updated_datetime: string | null;
  expected_datetime: string | null;
  address: string | null;
  address_id: string | null;
  zipcode: string | null;
  lat: number | null;
  long: number | null;
  media_url: string | null;
}

export interface RequestFilter {
  ids?: number[];
  serviceCodes?: string[];
  start: Date;
  end: Date;
  /** Window on updated_datetime instead of requested_datetime (extension `updated_after`/`updated_before`). */
  byUpdated: boolean;
  status?: 'open' | 'closed';
  page: number;
  pageSize: number;
}

const OPEN_STATUSES = ['NEW', 'IN_PROGRESS'];
const CLOSED_STATUSES = ['ANSWERED', 'CLOSED', 'REJECTED'];

interface RequestRow {
  id: number; status: string; answer_text: string | null; code: string | null; theme_name: string | null; text: string;
  agency: string | null; received_at: Date; updated_at: Date | null; answered_at: Date | null; due: Date | null; address: string | null;
  lat: number | null; lon: number | null; media_url: string | null; duplicate_of_id: number | null;
}

/** The published columns of a request (shared with the benchmark's raw SQL baseline, which selects the same). */
export const REQUEST_SELECT = `SELECT ${REQUEST_COLUMNS}
  FROM appeal a
  LEFT JOIN theme t ON t.id = a.theme_id
  LEFT JOIN organization o ON o.id = a.organization_id
  LEFT JOIN open311_request r ON r.appeal_id = a.id`;

/** The appeal columns the rendering statement reads (server/open311/render.ts). */
const PAGE_COLUMNS = 'a.id, a.status, a.answer_text, a.theme_id, a.organization_id, a.text, a.received_at, a.updated_at, a.answered_at, a.answer_due_at, a.address, a.point, a.duplicate_of_id';

/** At most n characters (code points, as the schema's maxLength counts them): longer texts end in «…». */
const truncate = (s: string, n: number) => {
  if (s.length <= n) return s;
  const points = Array.from(s);
  return points.length > n ? `${points.slice(0, n - 1).join('')}…` : s;
};

export class Open311Service {
  readonly iso: (d: Date | string | null | undefined) => string | null;

  constructor(private readonly em: EntityManager, readonly municipality: Municipality, readonly precision: AddressPrecision) {
    this.iso = isoFormatter(municipality.timezone);
  }

  static async municipality(em: EntityManager, id: number): Promise<Municipality> {
    const [m] = await query<Municipality>(em, 'SELECT id, code, name, timezone, ST_X(center) AS lon, ST_Y(center) AS lat FROM municipality WHERE id = ?', [id]);
    return m;
  }

  async services(): Promise<Service[]> {
    const rows = await query<{ code: string; name: string; keywords: string[]; group_name: string | null; block: string | null }>(this.em,
      `SELECT t.code, t.name, t.keywords, p.name AS group_name, b.name AS block
         FROM theme t LEFT JOIN theme p ON p.id = t.parent_id LEFT JOIN thematic_block b ON b.id = t.block_id
        WHERE t.municipality_id = ? AND t.is_leaf ORDER BY t.code`, [this.municipality.id]);
    const out: Service[] = rows.map((r) => ({
      service_code: r.code,
      service_name: r.name,
      description: r.block ? `${r.name}. Тематический блок: ${r.block}` : r.name,
      metadata: !!SERVICE_ATTRIBUTES[r.code],
      type: 'realtime',
      keywords: r.keywords.length ? r.keywords.join(',') : null,
      group: r.group_name ?? r.block,
    }));
    out.push({
      service_code: UNCLASSIFIED, service_name: 'Другое (тема будет определена по описанию)',
      description: 'Опишите проблему: тему и ответственную организацию определит система', metadata: false, type: 'realtime', keywords: null, group: 'Прочее',
    });
    return out;
  }

  async serviceDefinition(code: string): Promise<{ service_code: string; attributes: Attribute[] }> {
    await this.themeOf(code);
    return { service_code: code, attributes: SERVICE_ATTRIBUTES[code] ?? [] };
  }

  /** The leaf theme of a service code (null for `unclassified`); an unknown code is a 404. */
  private async themeOf(code: string): Promise<{ id: number; name: string } | null> {
    if (code === UNCLASSIFIED) return null;
    if (code.length > 100) throw new Open311Error(404, `Услуга (service_code) «${code.slice(0, 40)}…» не найдена`);
    const [t] = await query<{ id: number; name: string }>(this.em, 'SELECT id, name FROM theme WHERE municipality_id = ? AND code = ? AND is_leaf', [this.municipality.id, code]);
    if (!t) throw new Open311Error(404, `Услуга (service_code) «${code}» не найдена: список услуг — GET services`);
    return t;
  }

  view(r: RequestRow): RequestView {
    const closed = CLOSED_STATUSES.includes(r.status);
    let notes: string | null = null;
    if (r.answer_text) notes = truncate(maskPersonalText(r.answer_text), 4000);
    else if (r.status === 'REJECTED') notes = 'Отклонено';
    else if (r.duplicate_of_id != null) notes = `Повторяет обращение ${r.duplicate_of_id}`;
    else if (r.status === 'IN_PROGRESS') notes = 'В работе';
    if (r.status === 'REJECTED' && r.answer_text) notes = `Отклонено: ${notes}`;
    return {
      service_request_id: String(r.id),
      status: closed ? 'closed' : 'open',
      status_notes: notes,
      service_name: r.theme_name ?? 'Тема не определена',
      service_code: r.code ?? UNCLASSIFIED,
      description: truncate(maskPersonalText(r.text), 4000),
      agency_responsible: r.agency,
      service_notice: null,
      requested_datetime: this.iso(r.received_at)!,
      updated_datetime: this.iso(closed && r.answered_at && r.updated_at && r.answered_at > r.updated_at ? r.answered_at : r.updated_at),
      expected_datetime: this.iso(r.due),
      address: publicAddress(r.address, this.precision),
      address_id: null,
      zipcode: null,
      lat: publicCoordinate(r.lat, this.precision),
      long: publicCoordinate(r.lon, this.precision),
      media_url: r.media_url,
    };
  }

  /** WHERE, ORDER BY and parameters of a page of requests (LIMIT/OFFSET parameters last). */
  private page(f: RequestFilter): { where: string; order: string; params: unknown[] } {
    const where: string[] = ['a.municipality_id = ?'];
    const params: unknown[] = [this.municipality.id];
    if (f.ids) {
      // service_request_id overrides every other argument (spec).
      where.push('a.id = ANY(?::int[])');
      params.push(f.ids);
    } else {
      const col = f.byUpdated ? 'a.updated_at' : 'a.received_at';
      where.push(`${col} >= ?::timestamptz`, `${col} <= ?::timestamptz`);
      params.push(f.start.toISOString(), f.end.toISOString());
      if (f.serviceCodes?.length) {
        const codes = f.serviceCodes.filter((c) => c !== UNCLASSIFIED);
        const cond: string[] = [];
        if (codes.length) {
          cond.push('a.theme_id IN (SELECT id FROM theme WHERE municipality_id = ? AND code = ANY(?::text[]))');
          params.push(this.municipality.id, codes);
        }
        if (codes.length < f.serviceCodes.length) cond.push('a.theme_id IS NULL');
        where.push(`(${cond.join(' OR ')})`);
      }
      if (f.status) {
        where.push('a.status = ANY(?::text[])');
        params.push(f.status === 'open' ? OPEN_STATUSES : CLOSED_STATUSES);
      }
    }
    params.push(f.pageSize, (f.page - 1) * f.pageSize);
    return { where: where.join(' AND '), order: f.byUpdated ? 'a.updated_at ASC, a.id ASC' : 'a.received_at DESC, a.id DESC', params };
  }

  /**
   * The requests as JS objects, each through view(): the reference rendering (GET requests is served by
   * renderRequests, which must give the same text; test/open311.test.ts compares them).
   */
  async requests(f: RequestFilter): Promise<RequestView[]> {
    const { where, order, params } = this.page(f);
    const rows = await query<RequestRow>(this.em, `${REQUEST_SELECT} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`, params);
    return rows.map((r) => this.view(fixDates(r)));
  }

  /**
   * GET requests as the document a client receives (JSON array or XML `service_requests`), rendered by one statement
   * and this loop (server/open311/render.ts) and handed to `write` in pieces of about 64 KB as the rows arrive. The
   * same text as the reference path (requests() through view(), serialised).
   */
  async renderRequests(f: RequestFilter, format: 'json' | 'xml', write: (chunk: string) => void): Promise<number> {
    const { where, order, params } = this.page(f);
    const sql = renderStatement(format, `SELECT ${PAGE_COLUMNS} FROM appeal a WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`, order);
    const precision = this.precision;
    const json = format === 'json';
    // Pieces collected in an array and joined once per ~32 KB (one copy; a long chain of += would be flattened piece by piece).
    const pieces: string[] = [json ? '[' : '<?xml version="1.0" encoding="utf-8"?><service_requests>'];
    let size = 0;
    let first = true;
    const addresses = new Map<string | null, string>();
    const n = await streamQuery(this.em, sql, [...params, ...zoneParams(this.municipality.timezone)], (row) => {
      const r = rowOf(row);
      const esc = json ? jsonText : xmlText;
      let notes = '';
      if (r.answer !== null) {
        const masked = truncate(maskPersonalText(r.answer), 4000);
        notes = esc(r.rejected ? `Отклонено: ${masked}` : masked);
      }
      const description = esc(truncate(maskPersonalText(r.text), 4000));
      // Addresses recur (many appeals per house): each distinct one is cut and escaped once per answer.
      let address = addresses.get(r.address);
      if (address === undefined) {
        const a = publicAddress(r.address, precision);
        address = json ? (a === null ? 'null' : jsonText(a)) : a === null ? '' : xmlText(a);
        addresses.set(r.address, address);
      }
      const lat = publicCoordinate(r.lat, precision);
      const lon = publicCoordinate(r.lon, precision);
      // Numbers as JSON.stringify and String write them (finite, -0 as 0); null as each format's.
      if (json) {
        if (!first) pieces.push(',');
        pieces.push(r.p1, notes, r.p2, description, r.p3, address, ',"address_id":null,"zipcode":null,"lat":', lat === null ? 'null' : String(lat), ',"long":',
          lon === null ? 'null' : String(lon), ',"media_url":', r.media_url === null ? 'null}' : `${JSON.stringify(r.media_url)}}`);
      } else {
        pieces.push(r.p1, notes, r.p2, description, r.p3, address, '</address><address_id></address_id><zipcode></zipcode><lat>', lat === null ? '' : String(lat), '</lat><long>',
          lon === null ? '' : String(lon), '</long><media_url>', r.media_url === null ? '</media_url></request>' : `${xmlText(r.media_url)}</media_url></request>`);
      }
      first = false;
      size += r.p1.length + r.p2.length + r.p3.length + description.length + notes.length + 200;
      if (size >= 32_768) {
        write(pieces.join(''));
        pieces.length = 0;
        size = 0;
      }
    });
    pieces.push(json ? ']' : '</service_requests>');
    write(pieces.join(''));
    return n;
  }

  /** renderRequests collected into one text. */
  async renderRequestsText(f: RequestFilter, format: 'json' | 'xml'): Promise<{ body: string; count: number }> {
    const parts: string[] = [];
    const count = await this.renderRequests(f, format, (c) => parts.push(c));
    return { body: parts.join(''), count };
  }

  async request(id: string, format: 'json' | 'xml'): Promise<string> {
    if (!/^\d{1,9}$/.test(id)) throw new Open311Error(404, `Заявка (service_request_id) «${id.slice(0, 40)}» не найдена`);
    const { body, count } = await this.renderRequestsText({ ids: [Number(id)], start: new Date(0), end: new Date(0), byUpdated: false, page: 1, pageSize: 1 }, format);
    if (!count) throw new Open311Error(404, `Заявка (service_request_id) ${id} не найдена`);
    return body;
  }

  async token(token: string): Promise<{ service_request_id: string; token: string }[]> {
    const rows = token.length <= 100
      ? await query<{ appeal_id: number }>(this.em, 'SELECT appeal_id FROM open311_request WHERE token = ? AND municipality_id = ?', [token, this.municipality.id])
      : [];
    if (!rows.length) throw new Open311Error(404, `Токен «${token.slice(0, 40)}» не найден`);
    return [{ service_request_id: String(rows[0].appeal_id), token }];
  }

  /**
   * POST requests: one appeal through the ordinary intake path (IntakeService.importRecords: validation, geocoding,
   * classification when the service is `unclassified`, routing, duplicates and repeats), the author's contacts into
   * appeal_author, then what Open311 adds (token, media URL, attributes, urgency).
   */
  async createRequest(key: VerifiedKey, input: CreateRequestInput): Promise<{ service_request_id: string; token: string; service_notice: string | null; account_id: null }> {
    const theme = await this.themeOf(input.serviceCode);
    const definitions = SERVICE_ATTRIBUTES[input.serviceCode] ?? [];
    const attributes: Record<string, string> = {};
    for (const [code, value] of Object.entries(input.attributes)) {
      const def = definitions.find((d) => d.code === code);
      if (!def) throw new Open311Error(400, `attribute[${code.slice(0, 40)}]: у услуги «${input.serviceCode}» нет такого атрибута (GET services/${input.serviceCode})`);
      if (!def.values.some((v) => v.key === value)) throw new Open311Error(400, `attribute[${code}]: значение «${value.slice(0, 40)}» не из списка (${def.values.map((v) => v.key).join(', ')})`);
      attributes[code] = value;
    }
    for (const d of definitions) if (d.required && !(d.code in attributes)) throw new Open311Error(400, `attribute[${d.code}]: обязательный атрибут не указан`);
    if (!theme && !input.description) throw new Open311Error(400, 'description: для услуги «unclassified» нужно описание — по нему определяется тема');

    let { lat, lon, address } = input;
    if (input.addressId) {
      const [p] = /^\d{1,9}$/.test(input.addressId)
        ? await query<{ display: string; lon: number; lat: number }>(this.em,
          'SELECT display, ST_X(point) AS lon, ST_Y(point) AS lat FROM address_point WHERE id = ? AND municipality_id = ?', [Number(input.addressId), this.municipality.id])
        : [];
      if (!p) throw new Open311Error(400, `address_id: адрес «${input.addressId.slice(0, 40)}» не найден в адресном реестре`);
      address ??= p.display;
      if (lat == null) ({ lat, lon } = p);
    }
    if (lat != null && lon != null) {
      const [{ km }] = await query<{ km: number }>(this.em,
        'SELECT ST_Distance(ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, center::geography) / 1000 AS km FROM municipality WHERE id = ?', [lon, lat, this.municipality.id]);
      if (km > 60) throw new Open311Error(400, `lat/long: точка (${lat}, ${lon}) в ${Math.round(km)} км от центра — за пределами муниципального образования «${this.municipality.name}»`);
    }
    const token = randomUUID();
    const name = [input.firstName, input.lastName].filter(Boolean).join(' ') || undefined;
    const record = {
      id: token, received_at: new Date().toISOString(), description: input.description ?? theme!.name, address, lat, lon,
      service_code: theme ? input.serviceCode : undefined, author_name: name, phone: input.phone, email: input.email,
    };
    const intake = new IntakeService(this.em, this.municipality.id, `open311:${key.name}`.slice(0, 100));
    const report = await intake.importRecords([record], { sourceName: `open311:${key.name}`.slice(0, 100), mapping: { ...POST_MAPPING, channel: key.channel } });
    if (report.status !== 'DONE' || report.rejected > 0) {
      // The client knows its request's fields, not the intake's mapping: the reason without the mapping path it begins with.
      const reasons = report.issues.filter((i) => i.severity === 'ERROR').map((i) => `${i.field}: ${i.at && i.reason.startsWith(`${i.at}: `) ? i.reason.slice(i.at.length + 2) : i.reason}`);
      throw new Open311Error(400, reasons.join('; ') || report.error || 'заявка не принята');
    }
    const [a] = await query<{ id: number; duplicate_of_id: number | null; org: string | null; urgent: boolean }>(this.em,
      `SELECT a.id, a.duplicate_of_id, o.name AS org, a.urgent FROM appeal a LEFT JOIN organization o ON o.id = a.organization_id
        WHERE a.municipality_id = ? AND a.channel = ? AND a.external_id = ?`, [this.municipality.id, key.channel, token]);
    const urgent = Object.values(attributes).includes('yes');
    await this.em.transactional(async (tem) => {
      await query(tem, `INSERT INTO open311_request (appeal_id, municipality_id, token, key_id, media_url, attributes) VALUES (?, ?, ?, ?, ?, ?::jsonb)`,
        [a.id, this.municipality.id, token, key.id, input.mediaUrl ?? null, JSON.stringify(attributes)]);
      // Urgent by the client's answer, unless the intake already found it urgent (its URGENCY event is written then);
      // the due times follow the urgent rule (server/deadlines).
      if (urgent && !a.urgent) {
        await query(tem, 'UPDATE appeal SET urgent = true WHERE id = ?', [a.id]);
        await recomputeDeadlines(tem, this.municipality.id, { ids: [a.id] });
        await query(tem, `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment) VALUES (?, ?, now(), ?, 'URGENCY', 'false', 'true', ?)`,
          [this.municipality.id, a.id, `open311:${key.name}`.slice(0, 100), `Open311: ${Object.entries(attributes).filter(([, v]) => v === 'yes').map(([k]) => k).join(', ')}`]);
      }
    });
    const notice = a.duplicate_of_id != null
      ? `Похожее обращение уже зарегистрировано (${a.duplicate_of_id}); обращения рассматриваются вместе`
      : a.org ? `Передано: ${a.org}` : 'Принято; тема и исполнитель будут определены';
    return { service_request_id: String(a.id), token, service_notice: notice, account_id: null };
  }
}

export interface CreateRequestInput {
  serviceCode: string;
  lat?: number;
  lon?: number;
  address?: string;
  addressId?: string;
  description?: string;
  firstName?: string;
  lastName?: string;
  email?: string;
  phone?: string;
  mediaUrl?: string;
  attributes: Record<string, string>;
}

/** How a posted request is read by the intake pipeline (a JSON record, like any other source). */
export const POST_MAPPING = {
  name: 'Open311 POST requests',
  format: 'jsonl',
  fields: {
    externalId: 'id', receivedAt: 'received_at', text: 'description', address: 'address', lat: 'lat', lon: 'lon',
    theme: 'service_code', authorName: 'author_name', authorPhone: 'phone', authorEmail: 'email',
  },
};

/** A row of the rendering statement (its columns in the order of RenderedRow's keys). */
function rowOf(c: unknown[]): RenderedRow {
  return {
    p1: c[0] as string, answer: c[1] as string | null, rejected: c[2] as boolean, p2: c[3] as string, text: c[4] as string, p3: c[5] as string,
    address: c[6] as string | null, lat: c[7] as number | null, lon: c[8] as number | null, media_url: c[9] as string | null,
  };
}

/** pg returns timestamps as Date or string depending on the driver settings: Dates here. */
function fixDates(r: RequestRow): RequestRow {
  const d = (v: unknown) => (v == null ? null : v instanceof Date ? v : new Date(v as string));
  r.received_at = d(r.received_at)!;
  r.updated_at = d(r.updated_at);
  r.answered_at = d(r.answered_at);
  r.due = d(r.due);
  return r;
}

/** start_date / end_date (or the updated_* extension): ISO 8601, at most 90 days apart, default the last 90 days. */
export function dateWindow(startRaw: string | undefined, endRaw: string | undefined, now = new Date()): { start: Date; end: Date } {
  const parse = (name: string, v: string | undefined) => {
    if (v === undefined || v === '') return undefined;
    // Strict ISO 8601 (date, or date and time with an optional zone): bounded, no free-form date parsing.
    if (v.length > 40 || !/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
      throw new Open311Error(400, `${name}: «${v.slice(0, 40)}» — не дата ISO 8601 (например 2026-11-30T00:00:00+07:00)`);
    }
    const [y, mo, d] = v.slice(0, 10).split('-').map(Number);
    const day = new Date(Date.UTC(y, mo - 1, d));
    const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v.replace(' ', 'T'));
    if (!Number.isFinite(ms) || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) throw new Open311Error(400, `${name}: «${v}» — несуществующая дата`);
    return new Date(ms);
  };
  const s = parse('start_date', startRaw);
  const e = parse('end_date', endRaw);
  const end = e ?? (s ? new Date(Math.min(now.getTime(), s.getTime() + MAX_RANGE_DAYS * DAY)) : now);
  const start = s ?? new Date(end.getTime() - MAX_RANGE_DAYS * DAY);
  if (end < start) throw new Open311Error(400, 'end_date раньше start_date');
  if (end.getTime() - start.getTime() > MAX_RANGE_DAYS * DAY) throw new Open311Error(400, `start_date и end_date дальше ${MAX_RANGE_DAYS} дней друг от друга`);
  return { start, end };
}

export function parseIdList(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length > MAX_IDS) throw new Open311Error(400, `service_request_id: не более ${MAX_IDS} идентификаторов`);
  for (const p of parts) if (!/^\d{1,9}$/.test(p)) throw new Open311Error(400, `service_request_id: «${p.slice(0, 40)}» — не идентификатор заявки`);
  return parts.map(Number);
}
