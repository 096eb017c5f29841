import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalItem } from '../server/communication/evaluate.js';
import { addressMentions, analyseAnswer, stanceOf, wrongAddress, wrongPerson } from '../server/communication/detector.js';

/**
 * The communication-error detector on the hand-written set test/fixtures/communication-eval.jsonl (132 answers,
 * written before the lexicon, and 45 holdout answers written after it), on test/fixtures/communication-eval-2.jsonl and on
 * the independently written test/fixtures/communication-eval-3.jsonl. The floors are the figures of the first run, rounded down:
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

/**
 * The third set (test/fixtures/communication-eval-3.jsonl, 195 answers) was written by another engineer, by hand and
 * committed BEFORE reading the detector, the lexicon or the first two sets (only the label schema was looked at): 29 rude,
 * 30 dismissive, 22 blaming answers phrased without regard to any lexicon (sarcasm, passive aggression, condescension,
 * bare formulas), 10 wrong addresses, 8 wrong addressees, 104 clean answers of which about 40 are hard negatives
 * («грубое нарушение … подрядчика», «вашей вины нет», quoted rude words, «писать повторно не нужно», other addresses of
 * offices and neighbouring houses, staff named in the text), and 6 groups of answers of two bodies to one problem.
 * It is an independent estimate and must NOT be used to tune the lexicon or the detector: the floors below are the
 * figures of the first run (docs/centre-work.md, «Независимая выборка»), rounded down, so that a change that makes
 * any kind worse on it fails here — they are not targets.
 */
const third = load('communication-eval-3.jsonl');
// Measured at the first run (lexicon version 2): RUDE P 0.86 R 0.21, DISMISSIVE P 1.00 R 0.27, BLAME P 0.77 R 0.45,
// WRONG_ADDRESS P 0.78 R 0.70, WRONG_PERSON P 1.00 R 0.88, DONE P 0.74 R 0.56, PLANNED P 0.78 R 0.54,
// NOT_PLANNED P 0.91 R 0.83, NOT_COMPETENT P 1.00 R 0.10, CONTRADICTION P 1.00 R 1.00 (3 pairs). Each floor is at most
// one answer below the figure: losing one hit (or, for BLAME and RUDE precision, one more false alarm) fails.
const FLOORS_3: [string, number, number][] = [
  ['RUDE', 0.8, 0.2], ['DISMISSIVE', 0.95, 0.25], ['BLAME', 0.75, 0.45], ['WRONG_ADDRESS', 0.75, 0.7], ['WRONG_PERSON', 0.95, 0.85],
  ['DONE', 0.7, 0.55], ['PLANNED', 0.75, 0.5], ['NOT_PLANNED', 0.9, 0.8], ['NOT_COMPETENT', 0.95, 0.1], ['CONTRADICTION', 0.95, 0.95],
];

const WORDING = ['RUDE', 'DISMISSIVE', 'BLAME'];
const wording3 = { tp: 0, fp: 0, fn: 0 };
const cleanAlarms3: string[] = [];
for (const i of third) {
  const got = analyseAnswer(i.text, { address: i.address, author: i.author }).map((h) => h.kind);
  const exp = i.labels.some((k) => WORDING.includes(k)), has = got.some((k) => WORDING.includes(k));
  if (exp && has) wording3.tp++; else if (has) wording3.fp++; else if (exp) wording3.fn++;
  if (!i.labels.length && got.length) cleanAlarms3.push(i.id);
}

describe('communication errors: the third set (written independently, before reading the detector)', () => {
  const r = evaluate(third);
  const by = (k: string) => [...r.kinds, ...r.stances, r.contradiction].find((s) => s.kind === k)!;
  it('prints the figures and has the promised composition', () => {
    const f = (x: number | null) => (x == null ? '—' : x.toFixed(2));
    const lines = [...r.kinds, ...r.stances, r.contradiction].map((s) => `${s.kind.padEnd(14)} tp ${s.tp} fp ${s.fp} fn ${s.fn}  P ${f(s.precision)}  R ${f(s.recall)}`);
    console.log(`communication eval, third set (${r.items} answers)\n${lines.join('\n')}\nerrors: ${JSON.stringify(r.errors)}`);
    expect(r.items).toBeGreaterThanOrEqual(150);
    const wording = third.filter((i) => i.labels.some((k) => ['RUDE', 'DISMISSIVE', 'BLAME'].includes(k)));
    expect(wording.length).toBeGreaterThanOrEqual(40);
    expect(third.filter((i) => !i.labels.length).length).toBeGreaterThanOrEqual(60);
    for (const k of ['RUDE', 'DISMISSIVE', 'BLAME']) expect(third.filter((i) => i.labels.includes(k as never)).length, k).toBeGreaterThanOrEqual(20);
    console.log(`third set, any of RUDE/DISMISSIVE/BLAME per answer: tp ${wording3.tp} fp ${wording3.fp} fn ${wording3.fn}; clean answers with any finding: ${cleanAlarms3.length} of ${third.filter((i) => !i.labels.length).length} (${cleanAlarms3.join(', ')})`);
  });
  // «Some wording error» regardless of its kind (a rude answer read as dismissive still reaches a person's eyes):
  // measured tp 25, fp 3, fn 48 (P 0.89, R 0.34 over 73 answers); false alarms on the clean answers: 5 of 104 (blame
  // patterns on «вашей вины нет» / «ваша вина не подтвердилась», an office or a neighbouring house read as another address).
  it('any wording error per answer, and false alarms on the clean answers', () => {
    expect(wording3.tp).toBeGreaterThanOrEqual(25);
    expect(wording3.fp).toBeLessThanOrEqual(3);
    expect(cleanAlarms3.length).toBeLessThanOrEqual(5);
  });
  it.each(FLOORS_3)('%s: precision ≥ %s, recall ≥ %s', (kind, p, rc) => {
    expect(by(kind).precision ?? 0).toBeGreaterThanOrEqual(p);
    expect(by(kind).recall ?? 0).toBeGreaterThanOrEqual(rc);
  });
});
