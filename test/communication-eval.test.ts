import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalItem } from '../server/communication/evaluate.js';
import { addressMentions, analyseAnswer, stanceOf, wrongAddress, wrongPerson } from '../server/communication/detector.js';

/**
 * The communication-error detector on the hand-written set test/fixtures/communication-eval.jsonl (132 answers,
 * written before the lexicon, and 45 holdout answers written after it), on test/fixtures/communication-eval-2.jsonl and on
 * test/fixtures/communication-eval-3.jsonl (written independently by another engineer, then used to develop lexicon version 3).
 * The floors are measured figures, rounded down: a change of the lexicon that makes any kind worse fails here. Figures are in
 * docs/centre-work.md.
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
  // Version 3: phrase families, each with sentences written for this test (not from an evaluation set) and a polite twin.
  it('lexicon v3: word order, condescension, forms of address, brush-offs, blame without «вина», negation after the noun', () => {
    const kinds = (t: string) => analyseAnswer(t).map((h) => h.kind);
    const rules = (t: string) => analyseAnswer(t).map((h) => h.rule);
    // word order and a gap: both orders of «нечем заняться»
    expect(kinds('Заняться вам, видимо, нечем.')).toEqual(['RUDE']);
    expect(kinds('Вам что, нечем больше заняться?')).toContain('RUDE');
    // condescension without swearing, mockery of health, bare forms of address
    expect(kinds('Вам уже русским языком объяснили, что крыша не наша.')).toContain('RUDE');
    expect(kinds('Для особо непонятливых повторяем: вывоз по вторникам.')).toEqual(['RUDE']);
    expect(kinds('Если у вас проблемы с памятью, запишите номер заявки.')).toEqual(['RUDE']);
    expect(kinds('Мужчина, вы в своём уме?')).toContain('RUDE');
    expect(kinds('Указывать будете у себя на работе.')).toEqual(['RUDE']);
    expect(kinds('Уважаемая гражданка Иванова! Ремонт выполнен 12.03.2026.')).toEqual([]);
    expect(kinds('Прочитайте внимательно пункт 5 договора: там указан порядок перерасчёта, мы поможем заполнить заявление.')).toEqual([]);
    expect(kinds('Довольны ли вы качеством уборки? Оцените, пожалуйста, по ссылке.')).toEqual([]);
    // «not ours» without an addressee; with one it is a redirect, not a brush-off
    expect(kinds('Не наша территория. Обращайтесь куда угодно.')).toEqual(['DISMISSIVE']);
    expect(kinds('Пишите в область, мы тут ни при чём.')).toEqual(['DISMISSIVE']);
    expect(stanceOf('Это уже не к нам.')?.stance).toBe('NOT_COMPETENT');
    expect(kinds('Мы передали вашу заявку в Горэлектросети по принадлежности, номер 55-12.')).toEqual([]);
    expect(kinds('Не наш участок. Его обслуживает ТСЖ «Рассвет», тел. 2-33-44.')).toEqual([]);
    expect(kinds('Просим не вмешиваться в работу оборудования.')).toEqual([]);
    expect(kinds('Работы выполнены. Точка подключения определена.')).toEqual([]);
    expect(kinds('Сделаем, когда сделаем.')).toEqual(['DISMISSIVE']);
    // a polite brush-off is one only when the answer names no date, object, reason or action anywhere (`unlessAnswer`)
    expect(rules('По вашему обращению приняты необходимые меры.')).toEqual(['dismissive.formula']);
    expect(rules('Оснований для вмешательства не усматривается.')).toEqual(['dismissive.formula']);
    expect(rules('Предложение будет учтено в дальнейшей работе.')).toEqual(['dismissive.formula']);
    expect(kinds('Меры приняты: подрядчику выдано предписание, срок устранения — до 20.05.2026.')).toEqual([]);
    expect(kinds('Обращение рассмотрено, оснований для перерасчёта нет: показания счётчика 1234 совпадают с переданными.')).toEqual([]);
    expect(kinds('Ваше обращение направлено в администрацию района, вопрос находится на контроле комитета ЖКХ.')).toEqual([]);
    // blame without «вина», «сами», «надо было»
    expect(kinds('Незачем было ставить машину на газон.')).toEqual(['BLAME']);
    expect(kinds('Стекло разбито вашим же сыном.')).toEqual(['BLAME']);
    expect(kinds('Что вам мешало закрыть кран?')).toEqual(['BLAME']);
    expect(kinds('Никто, кроме собственников, в щитовую не заходит.')).toEqual(['BLAME']);
    expect(kinds('Никто, кроме собственника, не вправе подать такое заявление (ст. 44 ЖК РФ).')).toEqual([]);
    expect(kinds('По вашей же просьбе срок перенесён на 15.04.')).toEqual([]);
    // negation after the noun
    expect(kinds('Вашей вины в повреждении двери нет: дверь сломал неизвестный, заявление подано в полицию.')).toEqual([]);
    expect(kinds('Проверка показала, что ваша вина не доказана; штраф отменён.')).toEqual([]);
    // chat past tense and colloquial future as stance
    expect(stanceOf('Лампочки в подъезде поменяли, проверьте.')?.stance).toBe('DONE');
    expect(stanceOf('Вы сами заменили радиатор без согласования.')?.stance ?? null).toBeNull();
    expect(stanceOf('Домофон починят в четверг.')?.stance).toBe('PLANNED');
  });
  it('addresses v3: a street without a type word, capitals, offices and landmarks', () => {
    expect(addressMentions('На Лесной 14 свет дали.').map((m) => [m.street, m.house])).toEqual([['лесной', '14']]);
    expect(wrongAddress('НА ЗАВОДСКОЙ 7 ТРУБУ ЗАМЕНИЛИ.', 'ул. Заводская, 17')?.kind).toBe('WRONG_ADDRESS');
    expect(wrongAddress('Трубу на Заводской 17 заменили.', 'ул. Заводская, 17')).toBeNull();
    expect(wrongAddress('Справку выдаёт отделение Пенсионного фонда — ул. Мира, 3, приём с 8 до 17.', 'ул. Заводская, 17')).toBeNull();
    expect(wrongAddress('Паспортный стол: ул. Мира, 3, тел. 2-22-22.', 'ул. Заводская, 17')).toBeNull();
    expect(wrongAddress('Ваш двор уберём сразу после окончания работ на ул. Мира, 3.', 'ул. Заводская, 17')).toBeNull();
    expect(wrongAddress('Двор на ул. Мира, 3 убран.', 'ул. Заводская, 17')?.kind).toBe('WRONG_ADDRESS');
  });
});

/**
 * The third set (test/fixtures/communication-eval-3.jsonl, 195 answers) was written by another engineer, by hand and
 * committed BEFORE reading the detector, the lexicon or the first two sets (only the label schema was looked at): 29 rude,
 * 30 dismissive, 22 blaming answers phrased without regard to any lexicon (sarcasm, passive aggression, condescension,
 * bare formulas), 10 wrong addresses, 8 wrong addressees, 104 clean answers of which about 40 are hard negatives
 * («грубое нарушение … подрядчика», «вашей вины нет», quoted rude words, «писать повторно не нужно», other addresses of
 * offices and neighbouring houses, staff named in the text), and 6 groups of answers of two bodies to one problem.
 * It was an independent estimate for lexicon version 2 (first run: docs/centre-work.md, «Независимая выборка»). Lexicon
 * version 3 was developed on its errors, so it is now a DEVELOPMENT set: its figures are optimistic and say nothing about
 * new phrasings — a held-out set by another author does. The floors below keep version 3 from getting worse on it.
 */
