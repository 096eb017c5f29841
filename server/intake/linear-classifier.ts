import { topK } from '../util/topk.js';
import { mulberry32 } from '../util/random.js';
/**
 * Theme classification with a multinomial logistic regression over three feature families of a text:
 * Russian Snowball stems, adjacent stem pairs and character n-grams (3–5) inside word boundaries, which survive
 * typos, slang and unknown word forms. Trained in-process (SGD with AdaGrad steps and L2), confidence calibrated by
 * temperature scaling fitted on out-of-fold predictions, so that "confidence 0.9" means ≈ 9 of 10 such appeals are
 * right. Pure: no database, no I/O. Keyword rules (themes.json) remain the fallback of a text with no known feature.
 */
import { stemWord, stopWords } from './text.js';
import { KeywordClassifier, macroF1, type LabelledText, type Prediction, type ThemeKeywords } from './classifier.js';

export interface WeightedText extends LabelledText {
  /** Sample weight (default 1): the seed corpus and a person's corrections count more than imported history. */
  weight?: number;
  /** Held out in turn by the cross-validation that fits the temperature (seed texts, a person's corrections, a sample of history). */
  calibrate?: boolean;
}

export interface LinearTrainOptions {
  /** Themes with fewer (unweighted) training texts are left out (default 3). */
  minDocsPerTheme?: number;
  /** Passes over the data (default 6). */
  epochs?: number;
  /** L2 penalty per sample step (default 1e-5). */
  l2?: number;
  /** AdaGrad base learning rate (default 0.5). */
  learningRate?: number;
  /** Folds of the cross-validation that fits the temperature and reports the figures (default 4; 0 = none). */
  folds?: number;
  /** Texts not marked `calibrate` train every fold of the cross-validation; at most this many of them (default 2000). */
  cvBackground?: number;
  /** Shuffle seed (default 1). */
  seed?: number;
}

/** Cross-validated figures of a trained model (on out-of-fold predictions, calibrated). */
export interface CvReport {
  folds: number;
  n: number;
  macroF1: number;
  accuracy: number;
  /** Expected calibration error (10 equal-width confidence bins). */
  ece: number;
  temperature: number;
  /** Share of texts at or above the threshold, and accuracy among them. */
  autoAccepted: { threshold: number; share: number; accuracy: number };
}

export interface LinearPrediction extends Prediction {
  /** Other themes the text clearly also speaks about (at most 2), best first. */
  secondary: { themeCode: string; confidence: number }[];
}

const MAX_ALTERNATIVES = 3;
const MIN_ALTERNATIVE = 0.01;
const MAX_SECONDARY = 2;
/** A secondary theme: one sentence of the text gives it at least this (and the whole text at least SECONDARY_FLOOR, 0.005). */
const SECONDARY_CLAUSE = 0.6;
const SECONDARY_FLOOR = 0.005;
/** At or above this confidence of the best theme no secondary theme is looked for. */
const SECONDARY_SKIP = 0.999;
const NGRAM_MIN = 3, NGRAM_MAX = 5;
const TOKEN_CACHE_MAX = 100_000;
const SPLIT = /[^a-zа-я0-9]+/;
const DIGITS = /^[0-9]+$/;
/** Tokens a text is cut to (bounded work per text). */
const MAX_TOKENS = 400;

// ---------------------------------------------------------------------------------------------
// Features

/** The raw features (strings) of one token: its stem and its character n-grams with boundary marks. */
function tokenFeatures(tok: string, out: string[]): void {
  out.push('w' + stemWord(tok));
  const w = '<' + tok + '>';
  for (let n = NGRAM_MIN; n <= NGRAM_MAX; n++) {
    for (let i = 0; i + n <= w.length; i++) out.push(w.slice(i, i + n));
  }
}

/** Normalised tokens of a text: lowercase, ё→е, no stop words, no 1-letter tokens, no pure numbers. */
export function featureTokens(text: string): string[] {
  const sw = stopWords();
  const parts = text.toLowerCase().replace(/ё/g, 'е').split(SPLIT);
  const out: string[] = [];
  for (const p of parts) {
    if (p.length > 1 && !sw.has(p) && !DIGITS.test(p)) out.push(p.length > 40 ? p.slice(0, 40) : p);
    if (out.length >= MAX_TOKENS) break;
  }
  return out;
}

