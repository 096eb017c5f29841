import fs from 'node:fs';
import path from 'node:path';
import { generateDemoAppeals, referenceDir } from '../server/demo/generator.js';
import { KeywordClassifier, ThemeClassifier, macroF1, type LabelledText, type ThemeKeywords } from '../server/intake/classifier.js';
import type { SummaryRow } from './lib.js';

/** Keywords of the leaf themes in db/reference/rubtsovsk/themes.json. */
export function leafThemeKeywords(): ThemeKeywords[] {
  const themes = JSON.parse(fs.readFileSync(path.join(referenceDir(), 'themes.json'), 'utf8')) as { code: string; parentCode: string | null; keywords: string[] }[];
  const parents = new Set(themes.map((t) => t.parentCode).filter((c): c is string => c !== null));
  return themes.filter((t) => !parents.has(t.code)).map((t) => ({ themeCode: t.code, keywords: t.keywords }));
}

function* labelled(count: number, seed: number): Generator<LabelledText> {
  for (const a of generateDemoAppeals({ count, seed })) yield { text: a.text, themeCode: a.themeCode };
}

/**
 * Theme classifier quality on demo appeals: Naive Bayes trained on n·0.8 texts (seed 42), tested on
 * n·0.2 texts of another seed (4242); baseline = the keyword rules alone. DB-independent.
 */
export async function benchClassifier(n = 100_000): Promise<SummaryRow[]> {
  const keywords = leafThemeKeywords();
  const t0 = performance.now();
  const model = ThemeClassifier.train(labelled(Math.round(n * 0.8), 42), keywords);
  const trainS = (performance.now() - t0) / 1000;
  const test = [...labelled(Math.round(n * 0.2), 4242)];
  const rules = new KeywordClassifier(keywords);

  for (const s of test.slice(0, 1000)) model.predict(s.text);   // warm-up (stem cache, JIT)
  const predicted: (string | null)[] = new Array(test.length);
  const t1 = performance.now();
  for (let i = 0; i < test.length; i++) predicted[i] = model.predict(test[i].text).themeCode;
  const predictS = (performance.now() - t1) / 1000;
  const ours = macroF1(test.map((s, i) => ({ expected: s.themeCode, predicted: predicted[i] })));
  const base = macroF1(test.map((s) => ({ expected: s.themeCode, predicted: rules.predict(s.text).themeCode })));

  const perSecond = test.length / predictS;
  return [{
    name: 'theme classifier macro-F1 (held-out)',
    backend: 'embedded',
    n,
    ours: ours.macroF1,
    baseline: base.macroF1,
    ratio: base.macroF1 > 0 ? ours.macroF1 / base.macroF1 : 0,
    unit: 'macro-F1',
    target: 'report',
    date: new Date().toISOString().slice(0, 10),
    notes: `n/a (in-process); accuracy ${ours.accuracy.toFixed(3)} (keywords ${base.accuracy.toFixed(3)}); ` +
      `predict ${Math.round(perSecond).toLocaleString('en-US')} texts/s; train ${trainS.toFixed(1)} s on ${Math.round(n * 0.8).toLocaleString('en-US')}, ` +
      `${model.trainedThemes.length} themes, ${model.vocabularySize.toLocaleString('en-US')} features; ` +
      'demo texts are templated — real data will score lower',
  }];
}
