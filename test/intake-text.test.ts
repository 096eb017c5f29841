import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { normalizeText, tokens, stems } from '../server/intake/text.js';
import { parseAddress, streetKeyLoose } from '../server/intake/address.js';
import { ThemeClassifier, KeywordClassifier, macroF1, type LabelledText, type ThemeKeywords } from '../server/intake/classifier.js';
import { generateDemoAppeals, referenceDir } from '../server/demo/generator.js';

const dir = referenceDir();
const read = <T>(f: string): T => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as T;

describe('text', () => {
  it('normalises case, ё and whitespace', () => {
    expect(normalizeText('  Ёлка  ЗЕЛЁНАЯ\n\tво   дворе ')).toBe('елка зеленая во дворе');
  });

  it('splits into words of letters and digits, drops stop words and 1-letter tokens', () => {
    const t = tokens('Здравствуйте! Пожалуйста, у нас во дворе (д. 5) уже неделю нет света, Wi-Fi тоже не ловит 4G. Спасибо, добрый день');
    expect(t).toEqual(expect.arrayContaining(['дворе', 'неделю', 'света', 'wi', 'fi', 'ловит', '4g']));
    for (const w of ['здравствуйте', 'пожалуйста', 'спасибо', 'добрый', 'день', 'у', 'во', 'нас', 'уже', 'не', 'тоже', 'д', '5']) expect(t).not.toContain(w);
    expect(tokens('')).toEqual([]);
    expect(tokens('!!! ... ---')).toEqual([]);
  });

  it('keeps meaningful words that stopwords-iso lists (вода, дорога, свет)', () => {
    expect(tokens('вода дорога свет')).toEqual(['вода', 'дорога', 'свет']);
  });

  it('stems inflected forms to one stem', () => {
    const [a, b, c] = [stems('отопления'), stems('отоплением'), stems('отопление')];
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(stems('батареи')).toEqual(stems('батарей'));   // (Snowball gives 'батаре' for 'батарея': not every pair coincides)
    expect(stems('фонари')).toEqual(stems('фонарь'));
    expect(stems('Горячей воды нет')).toEqual(stems('горячая вода'));
    expect(stems('ёлки')).toEqual(stems('елки'));
  });

  it('gives the same stems when called repeatedly (memoised)', () => {
    const s = 'Во дворе не горят фонари уже неделю';
    const first = stems(s);
    for (let i = 0; i < 100; i++) expect(stems(s)).toEqual(first);
  });
});

