import { generateDemoAppeals } from '../server/demo/generator.js';
import { extract } from '../server/quality/features.js';
import { baseModel, judge, referenceThemeKeywords } from '../server/quality/model.js';
import { evaluate } from '../server/quality/evaluate.js';
import { maskAnswer, simhash, TemplateIndex } from '../server/quality/simhash.js';
import { judgeAll, judgeAppeals } from '../server/quality/service.js';
import { query } from '../server/db/sql.js';
import type { App } from '../server/app.js';
import { median, type SummaryRow } from './lib.js';

const today = () => new Date().toISOString().slice(0, 10);

/**
 * Answer quality, in process: precision, recall and F1 of FORMAL on the hand-written evaluation set (the model vs the
 * baseline rule: one point per formal sign); judging throughput on demo answers; template detection on n answers
 * (SimHash + bands vs exact duplicates of the masked text, which finds only verbatim templates).
 */
export async function benchQuality(n: number, repeats = 3): Promise<SummaryRow[]> {
  const e = evaluate();
  const rows: SummaryRow[] = [];
  const fig = (name: string, ours: number, base: number, unit: string, target: number | string, notes: string): SummaryRow =>
    ({ name, backend: 'embedded', n: e.model.n, ours, baseline: base, ratio: base ? ours / base : 0, unit, target, date: today(), notes });
  const notes = `evaluation set ${e.model.n} pairs (${e.model.tp + e.model.fn} FORMAL), hand-written, never trained on; baseline = count of formal signs; ` +
    `5-fold CV on the training set: F1 ${e.cv.f1.toFixed(3)}`;
  rows.push(fig('answer quality: precision of FORMAL', e.model.precision, e.rules.precision, 'precision', 'report', notes));
  rows.push(fig('answer quality: recall of FORMAL', e.model.recall, e.rules.recall, 'recall', 'report', notes));
  rows.push(fig('answer quality: F1 of FORMAL', e.model.f1, e.rules.f1, 'F1', 0.85, notes));

  // Throughput of judging: features + fingerprint + verdict per answer, in JS.
  const kw = referenceThemeKeywords();
  const cases = [];
  for (const a of generateDemoAppeals({ count: n, seed: 42 })) {
    if (a.answerText) cases.push({ appealText: a.text, appealAddress: a.address, themeKeywords: kw.get(a.themeCode) ?? [], answerText: a.answerText });
  }
  const model = baseModel();
  for (const c of cases.slice(0, 2000)) judge(model, extract(c), 1); // warm-up
  const judgeRates: number[] = [];
  const readRates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let t = performance.now();
    for (const c of cases) { judge(model, extract(c), 1); simhash(c.answerText); }
    judgeRates.push(cases.length / ((performance.now() - t) / 1000));
    // Peer: the masking alone (the cheapest pass over each text that the detector must make anyway).
    t = performance.now();
    let s = 0;
    for (const c of cases) s += maskAnswer(c.answerText).length;
    readRates.push(cases.length / ((performance.now() - t) / 1000) + (s < 0 ? 1 : 0));
  }
  const jr = median(judgeRates);
  rows.push({
    name: 'answer quality: judging throughput (JS)', backend: 'embedded', n: cases.length, ours: jr, baseline: median(readRates), ratio: jr / median(readRates),
    unit: 'answers/s', target: 'report', date: today(),
    notes: `baseline = masking the text only; 1 000 000 answers ≈ ${Math.round(1e6 / jr)} s of CPU`,
  });

  // Template detection on all the answers.
  const tRates: number[] = [];
  const exactRates: number[] = [];
  let near = 0, exact = 0;
  for (let r = 0; r < repeats; r++) {
    let t = performance.now();
    const idx = new TemplateIndex();
    const size = new Map<number, number>();
    for (const c of cases) { const i = idx.assign(simhash(c.answerText)); size.set(i, (size.get(i) ?? 0) + 1); }
    tRates.push(cases.length / ((performance.now() - t) / 1000));
    near = [...size.values()].filter((v) => v >= 3).reduce((a, b) => a + b, 0);
    t = performance.now();
    const byText = new Map<string, number>();
    for (const c of cases) { const k = maskAnswer(c.answerText); byText.set(k, (byText.get(k) ?? 0) + 1); }
    exactRates.push(cases.length / ((performance.now() - t) / 1000));
    exact = [...byText.values()].filter((v) => v >= 3).reduce((a, b) => a + b, 0);
  }
  rows.push({
    name: 'answer quality: template detection', backend: 'embedded', n: cases.length, ours: median(tRates), baseline: median(exactRates),
    ratio: median(tRates) / median(exactRates), unit: 'answers/s', target: 'report', date: today(),
    notes: `answers in templates of ≥ 3: near-duplicates ${near}, exact masked duplicates ${exact} (baseline = grouping by the masked text)`,
  });
  return rows;
}

/**
 * In the database: the bulk re-judge of every answered appeal (two passes, templates over the corpus) against reading
 * the same answers with one query; and the incremental path of an import chunk (1 000 answered appeals judged with
 * their template lookups), per 1 000.
 */
export async function benchQualityDb(app: App, backend: SummaryRow['backend'], n: number): Promise<SummaryRow[]> {
  const em = app.orm.em.fork();
  const mid = app.municipalityId;
  const t0 = performance.now();
  const r = await judgeAll(em, mid);
  const allS = (performance.now() - t0) / 1000;
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await query(em, `SELECT a.id, a.text, a.address, a.answer_text, t.keywords FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id
                      WHERE a.municipality_id = ? AND a.answer_text IS NOT NULL`, [mid]);
    reads.push((performance.now() - t) / 1000);
  }
  const ids = (await query<{ id: number }>(em, 'SELECT id FROM appeal WHERE municipality_id = ? AND answer_text IS NOT NULL ORDER BY id DESC LIMIT 1000', [mid])).map((x) => x.id);
  const inc: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await em.transactional((tem) => judgeAppeals(tem, mid, ids));
    inc.push(performance.now() - t);
  }
  return [{
    name: 'answer quality: re-judge all answers', backend, n, ours: r.judged / allS, baseline: r.judged / median(reads), ratio: median(reads) / allS,
    unit: 'answers/s', target: 'report', date: today(),
    notes: `${r.judged} answers in ${allS.toFixed(1)} s, ${r.formal} formal, ${r.templates} templates (largest ${r.largestTemplate}); baseline = reading them with one query`,
  }, {
    name: 'answer quality: judge an import chunk', backend, n, ours: median(inc), baseline: 0, ratio: 0, unit: 'ms per 1 000 answers', target: 'report', date: today(),
    notes: 'features, fingerprints, template lookups and upserts of 1 000 answered appeals in one transaction (the import does this after each chunk)',
  }];
}
