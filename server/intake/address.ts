/**
 * Parsing and normalising Russian street addresses ("г. Рубцовск, пр-т Ленина, д. 85а, кв. 5")
 * into a street type, name and house, and a key on which spelling variants coincide.
 * Pure: no database, no I/O. The street types and the normalisation of names and houses are server/util/address-words.ts.
 */
import { foldRu, normalizeHouse, normalizeStreetName, streetTypeOf, streetTypeWords } from '../util/address-words.js';

export interface ParsedAddress {
  /** Canonical type: 'ул', 'пр-кт', 'пер', 'б-р', 'пл', 'ш', 'проезд', 'туп', 'мкр', 'кв-л', 'наб'; null when the text has none. */
  streetType: string | null;
  /** Normalised name: lowercase, ё→е, no quotes, no "им.", single spaces ("ленина", "2-я пятилетка"). */
  streetName: string;
  /** Normalised house: "85", "85а", "12/1", "12к2", "12с1"; null when absent. */
  house: string | null;
  /** `${streetType ?? ''}|${streetName}` */
  streetKey: string;
  /** `${streetKey}|${house}`, or null without a house. */
  key: string | null;
}

/** A parsed address with every house it names. */
export interface ParsedAddressHouses extends ParsedAddress {
  /**
   * Every house the text names, first = `house`: "20, 22" → ["20", "22"]; a range "10–14" → ["10", "12", "14"] (the
   * same side of the street), at most 10. Empty without a house.
   */
  houses: string[];
}

/** Latin letters that look like Cyrillic ones (fixes mixed-script typing such as "Лeнина" with a Latin e). */
const LOOKALIKE: Record<string, string> = { a: 'а', c: 'с', e: 'е', o: 'о', p: 'р', x: 'х', y: 'у', k: 'к', m: 'м', t: 'т', h: 'н', b: 'в' };

const L = 'а-яa-z';
const RE_PREFIX = new RegExp(
  '^(?:' + [
    '\\d{6}',                                         // postal code
    '(?:россия|российская федерация|рф)(?![' + L + '])',
    'алтайский\\s+(?:край|кр\\.?)',
    '(?:г|гор|город)\\.?\\s*рубцовск(?![' + L + '])',
    'рубцовск(?![' + L + '])',
    '(?:г|город)\\.\\s*[' + L + '-]+(?=\\s*,)',       // another city written as "г. X,"
  ].join('|') + ')[\\s,.]*',
);
const RE_APARTMENT = new RegExp('(?:^|[\\s,])(?:кв|квартира|оф|офис|пом|помещение|комн|комната|под|подъезд|п-д|п|эт|этаж|секция|сек)(?:\\.\\s*|\\s+|(?=\\d))\\d.*$');
/** "20, 22", "20 и 22" or a range "10-14" at the end (after the street name). */
const RE_HOUSE_LIST = /(?:^|[\s,])(?:(?:д|дом|дома)\.?\s*)?(\d{1,4}[а-я]?)((?:\s*(?:,|и)\s*\d{1,4}[а-я]?)+|\s*-\s*\d{1,4})\s*$/;
const HOUSE_BODY = '(\\d+)(?:\\s*-?\\s*([а-яa-z])(?![' + L + '0-9]))?(?:\\s*\\/\\s*(\\d+[а-я]?))?' +
  '(?:\\s*,?\\s*(?:(?:к|корп|корпус)\\.?\\s*(\\d+[а-я]?)|(?:с|стр|строение)\\.?\\s*(\\d+[а-я]?)))?';
const RE_HOUSE_MARKED = new RegExp('(?:^|[\\s,])(?:д|дом)\\.?\\s*' + HOUSE_BODY + '(?![' + L + '0-9/])');
const RE_HOUSE_TRAILING = new RegExp('(?:^|[\\s,])' + HOUSE_BODY + '\\s*$');

function fixLookalikes(word: string): string {
  if (!/[а-я]/.test(word) || !/[a-z]/.test(word)) return word;
  let out = '';
  for (const ch of word) out += Object.hasOwn(LOOKALIKE, ch) ? LOOKALIKE[ch] : ch;
  return out;
}

