/**
 * The verdict model: logistic regression over the features of features.ts (weights readable one by one), trained in
 * process on the hand-written training set plus the coordinators' overrides. Also the baseline it is measured against
 * (a count of formal signs) and the figures (precision, recall, F1 of FORMAL; k-fold cross-validation).
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../reference/files.js';
import { extract, FEATURES, reasonsOf, setTopicVocabulary, templateFeature, type AnswerCase, type Extracted, type Reason } from './features.js';
import { simhash, TemplateIndex } from './simhash.js';

export type Verdict = 'FORMAL' | 'SUBSTANTIVE';

export interface LabelledCase extends AnswerCase {
  label: Verdict;
  note?: string;
  /** Theme code (the keywords come from the reference themes). */
  theme?: string;
}

export interface Model {
  /** [bias, w_1 … w_n] in FEATURES order; positive = towards FORMAL. */
  weights: number[];
  features: readonly string[];
  trainedOn: number;
  kind: 'logistic' | 'rules';
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** +1: a sign of a formal answer (weight ≥ 0); −1: a sign of substance (weight ≤ 0); 0: either. */
const SIGN: Record<string, number> = {
  noAction: 1, noDate: 1, noResponsible: 1, noPlace: 1, boilerplate: 1, vaguePromise: 1, forwarded: 1, lawOnly: 1, template: 1,
  addressMismatch: 1, topicMismatch: 1, shortText: 1,
  groundedRefusal: -1, guidance: -1, workDone: -1, doneWithDate: -1, datedPromise: -1, explanation: -1, inspection: -1, contact: -1, actionCount: -1,
  refusal: 0,
};

export function logit(m: Model, x: readonly number[]): number {
  let z = m.weights[0];
  for (let i = 0; i < x.length; i++) z += m.weights[i + 1] * x[i];
  return z;
}

/** Batch gradient descent with L2 (not on the bias); deterministic. */
export function trainLogistic(xs: number[][], ys: number[], opts: { l2?: number; epochs?: number; rate?: number; sampleWeights?: number[] } = {}): Model {
  const l2 = opts.l2 ?? 0.01, epochs = opts.epochs ?? 3000, rate = opts.rate ?? 0.5;
  const d = FEATURES.length;
  const w = new Array(d + 1).fill(0);
  const sw = opts.sampleWeights ?? ys.map(() => 1);
  const total = sw.reduce((a, b) => a + b, 0) || 1;
  for (let e = 0; e < epochs; e++) {
    const g = new Array(d + 1).fill(0);
    for (let n = 0; n < xs.length; n++) {
      const x = xs[n];
      let z = w[0];
      for (let i = 0; i < d; i++) z += w[i + 1] * x[i];
      const err = (sigmoid(z) - ys[n]) * sw[n];
      g[0] += err;
      for (let i = 0; i < d; i++) g[i + 1] += err * x[i];
    }
    w[0] -= (rate * g[0]) / total;
    for (let i = 1; i <= d; i++) {
      w[i] -= rate * (g[i] / total + l2 * w[i]);
      // Signs fixed by meaning (projected gradient): a sign of a formal answer never counts for substance and back,
      // so every reason shown points the way its text says.
      const s = SIGN[FEATURES[i - 1]];
      if (s > 0 && w[i] < 0) w[i] = 0;
      if (s < 0 && w[i] > 0) w[i] = 0;
    }
  }
  return { weights: w.map((v) => Math.round(v * 1e4) / 1e4), features: FEATURES, trainedOn: xs.length, kind: 'logistic' };
}

/** The baseline: one point per formal sign, minus the signs of substance; FORMAL from 2 points. Not trained. */
export const RULES_MODEL: Model = {
  kind: 'rules',
  features: FEATURES,
  trainedOn: 0,
  weights: (() => {
    const w: Record<string, number> = {
      noAction: 1, noDate: 0.5, noResponsible: 0.5, noPlace: 0.5, boilerplate: 1.5, vaguePromise: 1, forwarded: 1, lawOnly: 1,
      refusal: 0, groundedRefusal: -2, guidance: -1, workDone: -1, doneWithDate: -1, datedPromise: -1.5, explanation: -0.5, inspection: -0.5, contact: -0.5,
      template: 1, addressMismatch: 2, topicMismatch: 2, shortText: 0, actionCount: -1,
    };
    return [-2, ...FEATURES.map((f) => w[f])];
  })(),
};

/** The logit an address mismatch sets at least (P(FORMAL) ≈ 0.9). */
const MISMATCH_LOGIT = 2.2;

export interface Judgement {
  verdict: Verdict;
  /** P(FORMAL), 0…1. */
  score: number;
  reasons: Reason[];
}

export function judge(m: Model, e: Extracted, templateSize: number): Judgement {
  const x = [...e.x];
  x[FEATURES.indexOf('template')] = templateFeature(templateSize, x);
  let z = logit(m, x);
  // An answer about another address is not an answer to this appeal, whatever it says: FORMAL by rule.
  if (x[FEATURES.indexOf('addressMismatch')] === 1) z = Math.max(z, MISMATCH_LOGIT);
  const score = m.kind === 'rules' ? (z >= 0 ? 1 : 0) : sigmoid(z);
  const verdict: Verdict = z >= 0 ? 'FORMAL' : 'SUBSTANTIVE';
  const all = reasonsOf({ ...e, x }, templateSize, m.weights);
  // The reasons shown are those that pushed towards the verdict (the others are weaker counter-signs).
  const reasons = all.filter((r) => r.effect === verdict).slice(0, 6);
  return { verdict, score: Math.round(score * 1000) / 1000, reasons };
}

// ---------------------------------------------------------------- data sets

let themeKeywordsCache: Map<string, string[]> | undefined;
/** Keywords of the reference themes by code (the same as theme.keywords in the database). */
export function referenceThemeKeywords(): Map<string, string[]> {
  if (!themeKeywordsCache) {
    const themes = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'db', 'reference', 'rubtsovsk', 'themes.json'), 'utf8')) as { code: string; keywords: string[] }[];
    themeKeywordsCache = new Map(themes.map((t) => [t.code, t.keywords]));
    setTopicVocabulary([...themeKeywordsCache.values()]);
  }
  return themeKeywordsCache;
}

