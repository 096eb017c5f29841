/**
 * Masking of personal data in texts published through the public Open311 API (152-ФЗ). The author's contacts are
 * kept apart in appeal_author and never published; what a citizen writes into the text itself is masked here:
 * e-mail addresses, links, phone numbers and other long digit sequences (passport, СНИЛС, account numbers),
 * apartment numbers, and full names written as «Фамилия Имя Отчество» / «Имя Отчество» / «Фамилия И. О.».
 * Addresses of places (street and house) are not personal data of the author and stay.
 */

const L = 'A-Za-zА-Яа-яЁё';
const EMAIL = new RegExp(`[${L}0-9._%+-]+@[${L}0-9.-]+\\.[${L}]{2,}`, 'g');
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+|\b(?:vk\.com|t\.me|ok\.ru|instagram\.com)\/[^\s<>"']+/gi;
/** 7+ digits with the usual separators (a phone, «+7 (913) 555-12-34»; a passport «01 23 456789»). */
const DIGITS = /(?:\+\s?)?\d(?:[\s\-()]{0,3}\d){6,}/g;
/** «кв. 45», «квартира 5», «ком. 3» — but not «в квартире 14 градусов» (a measurement, not a number of a flat). */
const APARTMENT = new RegExp(`(?<![${L}])(кв\\.?|квартира|квартиры|квартире|комн\\.?|ком\\.|комната)\\s*№?\\s*\\d+(?!\\d)[${L}]?(?!\\s*(?:градус|°|кв\\.?\\s*м|м2|метр|см|мм))`, 'gi');
const CAP = '[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?';
/** A patronymic in any case: Сергеевич(а|у|ем|е), Сергеевн(а|ы|е|у|ой), Ильинична… */
const PATRONYMIC = '[А-ЯЁ][а-яё]+(?:(?:ович|евич|ич)(?:а|у|ем|е)?|(?:овн|евн|ичн|иничн)(?:а|ы|е|у|ой))';
/** Фамилия Имя Отчество, Имя Отчество (the patronymic's ending makes it a name, not a street). */
const FIO = new RegExp(`(?<![${L}])(?:${CAP}\\s+)?${CAP}\\s+${PATRONYMIC}(?![${L}])`, 'g');
/** Фамилия И. О. / И. О. Фамилия */
const INITIALS = new RegExp(`(?<![${L}])(?:${CAP}\\s+[А-ЯЁ]\\.\\s?[А-ЯЁ]\\.|[А-ЯЁ]\\.\\s?[А-ЯЁ]\\.\\s?${CAP})(?![${L}])`, 'g');
/**
 * Cheap tests first, each a superset of where its pattern can match: most texts pass none, and the full patterns are
 * then not run at all. A flat number needs a digit within a few letters of «кв»/«ком»; a patronymic follows a
 * capitalised word (so «ул. Арычная», «срочно» do not wake the name patterns).
 */
const MAY_URL = /https?:|www\.|vk\.com|t\.me|ok\.ru|instagram/i;
const MAY_APARTMENT = /(?:кв|ком)[а-яё.]{0,6}\s*№?\s*\d/i;
const MAY_FIO = /[а-яё]\s+[А-ЯЁ][а-яё]+(?:ич|вн|чн)[а-яё]{0,2}(?![а-яё])/;
const MAY_INITIALS = /[А-ЯЁ]\.\s?[А-ЯЁ]\./;
/** The contact tests in one pass, the name tests in another; with fewer than 7 digits and neither, a text is returned as it is. */
const MAY_CONTACT = new RegExp(`@|${MAY_URL.source}|${MAY_APARTMENT.source}`, 'i');
const MAY_NAME = new RegExp(`${MAY_FIO.source}|${MAY_INITIALS.source}`);

export const MASK = '***';

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

export function maskPersonalText(text: string): string {
  if (!MAY_CONTACT.test(text) && !MAY_NAME.test(text) && digitCount(text) < 7) return text;
  let t = text;
  if (t.includes('@')) t = t.replace(EMAIL, MASK);
  if (MAY_URL.test(t)) t = t.replace(URL_RE, MASK);
  if (MAY_APARTMENT.test(t)) t = t.replace(APARTMENT, (_m, word: string) => `${word} ${MASK}`);
  if (digitCount(t) >= 7) t = t.replace(DIGITS, MASK);
  if (MAY_FIO.test(t)) t = t.replace(FIO, MASK);
  if (MAY_INITIALS.test(t)) t = t.replace(INITIALS, MASK);
  return t;
}

/** Every step of maskPersonalText without the cheap tests: the same text for any input (test/open311.test.ts checks). */
export function maskPersonalTextUngated(text: string): string {
  return text.replace(EMAIL, MASK).replace(URL_RE, MASK).replace(APARTMENT, (_m, word: string) => `${word} ${MASK}`)
    .replace(DIGITS, MASK).replace(FIO, MASK).replace(INITIALS, MASK);
}

/** What the public sees of an address: the street only (default), the street and house, or nothing. */
export type AddressPrecision = 'street' | 'house' | 'none';

export function addressPrecision(value = process.env.OPEN311_ADDRESS_PRECISION): AddressPrecision {
  if (value == null || value === '') return 'street';
  if (value === 'street' || value === 'house' || value === 'none') return value;
  throw new Error(`OPEN311_ADDRESS_PRECISION: ожидается street, house или none, получено «${value}»`);
}

const HOUSE_TAIL = /(?:[\s,]+(?:д\.?|дом)\s*\d.*|,\s*\d+.*|\s+\d+[\p{L}]?(?:\s*[/к]\s*\d+\p{L}?)?\s*(?:,.*)?)$/iu;

/** Addresses recur (many appeals per house): each distinct one is cut once per process and precision. */
const addressCache: Record<AddressPrecision, Map<string, string | null>> = { street: new Map(), house: new Map(), none: new Map() };

/** The address at the allowed precision; apartments are never published. */
export function publicAddress(address: string | null, precision: AddressPrecision): string | null {
  if (!address || precision === 'none') return null;
  const cache = addressCache[precision];
  const hit = cache.get(address);
  if (hit !== undefined) return hit;
  const out = cutAddress(address, precision);
  if (cache.size > 50_000) cache.clear();
  cache.set(address, out);
  return out;
}

function cutAddress(address: string, precision: AddressPrecision): string | null {
  let a = address.replace(/[\s,]+(?:кв|квартира|оф|офис|комн|комната)\.?\s*\d.*$/iu, '').trim();
  if (precision === 'street') a = a.replace(HOUSE_TAIL, '').trim();
  return a || null;
}

/** Coordinates at the allowed precision: to ~100 m for «street» (3 decimals), as stored for «house». */
export function publicCoordinate(v: number | null, precision: AddressPrecision): number | null {
  if (v == null || precision === 'none') return null;
  return precision === 'street' ? Math.round(v * 1000) / 1000 : v;
}