function house(m: RegExpExecArray): string {
  let h = normalizeHouse(m[1] + (m[2] ?? ''));
  if (m[3]) h += '/' + m[3];
  if (m[4]) h += 'к' + m[4];
  if (m[5]) h += 'с' + m[5];
  return h;
}

/**
 * Parses one address line. Returns null when the text has no letters or no street name can be found.
 * A bare "пр." is read as проспект (not проезд).
 */
export function parseAddress(raw: string): ParsedAddress | null {
  const p = parseAddressHouses(raw);
  if (!p) return null;
  const { houses: _houses, ...rest } = p;
  return rest;
}

/** `parseAddress` plus every house the text names ("20, 22", "10–14"). */
export function parseAddressHouses(raw: string): ParsedAddressHouses | null {
  if (typeof raw !== 'string' || !/\p{L}/u.test(raw)) return null;
  let s = raw.toLowerCase().replace(/ё/g, 'е')
    .replace(/["'`«»“”„‘’]/g, '')
    .replace(/№/g, ' ')
    .replace(/[‐-―−]/g, '-')
    .replace(/([.,;])/g, '$1 ')
    .replace(/;/g, ',')
    .replace(/\s*-\s*(?=[а-я])/g, (x, off: number, str: string) => (/\d$/.test(str.slice(0, off)) ? '-' : x))  // "2 - я" → "2-я", "85 - а" → "85-а"
    .replace(/\s+/g, ' ')
    .trim();
  s = s.split(' ').map(fixLookalikes).join(' ');
  // leading postal code, country, region, city
  for (let prev = ''; prev !== s;) { prev = s; s = s.replace(RE_PREFIX, '').replace(/^[\s,.]+/, ''); }
  // the same parts anywhere as their own comma-separated part
  s = s.split(',').map((p) => p.trim()).filter((p) => p && p.replace(RE_PREFIX, '').replace(/[\s,.]+/g, '') !== '').join(', ');
  s = s.replace(RE_APARTMENT, '').replace(/[\s,.]+$/, '').trim();

  let houseNo: string | null = null;
  let extra: string[] = [];
  const list = RE_HOUSE_LIST.exec(s);
  if (list && s.slice(0, list.index).replace(/[\s,.]+/g, '') !== '' && /[а-яa-z]/.test(s.slice(0, list.index))) {
    const first = list[1];
    const rest = list[2].trim();
    if (rest.startsWith('-')) {
      const a = parseInt(first, 10), b = parseInt(rest.slice(1).trim(), 10);
      if (b > a && b - a <= 20) for (let h = a + 2; h <= b && extra.length < 9; h += 2) extra.push(String(h));
      else extra = [];
      if (b > a && b - a <= 20 && (b - a) % 2 === 1) { extra = []; for (let h = a + 1; h <= b && extra.length < 9; h++) extra.push(String(h)); }
    } else {
      extra = rest.split(/\s*(?:,|и)\s*/).filter((x) => x !== '').slice(0, 9);
    }
    houseNo = normalizeHouse(first);
    s = s.slice(0, list.index).trim();
  }
  let m = houseNo === null ? RE_HOUSE_MARKED.exec(s) : null;
  if (m) {
    houseNo = house(m);
    s = (s.slice(0, m.index) + ' ' + s.slice(m.index + m[0].length)).trim();
  } else if (houseNo === null) {
    m = RE_HOUSE_TRAILING.exec(s);
    // a trailing number is a house only if something precedes it
    if (m && s.slice(0, m.index).replace(/[\s,.]+/g, '') !== '') {
      houseNo = house(m);
      s = s.slice(0, m.index).trim();
    }
  }

  const words = s.split(/[\s,]+/).map((w) => w.replace(/^[.\-]+|[.]+$/g, '')).filter((w) => w !== '');
  let type: string | null = null;
  let nameWords = words;
  const ti = words.findIndex((w) => streetTypeOf(w) !== null);
  if (ti >= 0) {
    type = streetTypeOf(words[ti]);
    // "ул. Ленина" → the name follows the type; "Ленина пр-т" → it precedes it
    const after = words.slice(ti + 1);
    nameWords = after.length > 0 ? after : words.slice(0, ti);
  }
  const name = normalizeStreetName(nameWords.join(' '));
  if (name === '') {
    // "мкр 5": the number is the name, not a house
    if (type && houseNo && /^\d+$/.test(houseNo)) {
      return make(type, houseNo, null, []);
    }
    return null;
  }
  if (!/[а-яa-z0-9]/.test(name)) return null;
  return make(type, name, houseNo, extra);
}

function make(type: string | null, name: string, houseNo: string | null, extra: string[]): ParsedAddressHouses {
  const streetKey = `${type ?? ''}|${name}`;
  const houses = houseNo === null ? [] : [houseNo, ...extra.map(normalizeHouse).filter((h) => h !== houseNo)];
  return { streetType: type, streetName: name, house: houseNo, streetKey, key: houseNo === null ? null : `${streetKey}|${houseNo}`, houses };
}

/** Levenshtein distance, stopping early above `max` (returns max + 1). */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The register's street name closest to a mistyped one: edit distance 1 (names of 5+ letters) or 2 (9+ letters),
 * and only when a single street is that close. Null when none or ambiguous.
 */
export function closestStreet(name: string, streets: readonly string[]): string | null {
  if (name.length < 5) return null;
  const max = name.length >= 9 ? 2 : 1;
  let best: string | null = null, bestD = max + 1, ties = 0;
  for (const s of streets) {
    const d = editDistance(name, s, max);
    if (d < bestD) { best = s; bestD = d; ties = 1; } else if (d === bestD) ties++;
  }
  return best !== null && bestD <= max && ties === 1 ? best : null;
}

/** The name part of a streetKey, for matching when the source omits or mistypes the street type. */
export function streetKeyLoose(streetKey: string): string {
  const i = streetKey.indexOf('|');
  const rest = i >= 0 ? streetKey.slice(i + 1) : streetKey;
  const j = rest.indexOf('|');
  return j >= 0 ? rest.slice(0, j) : rest;
}

/** Words around a district's name that say nothing else: prepositions, "район", "микрорайон", "посёлок", the city. */
const DISTRICT_FILLER = /^(?:в|во|на|у|около|возле|рядом|с|со|по|р-н|р-на|р-не|район|района|районе|мкр|мкрн|мкр-н|мкр-не|микрорайон|микрорайона|микрорайоне|пос|п|поселок|поселка|поселке|жилой|массив|массиве|частный|частном|сектор|секторе|г|гор|город|городе|рубцовск|рубцовске|рубцовска|россия|рф)$/;
/** Street-type words: an address with one of them (or a number) names a street, not just a district. */
const STREET_WORD = new Set([...streetTypeWords(), 'д', 'дом']);

/** Does a written word stand for a district-name word ("западном" for "западный", "черемушках" for "черемушки")? */
function sameWord(written: string, name: string): boolean {
  if (written === name) return true;
  let k = 0;
  while (k < written.length && k < name.length && written[k] === name[k]) k++;
  return k >= 3 && name.length - k <= 3 && written.length - k <= 4;
}

/**
 * The district an address names when it names nothing else («в Западном микрорайоне», «пос. Черёмушки», «Южный
 * район»): every word other than prepositions, district-kind words and the city must be a form of the district's
 * name, and exactly one district must fit. An address with a street-type word or a number → null (a street address,
 * whose street the register may just lack, goes to the address review).
 */
export function districtInAddress(raw: string, districts: readonly { id: number; name: string }[]): number | null {
  if (typeof raw !== 'string' || raw.length > 200 || !districts.length) return null;
  let s = foldRu(raw).replace(/[‐-―−]/g, '-');
  s = s.replace(/алтайск[а-я]*\s+(?:край|крае|кр\.?)(?![а-я])/g, ' ').replace(/\d{6}/g, ' ');
  if (/\d/.test(s)) return null;
  const words = s.split(/[^а-яa-z-]+/).map((w) => w.replace(/^-+|-+$/g, '')).filter((w) => w && !DISTRICT_FILLER.test(w));
  if (!words.length || words.length > 4 || words.some((w) => STREET_WORD.has(w))) return null;
  const fits = districts.filter((d) => {
    const nameWords = foldRu(d.name).split(/\s+/).filter(Boolean);
    return nameWords.length === words.length && nameWords.every((n, i) => sameWord(words[i], n));
  });
  return fits.length === 1 ? fits[0].id : null;
}
