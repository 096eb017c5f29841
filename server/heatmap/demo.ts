import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { readReference } from '../reference/files.js';
import { HeatLayerFormat } from './entities.js';
import { importHeatLayer, type HeatImportReport } from './importer.js';

/**
 * A generated ЦУР heat-map layer for the demo (deterministic for a seed): a CSV as the regional
 * centre would export it (lat;lon;weight;theme), imported through the ordinary importer.
 * Hot spots are placed on real streets of the demo reference (approximate positions): the city
 * centre on пр. Ленина, the industrial zone on ул. Заводская, and the middles of several other
 * streets; a thinner background follows every street. Invented data, marked as such in the name.
 */

interface Street { name: string; line: [number, number][] }

function mulberry32(seed: number) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const THEMES = ['roads.potholes', 'gkh.heating', 'blag.waste', 'blag.lighting', 'gkh.water', 'roads.snow', 'blag.yards'];
/** Demo period: the same as the demo appeals (2025-01-01 … 2026-11-28, local time UTC+7). */
export const DEMO_HEAT_PERIOD = { from: new Date('2024-12-31T17:00:00Z'), to: new Date('2026-11-27T17:00:00Z') };

function pointOn(line: [number, number][], t: number): [number, number] {
  const segs = line.length - 1;
  const pos = Math.min(t * segs, segs - 1e-9);
  const i = Math.floor(pos);
  const f = pos - i;
  return [line[i][0] + (line[i + 1][0] - line[i][0]) * f, line[i][1] + (line[i + 1][1] - line[i][1]) * f];
}

export function generateDemoHeatCsv(municipality = 'rubtsovsk', seed = 2026): string {
  const rnd = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const streets = readReference<{ streets: Street[] }>(municipality, 'demo.json').streets.filter((s) => s.line.length >= 2);
  const lines = ['lat;lon;weight;theme'];
  const mPerDegLat = 111_320;
  const mPerDegLon = 111_320 * Math.cos((51.515 * Math.PI) / 180);
  const add = (lon: number, lat: number, spreadM: number, weight: number, theme: string) => {
    const x = lon + (gauss() * spreadM) / mPerDegLon;
    const y = lat + (gauss() * spreadM) / mPerDegLat;
    lines.push(`${y.toFixed(6)};${x.toFixed(6)};${weight.toFixed(1)};${theme}`);
  };
  // Hot spots: [lon, lat, spread m, points, theme]
  const hot: [number, number, number, number, string][] = [
    [81.21176, 51.51395, 350, 260, 'roads.potholes'], // пр. Ленина 85, centre
    [81.18673, 51.50907, 300, 200, 'gkh.heating'], // ул. Заводская 220, industrial zone
  ];
  for (const i of [2, 5, 9, 14, 21, 27]) {
    const s = streets[i % streets.length];
    const [lon, lat] = pointOn(s.line, 0.5);
    hot.push([lon, lat, 250, 90 + Math.floor(rnd() * 80), THEMES[i % THEMES.length]]);
  }
  for (const [lon, lat, spread, n, theme] of hot)
    for (let k = 0; k < n; k++) add(lon, lat, spread, 2 + Math.round(rnd() * 8), rnd() < 0.7 ? theme : THEMES[Math.floor(rnd() * THEMES.length)]);
  // Background along the streets.
  for (const s of streets)
    for (let k = 0; k < 25; k++) {
      const [lon, lat] = pointOn(s.line, rnd());
      add(lon, lat, 60, 1 + Math.round(rnd() * 3), THEMES[Math.floor(rnd() * THEMES.length)]);
    }
  return lines.join('\n') + '\n';
}

/** Imports the demo ЦУР layer once (when the municipality has no heat layer yet). */
export async function ensureDemoHeatLayer(em: EntityManager, municipalityId: number, municipality = 'rubtsovsk'): Promise<HeatImportReport | null> {
  const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM heat_layer WHERE municipality_id = ?', [municipalityId]);
  if (n > 0) return null;
  return importHeatLayer(em, municipalityId, {
    content: generateDemoHeatCsv(municipality),
    format: HeatLayerFormat.CSV,
    periodFrom: DEMO_HEAT_PERIOD.from,
    periodTo: DEMO_HEAT_PERIOD.to,
    name: 'ЦУР: демонстрационный слой (сгенерирован)',
    source: 'ЦУР Алтайского края (демо)',
  });
}