/** Reads a JSON-lines file of labelled pairs: {appeal, address, theme, answer, label, note}. */
export function readLabelled(file: string): LabelledCase[] {
  const kw = referenceThemeKeywords();
  return fs.readFileSync(file, 'utf8').split('\n').map((l, i) => [l.trim(), i + 1] as const).filter(([l]) => l && !l.startsWith('//')).map(([l, line]) => {
    let o: Record<string, string>;
    try { o = JSON.parse(l); } catch { throw new Error(`${path.basename(file)}, строка ${line}: не JSON`); }
    if (o.label !== 'FORMAL' && o.label !== 'SUBSTANTIVE') throw new Error(`${path.basename(file)}, строка ${line}: label должен быть FORMAL или SUBSTANTIVE`);
    if (!o.answer || !o.appeal) throw new Error(`${path.basename(file)}, строка ${line}: нет appeal или answer`);
    return { appealText: o.appeal, appealAddress: o.address ?? null, theme: o.theme, themeKeywords: (o.theme && kw.get(o.theme)) || [], answerText: o.answer, label: o.label, note: o.note };
  });
}

export const TRAIN_FILE = () => path.join(repoRoot(), 'db', 'reference', 'quality', 'train.jsonl');
export const EVAL_FILE = () => path.join(repoRoot(), 'test', 'fixtures', 'answer-quality-eval.jsonl');

/**
 * Template sizes within a corpus: for each case, how many cases (different appeal texts) got its answer up to
 * MAX_DISTANCE bits of the fingerprint — the same rule as the database's incremental count.
 */
