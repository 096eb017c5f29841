/**
 * The figures of the verdicts on the hand-written evaluation set (never used for training): the model trained on the
 * training set, and the baseline (one point per formal sign) on the same vectors.
 */
import { EVAL_FILE, figures, judge, predictAll, readLabelled, RULES_MODEL, trainModel, vectors, corpusTemplateSizes, type Figures, type LabelledCase, type Model } from './model.js';
import { extract } from './features.js';

export interface Evaluation {
  model: Figures;
  rules: Figures;
  cv: Figures;
  weights: Model['weights'];
  errors: { label: string; predicted: string; note?: string; answer: string; reasons: string[] }[];
}

export function evaluate(model?: Model, cases: LabelledCase[] = readLabelled(EVAL_FILE())): Evaluation {
  const trained = model ? undefined : trainModel();
  const m = model ?? trained!.model;
  const sizes = corpusTemplateSizes(cases);
  const xs = vectors(cases, sizes);
  const labels = cases.map((c) => c.label);
  const predicted = predictAll(m, xs);
  const errors = cases.flatMap((c, i) => (predicted[i] === c.label ? [] : [{
    label: c.label, predicted: predicted[i], note: c.note, answer: c.answerText.slice(0, 160),
    reasons: judge(m, extract(c), sizes[i]).reasons.map((r) => r.code),
  }]));
  return {
    model: figures(labels, predicted),
    rules: figures(labels, predictAll(RULES_MODEL, xs)),
    cv: trained?.cv ?? figures([], []),
    weights: m.weights,
    errors,
  };
}
