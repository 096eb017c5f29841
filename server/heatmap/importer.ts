import crypto from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { POLYGON_LIMITS, checkVertices, countVertices } from '../db/geometry.js';
import { HeatLayerFormat } from './entities.js';
import { markHeatDataChanged } from './version.js';

/** One rejected row of an import: where (line, field) and why. */
export interface HeatRejection {
  /** CSV: line of the file (the header is line 1); GeoJSON: 1-based number of the feature. */
  line: number;
  /** e.g. `rows[12].lat`, `features[3].properties.weight` */
  field: string;
  reason: string;
}

export interface HeatImportInput {
  content: string;
  format: HeatLayerFormat;
  periodFrom: Date;
  periodTo: Date;
  themeId?: number;
  name?: string;
  source?: string;
}

export interface HeatLayerRow {
  id: number;
  municipality_id: number;
  source: string;
  name: string;
  format: HeatLayerFormat;
  theme_id: number | null;
  period_from: Date | string;
  period_to: Date | string;
  checksum: string;
  rows_read: number;
  cell_count: number;
  total_weight: number;
  imported_at: Date | string;
}

export interface HeatImportReport {
  layer: HeatLayerRow;
  /** The same file was imported before: nothing was changed. */
  alreadyImported: boolean;
  read: number;
  inserted: number;
  rejected: number;
  /** At most MAX_REPORTED rejections, in file order. */
  rejections: HeatRejection[];
}

/** A row that passed validation (before the theme code is resolved and polygons are checked). */
interface ParsedRow {
  line: number;
  /** Field prefix for messages: `rows[3]` or `features[3]`. */
  at: string;
  lon: number;
  lat: number;
  /** GeoJSON text of a polygon geometry; null for points. */
  polygon: string | null;
  weight: number;
  themeCode: string | null;
}

export const MAX_ROWS = 500_000;
const MAX_REPORTED = 1000;
/** Points farther than this from the municipality's centre are rejected as misplaced. */
const MAX_DISTANCE_KM = 150;
const CHUNK = 20_000;

export const HEAT_LAYER_COLUMNS = `id, municipality_id, source, name, format, theme_id, period_from, period_to, checksum,
  rows_read, cell_count, total_weight, imported_at`;

function distanceKm(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 12742 * Math.asin(Math.sqrt(h));
}

class RowError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Checks a [lon, lat] position: ranges, distance from the centre, swapped order. */
function checkPosition(lon: number, lat: number, center: [number, number], lonField: string, latField: string, swapHint: string) {
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw new RowError(latField, `широта ${lat} вне диапазона −90…90`);
  if (!Number.isFinite(lon) || lon < -180 || lon > 180) throw new RowError(lonField, `долгота ${lon} вне диапазона −180…180`);
  const d = distanceKm(lon, lat, center[0], center[1]);
  if (d > MAX_DISTANCE_KM) {
    if (distanceKm(lat, lon, center[0], center[1]) <= MAX_DISTANCE_KM) throw new RowError(latField, `похоже, широта и долгота переставлены местами: ${swapHint}`);
    throw new RowError(latField, `точка в ${Math.round(d)} км от центра муниципального образования — вне его территории`);
  }
}

function parseWeight(v: unknown, field: string): number {
  const w = typeof v === 'string' ? parseNumber(v) : v;
  if (typeof w !== 'number' || !Number.isFinite(w)) throw new RowError(field, `вес должен быть числом, получено «${String(v).slice(0, 40)}»`);
  if (w < 0) throw new RowError(field, `вес не может быть отрицательным (${w})`);
  return w;
}

/** Numbers as Russian Excel writes them too: decimal comma, spaces as thousands separators. */
function parseNumber(s: string): number {
  const t = s.trim().replace(/[\s\u00a0]/g, '').replace(',', '.');
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return NaN;
  return Number(t);
}

/** Splits one CSV line (quotes with "" escapes; no line breaks inside fields). */
function splitCsvLine(line: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur.trim() === '') { quoted = true; cur = ''; }
    else if (ch === sep) { out.push(cur.trim()); cur = ''; }
    else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

