import { createHash } from 'node:crypto';
import { AppealStatus, AuthorKind } from '../appeals/entities.js';
import type { ColumnSpec, FieldName, Mapping } from './mapping.js';
import type { SourceRecord } from './sources.js';
import { num, parseDate, str } from './values.js';
import { channelCode } from './mapping.js';
import { districtInAddress } from './address.js';

export interface Issue {
  line: number;
  field: string;
  severity: 'ERROR' | 'WARNING';
  /** Self-contained: begins with the mapping path and column(s) of the field (`mapping.fields.receivedAt (столбец "Created Date"): …`). */
  reason: string;
  externalId?: string;
  /** The mapping path and column(s) the reason begins with (not counted as part of the reason's kind). */
  at?: string;
}

/** The reason of an issue without the mapping path it begins with. */
export const issueCause = (i: Issue) => (i.at && i.reason.startsWith(i.at + ': ') ? i.reason.slice(i.at.length + 2) : i.reason);

/** "mapping.fields.receivedAt (столбец "Created Date")": where in the mapping and the file a field's value comes from. */
export function fieldPath(mapping: Mapping, f: FieldName | 'coordinates'): string {
  const q = (c: string) => `"${c.length > 60 ? c.slice(0, 59) + '…' : c}"`;
  if (f === 'coordinates') {
    if (mapping.coordinates) return `mapping.coordinates (столбец ${q(mapping.coordinates.column)})`;
    const lat = mapping.fields.lat, lon = mapping.fields.lon;
    if (lat || lon) return `mapping.fields.lat/lon (столбцы ${[lat?.column, lon?.column].filter(Boolean).map((c) => q(c!)).join(', ')})`;
    return 'геометрия записи (GeoJSON)';
  }
  const s = mapping.fields[f];
  if (!s) return `mapping.fields.${f}`;
  return s.columns && s.columns.length > 1 ? `mapping.fields.${f} (столбцы ${s.columns.map(q).join(', ')})` : `mapping.fields.${f} (столбец ${q(s.column)})`;
}

export type PlaceStatus = 'POINT' | 'SWAPPED_FIXED' | 'GEOCODED' | 'OUTSIDE' | 'UNRESOLVED' | 'MANUAL' | 'NONE';

/** A validated appeal ready for geocoding, classification, routing and upsert. */
export interface Candidate {
  line: number;
  externalId: string;
  receivedAt: Date;
  text: string;
  address?: string;
  lon?: number;
  lat?: number;
  placeStatus: PlaceStatus;
  /** How precise the place is (set by geocoding; else derived at insert: a point = HOUSE, a district only = DISTRICT, none = NONE). */
  placePrecision?: 'HOUSE' | 'STREET' | 'DISTRICT' | 'NONE';
  /** The district when the record names one without a point (a district column, an address that names only a district). */
  districtId?: number;
  /** The record's own channel (a channel column of the mapping); else the file's. */
  channel?: string;
  themeId?: number;
  organizationId?: number;
  status: AppealStatus;
  dueAt?: Date;
  firstResponseAt?: Date;
  answeredAt?: Date;
  answerText?: string;
  satisfaction?: number;
  authorKind: AuthorKind;
  authorName?: string;
  authorPhone?: string;
  authorEmail?: string;
  authorProfileUrl?: string;
  /** The author agreed to be contacted back (call-back lists of targeted informing); absent or unrecognised → false. */
  authorContactConsent?: boolean;
  /** sha256 of the normalised contact: links repeat appeals without keeping contacts on the appeal. */
  authorKey?: string;
}

/** Values of a consent column: yes / no (anything else is a warning and counts as no). */
const CONSENT_YES = /^(1|true|yes|y|да|д|\+|согласен|согласна|согласие|согласие дано|есть)$/;
const CONSENT_NO = /^(0|false|no|n|нет|н|-|не согласен|не согласна|отказ|согласия нет)$/;