/** A sparse, L2-normalised feature vector. */
interface Vec { idx: Int32Array; val: Float32Array }

/** What prediction keeps per distinct token: its feature ids, its stem's id and the sum of its features' weight rows. */
interface TokenEntry { ids: Int32Array; stem: number; sum: Float64Array | null }
/** Tokens kept in the prediction cache (each ≈ 0.3 KB with its weight sums). */
const ENTRY_CACHE_MAX = 50_000;

/**
 * Maps texts to sparse vectors over a vocabulary. While `grow` is true, unseen features are added; afterwards they are
 * ignored. Each token's feature ids are cached (tokens repeat across appeals).
 */
class Featurizer {
  readonly vocab = new Map<string, number>();
  private readonly tokenCache = new Map<string, Int32Array>();
  grow = true;
  private readonly buf: string[] = [];

  private idsOfToken(tok: string): Int32Array {
    let ids = this.tokenCache.get(tok);
    if (ids) return ids;
    const buf = this.buf;
    buf.length = 0;
    tokenFeatures(tok, buf);
    const tmp: number[] = [];
    for (const f of buf) {
      let id = this.vocab.get(f);
      if (id === undefined && this.grow) { id = this.vocab.size; this.vocab.set(f, id); }
      if (id !== undefined) tmp.push(id);
    }
    ids = Int32Array.from(tmp);
    if (!this.grow) {
      if (this.tokenCache.size >= TOKEN_CACHE_MAX) this.tokenCache.delete(this.tokenCache.keys().next().value as string);
      this.tokenCache.set(tok, ids);
    }
    return ids;
  }

  private readonly bigramCache = new Map<string, number>();

  // -- The frozen featurizer (prediction): per token one cached entry, bigrams by a numeric key of two stem ids.
  private readonly entries = new Map<string, TokenEntry>();
  private pairs: Map<number, number> | null = null;
  private stride = 0;

  /** Stops growing and indexes the bigram features by their two stems' feature ids (no string is built per bigram). */
  freeze(): void {
    this.grow = false;
    this.stride = this.vocab.size + 1;
    const pairs = new Map<number, number>();
    for (const [f, id] of this.vocab) {
      if (f.charCodeAt(0) !== 98 /* b */) continue;
      const sp = f.indexOf(' ');
      const a = this.vocab.get('w' + f.slice(1, sp)), b = this.vocab.get('w' + f.slice(sp + 1));
      if (a !== undefined && b !== undefined) pairs.set(a * this.stride + b, id);
    }
    this.pairs = pairs;
  }

  /** A token's known feature ids (stem and n-grams, with repeats) and its stem's feature id (-1 when unknown); cached. */
  entry(tok: string): TokenEntry {
    let e = this.entries.get(tok);
    if (e) return e;
    const buf = this.buf;
    buf.length = 0;
    tokenFeatures(tok, buf);
    const tmp: number[] = [];
    for (const f of buf) { const id = this.vocab.get(f); if (id !== undefined) tmp.push(id); }
    e = { ids: Int32Array.from(tmp), stem: this.vocab.get(buf[0]) ?? -1, sum: null };
    if (this.entries.size >= ENTRY_CACHE_MAX) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(tok, e);
    return e;
  }

  /** The bigram feature id of two adjacent tokens' entries, or -1. */
  pair(a: TokenEntry, b: TokenEntry): number {
    if (a.stem < 0 || b.stem < 0) return -1;
    return this.pairs!.get(a.stem * this.stride + b.stem) ?? -1;
  }

  /** Bigram feature id of two adjacent tokens' stems (-1 when unknown and not growing). */
  private bigramId(a: string, b: string): number {
    const key = a + ' ' + b;
    let id = this.grow ? undefined : this.bigramCache.get(key);
    if (id !== undefined) return id;
    const f = 'b' + stemWord(a) + ' ' + stemWord(b);
    id = this.vocab.get(f);
    if (id === undefined && this.grow) { id = this.vocab.size; this.vocab.set(f, id); }
    if (id === undefined) id = -1;
    if (!this.grow) {
      if (this.bigramCache.size >= TOKEN_CACHE_MAX) this.bigramCache.clear();
      this.bigramCache.set(key, id);
    }
    return id;
  }

  vector(text: string): Vec {
    return this.vectorOfTokens(featureTokens(text));
  }

