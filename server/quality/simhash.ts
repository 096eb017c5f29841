/**
 * Near-duplicate fingerprints of answers: 64-bit SimHash over word 3-shingles of the answer with what differs from one
 * appeal to the next masked (numbers, dates, addresses, names, phones). The same template sent to different appeals
 * gets the same fingerprint or one a few bits away; templates are found with 4 bands of 16 bits (pigeonhole: two
 * fingerprints within 3 bits share at least one band exactly), so a lookup is an equality on an indexed band.
 */

export const MAX_DISTANCE = 3;

/** The answer with what varies between appeals replaced by placeholders. */
export function maskAnswer(text: string): string {
  return text
    .replace(/[А-ЯЁ][а-яё]+ [А-ЯЁ]\. ?[А-ЯЁ]\./g, ' ИМЯ ')
    .replace(/[А-ЯЁ]\. ?[А-ЯЁ]\. [А-ЯЁ][а-яё]+/g, ' ИМЯ ')
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/(\+7|8)[\s(-]*\d{3,4}[\s)-]*\d[\d\s-]{4,}/g, ' тел ')
    .replace(/\b\d{1,2}\.\d{1,2}(\.\d{2,4})?\b/g, ' дата ')
    .replace(/(?:\bул\.?|\bулиц[аеы]|\bпр\.|\bпр-т|\bпроспект\w*|\bпер\.|\bпереул\w*|\bбульвар\w*|\bпроезд\w*)\s*[а-я-]+(?:\s[а-я-]+)?(?:[\s,]*(?:д\.|дом)?\s*№?\s*\d+[а-я]?)?/g, ' адрес ')
    .replace(/\b(д\.|дом|домом|дома|доме)\s*№?\s*\d+[а-я]?/g, ' адрес ')
    .replace(/«[^»]{1,60}»/g, ' назв ')
    .replace(/\d+/g, ' ч ');
}

function words(masked: string): string[] {
  return masked.split(/[^а-яa-z]+/).filter((w) => w.length > 1);
}

/** FNV-1a 32-bit over a string, and a second independent 32-bit hash (different offset and final mix). */
function hash2(s: string): [number, number] {
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 ^= h1 >>> 16; h1 = Math.imul(h1, 0x85ebca6b); h1 ^= h1 >>> 13;
  h2 ^= h2 >>> 16; h2 = Math.imul(h2, 0xc2b2ae35); h2 ^= h2 >>> 16;
  return [h1 >>> 0, h2 >>> 0];
}

/** The fingerprint as two unsigned 32-bit halves. */
export interface Fingerprint { hi: number; lo: number }

const acc = new Int32Array(64);

export function simhash(text: string): Fingerprint {
  const w = words(maskAnswer(text));
  acc.fill(0);
  const k = w.length >= 3 ? 3 : Math.max(1, w.length);
  const n = Math.max(1, w.length - k + 1);
  for (let i = 0; i < n; i++) {
    const sh = w.slice(i, i + k).join(' ');
    const [a, b] = hash2(sh);
    for (let j = 0; j < 32; j++) {
      acc[j] += (a >>> j) & 1 ? 1 : -1;
      acc[32 + j] += (b >>> j) & 1 ? 1 : -1;
    }
  }
  let hi = 0, lo = 0;
  for (let j = 0; j < 32; j++) {
    if (acc[j] > 0) hi |= 1 << j;
    if (acc[32 + j] > 0) lo |= 1 << j;
  }
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

export function distance(a: Fingerprint, b: Fingerprint): number {
  return popcount32((a.hi ^ b.hi) >>> 0) + popcount32((a.lo ^ b.lo) >>> 0);
}

/** The four 16-bit bands (the same as the SQL expressions in the migration). */
export function bands(f: Fingerprint): [number, number, number, number] {
  return [f.hi >>> 16, f.hi & 0xffff, f.lo >>> 16, f.lo & 0xffff];
}

/** As a signed 64-bit integer (PostgreSQL bigint), in decimal text. */
export function toBigint(f: Fingerprint): string {
  return BigInt.asIntN(64, (BigInt(f.hi) << 32n) | BigInt(f.lo)).toString();
}

export function fromBigint(v: string | number | bigint): Fingerprint {
  const u = BigInt.asUintN(64, BigInt(v));
  return { hi: Number(u >> 32n), lo: Number(u & 0xffffffffn) };
}

/**
 * Leader clustering of fingerprints in order: each joins the first earlier template within MAX_DISTANCE (found through
 * the bands), or starts one. Returns each item's template index (the index of its leader).
 */
export class TemplateIndex {
  readonly leaders: Fingerprint[] = [];
  private readonly byBand = [new Map<number, number[]>(), new Map<number, number[]>(), new Map<number, number[]>(), new Map<number, number[]>()];

  /** The leader within MAX_DISTANCE (the closest; ties: the earliest), or -1. */
  find(f: Fingerprint): number {
    let best = -1, bestD = MAX_DISTANCE + 1;
    const bs = bands(f);
    for (let b = 0; b < 4; b++) {
      const list = this.byBand[b].get(bs[b]);
      if (!list) continue;
      for (const li of list) {
        const d = distance(f, this.leaders[li]);
        if (d < bestD || (d === bestD && li < best)) { best = li; bestD = d; }
      }
    }
    return best;
  }

  add(f: Fingerprint): number {
    const li = this.leaders.length;
    this.leaders.push(f);
    const bs = bands(f);
    for (let b = 0; b < 4; b++) {
      const m = this.byBand[b];
      const list = m.get(bs[b]);
      if (list) list.push(li); else m.set(bs[b], [li]);
    }
    return li;
  }

  /** The template of `f`: an existing leader or a new one. */
  assign(f: Fingerprint): number {
    const i = this.find(f);
    return i >= 0 ? i : this.add(f);
  }
}
