import fs from 'node:fs';
import path from 'node:path';
import { generateDemoAppeals, referenceDir } from '../server/demo/generator.js';
import { KeywordClassifier, ThemeClassifier, macroF1, type LabelledText, type Prediction, type ThemeKeywords } from '../server/intake/classifier.js';
import { LinearThemeClassifier, autoAccepted, expectedCalibrationError, trainingSet } from '../server/intake/linear-classifier.js';
import { repoRoot } from '../server/reference/files.js';
import { median, type SummaryRow } from './lib.js';

/** Keywords of the leaf themes in db/reference/rubtsovsk/themes.json. */
export function leafThemeKeywords(): ThemeKeywords[] {
  const themes = JSON.parse(fs.readFileSync(path.join(referenceDir(), 'themes.json'), 'utf8')) as { code: string; parentCode: string | null; keywords: string[] }[];
  const parents = new Set(themes.map((t) => t.parentCode).filter((c): c is string => c !== null));
  return themes.filter((t) => !parents.has(t.code)).map((t) => ({ themeCode: t.code, keywords: t.keywords }));
}

export function readJsonl<T>(file: string): T[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

/** The hand-written evaluation set (never trained on). */
export function evalSet(): LabelledText[] {
  return readJsonl<LabelledText>(path.join(repoRoot(), 'test', 'fixtures', 'classifier-eval.jsonl'));
}

export function seedCorpus(): LabelledText[] {
  return readJsonl<LabelledText>(path.join(referenceDir(), 'classifier-seed.jsonl'));
}

function* labelled(count: number, seed: number): Generator<LabelledText> {
  for (const a of generateDemoAppeals({ count, seed })) yield { text: a.text, themeCode: a.themeCode };
}

export interface EvalFigures {
  macroF1: number; accuracy: number; ece: number;
  autoShare: number; autoAccuracy: number; threshold: number;
  usPerText: number;
}

/** Figures of one model on a labelled set at a triage threshold. */
export function evaluate(predict: (t: string) => Prediction, set: LabelledText[], threshold: number): EvalFigures {
  for (const s of set.slice(0, 50)) predict(s.text);   // warm-up
  const t0 = performance.now();
  const preds = set.map((s) => predict(s.text));
  const us = ((performance.now() - t0) * 1000) / set.length;
  const m = macroF1(set.map((s, i) => ({ expected: s.themeCode, predicted: preds[i].themeCode })));
  const items = set.map((s, i) => ({ confidence: preds[i].confidence, correct: preds[i].themeCode === s.themeCode }));
  const a = autoAccepted(items, threshold);
  return { macroF1: m.macroF1, accuracy: m.accuracy, ece: expectedCalibrationError(items), autoShare: a.share, autoAccuracy: a.accuracy, threshold, usPerText: us };
}

/** The models compared: keyword rules, the previous naive Bayes (trained on demo history) and the linear model (seed + the same history). */
export function buildModels(historyCount = 20_000) {
  const keywords = leafThemeKeywords();
  const history = [...labelled(historyCount, 42)];
  const rules = new KeywordClassifier(keywords);
  const t0 = performance.now();
  const nb = ThemeClassifier.train(history, keywords);
  const nbTrainS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const linear = LinearThemeClassifier.train(trainingSet(seedCorpus(), history), keywords);
  const linearTrainS = (performance.now() - t1) / 1000;
  return { keywords, history, rules, nb, linear, nbTrainS, linearTrainS };
}

/**
 * Theme classifier on the hand-written evaluation set (test/fixtures/classifier-eval.jsonl, ≥ 300 texts that no model
 * trains on): macro-F1, expected calibration error, accuracy and share of auto-accepted appeals at the triage
 * threshold, for the keyword rules, the previous naive Bayes and the linear model side by side. DB-independent.
 */
export async function benchClassifier(historyCount = 20_000, threshold = Number(process.env.INTAKE_TRIAGE_THRESHOLD ?? 0.8)): Promise<SummaryRow[]> {
  const { rules, nb, linear, nbTrainS, linearTrainS } = buildModels(historyCount);
  const set = evalSet();
  // Per-row cost as in the import: demo texts of another seed, median of 5 passes.
  const texts = [...labelled(5000, 4242)].map((s) => s.text);
  // Wall time (the figure) and CPU time of the process (steadier when other work shares the machine).
  const perText = (predict: (t: string) => unknown) => {
    for (const t of texts.slice(0, 500)) predict(t);
    const runs: number[] = [], cpu: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now(), c0 = process.cpuUsage();
      for (const t of texts) predict(t);
      const c = process.cpuUsage(c0);
      runs.push(((performance.now() - t0) * 1000) / texts.length);
      cpu.push((c.user + c.system) / texts.length);
    }
    return { wall: median(runs), cpu: median(cpu) };
  };
  const nbT = perText((t) => nb.predict(t)), linT = perText((t) => linear.predict(t)), kwT = perText((t) => rules.predict(t));
  const usNb = nbT.wall, usLinear = linT.wall, usKw = kwT.wall;
  const kw = evaluate((t) => rules.predict(t), set, threshold);
  const old = evaluate((t) => nb.predict(t), set, threshold);
  const ours = evaluate((t) => linear.predict(t), set, threshold);
  const date = new Date().toISOString().slice(0, 10);
  const side = `keywords ${kw.macroF1.toFixed(3)} / naive Bayes ${old.macroF1.toFixed(3)} / linear ${ours.macroF1.toFixed(3)}`;
  const cv = linear.cv;
  const row = (name: string, unit: string, o: number, b: number, target: number | string, notes: string): SummaryRow =>
    ({ name, backend: 'embedded', n: set.length, ours: o, baseline: b, ratio: b > 0 ? o / b : 0, unit, target, date, notes });
  return [
    row('theme classifier macro-F1 (hand-written eval set)', 'macro-F1', ours.macroF1, old.macroF1, 0.85,
      `baseline = previous naive Bayes; ${side}; accuracy keywords ${kw.accuracy.toFixed(3)} / NB ${old.accuracy.toFixed(3)} / linear ${ours.accuracy.toFixed(3)}; ` +
      `trained on ${historyCount.toLocaleString('en-US')} demo texts (+ the seed corpus for the linear model); train NB ${nbTrainS.toFixed(1)} s, linear ${linearTrainS.toFixed(1)} s` +
      (cv ? `; linear cross-validated (${cv.folds} folds, ${cv.n} texts): macro-F1 ${cv.macroF1.toFixed(3)}, ECE ${cv.ece.toFixed(3)}, T ${cv.temperature.toFixed(2)}` : '')),
    row('theme classifier expected calibration error', 'ECE', ours.ece, old.ece, 'lower is better',
      `keywords ${kw.ece.toFixed(3)} / naive Bayes ${old.ece.toFixed(3)} / linear ${ours.ece.toFixed(3)}`),
    row(`theme classifier accuracy of auto-accepted (confidence ≥ ${threshold})`, 'share correct', ours.autoAccuracy, old.autoAccuracy, 0.95,
      `keywords ${kw.autoAccuracy.toFixed(3)} / naive Bayes ${old.autoAccuracy.toFixed(3)} / linear ${ours.autoAccuracy.toFixed(3)}`),
    row(`theme classifier share auto-accepted (confidence ≥ ${threshold})`, 'share', ours.autoShare, old.autoShare, 0.6,
      `keywords ${kw.autoShare.toFixed(3)} / naive Bayes ${old.autoShare.toFixed(3)} / linear ${ours.autoShare.toFixed(3)}`),
    row('theme classifier predict time per text', 'µs', usLinear, usNb, 'within 2× the previous',
      `median of 5 passes over ${texts.length} demo texts (as in the import); keywords ${usKw.toFixed(1)} µs / naive Bayes ${usNb.toFixed(1)} µs / linear ${usLinear.toFixed(1)} µs (with the secondary-theme pass); ` +
      `CPU time: keywords ${kwT.cpu.toFixed(1)} / naive Bayes ${nbT.cpu.toFixed(1)} / linear ${linT.cpu.toFixed(1)} µs`),
  ];
}
