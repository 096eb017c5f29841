import type { Polygon } from 'geojson';
import { InputError } from '../errors.js';

/**
 * The metric hexagon grid of the heat map.
 *
 * Hexagons are pointy-top cells of an axial (q, r) grid laid in EPSG:3857 (Web Mercator, the
 * tiles' projection). Mercator metres are stretched by 1/cos(latitude), so the grid's size in
 * EPSG:3857 units is the wanted ground size divided by cos(latitude of the municipality's
 * centre): within a city the cells are true-size hexagons to a fraction of a percent.
 *
 * A point belongs to the hexagon whose centre is nearest (cube rounding of the fractional axial
 * coordinates). Every appeal and ЦУР point stores the packed id of its hexagon in each of the six
 * grids (columns hex_2000 … hex_100, filled by a trigger with the SQL function heat_hex_id; see
 * Migration20261127000004_heatcells), so a heat map is a GROUP BY over stored integers. The
 * grid's scale 1 / cos(lat0) is read from SQL (heat_grid_scale) so that the hexagons drawn here
 * from (q, r) are exactly those the database assigned points to.
 */

export const EARTH_RADIUS = 6378137;
const HALF_WORLD = Math.PI * EARTH_RADIUS;
export const MIN_ZOOM = 0;
export const MAX_ZOOM = 22;

/** Ground circumradius of a cell (metres) by map zoom: 2 km at zoom ≤ 10 down to 100 m at ≥ 15. */
export function cellSizeMeters(zoom: number): number {
  if (!Number.isInteger(zoom) || zoom < MIN_ZOOM || zoom > MAX_ZOOM) throw new InputError('zoom', `масштаб — целое число от ${MIN_ZOOM} до ${MAX_ZOOM}, получено ${zoom}`);
  const table: Record<number, number> = { 10: 2000, 11: 1000, 12: 500, 13: 250, 14: 150 };
  return zoom <= 10 ? 2000 : zoom >= 15 ? 100 : table[zoom];
}

/** Circumradius in EPSG:3857 units for a ground size at the latitude `lat0` (the server uses the scale read from SQL, see gridScale). */
export function mercatorSize(groundMeters: number, lat0: number): number {
  return groundMeters / Math.cos((lat0 * Math.PI) / 180);
}

/** The stored column with the cell ids of the grid used at `zoom` (one of six fixed names). */
export function hexColumn(zoom: number): string {
  return `hex_${cellSizeMeters(zoom)}`;
}

/** SQL: the packed cell id `hid` (see hexId) → its axial coordinates q and r. */
export const HEX_QR_SQL = '(hid / 2097152 - 1048576)::int AS q, (hid % 2097152 - 1048576)::int AS r';

export function toMercator(lon: number, lat: number): [number, number] {
  const x = (EARTH_RADIUS * lon * Math.PI) / 180;
  const y = EARTH_RADIUS * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
  return [x, y];
}

export function fromMercator(x: number, y: number): [number, number] {
  const lon = (x / EARTH_RADIUS) * (180 / Math.PI);
  const lat = (2 * Math.atan(Math.exp(y / EARTH_RADIUS)) - Math.PI / 2) * (180 / Math.PI);
  return [lon, lat];
}