const third = load('communication-eval-3.jsonl');
// Lexicon version 2 (first run, independent): RUDE P 0.86 R 0.21, DISMISSIVE P 1.00 R 0.27, BLAME P 0.77 R 0.45,
// WRONG_ADDRESS P 0.78 R 0.70, WRONG_PERSON P 1.00 R 0.88, DONE P 0.74 R 0.56, PLANNED P 0.78 R 0.54,
// NOT_PLANNED P 0.91 R 0.83, NOT_COMPETENT P 1.00 R 0.10, CONTRADICTION P 1.00 R 1.00 (3 pairs).
// Lexicon version 3 (development): RUDE P 0.97 R 1.00 (29/1/0), DISMISSIVE P 1.00 R 1.00 (30/0/0), BLAME P 1.00 R 1.00
// (22/0/0), WRONG_ADDRESS P 1.00 R 0.90 (9/0/1), WRONG_PERSON P 1.00 R 0.88, DONE P 0.83 R 0.88 (50/10/7), PLANNED P 0.85
// R 0.88 (23/4/3), NOT_PLANNED P 0.92 R 1.00 (12/1/0), NOT_COMPETENT P 1.00 R 1.00 (10/0/0), CONTRADICTION 1.00 / 1.00.
// Each floor is the version 3 figure minus one answer (one more false alarm for precision, one hit fewer for recall),
// rounded down, and never below the version 2 floor: a single answer may move, two fail.
const FLOORS_3: [string, number, number][] = [
  ['RUDE', 0.93, 0.96], ['DISMISSIVE', 0.96, 0.96], ['BLAME', 0.95, 0.95], ['WRONG_ADDRESS', 0.9, 0.8], ['WRONG_PERSON', 0.95, 0.85],
  ['DONE', 0.81, 0.85], ['PLANNED', 0.82, 0.84], ['NOT_PLANNED', 0.9, 0.91], ['NOT_COMPETENT', 0.95, 0.9], ['CONTRADICTION', 0.95, 0.95],
];