const HEADER_NAMES: Record<string, 'lat' | 'lon' | 'weight' | 'theme'> = {
  lat: 'lat', latitude: 'lat', 'широта': 'lat',
  lon: 'lon', lng: 'lon', long: 'lon', longitude: 'lon', 'долгота': 'lon',
  weight: 'weight', value: 'weight', 'вес': 'weight', 'значение': 'weight',
  theme: 'theme', 'тема': 'theme', theme_code: 'theme',
};

/**
 * CSV with a header row: lat, lon, weight and optionally theme (a theme code). The separator is
 * `;` (Russian Excel), tab or `,`, detected from the header; with `;` or tab decimal commas are accepted.
 */
export function parseHeatCsv(content: string, center: [number, number], onReject: (r: HeatRejection) => void): { rows: ParsedRow[]; read: number } {
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  if (headerIndex < 0) throw new InputError('content', 'файл пуст');
  const headerLine = lines[headerIndex];
  const sep = headerLine.includes(';') ? ';' : headerLine.includes('\t') ? '\t' : ',';
  const header = splitCsvLine(headerLine, sep).map((h) => h.toLowerCase().replace(/^"|"$/g, ''));
  const col: Partial<Record<'lat' | 'lon' | 'weight' | 'theme', number>> = {};
  header.forEach((h, i) => {
    const k = HEADER_NAMES[h];
    if (k && col[k] === undefined) col[k] = i;
  });
  for (const [k, ru] of [['lat', 'широта'], ['lon', 'долгота'], ['weight', 'вес']] as const)
    if (col[k] === undefined) throw new InputError('header', `нет столбца ${k} (${ru}); первая строка файла — заголовок: lat${sep}lon${sep}weight[${sep}theme]`);
  const needed = Math.max(col.lat!, col.lon!, col.weight!, col.theme ?? 0) + 1;
  const rows: ParsedRow[] = [];
  let read = 0;
  for (let i = headerIndex + 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const line = i + 1;
    const at = `rows[${read}]`;
    read++;
    if (read > MAX_ROWS) throw new InputError('content', `слишком много строк (более ${MAX_ROWS})`);
    try {
      const cells = splitCsvLine(lines[i], sep);
      if (cells.length < needed) throw new RowError(at, `ожидается не менее ${needed} столбцов, получено ${cells.length}`);
      const lat = parseNumber(cells[col.lat!]);
      const lon = parseNumber(cells[col.lon!]);
      if (Number.isNaN(lat)) throw new RowError(`${at}.lat`, `широта должна быть числом, получено «${cells[col.lat!].slice(0, 40)}»`);
      if (Number.isNaN(lon)) throw new RowError(`${at}.lon`, `долгота должна быть числом, получено «${cells[col.lon!].slice(0, 40)}»`);
      checkPosition(lon, lat, center, `${at}.lon`, `${at}.lat`, 'в CSV столбец lat — широта (около 51.5 для Рубцовска), lon — долгота');
      const weight = parseWeight(cells[col.weight!], `${at}.weight`);
      const theme = col.theme !== undefined ? cells[col.theme] || null : null;
      rows.push({ line, at, lon, lat, polygon: null, weight, themeCode: theme });
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      onReject({ line, field: e.field, reason: e.message });
    }
  }
  return { rows, read };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkRing(ring: unknown, field: string): [number, number][] {
  if (!Array.isArray(ring) || ring.length < 4) throw new RowError(field, 'кольцо полигона должно содержать не менее 4 точек');
  ring.forEach((p, i) => {
    if (!Array.isArray(p) || p.length < 2 || !p.slice(0, 2).every((n) => typeof n === 'number' && Number.isFinite(n)))
      throw new RowError(`${field}[${i}]`, 'точка должна быть парой чисел [долгота, широта]');
  });
  const first = ring[0] as number[];
  const last = ring[ring.length - 1] as number[];
  if (first[0] !== last[0] || first[1] !== last[1]) throw new RowError(field, 'кольцо полигона не замкнуто (первая точка не равна последней)');
  return (ring as number[][]).map((p) => [p[0], p[1]]);
}

/** GeoJSON FeatureCollection of Points, Polygons or MultiPolygons with `properties.weight` (and optional `theme`). */
export function parseHeatGeoJson(content: string, center: [number, number], onReject: (r: HeatRejection) => void): { rows: ParsedRow[]; read: number } {
  let input: unknown;
  try {
    input = JSON.parse(content.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new InputError('content', `файл не является корректным JSON: ${(e as Error).message}`);
  }
  if (!isObject(input) || input.type !== 'FeatureCollection') throw new InputError('type', 'ожидается GeoJSON FeatureCollection');
  const features = input.features;
  if (!Array.isArray(features)) throw new InputError('features', 'нет массива features');
  if (features.length > MAX_ROWS) throw new InputError('features', `слишком много объектов (более ${MAX_ROWS})`);
  const rows: ParsedRow[] = [];
  const hint = 'в GeoJSON порядок координат [долгота, широта]';
  let vertices = 0;
  features.forEach((f, i) => {
    const at = `features[${i}]`;
    const line = i + 1;
    try {
      if (!isObject(f) || f.type !== 'Feature') throw new RowError(at, 'ожидается объект GeoJSON Feature');
      const props = isObject(f.properties) ? f.properties : {};
      const weight = parseWeight(props.weight ?? props.value, `${at}.properties.weight`);
      const theme = props.theme ?? props.themeCode;
      const themeCode = typeof theme === 'string' && theme.trim() ? theme.trim() : typeof theme === 'number' ? String(theme) : null;
      if (themeCode?.includes('\u0000')) throw new RowError(`${at}.properties.theme`, 'код темы содержит нулевой символ');
      const g = f.geometry;
      if (!isObject(g)) throw new RowError(`${at}.geometry`, 'нет геометрии');
      const cf = `${at}.geometry.coordinates`;
      if (g.type === 'Point') {
        const c = g.coordinates;
        if (!Array.isArray(c) || c.length < 2 || !c.slice(0, 2).every((n) => typeof n === 'number'))
          throw new RowError(cf, 'точка должна быть парой чисел [долгота, широта]');
        checkPosition(c[0], c[1], center, cf, cf, hint);
        rows.push({ line, at, lon: c[0], lat: c[1], polygon: null, weight, themeCode });
        return;
      }
      let polygons: unknown[];
      if (g.type === 'Polygon') polygons = [g.coordinates];
      else if (g.type === 'MultiPolygon' && Array.isArray(g.coordinates)) polygons = g.coordinates;
      else throw new RowError(`${at}.geometry.type`, `ожидается Point, Polygon или MultiPolygon, получено ${String(g.type)}`);
      if (polygons.length === 0) throw new RowError(cf, 'пустая геометрия');
      // Too many vertices in one feature: that row is rejected; in the whole file: the file is refused.
      const n = countVertices(polygons);
      if (n > POLYGON_LIMITS.perFeature) throw new RowError(cf, `слишком сложная геометрия: ${n} вершин, допускается не более ${POLYGON_LIMITS.perFeature} (POLYGON_MAX_VERTICES); упростите контур`);
      vertices = checkVertices(polygons, vertices, cf, (fl, m) => new InputError(fl, m));
      const coordinates = polygons.map((poly, pi) => {
        const pf = cf + (g.type === 'MultiPolygon' ? `[${pi}]` : '');
        if (!Array.isArray(poly) || poly.length === 0) throw new RowError(pf, 'полигон без колец');
        return poly.map((ring, ri) => checkRing(ring, `${pf}[${ri}]`));
      });
      for (const ring of coordinates.flat()) for (const [lon, lat] of ring) checkPosition(lon, lat, center, cf, cf, hint);
      const geometry = g.type === 'Polygon' ? { type: 'Polygon', coordinates: coordinates[0] } : { type: 'MultiPolygon', coordinates };
      const [lon, lat] = coordinates[0][0][0];
      rows.push({ line, at, lon, lat, polygon: JSON.stringify(geometry), weight, themeCode });
    } catch (e) {
      if (!(e instanceof RowError)) throw e;
      onReject({ line, field: e.field, reason: e.message });
    }
  });
  return { rows, read: features.length };
}

function formatDate(d: Date): string {
  return d.toISOString().slice(0, 10).split('-').reverse().join('.');
}

/**
 * Imports one ЦУР heat-map file as a new layer, in one transaction: the layer and every accepted
 * row, or nothing. Rejected rows are reported (line, field, reason) and skipped. A file whose
 * SHA-256 was already imported for the municipality changes nothing and returns that layer.
 */
export async function importHeatLayer(em: EntityManager, municipalityId: number, input: HeatImportInput): Promise<HeatImportReport> {
  if (typeof input.content !== 'string' || input.content.trim() === '') throw new InputError('content', 'файл пуст');
  const nul = input.content.indexOf('\u0000');
  if (nul >= 0) throw new InputError('content', `нулевой байт (0x00) на позиции ${nul + 1}: это не текстовый файл CSV или GeoJSON`);
  for (const [field, v] of [['name', input.name], ['source', input.source]] as const)
    if (v?.includes('\u0000')) throw new InputError(field, 'строка содержит нулевой символ');
  if (!(input.periodFrom instanceof Date) || Number.isNaN(input.periodFrom.getTime())) throw new InputError('periodFrom', 'не указано начало периода');
  if (!(input.periodTo instanceof Date) || Number.isNaN(input.periodTo.getTime())) throw new InputError('periodTo', 'не указан конец периода');
  if (input.periodFrom >= input.periodTo) throw new InputError('periodTo', 'конец периода должен быть позже его начала');
  const name = (input.name ?? '').trim() || `Тепловая карта ЦУР ${formatDate(input.periodFrom)}–${formatDate(new Date(input.periodTo.getTime() - 1))}`;
  const source = (input.source ?? '').trim() || 'ЦУР';
  if (name.length > 200) throw new InputError('name', 'название длиннее 200 символов');
  if (source.length > 200) throw new InputError('source', 'источник длиннее 200 символов');

  const [mun] = await query<{ lon: number; lat: number }>(em, 'SELECT ST_X(center) AS lon, ST_Y(center) AS lat FROM municipality WHERE id = ?', [municipalityId]);
  if (!mun) throw new InputError('municipalityId', `муниципальное образование ${municipalityId} не найдено`);
  if (input.themeId != null) {
    const [t] = await query(em, 'SELECT 1 FROM theme WHERE id = ? AND municipality_id = ?', [input.themeId, municipalityId]);
    if (!t) throw new InputError('themeId', `тема ${input.themeId} не найдена`);
  }

  const checksum = crypto.createHash('sha256').update(input.content, 'utf8').digest('hex');
  const existing = await query<HeatLayerRow>(em, `SELECT ${HEAT_LAYER_COLUMNS} FROM heat_layer WHERE municipality_id = ? AND checksum = ?`, [municipalityId, checksum]);
  if (existing.length) return { layer: existing[0], alreadyImported: true, read: existing[0].rows_read, inserted: 0, rejected: 0, rejections: [] };

  const rejections: HeatRejection[] = [];
  let rejected = 0;
  const reject = (r: HeatRejection) => {
    rejected++;
    if (rejections.length < MAX_REPORTED) rejections.push(r);
  };
  const center: [number, number] = [mun.lon, mun.lat];
  const parsed = input.format === HeatLayerFormat.GEOJSON ? parseHeatGeoJson(input.content, center, reject) : parseHeatCsv(input.content, center, reject);
  let rows = parsed.rows;

  // Theme codes of rows → ids (one statement); unknown codes reject the row.
  const codes = [...new Set(rows.map((r) => r.themeCode).filter((c): c is string => c != null))];
  const themeIds = new Map<string, number>();
  if (codes.length) {
    const found = await query<{ id: number; code: string }>(em, 'SELECT id, code FROM theme WHERE municipality_id = ? AND code = ANY(?::text[])', [municipalityId, codes]);
    found.forEach((t) => themeIds.set(t.code, t.id));
  }
  // Polygons PostGIS finds invalid (self-intersections etc.) are rejected too (one statement).
  const polys = rows.filter((r) => r.polygon != null);
  const invalid = new Map<number, string>();
  if (polys.length) {
    const bad = await query<{ i: number; reason: string }>(
      em,
      `SELECT i::int AS i, ST_IsValidReason(ST_GeomFromGeoJSON(g)) AS reason
         FROM unnest(?::text[]) WITH ORDINALITY AS t(g, i) WHERE NOT ST_IsValid(ST_GeomFromGeoJSON(g))`,
      [polys.map((r) => r.polygon)],
    );
    bad.forEach((b) => invalid.set(polys[b.i - 1].line, b.reason));
  }
  const accepted: ParsedRow[] = [];
  const lateRejects: HeatRejection[] = [];
  for (const r of rows) {
    if (invalid.has(r.line)) lateRejects.push({ line: r.line, field: `${r.at}.geometry`, reason: `некорректный полигон: ${invalid.get(r.line)}` });
    else if (r.themeCode != null && !themeIds.has(r.themeCode))
      lateRejects.push({ line: r.line, field: `${r.at}.${input.format === HeatLayerFormat.GEOJSON ? 'properties.theme' : 'theme'}`, reason: `тема с кодом «${r.themeCode}» не найдена` });
    else accepted.push(r);
  }
  // Keep the report in file order.
  if (lateRejects.length) {
    const all = [...rejections, ...lateRejects].sort((a, b) => a.line - b.line);
    rejected += lateRejects.length;
    rejections.splice(0, rejections.length, ...all.slice(0, MAX_REPORTED));
  }
  rows = accepted;
  if (!rows.length) {
    const first = rejections[0];
    throw new InputError(first?.field ?? 'content', first ? `нет ни одной корректной строки; первая ошибка (строка ${first.line}): ${first.reason}` : 'в файле нет данных');
  }
  const totalWeight = rows.reduce((s, r) => s + r.weight, 0);

  const report = await em.transactional(async (tem) => {
    const inserted = await query<HeatLayerRow>(
      tem,
      `INSERT INTO heat_layer (municipality_id, source, name, format, theme_id, period_from, period_to, checksum, rows_read, cell_count, total_weight)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (municipality_id, checksum) DO NOTHING
       RETURNING ${HEAT_LAYER_COLUMNS}`,
      [municipalityId, source, name, input.format, input.themeId ?? null, input.periodFrom, input.periodTo, checksum, parsed.read, rows.length, totalWeight],
    );
    if (!inserted.length) {
      // Imported concurrently by someone else: same outcome as a re-import.
      const [layer] = await query<HeatLayerRow>(tem, `SELECT ${HEAT_LAYER_COLUMNS} FROM heat_layer WHERE municipality_id = ? AND checksum = ?`, [municipalityId, checksum]);
      return { layer, alreadyImported: true, read: layer.rows_read, inserted: 0, rejected: 0, rejections: [] };
    }
    const layer = inserted[0];
    for (let i = 0; i < rows.length; i += CHUNK) {
      const part = rows.slice(i, i + CHUNK);
      await query(
        tem,
        `INSERT INTO heat_cell (municipality_id, layer_id, line, geom, point, weight, theme_id)
         SELECT ?, ?, line, g, CASE WHEN gj IS NULL THEN g ELSE ST_PointOnSurface(g) END, w, t
           FROM (SELECT line, gj, w, t,
                        CASE WHEN gj IS NULL THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326) ELSE ST_SetSRID(ST_GeomFromGeoJSON(gj), 4326) END AS g
                   FROM unnest(?::int[], ?::float8[], ?::float8[], ?::text[], ?::float8[], ?::int[]) AS u(line, lon, lat, gj, w, t)) s`,
        [
          municipalityId,
          layer.id,
          part.map((r) => r.line),
          part.map((r) => r.lon),
          part.map((r) => r.lat),
          part.map((r) => r.polygon),
          part.map((r) => r.weight),
          part.map((r) => (r.themeCode != null ? themeIds.get(r.themeCode)! : input.themeId ?? null)),
        ],
      );
    }
    return { layer, alreadyImported: false, read: parsed.read, inserted: rows.length, rejected, rejections };
  });
  if (!report.alreadyImported) await markHeatDataChanged();
  return report;
}
