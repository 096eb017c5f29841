import { Type } from '@mikro-orm/core';
import type { Geometry } from 'geojson';

/**
 * A PostGIS geometry column (EPSG:4326) exposed to code as a GeoJSON object.
 * Conversion happens in SQL (ST_AsGeoJSON / ST_GeomFromGeoJSON) so that both
 * backends behave the same.
 */
export class GeometryType extends Type<Geometry | null, string | null> {
  constructor(private readonly geometryType: 'Point' | 'MultiPolygon' | 'Polygon' | 'Geometry' = 'Geometry') {
    super();
  }

  override convertToDatabaseValue(value: Geometry | string | null): string | null {
    if (value == null) return null;
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  override convertToJSValue(value: Geometry | string | null): Geometry | null {
    if (value == null) return null;
    return typeof value === 'string' ? (JSON.parse(value) as Geometry) : value;
  }

  override convertToJSValueSQL(key: string): string {
    return `ST_AsGeoJSON(${key}, 7)::json`;
  }

  override convertToDatabaseValueSQL(key: string): string {
    return `ST_SetSRID(ST_GeomFromGeoJSON(${key}), 4326)`;
  }

  override getColumnType(): string {
    return `geometry(${this.geometryType}, 4326)`;
  }

  override compareAsType(): string {
    return 'string';
  }
}

/**
 * Vertex limits of polygon imports (districts, ЦУР heat-map layers): a polygon's work and storage grow with its
 * vertices (containment tests of every appeal, tiles, GeoJSON answers), so a feature and a file are bounded.
 * POLYGON_MAX_VERTICES per feature, POLYGON_MAX_TOTAL_VERTICES per file.
 */
export const POLYGON_LIMITS = {
  perFeature: Number(process.env.POLYGON_MAX_VERTICES ?? 100_000),
  perFile: Number(process.env.POLYGON_MAX_TOTAL_VERTICES ?? 2_000_000),
};

/** Vertices of a Polygon's or MultiPolygon's coordinates (rings of positions), counted without trusting shapes. */
export function countVertices(polygons: unknown[]): number {
  let n = 0;
  for (const poly of polygons) {
    if (!Array.isArray(poly)) continue;
    for (const ring of poly) if (Array.isArray(ring)) n += ring.length;
  }
  return n;
}

/** Throws the given error type when a feature or the file exceeds the vertex limits; returns the file's new total. */
export function checkVertices(polygons: unknown[], totalSoFar: number, field: string, fail: (field: string, message: string) => Error): number {
  const n = countVertices(polygons);
  if (n > POLYGON_LIMITS.perFeature) throw fail(field, `слишком сложная геометрия: ${n} вершин, допускается не более ${POLYGON_LIMITS.perFeature} (POLYGON_MAX_VERTICES); упростите контур`);
  const total = totalSoFar + n;
  if (total > POLYGON_LIMITS.perFile) throw fail(field, `в файле более ${POLYGON_LIMITS.perFile} вершин полигонов (POLYGON_MAX_TOTAL_VERTICES): файл не принят; упростите контуры`);
  return total;
}
