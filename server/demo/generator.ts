/**
 * Deterministic demo-appeal generator for Rubtsovsk.
 *
 * Pure: no database, no network; the only I/O is reading the reference JSON files in
 * `db/reference/rubtsovsk/` (cached per process). Identical options give identical output.
 * Streaming: rows are produced day by day (only one local day of rows is held in memory),
 * in chronological order of `receivedAt`.
 *
 * All geometry in the reference files is APPROXIMATE (hand-drawn for the demo).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type DemoChannel = 'INCIDENT_MANAGEMENT' | 'POS' | 'SOCIAL' | 'MESSENGER' | 'DIRECT' | 'PUBLIC_DISCUSSION';
export type DemoStatus = 'NEW' | 'IN_PROGRESS' | 'ANSWERED' | 'CLOSED' | 'REJECTED';

export interface DemoAppeal {
  externalId: string;            // unique per channel, e.g. 'IM-0000123'
  channel: DemoChannel;
  receivedAt: Date;
  authorKind: 'CITIZEN' | 'LEGAL_ENTITY';
  authorKey: number;             // same number = same author
  authorName: string; authorPhone: string | null; authorEmail: string | null; authorProfileUrl: string | null;
  text: string;
  address: string | null;        // e.g. 'пр. Ленина, 85'
  lon: number | null; lat: number | null;
  themeCode: string;             // leaf theme code
  status: DemoStatus;
  dueAt: Date; firstResponseAt: Date | null; answeredAt: Date | null;
  answerText: string | null; answerFormal: boolean | null;   // answerFormal is null for REJECTED
  satisfaction: number | null;   // 1..5
}

/** Defaults: seed 42, from 2025-01-01 00:00 (UTC+7), to 2026-11-28 00:00 (UTC+7, exclusive; also "now" for statuses). */
export interface DemoOptions { count: number; seed?: number; from?: Date; to?: Date; }

// ---------------------------------------------------------------------------------------------
// Reference data

interface StreetJson { name: string; houses: [number, number]; line: [number, number][] }
interface HotspotJson { lon: number; lat: number; radiusM: number; weight: number }
interface AnswerJson { text: string; formal: boolean }
interface DemoThemeJson { share: number; season: number[]; hotspots: HotspotJson[]; texts: string[]; answers: AnswerJson[] }
interface NamesJson { first: string[]; last: string[]; patronymic: string[] }
interface DemoJson {
  streets: StreetJson[];
  themes: Record<string, DemoThemeJson>;
  authors: { male: NamesJson; female: NamesJson };
  legalEntities: string[];
  prefixes: { formal: string[]; casual: string[] };
  suffixes: { formal: string[]; casual: string[] };
  rejections: string[];
}
interface ThemeJson { code: string; name: string; parentCode: string | null; blockCode: string; organizationCode: string; keywords: string[] }
interface DistrictFeature { properties: { code: string; name: string; population: number }; geometry: { type: 'MultiPolygon'; coordinates: number[][][][] } }

export const LOCAL_OFFSET_MS = 7 * 3600_000; // Asia/Barnaul, UTC+7, no DST
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const M_PER_DEG_LAT = 111_320;
const M_PER_DEG_LON = 111_320 * Math.cos((51.5 * Math.PI) / 180);

/** Directory with the Rubtsovsk reference files, found by walking up from this module (works from sources and from dist/). */
export function referenceDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'db', 'reference', 'rubtsovsk');
    if (fs.existsSync(path.join(candidate, 'municipality.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('db/reference/rubtsovsk/municipality.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(referenceDir(), file), 'utf8')) as T;
}

interface Polygon { rings: Float64Array[]; minX: number; minY: number; maxX: number; maxY: number }
interface Leaf {
  code: string; share: number; season: number[];
  hotspots: HotspotJson[]; hotspotCum: number[];
  texts: string[]; textsNoAddress: string[];
  substantive: string[]; formal: string[];
  slowness: number; formalRate: number;
}
interface Street { name: string; from: number; to: number; xs: Float64Array; ys: Float64Array; cum: Float64Array; length: number }

