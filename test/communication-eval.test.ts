import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalItem } from '../server/communication/evaluate.js';
import { addressMentions, analyseAnswer, stanceOf, wrongAddress, wrongPerson } from '../server/communication/detector.js';

/**
 * The communication-error detector on the hand-written set test/fixtures/communication-eval.jsonl (132 answers,
 * written before the lexicon, and 45 holdout answers written after it), and on test/fixtures/communication-eval-2.jsonl. The floors are the figures of the first run, rounded down:
 * a change of the lexicon that makes any kind worse fails here. Figures are in docs/centre-work.md.
 */
const load = (f: string): EvalItem[] => fs.readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const items = load('communication-eval.jsonl');
/**
 * The second set (96 answers: rude, dismissive and blaming wording in varied registers, and polite answers with hard
 * negatives) was written and committed before the lexicon's stem-level patterns (version 2) and never looked at while
 * writing them, except through these aggregate figures. Stance is not labelled in it, so only wording is scored.
 */
const second = load('communication-eval-2.jsonl');

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
  // Lexicon version 2 (stem-level patterns, gaps, negation): the holdout was used to choose it, so these are not an
  // unbiased estimate any more — the second set is.
  it.each([['RUDE', 0.6], ['DISMISSIVE', 0.8], ['BLAME', 0.95]])('%s on the holdout: recall ≥ %s', (kind, r) => {
    expect(by(holdout, kind).recall).toBeGreaterThanOrEqual(r);
  });
});

describe('communication errors: the second hand-written set (written before lexicon version 2)', () => {
  const r = evaluate(second);
  const by = (k: string) => r.kinds.find((s) => s.kind === k)!;
  it('prints the figures', () => {
    const f = (x: number | null) => (x == null ? '—' : x.toFixed(2));
    console.log(`communication eval, second set (${r.items} answers)\n${r.kinds.map((s) => `${s.kind.padEnd(14)} tp ${s.tp} fp ${s.fp} fn ${s.fn}  P ${f(s.precision)}  R ${f(s.recall)}`).join('\n')}`);
    expect(r.items).toBeGreaterThanOrEqual(90);
    for (const k of ['RUDE', 'DISMISSIVE', 'BLAME']) expect(second.filter((i) => i.labels.includes(k as never)).length, k).toBeGreaterThanOrEqual(15);
    expect(second.filter((i) => !i.labels.length).length).toBeGreaterThanOrEqual(35);
  });
  // Floors below the measured figures (RUDE P 0.95 R 1.00, DISMISSIVE P 1.00 R 0.81, BLAME P 0.93 R 0.82 at the one
  // measurement; BLAME P 1.00 after the negation fix of the old patterns — see
  // docs/centre-work.md). The precision floor is the point: a false accusation of rudeness harms trust.
  it.each([['RUDE', 0.9, 0.85], ['DISMISSIVE', 0.9, 0.7], ['BLAME', 0.9, 0.7]])('%s: precision ≥ %s, recall ≥ %s', (kind, p, rc) => {
    expect(by(kind).precision).toBeGreaterThanOrEqual(p);
    expect(by(kind).recall).toBeGreaterThanOrEqual(rc);
  });
  it('at most two false alarms over all wording kinds on its 44 polite answers and the rest', () => {
    expect(r.kinds.filter((s) => ['RUDE', 'DISMISSIVE', 'BLAME'].includes(s.kind)).reduce((n, s) => n + s.fp, 0)).toBeLessThanOrEqual(2);
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
  it('stem-level patterns: any ending, a gap of words, negation, and the phrase that fired', () => {
    const kinds = (t: string) => analyseAnswer(t).map((h) => h.kind);
    // one stem, several forms; a word between the parts of an expression
    expect(kinds('Виноваты вы сами.')).toEqual(['BLAME']);
    expect(kinds('Хватит уже нам писать.')).toEqual(['RUDE']);
    const [h] = analyseAnswer('Спасибо. Это случилось по вашей собственной небрежности, мы ни при чём.');
    expect(h).toMatchObject({ kind: 'BLAME', rule: 'blame.guilty' });
    expect(h.explanation).toContain('«вашей собственной небрежности»');
    // negation and neutral use of «вина», «отказ», «обязаны»
    expect(kinds('Повреждение произошло не по вашей вине: ремонт выполнит управляющая компания.')).toEqual([]);
    expect(kinds('Вины заявителя в повреждении автомобиля не установлено.')).toEqual([]);
    expect(kinds('Собственники обязаны обеспечить доступ к стоякам (п. 34 Правил № 354); мы поможем согласовать время.')).toEqual([]);
    expect(kinds('Отказ в выдаче разрешения основан на п. 3.4 Порядка; решение можно обжаловать в течение 30 дней.')).toEqual([]);
    // «вы сами вправе …» is not blame; «вы сами сломали …» is
    expect(kinds('Вы сами вправе выбрать подрядчика на общем собрании.')).toEqual([]);
    expect(kinds('Вы сами сорвали пломбу со счётчика.')).toEqual(['BLAME']);
    // a bare formula instead of an answer; a short answer with an action is fine
    expect(analyseAnswer('Принято к сведению.')).toMatchObject([{ kind: 'DISMISSIVE', rule: 'dismissive.bare' }]);
    expect(kinds('Яма засыпана.')).toEqual([]);
    expect(kinds('Светофор отремонтирован.')).toEqual([]);
  });
});