/** Centre of hexagon (q, r) in EPSG:3857. */
export function hexCenter(q: number, r: number, size: number): [number, number] {
  return [size * Math.sqrt(3) * (q + r / 2), size * 1.5 * r];
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const DEG = 180 / Math.PI;

/**
 * Draws the hexagons of one grid as GeoJSON polygons in EPSG:4326 (vertices as in SQL
 * heat_hexagon, coordinates rounded to 10⁻⁶°, about 0.1 m). Pointy-top hexagons share their
 * vertex coordinates: every vertex longitude is a multiple of the half width (x = k · √3·size/2,
 * k = 2q + r − 1 … 2q + r + 1) and every vertex latitude a multiple of half the size
 * (y = k · size/2, k = 3r ± 1, 3r ± 2). Each of them is computed once per drawer, as a number and
 * as its JSON text, and reused by every cell of the row and the rows and columns next to it.
 */
export class HexagonDrawer {
  private readonly lat = new Map<number, number>();
  private readonly lon = new Map<number, number>();
  private readonly latText = new Map<number, string>();
  private readonly lonText = new Map<number, string>();
  private readonly halfWidth: number;
  constructor(private readonly size: number) {
    this.halfWidth = (size * Math.sqrt(3)) / 2;
  }

  /** Latitude of y = k · size / 2. */
  private latitude(k: number): number {
    let v = this.lat.get(k);
    if (v === undefined) {
      v = round6((2 * Math.atan(Math.exp((k * this.size) / 2 / EARTH_RADIUS)) - Math.PI / 2) * DEG);
      this.lat.set(k, v);
    }
    return v;
  }

  /** Longitude of x = k · halfWidth. */
  private longitude(k: number): number {
    let v = this.lon.get(k);
    if (v === undefined) {
      v = round6(((k * this.halfWidth) / EARTH_RADIUS) * DEG);
      this.lon.set(k, v);
    }
    return v;
  }

  private latitudeText(k: number): string {
    let v = this.latText.get(k);
    if (v === undefined) {
      v = JSON.stringify(this.latitude(k));
      this.latText.set(k, v);
    }
    return v;
  }

  private longitudeText(k: number): string {
    let v = this.lonText.get(k);
    if (v === undefined) {
      v = JSON.stringify(this.longitude(k));
      this.lonText.set(k, v);
    }
    return v;
  }

  polygon(q: number, r: number): Polygon {
    const kx = 2 * q + r;
    const east = this.longitude(kx + 1);
    const mid = this.longitude(kx);
    const west = this.longitude(kx - 1);
    const k = 3 * r;
    const s1 = this.latitude(k - 1);
    const n1 = this.latitude(k + 1);
    return {
      type: 'Polygon',
      // Vertices at −30°, 30°, 90°, 150°, 210°, 270°, back to −30° (counter-clockwise).
      coordinates: [[[east, s1], [east, n1], [mid, this.latitude(k + 2)], [west, n1], [west, s1], [mid, this.latitude(k - 2)], [east, s1]]],
    };
  }

  /** The same polygon as JSON text (what JSON.stringify(polygon(q, r)) gives), built from the cached coordinate texts. */
  polygonJson(q: number, r: number): string {
    const kx = 2 * q + r;
    const e = this.longitudeText(kx + 1);
    const m = this.longitudeText(kx);
    const w = this.longitudeText(kx - 1);
    const k = 3 * r;
    const s1 = this.latitudeText(k - 1);
    const n1 = this.latitudeText(k + 1);
    return `{"type":"Polygon","coordinates":[[[${e},${s1}],[${e},${n1}],[${m},${this.latitudeText(k + 2)}],[${w},${n1}],[${w},${s1}],[${m},${this.latitudeText(k - 2)}],[${e},${s1}]]]}`;
  }
}

/** The hexagon as a GeoJSON polygon in EPSG:4326 (vertices as in SQL heat_hexagon). */
export function hexPolygon(q: number, r: number, size: number): Polygon {
  return new HexagonDrawer(size).polygon(q, r);
}

/** Stable numeric id of a cell (MVT feature id): fits in 2^42, exact in JS numbers. */
export function hexId(q: number, r: number): number {
  return (q + 2 ** 20) * 2 ** 21 + (r + 2 ** 20);
}

/**
 * Ids of every hexagon (grid of circumradius `size`, EPSG:3857) that can hold a point of the
 * rectangle: a point lies in the hexagon of its nearest centre, at most `size` away, so every
 * hexagon whose centre is within `size` (plus 1 % for rounding) of the rectangle. A superset: the
 * query still tests each point against the rectangle. Null when there are more than `limit`.
 */
export function hexIdsCovering(x0: number, y0: number, x1: number, y1: number, size: number, limit = Infinity): number[] | null {
  const m = size * 1.01;
  const rowHeight = 1.5 * size;
  const width = Math.sqrt(3) * size;
  const ids: number[] = [];
  for (let r = Math.ceil((y0 - m) / rowHeight); r * rowHeight <= y1 + m; r++)
    for (let q = Math.ceil((x0 - m) / width - r / 2); width * (q + r / 2) <= x1 + m; q++) {
      if (ids.length >= limit) return null;
      ids.push(hexId(q, r));
    }
  return ids;
}

/** Bounds of the web-mercator tile z/x/y in EPSG:3857. */
export function tileBounds(z: number, x: number, y: number): { minX: number; minY: number; maxX: number; maxY: number; span: number } {
  const span = (2 * HALF_WORLD) / 2 ** z;
  const minX = -HALF_WORLD + x * span;
  const maxY = HALF_WORLD - y * span;
  return { minX, minY: maxY - span, maxX: minX + span, maxY, span };
}

/** EPSG:3857 rectangle → EPSG:4326 bbox (clamped to the valid range). */
export function mercatorToBBox(minX: number, minY: number, maxX: number, maxY: number) {
  const [minLon, minLat] = fromMercator(Math.max(minX, -HALF_WORLD), Math.max(minY, -HALF_WORLD));
  const [maxLon, maxLat] = fromMercator(Math.min(maxX, HALF_WORLD), Math.min(maxY, HALF_WORLD));
  // Floating point at the edge of the world (the last tile of zoom 22 ends at 180.00000000000003°): clamp.
  const clamp = (v: number, lim: number) => Math.max(-lim, Math.min(lim, v));
  return { minLon: clamp(minLon, 180), minLat: clamp(minLat, 90), maxLon: clamp(maxLon, 180), maxLat: clamp(maxLat, 90) };
}