interface Model {
  leaves: Leaf[];
  monthCum: Float64Array[];        // per month: cumulative weights over leaves
  monthCumPd: Float64Array[];      // same, restricted to themes typical for public discussions
  monthTotal: number[];
  polygons: Polygon[];
  minX: number; minY: number; maxX: number; maxY: number;
  streets: Street[];
  grid: { nx: number; ny: number; street: Int16Array; t: Float32Array; side: Int8Array };
  demo: DemoJson;
  surnameLatin: { male: string[]; female: string[] };
}

let cached: Model | null = null;

const PD_THEMES = new Set(['blag.yards', 'blag.greenery', 'other.land', 'roads.transport', 'other.trade', 'roads.potholes', 'eco.dumps', 'social.culture_sport', 'blag.lighting']);

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
  return h >>> 0;
}

const TRANSLIT: Record<string, string> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k', л: 'l', м: 'm', н: 'n', о: 'o',
  п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya',
};
function translit(s: string): string {
  let out = '';
  for (const ch of s.toLowerCase()) out += TRANSLIT[ch] ?? ch;
  return out;
}

function loadModel(): Model {
  if (cached) return cached;
  const themes = readJson<ThemeJson[]>('themes.json');
  const demo = readJson<DemoJson>('demo.json');
  const districts = readJson<{ features: DistrictFeature[] }>('districts.geojson');

  const parents = new Set(themes.map((t) => t.parentCode).filter((c): c is string => c !== null));
  const leaves: Leaf[] = [];
  for (const t of themes) {
    if (parents.has(t.code)) continue;
    const d = demo.themes[t.code];
    if (!d) throw new Error(`demo.json has no material for leaf theme ${t.code}`);
    let acc = 0;
    const hotspotCum = d.hotspots.map((h) => (acc += h.weight));
    const h = hashString(t.organizationCode);
    leaves.push({
      code: t.code, share: d.share, season: d.season, hotspots: d.hotspots, hotspotCum,
      texts: d.texts, textsNoAddress: d.texts.filter((x) => !x.includes('{address}')),
      substantive: d.answers.filter((a) => !a.formal).map((a) => a.text),
      formal: d.answers.filter((a) => a.formal).map((a) => a.text),
      slowness: 0.7 + (h % 61) / 100,                 // per responsible organisation: 0.70..1.30
      formalRate: 0.07 + ((h >>> 8) % 16) / 100,      // 0.07..0.22
    });
  }
  const monthCum: Float64Array[] = [];
  const monthCumPd: Float64Array[] = [];
  const monthTotal: number[] = [];
  for (let m = 0; m < 12; m++) {
    const c = new Float64Array(leaves.length);
    const cp = new Float64Array(leaves.length);
    let acc = 0, accPd = 0;
    leaves.forEach((l, i) => {
      const w = l.share * l.season[m];
      acc += w; c[i] = acc;
      if (PD_THEMES.has(l.code)) accPd += w;
      cp[i] = accPd;
    });
    monthCum.push(c); monthCumPd.push(cp); monthTotal.push(acc);
  }

  const polygons: Polygon[] = [];
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of districts.features) {
    for (const poly of f.geometry.coordinates) {
      const p: Polygon = { rings: [], minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
      for (const ring of poly) {
        const flat = new Float64Array(ring.length * 2);
        ring.forEach(([x, y], i) => {
          flat[2 * i] = x; flat[2 * i + 1] = y;
          if (x < p.minX) p.minX = x; if (x > p.maxX) p.maxX = x;
          if (y < p.minY) p.minY = y; if (y > p.maxY) p.maxY = y;
        });
        p.rings.push(flat);
      }
      polygons.push(p);
      minX = Math.min(minX, p.minX); minY = Math.min(minY, p.minY);
      maxX = Math.max(maxX, p.maxX); maxY = Math.max(maxY, p.maxY);
    }
  }

  const streets: Street[] = demo.streets.map((s) => {
    const xs = new Float64Array(s.line.map((p) => p[0] * M_PER_DEG_LON));
    const ys = new Float64Array(s.line.map((p) => p[1] * M_PER_DEG_LAT));
    const cum = new Float64Array(s.line.length);
    for (let i = 1; i < s.line.length; i++) cum[i] = cum[i - 1] + Math.hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]);
    return { name: s.name, from: s.houses[0], to: s.houses[1], xs, ys, cum, length: cum[cum.length - 1] };
  });

  const nx = Math.ceil((maxX - minX) / GRID_DX) + 1;
  const ny = Math.ceil((maxY - minY) / GRID_DY) + 1;
  const grid = { nx, ny, street: new Int16Array(nx * ny).fill(-1), t: new Float32Array(nx * ny), side: new Int8Array(nx * ny) };

  cached = {
    leaves, monthCum, monthCumPd, monthTotal, polygons, minX, minY, maxX, maxY, streets, grid, demo,
    surnameLatin: { male: demo.authors.male.last.map(translit), female: demo.authors.female.last.map(translit) },
  };
  return cached;
}

