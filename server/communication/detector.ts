import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../reference/files.js';
import { normalizeHouse, normalizeStreetName, streetTypeWords } from '../util/address-words.js';

/**
 * Communication errors in an answer to a citizen (decree 2.1.3): rude or dismissive wording, blame of the citizen,
 * an answer about another address or to another person, and the answer's stance (done / planned / not planned /
 * not competent) from which contradictions between bodies are found. The rules are data
 * (db/reference/communication/lexicon.json); this file only applies them and explains every finding with the
 * piece of the answer that triggered it. Pure functions, no database.
 */

export type CommKind = 'RUDE' | 'DISMISSIVE' | 'BLAME' | 'WRONG_ADDRESS' | 'WRONG_PERSON' | 'CONTRADICTION';
export type Stance = 'DONE' | 'PLANNED' | 'NOT_PLANNED' | 'NOT_COMPETENT';
export const TEXT_KINDS: CommKind[] = ['RUDE', 'DISMISSIVE', 'BLAME', 'WRONG_ADDRESS', 'WRONG_PERSON'];
export const ALL_KINDS: CommKind[] = [...TEXT_KINDS, 'CONTRADICTION'];

export interface CommHit { kind: CommKind; rule: string; explanation: string; excerpt: string }

interface LexiconFile {
  version: number;
  kinds: Record<CommKind, { label: string; description: string }>;
  patterns: { id: string; kind: CommKind; re: string; explain: string; unless?: string; unlessAnswer?: string }[];
  bare?: { maxWords: number; unless: string; explain: string };
  stance: { order: Stance[]; labels: Record<Stance, string>; patterns: Record<Stance, string[]>; contradictions: [Stance, Stance][] };
  address: { skipBefore: string[]; skipAfter?: string[]; streetWithoutType?: string };
}

export interface Lexicon {
  version: number;
  kinds: LexiconFile['kinds'];
  patterns: { id: string; kind: CommKind; re: RegExp; explain: string; unless?: RegExp; unlessAnswer?: RegExp }[];
  bare?: { maxWords: number; unless: RegExp; explain: string };
  stance: { order: Stance[]; labels: Record<Stance, string>; patterns: Record<Stance, RegExp[]>; contradictions: [Stance, Stance][] };
  skipBefore: RegExp;
  skipAfter?: RegExp;
  /** Matched against the original text (case matters): group 1 the street, group 2 the house. */
  streetWithoutType?: RegExp;
}

const L = 'а-яa-z0-9';
/** `\b` of the lexicon is a word boundary that understands Cyrillic (JavaScript's \b does not). */
const WORD_BOUNDARY = `(?:(?<![${L}])(?=[${L}])|(?<=[${L}])(?![${L}]))`;
/**
 * `\b` at the start of an alternative (after «(», «|» or at the start) is a start of a word — a cheap look-behind;
 * elsewhere an end of a word — a look-ahead; the general boundary (either) only where neither applies.
 */
/**
 * Two shorthands of the lexicon keep stem-level patterns readable: `%` is the rest of a word (any ending, so one stem
 * covers every case and person: «вин%» — вина, вине, виноваты), and `~` is a gap of up to two words between the
 * parts of an expression («надоел% ~ вы» matches «надоели уже вы», «хватит ~ писать» matches «хватит уже нам писать»).
 */
const expand = (src: string) => src.replace(/%/g, `[${L}-]*`).replace(/\s*~\s*/g, `(?:[\\s,]+[${L}-]+){0,2}[\\s,]+`);
const compile = (raw: string) => new RegExp(expand(raw).replace(/(^|[(|])\\b/g, `$1(?<![${L}])`).replace(/\\b(?=$|[)|])/g, `(?![${L}])`).replace(/\\b/g, WORD_BOUNDARY), 'gu');

let cached: Lexicon | undefined;
export function lexicon(): Lexicon {
  if (cached) return cached;
  const raw = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'db', 'reference', 'communication', 'lexicon.json'), 'utf8')) as LexiconFile;
  cached = {
    version: raw.version,
    kinds: raw.kinds,
    patterns: raw.patterns.map((p) => ({ ...p, re: compile(p.re), unless: p.unless ? compile(p.unless) : undefined, unlessAnswer: p.unlessAnswer ? compile(p.unlessAnswer) : undefined })),
    bare: raw.bare ? { ...raw.bare, unless: compile(raw.bare.unless) } : undefined,
    stance: { ...raw.stance, patterns: Object.fromEntries(Object.entries(raw.stance.patterns).map(([k, v]) => [k, v.map(compile)])) as Record<Stance, RegExp[]> },
    skipBefore: compile(`(${raw.address.skipBefore.join('|')})`),
    skipAfter: raw.address.skipAfter?.length ? compile(`(${raw.address.skipAfter.join('|')})`) : undefined,
    streetWithoutType: raw.address.streetWithoutType ? new RegExp(raw.address.streetWithoutType, 'gu') : undefined,
  };
  return cached;
}

