import { topK } from '../util/topk.js';
/**
 * Theme classification of appeal texts: multinomial Naive Bayes over Russian stems
 * (unigrams + bigrams of adjacent stems, Laplace smoothing, log-probabilities),
 * with keyword rules (from themes.json) as the fallback. Pure: no database, no I/O.
 */
import { stems, tokens } from './text.js';

export interface LabelledText { text: string; themeCode: string }
/** Keywords are Russian words, stems or 2-word phrases (as in themes.json). */
export interface ThemeKeywords { themeCode: string; keywords: string[] }
export interface Prediction {
  themeCode: string | null;
  /** 0..1: posterior of the best theme (model) or a keyword-hit score capped at 0.6 (keywords). */
  confidence: number;
  source: 'model' | 'keywords' | 'none';
  /** Up to 3 runner-up themes, best first. */
  alternatives: { themeCode: string; confidence: number }[];
}
export interface TrainOptions {
  /** Themes with fewer training texts are left out of the model (default 3). */
  minDocsPerTheme?: number;
  /** Features (stems and stem bigrams) seen fewer times in all training texts are dropped (default 1 = keep all); 2 saves memory on large real corpora. */
  minFeatureCount?: number;
  /** Laplace/additive smoothing constant (default 1). */
  alpha?: number;
}

const NONE: Prediction = Object.freeze({ themeCode: null, confidence: 0, source: 'none', alternatives: [] }) as Prediction;
const KEYWORD_CAP = 0.6;
const MAX_ALTERNATIVES = 3;
const MIN_ALTERNATIVE = 0.01;
const DIGITS = /^[0-9]+$/;

function none(): Prediction {
  return { ...NONE, alternatives: [] };
}

/** Stems of a text without pure numbers (house numbers etc. carry no theme). */
function textStems(text: string): string[] {
  const st = stems(text);
  let j = 0;
  for (let i = 0; i < st.length; i++) if (!DIGITS.test(st[i])) st[j++] = st[i];
  st.length = j;
  return st;
}

/** Calls fn for every unigram and bigram (`a b`) of adjacent stems. */
function forEachFeature(st: string[], fn: (f: string) => void): void {
  for (let i = 0; i < st.length; i++) {
    fn(st[i]);
    if (i + 1 < st.length) fn(st[i] + ' ' + st[i + 1]);
  }
}

// ---------------------------------------------------------------------------------------------
// Keyword rules

interface KeywordIndex { exact: Map<string, number[]>; prefix: Map<string, number[]>; bigram: Map<string, number[]> }
const PREFIX_MIN = 4;

function addTo(m: Map<string, number[]>, k: string, ti: number) {
  const a = m.get(k);
  if (!a) m.set(k, [ti]);
  else if (!a.includes(ti)) a.push(ti);
}

/**
 * Keyword rules alone. Keywords are stemmed like texts; a one-word keyword matches a text stem exactly or,
 * when it (or its stem) has ≥ 4 letters, as a prefix of the text stem ('водоснабжен' matches 'водоснабжения'); a two-word keyword
 * matches two adjacent stems and counts double. Confidence = share of the best theme's hits × hits/(hits+1), ≤ 0.6.
 */
export class KeywordClassifier {
  private readonly codes: string[];
  private readonly index: KeywordIndex = { exact: new Map(), prefix: new Map(), bigram: new Map() };
  private readonly hits: Float64Array;
  readonly keywords: ThemeKeywords[];

  constructor(keywords: ThemeKeywords[]) {
    this.keywords = keywords.map((k) => ({ themeCode: k.themeCode, keywords: [...k.keywords] }));
    const codeIndex = new Map<string, number>();
    this.codes = [];
    for (const { themeCode, keywords: kws } of this.keywords) {
      let ti = codeIndex.get(themeCode);
      if (ti === undefined) { ti = this.codes.length; codeIndex.set(themeCode, ti); this.codes.push(themeCode); }
      for (const kw of kws) {
        const st = stems(kw);
        if (st.length === 0) continue;
        if (st.length === 1) {
          // A keyword may already be a stem ('отоплен'), which Snowball shortens again ('отопл'):
          // both forms serve as prefixes.
          addTo(this.index.exact, st[0], ti);
          if (st[0].length >= PREFIX_MIN) addTo(this.index.prefix, st[0], ti);
          const rawWords = tokens(kw);
          if (rawWords.length === 1 && rawWords[0].length >= PREFIX_MIN) addTo(this.index.prefix, rawWords[0], ti);
        } else {
          for (let i = 0; i + 1 < st.length; i++) addTo(this.index.bigram, st[i] + ' ' + st[i + 1], ti);
        }
      }
    }
    this.hits = new Float64Array(this.codes.length);
  }

  predict(text: string): Prediction {
    return this.predictStems(textStems(text));
  }

