import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoAppeals } from '../server/demo/generator.js';
import { KeywordClassifier, ThemeClassifier, type LabelledText } from '../server/intake/classifier.js';
import { LinearThemeClassifier, expectedCalibrationError, featureTokens, trainingSet } from '../server/intake/linear-classifier.js';
import { evaluate, evalSet, leafThemeKeywords, seedCorpus } from '../bench/classifier.js';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';

const keywords = leafThemeKeywords();
const leaves = keywords.map((k) => k.themeCode).sort();
const history = (count: number, seed: number): LabelledText[] =>
  [...generateDemoAppeals({ count, seed })].map((a) => ({ text: a.text, themeCode: a.themeCode }));

/** Word-set similarity of two texts (Jaccard over normalised tokens). */
function similarity(a: string, b: string): number {
  const x = new Set(featureTokens(a)), y = new Set(featureTokens(b));
  let inter = 0;
  for (const t of x) if (y.has(t)) inter++;
  return inter / Math.max(1, x.size + y.size - inter);
}

describe('evaluation set and seed corpus', () => {
  const ev = evalSet();
  const seed = seedCorpus();

  it('has ≥ 300 hand-written appeals covering every leaf theme, and a seed corpus for every leaf theme', () => {
    expect(ev.length).toBeGreaterThanOrEqual(300);
    const evThemes = new Set(ev.map((e) => e.themeCode));
    const seedThemes = new Set(seed.map((e) => e.themeCode));
    expect([...evThemes].sort()).toEqual(leaves);
    expect([...seedThemes].sort()).toEqual(leaves);
    for (const code of leaves) {
      expect(ev.filter((e) => e.themeCode === code).length, code).toBeGreaterThanOrEqual(10);
      expect(seed.filter((e) => e.themeCode === code).length, code).toBeGreaterThanOrEqual(20);
    }
  });

  it('contains no evaluation text, nor a near-copy of one, in the training data (seed corpus and demo templates)', () => {
    const demo = JSON.parse(fs.readFileSync('db/reference/rubtsovsk/demo.json', 'utf8')) as { themes: Record<string, { texts: string[] }> };
    const training = [...seed.map((s) => s.text), ...Object.values(demo.themes).flatMap((t) => t.texts.map((x) => x.replace('{address}', ' ')))]
      .map((t) => ({ t, set: new Set(featureTokens(t)) }));
    for (const e of ev) {
      const x = new Set(featureTokens(e.text));
      for (const s of training) {
        let inter = 0;
        for (const w of x) if (s.set.has(w)) inter++;
        expect(inter / Math.max(1, x.size + s.set.size - inter), `${e.text} ~ ${s.t}`).toBeLessThan(0.6);
      }
    }
    // the check can fail: an exact copy and a one-word change are caught
    expect(similarity(ev[0].text, ev[0].text)).toBe(1);
    expect(similarity('Батареи холодные уже неделю, в квартире +15', 'батареи холодные уже неделю в квартире')).toBeGreaterThanOrEqual(0.6);
  });
});