/** Lower case, ё → е, every white-space character → one space: the same length as the input, so offsets map back. */
export function normalize(s: string): string {
  const fast = s.toLowerCase();
  if (fast.length === s.length) return fast.replace(/ё/g, 'е').replace(/\s/g, ' ');
  let out = '';
  for (const c of s) {
    const l = c.toLowerCase();
    const ch = l.length === c.length ? l : c;
    out += ch === 'ё' ? 'е' : /\s/.test(ch) ? ' '.repeat(ch.length) : ch;
  }
  return out;
}

/** A sentence ends at «!», «?», a line break, or a dot followed by a space and a capital — not after «ул.», «д.», «г.» or a date's digits. */
function endsSentence(text: string, i: number): boolean {
  const c = text[i];
  if (c === '!' || c === '?' || c === '\n') return true;
  if (c !== '.') return false;
  if (i + 1 < text.length && !/\s/.test(text[i + 1])) return false;
  const next = text.slice(i + 1).match(/^\s*(\S)/)?.[1];
  if (next && !/[А-ЯЁA-Z«"(]/.test(next)) return false;
  const word = /([А-Яа-яЁёA-Za-z-]+)$/.exec(text.slice(Math.max(0, i - 8), i))?.[1] ?? '';
  return !(word.length > 0 && word.length <= 4 && word === word.toLowerCase());
}

/** The sentence around [start, end) of the original text, at most ~160 characters either side. */
export function excerpt(text: string, start: number, end: number): string {
  let a = start, b = end;
  while (a > 0 && start - a < 160 && !endsSentence(text, a - 1)) a--;
  while (b < text.length && b - end < 160 && !endsSentence(text, b)) b++;
  const cutLeft = a > 0 && !endsSentence(text, a - 1);
  if (b < text.length) b++;
  const cutRight = b < text.length && !endsSentence(text, b - 1);
  return `${cutLeft ? '…' : ''}${text.slice(a, b).trim()}${cutRight ? '…' : ''}`;
}

// ---- addresses -------------------------------------------------------------------------------------------------

export interface AddressMention { street: string | null; house: string | null; start: number; end: number }

const cap = (t: string) => `[${t[0].toUpperCase()}${t[0]}]${t.slice(1).replace(/\./g, '\\.')}`;
const NAME = '[А-ЯЁA-Z][а-яёa-z-]+';
const LOW_NAME = '[А-ЯЁа-яё][а-яё-]+';
const HOUSE = '(\\d{1,4}(?:\\s?[а-яА-Я](?![а-яА-Я]))?(?:\\/\\d{1,4})?)';
const HOUSE_WORD = '(?:[Дд]ом[а-яё]*|[Дд]\\.|[Дд](?=\\s\\d))';
/** Words that a search in prose catches beside a street's name (besides those normalizeStreetName drops). */
const NOT_NAMES = new Set(['дома', 'доме', 'кв', 'в', 'на', 'и', 'у', 'г', 'по', 'с', 'от', 'до', 'за']);

function addressRegexes(types: readonly string[]) {
  // Longest first, so that «улица» is not read as «ул» + «ица».
  const alt = `(?:${[...types].sort((a, b) => b.length - a.length).map(cap).join('|')})`;
  // A street type is a whole word: followed by a dot or a space («пр. Ленина»), never the start of a word («произведена»).
  const abbr = `(?:${[...types].filter((x) => x.length <= 4).sort((a, b) => b.length - a.length).map(cap).join('|')})`;
  const words = `(?:${[...types].filter((x) => x.length > 4).sort((a, b) => b.length - a.length).map(cap).join('|')})`;
  // An abbreviation may be followed by a name in lower case («ул. ленина» in a typed address); a full word only by a
  // capitalised name («по вашей улице будет …» is prose, not an address).
  const street = `(?:${abbr}(?:\\.\\s*|\\s+)(${LOW_NAME}(?:\\s+${NAME})?)|${words}\\s+(${NAME}(?:\\s+${NAME})?))`;
  const t = `${alt}(?:\\.\\s*|\\s+)`;
  const tAfter = `${alt}(?![А-Яа-яЁё])\\.?`;
  const sep = '(?:\\s*,\\s*|\\s+)';
  return {
    // «дома № 15 по ул. Калинина», «у дома 212 по Пролетарской»
    houseFirst: new RegExp(`(?<![А-Яа-яЁё])${HOUSE_WORD}\\s*(?:№\\s*)?${HOUSE}\\s+по\\s+(?:${street}|(${NAME}(?:\\s+${NAME})?))`, 'gu'),
    // «у дома Громова 5», «дома Карла Маркса 44»
    houseName: new RegExp(`(?<![А-Яа-яЁё])${HOUSE_WORD}\\s+(${NAME}(?:\\s+${NAME})?)\\s+${HOUSE}(?![\\d.])`, 'gu'),
    // «ул. Комсомольская, 110», «улице Осипенко, дом 180», «пр. Ленина»
    typeFirst: new RegExp(`(?<![А-Яа-яЁё])${street}(?:${sep}(?:${HOUSE_WORD}\\s*)?(?:№\\s*)?${HOUSE}(?![\\d.:]))?`, 'gu'),
    // «Тракторная ул., 11», «Федоренко ул, д 22»
    nameFirst: new RegExp(`(?<![А-Яа-яЁё])(${NAME})\\s+${tAfter}(?:${sep}(?:${HOUSE_WORD}\\s*)?${HOUSE}(?![\\d.:]))?`, 'gu'),
    // «по адресу: Ленина, 12»
    afterAddress: new RegExp(`адрес[а-яё]*:?\\s*(?:г\\.\\s*${NAME},?\\s*)?(${NAME}),?\\s*(?:${HOUSE_WORD}\\s*)?${HOUSE}(?![\\d.:])`, 'gu'),
    // «дом 180», «дома № 22»
    houseOnly: new RegExp(`(?<![А-Яа-яЁё])${HOUSE_WORD}\\s*(?:№\\s*)?${HOUSE}(?![\\d.:])`, 'gu'),
  };
}
let regexes: ReturnType<typeof addressRegexes> | undefined;

const cleanHouse = (h: string | undefined | null) => (h ? normalizeHouse(h) : null);
const cleanStreet = (s: string | undefined | null) => (s ? normalizeStreetName(s, NOT_NAMES) || null : null);

/** Every address mention of a text: street (as written) and house, with offsets. */
export function addressMentions(text: string): AddressMention[] {
  const lx = lexicon();
  regexes ??= addressRegexes(streetTypeWords());
  let src = text.replace(/ё/g, 'е').replace(/Ё/g, 'Е');
  // A text written in capitals («ПОРЫВ НА СЕЛЬМАШСКОЙ 12») is read with each word capitalised (same length, same offsets).
  const upper = (src.match(/[А-ЯA-Z]/g) ?? []).length, lower = (src.match(/[а-яa-z]/g) ?? []).length;
  if (upper > 10 && upper > 3 * lower) src = src.toLowerCase().replace(/(^|[^А-Яа-яA-Za-z])([а-яa-z])/g, (_, a: string, b: string) => a + b.toUpperCase());
  const out: AddressMention[] = [];
  const taken: [number, number][] = [];
  const free = (a: number, b: number) => !taken.some(([x, y]) => a < y && b > x);
  const add = (m: RegExpExecArray, street: string | null, house: string | null) => {
    const a = m.index, b = m.index + m[0].length;
    if (!free(a, b)) return;
    const st = cleanStreet(street);
    if (!st && !house) return;
    taken.push([a, b]);
    out.push({ street: st, house: cleanHouse(house), start: a, end: b });
  };
  for (const m of src.matchAll(regexes.houseFirst)) add(m, m[2] ?? m[3] ?? m[4], m[1]);
  for (const m of src.matchAll(regexes.houseName)) add(m, m[1], m[2]);
  for (const m of src.matchAll(regexes.typeFirst)) add(m, m[1] ?? m[2], m[3] ?? null);
  for (const m of src.matchAll(regexes.nameFirst)) add(m, m[1], m[2] ?? null);
  for (const m of src.matchAll(regexes.afterAddress)) add(m, m[1], m[2]);
  if (lx.streetWithoutType) for (const m of src.matchAll(lx.streetWithoutType)) add(m, m[1], m[2]);
  for (const m of src.matchAll(regexes.houseOnly)) add(m, null, m[1]);
  return out.sort((a, b) => a.start - b.start);
}

const stem = (s: string) => (s.length > 4 ? s.slice(0, s.length - 2) : s);
export const sameStreet = (a: string, b: string) => { const x = stem(a), y = stem(b); return x.startsWith(y) || y.startsWith(x); };
const sameHouse = (a: string, b: string) => a === b || a.replace(/[^\d/]/g, '') === b.replace(/[^\d/]/g, '') && (!/[^\d/]/.test(a) || !/[^\d/]/.test(b));

/**
 * An answer about another address: it names a street or house that is not the appeal's, and nowhere names the
 * appeal's own street. Addresses of offices («обратиться в МФЦ по адресу …») are not what the answer is about.
 */
export function wrongAddress(answer: string, appealAddress: string | null | undefined): CommHit | null {
  if (!appealAddress) return null;
  const own = addressMentions(appealAddress);
  const streets = own.map((m) => m.street).filter((s): s is string => !!s);
  const houses = own.map((m) => m.house).filter((s): s is string => !!s);
  if (!streets.length && !houses.length) return null;
  const lx = lexicon();
  const norm = normalize(answer);
  let conflict: AddressMention | null = null;
  let matches = false;
  for (const m of addressMentions(answer)) {
    const before = norm.slice(Math.max(0, m.start - 40), m.start);
    lx.skipBefore.lastIndex = 0;
    if (lx.skipBefore.test(before)) continue;
    if (lx.skipAfter) {
      lx.skipAfter.lastIndex = 0;
      if (lx.skipAfter.test(norm.slice(m.end, m.end + 40))) continue;
    }
    const streetOk = m.street == null ? null : streets.length ? streets.some((s) => sameStreet(s, m.street!)) : null;
    // The house is compared with the house of the same street in the appeal (or any house when the answer names no street).
    const pairHouses = m.street == null ? houses : own.filter((o) => o.street && sameStreet(o.street, m.street!)).map((o) => o.house).filter((h): h is string => !!h);
    const houseOk = m.house == null || !pairHouses.length ? null : pairHouses.some((h) => sameHouse(h, m.house!));
    if (streetOk === false || houseOk === false) conflict ??= m;
    else if (streetOk === true || houseOk === true) matches = true;
  }
  if (!conflict || matches) return null;
  const said = answer.slice(conflict.start, conflict.end).trim();
  return { kind: 'WRONG_ADDRESS', rule: 'address.mismatch', explanation: `в ответе — «${said}», а обращение было по адресу «${appealAddress.slice(0, 120)}»`, excerpt: excerpt(answer, conflict.start, conflict.end) };
}

// ---- addressee ---------------------------------------------------------------------------------------------------

const GENERIC = new Set(['заявитель', 'заявительница', 'жители', 'жильцы', 'собственники', 'коллеги', 'граждане', 'товарищ', 'товарищи', 'руководитель', 'пользователь', 'подписчик', 'абонент', 'потребитель', 'житель', 'жительница', 'друзья', 'соседи']);
const PATRONYMIC = /(ович|евич|ич|овна|евна|ична|инична)$/;
const SALUTATION = /(?:Уважаем(?:ый|ая|ые)|Здравствуйте|Добрый\s+(?:день|вечер)|Доброе\s+утро|Дорог(?:ой|ая))(?:\s*,)?\s+(?:(господин|госпожа|гражданин|гражданка)\s+)?([А-ЯЁ][а-яё]+)(?:\s+([А-ЯЁ][а-яё]+))?(?:\s+([А-ЯЁ])\.\s*(?:([А-ЯЁ])\.)?)?(?=\s*[!,.]|\s*$)/u;

/**
 * An answer to another person: its salutation names someone whose name is not the appeal author's (first name and
 * patronymic, a surname with initials, or «госпожа <фамилия>»). Generic salutations («Уважаемый заявитель») are fine.
 */
export function wrongPerson(answer: string, authorName: string | null | undefined): CommHit | null {
  if (!authorName) return null;
  const m = SALUTATION.exec(answer);
  if (!m) return null;
  const [, title, w1, w2, i1, i2] = m;
  const low = (s: string) => s.toLowerCase().replace(/ё/g, 'е');
  if (GENERIC.has(low(w1))) return null;
  const author = authorName.split(/\s+/).filter(Boolean).map(low);
  if (!author.length) return null;
  const named: string[] = [];
  let ok = true;
  if (w2 && PATRONYMIC.test(low(w2))) {
    named.push(w1, w2);
    ok = author.includes(low(w1)) && author.includes(low(w2));
  } else if (i1) {
    named.push(`${w1} ${i1}.${i2 ? ` ${i2}.` : ''}`);
    const rest = author.filter((a) => a !== low(w1));
    ok = author.includes(low(w1)) && rest[0]?.[0] === low(i1) && (!i2 || rest[1]?.[0] === low(i2));
  } else if (title || !w2) {
    named.push(w1);
    ok = author.includes(low(w1));
  } else {
    return null; // two words that are not a name and patronymic: not a salutation we can judge
  }
  if (ok) return null;
  return { kind: 'WRONG_PERSON', rule: 'salutation.name', explanation: `ответ обращается к «${named.join(' ')}», а автор обращения — другой человек`, excerpt: excerpt(answer, m.index, m.index + m[0].length) };
}

// ---- wording and stance ---------------------------------------------------------------------------------------

/** Does `re` match within the clause around [start, end) — up to 60 characters either side, not across «.», «!», «?», «;»? */
function clauseMatches(norm: string, start: number, end: number, re: RegExp): boolean {
  let a = start, b = end;
  while (a > 0 && start - a < 60 && !/[.!?;]/.test(norm[a - 1])) a--;
  while (b < norm.length && b - end < 60 && !/[.!?;]/.test(norm[b])) b++;
  re.lastIndex = 0;
  return re.test(norm.slice(a, b));
}

/** Rude, dismissive and blaming wording: one hit per kind (the first pattern that matches), with its excerpt. */
export function wordingHits(answer: string): CommHit[] {
  const lx = lexicon();
  const norm = normalize(answer);
  const out: CommHit[] = [];
  const seen = new Set<CommKind>();
  for (const p of lx.patterns) {
    if (seen.has(p.kind)) continue;
    p.re.lastIndex = 0;
    for (let m = p.re.exec(norm); m; m = p.re.exec(norm)) {
      if (m[0].length === 0) { p.re.lastIndex++; continue; }
      // Negation and neutral use: a pattern's `unless` looked for in the same clause around the match
      // («не по вашей вине», «вины заявителя не установлено») cancels the finding.
      if (p.unless && clauseMatches(norm, m.index, m.index + m[0].length, p.unless)) continue;
      // A formula guarded by the whole answer («меры приняты» is a brush-off only when the answer names no date,
      // object, reason or action anywhere): `unlessAnswer` found anywhere in the answer cancels the finding.
      if (p.unlessAnswer) { p.unlessAnswer.lastIndex = 0; if (p.unlessAnswer.test(norm)) break; }
      seen.add(p.kind);
      out.push({ kind: p.kind, rule: p.id, explanation: `${p.explain}: «${answer.slice(m.index, m.index + m[0].length)}»`, excerpt: excerpt(answer, m.index, m.index + m[0].length) });
      break;
    }
  }
  // A bare formula instead of an answer («Принято к сведению.», «Разберёмся. Ждите.»): a very short answer with no
  // action, date, reason or next step in it, and no other finding (a short rude answer is rude, not a formula).
  if (lx.bare && !seen.size) {
    const words = norm.match(new RegExp(`[${L}]+`, 'gu')) ?? [];
    lx.bare.unless.lastIndex = 0;
    if (words.length > 0 && words.length <= lx.bare.maxWords && !/\d/.test(norm) && !lx.bare.unless.test(norm)) {
      out.push({ kind: 'DISMISSIVE', rule: 'dismissive.bare', explanation: `${lx.bare.explain}: «${answer.trim().slice(0, 120)}»`, excerpt: excerpt(answer, 0, Math.min(answer.length, 1)) });
    }
  }
  return out;
}

/** What the answer says about the work: the first stance of the lexicon's order whose pattern matches. */
export function stanceOf(answer: string): { stance: Stance; excerpt: string } | null {
  const lx = lexicon();
  const norm = normalize(answer);
  for (const s of lx.stance.order) {
    for (const re of lx.stance.patterns[s]) {
      re.lastIndex = 0;
      const m = re.exec(norm);
      if (m) return { stance: s, excerpt: excerpt(answer, m.index, m.index + m[0].length) };
    }
  }
  return null;
}

export function contradicts(a: Stance | null | undefined, b: Stance | null | undefined): boolean {
  if (!a || !b) return false;
  return lexicon().stance.contradictions.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

/** Every communication error of one answer (contradictions need other answers: see the service). */
export function analyseAnswer(answer: string, ctx: { address?: string | null; author?: string | null } = {}): CommHit[] {
  if (!answer || !answer.trim()) return [];
  const text = answer.length > 20_000 ? answer.slice(0, 20_000) : answer;
  const hits = wordingHits(text);
  const addr = wrongAddress(text, ctx.address);
  if (addr) hits.push(addr);
  const person = wrongPerson(text, ctx.author);
  if (person) hits.push(person);
  return hits;
}