/** Leaf theme codes known to the generator (in themes.json order). */
export function demoLeafThemeCodes(): string[] {
  return loadModel().leaves.map((l) => l.code);
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers

const GRID_DX = 0.0012; // ~83 m
const GRID_DY = 0.0008; // ~89 m

function insidePolygon(x: number, y: number, p: Polygon): boolean {
  if (x < p.minX || x > p.maxX || y < p.minY || y > p.maxY) return false;
  let inside = false;
  for (const r of p.rings) {
    const n = r.length / 2;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const xi = r[2 * i], yi = r[2 * i + 1], xj = r[2 * j], yj = r[2 * j + 1];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function insideCity(m: Model, x: number, y: number): boolean {
  for (const p of m.polygons) if (insidePolygon(x, y, p)) return true;
  return false;
}

/** Nearest street (by polyline), relative position along it and side, cached on a ~85 m grid. */
function nearestStreet(m: Model, lon: number, lat: number): number {
  const g = m.grid;
  const ix = Math.min(g.nx - 1, Math.max(0, Math.floor((lon - m.minX) / GRID_DX)));
  const iy = Math.min(g.ny - 1, Math.max(0, Math.floor((lat - m.minY) / GRID_DY)));
  const k = iy * g.nx + ix;
  if (g.street[k] >= 0) return k;
  const px = (m.minX + (ix + 0.5) * GRID_DX) * M_PER_DEG_LON;
  const py = (m.minY + (iy + 0.5) * GRID_DY) * M_PER_DEG_LAT;
  let best = Infinity, bestS = 0, bestT = 0, bestSide = 1;
  m.streets.forEach((s, si) => {
    for (let i = 0; i + 1 < s.xs.length; i++) {
      const ax = s.xs[i], ay = s.ys[i], dx = s.xs[i + 1] - ax, dy = s.ys[i + 1] - ay;
      const len2 = dx * dx + dy * dy;
      let u = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
      u = u < 0 ? 0 : u > 1 ? 1 : u;
      const qx = ax + u * dx, qy = ay + u * dy;
      const d = (px - qx) * (px - qx) + (py - qy) * (py - qy);
      if (d < best) {
        best = d; bestS = si;
        bestT = s.length > 0 ? (s.cum[i] + u * Math.sqrt(len2)) / s.length : 0;
        bestSide = dx * (py - ay) - dy * (px - ax) >= 0 ? 1 : -1;
      }
    }
  });
  g.street[k] = bestS; g.t[k] = bestT; g.side[k] = bestSide;
  return k;
}

// ---------------------------------------------------------------------------------------------
// PRNG

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Generator

const CHANNELS: DemoChannel[] = ['INCIDENT_MANAGEMENT', 'POS', 'SOCIAL', 'MESSENGER', 'DIRECT', 'PUBLIC_DISCUSSION'];
const CHANNEL_CUM = [0.35, 0.65, 0.80, 0.90, 0.98, 1.0];
const CHANNEL_PREFIX: Record<DemoChannel, string> = {
  INCIDENT_MANAGEMENT: 'IM', POS: 'POS', SOCIAL: 'SOC', MESSENGER: 'MSG', DIRECT: 'DIR', PUBLIC_DISCUSSION: 'PD',
};
const LEGAL_SHARE: Record<DemoChannel, number> = {
  INCIDENT_MANAGEMENT: 0.005, POS: 0.06, SOCIAL: 0.005, MESSENGER: 0.01, DIRECT: 0.15, PUBLIC_DISCUSSION: 0.2,
};
// Local hour-of-day profiles (cumulative after normalisation).
const HOURS_DAY = [0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 2.5, 5, 7, 8, 8, 7, 7, 7.5, 7.5, 7, 6.5, 6, 5.5, 5, 4, 2.5, 1];
const HOURS_WORK = [0, 0, 0, 0, 0, 0, 0, 0.3, 2, 8, 9, 9, 6, 4, 8, 8, 7, 5, 1, 0.3, 0.1, 0, 0, 0];
function cumulative(w: number[]): Float64Array {
  const c = new Float64Array(w.length);
  let acc = 0;
  w.forEach((x, i) => { acc += x; c[i] = acc; });
  for (let i = 0; i < c.length; i++) c[i] /= acc;
  return c;
}
const HOURS_DAY_CUM = cumulative(HOURS_DAY);
const HOURS_WORK_CUM = cumulative(HOURS_WORK);
const EMAIL_DOMAINS = ['mail.ru', 'yandex.ru', 'gmail.com', 'rambler.ru', 'bk.ru'];

interface Author {
  key: number; kind: 'CITIZEN' | 'LEGAL_ENTITY';
  fullName: string; shortName: string;
  phone: string | null; email: string | null; profileUrl: string | null;
  homeLon: number; homeLat: number; hasHome: boolean;
}

function pickCum(cum: ArrayLike<number>, r: number): number {
  const n = cum.length;
  const target = r * cum[n - 1];
  for (let i = 0; i < n; i++) if (target < cum[i]) return i;
  return n - 1;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export function* generateDemoAppeals(opts: DemoOptions): Generator<DemoAppeal> {
  const count = Math.max(0, Math.floor(opts.count));
  const fromMs = (opts.from ?? new Date(Date.UTC(2025, 0, 1) - LOCAL_OFFSET_MS)).getTime();
  const toMs = (opts.to ?? new Date(Date.UTC(2026, 10, 28) - LOCAL_OFFSET_MS)).getTime();
  if (!(toMs > fromMs)) throw new Error('DemoOptions: "to" must be after "from"');
  if (count === 0) return;
  const m = loadModel();
  let seed = (opts.seed ?? 42) >>> 0;
  seed = Math.imul(seed ^ (seed >>> 16), 0x45d9f3b) ^ 0x9e3779b9;
  const rnd = mulberry32(seed);
  const nowMs = toMs;

  let spare: number | null = null;
  const gauss = (): number => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0;
    while (u === 0) u = rnd();
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];

  // --- days and their expected volumes
  const firstDay = Math.floor((fromMs + LOCAL_OFFSET_MS) / DAY_MS);
  const lastDay = Math.floor((toMs - 1 + LOCAL_OFFSET_MS) / DAY_MS);
  const nDays = lastDay - firstDay + 1;
  const dayCum = new Float64Array(nDays);
  let acc = 0;
  for (let i = 0; i < nDays; i++) {
    const localMidnight = (firstDay + i) * DAY_MS;
    const start = localMidnight - LOCAL_OFFSET_MS;
    const covered = (Math.min(toMs, start + DAY_MS) - Math.max(fromMs, start)) / DAY_MS;
    const d = new Date(localMidnight);
    const wd = d.getUTCDay();
    const weekday = wd === 0 ? 0.6 : wd === 6 ? 0.7 : 1;
    const trend = 1 + (0.3 * i) / Math.max(1, nDays);
    acc += m.monthTotal[d.getUTCMonth()] * weekday * trend * Math.max(0, covered);
    dayCum[i] = acc;
  }

  // --- authors
  const legal: Author[] = m.demo.legalEntities.map((name, i) => ({
    key: i + 1, kind: 'LEGAL_ENTITY', fullName: name, shortName: name,
    phone: `+7 38557 ${pad(2 + (i % 7), 1)}-${pad((i * 37) % 100, 2)}-${pad((i * 53 + 11) % 100, 2)}`,
    email: `office${i + 1}@${i % 2 ? 'mail.ru' : 'yandex.ru'}`, profileUrl: null, homeLon: 0, homeLat: 0, hasHome: false,
  }));
  const POOL = 20_000;
  const pool: Author[] = [];
  let poolNext = 0;
  let nextCitizenKey = 1000;
  const newCitizen = (): Author => {
    const female = rnd() < 0.55;
    const names = female ? m.demo.authors.female : m.demo.authors.male;
    const li = Math.floor(rnd() * names.last.length);
    const first = pick(names.first), last = names.last[li], patr = pick(names.patronymic);
    const key = nextCitizenKey++;
    const hasPhone = rnd() < 0.85, hasEmail = rnd() < 0.55;
    const latin = (female ? m.surnameLatin.female : m.surnameLatin.male)[li];
    const netR = rnd();
    const profileUrl = netR < 0.6 ? `https://vk.com/id${100_000_000 + ((key * 7919) % 800_000_000)}`
      : netR < 0.8 ? `https://ok.ru/profile/${500_000_000_000 + key * 131}` : `https://t.me/${latin}_${key % 997}`;
    const a: Author = {
      key, kind: 'CITIZEN', fullName: `${last} ${first} ${patr}`, shortName: `${first} ${last}`,
      phone: hasPhone ? `+7 9${pad(Math.floor(rnd() * 100), 2)} ${pad(Math.floor(rnd() * 1000), 3)}-${pad(Math.floor(rnd() * 100), 2)}-${pad(Math.floor(rnd() * 100), 2)}` : null,
      email: hasEmail ? `${latin}${key % 1000}@${EMAIL_DOMAINS[key % EMAIL_DOMAINS.length]}` : null,
      profileUrl, homeLon: 0, homeLat: 0, hasHome: false,
    };
    if (pool.length < POOL) pool.push(a); else pool[poolNext] = a;
    poolNext = (poolNext + 1) % POOL;
    return a;
  };

  // --- points
  let px = 0, py = 0;
  const uniformPoint = (): void => {
    for (let tries = 0; tries < 200; tries++) {
      const x = m.minX + rnd() * (m.maxX - m.minX), y = m.minY + rnd() * (m.maxY - m.minY);
      if (insideCity(m, x, y)) { px = x; py = y; return; }
    }
    px = 81.21; py = 51.515;
  };
  const aroundPoint = (lon: number, lat: number, sigmaM: number): void => {
    for (let tries = 0; tries < 5; tries++) {
      const x = lon + (gauss() * sigmaM) / M_PER_DEG_LON, y = lat + (gauss() * sigmaM) / M_PER_DEG_LAT;
      if (insideCity(m, x, y)) { px = x; py = y; return; }
    }
    uniformPoint();
  };
  const themePoint = (leaf: Leaf): void => {
    if (rnd() < 0.25 || leaf.hotspots.length === 0) { uniformPoint(); return; }
    const h = leaf.hotspots[pickCum(leaf.hotspotCum, rnd())];
    aroundPoint(h.lon, h.lat, h.radiusM / 2);
  };
  const addressAt = (lon: number, lat: number): string => {
    const k = nearestStreet(m, lon, lat);
    const s = m.streets[m.grid.street[k]];
    const span = s.to - s.from;
    let n = s.from + Math.round(m.grid.t[k] * span) + 2 * Math.floor(rnd() * 5 - 2);
    const odd = m.grid.side[k] > 0;
    if ((n % 2 === 1) !== odd) n += 1;
    if (n > s.to) n -= 2;
    if (n < 1) n = odd ? 1 : 2;
    const r = rnd();
    const suffix = r < 0.03 ? 'а' : r < 0.045 ? 'б' : r < 0.06 ? '/1' : '';
    return `${s.name}, ${n}${suffix}`;
  };

  // --- per-channel counters and the day loop
  const counters = new Array<number>(CHANNELS.length).fill(0);
  let emitted = 0;
  const dayRows: DemoAppeal[] = [];
  const total = dayCum[nDays - 1];

  for (let di = 0; di < nDays; di++) {
    const target = di === nDays - 1 ? count : Math.round((count * dayCum[di]) / total);
    const n = target - emitted;
    if (n <= 0) continue;
    const localMidnight = (firstDay + di) * DAY_MS;
    const dayStart = localMidnight - LOCAL_OFFSET_MS;
    const winStart = Math.max(fromMs, dayStart), winEnd = Math.min(toMs, dayStart + DAY_MS);
    const month = new Date(localMidnight).getUTCMonth();
    const weekend = ((new Date(localMidnight).getUTCDay() + 6) % 7) >= 5;

    // an occasional local incident (pipe burst, outage, dump fire...) concentrates part of the day's flow
    let incidentLeaf = -1, incLon = 0, incLat = 0;
    if (rnd() < 0.03) {
      incidentLeaf = pickCum(m.monthCum[month], rnd());
      const leaf = m.leaves[incidentLeaf];
      if (leaf.hotspots.length > 0) {
        const h = leaf.hotspots[pickCum(leaf.hotspotCum, rnd())];
        aroundPoint(h.lon, h.lat, h.radiusM);
      } else uniformPoint();
      incLon = px; incLat = py;
    }

    dayRows.length = 0;
    for (let r = 0; r < n; r++) {
      let ci = pickCum(CHANNEL_CUM, rnd());
      if (weekend && ci === 4 && rnd() < 0.7) ci = 1; // few letters/visits on weekends
      const channel = CHANNELS[ci];

      // theme
      const incident = incidentLeaf >= 0 && channel !== 'PUBLIC_DISCUSSION' && rnd() < 0.3;
      let li: number;
      if (incident) li = incidentLeaf;
      else if (channel === 'PUBLIC_DISCUSSION') li = pickCum(m.monthCumPd[month], rnd());
      else li = pickCum(m.monthCum[month], rnd());
      const leaf = m.leaves[li];

      // time
      const hoursCum = channel === 'DIRECT' ? HOURS_WORK_CUM : HOURS_DAY_CUM;
      let t = -1;
      for (let tries = 0; tries < 8; tries++) {
        const h = pickCum(hoursCum, rnd());
        const cand = dayStart + h * HOUR_MS + Math.floor(rnd() * HOUR_MS);
        if (cand >= winStart && cand < winEnd) { t = cand; break; }
      }
      if (t < 0) t = winStart + Math.floor(rnd() * (winEnd - winStart));

      // author
      let author: Author;
      if (rnd() < LEGAL_SHARE[channel]) author = pick(legal);
      else if (pool.length > 50 && rnd() < 0.12) author = pool[Math.floor(rnd() * pool.length)];
      else author = newCitizen();

      // place
      const g = rnd();
      let lon: number | null = null, lat: number | null = null, address: string | null = null;
      if (g < 0.94) {
        if (incident) aroundPoint(incLon, incLat, 250);
        else if (author.hasHome && rnd() < 0.5) { px = author.homeLon; py = author.homeLat; }
        else themePoint(leaf);
        if (author.kind === 'CITIZEN' && !author.hasHome) { author.hasHome = true; author.homeLon = px; author.homeLat = py; }
        address = addressAt(px, py);
        if (g < 0.90) { lon = Math.round(px * 1e6) / 1e6; lat = Math.round(py * 1e6) / 1e6; }
      }

      // text
      const templates = address !== null ? leaf.texts : (leaf.textsNoAddress.length > 0 ? leaf.textsNoAddress : leaf.texts);
      let text = pick(templates).replace('{address}', address ?? 'нашем районе');
      const official = channel === 'POS' || channel === 'DIRECT' || channel === 'PUBLIC_DISCUSSION';
      const pr = rnd();
      if (pr < (official ? 0.35 : 0.15)) {
        const pre = official || pr < 0.07 ? pick(m.demo.prefixes.formal) : pick(m.demo.prefixes.casual);
        if (pre.endsWith(', ')) text = pre + text.charAt(0).toLowerCase() + text.slice(1);
        else text = pre + ' ' + text;
      }
      const sr = rnd();
      if (sr < 0.25) {
        const suf = official || sr < 0.1 ? pick(m.demo.suffixes.formal) : pick(m.demo.suffixes.casual);
        text = /[.!?]$/.test(text) ? text + ' ' + suf : text + '. ' + suf;
      }

      // contacts as seen through the channel
      const social = channel === 'INCIDENT_MANAGEMENT' || channel === 'SOCIAL';
      const authorName = author.kind === 'CITIZEN' && (social || channel === 'MESSENGER') ? author.shortName : author.fullName;
      const authorPhone = social || channel === 'PUBLIC_DISCUSSION' ? null : author.phone;
      const authorEmail = social || channel === 'MESSENGER' ? null : author.email;
      const authorProfileUrl = social ? author.profileUrl : channel === 'MESSENGER' && author.profileUrl?.startsWith('https://t.me/') ? author.profileUrl : null;

      // lifecycle
      const longDeadline = channel === 'DIRECT' || channel === 'PUBLIC_DISCUSSION';
      const dueMs = t + (longDeadline ? 30 : 10) * DAY_MS;
      let status: DemoStatus;
      let firstResponseAt: Date | null = null, answeredAt: Date | null = null;
      let answerText: string | null = null, answerFormal: boolean | null = null, satisfaction: number | null = null;
      if (rnd() < 0.03) {
        const decided = t + (1 + rnd() * 4) * DAY_MS;
        const rej = pick(m.demo.rejections);
        if (decided <= nowMs) {
          status = 'REJECTED'; firstResponseAt = new Date(decided); answeredAt = firstResponseAt; answerText = rej;
        } else status = 'NEW';
      } else {
        const frMedian = longDeadline ? 2 * DAY_MS : 4 * HOUR_MS;
        const fr = Math.max(10 * 60_000, frMedian * Math.exp(gauss() * 0.9));
        const ansMedian = (longDeadline ? 30 : 10) * DAY_MS * 0.45 * leaf.slowness;
        const ans = Math.max(fr + HOUR_MS, ansMedian * Math.exp(gauss() * 0.55));
        const formal = rnd() < leaf.formalRate;
        const hasRating = rnd() < (channel === 'POS' ? 0.6 : 0.3);
        const closes = rnd() < 0.85;
        const closeDelay = 3 * DAY_MS * Math.exp(gauss() * 0.6);
        if (t + fr <= nowMs) firstResponseAt = new Date(t + fr);
        if (t + ans > nowMs) {
          status = firstResponseAt ? 'IN_PROGRESS' : 'NEW';
        } else {
          answeredAt = new Date(t + ans);
          const list = formal && leaf.formal.length > 0 ? leaf.formal : leaf.substantive;
          answerText = pick(list);
          answerFormal = formal && leaf.formal.length > 0;
          status = closes && t + ans + closeDelay <= nowMs ? 'CLOSED' : 'ANSWERED';
          if (hasRating) {
            const late = t + ans > dueMs;
            const mean = 4.3 - (late ? 1.3 : 0) - (answerFormal ? 1.7 : 0);
            satisfaction = Math.min(5, Math.max(1, Math.round(mean + gauss() * 0.9)));
          }
        }
      }

      dayRows.push({
        externalId: '', channel, receivedAt: new Date(t),
        authorKind: author.kind, authorKey: author.key, authorName, authorPhone, authorEmail, authorProfileUrl,
        text, address, lon, lat, themeCode: leaf.code, status,
        dueAt: new Date(dueMs), firstResponseAt, answeredAt, answerText, answerFormal, satisfaction,
      });
    }
    dayRows.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
    for (const row of dayRows) {
      const ci = CHANNELS.indexOf(row.channel);
      row.externalId = `${CHANNEL_PREFIX[row.channel]}-${pad(++counters[ci], 7)}`;
      yield row;
    }
    emitted = target;
  }
}
