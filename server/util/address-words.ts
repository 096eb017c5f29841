/**
 * The words of Russian street addresses, shared by the intake's address parser (server/intake/address.ts: an address
 * line → street type, name, house) and the communication detector (server/communication/detector.ts: addresses
 * mentioned in an answer's prose): the street types with their written and inflected forms, and the normalisation
 * of street names and house numbers on which both compare. Pure: no database, no I/O.
 */

export interface StreetType {
  /** Canonical abbreviation (the intake's streetType). */
  type: string;
  /** How an address line writes it: abbreviations and the nominative word. */
  forms: readonly string[];
  /** Case forms met in prose («по улице», «на проспекте»). */
  inflected: readonly string[];
}

/** A bare «пр» is read as проспект (not проезд). */
export const STREET_TYPES: readonly StreetType[] = [
  { type: 'ул', forms: ['ул', 'улица'], inflected: ['улице', 'улицы', 'улицу'] },
  { type: 'пр-кт', forms: ['пр-т', 'пр-кт', 'просп', 'проспект', 'пр', 'п-т', 'прт'], inflected: ['проспекте', 'проспекта'] },
  { type: 'пер', forms: ['пер', 'переулок', 'пер-к'], inflected: ['переулку', 'переулке', 'переулка'] },
  { type: 'б-р', forms: ['б-р', 'бульвар', 'бульв', 'бул'], inflected: ['бульвару', 'бульваре'] },
  { type: 'пл', forms: ['пл', 'площадь', 'пл-дь'], inflected: ['площади'] },
  { type: 'ш', forms: ['ш', 'шоссе'], inflected: [] },
  { type: 'проезд', forms: ['проезд', 'пр-д', 'пр-зд', 'прд'], inflected: ['проезду', 'проезде'] },
  { type: 'туп', forms: ['туп', 'тупик'], inflected: [] },
  { type: 'мкр', forms: ['мкр', 'мкрн', 'мкр-н', 'микрорайон'], inflected: [] },
  { type: 'кв-л', forms: ['кв-л', 'квартал', 'кв-тал'], inflected: ['квартале'] },
  { type: 'наб', forms: ['наб', 'набережная', 'наб-я'], inflected: ['набережной'] },
];

const BY_FORM = new Map(STREET_TYPES.flatMap((t) => t.forms.map((f) => [f, t.type] as const)));

/** The canonical street type of a written form («улица» → «ул», «пр» → «пр-кт»); null for any other word. */
export function streetTypeOf(word: string): string | null {
  return BY_FORM.get(word) ?? null;
}

/** Every written and inflected form of every street type (lower case). */
export function streetTypeWords(): string[] {
  return STREET_TYPES.flatMap((t) => [...t.forms, ...t.inflected]);
}

/** Lower case, ё → е: the spelling on which street names are compared. */
export const foldRu = (s: string) => s.toLowerCase().replace(/ё/g, 'е');

/** Words that are not part of a street's name: «им.», «имени», and «д.» / «дом» before the house. */
const NOT_NAME = new Set(['им', 'имени', 'д', 'дом']);

/** «2я», «2-ая», «2-я» → «2-я»; «3й», «3-ий» → «3-й»; any other word as it is. */
export function ordinal(w: string): string {
  const m = /^(\d+)-?(ая|яя|я|ый|ий|ой|й|ое|е)$/.exec(w);
  if (!m) return w;
  const end = m[2];
  return m[1] + '-' + (end === 'ая' || end === 'яя' || end === 'я' ? 'я' : end === 'ое' || end === 'е' ? 'е' : 'й');
}

/**
 * A street's name as compared: folded, split at white space, without «им.», «имени», «д.», «дом» (and `alsoDrop`,
 * the prepositions that a search in prose catches beside a name), ordinals written one way. '' when nothing is left.
 */
export function normalizeStreetName(name: string, alsoDrop?: ReadonlySet<string>): string {
  return foldRu(name).split(/\s+/).filter((w) => w && !NOT_NAME.has(w) && !alsoDrop?.has(w)).map(ordinal).join(' ');
}

/** Latin house letters typed instead of Cyrillic ones («85a», «12b»). */
const HOUSE_LATIN: Record<string, string> = { a: 'а', b: 'б', v: 'в', g: 'г', d: 'д', e: 'е', c: 'с', k: 'к' };

/** A house number's letter: lower case, a Latin look-alike read as the Cyrillic letter. */
export function houseLetter(letter: string): string {
  const l = letter.toLowerCase();
  return Object.hasOwn(HOUSE_LATIN, l) ? HOUSE_LATIN[l] : l;
}

/** A house as compared: «015 А» → «15а», «12 / 1» → «12/1», «85a» (Latin) → «85а». */
export function normalizeHouse(house: string): string {
  return house.toLowerCase().replace(/\s/g, '').replace(/^0+(?=\d)/, '').replace(/(?<=\d)[a-z](?![a-z])/g, houseLetter);
}
