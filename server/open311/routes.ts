import type { IncomingMessage } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { errorBody, Open311Error, xmlDocument, xmlElement } from './format.js';
import { addressPrecision } from './mask.js';
import { anonymousLimiter, consumeKey, logKeyUse, nowMicros, verifyKey, type KeyLimiters, type VerifiedKey } from './keys.js';
import { dateWindow, MAX_PAGE_SIZE, Open311Service, parseIdList, type CreateRequestInput, type Municipality } from './service.js';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Mount } from '../http/mount.js';

/**
 * The public Open311 GeoReport v2 endpoint under /open311/v2/. No session: the browser's cookie is never read (a
 * form-encoded POST from another site gains nothing), writes need an `api_key`; reads are open data (CORS *).
 * Every input is bounded: the body (OPEN311_MAX_BODY_KB, 64 KB), each field, the number of fields, ids, pages.
 */
export interface Open311Options {
  maxBodyBytes?: number;
  /** Calls per minute and address without a key (0 = no limit). */
  anonymousPerMinute?: number;
  precision?: string;
}

type Format = 'json' | 'xml';
const ITEMS = { attributes: 'attribute', values: 'value', endpoints: 'endpoint', formats: 'format' };
const MAX_FIELDS = 60;
const FIELD_MAX: Record<string, number> = { description: 4000, address_string: 500, media_url: 2000 };

class Open311Context {
  key?: VerifiedKey;
  appealId?: number | null;
}

function send(res: Response, format: Format, status: number, json: unknown, xml: () => string) {
  res.status(status);
  if (format === 'json') res.type('application/json; charset=utf-8').send(JSON.stringify(json));
  else res.type('application/xml; charset=utf-8').send(xml());
}

/** A document rendered whole (GET requests): 200. */
function sendText(res: Response, format: Format, body: string) {
  res.status(200).type(format === 'json' ? 'application/json; charset=utf-8' : 'application/xml; charset=utf-8').send(body);
}

function sendError(res: Response, format: Format, e: Open311Error) {
  res.status(e.status).type(format === 'json' ? 'application/json; charset=utf-8' : 'application/xml; charset=utf-8')
    .send(errorBody(format, [{ code: e.code, description: e.description }]));
}

/** The form body of a POST, read up to the limit (a larger body is refused before it is read whole). */
async function readForm(req: IncomingMessage, maxBytes: number): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new Open311Error(415, `Тело запроса — application/x-www-form-urlencoded (получено «${type.slice(0, 60) || 'без типа'}»)`);
  }
  const length = Number(req.headers['content-length'] ?? NaN);
  if (length > maxBytes) throw new Open311Error(413, `Запрос слишком большой: не более ${Math.round(maxBytes / 1024)} КБ`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > maxBytes) throw new Open311Error(413, `Запрос слишком большой: не более ${Math.round(maxBytes / 1024)} КБ`);
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** One value per parameter, bounded; a repeated parameter is refused (except attribute[…] codes, which are distinct). */
function single(params: URLSearchParams): Map<string, string> {
  const out = new Map<string, string>();
  let n = 0;
  for (const [k, v] of params) {
    if (++n > MAX_FIELDS) throw new Open311Error(400, `Слишком много параметров: не более ${MAX_FIELDS}`);
    if (k.length > 100) throw new Open311Error(400, `Параметр «${k.slice(0, 40)}…»: слишком длинное имя`);
    if (out.has(k)) throw new Open311Error(400, `${k}: параметр указан дважды`);
    const max = FIELD_MAX[k] ?? 300;
    if (v.length > max) throw new Open311Error(400, `${k}: длиннее ${max} символов`);
    out.set(k, v);
  }
  return out;
}

const NUMBER = /^-?\d{1,3}(?:\.\d{1,15})?$/;

