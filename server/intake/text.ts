/**
 * Text normalisation for appeals: lowercase + ё→е, tokens without stop words, Russian Snowball stems.
 * Pure (no I/O apart from loading the stop-word list from the installed package once).
 */
import { createRequire } from 'node:module';
import { newStemmer } from 'snowball-stemmers';

const require = createRequire(import.meta.url);

/**
 * Words of the stopwords-iso 'ru' list that carry meaning for municipal appeals
 * ("нет воды", "дорога", "свет", "дом", "окно", "ночью"…): they are kept as tokens.
 */
const KEEP = [
  'вода', 'дорога', 'дом', 'свет', 'земля', 'машина', 'окно', 'дверь', 'ночь', 'вечер', 'утро',
  'ребенок', 'работа', 'пол', 'улица', 'город', 'деньги', 'стол', 'жизнь', 'люди', 'народ',
];
/** Domain-neutral politeness and filler words common in appeals. */
const EXTRA = [
  'здравствуйте', 'пожалуйста', 'спасибо', 'уважаемые', 'уважаемая', 'уважаемый', 'добрый', 'доброе', 'день',
  'заранее', 'прошу', 'просим', 'просьба',
];

function buildStopWords(): Set<string> {
  const lists = require('stopwords-iso') as Record<string, string[]>;
  const keep = new Set(KEEP);
  const out = new Set<string>();
  for (const w of [...lists.ru, ...EXTRA]) {
    const n = normalizeText(w);
    if (!keep.has(n)) out.add(n);
  }
  return out;
}

/** Lowercase, ё→е, whitespace collapsed to single spaces and trimmed. */
export function normalizeText(s: string): string {
  return s.toLowerCase().replace(/ё/g, 'е').replace(/\s+/g, ' ').trim();
}

let stop: Set<string> | null = null;
/** The stop-word set used by `tokens` (normalised forms). */
export function stopWords(): ReadonlySet<string> {
  return (stop ??= buildStopWords());
}

const SPLIT = /[^a-zа-я0-9]+/;

/** Words of Cyrillic/Latin letters and digits, without stop words and 1-character tokens. */
export function tokens(s: string): string[] {
  const sw = stop ?? stopWords();
  const parts = s.toLowerCase().replace(/ё/g, 'е').split(SPLIT);
  const out: string[] = [];
  for (const p of parts) if (p.length > 1 && !sw.has(p)) out.push(p);
  return out;
}

const stemmer = newStemmer('russian');
const STEM_CACHE_MAX = 50_000;
const stemCache = new Map<string, string>();

/** Snowball stem of one normalised token (memoised in a bounded FIFO cache). */
export function stemWord(token: string): string {
  let st = stemCache.get(token);
  if (st === undefined) {
    st = /[а-я]/.test(token) ? stemmer.stem(token) : token;
    if (stemCache.size >= STEM_CACHE_MAX) stemCache.delete(stemCache.keys().next().value as string);
    stemCache.set(token, st);
  }
  return st;
}

/** `tokens(s)` mapped to Russian Snowball stems. */
export function stems(s: string): string[] {
  const ts = tokens(s);
  for (let i = 0; i < ts.length; i++) ts[i] = stemWord(ts[i]);
  return ts;
}