  /** The vector of a training text (prediction goes through the frozen entries: LinearThemeClassifier.logitsOf). */
  vectorOfTokens(toks: string[]): Vec {
    return this.vectorGrowing(toks);
  }

  private vectorGrowing(toks: string[]): Vec {
    const counts = new Map<number, number>();
    for (let i = 0; i < toks.length; i++) {
      const ids = this.idsOfToken(toks[i]);
      for (let k = 0; k < ids.length; k++) counts.set(ids[k], (counts.get(ids[k]) ?? 0) + 1);
      if (i + 1 < toks.length) {
        const b = this.bigramId(toks[i], toks[i + 1]);
        if (b >= 0) counts.set(b, (counts.get(b) ?? 0) + 2);
      }
    }
    const idx = new Int32Array(counts.size);
    const val = new Float32Array(counts.size);
    let j = 0, norm = 0;
    for (const [id, c] of counts) {
      const v = Math.sqrt(c);     // sublinear term frequency
      idx[j] = id; val[j] = v; norm += v * v; j++;
    }
    if (norm > 0) {
      const sc = 1 / Math.sqrt(norm);
      for (let k = 0; k < val.length; k++) val[k] *= sc;
    }
    return { idx, val };
  }
}

// ---------------------------------------------------------------------------------------------
// Model

interface Weights { W: Float32Array; b: Float64Array }


function logits(w: Weights, T: number, x: Vec, out: Float64Array): void {
  out.set(w.b);
  const { idx, val } = x;
  const W = w.W;
  for (let k = 0; k < idx.length; k++) {
    const base = idx[k] * T, v = val[k];
    for (let t = 0; t < T; t++) out[t] += W[base + t] * v;
  }
}

function softmax(z: Float64Array, temperature: number, out: Float64Array): void {
  let max = -Infinity;
  for (let t = 0; t < z.length; t++) if (z[t] > max) max = z[t];
  let sum = 0;
  for (let t = 0; t < z.length; t++) { out[t] = Math.exp((z[t] - max) / temperature); sum += out[t]; }
  for (let t = 0; t < z.length; t++) out[t] /= sum;
}

/** Multinomial logistic regression by SGD with per-weight AdaGrad steps and L2 on the touched weights. */
function fit(xs: Vec[], ys: Int32Array, ws: Float32Array, F: number, T: number, o: Required<Pick<LinearTrainOptions, 'epochs' | 'l2' | 'learningRate' | 'seed'>>): Weights {
  const W = new Float32Array(F * T);
  const G = new Float32Array(F * T);
  const b = new Float64Array(T);
  const Gb = new Float64Array(T);
  const z = new Float64Array(T), p = new Float64Array(T);
  const order = Int32Array.from({ length: xs.length }, (_, i) => i);
  const rand = mulberry32(o.seed);
  const eps = 1e-8;
  for (let e = 0; e < o.epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
    for (let n = 0; n < order.length; n++) {
      const i = order[n];
      const x = xs[i], y = ys[i], sw = ws[i];
      logits({ W, b }, T, x, z);
      softmax(z, 1, p);
      for (let t = 0; t < T; t++) {
        const g = (p[t] - (t === y ? 1 : 0)) * sw;
        Gb[t] += g * g;
        b[t] -= (o.learningRate * g) / Math.sqrt(Gb[t] + eps);
      }
      const { idx, val } = x;
      for (let k = 0; k < idx.length; k++) {
        const base = idx[k] * T, v = val[k];
        for (let t = 0; t < T; t++) {
          const q = base + t;
          const g = (p[t] - (t === y ? 1 : 0)) * sw * v + o.l2 * W[q];
          if (g === 0) continue;
          G[q] += g * g;
          W[q] -= (o.learningRate * g) / Math.sqrt(G[q] + eps);
        }
      }
    }
  }
  return { W, b };
}