describe('linear theme classifier', () => {
  let model: LinearThemeClassifier;
  let nb: ThemeClassifier;
  const ev = evalSet();
  beforeAll(() => {
    const h = history(3000, 42);
    model = LinearThemeClassifier.train(trainingSet(seedCorpus(), h), keywords);
    nb = ThemeClassifier.train(h, keywords);
  });

  it('stays above the floor on the hand-written evaluation set and beats the previous naive Bayes and the keyword rules', () => {
    const ours = evaluate((t) => model.predict(t), ev, 0.8);
    const old = evaluate((t) => nb.predict(t), ev, 0.8);
    const kw = evaluate((t) => new KeywordClassifier(keywords).predict(t), ev, 0.8);
    console.log(`eval: linear F1 ${ours.macroF1.toFixed(3)} ECE ${ours.ece.toFixed(3)} auto ${ours.autoShare.toFixed(3)}@${ours.autoAccuracy.toFixed(3)}; ` +
      `NB F1 ${old.macroF1.toFixed(3)} ECE ${old.ece.toFixed(3)}; keywords F1 ${kw.macroF1.toFixed(3)}`);
    expect(ours.macroF1).toBeGreaterThanOrEqual(0.84);
    expect(ours.autoShare).toBeGreaterThanOrEqual(0.6);
    expect(ours.autoAccuracy).toBeGreaterThanOrEqual(0.94);
    expect(ours.ece).toBeLessThan(0.08);
    expect(ours.macroF1).toBeGreaterThan(old.macroF1 + 0.1);
    expect(ours.macroF1).toBeGreaterThan(kw.macroF1 + 0.1);
    expect(ours.ece).toBeLessThan(old.ece);
  });

  it('gets the hard cases of the review right', () => {
    expect(model.predict('Отключили воду без предупреждения, ни одного объявления в подъезде').themeCode).toBe('gkh.water');
    expect(model.predict('В ямах стоит вода, не видно глубины, пробил колесо').themeCode).toBe('roads.potholes');
    expect(model.predict('Интернет от провайдера пропал, в УК говорят не их вопрос').themeCode).toBe('comms.mobile');
    expect(model.predict('ТЕПЛА НЕТ!!! батареи холодные у всего дома, где УК???').themeCode).toBe('gkh.heating');
    expect(model.predict('бтареи не греют савсем').themeCode).toBe('gkh.heating');   // typos
  });

  it('reports cross-validated figures with a fitted temperature', () => {
    expect(model.cv).not.toBeNull();
    expect(model.cv!.folds).toBe(4);
    expect(model.cv!.n).toBeGreaterThan(500);
    expect(model.cv!.macroF1).toBeGreaterThan(0.6);
    expect(model.cv!.ece).toBeLessThan(0.1);
    expect(model.temperature).toBeGreaterThan(0.1);
    expect(model.cvAutoAccepted(0.8).share).toBeGreaterThan(0);
  });

  it('names up to two secondary themes of a text with several topics, none for a single topic', () => {
    const p = model.predict('Во дворе не вывозят мусор уже неделю, баки переполнены. А ещё на улице не горят фонари, вечером темно.');
    expect(['blag.waste', 'blag.lighting']).toContain(p.themeCode);
    expect(p.secondary.map((s) => s.themeCode)).toContain(p.themeCode === 'blag.waste' ? 'blag.lighting' : 'blag.waste');
    expect(p.secondary.length).toBeLessThanOrEqual(2);
    expect(model.predict('Фонари на улице не горят, вечером темно').secondary).toEqual([]);
  });

  it('finds the second topic of hand-written two-topic texts and rarely invents one for single-topic texts', () => {
    const multi: [string, string, string][] = [
      ['Батареи в квартире холодные уже неделю. Во дворе к тому же не горит ни один фонарь.', 'gkh.heating', 'blag.lighting'],
      ['На остановке огромная яма с водой. И автобус №3 опять не пришёл по расписанию.', 'roads.potholes', 'roads.transport'],
      ['Бродячие собаки кидаются на детей у школы! А ещё контейнеры у дома переполнены, мусор неделю не вывозят.', 'blag.animals', 'blag.waste'],
      ['Интернет пропал третий день, провайдер молчит. Кроме того, в подъезде не убирают и течёт крыша.', 'comms.mobile', 'gkh.management'],
      ['Тополь во дворе наклонился и вот-вот рухнет. Также у соседнего дома стихийная свалка строительного мусора.', 'blag.greenery', 'eco.dumps'],
      ['Светофор на перекрёстке не работает второй день; тротуары не посыпаны, люди падают на льду.', 'roads.traffic', 'roads.snow'],
      ['В поликлинике не записаться к педиатру. А в садике группа переполнена, воспитатель одна.', 'social.health', 'social.education'],
      ['Нет холодной воды с утра. Вечером ещё и свет отключили на всей улице.', 'gkh.water', 'gkh.electricity'],
    ];
    let found = 0;
    for (const [text, a, b] of multi) {
      const p = model.predict(text);
      const codes = [p.themeCode, ...p.secondary.map((x) => x.themeCode)];
      if (codes.includes(a) && codes.includes(b)) found++;
      else console.log('second topic missed:', text, codes);
    }
    expect(found).toBeGreaterThanOrEqual(5);   // measured 5 of 8: a short sentence is sometimes read as a third theme
    const invented = ev.filter((e) => model.predict(e.text).secondary.length > 0).length;
    // measured 10 of 328 (3,0 %) with the merged demo generator's history; the floor keeps it from getting worse
    expect(invented / ev.length).toBeLessThan(0.04);
  });

  it('falls back to keywords or none for unknown or empty text, and round-trips through JSON', () => {
    expect(model.predict('').source).not.toBe('model');
    expect(model.predict('12345 !!!')).toMatchObject({ themeCode: null, source: 'none' });
    const copy = LinearThemeClassifier.fromJSON(JSON.parse(JSON.stringify(model.toJSON())));
    for (const e of ev.slice(0, 40)) expect(copy.predict(e.text).themeCode).toBe(model.predict(e.text).themeCode);
    expect(() => LinearThemeClassifier.fromJSON({ format: 'x' })).toThrow();
  });

  it('learns from a person\'s corrections (weighted above imported history)', () => {
    const text = 'Шлагбаум у гаражного кооператива не открывается';
    const base = trainingSet(seedCorpus(), []);
    const corrected = trainingSet(seedCorpus(), Array.from({ length: 4 }, (_, i) => ({ text: `${text} ${['утром', 'сломался', 'застрял', 'зимой'][i]}`, themeCode: 'other.land', person: true })));
    expect(corrected.filter((s) => s.themeCode === 'other.land').length).toBe(base.filter((s) => s.themeCode === 'other.land').length + 4);
    const m = LinearThemeClassifier.train(corrected, keywords, { folds: 0 });
    expect(m.predict(text).themeCode).toBe('other.land');
  });

  it('computes the expected calibration error', () => {
    expect(expectedCalibrationError([{ confidence: 0.95, correct: true }, { confidence: 0.95, correct: false }])).toBeCloseTo(0.45, 10);
    expect(expectedCalibrationError([{ confidence: 0.25, correct: false }, { confidence: 0.85, correct: true }])).toBeCloseTo(0.2, 10);
  });
});

