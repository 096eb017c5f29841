// Geometry helpers for district polygons (GeoJSON, EPSG:4326).
import type { MultiPolygon, Polygon, Position } from 'geojson';

export type Bounds = [[number, number], [number, number]];

function polygons(g: MultiPolygon | Polygon): Position[][][] {
  return g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
}

export function geometryBounds(g: MultiPolygon | Polygon): Bounds | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const poly of polygons(g)) {
    for (const [x, y] of poly[0] ?? []) {
      if (x < minX) minX = x;
      if (y < minY) minY = y;
      if (x > maxX) maxX = x;
      if (y > maxY) maxY = y;
    }
  }
  return Number.isFinite(minX) ? [[minX, minY], [maxX, maxY]] : null;
}

export function mergeBounds(list: (Bounds | null)[]): Bounds | null {
  const valid = list.filter((b): b is Bounds => b !== null);
  if (!valid.length) return null;
  return [
    [Math.min(...valid.map((b) => b[0][0])), Math.min(...valid.map((b) => b[0][1]))],
    [Math.max(...valid.map((b) => b[1][0])), Math.max(...valid.map((b) => b[1][1]))],
  ];
}

/** Area-weighted centroid of the outer ring of the largest polygon: a label anchor. */
export function labelPoint(g: MultiPolygon | Polygon): [number, number] | null {
  let best: { area: number; c: [number, number] } | null = null;
  for (const poly of polygons(g)) {
    const ring = poly[0];
    if (!ring || ring.length < 3) continue;
    let a = 0, cx = 0, cy = 0;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
      a += f;
      cx += (ring[j][0] + ring[i][0]) * f;
      cy += (ring[j][1] + ring[i][1]) * f;
    }
    if (a === 0) continue;
    const c: [number, number] = [cx / (3 * a), cy / (3 * a)];
    if (!best || Math.abs(a) > best.area) best = { area: Math.abs(a), c };
  }
  return best?.c ?? null;
}