const WORDING = ['RUDE', 'DISMISSIVE', 'BLAME'];

/** «Some wording error» per answer regardless of its kind (a rude answer read as dismissive still reaches a person's eyes). */
function wordingPerAnswer(items: EvalItem[]) {
  const w = { tp: 0, fp: 0, fn: 0 };
  const cleanAlarms: string[] = [];
  for (const i of items) {
    const got = analyseAnswer(i.text, { address: i.address, author: i.author }).map((h) => h.kind);
    const exp = i.labels.some((k) => WORDING.includes(k)), has = got.some((k) => WORDING.includes(k));
    if (exp && has) w.tp++; else if (has) w.fp++; else if (exp) w.fn++;
    if (!i.labels.length && got.length) cleanAlarms.push(i.id);
  }
  return { ...w, cleanAlarms };
}

/** One evaluation set reported on its own: composition, figures, the per-answer wording floors and the per-kind floors. */
function describeSet(title: string, items: EvalItem[], o: {
  minItems: number; minWording: number; minClean: number; minPerKind?: number;
  wording: { minTp: number; maxFp: number; maxCleanAlarms: number }; floors: [string, number, number][];
}) {
  describe(`communication errors: ${title}`, () => {
    const r = evaluate(items);
    const w = wordingPerAnswer(items);
    const by = (k: string) => [...r.kinds, ...r.stances, r.contradiction].find((s) => s.kind === k)!;
    it('prints the figures and has the promised composition', () => {
      const f = (x: number | null) => (x == null ? '—' : x.toFixed(2));
      const lines = [...r.kinds, ...r.stances, r.contradiction].map((s) => `${s.kind.padEnd(14)} tp ${s.tp} fp ${s.fp} fn ${s.fn}  P ${f(s.precision)}  R ${f(s.recall)}`);
      console.log(`communication eval, ${title} (${r.items} answers)\n${lines.join('\n')}\nerrors: ${JSON.stringify(r.errors)}`);
      console.log(`${title}, any of RUDE/DISMISSIVE/BLAME per answer: tp ${w.tp} fp ${w.fp} fn ${w.fn}; clean answers with any finding: ${w.cleanAlarms.length} of ${items.filter((i) => !i.labels.length).length} (${w.cleanAlarms.join(', ')})`);
      expect(r.items).toBeGreaterThanOrEqual(o.minItems);
      expect(items.filter((i) => i.labels.some((k) => WORDING.includes(k))).length).toBeGreaterThanOrEqual(o.minWording);
      expect(items.filter((i) => !i.labels.length).length).toBeGreaterThanOrEqual(o.minClean);
      if (o.minPerKind) for (const k of WORDING) expect(items.filter((i) => i.labels.includes(k as never)).length, k).toBeGreaterThanOrEqual(o.minPerKind);
    });
    it('any wording error per answer, and false alarms on the clean answers', () => {
      expect(w.tp).toBeGreaterThanOrEqual(o.wording.minTp);
      expect(w.fp).toBeLessThanOrEqual(o.wording.maxFp);
      expect(w.cleanAlarms.length).toBeLessThanOrEqual(o.wording.maxCleanAlarms);
    });
    it.each(o.floors)('%s: precision ≥ %s, recall ≥ %s', (kind, p, rc) => {
      expect(by(kind).precision ?? 0).toBeGreaterThanOrEqual(p);
      expect(by(kind).recall ?? 0).toBeGreaterThanOrEqual(rc);
    });
  });
}