const IMPORT = `mutation($file: Upload!, $channel: Channel) { importAppeals(file: $file, channel: $channel) { status inserted rejected } }`;
const HEADER = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';

describe.each(backends)('classifier in the import and GraphQL on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 300);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('stores secondary themes, exposes duplicate and repeat links, and retrains with cross-validated figures', async () => {
    const csv = [
      HEADER,
      'C-1;10.03.2026 09:00;ВКонтакте;https://vk.com/id1;Во дворе огромная яма, машины не проедут;Пётр;;пр. Ленина, 85;Новый;;',
      'C-2;10.03.2026 15:00;ВКонтакте;https://vk.com/id2;Огромная яма во дворе, машины не могут проехать;Ольга;;пр. Ленина, 85;Новый;;',
      // (a repeat needs the same theme: the text names the road, so a small demo history cannot tip the model elsewhere)
      'C-3;20.03.2026 09:00;ВКонтакте;https://vk.com/id1;Яма на дороге так и не заделана! Уже вторая жалоба;Пётр;;ул. Комсомольская, 100;Новый;;',
      'C-4;21.03.2026 09:00;ВКонтакте;;Во дворе не вывозят мусор уже неделю, баки переполнены. А ещё на улице не горят фонари, вечером темно.;Анна;;;Новый;;',
    ].join('\n');
    const r = await gqlUpload(app.url, IMPORT, { channel: 'INCIDENT_MANAGEMENT' }, { name: 'c.csv', content: csv });
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals).toMatchObject({ status: 'DONE', inserted: 4 });
    const q = await app.gql(`{ appeals(filter: { text: "" }, first: 500) { edges { node { externalId theme { code } secondaryThemes { code }
      duplicateOf { externalId } repeatOf { externalId } placePrecision } } } }`);
    expect(q.errors).toBeUndefined();
    const by = new Map(q.data.appeals.edges.map((e: any) => [e.node.externalId, e.node]));
    expect((by.get('C-1') as any).theme.code).toBe('roads.potholes');
    expect((by.get('C-2') as any).duplicateOf).toEqual({ externalId: 'C-1' });
    expect((by.get('C-3') as any).repeatOf).toEqual({ externalId: 'C-1' });
    expect((by.get('C-1') as any).duplicateOf).toBeNull();
    const c4 = by.get('C-4') as any;
    const codes = [c4.theme.code, ...c4.secondaryThemes.map((t: any) => t.code)];
    expect(codes).toContain('blag.waste');
    expect(codes).toContain('blag.lighting');
    expect((by.get('C-1') as any).secondaryThemes).toEqual([]);

    const rt = await app.gql('mutation { retrainClassifier { themes features folds evaluated macroF1 accuracy calibrationError temperature threshold autoAcceptedShare autoAcceptedAccuracy } }');
    expect(rt.errors).toBeUndefined();
    const rep = rt.data.retrainClassifier;
    expect(rep.themes).toBe(26);
    expect(rep.folds).toBe(4);
    expect(rep.evaluated).toBeGreaterThan(500);
    expect(rep.macroF1).toBeGreaterThan(0.5);
    expect(rep.calibrationError).toBeLessThan(0.15);
    expect(rep.autoAcceptedAccuracy).toBeGreaterThan(0.8);
    const denied = await app.gqlAs('ANALYST' as never, 'mutation { retrainClassifier { themes } }');
    expect(denied.errors?.length).toBeGreaterThan(0);
  });
});

describe('linear classifier prediction cost', () => {
  it('the cached per-token sums give the logits of the explicit feature vector (typos, repeats, unknown words, bigrams)', () => {
    const model = LinearThemeClassifier.train(trainingSet(seedCorpus(), []), leafThemeKeywords(), { folds: 0 });
    const m = model as unknown as { featurizer: { vector(t: string): { idx: Int32Array; val: Float32Array } }; w: { W: Float32Array; b: Float64Array }; temperature: number; trainedThemes: string[] };
    const T = m.trainedThemes.length;
    const reference = (text: string) => {
      const x = m.featurizer.vector(text);
      const z = Float64Array.from(m.w.b);
      for (let k = 0; k < x.idx.length; k++) for (let t = 0; t < T; t++) z[t] += m.w.W[x.idx[k] * T + t] * x.val[k];
      const mx = Math.max(...z);
      const e = Array.from(z, (v) => Math.exp((v - mx) / m.temperature));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    };
    const texts = [
      ...evalSet().slice(0, 120).map((s) => s.text),
      'яма яма яма на дороге дороге', 'бтареи холодные холодные батареи', 'Отключили воду без предупреждения. Отключили воду!',
      'мусор мусор мусор', 'zzzz qqqq яма',
    ];
    for (const text of texts) {
      const p = model.predict(text);
      const ref = reference(text);
      const best = ref.indexOf(Math.max(...ref));
      expect(p.themeCode, text).toBe(m.trainedThemes[best]);
      expect(Math.abs(p.confidence - ref[best]), text).toBeLessThan(1e-6);
    }
  });
});
