import type { EntityManager } from '@mikro-orm/postgresql';
import { bound } from './bound.js';
import { stems } from './text.js';

/** What the duplicate and repeat search needs of a new appeal of the chunk (index = its place in the chunk's inserts). */
export interface NewAppeal {
  lon?: number;
  lat?: number;
  at: Date;
  themeId: number | null;
  authorKey?: string;
  text: string;
  /** The source's answer time, if the appeal came answered (a later appeal at its place may then be its repeat). */
  answeredAt?: Date | null;
}

export interface RelationSettings {
  duplicateRadiusM: number;
  duplicateDays: number;
  duplicateSimilarity: number;
  repeatDays: number;
}

/**
 * A new appeal of the previous chunk, handed over in memory: its write may not be committed yet when this chunk is
 * prepared (the two overlap), but for the search it is a stored appeal like any other.
 */
export interface PendingAppeal extends NewAppeal {
  id: number;
  /** Linked as a duplicate itself: then not a duplicate candidate. */
  duplicate: boolean;
}

/** An earlier appeal: either one already stored (id) or an earlier new appeal of the same chunk (index). */
export type Relation = { id: number } | { index: number };

export interface Relations {
  duplicateOf: (Relation | undefined)[];
  repeatOf: (Relation | undefined)[];
  /** Why each repeat is one: the same author (AUTHOR) or the same place (PLACE); undefined where there is no repeat. */
  repeatBy: ('AUTHOR' | 'PLACE' | undefined)[];
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (!a.size || !b.size) return 0;
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

/** Stems of stored candidates' texts: the same recent appeals are candidates for many new ones. Bounded. */
export class StemCache {
  private map = new Map<number, Set<string>>();
  get(id: number, text: string): Set<string> {
    let s = this.map.get(id);
    if (!s) {
      if (this.map.size >= 50_000) this.map.clear();
      this.map.set(id, (s = new Set(stems(text))));
    }
    return s;
  }
}

/** Half-side in degrees of a square around a point that covers `radiusM` in both directions (a degree of latitude is ≥ 110.5 km). */
const halfSide = (radiusM: number, lat: number) => radiusM / (110_000 * Math.cos((lat * Math.PI) / 180));

/**
 * The dedup grid cells (appeal_dedup_cell of migration …103: the same floor(x / 0.005), floor(y / 0.003) in IEEE
 * doubles) that the search square of a point touches; one index range per cell. Computed here and bound as an array
 * per row, so the planner sees a short list (a generate_series in SQL is estimated at 10⁶ cells, and PostgreSQL 18
 * then prefers scanning the theme's whole period). Near a pole or with a huge radius the square covers too many
 * cells: such rows (null) use the point index instead.
 */
function cellsOf(lon: number, lat: number, radiusM: number): string | null {
  const d = halfSide(radiusM, lat);
  const x0 = Math.floor((lon - d) / 0.005), x1 = Math.floor((lon + d) / 0.005);
  const y0 = Math.floor((lat - d) / 0.003), y1 = Math.floor((lat + d) / 0.003);
  if (!((x1 - x0 + 1) * (y1 - y0 + 1) <= 64)) return null;
  const out: number[] = [];
  for (let gx = x0; gx <= x1; gx++) for (let gy = y0; gy <= y1; gy++) out.push((gx + 1048576) * 2097152 + (gy + 1048576));
  return `{${out.join(',')}}`;
}

/**
 * Duplicates and repeats of a chunk's new appeals, decided BEFORE they are inserted (so the insert writes the links
 * and no row is updated afterwards):
 * - a duplicate: an earlier appeal (by received time, then id) on the same theme within the radius and the period,
 *   itself not a duplicate, among the 5 latest such, whose text is similar enough (Jaccard of stems); the first
 *   (latest) similar one;
 * - a repeat: the latest earlier appeal of the same author (key) on the same theme within the repeat period; failing
 *   that, a repeat by place: the latest earlier appeal (by registration) on the same theme within the duplicate radius,
 *   itself not a duplicate, registered within two repeat periods and ANSWERED within the repeat period before this
 *   one — the answer did not solve it (the rating counts it as the failure of that answer).
 * Candidates are stored appeals (all earlier by id than the chunk) and the chunk's own new appeals; the chunk's
 * appeals are decided in (received time, place in the chunk) order — the order of their ids — so a duplicate
 * found in the chunk is not a candidate for a later appeal, as it is not across chunks.
 * One statement: stored candidates of each appeal (grid cells of appeal_dedup_idx, bounding square, then the
 * exact geodesic distance), the chunk's own near pairs, and stored repeat candidates.
 */
export async function findRelations(
  em: EntityManager, municipalityId: number, rows: NewAppeal[], settings: RelationSettings, cache: StemCache, pending: PendingAppeal[] = [],
): Promise<Relations> {
  const duplicateOf: (Relation | undefined)[] = new Array(rows.length).fill(undefined);
  const repeatOf: (Relation | undefined)[] = new Array(rows.length).fill(undefined);
  const repeatBy: Relations['repeatBy'] = new Array(rows.length).fill(undefined);
  const located: number[] = [];
  const authored: number[] = [];
  rows.forEach((r, i) => {
    if (r.themeId == null) return;
    if (r.lon !== undefined) located.push(i);
    if (r.authorKey != null) authored.push(i);
  });
  if (!located.length && !authored.length) return { duplicateOf, repeatOf, repeatBy };
  const cells = located.map((i) => cellsOf(rows[i].lon!, rows[i].lat!, settings.duplicateRadiusM));
  const candidates = pending.filter((p) => !p.duplicate && p.themeId != null && p.lon !== undefined);
  const iso = (i: number) => rows[i].at.toISOString();

  // Gridded: per cell of the search square, the 5 latest candidates (a backward walk of appeal_dedup_idx that stops
  // at the fifth one within the radius), then the 5 latest of those: the same as the 5 latest of the whole square,
  // without reading every appeal of the period in the cells when they are dense. Wide squares (no cells): the
  // bounding box over the theme's period.
  const candidateFilter = `c.point IS NOT NULL AND c.theme_id IS NOT NULL AND c.duplicate_of_id IS NULL  -- the index's predicate
              AND c.municipality_id = $1 AND c.theme_id = t.theme
              AND c.received_at > t.at - make_interval(days => $9) AND c.received_at <= t.at
              AND abs(ST_X(c.point) - t.lon) <= t.d AND abs(ST_Y(c.point) - t.lat) <= t.d  -- not && (it would draw the planner to the point index)
              AND ST_DWithin(c.point::geography, t.p::geography, $6)`;
  const storedCandidates = (gridded: boolean) => `
     SELECT 'D' AS k, t.i, c.id AS other_id, NULL::int AS other_i, c.text AS other_text, c.received_at AS other_at
       FROM t CROSS JOIN LATERAL (
         ${gridded ? `SELECT y.id, y.text, y.received_at FROM unnest(t.cells::bigint[]) AS cc(cell)
           CROSS JOIN LATERAL (
             SELECT c.id, c.text, c.received_at FROM appeal c
              WHERE ${candidateFilter} AND appeal_dedup_cell(c.point) = cc.cell
              -- By time alone, in the index's order, so the walk stops at the fifth match (ties kept: the id decides below).
              ORDER BY c.received_at DESC FETCH FIRST 5 ROWS WITH TIES) y` : `
           -- OFFSET 0 keeps the planner off appeal_received_at_idx (walking it backwards reads every appeal of the period).
           SELECT y.id, y.text, y.received_at FROM (SELECT c.id, c.text, c.received_at FROM appeal c WHERE ${candidateFilter} OFFSET 0) y`}
          ORDER BY y.received_at DESC, y.id DESC LIMIT 5) c
      WHERE t.cells IS ${gridded ? 'NOT ' : ''}NULL`;
  // Pairs of a chunk's appeal (a) and an appeal in memory (b: another of the chunk, t, or of the previous chunk, q)
  // on the same theme within the radius and period, joined by grid cell (by theme alone the pairs to test are a
  // thousand times more); wide squares (no cells) by theme.
  const nearPairs = (select: string, other: 't' | 'q', extra: string) => {
    const near = `b.at <= a.at ${extra} AND b.at > a.at - make_interval(days => $9)
        AND abs(b.lon - a.lon) <= a.d AND abs(b.lat - a.lat) <= a.d
        AND ST_DWithin(a.p::geography, b.p::geography, $6)`;
    return `     SELECT ${select}
       FROM t a CROSS JOIN LATERAL unnest(a.cells::bigint[]) AS ac(cell)
       JOIN ${other} b ON b.theme = a.theme AND b.cell = ac.cell
      WHERE ${near}
     UNION ALL
     SELECT ${select}
       FROM t a JOIN ${other} b ON b.theme = a.theme
      WHERE a.cells IS NULL AND ${near}`;
  };
  const found = await bound<{ k: string; i: number; other_id: number | null; other_i: number | null; other_text: string | null; other_at: Date }>(
    em,
    `WITH t AS MATERIALIZED (
       SELECT u.*, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326) AS p, appeal_dedup_cell(ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)) AS cell,
              $6::float8 / (110000 * cos(radians(u.lat))) AS d
         FROM unnest($2::int[], $3::float8[], $4::float8[], $5::timestamptz[], $7::int[], $8::text[]) AS u(i, lon, lat, at, theme, cells)),
     q AS MATERIALIZED (
       SELECT v.*, g.p, appeal_dedup_cell(g.p) AS cell
         FROM unnest($15::int[], $16::float8[], $17::float8[], $18::timestamptz[], $19::int[]) AS v(id, lon, lat, at, theme)
        CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326) AS p) g)
${storedCandidates(true)}
     UNION ALL
${storedCandidates(false)}
     UNION ALL
${nearPairs(`'d', a.i, NULL, b.i, NULL, b.at`, 't', 'AND (b.at, b.i) < (a.at, a.i)')}
     UNION ALL
     -- The previous chunk's new appeals (pending), with the same conditions as stored candidates.
${nearPairs(`'P', a.i, b.id, NULL, NULL, b.at`, 'q', '')}
     UNION ALL
     -- Repeats by place: per cell of the search square, the latest appeal on the theme answered within the repeat
     -- period before this one (a backward walk of appeal_dedup_idx that stops at the first), then the latest of those.
     SELECT 'Q', t.i, y.id, NULL, NULL, y.received_at
       FROM t CROSS JOIN LATERAL (
         SELECT z.id, z.received_at FROM unnest(t.cells::bigint[]) AS cc(cell)
           CROSS JOIN LATERAL (
             SELECT c.id, c.received_at FROM appeal c
              WHERE c.point IS NOT NULL AND c.theme_id IS NOT NULL AND c.duplicate_of_id IS NULL  -- the index's predicate
                AND c.municipality_id = $1 AND c.theme_id = t.theme AND appeal_dedup_cell(c.point) = cc.cell
                AND c.received_at <= t.at AND c.received_at > t.at - make_interval(days => 2 * $14)
                AND c.answered_at < t.at AND c.answered_at > t.at - make_interval(days => $14)
                AND abs(ST_X(c.point) - t.lon) <= t.d AND abs(ST_Y(c.point) - t.lat) <= t.d
                AND ST_DWithin(c.point::geography, t.p::geography, $6)
              ORDER BY c.received_at DESC, c.id DESC LIMIT 1) z
          ORDER BY z.received_at DESC, z.id DESC LIMIT 1) y
      WHERE t.cells IS NOT NULL
     UNION ALL
     SELECT 'R', u.i, c.id, NULL, NULL, c.received_at
       FROM unnest($10::int[], $11::text[], $12::int[], $13::timestamptz[]) AS u(i, author_key, theme, at)
       CROSS JOIN LATERAL (
         SELECT c.id, c.received_at FROM appeal c
          WHERE c.municipality_id = $1 AND c.author_key = u.author_key AND c.theme_id = u.theme
            AND c.received_at <= u.at AND c.received_at > u.at - make_interval(days => $14)
          ORDER BY c.received_at DESC, c.id DESC LIMIT 1) c`,
    [
      municipalityId,
      located, located.map((i) => rows[i].lon), located.map((i) => rows[i].lat), located.map(iso), settings.duplicateRadiusM,
      located.map((i) => rows[i].themeId), cells, settings.duplicateDays,
      authored, authored.map((i) => rows[i].authorKey), authored.map((i) => rows[i].themeId), authored.map(iso), settings.repeatDays,
      candidates.map((p) => p.id), candidates.map((p) => p.lon), candidates.map((p) => p.lat), candidates.map((p) => p.at.toISOString()),
      candidates.map((p) => p.themeId),
    ],
  );
  const pendingById = new Map(pending.map((p) => [p.id, p]));

  const stored = new Map<number, { id: number; at: number; text: string }[]>();
  const inChunk = new Map<number, number[]>();
  const storedRepeat = new Map<number, { id: number; at: number }>();
  const storedPlace = new Map<number, { id: number; at: number }>();
  for (const f of found) {
    if (f.k === 'Q') { storedPlace.set(f.i, { id: f.other_id!, at: new Date(f.other_at).getTime() }); continue; }
    if (f.k === 'D' || f.k === 'P') {
      let l = stored.get(f.i);
      if (!l) stored.set(f.i, (l = []));
      // A pending appeal whose chunk committed meanwhile is found both ways: once is enough.
      if (!l.some((x) => x.id === f.other_id)) l.push({ id: f.other_id!, at: new Date(f.other_at).getTime(), text: f.other_text ?? pendingById.get(f.other_id!)!.text });
    } else if (f.k === 'd') {
      let l = inChunk.get(f.i);
      if (!l) inChunk.set(f.i, (l = []));
      l.push(f.other_i!);
    } else storedRepeat.set(f.i, { id: f.other_id!, at: new Date(f.other_at).getTime() });
  }
  // Repeat candidates among the pending appeals: the latest (by time, then id) wins against the stored one.
  if (pending.length && authored.length) {
    const byAuthor = new Map<string, PendingAppeal[]>();
    for (const p of pending) {
      if (p.authorKey == null || p.themeId == null) continue;
      const key = `${p.themeId}|${p.authorKey}`;
      const l = byAuthor.get(key);
      if (l) l.push(p);
      else byAuthor.set(key, [p]);
    }
    const periodMs = settings.repeatDays * 86_400_000;
    for (const i of authored) {
      const at = rows[i].at.getTime();
      let best = storedRepeat.get(i);
      for (const p of byAuthor.get(`${rows[i].themeId}|${rows[i].authorKey}`) ?? []) {
        const pat = p.at.getTime();
        if (pat > at || pat <= at - periodMs) continue;
        if (!best || pat > best.at || (pat === best.at && p.id > best.id)) best = { id: p.id, at: pat };
      }
      if (best) storedRepeat.set(i, best);
    }
  }

  // The chunk in id order: (received time, place in the chunk).
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].at.getTime() - rows[b].at.getTime() || a - b);
  const own = new Map<number, Set<string>>();
  const ownStems = (i: number) => {
    let s = own.get(i);
    if (!s) own.set(i, (s = new Set(stems(rows[i].text))));
    return s;
  };
  type Cand = { at: number; chunk: number; key: number; text?: string };
  for (const i of order) {
    const s = stored.get(i);
    const c = inChunk.get(i);
    if (!s && !c) continue;
    const cands: Cand[] = [
      ...(s ?? []).map((x): Cand => ({ at: x.at, chunk: 0, key: x.id, text: x.text })),
      ...(c ?? []).filter((j) => duplicateOf[j] === undefined).map((j): Cand => ({ at: rows[j].at.getTime(), chunk: 1, key: j })),
    ];
    // Latest first: by time, then id (the chunk's appeals get ids after every stored one, in chunk order).
    cands.sort((a, b) => b.at - a.at || b.chunk - a.chunk || b.key - a.key);
    const mine = ownStems(i);
    for (const x of cands.slice(0, 5)) {
      const theirs = x.chunk ? ownStems(x.key) : cache.get(x.key, x.text!);
      if (jaccard(mine, theirs) >= settings.duplicateSimilarity) {
        duplicateOf[i] = x.chunk ? { index: x.key } : { id: x.key };
        break;
      }
    }
  }

  // Repeats within the chunk: the latest earlier appeal (in id order) of the same author and theme within the period.
  const last = new Map<string, number>();
  const periodMs = settings.repeatDays * 86_400_000;
  for (const i of order) {
    const r = rows[i];
    if (r.authorKey == null || r.themeId == null) continue;
    const key = `${r.themeId}|${r.authorKey}`;
    const prev = last.get(key);
    const st = storedRepeat.get(i);
    if (prev !== undefined && rows[prev].at.getTime() > r.at.getTime() - periodMs && (!st || rows[prev].at.getTime() >= st.at)) repeatOf[i] = { index: prev };
    else if (st) repeatOf[i] = { id: st.id };
    if (repeatOf[i]) repeatBy[i] = 'AUTHOR';
    last.set(key, i);
  }

  // Repeats by place, where there is no repeat by author: the latest (registration time, then id — stored, then the
  // previous chunk's, then this chunk's in order) of the stored candidate and the answered appeals in memory.
  const placed = located.filter((i) => !repeatOf[i]);
  if (placed.length) {
    const rank = new Map(order.map((i, k) => [i, k]));
    const answeredIn = (x: NewAppeal, at: number) => x.answeredAt != null && x.answeredAt.getTime() < at && x.answeredAt.getTime() > at - periodMs
      && x.at.getTime() <= at && x.at.getTime() > at - 2 * periodMs;
    for (const i of placed) {
      const r = rows[i];
      const at = r.at.getTime();
      const st = storedPlace.get(i);
      let best: { rel: Relation; at: number; tier: number; key: number } | undefined = st ? { rel: { id: st.id }, at: st.at, tier: 0, key: st.id } : undefined;
      const better = (xAt: number, tier: number, key: number) => !best || xAt > best.at || (xAt === best.at && (tier > best.tier || (tier === best.tier && key > best.key)));
      for (const p of candidates) {
        if (p.themeId !== r.themeId || !answeredIn(p, at) || metres(p, r) > settings.duplicateRadiusM) continue;
        if (better(p.at.getTime(), 1, p.id)) best = { rel: { id: p.id }, at: p.at.getTime(), tier: 1, key: p.id };
      }
      for (const j of located) {
        const o = rows[j];
        if (rank.get(j)! >= rank.get(i)! || duplicateOf[j] !== undefined || o.themeId !== r.themeId || !answeredIn(o, at) || metres(o, r) > settings.duplicateRadiusM) continue;
        if (better(o.at.getTime(), 2, rank.get(j)!)) best = { rel: { index: j }, at: o.at.getTime(), tier: 2, key: rank.get(j)! };
      }
      if (best) { repeatOf[i] = best.rel; repeatBy[i] = 'PLACE'; }
    }
  }
  return { duplicateOf, repeatOf, repeatBy };
}

/** Distance in metres between two located appeals (spherical Earth; the radius is a few hundred metres at most). */
function metres(a: NewAppeal, b: NewAppeal): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat! - a.lat!) * rad, dLon = (b.lon! - a.lon!) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat! * rad) * Math.cos(b.lat! * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}
