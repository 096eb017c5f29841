import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { generateDemoAppeals, referenceDir, type DemoAppeal } from '../server/demo/generator.js';

const dir = referenceDir();
const read = <T>(f: string): T => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as T;

interface Theme { code: string; parentCode: string | null; blockCode: string; organizationCode: string; keywords: string[] }
interface Org { code: string; kind: string; parentCode: string | null }
type Ring = number[][];
interface Feature { properties: { code: string; name: string; population: number; approximate: boolean }; geometry: { type: string; coordinates: Ring[][] } }

const themes = read<Theme[]>('themes.json');
const orgs = read<Org[]>('organizations.json');
const blocks = read<{ code: string }[]>('thematic_blocks.json');
const districts = read<{ type: string; features: Feature[] }>('districts.geojson');
const demo = read<{ themes: Record<string, unknown> }>('demo.json');
const leafCodes = new Set(themes.filter((t) => !themes.some((c) => c.parentCode === t.code)).map((t) => t.code));

function take(n: number, seed?: number): DemoAppeal[] {
  const out: DemoAppeal[] = [];
  for (const a of generateDemoAppeals({ count: n, seed })) out.push(a);
  return out;
}

function pointInPolygon(x: number, y: number, poly: Ring[]): boolean {
  let inside = false;
  for (const ring of poly) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

const bbox = (() => {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of districts.features) for (const poly of f.geometry.coordinates) for (const ring of poly) for (const [x, y] of ring) {
    minX = Math.min(minX, x); minY = Math.min(minY, y); maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
  }
  return { minX, minY, maxX, maxY };
})();

describe('Rubtsovsk reference data', () => {
  it('districts.geojson is a valid, non-overlapping MultiPolygon collection', () => {
    expect(districts.type).toBe('FeatureCollection');
    expect(districts.features.length).toBeGreaterThanOrEqual(8);
    expect(districts.features.length).toBeLessThanOrEqual(11);
    for (const f of districts.features) {
      expect(f.geometry.type).toBe('MultiPolygon');
      expect(f.properties.approximate).toBe(true);
      for (const poly of f.geometry.coordinates) {
        for (const [k, ring] of poly.entries()) {
          expect(ring.length).toBeGreaterThanOrEqual(4);
          expect(ring[0]).toEqual(ring[ring.length - 1]);
          let area2 = 0;
          for (let i = 0; i + 1 < ring.length; i++) area2 += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
          if (k === 0) expect(area2).toBeGreaterThan(0); // outer ring counter-clockwise
          else expect(area2).toBeLessThan(0);
        }
      }
    }
    // overlap check on an offset grid of sample points
    let covered = 0;
    for (let x = bbox.minX + 0.00031; x < bbox.maxX; x += 0.0011) {
      for (let y = bbox.minY + 0.00017; y < bbox.maxY; y += 0.0007) {
        let hits = 0;
        for (const f of districts.features) for (const poly of f.geometry.coordinates) if (pointInPolygon(x, y, poly)) hits++;
        expect(hits).toBeLessThanOrEqual(1);
        if (hits) covered++;
      }
    }
    expect(covered).toBeGreaterThan(1000);
    // real anchors
    const central = districts.features.find((f) => f.properties.name === 'Центральный')!;
    expect(pointInPolygon(81.21176, 51.51395, central.geometry.coordinates[0])).toBe(true);
  });

  it('populations sum to 146386', () => {
    expect(districts.features.reduce((s, f) => s + f.properties.population, 0)).toBe(146386);
  });

  it('every code reference resolves', () => {
    const orgCodes = new Set(orgs.map((o) => o.code));
    const blockCodes = new Set(blocks.map((b) => b.code));
    const themeCodes = new Set(themes.map((t) => t.code));
    expect(orgs.filter((o) => o.kind === 'ADMINISTRATION')).toHaveLength(1);
    for (const o of orgs) {
      if (o.kind === 'ADMINISTRATION') expect(o.parentCode).toBeNull();
      else expect(orgCodes.has(o.parentCode!)).toBe(true);
      if (o.kind === 'FUNCTIONAL_BODY') expect(o.parentCode).toBe('admin');
      if (o.kind === 'SUBORDINATE') expect(orgs.find((p) => p.code === o.parentCode)?.kind).toBe('FUNCTIONAL_BODY');
    }
    for (const t of themes) {
      expect(orgCodes.has(t.organizationCode)).toBe(true);
      expect(blockCodes.has(t.blockCode)).toBe(true);
      if (t.parentCode !== null) expect(themeCodes.has(t.parentCode)).toBe(true);
    }
    for (const c of leafCodes) expect(demo.themes[c]).toBeDefined();
    expect(Object.keys(demo.themes).every((c) => leafCodes.has(c))).toBe(true);
  });
});