// Set 3, any wording error per answer: version 2 tp 25, fp 3, fn 48 (P 0.89, R 0.34 over 73 answers), false alarms on
// the clean answers 5 of 104 (blame patterns on «вашей вины нет» / «ваша вина не подтвердилась», an office or a
// neighbouring house read as another address); version 3 tp 73, fp 0, fn 0, clean answers with any finding 0 of 104.
describeSet('the third set — development (used for v3)', third, {
  minItems: 150, minWording: 40, minClean: 60, minPerKind: 20,
  wording: { minTp: 72, maxFp: 1, maxCleanAlarms: 1 }, floors: FLOORS_3,
});

/**
 * The fourth set (test/fixtures/communication-eval-4.jsonl, 208 answers; labelling rules in
 * communication-eval-4.README.md) is HELD OUT: written blind by an engineer who read neither the detector, the lexicon
 * nor the other sets, and merged only after lexicon version 3 was finished. It is the honest estimate for version 3 and
 * must never be used to tune the lexicon (a next version needs a fifth set by another author).
 * Version 3 on it (first run): RUDE P 0.81 R 0.35 (13/3/24), DISMISSIVE P 0.70 R 0.30 (14/6/32), BLAME P 0.81 R 0.57
 * (13/3/10), WRONG_ADDRESS P 0.77 R 0.91, WRONG_PERSON P 1.00 R 0.78, DONE P 0.76 R 0.75, PLANNED P 0.75 R 0.64,
 * NOT_PLANNED P 1.00 R 0.23, NOT_COMPETENT P 0.73 R 0.57, CONTRADICTION 2/0/1; any wording error per answer tp 41 fp 7
 * fn 41 (P 0.85, R 0.50); clean answers with any finding 10 of 106.
 * The floors are those figures minus one answer: they catch a regression, they are not a goal.
 */
const fourth = load('communication-eval-4.jsonl');
const FLOORS_4: [string, number, number][] = [
  ['RUDE', 0.76, 0.32], ['DISMISSIVE', 0.66, 0.28], ['BLAME', 0.76, 0.52], ['WRONG_ADDRESS', 0.71, 0.81], ['WRONG_PERSON', 0.87, 0.66],
  ['DONE', 0.74, 0.72], ['PLANNED', 0.72, 0.61], ['NOT_PLANNED', 0.85, 0.19], ['NOT_COMPETENT', 0.66, 0.5],
];
describeSet('the fourth set — held out (blind, never used for tuning)', fourth, {
  minItems: 200, minWording: 80, minClean: 100,
  wording: { minTp: 40, maxFp: 8, maxCleanAlarms: 11 }, floors: FLOORS_4,
});
