import type { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import { parse as parseCsv } from 'csv-parse';
import { decodeStream } from '../files/encoding.js';
import { query } from '../db/sql.js';
import { readReference } from '../reference/files.js';
import { parseAddress, streetKeyLoose } from './address.js';
import type { Issue } from './normalize.js';
import { num, str } from './values.js';
import { sniffCsvDelimiter } from './sources.js';

export interface AddressRow { street: string; house: string; lon: number; lat: number }
export interface AddressImportReport { read: number; inserted: number; updated: number; rejected: number; issues: Issue[] }

const CHUNK = 5000;

async function upsert(em: EntityManager, municipalityId: number, rows: { streetKey: string; house: string; display: string; lon: number; lat: number }[]) {
  if (!rows.length) return { inserted: 0, updated: 0 };
  const r = await query<{ inserted: boolean }>(
    em,
    `INSERT INTO address_point (municipality_id, street_key, street_loose, house, display, point)
     SELECT ?, t.k, t.l, t.h, t.d, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)
       FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::float8[], ?::float8[]) AS t(k, l, h, d, lon, lat)
     ON CONFLICT (municipality_id, street_key, house) DO UPDATE SET display = excluded.display, point = excluded.point, street_loose = excluded.street_loose
     RETURNING (xmax = 0) AS inserted`,
    [municipalityId, rows.map((x) => x.streetKey), rows.map((x) => streetKeyLoose(x.streetKey)), rows.map((x) => x.house), rows.map((x) => x.display), rows.map((x) => x.lon), rows.map((x) => x.lat)],
  );
  const inserted = r.filter((x) => x.inserted).length;
  return { inserted, updated: r.length - inserted };
}

/**
 * Imports the local address register from CSV (columns: street; house; lat; lon — e.g.
 * "пр. Ленина;85;51.51395;81.21176"). Streamed, chunked; bad rows reported by line.
 */
export async function importAddressRegister(em: EntityManager, municipalityId: number, input: Readable): Promise<AddressImportReport> {
  const report: AddressImportReport = { read: 0, inserted: 0, updated: 0, rejected: 0, issues: [] };
  const [ext] = await query<{ cx: number; cy: number }>(em, 'SELECT ST_X(center) AS cx, ST_Y(center) AS cy FROM municipality WHERE id = ?', [municipalityId]);
  let batch: { streetKey: string; house: string; display: string; lon: number; lat: number }[] = [];
  const flush = async () => {
    const rows = [...new Map(batch.map((b) => [`${b.streetKey}|${b.house}`, b])).values()];
    batch = [];
    const r = await em.transactional((tem) => upsert(tem, municipalityId, rows));
    report.inserted += r.inserted;
    report.updated += r.updated;
  };
  // UTF-8 or Windows-1251 (Russian Excel's CSV), detected; anything else refused with a clear message.
  const sniffed = await sniffCsvDelimiter((await decodeStream(input)).text);
  const parser = sniffed.input.pipe(parseCsv({ columns: (h: string[]) => h.map((x) => x.trim().toLowerCase()), bom: true, delimiter: sniffed.delimiter, skip_empty_lines: true, info: true, relax_quotes: true }));
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    report.read++;
    const line = info.lines;
    const bad = (field: string, reason: string) => {
      report.rejected++;
      if (report.issues.length < 1000) report.issues.push({ line, field, severity: 'ERROR', reason });
    };
    const street = str(record.street ?? record['улица']);
    const house = str(record.house ?? record['дом']);
    let lat: number | undefined;
    let lon: number | undefined;
    try {
      lat = num(record.lat ?? record['широта']);
      lon = num(record.lon ?? record['долгота']);
    } catch (e) {
      bad('lat/lon', (e as Error).message);
      continue;
    }
    if (!street) { bad('street', 'нет улицы'); continue; }
    if (!house) { bad('house', 'нет номера дома'); continue; }
    if (lat === undefined || lon === undefined) { bad('lat/lon', 'нет координат'); continue; }
    if (Math.abs(lat - ext.cy) > 1 && Math.abs(lon - ext.cy) < 1 && Math.abs(lat - ext.cx) < 1) [lat, lon] = [lon, lat];
    if (Math.abs(lat - ext.cy) > 1 || Math.abs(lon - ext.cx) > 1) { bad('lat/lon', `точка (${lat}, ${lon}) далеко за пределами муниципального образования`); continue; }
    const p = parseAddress(`${street}, ${house}`);
    if (!p || !p.house) { bad('street', `адрес «${street}, ${house}» не разобран`); continue; }
    batch.push({ streetKey: p.streetKey, house: p.house, display: `${street}, ${house}`, lon, lat });
    if (batch.length >= CHUNK) await flush();
  }
  await flush();
  return report;
}

/** A demo address register: houses placed along the approximate street lines of demo.json. */
export function demoAddressRows(municipality = 'rubtsovsk'): AddressRow[] {
  const demo = readReference<{ streets: { name: string; houses: [number, number]; line: [number, number][] }[] }>(municipality, 'demo.json');
  const out: AddressRow[] = [];
  for (const s of demo.streets) {
    const seg = s.line.slice(1).map((p, i) => Math.hypot(p[0] - s.line[i][0], (p[1] - s.line[i][1]) * 1.6));
    const total = seg.reduce((a, b) => a + b, 0);
    for (let h = s.houses[0]; h <= s.houses[1]; h++) {
      let d = ((h - s.houses[0]) / Math.max(1, s.houses[1] - s.houses[0])) * total;
      let i = 0;
      while (i < seg.length - 1 && d > seg[i]) d -= seg[i++];
      const f = seg[i] ? Math.min(1, d / seg[i]) : 0;
      const [a, b] = [s.line[i], s.line[i + 1]];
      // Odd and even sides of the street a few metres apart.
      const side = h % 2 ? 0.00012 : -0.00012;
      out.push({ street: s.name, house: String(h), lon: +(a[0] + (b[0] - a[0]) * f + side).toFixed(6), lat: +(a[1] + (b[1] - a[1]) * f).toFixed(6) });
    }
  }
  return out;
}

/** Loads the demo register into an empty address table. */
export async function loadDemoAddressRegister(em: EntityManager, municipalityId: number): Promise<number> {
  const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM address_point WHERE municipality_id = ?', [municipalityId]);
  if (n > 0) return 0;
  // The register of this municipality's own demo streets (db/reference/<code>/demo.json).
  const [m] = await query<{ code: string }>(em, 'SELECT code FROM municipality WHERE id = ?', [municipalityId]);
  const rows = demoAddressRows(m.code)
    .map((r) => ({ p: parseAddress(`${r.street}, ${r.house}`), r }))
    .filter((x) => x.p?.house)
    .map(({ p, r }) => ({ streetKey: p!.streetKey, house: p!.house!, display: `${r.street}, ${r.house}`, lon: r.lon, lat: r.lat }));
  const unique = [...new Map(rows.map((x) => [`${x.streetKey}|${x.house}`, x])).values()];
  const r = await em.transactional((tem) => upsert(tem, municipalityId, unique));
  return r.inserted;
}