export function parseCreateInput(p: Map<string, string>): CreateRequestInput {
  const get = (k: string) => { const v = p.get(k)?.trim(); return v ? v : undefined; };
  const serviceCode = get('service_code');
  if (!serviceCode) throw new Open311Error(400, 'service_code: обязательный параметр не указан');
  const latRaw = get('lat');
  const lonRaw = get('long');
  let lat: number | undefined;
  let lon: number | undefined;
  if (latRaw !== undefined || lonRaw !== undefined) {
    if (latRaw === undefined || lonRaw === undefined) throw new Open311Error(400, 'lat/long: указана только одна из координат');
    if (!NUMBER.test(latRaw)) throw new Open311Error(400, `lat: «${latRaw.slice(0, 40)}» — не число`);
    if (!NUMBER.test(lonRaw)) throw new Open311Error(400, `long: «${lonRaw.slice(0, 40)}» — не число`);
    lat = Number(latRaw);
    lon = Number(lonRaw);
    if (Math.abs(lat) > 90) throw new Open311Error(400, `lat: ${lat} вне диапазона −90…90`);
    if (Math.abs(lon) > 180) throw new Open311Error(400, `long: ${lon} вне диапазона −180…180`);
  }
  const address = get('address_string');
  const addressId = get('address_id');
  if (lat === undefined && !address && !addressId) throw new Open311Error(400, 'Место не указано: нужны lat и long, address_string или address_id');
  const email = get('email');
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new Open311Error(400, `email: «${email.slice(0, 60)}» — не адрес электронной почты`);
  const phone = get('phone');
  if (phone && !/^[\d\s+()-]{5,40}$/.test(phone)) throw new Open311Error(400, `phone: «${phone.slice(0, 40)}» — не номер телефона`);
  let mediaUrl = get('media_url');
  if (mediaUrl) {
    // Kept as the URL's standard serialisation (spaces, quotes, < > percent-encoded): what is published is a valid URI.
    let url: URL | undefined;
    try { url = new URL(mediaUrl); } catch { url = undefined; }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.href.length > 2000) throw new Open311Error(400, `media_url: «${mediaUrl.slice(0, 60)}» — не ссылка http(s)`);
    mediaUrl = url.href;
  }
  const attributes: Record<string, string> = {};
  for (const [k, v] of p) {
    const m = /^attribute\[([A-Za-z0-9_.-]{1,60})\]$/.exec(k);
    if (m) attributes[m[1]] = v.trim();
    else if (k.startsWith('attribute')) throw new Open311Error(400, `${k.slice(0, 60)}: ожидается attribute[код]`);
  }
  return {
    serviceCode, lat, lon, address, addressId, description: get('description'), firstName: get('first_name'), lastName: get('last_name'),
    email, phone, mediaUrl, attributes,
  };
}

/**
 * The endpoint of one deployment: every municipality it serves is a jurisdiction (jurisdiction_id = its code; absent =
 * the first one). An API key belongs to one municipality: with another jurisdiction it is unknown there (401).
 */
export function open311Router(orm: MikroORM, served: Municipality | Municipality[], opts: Open311Options = {}): express.Router {
  const jurisdictions = Array.isArray(served) ? served : [served];
  const maxBody = opts.maxBodyBytes ?? Number(process.env.OPEN311_MAX_BODY_KB ?? 64) * 1024;
  const precision = addressPrecision(opts.precision);
  const anon = anonymousLimiter(opts.anonymousPerMinute ?? Number(process.env.OPEN311_ANON_PER_MINUTE ?? 600));
  const keyLimiters: KeyLimiters = new Map();
  const router = express.Router();

  router.use(async (req: Request, res: Response) => {
    const m = /^\/(discovery|services|requests|tokens)(?:\/([^/]{1,200}))?\.([a-z]+)$/.exec(req.path);
    const format: Format = m?.[3] === 'xml' ? 'xml' : 'json';
    const ctx = new Open311Context();
    // The jurisdiction of this request (set below, once its jurisdiction_id is read); its key uses are logged there.
    let municipality: Municipality = jurisdictions[0];
    const receivedAtUs = nowMicros();
    res.set('cache-control', 'no-store');
    res.on('finish', () => {
      if (!ctx.key) return;
      logKeyUse(orm.em.fork(), municipality.id, ctx.key.id, { method: req.method, path: req.path, status: res.statusCode, ip: req.ip, appealId: ctx.appealId, receivedAtUs })
        .catch((e) => console.error('[open311] key use not logged', e));
    });
    try {
      if (!m || (m[3] !== 'json' && m[3] !== 'xml')) throw new Open311Error(404, 'Нет такого метода Open311: см. discovery.json; формат — .json или .xml');
      const [, resource, id] = m;
      const post = req.method === 'POST';
      if (post && !(resource === 'requests' && id === undefined)) throw new Open311Error(405, 'POST — только requests.json / requests.xml');
      if (!post && req.method !== 'GET' && req.method !== 'HEAD') throw new Open311Error(405, `Метод ${req.method} не поддерживается`);
      const queryParams = single(new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : ''));
      const params = post ? single(await readForm(req, maxBody)) : queryParams;
      const em = orm.em.fork();
      const jurisdiction = params.get('jurisdiction_id');
      const served = jurisdiction === undefined ? jurisdictions[0] : jurisdictions.find((j) => j.code === jurisdiction);
      if (!served) throw new Open311Error(404, `jurisdiction_id: «${jurisdiction!.slice(0, 40)}» не обслуживается (здесь — ${jurisdictions.map((j) => j.code).join(', ')})`);
      municipality = served;
      const apiKey = params.get('api_key') ?? queryParams.get('api_key');
      if (apiKey !== undefined) {
        const found = await verifyKey(em, municipality.id, apiKey);
        if (found === null) throw new Open311Error(401, 'api_key: неизвестный ключ');
        const { key } = found;
        ctx.key = key;
        if (found.revoked) throw new Open311Error(403, 'api_key: ключ отозван');
        const r = await consumeKey(keyLimiters, key);
        if (!r.ok) {
          res.set('retry-after', String(r.retryAfterSeconds));
          throw new Open311Error(429, `Превышен лимит ключа: ${key.ratePerMinute} запросов в минуту; повторите через ${r.retryAfterSeconds} с`);
        }
      } else {
        if (post) throw new Open311Error(400, 'api_key: обязательный параметр для POST requests не указан');
        if (anon) {
          try {
            await anon.consume(req.ip ?? 'unknown');
          } catch (e) {
            if (!(e instanceof RateLimiterRes)) throw e;
            res.set('retry-after', String(Math.max(1, Math.ceil(e.msBeforeNext / 1000))));
            throw new Open311Error(429, 'Слишком много запросов без ключа с этого адреса; повторите позже или получите api_key');
          }
        }
      }
      if (!post) res.set('access-control-allow-origin', '*');
      const svc = new Open311Service(em, municipality, precision);

      if (resource === 'discovery') {
        if (id !== undefined) throw new Open311Error(404, 'Нет такого метода Open311');
        const base = `${req.protocol}://${req.get('host')}${req.baseUrl}/`;
        const d = {
          changeset: '2026-12-02T00:00:00+07:00',
          contact: `МЦУ ${municipality.name}`,
          key_service: 'Ключ api_key выдаёт администратор МЦУ',
          endpoints: [{ specification: 'http://wiki.open311.org/GeoReport_v2', url: base, changeset: '2026-12-02T00:00:00+07:00', type: 'production', formats: ['text/xml', 'application/json'] }],
        };
        return send(res, format, 200, d, () => `<?xml version="1.0" encoding="utf-8"?>${xmlElement('discovery', d, ITEMS)}`);
      }
      if (resource === 'services') {
        if (id === undefined) {
          const list = await svc.services();
          return send(res, format, 200, list, () => xmlDocument('services', list as never, 'service'));
        }
        const def = await svc.serviceDefinition(id);
        return send(res, format, 200, def, () => `<?xml version="1.0" encoding="utf-8"?>${xmlElement('service_definition', def as never, ITEMS)}`);
      }
      if (resource === 'tokens') {
        if (id === undefined) throw new Open311Error(404, 'Укажите токен: tokens/{token}.json');
        const t = await svc.token(id);
        return send(res, format, 200, t, () => xmlDocument('service_requests', t, 'request'));
      }
      // requests
      if (post) {
        const created = await svc.createRequest(ctx.key!, parseCreateInput(params));
        ctx.appealId = Number(created.service_request_id);
        return send(res, format, 201, [created], () => xmlDocument('service_requests', [created], 'request'));
      }
      if (id !== undefined) {
        return sendText(res, format, await svc.request(id, format));
      }
      // Streamed: each piece is sent while PostgreSQL still renders the later rows.
      const filter = requestFilter(params);
      res.status(200).type(format === 'json' ? 'application/json; charset=utf-8' : 'application/xml; charset=utf-8');
      await svc.renderRequests(filter, format, (chunk) => res.write(chunk));
      return res.end();
    } catch (e) {
      if (res.headersSent) {
        // A failure in the middle of a streamed answer: the client sees a broken connection, not a partial document.
        console.error('[open311] answer broken off', e);
        return res.destroy();
      }
      if (e instanceof Open311Error) return sendError(res, format, e);
      console.error('[open311] internal error', e);
      return sendError(res, format, new Open311Error(500, 'Внутренняя ошибка сервера'));
    }
  });
  return router;
}

