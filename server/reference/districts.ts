import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import type { MultiPolygon, Position } from 'geojson';
import { checkVertices } from '../db/geometry.js';
import { InputError } from '../errors.js';

export interface DistrictInput {
  code: string;
  name: string;
  kind: string | null;
  population: number | null;
  approximate: boolean;
  geometry: MultiPolygon;
}

export interface DistrictImportReport {
  read: number;
  inserted: number;
  updated: number;
  removed: number;
  appealsReassigned: number;
}

const MAX_FEATURES = 5000;
/** Districts farther than this from the municipality's centre are rejected as misplaced. */
const MAX_DISTANCE_KM = 150;

function distanceKm(a: Position, b: Position): number {
  const rad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * rad;
  const dLon = (b[0] - a[0]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * rad) * Math.cos(b[1] * rad) * Math.sin(dLon / 2) ** 2;
  return 12742 * Math.asin(Math.sqrt(h));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseRing(ring: unknown, field: string): Position[] {
  if (!Array.isArray(ring) || ring.length < 4) throw new InputError(field, 'кольцо полигона должно содержать не менее 4 точек');
  ring.forEach((p, i) => {
    if (!Array.isArray(p) || p.length < 2 || !p.slice(0, 2).every((n) => typeof n === 'number' && Number.isFinite(n)))
      throw new InputError(`${field}[${i}]`, 'точка должна быть парой чисел [долгота, широта]');
    if (p[0] < -180 || p[0] > 180) throw new InputError(`${field}[${i}]`, `долгота ${p[0]} вне диапазона −180…180`);
    if (p[1] < -90 || p[1] > 90) throw new InputError(`${field}[${i}]`, `широта ${p[1]} вне диапазона −90…90`);
  });
  const first = ring[0] as Position;
  const last = ring[ring.length - 1] as Position;
  if (first[0] !== last[0] || first[1] !== last[1]) throw new InputError(field, 'кольцо полигона не замкнуто (первая точка не равна последней)');
  return (ring as Position[]).map((p) => [p[0], p[1]]);
}

/**
 * Validates a GeoJSON FeatureCollection of districts. Throws InputError naming the
 * feature and field at the first problem; nothing is written by this function.
 */
export function parseDistrictCollection(input: unknown, center: Position): DistrictInput[] {
  if (!isObject(input) || input.type !== 'FeatureCollection') throw new InputError('type', 'ожидается GeoJSON FeatureCollection');
  const features = input.features;
  if (!Array.isArray(features) || features.length === 0) throw new InputError('features', 'нет ни одного объекта (features пуст)');
  if (features.length > MAX_FEATURES) throw new InputError('features', `слишком много объектов: ${features.length} (максимум ${MAX_FEATURES})`);
  const seen = new Set<string>();
  let vertices = 0;
  return features.map((f, i) => {
    const at = `features[${i}]`;
    if (!isObject(f) || f.type !== 'Feature') throw new InputError(at, 'ожидается объект GeoJSON Feature');
    const props = isObject(f.properties) ? f.properties : {};
    for (const key of ['name', 'code', 'id', 'kind'])
      if (typeof props[key] === 'string' && (props[key] as string).includes('\u0000'))
        throw new InputError(`${at}.properties.${key}`, 'строка содержит нулевой символ');
    const name = typeof props.name === 'string' ? props.name.trim() : '';
    if (!name) throw new InputError(`${at}.properties.name`, 'не указано название района');
    const rawCode = props.code ?? props.id;
    const code = (typeof rawCode === 'string' || typeof rawCode === 'number' ? String(rawCode) : '').trim();
    if (!code) throw new InputError(`${at}.properties.code`, 'не указан код района');
    if (code.length > 64) throw new InputError(`${at}.properties.code`, 'код района длиннее 64 символов');
    if (seen.has(code)) throw new InputError(`${at}.properties.code`, `код «${code}» повторяется`);
    seen.add(code);
    let population: number | null = null;
    if (props.population != null) {
      if (typeof props.population !== 'number' || !Number.isInteger(props.population) || props.population < 0)
        throw new InputError(`${at}.properties.population`, 'численность населения должна быть целым неотрицательным числом');
      population = props.population;
    }
    const g = f.geometry;
    if (!isObject(g)) throw new InputError(`${at}.geometry`, 'нет геометрии');
    let polygons: unknown[];
    if (g.type === 'Polygon') polygons = [g.coordinates];
    else if (g.type === 'MultiPolygon' && Array.isArray(g.coordinates)) polygons = g.coordinates;
    else throw new InputError(`${at}.geometry.type`, `ожидается Polygon или MultiPolygon, получено ${String(g.type)}`);
    if (polygons.length === 0) throw new InputError(`${at}.geometry.coordinates`, 'пустая геометрия');
    vertices = checkVertices(polygons, vertices, `${at}.geometry.coordinates`, (f, m) => new InputError(f, m));
    const coordinates = polygons.map((poly, pi) => {
      const pf = `${at}.geometry.coordinates` + (g.type === 'MultiPolygon' ? `[${pi}]` : '');
      if (!Array.isArray(poly) || poly.length === 0) throw new InputError(pf, 'полигон без колец');
      return poly.map((ring, ri) => parseRing(ring, `${pf}[${ri}]`));
    });
    const probe = coordinates[0][0][0];
    const d = distanceKm(probe, center);
    if (d > MAX_DISTANCE_KM) {
      const swapped = distanceKm([probe[1], probe[0]], center) <= MAX_DISTANCE_KM;
      throw new InputError(
        `${at}.geometry.coordinates`,
        swapped
          ? 'похоже, широта и долгота переставлены местами: в GeoJSON порядок [долгота, широта]'
          : `район в ${Math.round(d)} км от центра муниципального образования — вне его территории`,
      );
    }
    return {
      code,
      name,
      kind: typeof props.kind === 'string' ? props.kind : null,
      population,
      approximate: props.approximate === true,
      geometry: { type: 'MultiPolygon', coordinates },
    };
  });
}

/**
 * Imports districts in one transaction: validate, check geometry validity in PostGIS,
 * upsert by code, optionally remove districts absent from the file, and re-derive the
 * district of every appeal of the municipality. Any error rolls back everything.
 */
export async function importDistricts(
  em: EntityManager,
  municipalityId: number,
  input: unknown,
  opts: { replace?: boolean } = {},
): Promise<DistrictImportReport> {
  const [mun] = await query<{ lon: number; lat: number }>(em, 
    'SELECT ST_X(center) AS lon, ST_Y(center) AS lat FROM municipality WHERE id = ?',
    [municipalityId],
  );
  if (!mun) throw new InputError('municipalityId', `муниципальное образование ${municipalityId} не найдено`);
  const districts = parseDistrictCollection(input, [mun.lon, mun.lat]);
  const geoms = districts.map((d) => JSON.stringify(d.geometry));

  const invalid = await query<{ i: number; reason: string }>(em, 
    `SELECT i::int AS i, ST_IsValidReason(ST_GeomFromGeoJSON(g)) AS reason
       FROM unnest(?::text[]) WITH ORDINALITY AS t(g, i)
      WHERE NOT ST_IsValid(ST_GeomFromGeoJSON(g))`,
    [geoms],
  );
  if (invalid.length > 0) {
    const first = invalid[0];
    throw new InputError(`features[${first.i - 1}].geometry`, `некорректный полигон: ${first.reason}`);
  }

  return em.transactional(async (tem) => {
    const rows = await query<{ inserted: boolean }>(tem, 
      `INSERT INTO district (municipality_id, code, name, kind, population, approximate, geom)
       SELECT ?, code, name, kind, population, approximate, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(g), 4326))
         FROM unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::boolean[], ?::text[])
              AS t(code, name, kind, population, approximate, g)
       ON CONFLICT (municipality_id, code) DO UPDATE
          SET name = excluded.name, kind = excluded.kind, population = excluded.population,
              approximate = excluded.approximate, geom = excluded.geom
       RETURNING (xmax = 0) AS inserted`,
      [
        municipalityId,
        districts.map((d) => d.code),
        districts.map((d) => d.name),
        districts.map((d) => d.kind),
        districts.map((d) => d.population),
        districts.map((d) => d.approximate),
        geoms,
      ],
    );
    const inserted = rows.filter((r) => r.inserted).length;
    let removed = 0;
    if (opts.replace) {
      const codes = districts.map((d) => d.code);
      await query(tem, 
        `UPDATE appeal SET district_id = NULL
          WHERE district_id IN (SELECT id FROM district WHERE municipality_id = ? AND NOT (code = ANY(?::text[])))`,
        [municipalityId, codes],
      );
      const gone = await query<{ id: number }>(tem, 
        'DELETE FROM district WHERE municipality_id = ? AND NOT (code = ANY(?::text[])) RETURNING id',
        [municipalityId, codes],
      );
      removed = gone.length;
    }
    const reassigned = await query<{ n: number }>(tem, 
      `WITH next AS (
         SELECT a.id, (SELECT d.id FROM district d
                        WHERE d.municipality_id = a.municipality_id AND ST_Intersects(d.geom, a.point)
                        ORDER BY d.id LIMIT 1) AS district_id
           FROM appeal a
          WHERE a.municipality_id = ? AND a.point IS NOT NULL)
       , upd AS (
         UPDATE appeal a SET district_id = next.district_id FROM next
          WHERE a.id = next.id AND a.district_id IS DISTINCT FROM next.district_id
         RETURNING 1)
       SELECT count(*)::int AS n FROM upd`,
      [municipalityId],
    );
    return { read: districts.length, inserted, updated: rows.length - inserted, removed, appealsReassigned: reassigned[0].n };
  });
}