describe('parseAddress', () => {
  const groups: string[][] = [
    ['пр-т Ленина, 85', 'проспект Ленина д.85', 'Ленина пр., д. 85', 'г. Рубцовск, пр. Ленина, 85', 'Алтайский край, г. Рубцовск, пр-кт Ленина, дом 85, кв. 5',
      'Рубцовск, Ленина пр-т 85', '656200, Алтайский край, город Рубцовск, просп. Ленина, д. 85', 'пр.Ленина,85', 'ПР-Т ЛЕНИНА Д 85', 'Ленина проспект, д.№85', 'пр. Ленина, 85, г. Рубцовск'],
    ['ул. Комсомольская, 12а', 'Комсомольская улица д. 12 А', 'ул.Комсомольская,12-а', 'улица Комсомольская, дом 12а, кв. 7', 'ул Комсомольская 12a'],
    ['ул. Краснознамённая, 3', 'улица Краснознаменная, д.3, кв.12', 'Краснознамённая ул., 3'],
    ['ул. Карла Маркса, 7', 'Карла Маркса ул, дом 7', 'г. Рубцовск ул. Карла Маркса д. 7', 'ул. «Карла Маркса», 7'],
    ['ул. Громова, 12/1', 'г.Рубцовск ул.Громова д.12/1', 'улица Громова, дом 12 / 1'],
    ['ул. Заводская 12 корп. 2', 'ул Заводская, д. 12к2', 'ул. Заводская 12 к 2', 'Заводская улица, 12, корпус 2'],
    ['ул. Заводская, 12, стр. 1', 'Заводская ул 12с1', 'улица Заводская д. 12 строение 1'],
    ['пер. Улежникова, 5', 'переулок Улежникова д 5', 'Улежникова пер., 5'],
    ['пр. Рубцовский, 40', 'Рубцовский проспект, 40', 'Рубцовский пр-т, д.40'],
    ['мкр 5, д. 12', '5 микрорайон, 12', 'микрорайон 5, дом 12'],
    ['ул. 2-я Пятилетка 3', 'улица 2я пятилетка, 3', 'ул. 2-ая Пятилетка, д. 3'],
    ['ул. им. Дзержинского 9', 'ул. Дзержинского, 9', 'улица имени Дзержинского, д. 9'],
    ['ул. 8 Марта, 14', 'улица 8 Марта д.14'],
    ['б-р Победы 1', 'бульвар Победы, д.1'],
    ['пр-д Заводской 3', 'Заводской проезд, 3'],
    ['пл. Победы, 1', 'площадь Победы, д. 1'],
    ['ш. Змеиногорское 10', 'Змеиногорское шоссе, 10'],
    ['тупик Садовый 2', 'туп. Садовый, д. 2'],
    ['кв-л Южный 3', 'квартал Южный, д. 3'],
    ['наб. Алейская 4', 'набережная Алейская, 4'],
    ['ул. Ленина 85a', 'улица Лeнина, 85а'],  // Latin a; Latin e inside the Cyrillic name
  ];
  for (const g of groups) {
    it(`one key for: ${g[0]}`, () => {
      const keys = g.map((a) => parseAddress(a)?.key);
      expect(keys[0]).toBeTruthy();
      expect(new Set(keys), JSON.stringify(g.map((a, i) => [a, keys[i]]))).toEqual(new Set([keys[0]]));
    });
  }

  it('gives canonical parts', () => {
    expect(parseAddress('г. Рубцовск, пр. Ленина, 85')).toEqual({ streetType: 'пр-кт', streetName: 'ленина', house: '85', streetKey: 'пр-кт|ленина', key: 'пр-кт|ленина|85' });
    expect(parseAddress('Заводская ул 12 корп 2')?.house).toBe('12к2');
    expect(parseAddress('ул. Заводская, 12 стр. 1')?.house).toBe('12с1');
    expect(parseAddress('ул. Громова 85 А')?.house).toBe('85а');
    expect(parseAddress('ул. 2-я Пятилетка')?.streetName).toBe('2-я пятилетка');
    expect(parseAddress('ул. 40 лет Октября')).toMatchObject({ streetType: 'ул', streetName: '40 лет октября', house: null, key: null });
    expect(parseAddress('мкр. 5')).toMatchObject({ streetType: 'мкр', streetName: '5', house: null });
    const types: [string, string][] = [['ул. Мира', 'ул'], ['пр. Мира', 'пр-кт'], ['пер. Мира', 'пер'], ['б-р Мира', 'б-р'], ['пл. Мира', 'пл'], ['ш. Мира', 'ш'],
      ['проезд Мира', 'проезд'], ['тупик Мира', 'туп'], ['мкр Мира', 'мкр'], ['кв-л Мира', 'кв-л'], ['наб. Мира', 'наб'], ['Мира ул.', 'ул'], ['Мира пр-д', 'проезд']];
    for (const [a, t] of types) expect(parseAddress(a)?.streetType, a).toBe(t);
  });

  it('keeps the street without a type and matches it loosely', () => {
    const bare = parseAddress('Локомотивная, 15')!;
    expect(bare).toMatchObject({ streetType: null, streetName: 'локомотивная', house: '15', streetKey: '|локомотивная', key: '|локомотивная|15' });
    expect(streetKeyLoose(bare.streetKey)).toBe(streetKeyLoose(parseAddress('ул. Локомотивная, 15')!.streetKey));
    expect(streetKeyLoose('пр-кт|ленина')).toBe('ленина');
  });

  it('returns null for junk', () => {
    for (const junk of ['', '   ', '85', '---', '12/1', '!!! ???', '656200', 'д. 85', 'г. Рубцовск', 'Алтайский край, г. Рубцовск']) expect(parseAddress(junk), junk).toBeNull();
  });

  it('normalises every demo street in its variants to one key', () => {
    const { streets } = read<{ streets: { name: string }[] }>('demo.json');
    const full: Record<string, string> = { 'ул.': 'улица', 'пр.': 'проспект', 'пер.': 'переулок' };
    expect(streets.length).toBeGreaterThan(15);
    for (const { name } of streets) {
      const [abbr, ...rest] = name.split(' ');
      const bare = rest.join(' ');
      expect(full[abbr], name).toBeDefined();
      const variants = [`${name}, 17`, `г. Рубцовск, ${name}, д. 17`, `${full[abbr]} ${bare}, дом 17, кв. 3`, `${bare} ${abbr} 17`, `${bare} ${full[abbr]}, д.17`,
        `Алтайский край, Рубцовск, ${name.replace('ё', 'е')} 17`];
      const keys = new Set(variants.map((v) => parseAddress(v)?.key));
      expect(keys.size, `${name}: ${[...keys].join(' / ')}`).toBe(1);
      expect([...keys][0]).toMatch(/\|17$/);
    }
  });

  it('parses the addresses of generated appeals', () => {
    let n = 0;
    for (const a of generateDemoAppeals({ count: 2000, seed: 3 })) {
      if (!a.address) continue;
      const p = parseAddress(a.address);
      expect(p?.key, a.address).toBeTruthy();
      n++;
    }
    expect(n).toBeGreaterThan(1500);
  });
});

