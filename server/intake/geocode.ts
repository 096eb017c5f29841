/**
 * Geocoding of appeal addresses against the municipality's address register (address_point), as people write them:
 * every house a text names ("20, 22", "10–14") is tried in turn; a street written without a house, or with a house
 * the register lacks, resolves to the street (the register point nearest the centre of its houses) with precision
 * STREET; a mistyped street name resolves to the only register street within edit distance 1–2.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { bound } from './bound.js';
import { closestStreet, parseAddressHouses, streetKeyLoose } from './address.js';

export type PlacePrecision = 'HOUSE' | 'STREET' | 'DISTRICT' | 'NONE';
export interface GeocodeHit { lon: number; lat: number; precision: PlacePrecision }
type Point = { lon: number; lat: number } | null;

/** What one import has looked up already (bounded). */
export class GeocodeCache {
  readonly houses = new Map<string, Point>();        // `${streetKey}|${house}` or `~${loose}|${house}`
  readonly streets = new Map<string, Point>();       // loose name → centre point
  streetNames: string[] | null = null;               // distinct loose names of the register (for misspellings)
  readonly corrected = new Map<string, string | null>();
  trim() {
    if (this.houses.size > 200_000) this.houses.clear();
    if (this.streets.size > 50_000) this.streets.clear();
    if (this.corrected.size > 50_000) this.corrected.clear();
  }
}

async function lookupHouses(em: EntityManager, mid: number, cache: GeocodeCache, want: { key: string; streetKey: string | null; loose: string; house: string }[]) {
  const missing = [...new Map(want.filter((w) => !cache.houses.has(w.key)).map((w) => [w.key, w])).values()];
  if (!missing.length) return;
  const found = await bound<{ i: number; lon: number | null; lat: number | null }>(
    em,
    `SELECT t.i::int AS i, ST_X(coalesce(e.point, l.point)) AS lon, ST_Y(coalesce(e.point, l.point)) AS lat
       FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(street_key, street_loose, house, i)
       LEFT JOIN address_point e ON t.street_key IS NOT NULL AND e.municipality_id = $1 AND e.street_key = t.street_key AND e.house = t.house
       LEFT JOIN LATERAL (SELECT l.point FROM address_point l
                           WHERE e.id IS NULL AND l.municipality_id = $1 AND l.street_loose = t.street_loose AND l.house = t.house
                           ORDER BY l.id LIMIT 1) l ON true`,
    [mid, missing.map((k) => k.streetKey), missing.map((k) => k.loose), missing.map((k) => k.house)],
  );
  for (const f of found) cache.houses.set(missing[f.i - 1].key, f.lon == null ? null : { lon: f.lon, lat: f.lat! });
}

async function lookupStreets(em: EntityManager, mid: number, cache: GeocodeCache, looses: string[]) {
  const missing = [...new Set(looses.filter((l) => !cache.streets.has(l)))];
  if (!missing.length) return;
  const found = await bound<{ i: number; lon: number | null; lat: number | null }>(
    em,
    `SELECT t.i::int AS i, ST_X(c.p) AS lon, ST_Y(c.p) AS lat
       FROM unnest($2::text[]) WITH ORDINALITY AS t(loose, i)
       CROSS JOIN LATERAL (SELECT ST_ClosestPoint(ST_Collect(a.point), ST_Centroid(ST_Collect(a.point))) AS p
                             FROM address_point a WHERE a.municipality_id = $1 AND a.street_loose = t.loose) c`,
    [mid, missing],
  );
  for (const f of found) cache.streets.set(missing[f.i - 1], f.lon == null ? null : { lon: f.lon, lat: f.lat! });
}

/** Geocodes address texts (null entries for no result). One to four statements per call, whatever the count. */
export async function geocodeAddresses(em: EntityManager, mid: number, cache: GeocodeCache, addresses: string[]): Promise<(GeocodeHit | null)[]> {
  cache.trim();
  const parsed = addresses.map((a) => parseAddressHouses(a));
  const houseKey = (streetKey: string, h: string) => `${streetKey}|${h}`;
  // 1. Houses as written.
  await lookupHouses(em, mid, cache, parsed.flatMap((p) => (p ? p.houses.map((h) => ({ key: houseKey(p.streetKey, h), streetKey: p.streetKey, loose: streetKeyLoose(p.streetKey), house: h })) : [])));
  const out: (GeocodeHit | null)[] = parsed.map((p) => {
    if (!p) return null;
    for (const h of p.houses) { const f = cache.houses.get(houseKey(p.streetKey, h)); if (f) return { ...f, precision: 'HOUSE' as const }; }
    return null;
  });
  // 2. The street itself (known name).
  const pending = parsed.map((p, i) => (p && !out[i] ? i : -1)).filter((i) => i >= 0);
  if (!pending.length) return out;
  await lookupStreets(em, mid, cache, pending.map((i) => streetKeyLoose(parsed[i]!.streetKey)));
  // 3. Misspelled names: the only register street within a small edit distance.
  const unknown = pending.filter((i) => !cache.streets.get(streetKeyLoose(parsed[i]!.streetKey)));
  if (unknown.length) {
    if (!cache.streetNames) {
      cache.streetNames = (await bound<{ loose: string }>(em, 'SELECT DISTINCT street_loose AS loose FROM address_point WHERE municipality_id = $1 LIMIT 20000', [mid])).map((r) => r.loose);
    }
    for (const i of unknown) {
      const loose = streetKeyLoose(parsed[i]!.streetKey);
      if (!cache.corrected.has(loose)) cache.corrected.set(loose, closestStreet(loose, cache.streetNames));
    }
    const fixed = unknown.filter((i) => cache.corrected.get(streetKeyLoose(parsed[i]!.streetKey)));
    await lookupHouses(em, mid, cache, fixed.flatMap((i) => {
      const loose = cache.corrected.get(streetKeyLoose(parsed[i]!.streetKey))!;
      return parsed[i]!.houses.map((h) => ({ key: `~${loose}|${h}`, streetKey: null, loose, house: h }));
    }));
    await lookupStreets(em, mid, cache, fixed.map((i) => cache.corrected.get(streetKeyLoose(parsed[i]!.streetKey))!));
  }
  for (const i of pending) {
    const p = parsed[i]!;
    let loose = streetKeyLoose(p.streetKey);
    let street = cache.streets.get(loose);
    if (!street) {
      const c = cache.corrected.get(loose);
      if (!c) continue;
      loose = c;
      for (const h of p.houses) { const f = cache.houses.get(`~${loose}|${h}`); if (f) { out[i] = { ...f, precision: 'HOUSE' }; break; } }
      if (out[i]) continue;
      street = cache.streets.get(loose);
    }
    if (street) out[i] = { ...street, precision: 'STREET' };
  }
  return out;
}
