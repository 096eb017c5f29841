/**
 * Deterministic demo-appeal generator for any municipality with reference data (Rubtsovsk by default).
 *
 * Pure: no database, no network; the only I/O is reading the reference JSON files in
 * `db/reference/<code>/` (cached per process and municipality). A municipality's demo.json may hold only its
 * streets and hotspots: texts, answers and names then come from its base municipality's demo.json. Identical options give identical output.
 * Streaming: rows are produced day by day (only one local day of rows is held in memory),
 * in chronological order of `receivedAt`.
 *
 * All geometry in the reference files is APPROXIMATE (hand-drawn for the demo).
 */
import { readReference } from '../reference/files.js';
import { DemoDeadlines } from './timing.js';
import { demoAnswers, fillAnswer } from './answers.js';

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
  urgent: boolean;               // by the urgency keywords of the reference data
  /** An extension of the answer due time (interim answer, 59-ФЗ with notice): dueAt is the extended one. */
  extension: { at: Date; from: Date; to: Date; reason: string; notified: boolean } | null;
  /** Place of this row in the generated stream (0-based). */
  seq: number;
  /**
   * A repeat: the same author writes again on the same theme at the same place within the repeat window after the
   * answer to their earlier appeal (the `seq` given here) — the failure of that answer; likelier after a late or formal one.
   */
  repeatOfSeq: number | null;
}

/** Defaults: seed 42, from 2025-01-01 00:00 (UTC+7), to 2026-11-28 00:00 (UTC+7, exclusive; also "now" for statuses). */
export interface DemoOptions { count: number; seed?: number; from?: Date; to?: Date; /** Reference code; default rubtsovsk. */ municipality?: string }

// ---------------------------------------------------------------------------------------------
// Reference data