  /** @internal */
  predictStems(st: string[]): Prediction {
    if (this.codes.length === 0 || st.length === 0) return none();
    const hits = this.hits;
    hits.fill(0);
    const { exact, prefix, bigram } = this.index;
    const seen = new Set<string>();
    const add = (tis: number[], key: string, w: number) => {
      if (seen.has(key)) return;
      seen.add(key);
      for (const ti of tis) hits[ti] += w;
    };
    for (let i = 0; i < st.length; i++) {
      const s = st[i];
      const e = exact.get(s);
      if (e) add(e, s, 1);
      else {
        for (let l = s.length; l >= PREFIX_MIN; l--) {
          const p = prefix.get(s.slice(0, l));
          if (p) { add(p, s.slice(0, l), 1); break; }
        }
      }
      if (i + 1 < st.length) {
        const k = s + ' ' + st[i + 1];
        const b = bigram.get(k);
        if (b) add(b, k, 2);
      }
    }
    let total = 0;
    for (let t = 0; t < hits.length; t++) total += hits[t];
    if (total === 0) return none();
    const conf = (h: number) => Math.min(KEYWORD_CAP, (h / total) * (h / (h + 1)));
    const order = topK(hits, MAX_ALTERNATIVES + 1).filter((t) => hits[t] > 0);
    const best = order[0];
    return {
      themeCode: this.codes[best], confidence: conf(hits[best]), source: 'keywords',
      alternatives: order.slice(1).map((t) => ({ themeCode: this.codes[t], confidence: conf(hits[t]) })),
    };
  }
}


// ---------------------------------------------------------------------------------------------
// Naive Bayes

interface ModelJson {
  format: 'mcu-theme-nb';
  version: 1;
  alpha: number;
  themes: string[];
  docs: number[];
  /** feature → [themeIndex, count, themeIndex, count, …] */
  features: Record<string, number[]>;
  keywords: ThemeKeywords[];
}

export class ThemeClassifier {
  private readonly themes: string[];
  private readonly docs: number[];
  private readonly alpha: number;
  private readonly logPrior: Float64Array;
  /** feature → per-theme log P(feature | theme), Laplace-smoothed. */
  private readonly logLik: Map<string, Float64Array>;
  /** Raw counts, kept sparse for toJSON. */
  private readonly counts: Map<string, number[]>;
  private readonly scores: Float64Array;
  private readonly fallback: KeywordClassifier;

  private constructor(themes: string[], docs: number[], counts: Map<string, number[]>, alpha: number, keywords: ThemeKeywords[]) {
    this.themes = themes; this.docs = docs; this.alpha = alpha; this.counts = counts;
    const T = themes.length;
    const N = docs.reduce((a, b) => a + b, 0);
    this.logPrior = new Float64Array(T);
    for (let t = 0; t < T; t++) this.logPrior[t] = Math.log(docs[t] / N);
    const totals = new Float64Array(T);
    for (const pairs of counts.values()) for (let i = 0; i < pairs.length; i += 2) totals[pairs[i]] += pairs[i + 1];
    const V = counts.size;
    const logDen = new Float64Array(T);
    for (let t = 0; t < T; t++) logDen[t] = Math.log(totals[t] + alpha * V);
    const logAlpha = Math.log(alpha);
    this.logLik = new Map();
    for (const [f, pairs] of counts) {
      const row = new Float64Array(T);
      for (let t = 0; t < T; t++) row[t] = logAlpha - logDen[t];
      for (let i = 0; i < pairs.length; i += 2) row[pairs[i]] = Math.log(pairs[i + 1] + alpha) - logDen[pairs[i]];
      this.logLik.set(f, row);
    }
    this.scores = new Float64Array(T);
    this.fallback = new KeywordClassifier(keywords);
  }

  /**
   * Streams over the samples once, accumulating feature counts per theme (texts are not kept).
   * Samples with an empty themeCode are skipped.
   */
  static train(samples: Iterable<LabelledText>, keywords: ThemeKeywords[], opts: TrainOptions = {}): ThemeClassifier {
    const minDocs = opts.minDocsPerTheme ?? 3;
    const minCount = opts.minFeatureCount ?? 1;
    const alpha = opts.alpha ?? 1;
    const themeIndex = new Map<string, number>();
    const allThemes: string[] = [];
    const docs: number[] = [];
    const raw = new Map<string, number[]>();   // feature → counts indexed by theme (holey)
    for (const { text, themeCode } of samples) {
      if (!themeCode) continue;
      let ti = themeIndex.get(themeCode);
      if (ti === undefined) { ti = allThemes.length; themeIndex.set(themeCode, ti); allThemes.push(themeCode); docs.push(0); }
      docs[ti]++;
      const t = ti;
      forEachFeature(textStems(text ?? ''), (f) => {
        let a = raw.get(f);
        if (!a) raw.set(f, (a = []));
        a[t] = (a[t] ?? 0) + 1;
      });
    }
    // Keep themes with enough texts, in a stable (sorted) order.
    const kept = allThemes.map((code, i) => ({ code, i })).filter((x) => docs[x.i] >= minDocs).sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
    const remap = new Int32Array(allThemes.length).fill(-1);
    kept.forEach((x, j) => (remap[x.i] = j));
    const counts = new Map<string, number[]>();
    for (const [f, a] of raw) {
      const pairs: number[] = [];
      let total = 0;
      for (let i = 0; i < a.length; i++) {
        const c = a[i];
        if (c && remap[i] >= 0) { pairs.push(remap[i], c); total += c; }
      }
      if (total > 0 && total >= minCount) counts.set(f, pairs);
    }
    return new ThemeClassifier(kept.map((x) => x.code), kept.map((x) => docs[x.i]), counts, alpha, keywords);
  }