describe('classifier', () => {
  const themes = read<{ code: string; parentCode: string | null; keywords: string[] }[]>('themes.json');
  const parents = new Set(themes.map((t) => t.parentCode).filter((c) => c !== null));
  const keywords: ThemeKeywords[] = themes.filter((t) => !parents.has(t.code)).map((t) => ({ themeCode: t.code, keywords: t.keywords }));
  function* labelled(count: number, seed: number): Generator<LabelledText> {
    for (const a of generateDemoAppeals({ count, seed })) yield { text: a.text, themeCode: a.themeCode };
  }
  let model: ThemeClassifier;
  let test: LabelledText[];
  beforeAll(() => {
    model = ThemeClassifier.train(labelled(20_000, 1), keywords);
    test = [...labelled(5_000, 2)];
  });

  it('learns every leaf theme', () => {
    expect(model.trainedThemes.sort()).toEqual(keywords.map((k) => k.themeCode).sort());
  });

  it('scores macro-F1 ≥ 0.97 on held-out demo texts; keyword rules score lower but non-trivially', () => {
    const ours = macroF1(test.map((s) => ({ expected: s.themeCode, predicted: model.predict(s.text).themeCode })));
    const rules = new KeywordClassifier(keywords);
    const base = macroF1(test.map((s) => ({ expected: s.themeCode, predicted: rules.predict(s.text).themeCode })));
    console.log(`macro-F1: model ${ours.macroF1.toFixed(4)} (accuracy ${ours.accuracy.toFixed(4)}), keywords ${base.macroF1.toFixed(4)} (accuracy ${base.accuracy.toFixed(4)})`);
    // measured: model 0.999, keywords ≈ 0.75 (demo texts are templated, so the model nearly memorises them)
    expect(ours.macroF1).toBeGreaterThanOrEqual(0.97);
    expect(Object.keys(ours.perTheme).length).toBe(keywords.length);
    expect(base.macroF1).toBeGreaterThan(0.55);
    expect(base.macroF1).toBeLessThan(ours.macroF1 - 0.1);
  });

  it('predicts the obvious cases', () => {
    const light = model.predict('Во дворе не горят фонари уже неделю');
    expect(light).toMatchObject({ themeCode: 'blag.lighting', source: 'model' });
    expect(light.confidence).toBeGreaterThan(0.5);
    expect(light.confidence).toBeLessThanOrEqual(1);
    expect(model.predict('Нет горячей воды и батареи холодные')).toMatchObject({ themeCode: 'gkh.heating', source: 'model' });
    const rules = new KeywordClassifier(keywords);
    expect(rules.predict('Во дворе не горят фонари уже неделю').themeCode).toBe('blag.lighting');
    expect(rules.predict('Нет горячей воды и батареи холодные').themeCode).toBe('gkh.heating');
  });

  it('returns source none for empty or garbage text', () => {
    for (const t of ['', '   ', '!!! ???', '12345 678', 'qwzx vbnm', 'Здравствуйте, спасибо!']) {
      expect(model.predict(t), t).toEqual({ themeCode: null, confidence: 0, source: 'none', alternatives: [] });
    }
  });

  it('falls back to keywords without a trained model, capped at 0.6', () => {
    const empty = ThemeClassifier.train([], keywords);
    expect(empty.trainedThemes).toEqual([]);
    const p = empty.predict('Третью неделю не вывозят мусор, контейнеры переполнены');
    expect(p).toMatchObject({ themeCode: 'blag.waste', source: 'keywords' });
    expect(p.confidence).toBeGreaterThan(0);
    expect(p.confidence).toBeLessThanOrEqual(0.6);
    // two-word keyword on adjacent stems
    expect(new KeywordClassifier([{ themeCode: 'x', keywords: ['детская площадка'] }, { themeCode: 'y', keywords: ['площадка'] }])
      .predict('Сломана детская площадка').themeCode).toBe('x');
    // unknown stems in a trained model also fall back to keywords
    const small = ThemeClassifier.train([{ text: 'фонарь не горит', themeCode: 'blag.lighting' }], keywords, { minDocsPerTheme: 1 });
    expect(small.predict('Яма на асфальте').source).toBe('keywords');
    expect(small.predict('Яма на асфальте').themeCode).toBe('roads.potholes');
  });

  it('drops themes with too few texts', () => {
    const m = ThemeClassifier.train([
      { text: 'фонарь не горит', themeCode: 'a' }, { text: 'фонари не горят', themeCode: 'a' }, { text: 'яма на дороге', themeCode: 'b' },
    ], [], { minDocsPerTheme: 2 });
    expect(m.trainedThemes).toEqual(['a']);
  });

  it('round-trips through JSON with identical predictions', () => {
    const copy = ThemeClassifier.fromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    expect(copy.trainedThemes).toEqual(model.trainedThemes);
    for (const s of test.slice(0, 1000)) expect(copy.predict(s.text)).toEqual(model.predict(s.text));
    for (const t of ['', 'Яма на асфальте', 'Во дворе не горят фонари уже неделю']) expect(copy.predict(t)).toEqual(model.predict(t));
    expect(() => ThemeClassifier.fromJSON({ foo: 1 })).toThrow();
  });

  it('computes macro-F1 like scikit-learn', () => {
    const r = macroF1([
      { expected: 'a', predicted: 'a' }, { expected: 'a', predicted: 'b' }, { expected: 'b', predicted: 'b' }, { expected: 'b', predicted: null },
    ]);
    // a: P 1, R 0.5, F1 2/3; b: P 0.5, R 0.5, F1 0.5
    expect(r.accuracy).toBe(0.5);
    expect(r.perTheme.a).toEqual({ precision: 1, recall: 0.5, f1: 2 / 3, support: 2 });
    expect(r.perTheme.b).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(r.macroF1).toBeCloseTo((2 / 3 + 0.5) / 2, 12);
    expect(macroF1([])).toEqual({ macroF1: 0, accuracy: 0, perTheme: {} });
  });

  it('predicts fast enough (informational; the bench measures it properly)', () => {
    const texts = test.map((s) => s.text);
    const t0 = performance.now();
    for (const t of texts) model.predict(t);
    const perSecond = texts.length / ((performance.now() - t0) / 1000);
    console.log(`predict: ${Math.round(perSecond)} texts/s`);
    expect(perSecond).toBeGreaterThan(2_000);   // lenient: the target (10 000/s) is checked by bench/classifier.ts
  });
});