/** Temperature minimising the negative log-likelihood of out-of-fold logits (golden-section search on log T). */
function fitTemperature(zs: Float64Array[], ys: Int32Array): number {
  const nll = (T: number) => {
    let s = 0;
    for (let i = 0; i < zs.length; i++) {
      const z = zs[i];
      let max = -Infinity;
      for (let t = 0; t < z.length; t++) if (z[t] > max) max = z[t];
      let sum = 0;
      for (let t = 0; t < z.length; t++) sum += Math.exp((z[t] - max) / T);
      s -= (z[ys[i]] - max) / T - Math.log(sum);
    }
    return s;
  };
  let lo = Math.log(0.05), hi = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo), bb = lo + g * (hi - lo);
  let fa = nll(Math.exp(a)), fb = nll(Math.exp(bb));
  for (let k = 0; k < 40; k++) {
    if (fa < fb) { hi = bb; bb = a; fb = fa; a = hi - g * (hi - lo); fa = nll(Math.exp(a)); }
    else { lo = a; a = bb; fa = fb; bb = lo + g * (hi - lo); fb = nll(Math.exp(bb)); }
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * Expected calibration error: mean |accuracy − confidence| over 10 equal-width confidence bins, weighted by the
 * bin's share of texts.
 */
export function expectedCalibrationError(items: { confidence: number; correct: boolean }[], bins = 10): number {
  const n = new Array(bins).fill(0), acc = new Array(bins).fill(0), conf = new Array(bins).fill(0);
  for (const it of items) {
    const k = Math.min(bins - 1, Math.max(0, Math.floor(it.confidence * bins)));
    n[k]++; acc[k] += it.correct ? 1 : 0; conf[k] += it.confidence;
  }
  let e = 0;
  for (let k = 0; k < bins; k++) if (n[k]) e += (n[k] / items.length) * Math.abs(acc[k] / n[k] - conf[k] / n[k]);
  return e;
}

/** Share at or above the threshold and accuracy among them. */
export function autoAccepted(items: { confidence: number; correct: boolean }[], threshold: number): { threshold: number; share: number; accuracy: number } {
  const acc = items.filter((i) => i.confidence >= threshold);
  return { threshold, share: items.length ? acc.length / items.length : 0, accuracy: acc.length ? acc.filter((i) => i.correct).length / acc.length : 0 };
}

interface LinearModelJson {
  format: 'mcu-theme-linear';
  version: 1;
  themes: string[];
  features: string[];
  /** Row-major F × T weights. */
  weights: number[];
  bias: number[];
  temperature: number;
  cv: CvReport | null;
  keywords: ThemeKeywords[];
}

export class LinearThemeClassifier {
  private readonly themes: string[];
  private readonly featurizer: Featurizer;
  private readonly w: Weights;
  readonly temperature: number;
  /** Cross-validated figures of the training run (null when trained without folds). */
  readonly cv: CvReport | null;
  private readonly fallback: KeywordClassifier;
  private readonly z: Float64Array;
  private readonly p: Float64Array;
  private readonly pc: Float64Array;
  /** Out-of-fold calibrated (confidence, correct) pairs of the cross-validation. */
  private oof: { confidence: number; correct: boolean }[] = [];

  private constructor(themes: string[], featurizer: Featurizer, w: Weights, temperature: number, cv: CvReport | null, keywords: ThemeKeywords[]) {
    this.themes = themes; this.featurizer = featurizer; this.w = w; this.temperature = temperature; this.cv = cv;
    featurizer.freeze();
    this.fallback = new KeywordClassifier(keywords);
    this.z = new Float64Array(themes.length);
    this.p = new Float64Array(themes.length);
    this.pc = new Float64Array(themes.length);
  }

  static train(samples: Iterable<WeightedText>, keywords: ThemeKeywords[], opts: LinearTrainOptions = {}): LinearThemeClassifier {
    const o = {
      epochs: opts.epochs ?? 6, l2: opts.l2 ?? 1e-5, learningRate: opts.learningRate ?? 0.5, seed: opts.seed ?? 1,
    };
    const minDocs = opts.minDocsPerTheme ?? 3;
    const folds = opts.folds ?? 4;
    const cvBackground = opts.cvBackground ?? 2000;
    // Themes with enough texts, sorted.
    const list: { toks: string[]; code: string; weight: number; calibrate: boolean }[] = [];
    const docs = new Map<string, number>();
    for (const s of samples) {
      if (!s.themeCode) continue;
      const toks = featureTokens(s.text ?? '');
      if (toks.length === 0) continue;
      list.push({ toks, code: s.themeCode, weight: s.weight ?? 1, calibrate: s.calibrate ?? true });
      docs.set(s.themeCode, (docs.get(s.themeCode) ?? 0) + 1);
    }
    const themes = [...docs.entries()].filter(([, n]) => n >= minDocs).map(([c]) => c).sort();
    const ti = new Map(themes.map((c, i) => [c, i]));
    const kept = list.filter((s) => ti.has(s.code));
    const T = themes.length;
    const featurizer = new Featurizer();
    if (T === 0) return new LinearThemeClassifier([], featurizer, { W: new Float32Array(0), b: new Float64Array(0) }, 1, null, keywords);
    const xs = kept.map((s) => featurizer.vectorOfTokens(s.toks));
    const ys = Int32Array.from(kept, (s) => ti.get(s.code)!);
    const ws = Float32Array.from(kept, (s) => s.weight);
    const F = featurizer.vocab.size;

    let temperature = 1;
    let cv: CvReport | null = null;
    let oofItems: { confidence: number; correct: boolean }[] = [];
    const pool = kept.map((s, i) => (s.calibrate ? i : -1)).filter((i) => i >= 0);
    if (folds >= 2 && T >= 2 && pool.length >= folds * 2) {
      // Folds over the calibration pool, stratified by theme; the other texts (≤ cvBackground of them) train every fold.
      const rand = mulberry32(o.seed + 7);
      const byTheme: number[][] = themes.map(() => []);
      for (const i of pool) byTheme[ys[i]].push(i);
      const fold = new Int32Array(kept.length).fill(-1);
      let k = 0;
      for (const ids of byTheme) {
        for (let i = ids.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = ids[i]; ids[i] = ids[j]; ids[j] = t; }
        for (const i of ids) fold[i] = k++ % folds;
      }
      const background = kept.map((s, i) => (s.calibrate ? -1 : i)).filter((i) => i >= 0);
      for (let i = background.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); const t = background[i]; background[i] = background[j]; background[j] = t; }
      background.length = Math.min(background.length, cvBackground);
      const oofZ: Float64Array[] = [];
      const oofY: number[] = [];
      for (let f = 0; f < folds; f++) {
        const tr: number[] = [...background], te: number[] = [];
        for (const i of pool) (fold[i] === f ? te : tr).push(i);
        const wf = fit(tr.map((i) => xs[i]), Int32Array.from(tr, (i) => ys[i]), Float32Array.from(tr, (i) => ws[i]), F, T, o);
        for (const i of te) { const z = new Float64Array(T); logits(wf, T, xs[i], z); oofZ.push(z); oofY.push(ys[i]); }
      }
      const yArr = Int32Array.from(oofY);
      temperature = fitTemperature(oofZ, yArr);
      const p = new Float64Array(T);
      const items: { confidence: number; correct: boolean }[] = [];
      const pairs: { expected: string; predicted: string | null }[] = [];
      oofZ.forEach((z, k) => {
        softmax(z, temperature, p);
        let best = 0;
        for (let t = 1; t < T; t++) if (p[t] > p[best]) best = t;
        items.push({ confidence: p[best], correct: best === yArr[k] });
        pairs.push({ expected: themes[yArr[k]], predicted: themes[best] });
      });
      const m = macroF1(pairs);
      oofItems = items;
      cv = {
        folds, n: oofZ.length, macroF1: m.macroF1, accuracy: m.accuracy, ece: expectedCalibrationError(items), temperature,
        autoAccepted: autoAccepted(items, 0.8),
      };
    }
    const w = fit(xs, ys, ws, F, T, o);
    const model = new LinearThemeClassifier(themes, featurizer, w, temperature, cv, keywords);
    model.oof = oofItems;
    return model;
  }

  get trainedThemes(): string[] {
    return [...this.themes];
  }

  /** Cross-validated share of texts at or above a confidence threshold and accuracy among them. */
  cvAutoAccepted(threshold: number): { threshold: number; share: number; accuracy: number } {
    return autoAccepted(this.oof, threshold);
  }

  get vocabularySize(): number {
    return this.featurizer.vocab.size;
  }

  /** Calibrated probabilities of every theme for the tokens (written into out). Returns false when no feature is known. */
  private probs(toks: string[], out: Float64Array): boolean {
    if (!this.logitsOf(toks, this.z)) return false;
    softmax(this.z, this.temperature, out);
    return true;
  }

  private cnt: Int32Array | null = null;
  private touched = new Int32Array(1024);
  private bigrams = new Int32Array(MAX_TOKENS);
  private entryBuf: TokenEntry[] = [];

  /**
   * The logits of a text, equal to logits(w, vector(text)) up to the order of summation but ~10× fewer multiply-adds:
   * a feature's value is √count / ‖x‖ and ‖x‖² = Σ counts, so the logits are
   *   b + (Σ_tokens S_token + Σ_{repeated f} (√c_f − c_f)·W_f + Σ_bigrams √c_f·W_f) / √(Σ counts),
   * where S_token (the sum of the weight rows of the token's stem and n-grams) is cached per distinct token.
   * Returns false when no feature of the text is known.
   */
  private logitsOf(toks: string[], z: Float64Array): boolean {
    const T = this.themes.length, W = this.w.W, fz = this.featurizer;
    const cnt = (this.cnt ??= new Int32Array(fz.vocab.size));
    const n = toks.length;
    const entries = this.entryBuf;
    entries.length = n;
    for (let i = 0; i < n; i++) entries[i] = fz.entry(toks[i]);
    let touched = this.touched, nt = 0, nb = 0, total = 0;
    const acc = z;
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      const ids = e.ids;
      if (ids.length) {
        let sum = e.sum;
        if (sum === null) {
          sum = e.sum = new Float64Array(T);
          for (let k = 0; k < ids.length; k++) { const base = ids[k] * T; for (let t = 0; t < T; t++) sum[t] += W[base + t]; }
        }
        for (let t = 0; t < T; t++) acc[t] += sum[t];
        for (let k = 0; k < ids.length; k++) {
          const id = ids[k];
          if (cnt[id]++ === 0) {
            if (nt === touched.length) { const grown = new Int32Array(nt * 2); grown.set(touched); this.touched = touched = grown; }
            touched[nt++] = id;
          }
        }
        total += ids.length;
      }
      if (i + 1 < n) {
        const b = fz.pair(e, entries[i + 1]);
        if (b >= 0) {
          if (cnt[b] === 0) this.bigrams[nb++] = b;
          cnt[b] += 2;
          total += 2;
        }
      }
    }
    // Repeated stems and n-grams count √c, not c; bigrams √c.
    for (let j = 0; j < nt; j++) {
      const id = touched[j], c = cnt[id];
      cnt[id] = 0;
      if (c > 1) { const f = Math.sqrt(c) - c, base = id * T; for (let t = 0; t < T; t++) acc[t] += f * W[base + t]; }
    }
    for (let j = 0; j < nb; j++) {
      const id = this.bigrams[j], f = Math.sqrt(cnt[id]), base = id * T;
      cnt[id] = 0;
      for (let t = 0; t < T; t++) acc[t] += f * W[base + t];
    }
    entries.length = 0;
    if (total === 0) return false;
    const sc = 1 / Math.sqrt(total), b = this.w.b;
    for (let t = 0; t < T; t++) z[t] = b[t] + acc[t] * sc;
    return true;
  }

  predict(text: string): LinearPrediction {
    const toks = featureTokens(text ?? '');
    const T = this.themes.length;
    if (T === 0 || !this.probs(toks, this.p)) {
      return { ...this.fallback.predict(text ?? ''), secondary: [] };
    }
    const p = this.p;
    const order = topK(p, MAX_ALTERNATIVES + 1);
    const alternatives: Prediction['alternatives'] = [];
    for (let k = 1; k < order.length; k++) if (p[order[k]] >= MIN_ALTERNATIVE) alternatives.push({ themeCode: this.themes[order[k]], confidence: p[order[k]] });
    const best = order[0];
    // A text the model is all but sure of has no second topic worth a look: the sentence pass (about as costly as the
    // prediction itself) is skipped.
    const secondary = p[best] >= SECONDARY_SKIP ? [] : this.secondary(text, best);
    return { themeCode: this.themes[best], confidence: p[best], source: 'model', alternatives, secondary };
  }

  /**
   * Secondary themes: those that one sentence (or clause joined by «а ещё», «и ещё», «а также»…) of a text of several
   * gives ≥ 0.6 while the whole text gives ≥ 0.005. An unsure choice between two themes is not a second topic: the
   * whole text's probabilities alone never make a secondary theme. At most 2, best first.
   */
  private secondary(text: string, best: number): { themeCode: string; confidence: number }[] {
    const T = this.themes.length;
    const p = this.p;
    const score = new Map<number, number>();
    const clauses = text.split(/[.!?;\n]+|,\s*(?:а|и|ещё|еще|также|кроме того)\s+|\s+а\s+также\s+|\s+и\s+ещё\s+/i);
    if (clauses.length > 1 && clauses.length <= 12) {
      const pc = this.pc;
      for (const c of clauses) {
        const toks = featureTokens(c);
        if (toks.length < 2 || !this.probs(toks, pc)) continue;
        let cb = 0;
        for (let t = 1; t < T; t++) if (pc[t] > pc[cb]) cb = t;
        if (cb !== best && pc[cb] >= SECONDARY_CLAUSE && p[cb] >= SECONDARY_FLOOR) score.set(cb, Math.max(score.get(cb) ?? 0, p[cb]));
      }
    }
    return [...score.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_SECONDARY).map(([t]) => ({ themeCode: this.themes[t], confidence: p[t] }));
  }

  toJSON(): object {
    const features = new Array<string>(this.featurizer.vocab.size);
    for (const [f, i] of this.featurizer.vocab) features[i] = f;
    const o: LinearModelJson = {
      format: 'mcu-theme-linear', version: 1, themes: [...this.themes], features,
      weights: Array.from(this.w.W, (x) => Math.round(x * 1e5) / 1e5), bias: Array.from(this.w.b),
      temperature: this.temperature, cv: this.cv, keywords: this.fallback.keywords,
    };
    return o;
  }

  static fromJSON(o: object): LinearThemeClassifier {
    const m = o as Partial<LinearModelJson>;
    if (m.format !== 'mcu-theme-linear' || m.version !== 1 || !Array.isArray(m.themes) || !Array.isArray(m.features) || !Array.isArray(m.weights) || !Array.isArray(m.bias)
      || m.weights.length !== m.features.length * m.themes.length || m.bias.length !== m.themes.length) {
      throw new Error('not a theme classifier model (format mcu-theme-linear, version 1)');
    }
    const fz = new Featurizer();
    m.features.forEach((f, i) => fz.vocab.set(f, i));
    return new LinearThemeClassifier(m.themes, fz, { W: Float32Array.from(m.weights), b: Float64Array.from(m.bias) }, m.temperature ?? 1, m.cv ?? null, m.keywords ?? []);
  }
}