/** Reference data the normaliser resolves codes against. */
export interface IntakeRefs {
  timezone: string;
  /** Extent of the municipality (districts' bounding box with a margin). */
  extent: { minLon: number; minLat: number; maxLon: number; maxLat: number };
  /** Theme code or lower-cased name → id (leaf themes preferred). */
  themes: Map<string, number>;
  /** Organisation code, short name or lower-cased name → id. */
  organizations: Map<string, number>;
  /** Districts of the municipality (a district column, an address naming only a district). */
  districts?: { id: number; code: string; name: string }[];
}

/** A district by its code or name as written ("Западный", "zapadny", "Западный микрорайон", "в Западном мкр."). */
export function findDistrict(refs: IntakeRefs, value: string): number | undefined {
  const list = refs.districts ?? [];
  const v = value.trim().toLowerCase().replace(/ё/g, 'е');
  const exact = list.find((d) => d.code.toLowerCase() === v || d.name.toLowerCase().replace(/ё/g, 'е') === v);
  return exact?.id ?? districtInAddress(value, list) ?? undefined;
}

const STATUS_WORDS: Record<string, AppealStatus> = {
  new: AppealStatus.NEW, 'новое': AppealStatus.NEW, 'новый': AppealStatus.NEW, 'зарегистрировано': AppealStatus.NEW, 'поступило': AppealStatus.NEW,
  in_progress: AppealStatus.IN_PROGRESS, 'в работе': AppealStatus.IN_PROGRESS, 'на рассмотрении': AppealStatus.IN_PROGRESS, 'рассматривается': AppealStatus.IN_PROGRESS,
  answered: AppealStatus.ANSWERED, 'дан ответ': AppealStatus.ANSWERED, 'ответ дан': AppealStatus.ANSWERED, 'отвечено': AppealStatus.ANSWERED,
  closed: AppealStatus.CLOSED, 'закрыто': AppealStatus.CLOSED, 'решено': AppealStatus.CLOSED, 'выполнено': AppealStatus.CLOSED,
  rejected: AppealStatus.REJECTED, 'отклонено': AppealStatus.REJECTED, 'отказано': AppealStatus.REJECTED,
};

const MAX_TEXT = 20_000;

function inside(e: IntakeRefs['extent'], lon: number, lat: number) {
  return lon >= e.minLon && lon <= e.maxLon && lat >= e.minLat && lat <= e.maxLat;
}

export function authorKey(phone?: string, email?: string, profile?: string): string | undefined {
  const digits = phone?.replace(/\D/g, '');
  const key = digits && digits.length >= 10 ? `tel:${digits.slice(-10)}` : email ? `mail:${email.toLowerCase()}` : profile ? `url:${profile.toLowerCase().replace(/^https?:\/\/(www\.)?/, '').replace(/\/$/, '')}` : undefined;
  return key ? createHash('sha256').update(key).digest('hex').slice(0, 32) : undefined;
}

/**
 * Maps and validates one record. Errors reject the row (returned in `issues`, no
 * candidate); warnings keep it and are reported too.
 */