interface StreetJson { name: string; houses: [number, number]; line: [number, number][] }
interface HotspotJson { lon: number; lat: number; radiusM: number; weight: number }
interface AnswerJson { text: string; formal: boolean }
interface DemoThemeJson { share: number; season: number[]; hotspots: HotspotJson[]; texts: string[]; answers: AnswerJson[] }
interface NamesJson { first: string[]; last: string[]; patronymic: string[] }
interface DemoJson {
  /** A derived municipality's word replacements over its base's texts ([from, to], e.g. ["Рубцовск", "Алейск"]). */
  replace?: [string, string][];
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
/** Repeats of the demo: within the default repeat window (deadline_settings.json: 90 days) after the answer. */
const REPEAT_WINDOW_MS = 90 * DAY_MS;
// Theme-neutral words only (the classifier learns from the demo history; see server/intake/context.ts).
const REPEAT_PREFIXES = ['Повторно обращаюсь: ', 'Пишу повторно: ', 'Снова о том же: ', 'Повторное обращение. '];
const M_PER_DEG_LAT = 111_320;
const M_PER_DEG_LON = 111_320 * Math.cos((51.5 * Math.PI) / 180);

/** The demo reads Rubtsovsk's reference data (re-exported for tests and benchmarks). */
export { referenceDir } from '../reference/files.js';

/**
 * A municipality's demo material: its own demo.json over its base municipality's one (see referenceFile): own
 * streets; per theme, own hotspots (none = spread over the districts) with the base's texts and answers.
 */
function readDemo(code: string): DemoJson {
  const own = readReference<Partial<DemoJson> & { themes?: Record<string, Partial<DemoThemeJson>> }>(code, 'demo.json');
  const base = readReference<{ base?: string }>(code, 'municipality.json').base;
  if (!base || base === code) return own as DemoJson;
  const b = readDemo(base);
  const themes: Record<string, DemoThemeJson> = {};
  for (const [k, t] of Object.entries(b.themes)) themes[k] = { ...t, hotspots: [], ...(own.themes?.[k] ?? {}) };
  const merged = { ...b, ...own, streets: own.streets ?? b.streets, themes } as DemoJson;
  // The base's texts name the base town («Администрация города Рубцовска»): the derived municipality's own names.
  return own.replace?.length ? { ...JSON.parse(replaceWords(JSON.stringify({ ...merged, streets: [] }), own.replace)), streets: merged.streets, replace: own.replace } : merged;
}

function replaceWords(s: string, pairs: [string, string][] | undefined): string {
  let out = s;
  for (const [from, to] of pairs ?? []) out = out.split(from).join(to);
  return out;
}

interface Polygon { rings: Float64Array[]; minX: number; minY: number; maxX: number; maxY: number }
interface Leaf {
  code: string; share: number; season: number[];
  hotspots: HotspotJson[]; hotspotCum: number[];
  texts: string[][]; textsNoAddress: string[][];   // templates split at '{address}'
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

const cachedModels = new Map<string, Model>();

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

function loadModel(code = 'rubtsovsk'): Model {
  const hit = cachedModels.get(code);
  if (hit) return hit;
  const themes = readReference<ThemeJson[]>(code, 'themes.json');
  const demo = readDemo(code);
  const districts = readReference<{ features: DistrictFeature[] }>(code, 'districts.geojson');

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
      texts: d.texts.map((x) => x.split('{address}', 2)),
      textsNoAddress: (d.texts.some((x) => !x.includes('{address}')) ? d.texts.filter((x) => !x.includes('{address}')) : d.texts).map((x) => x.split('{address}', 2)),
      substantive: [...d.answers.filter((a) => !a.formal).map((a) => a.text), ...demoAnswers(t.code).substantive.map((x) => replaceWords(x, demo.replace))],
      formal: [...d.answers.filter((a) => a.formal).map((a) => a.text), ...demoAnswers(t.code).formal.map((x) => replaceWords(x, demo.replace))],
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

  const model: Model = {
    leaves, monthCum, monthCumPd, monthTotal, polygons, minX, minY, maxX, maxY, streets, grid, demo,
    surnameLatin: { male: demo.authors.male.last.map(translit), female: demo.authors.female.last.map(translit) },
  };
  cachedModels.set(code, model);
  return model;
}

/** Leaf theme codes known to the generator (in themes.json order). */
export function demoLeafThemeCodes(municipality?: string): string[] {
  return loadModel(municipality).leaves.map((l) => l.code);
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
// PRNG: mulberry32, inlined in DemoStream.rnd()

// ---------------------------------------------------------------------------------------------
// Generator

const CHANNELS: DemoChannel[] = ['INCIDENT_MANAGEMENT', 'POS', 'SOCIAL', 'MESSENGER', 'DIRECT', 'PUBLIC_DISCUSSION'];
/** Channel mix: ИМ 35%, ПОС 30%, social 15%, messengers 10%, direct 8%, public discussions 2%. */
const CHANNEL_WEIGHTS = [0.35, 0.30, 0.15, 0.10, 0.08, 0.02];
const CHANNEL_PREFIX: Record<DemoChannel, string> = {
  INCIDENT_MANAGEMENT: 'IM', POS: 'POS', SOCIAL: 'SOC', MESSENGER: 'MSG', DIRECT: 'DIR', PUBLIC_DISCUSSION: 'PD',
};
const CHANNEL_PREFIX_BY_INDEX = CHANNELS.map((c) => CHANNEL_PREFIX[c]);
/** Share of legal-entity authors per channel (by channel index). */
const LEGAL_SHARE = [0.005, 0.06, 0.005, 0.01, 0.15, 0.2];
// Local hour-of-day profiles (relative weights).
const HOURS_DAY = [0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1, 2.5, 5, 7, 8, 8, 7, 7, 7.5, 7.5, 7, 6.5, 6, 5.5, 5, 4, 2.5, 1];
const HOURS_WORK = [0, 0, 0, 0, 0, 0, 0, 0.3, 2, 8, 9, 9, 6, 4, 8, 8, 7, 5, 1, 0.3, 0.1, 0, 0, 0];
interface HourTables { cdf: Float64Array; chanCum: Float64Array[] }
/**
 * Receipt time within a local day: a mixture over channels of hour-of-day profiles (letters and visits in
 * working hours, the rest over the waking day). cdf[h] = share of the day's volume before hour h (cdf[24] = 1);
 * chanCum[h] = cumulative channel weights for a message received during hour h.
 */
function hourTables(weekend: boolean): HourTables {
  const w = CHANNEL_WEIGHTS.slice();
  if (weekend) { w[1] += w[4] * 0.7; w[4] *= 0.3; }   // few letters/visits on weekends: moved to ПОС
  const norm = (a: number[]): number[] => { const t = a.reduce((x, y) => x + y, 0); return a.map((x) => x / t); };
  const day = norm(HOURS_DAY), work = norm(HOURS_WORK);
  const cdf = new Float64Array(25);
  const chanCum: Float64Array[] = [];
  for (let h = 0; h < 24; h++) {
    const c = new Float64Array(w.length);
    let acc = 0;
    for (let k = 0; k < w.length; k++) { acc += w[k] * (k === 4 ? work[h] : day[h]); c[k] = acc; }
    chanCum.push(c);
    cdf[h + 1] = cdf[h] + acc;
  }
  return { cdf, chanCum };
}
const HOURS_WEEKDAY = hourTables(false);
const HOURS_WEEKEND = hourTables(true);
const EMAIL_DOMAINS = ['mail.ru', 'yandex.ru', 'gmail.com', 'rambler.ru', 'bk.ru'];

interface LegalEntity { key: number; name: string; phone: string; email: string }

/** 32-bit integer hash (used to derive stable citizen attributes from the author key). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
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
const DIGITS2 = Array.from({ length: 100 }, (_, i) => pad(i, 2));
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => pad(i, 3));

export function* generateDemoAppeals(opts: DemoOptions): Generator<DemoAppeal> {
  const count = Math.max(0, Math.floor(opts.count));
  const fromMs = (opts.from ?? new Date(Date.UTC(2025, 0, 1) - LOCAL_OFFSET_MS)).getTime();
  const toMs = (opts.to ?? new Date(Date.UTC(2026, 10, 28) - LOCAL_OFFSET_MS)).getTime();
  if (!(toMs > fromMs)) throw new Error('DemoOptions: "to" must be after "from"');
  if (count === 0) return;
  const stream = new DemoStream(loadModel(opts.municipality), count, (opts.seed ?? 42) >>> 0, fromMs, toMs);
  while (stream.hasMore()) {
    const n = stream.beginDay();
    for (let i = 0; i < n; i++) yield stream.row(i);
  }
}

/** The generator's state; plain methods (not closures inside a generator) so that V8 optimises the hot path. */
class DemoStream {
  private readonly m: Model;
  private readonly count: number;
  private readonly fromMs: number;
  private readonly toMs: number;
  private readonly firstDay: number;
  private readonly nDays: number;
  private readonly dayCum: Float64Array;
  private readonly salt: number;
  private readonly legal: LegalEntity[];
  // PRNG (mulberry32) and Box–Muller spare
  private a: number;
  private spare = 0;
  private hasSpare = false;
  // last drawn point
  private px = 0;
  private py = 0;
  // pool of recent citizen authors, for repeat appeals
  private static readonly POOL = 20_000;
  private readonly poolKey = new Int32Array(DemoStream.POOL);
  private readonly poolHomeLon = new Float64Array(DemoStream.POOL);
  private readonly poolHomeLat = new Float64Array(DemoStream.POOL);
  private readonly poolHasHome = new Uint8Array(DemoStream.POOL);
  private poolSize = 0;
  private poolNext = 0;
  // recently answered citizens' appeals (a ring, in generation order), for repeats
  private readonly ring: { seq: number; leaf: number; authorKey: number; answered: number; bad: boolean; lon: number | null; lat: number | null; px: number; py: number; address: string | null }[] = [];
  private readonly ringSize: number;
  private ringNext = 0;
  private seq = 0;
  private nextCitizenKey = 1000;
  // progress
  private readonly counters = [0, 0, 0, 0, 0, 0];
  private emitted = 0;
  private day = 0;
  // state of the current day
  private dayTimes = new Float64Array(0);
  private dayMonth = 0;
  private dayHours: HourTables = HOURS_WEEKDAY;
  private incidentLeaf = -1;
  private incLon = 0;
  private incLat = 0;
  private readonly deadlines = new DemoDeadlines();

  constructor(m: Model, count: number, seed: number, fromMs: number, toMs: number) {
    this.m = m; this.count = count; this.fromMs = fromMs; this.toMs = toMs;
    // the ring spans a few weeks of appeals whatever the demo size
    this.ringSize = Math.min(20_000, Math.max(200, Math.round(count / 50)));
    const s = (Math.imul(seed ^ (seed >>> 16), 0x45d9f3b) ^ 0x9e3779b9) >>> 0;
    this.a = s;
    this.salt = mix32(s ^ 0x5bd1e995);
    this.legal = m.demo.legalEntities.map((name, i) => ({
      key: i + 1, name,
      phone: `+7 38557 ${2 + (i % 7)}-${pad((i * 37) % 100, 2)}-${pad((i * 53 + 11) % 100, 2)}`,
      email: `office${i + 1}@${i % 2 ? 'mail.ru' : 'yandex.ru'}`,
    }));
    // days and their relative volumes: month (theme seasonality), weekday, slow growth trend, covered part of the day
    this.firstDay = Math.floor((fromMs + LOCAL_OFFSET_MS) / DAY_MS);
    const lastDay = Math.floor((toMs - 1 + LOCAL_OFFSET_MS) / DAY_MS);
    this.nDays = lastDay - this.firstDay + 1;
    this.dayCum = new Float64Array(this.nDays);
    let acc = 0;
    for (let i = 0; i < this.nDays; i++) {
      const localMidnight = (this.firstDay + i) * DAY_MS;
      const start = localMidnight - LOCAL_OFFSET_MS;
      const covered = (Math.min(toMs, start + DAY_MS) - Math.max(fromMs, start)) / DAY_MS;
      const d = new Date(localMidnight);
      const wd = d.getUTCDay();
      const weekday = wd === 0 ? 0.6 : wd === 6 ? 0.7 : 1;
      const trend = 1 + (0.3 * i) / Math.max(1, this.nDays);
      acc += m.monthTotal[d.getUTCMonth()] * weekday * trend * Math.max(0, covered);
      this.dayCum[i] = acc;
    }
  }

  hasMore(): boolean {
    return this.emitted < this.count && this.day < this.nDays;
  }

  private rnd(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  private gauss(): number {
    if (this.hasSpare) { this.hasSpare = false; return this.spare; }
    let u = 0;
    while (u === 0) u = this.rnd();
    const v = this.rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * v);
  }

  private pickIndex(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  private uniformPoint(): void {
    const m = this.m;
    for (let tries = 0; tries < 200; tries++) {
      const x = m.minX + this.rnd() * (m.maxX - m.minX), y = m.minY + this.rnd() * (m.maxY - m.minY);
      if (insideCity(m, x, y)) { this.px = x; this.py = y; return; }
    }
    this.px = 81.21; this.py = 51.515;
  }

  private aroundPoint(lon: number, lat: number, sigmaM: number): void {
    for (let tries = 0; tries < 5; tries++) {
      const x = lon + (this.gauss() * sigmaM) / M_PER_DEG_LON, y = lat + (this.gauss() * sigmaM) / M_PER_DEG_LAT;
      if (insideCity(this.m, x, y)) { this.px = x; this.py = y; return; }
    }
    this.uniformPoint();
  }

  /** ~75% around the theme's hotspots (Gaussian, sigma = radius/2), ~25% uniformly over the districts. */
  private themePoint(leaf: Leaf): void {
    if (this.rnd() < 0.25 || leaf.hotspots.length === 0) { this.uniformPoint(); return; }
    const h = leaf.hotspots[pickCum(leaf.hotspotCum, this.rnd())];
    this.aroundPoint(h.lon, h.lat, h.radiusM / 2);
  }

  private addressAt(lon: number, lat: number): string {
    const m = this.m;
    const k = nearestStreet(m, lon, lat);
    const s = m.streets[m.grid.street[k]];
    let n = s.from + Math.round(m.grid.t[k] * (s.to - s.from)) + 2 * Math.floor(this.rnd() * 5 - 2);
    const odd = m.grid.side[k] > 0;
    if ((n % 2 === 1) !== odd) n += 1;
    if (n > s.to) n -= 2;
    if (n < 1) n = odd ? 1 : 2;
    const r = this.rnd();
    const suffix = r < 0.03 ? 'а' : r < 0.045 ? 'б' : r < 0.06 ? '/1' : '';
    return s.name + ', ' + n + suffix;
  }

  /**
   * Prepares the next local day: its number of rows and their receipt times, drawn already sorted
   * (sorted uniforms from normalised exponential spacings, mapped through the hour-profile CDF).
   */
  beginDay(): number {
    const m = this.m;
    const di = this.day++;
    const target = di === this.nDays - 1 ? this.count : Math.round((this.count * this.dayCum[di]) / this.dayCum[this.nDays - 1]);
    const n = Math.max(0, target - this.emitted);
    this.emitted = Math.max(this.emitted, target);
    if (n === 0) return 0;
    const localMidnight = (this.firstDay + di) * DAY_MS;
    const dayStart = localMidnight - LOCAL_OFFSET_MS;
    const date = new Date(localMidnight);
    this.dayMonth = date.getUTCMonth();
    const wd = date.getUTCDay();
    const hours = (this.dayHours = wd === 0 || wd === 6 ? HOURS_WEEKEND : HOURS_WEEKDAY);

    // an occasional local incident (pipe burst, outage, dump fire...) concentrates part of the day's flow
    this.incidentLeaf = -1;
    if (this.rnd() < 0.03) {
      const li = pickCum(m.monthCum[this.dayMonth], this.rnd());
      const leaf = m.leaves[li];
      if (leaf.hotspots.length > 0) {
        const h = leaf.hotspots[pickCum(leaf.hotspotCum, this.rnd())];
        this.aroundPoint(h.lon, h.lat, h.radiusM);
      } else this.uniformPoint();
      this.incidentLeaf = li; this.incLon = this.px; this.incLat = this.py;
    }

    // CDF range covered by the [from, to) window within this day
    const cdfAt = (ms: number): number => {
      const x = Math.min(24, Math.max(0, (ms - dayStart) / HOUR_MS));
      const h = Math.min(23, Math.floor(x));
      return hours.cdf[h] + (hours.cdf[h + 1] - hours.cdf[h]) * (x - h);
    };
    const lo = cdfAt(Math.max(this.fromMs, dayStart)), hi = cdfAt(Math.min(this.toMs, dayStart + DAY_MS));
    if (this.dayTimes.length < n) this.dayTimes = new Float64Array(Math.max(n, 2 * this.dayTimes.length));
    const times = this.dayTimes;
    let sum = 0;
    for (let i = 0; i < n; i++) { sum -= Math.log(1 - this.rnd()); times[i] = sum; }
    sum -= Math.log(1 - this.rnd());
    let h = 0;
    const cdf = hours.cdf;
    for (let i = 0; i < n; i++) {
      const v = lo + (hi - lo) * (times[i] / sum);
      while (h < 23 && v >= cdf[h + 1]) h++;
      const width = cdf[h + 1] - cdf[h];
      const frac = width > 0 ? (v - cdf[h]) / width : 0;
      times[i] = dayStart + Math.floor((h + Math.min(frac, 0.9999999)) * HOUR_MS);
    }
    return n;
  }

  /** Row i (0-based, chronological) of the current day. */
  row(i: number): DemoAppeal {
    const m = this.m;
    const nowMs = this.toMs;
    const month = this.dayMonth;
    const { male, female } = m.demo.authors;
    const P = DemoStream.POOL;
    const incidentLeaf = this.incidentLeaf, incLon = this.incLon, incLat = this.incLat;
    const t = this.dayTimes[i];
    const hour = Math.min(23, Math.floor((((t + LOCAL_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS / HOUR_MS));
    const ci = pickCum(this.dayHours.chanCum[hour], this.rnd());
    const channel = CHANNELS[ci];

    // theme
    const incident = incidentLeaf >= 0 && ci !== 5 && this.rnd() < 0.3;
    let li: number;
    if (incident) li = incidentLeaf;
    else if (ci === 5) li = pickCum(m.monthCumPd[month], this.rnd());
    else li = pickCum(m.monthCum[month], this.rnd());
    let leaf = m.leaves[li];
    const seq = this.seq++;

    // A repeat (decided by a hash of the row, not the main random stream): a citizen whose appeal was answered within
    // the repeat window writes again about the same thing at the same place — the answer did not solve it; after a
    // late or formal answer more often.
    let repeat: DemoStream['ring'][number] | null = null;
    if (ci !== 5 && this.ring.length && (mix32(seq ^ this.salt ^ 0x27d4eb2f) & 1023) < 60) {
      const h = mix32(seq ^ 0x165667b1);
      const r = this.ring[h % this.ring.length];
      if (r.answered < t && t - r.answered <= REPEAT_WINDOW_MS && ((h >>> 20) & 1023) < (r.bad ? 900 : 350)) {
        repeat = r;
        li = r.leaf;
        leaf = m.leaves[li];
      }
    }

    // author
    let le: LegalEntity | null = null, slot = -1, authorKey: number;
    if (repeat) authorKey = repeat.authorKey;
    else if (this.rnd() < LEGAL_SHARE[ci]) { le = this.legal[this.pickIndex(this.legal.length)]; authorKey = le.key; }
    else if (this.poolSize > 50 && this.rnd() < 0.12) { slot = this.pickIndex(this.poolSize); authorKey = this.poolKey[slot]; }
    else {
      authorKey = this.nextCitizenKey++;
      slot = this.poolNext;
      this.poolKey[slot] = authorKey; this.poolHasHome[slot] = 0;
      this.poolNext = (this.poolNext + 1) % P;
      if (this.poolSize < P) this.poolSize++;
    }

    // place: ~90% point + address, ~4% address only, ~6% neither
    const g = this.rnd();
    let lon: number | null = null, lat: number | null = null, address: string | null = null;
    if (repeat) {
      // the same place as the first appeal (or, when it had none, none again)
      address = repeat.address;
      if (repeat.lon != null) { lon = repeat.lon; lat = repeat.lat; this.px = repeat.px; this.py = repeat.py; }
    } else if (g < 0.94) {
      if (incident) this.aroundPoint(incLon, incLat, 250);
      else if (slot >= 0 && this.poolHasHome[slot] === 1 && this.rnd() < 0.5) { this.px = this.poolHomeLon[slot]; this.py = this.poolHomeLat[slot]; }
      else this.themePoint(leaf);
      if (slot >= 0 && this.poolHasHome[slot] === 0) { this.poolHasHome[slot] = 1; this.poolHomeLon[slot] = this.px; this.poolHomeLat[slot] = this.py; }
      address = this.addressAt(this.px, this.py);
      if (g < 0.90) { lon = Math.round(this.px * 1e6) / 1e6; lat = Math.round(this.py * 1e6) / 1e6; }
    }

    // text
    const templates = address !== null ? leaf.texts : leaf.textsNoAddress;
    const tpl = templates[this.pickIndex(templates.length)];
    let text = tpl.length === 1 ? tpl[0] : tpl[0] + (address ?? 'нашем районе') + tpl[1];
    const official = ci === 1 || ci === 4 || ci === 5;
    const pr = this.rnd();
    if (pr < (official ? 0.35 : 0.15)) {
      const list = official || pr < 0.07 ? m.demo.prefixes.formal : m.demo.prefixes.casual;
      const pre = list[this.pickIndex(list.length)];
      if (pre.endsWith(', ')) text = pre + text.charAt(0).toLowerCase() + text.slice(1);
      else text = pre + ' ' + text;
    }
    if (repeat) {
      const pre = REPEAT_PREFIXES[mix32(seq ^ 0x3c6ef372) % REPEAT_PREFIXES.length];
      text = pre.endsWith(': ') ? pre + text.charAt(0).toLowerCase() + text.slice(1) : pre + text;
    }
    const sr = this.rnd();
    if (sr < 0.25) {
      const list = official || sr < 0.1 ? m.demo.suffixes.formal : m.demo.suffixes.casual;
      const suf = list[this.pickIndex(list.length)];
      const last = text.charCodeAt(text.length - 1);
      text = last === 46 || last === 33 || last === 63 ? text + ' ' + suf : text + '. ' + suf;
    }

    // contacts as seen through the channel
    const social = ci === 0 || ci === 2;
    const wantPhone = !social && ci !== 5;
    const wantEmail = !social && ci !== 3;
    let authorName: string, authorPhone: string | null = null, authorEmail: string | null = null, authorProfileUrl: string | null = null;
    if (le) {
      authorName = le.name;
      if (wantPhone) authorPhone = le.phone;
      if (wantEmail) authorEmail = le.email;
    } else {
      const h1 = mix32(authorKey ^ this.salt), h2 = mix32(h1 + 0x9e3779b9), h3 = mix32(h2 + 0x632be5ab);
      const isFemale = (h1 & 1023) < 563;
      const names = isFemale ? female : male;
      const si = (h1 >>> 10) % names.last.length;
      const first = names.first[h2 % names.first.length];
      authorName = social || ci === 3 ? first + ' ' + names.last[si]
        : names.last[si] + ' ' + first + ' ' + names.patronymic[(h2 >>> 12) % names.patronymic.length];
      const latin = (isFemale ? m.surnameLatin.female : m.surnameLatin.male)[si];
      if (wantPhone && (h3 & 1023) < 870) {
        const d = mix32(h3 + 0x2545f491) % 1_000_000_000;
        authorPhone = '+7 9' + DIGITS2[Math.floor(d / 1e7)] + ' ' + DIGITS3[Math.floor(d / 1e4) % 1000] + '-' + DIGITS2[Math.floor(d / 100) % 100] + '-' + DIGITS2[d % 100];
      }
      if (wantEmail && ((h3 >>> 10) & 1023) < 563) authorEmail = latin + (authorKey % 1000) + '@' + EMAIL_DOMAINS[authorKey % EMAIL_DOMAINS.length];
      const net = (h3 >>> 20) & 1023;
      if (net >= 820 && (social || ci === 3)) authorProfileUrl = 'https://t.me/' + latin + '_' + (authorKey % 997);
      else if (social) authorProfileUrl = net < 615 ? 'https://vk.com/id' + (100_000_000 + ((authorKey * 7919) % 800_000_000)) : 'https://ok.ru/profile/' + (500_000_000_000 + authorKey * 131);
    }

    // lifecycle: timings under the default deadline rules in working time (server/demo/timing.ts): urgency by keywords,
    // first reaction and answer as shares of the allowed working time, extensions for some late ones
    const timing = this.deadlines.plan(channel, text, t, leaf.slowness, nowMs, () => this.rnd(), () => this.gauss());
    const dueMs = timing.dueAt.getTime();
    let status: DemoStatus;
    let firstResponseAt: Date | null = null, answeredAt: Date | null = null;
    let answerText: string | null = null, answerFormal: boolean | null = null, satisfaction: number | null = null;
    let extension = timing.extension;
    if (this.rnd() < 0.03) {
      const decided = t + (1 + this.rnd() * 4) * DAY_MS;
      const rej = m.demo.rejections[this.pickIndex(m.demo.rejections.length)];
      extension = null;
      if (decided <= nowMs) {
        status = 'REJECTED'; firstResponseAt = new Date(decided); answeredAt = new Date(decided); answerText = rej;
      } else status = 'NEW';
    } else {
      const formal = this.rnd() < leaf.formalRate && leaf.formal.length > 0;
      const hasRating = this.rnd() < (ci === 1 ? 0.6 : 0.3);
      const closes = this.rnd() < 0.85;
      const closeDelay = 3 * DAY_MS * Math.exp(this.gauss() * 0.6);
      firstResponseAt = timing.firstResponseAt;
      if (!timing.answeredAt) {
        status = firstResponseAt ? 'IN_PROGRESS' : 'NEW';
      } else {
        answeredAt = timing.answeredAt;
        const ans = answeredAt.getTime();
        const list = formal ? leaf.formal : leaf.substantive;
        answerText = fillAnswer(list[this.pickIndex(list.length)], address, ans, !formal);
        answerFormal = formal;
        status = closes && ans + closeDelay <= nowMs ? 'CLOSED' : 'ANSWERED';
        if (hasRating) {
          const late = timing.late;
          const mean = 4.3 - (late ? 1.3 : 0) - (formal ? 1.7 : 0);
          satisfaction = Math.min(5, Math.max(1, Math.round(mean + this.gauss() * 0.9)));
        }
      }
    }

    if (!le && answeredAt && status !== 'REJECTED' && leaf.code) {
      const entry = { seq, leaf: li, authorKey, answered: answeredAt.getTime(), bad: !!answerFormal || timing.late, lon, lat, px: this.px, py: this.py, address };
      if (this.ring.length < this.ringSize) this.ring.push(entry);
      else { this.ring[this.ringNext] = entry; this.ringNext = (this.ringNext + 1) % this.ringSize; }
    }

    return {
      seq, repeatOfSeq: repeat ? repeat.seq : null,
      externalId: CHANNEL_PREFIX_BY_INDEX[ci] + '-' + pad(++this.counters[ci], 7), channel, receivedAt: new Date(t),
      authorKind: le ? 'LEGAL_ENTITY' : 'CITIZEN', authorKey, authorName, authorPhone, authorEmail, authorProfileUrl,
      text, address, lon, lat, themeCode: leaf.code, status,
      dueAt: new Date(dueMs), firstResponseAt, answeredAt, answerText, answerFormal, satisfaction,
      urgent: timing.urgent, extension,
    };
  }
}