  /** Themes the model knows (with at least minDocsPerTheme training texts), sorted. */
  get trainedThemes(): string[] {
    return [...this.themes];
  }

  /** Number of features (stems and bigrams) in the model. */
  get vocabularySize(): number {
    return this.logLik.size;
  }

  predict(text: string): Prediction {
    const st = textStems(text);
    const T = this.themes.length;
    if (T === 0) return this.fallback.predictStems(st);
    const scores = this.scores;
    scores.set(this.logPrior);
    let known = 0;
    const lik = this.logLik;
    for (let i = 0; i < st.length; i++) {
      let row = lik.get(st[i]);
      if (row) { known++; for (let t = 0; t < T; t++) scores[t] += row[t]; }
      if (i + 1 < st.length) {
        row = lik.get(st[i] + ' ' + st[i + 1]);
        if (row) { known++; for (let t = 0; t < T; t++) scores[t] += row[t]; }
      }
    }
    if (known === 0) return this.fallback.predictStems(st);
    let max = -Infinity;
    for (let t = 0; t < T; t++) if (scores[t] > max) max = scores[t];
    let sum = 0;
    for (let t = 0; t < T; t++) sum += Math.exp(scores[t] - max);
    const order = topK(scores, MAX_ALTERNATIVES + 1);
    const p = (t: number) => Math.exp(scores[t] - max) / sum;
    const alternatives: Prediction['alternatives'] = [];
    for (let k = 1; k < order.length; k++) {
      const c = p(order[k]);
      if (c >= MIN_ALTERNATIVE) alternatives.push({ themeCode: this.themes[order[k]], confidence: c });
    }
    return { themeCode: this.themes[order[0]], confidence: p(order[0]), source: 'model', alternatives };
  }

  /** Raw counts (not log-probabilities), so fromJSON rebuilds an identical model. */
  toJSON(): object {
    const features: Record<string, number[]> = {};
    for (const [f, pairs] of this.counts) features[f] = pairs;
    const o: ModelJson = {
      format: 'mcu-theme-nb', version: 1, alpha: this.alpha, themes: [...this.themes], docs: [...this.docs],
      features, keywords: this.fallback.keywords,
    };
    return o;
  }

  static fromJSON(o: object): ThemeClassifier {
    const m = o as Partial<ModelJson>;
    if (m.format !== 'mcu-theme-nb' || m.version !== 1 || !Array.isArray(m.themes) || !Array.isArray(m.docs) || !m.features) {
      throw new Error('not a theme classifier model (format mcu-theme-nb, version 1)');
    }
    const counts = new Map<string, number[]>();
    for (const f of Object.keys(m.features)) counts.set(f, m.features[f]);
    return new ThemeClassifier(m.themes, m.docs, counts, m.alpha ?? 1, m.keywords ?? []);
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/**
 * Macro-averaged F1 over every theme that occurs as expected or predicted (as scikit-learn does);
 * a null prediction counts as wrong. accuracy = share of exact matches.
 */
export function macroF1(pairs: Iterable<{ expected: string; predicted: string | null }>): {
  macroF1: number; accuracy: number; perTheme: Record<string, { precision: number; recall: number; f1: number; support: number }>;
} {
  const tp = new Map<string, number>(), fp = new Map<string, number>(), fn = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  let n = 0, correct = 0;
  for (const { expected, predicted } of pairs) {
    n++;
    if (predicted === expected) { correct++; inc(tp, expected); continue; }
    inc(fn, expected);
    if (predicted !== null) inc(fp, predicted);
  }
  const labels = [...new Set([...tp.keys(), ...fp.keys(), ...fn.keys()])].sort();
  const perTheme: Record<string, { precision: number; recall: number; f1: number; support: number }> = {};
  let sumF1 = 0;
  for (const l of labels) {
    const a = tp.get(l) ?? 0, b = fp.get(l) ?? 0, c = fn.get(l) ?? 0;
    const precision = a + b > 0 ? a / (a + b) : 0;
    const recall = a + c > 0 ? a / (a + c) : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perTheme[l] = { precision, recall, f1, support: a + c };
    sumF1 += f1;
  }
  return { macroF1: labels.length ? sumF1 / labels.length : 0, accuracy: n ? correct / n : 0, perTheme };
}