export function normalizeRecord(rec: SourceRecord, mapping: Mapping, refs: IntakeRefs): { candidate?: Candidate; issues: Issue[] } {
  const issues: Issue[] = [];
  const tz = mapping.timezone ?? refs.timezone;
  const spec = (f: FieldName): ColumnSpec | undefined => mapping.fields[f];
  const raw = (f: FieldName): unknown => {
    const s = spec(f);
    if (!s) return undefined;
    const v = s.columns
      ? s.columns.map((c) => str(rec.get(c))).filter((x) => x !== undefined).join(s.separator ?? ' ') || undefined
      : rec.get(s.column);
    return str(v) === undefined && s.default !== undefined ? s.default : v;
  };
  const text = (f: FieldName) => str(raw(f));
  const externalId = text('externalId');
  // Every issue names the mapping path and the column(s) of its field (the row is the issue's line).
  const issue = (field: FieldName | 'coordinates', severity: Issue['severity'], reason: string) => {
    const at = fieldPath(mapping, field);
    issues.push({ line: rec.line, field, severity, reason: `${at}: ${reason}`, at, externalId: externalId && externalId.length > 200 ? `${externalId.slice(0, 199)}…` : externalId });
  };
  const date = (f: FieldName, required = false): Date | undefined => {
    try {
      const d = parseDate(raw(f), tz, spec(f)?.format);
      if (!d && required) issue(f, 'ERROR', 'пустая дата');
      return d;
    } catch (e) {
      issue(f, required ? 'ERROR' : 'WARNING', `дата не распознана: ${(e as Error).message}`);
      return undefined;
    }
  };
  const mapped = (f: FieldName): string | undefined => {
    const v = text(f);
    if (v === undefined) return undefined;
    const m = spec(f)?.map;
    return m ? (m[v] ?? m[v.toLowerCase()] ?? v) : v;
  };

  if (!externalId) issue('externalId', 'ERROR', 'нет идентификатора записи');
  else if (externalId.length > 200) issue('externalId', 'ERROR', 'идентификатор длиннее 200 символов');
  const receivedAt = date('receivedAt', true);
  if (receivedAt && (receivedAt.getTime() > Date.now() + 86400_000 || receivedAt.getUTCFullYear() < 2000))
    issue('receivedAt', 'ERROR', `дата поступления ${receivedAt.toISOString().slice(0, 10)} вне допустимого диапазона`);
  const body = text('text');
  if (!body) issue('text', 'ERROR', 'пустой текст обращения');
  else if (body.length > MAX_TEXT) issue('text', 'ERROR', `текст длиннее ${MAX_TEXT} символов`);
  // The record's own channel (a column with a value map): an unknown value rejects the row (it is part of the key).
  let channel: string | undefined;
  const channelValue = mapped('channel');
  if (channelValue) {
    channel = channelCode(channelValue);
    if (!channel) issue('channel', 'ERROR', `неизвестный канал «${channelValue.slice(0, 60)}» (добавьте его в map: значение → код канала)`);
  }

  // Place: coordinates (separate columns, one column, or a GeoJSON point), else the address.
  let lon: number | undefined;
  let lat: number | undefined;
  let placeStatus: PlaceStatus = 'NONE';
  try {
    if (mapping.coordinates) {
      const s = str(rec.get(mapping.coordinates.column));
      if (s) {
        const parts = s.split(/[;,\s]+/).filter(Boolean).map((p) => num(p)!);
        if (parts.length !== 2) throw new Error(`«${s.slice(0, 40)}» — ожидаются две координаты`);
        [lat, lon] = mapping.coordinates.order === 'latlon' ? parts : [parts[1], parts[0]];
      }
    } else if (spec('lat') || spec('lon')) {
      lat = num(raw('lat'));
      lon = num(raw('lon'));
      if ((lat === undefined) !== (lon === undefined)) throw new Error('указана только одна из координат');
    } else if (rec.point) {
      [lon, lat] = rec.point;
    } else if (rec.geometryType) {
      // A Polygon, LineString… is not the place of an appeal: said, never stored silently without a point.
      throw new Error(`геометрия ${rec.geometryType.slice(0, 30)} не поддерживается, ожидается Point`);
    }
  } catch (e) {
    issue('coordinates', 'WARNING', `координаты не распознаны: ${(e as Error).message}; место определяется по адресу`);
    lon = lat = undefined;
  }
  if (lon !== undefined && lat !== undefined) {
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      if (Math.abs(lon) <= 90 && Math.abs(lat) <= 180 && inside(refs.extent, lat, lon)) {
        [lon, lat] = [lat, lon];
        placeStatus = 'SWAPPED_FIXED';
        issue('coordinates', 'WARNING', 'широта и долгота были переставлены местами — исправлено');
      } else {
        issue('coordinates', 'WARNING', `координаты вне допустимого диапазона (${lat}, ${lon}); место определяется по адресу`);
        lon = lat = undefined;
      }
    } else if (inside(refs.extent, lon, lat)) {
      placeStatus = 'POINT';
    } else if (inside(refs.extent, lat, lon)) {
      [lon, lat] = [lat, lon];
      placeStatus = 'SWAPPED_FIXED';
      issue('coordinates', 'WARNING', 'широта и долгота были переставлены местами — исправлено');
    } else {
      placeStatus = 'OUTSIDE';
      issue('coordinates', 'WARNING', `точка (${lat}, ${lon}) за пределами муниципального образования — сохранена, район не определён`);
    }
  }

  let districtId: number | undefined;
  const districtValue = mapped('district');
  if (districtValue) {
    districtId = findDistrict(refs, districtValue);
    if (districtId === undefined) issue('district', 'WARNING', `неизвестный район «${districtValue.slice(0, 80)}» — район определяется по месту`);
  }
  let themeId: number | undefined;
  const themeValue = mapped('theme');
  if (themeValue) {
    themeId = refs.themes.get(themeValue) ?? refs.themes.get(themeValue.toLowerCase());
    if (themeId === undefined) issue('theme', 'WARNING', `неизвестная тема «${themeValue.slice(0, 80)}» — тема будет определена по тексту`);
  }
  let organizationId: number | undefined;
  const orgValue = mapped('organization');
  if (orgValue) {
    organizationId = refs.organizations.get(orgValue) ?? refs.organizations.get(orgValue.toLowerCase());
    if (organizationId === undefined) issue('organization', 'WARNING', `неизвестная организация «${orgValue.slice(0, 80)}» — исполнитель будет назначен по правилам`);
  }
  let status = AppealStatus.NEW;
  const statusValue = mapped('status');
  if (statusValue) {
    const s = (Object.values(AppealStatus) as string[]).includes(statusValue) ? (statusValue as AppealStatus) : STATUS_WORDS[statusValue.toLowerCase()];
    if (s) status = s;
    else issue('status', 'WARNING', `неизвестный статус «${statusValue.slice(0, 60)}» — принят как «Новое»`);
  }
  let satisfaction: number | undefined;
  try {
    satisfaction = num(raw('satisfaction'));
    if (satisfaction !== undefined && !(Number.isInteger(satisfaction) && satisfaction >= 1 && satisfaction <= 5)) {
      issue('satisfaction', 'WARNING', `оценка ${satisfaction} вне шкалы 1–5 — не сохранена`);
      satisfaction = undefined;
    }
  } catch (e) {
    issue('satisfaction', 'WARNING', `оценка не распознана: ${(e as Error).message}`);
  }
  const kindValue = mapped('authorKind');
  const authorKind = kindValue && /^(legal_entity|юл|юр|организац|ооо|тсж|ук)/i.test(kindValue) ? AuthorKind.LEGAL_ENTITY : AuthorKind.CITIZEN;

  if (issues.some((i) => i.severity === 'ERROR')) return { issues };
  const consentValue = text('authorContactConsent');
  let authorContactConsent = false;
  if (consentValue) {
    const c = consentValue.trim().toLowerCase().replace(/ё/g, 'е');
    if (CONSENT_YES.test(c)) authorContactConsent = true;
    else if (!CONSENT_NO.test(c)) issue('authorContactConsent', 'WARNING', `согласие на обратную связь не распознано «${consentValue.slice(0, 40)}» — принято «нет»`);
  }
  const authorPhone = text('authorPhone');
  const authorEmail = text('authorEmail');
  const authorProfileUrl = text('authorProfileUrl');
  return {
    issues,
    candidate: {
      line: rec.line,
      externalId: externalId!,
      receivedAt: receivedAt!,
      text: body!,
      address: text('address'),
      lon, lat, placeStatus,
      ...(districtId !== undefined ? { districtId } : {}),
      ...(channel ? { channel } : {}),
      themeId, organizationId, status,
      dueAt: date('dueAt'),
      firstResponseAt: date('firstResponseAt'),
      answeredAt: date('answeredAt'),
      answerText: text('answerText'),
      satisfaction,
      authorKind,
      authorName: text('authorName'),
      authorPhone, authorEmail, authorProfileUrl, authorContactConsent,
      authorKey: authorKey(authorPhone, authorEmail, authorProfileUrl),
    },
  };
}
