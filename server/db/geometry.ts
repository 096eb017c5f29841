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