describe('demo appeal generator', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = take(1000, 7), b = take(1000, 7), c = take(1000, 8);
    expect(a).toEqual(b);
    expect(a.map((x) => x.text + x.receivedAt.toISOString())).not.toEqual(c.map((x) => x.text + x.receivedAt.toISOString()));
  });

  it('produces plausible rows', () => {
    const rows = take(20_000);
    expect(rows).toHaveLength(20_000);
    const problems: string[] = [];
    const ids = new Set<string>();
    const authors = new Map<number, number>();
    let withPoint = 0;
    for (const [i, r] of rows.entries()) {
      const bad = (why: string): void => { if (problems.length < 20) problems.push(`${r.externalId}: ${why}`); };
      if (!leafCodes.has(r.themeCode)) bad('not a leaf theme ' + r.themeCode);
      if (ids.has(r.externalId)) bad('duplicate id');
      ids.add(r.externalId);
      authors.set(r.authorKey, (authors.get(r.authorKey) ?? 0) + 1);
      if (r.lon !== null && r.lat !== null) {
        withPoint++;
        if (r.lon < bbox.minX || r.lon > bbox.maxX || r.lat < bbox.minY || r.lat > bbox.maxY) bad('point outside the districts bbox');
        if (r.address === null) bad('point without address');
      }
      if (r.text.includes('{')) bad('unfilled placeholder');
      if (r.dueAt <= r.receivedAt) bad('dueAt <= receivedAt');
      if (r.answeredAt && r.answeredAt < r.receivedAt) bad('answered before received');
      if (r.firstResponseAt && r.answeredAt && r.firstResponseAt > r.answeredAt) bad('first response after answer');
      if ((r.status === 'ANSWERED' || r.status === 'CLOSED') !== (r.answerFormal !== null)) bad('answerFormal vs status');
      if (r.satisfaction !== null && !(r.satisfaction >= 1 && r.satisfaction <= 5 && (r.status === 'ANSWERED' || r.status === 'CLOSED'))) bad('satisfaction');
      if (i > 0 && r.receivedAt < rows[i - 1].receivedAt) bad('not chronological');
    }
    expect(problems).toEqual([]);
    expect(withPoint / rows.length).toBeGreaterThan(0.85);
    const repeatShare = [...authors.values()].filter((n) => n > 1).length / authors.size;
    expect(repeatShare).toBeGreaterThan(0.03);
    const channels = new Set(rows.map((r) => r.channel));
    expect(channels.size).toBe(6);
    const statuses = new Set(rows.map((r) => r.status));
    for (const st of ['NEW', 'IN_PROGRESS', 'ANSWERED', 'CLOSED', 'REJECTED']) expect(statuses.has(st as DemoAppeal['status'])).toBe(true);
  });

  it('follows seasonality (heating in January vs July)', () => {
    const jan = { all: 0, heat: 0 }, jul = { all: 0, heat: 0 };
    for (const r of generateDemoAppeals({ count: 50_000 })) {
      const month = new Date(r.receivedAt.getTime() + 7 * 3600_000).getUTCMonth();
      const bucket = month === 0 ? jan : month === 6 ? jul : null;
      if (!bucket) continue;
      bucket.all++;
      if (r.themeCode === 'gkh.heating') bucket.heat++;
    }
    expect(jan.all).toBeGreaterThan(0);
    expect(jul.all).toBeGreaterThan(0);
    expect(jan.heat / jan.all).toBeGreaterThan(jul.heat / jul.all);
  });

  it('generates 200 000 rows', () => {
    let n = 0;
    for (const _ of generateDemoAppeals({ count: 200_000, seed: 1 })) n++;
    expect(n).toBe(200_000);
  });
});