export function requestFilter(p: Map<string, string>, now = new Date()) {
  const int = (name: string, def: number, max: number) => {
    const v = p.get(name);
    if (v === undefined || v === '') return def;
    if (!/^\d{1,7}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new Open311Error(400, `${name}: целое число от 1 до ${max}`);
    return Number(v);
  };
  const pageSize = int('page_size', MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = int('page', 1, 100_000);
  if (page * pageSize > 200_000) throw new Open311Error(400, 'page × page_size не более 200 000: сузьте период');
  const byUpdated = p.has('updated_after') || p.has('updated_before');
  const win = byUpdated ? dateWindow(p.get('updated_after'), p.get('updated_before'), now) : dateWindow(p.get('start_date'), p.get('end_date'), now);
  const statuses = (p.get('status') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of statuses) if (s !== 'open' && s !== 'closed') throw new Open311Error(400, `status: «${s.slice(0, 20)}» — ожидается open или closed`);
  const status = statuses.length === 1 ? (statuses[0] as 'open' | 'closed') : undefined;
  const codes = (p.get('service_code') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (codes.length > 50) throw new Open311Error(400, 'service_code: не более 50 кодов');
  const idsRaw = p.get('service_request_id');
  return {
    ids: idsRaw ? parseIdList(idsRaw) : undefined,
    serviceCodes: codes.length ? codes : undefined,
    start: win.start, end: win.end, byUpdated, status, page, pageSize,
  };
}

/** Mounts the endpoint (called from server/app.ts). */
export const mount: Mount = async (app, { orm, municipalityId, municipalityIds, open311 }) => {
  // Every municipality of the deployment is a jurisdiction (the first one answers when jurisdiction_id is absent).
  const served: Municipality[] = [];
  for (const id of [municipalityId, ...(municipalityIds ?? []).filter((m) => m !== municipalityId)]) served.push(await Open311Service.municipality(orm.em.fork(), id));
  app.use('/open311/v2', open311Router(orm, served, open311));
};