export function corpusTemplateSizes(cases: readonly AnswerCase[]): number[] {
  const idx = new TemplateIndex();
  const tpl = cases.map((c) => idx.assign(simhash(c.answerText)));
  const appeals = new Map<number, Set<string>>();
  tpl.forEach((t, i) => {
    let s = appeals.get(t);
    if (!s) appeals.set(t, (s = new Set()));
    s.add(cases[i].appealText.trim().toLowerCase());
  });
  return tpl.map((t) => appeals.get(t)!.size);
}

export function vectors(cases: readonly AnswerCase[], sizes = corpusTemplateSizes(cases)): number[][] {
  return cases.map((c, i) => {
    const x = extract(c).x;
    x[FEATURES.indexOf('template')] = templateFeature(sizes[i], x);
    return x;
  });
}

export interface Figures { precision: number; recall: number; f1: number; accuracy: number; n: number; tp: number; fp: number; fn: number; tn: number }

/** Precision, recall and F1 of FORMAL. */
export function figures(expected: Verdict[], predicted: Verdict[]): Figures {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  expected.forEach((e, i) => {
    const p = predicted[i];
    if (p === 'FORMAL' && e === 'FORMAL') tp++;
    else if (p === 'FORMAL') fp++;
    else if (e === 'FORMAL') fn++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, accuracy: (tp + tn) / (expected.length || 1), n: expected.length, tp, fp, fn, tn };
}

export function predictAll(m: Model, xs: number[][]): Verdict[] {
  const mi = FEATURES.indexOf('addressMismatch');
  return xs.map((x) => (logit(m, x) >= 0 || x[mi] === 1 ? 'FORMAL' : 'SUBSTANTIVE'));
}

/** k-fold cross-validation of the logistic model on (xs, ys): folds by index modulo k (deterministic). */
export function crossValidate(xs: number[][], labels: Verdict[], k = 5, sampleWeights?: number[]): Figures {
  const expected: Verdict[] = [];
  const predicted: Verdict[] = [];
  for (let f = 0; f < k; f++) {
    const tr = xs.map((_, i) => i).filter((i) => i % k !== f);
    const te = xs.map((_, i) => i).filter((i) => i % k === f);
    if (!te.length || !tr.length) continue;
    const m = trainLogistic(tr.map((i) => xs[i]), tr.map((i) => (labels[i] === 'FORMAL' ? 1 : 0)), { sampleWeights: sampleWeights && tr.map((i) => sampleWeights[i]) });
    te.forEach((i) => { expected.push(labels[i]); predicted.push(predictAll(m, [xs[i]])[0]); });
  }
  return figures(expected, predicted);
}

/** Overrides count more than a training example: a person looked at that very answer. */
export const OVERRIDE_WEIGHT = 3;

export interface TrainResult { model: Model; cv: Figures; rulesCv: Figures; trainCases: number; overrides: number }

/** Trains on the training set plus overrides; reports cross-validated figures of the model and of the baseline. */
export function trainModel(extra: LabelledCase[] = []): TrainResult {
  const base = readLabelled(TRAIN_FILE());
  const cases = [...base, ...extra];
  const xs = vectors(cases);
  const labels = cases.map((c) => c.label);
  const sw = cases.map((_, i) => (i < base.length ? 1 : OVERRIDE_WEIGHT));
  const model = trainLogistic(xs, labels.map((l) => (l === 'FORMAL' ? 1 : 0)), { sampleWeights: sw });
  const cv = crossValidate(xs, labels, 5, sw);
  const rulesCv = figures(labels, predictAll(RULES_MODEL, xs));
  return { model, cv, rulesCv, trainCases: base.length, overrides: extra.length };
}

referenceThemeKeywords(); // the topic vocabulary of features.ts

let defaultModel: Model | undefined;
/** The model trained on the training set alone (used until a retrain stores one in quality_model). */
export function baseModel(): Model {
  return (defaultModel ??= trainModel().model);
}