// ---------------------------------------------------------------------------------------------
// Training set

/** Imported history a model learns from: at most this many (newest, distinct) texts. */
export const HISTORY_LIMIT = Number(process.env.INTAKE_TRAINING_HISTORY ?? 8000);

/** The seed corpus weighs as much as this share of the history, at least 1 per seed text. */
const SEED_SHARE = 0.5;
/** A person's reclassification weighs this many imported texts. */
const PERSON_WEIGHT = 3;

export interface HistoryText extends LabelledText {
  /** The theme was set by a person (a reclassification), not by the source. */
  person?: boolean;
}

/**
 * The training set of a municipality: its seed corpus (written for the purpose, db/reference/<m>/classifier-seed.jsonl)
 * plus its labelled history, newest first, distinct texts only, at most HISTORY_LIMIT. Templated or repetitive
 * history cannot drown the seed: the seed's total weight is at least half the history's.
 */
export function trainingSet(seed: LabelledText[], history: Iterable<HistoryText>, limit = HISTORY_LIMIT): WeightedText[] {
  const seen = new Set<string>();
  const hist: WeightedText[] = [];
  for (const h of history) {
    if (hist.length >= limit) break;
    if (!h.themeCode || !h.text) continue;
    const key = featureTokens(h.text).join(' ');
    if (!key || seen.has(key)) continue;
    seen.add(key);
    hist.push({ text: h.text, themeCode: h.themeCode, weight: h.person ? PERSON_WEIGHT : 1, calibrate: !!h.person });
  }
  // A sample of the history as large as the seed joins the calibration pool (every k-th text).
  const step = Math.max(1, Math.floor(hist.length / Math.max(1, seed.length)));
  for (let i = 0; i < hist.length; i += step) hist[i].calibrate = true;
  const histWeight = hist.reduce((a, h) => a + (h.weight ?? 1), 0);
  const seedWeight = seed.length ? Math.max(1, (histWeight * SEED_SHARE) / seed.length) : 1;
  return [...seed.map((s) => ({ text: s.text, themeCode: s.themeCode, weight: seedWeight, calibrate: true })), ...hist];
}
