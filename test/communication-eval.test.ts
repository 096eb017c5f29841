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
  const dev = evaluate(items.filter((i) => i.split !== 'holdout'));
  const holdout = evaluate(items.filter((i) => i.split === 'holdout'));
  const all = evaluate(items);
  it('prints the figures', () => {
    const f = (x: number | null) => (x == null ? '—' : x.toFixed(2));
    for (const [name, r] of [['first set', dev], ['holdout', holdout], ['all', all]] as const) {
      const lines = [...r.kinds, ...r.stances, r.contradiction].map((s) => `${s.kind.padEnd(14)} tp ${s.tp} fp ${s.fp} fn ${s.fn}  P ${f(s.precision)}  R ${f(s.recall)}`);
      console.log(`communication eval, ${name} (${r.items} answers)\n${lines.join('\n')}\nerrors: ${JSON.stringify(r.errors)}`);
    }
    expect(all.items).toBeGreaterThanOrEqual(120);
  });
});

describe('communication errors: floors (first run, rounded down)', () => {
  const all = evaluate(items);
  const holdout = evaluate(items.filter((i) => i.split === 'holdout'));
  const by = (r: ReturnType<typeof evaluate>, k: string) => [...r.kinds, ...r.stances, r.contradiction].find((s) => s.kind === k)!;
  it.each([
    ['RUDE', 0.95, 0.7], ['DISMISSIVE', 0.95, 0.6], ['BLAME', 0.95, 0.6], ['WRONG_ADDRESS', 0.9, 0.9], ['WRONG_PERSON', 0.9, 0.9],
    ['DONE', 0.85, 0.9], ['PLANNED', 0.9, 0.75], ['NOT_PLANNED', 0.9, 0.85], ['CONTRADICTION', 0.95, 0.95],
  ])('%s on the whole set: precision ≥ %s, recall ≥ %s', (kind, p, r) => {
    expect(by(all, kind).precision).toBeGreaterThanOrEqual(p);
    expect(by(all, kind).recall).toBeGreaterThanOrEqual(r);
  });
  it('raises no false alarm on the holdout answers (every finding there is a real error)', () => {
    for (const s of holdout.kinds) expect(s.fp, s.kind).toBe(0);
  });
});

describe('communication errors: the parts', () => {
  it('reads addresses written in different ways', () => {
    expect(addressMentions('по ул. Комсомольская, 110').map((m) => [m.street, m.house])).toEqual([['комсомольская', '110']]);
    expect(addressMentions('у дома № 15 по ул. Калинина').map((m) => [m.street, m.house])).toEqual([['калинина', '15']]);
    expect(addressMentions('у дома 212 по Пролетарской').map((m) => [m.street, m.house])).toEqual([['пролетарской', '212']]);
    expect(addressMentions('Тракторная ул., 11').map((m) => [m.street, m.house])).toEqual([['тракторная', '11']]);
    expect(addressMentions('дома Карла Маркса 44').map((m) => [m.street, m.house])).toEqual([['карла маркса', '44']]);
    // «пр» starting a word and «улице» followed by prose are not addresses
    expect(addressMentions('работы произведены на вашей улице вчера')).toEqual([]);
  });
  it('explains each finding with the excerpt of the answer', () => {
    const [h] = analyseAnswer('Спасибо. Не морочьте голову, батареи у вас горячие.');
    expect(h).toMatchObject({ kind: 'RUDE', rule: 'rude.head' });
    expect(h.excerpt).toBe('Не морочьте голову, батареи у вас горячие.');
    expect(wrongAddress('Кровля дома № 45 по ул. Октябрьской отремонтирована.', 'ул. Октябрьская, 54')?.explanation).toMatch(/дома № 45 по ул\. Октябрьской.*ул\. Октябрьская, 54/);
    expect(wrongAddress('Обратитесь в МФЦ по адресу пр. Ленина, 45.', 'ул. Алтайская, 7')).toBeNull();
    expect(wrongPerson('Уважаемый Пётр Иванович! Ремонт выполнен.', 'Кузнецов Сергей Николаевич')?.explanation).toMatch(/Пётр Иванович/);
    expect(wrongPerson('Уважаемый заявитель! Ремонт выполнен.', 'Кузнецов Сергей Николаевич')).toBeNull();
    expect(stanceOf('Ремонт в 2026 году не планируется.')?.stance).toBe('NOT_PLANNED');
  });
});
