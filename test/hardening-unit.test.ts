import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { POLYGON_LIMITS } from '../server/db/geometry.js';
import { parseDistrictCollection } from '../server/reference/districts.js';
import { parseHeatGeoJson } from '../server/heatmap/importer.js';
import { decodeText, detectEncoding } from '../server/files/encoding.js';
import fc from 'fast-check';
import { checkKeyword, KeywordPattern, UrgencyMatcher } from '../server/deadlines/rules.js';
import { KeyedSemaphore } from '../server/graphql/limits.js';

/** Pure checks of the hardening helpers (no database). */

const CENTER: [number, number] = [81.2, 51.5];
const ring = (n: number) => {
  const r = Array.from({ length: n - 1 }, (_, i) => [81.2 + 0.01 * Math.cos((2 * Math.PI * i) / (n - 1)), 51.5 + 0.01 * Math.sin((2 * Math.PI * i) / (n - 1))]);
  return [...r, r[0]];
};
const district = (code: string, n: number) => ({ type: 'Feature', properties: { name: `Район ${code}`, code }, geometry: { type: 'Polygon', coordinates: [ring(n)] } });

describe('vertex limits of polygon imports', () => {
  it('refuses a district or a ЦУР polygon with more vertices than allowed, and a file with too many in total', () => {
    const saved = { ...POLYGON_LIMITS };
    try {
      POLYGON_LIMITS.perFeature = 1000;
      POLYGON_LIMITS.perFile = 2500;
      expect(parseDistrictCollection({ type: 'FeatureCollection', features: [district('a', 900)] }, CENTER)).toHaveLength(1);
      expect(() => parseDistrictCollection({ type: 'FeatureCollection', features: [district('a', 1001)] }, CENTER))
        .toThrow(/features\[0\]\.geometry\.coordinates: слишком сложная геометрия: 1001 вершин.*POLYGON_MAX_VERTICES/);
      expect(() => parseDistrictCollection({ type: 'FeatureCollection', features: ['a', 'b', 'c'].map((c) => district(c, 900)) }, CENTER))
        .toThrow(/более 2500 вершин полигонов \(POLYGON_MAX_TOTAL_VERTICES\)/);
      // ЦУР layer: one oversized polygon is a rejected row; too many in the file refuses the file.
      const heat = (n: number, count = 1) => ({ type: 'FeatureCollection', features: Array.from({ length: count }, () => ({ type: 'Feature', properties: { weight: 1 }, geometry: { type: 'Polygon', coordinates: [ring(n)] } })) });
      const rejected: { reason: string }[] = [];
      expect(parseHeatGeoJson(JSON.stringify(heat(1001)), CENTER, (r) => rejected.push(r)).rows).toHaveLength(0);
      expect(rejected[0].reason).toMatch(/слишком сложная геометрия/);
      expect(() => parseHeatGeoJson(JSON.stringify(heat(900, 3)), CENTER, () => undefined)).toThrow(/POLYGON_MAX_TOTAL_VERTICES/);
    } finally {
      Object.assign(POLYGON_LIMITS, saved);
    }
  });
});

describe('text encoding of uploaded files', () => {
  it('tells UTF-8 (with or without BOM) from Windows-1251 and refuses the rest', () => {
    const ru = 'Номер;Текст\n1;Не вывозят мусор, ёлки\n';
    expect(detectEncoding(Buffer.from(ru), true)).toBe('utf-8');
    expect(detectEncoding(Buffer.from(`\uFEFF${ru}`), true)).toBe('utf-8');
    expect(detectEncoding(iconv.encode(ru, 'win1251'), true)).toBe('windows-1251');
    expect(decodeText(iconv.encode(ru, 'win1251')).text).toBe(ru);
    expect(() => detectEncoding(Buffer.from([0xff, 0xfe, 0x41, 0x00]), true)).toThrow(/UTF-16/);
    expect(() => detectEncoding(Buffer.from([0x41, 0x81, 0x82, 0x83, 0x84, 0x85]), true)).toThrow(/кодировка файла не распознана/);
    // A UTF-8 head cut in the middle of a letter is still UTF-8 (the file goes on).
    expect(detectEncoding(Buffer.from('ё').subarray(0, 1), false)).toBe('utf-8');
  });
});

describe('urgency keyword patterns (stored by curators, matched against every appeal text)', () => {
  it('match in linear time: consecutive stars that make RegExp backtrack polynomially cost one pass', () => {
    // Under RegExp this pattern against 20 000 «а» never finished (polynomial backtracking); a curator could store it.
    const evil = checkKeyword('а*а*а*а*а*а*а*а*б', 0);
    const text = 'а'.repeat(20_000);
    const m = new UrgencyMatcher([evil, '(а|аа)?(а|аа)?(а|аа)?в']);
    expect(m.match(text)).toBeNull();
    const p = new KeywordPattern(evil);
    expect(p.test(text)).toBe(false);
    // Bounded work: each state at most once per character.
    expect(p.steps).toBeLessThanOrEqual((text.length + 1) * 40);
    expect(p.test(`${text}б`)).toBe(true);
    expect(m.match('угроза жизни')).toBeNull();
    expect(new UrgencyMatcher(['угроз[а-я]* жизн']).match('Упала ветка: угроза жизни детей')).toBe('угроз[а-я]* жизн');
  });

  it('find the same texts as RegExp would (property test on small patterns and texts)', () => {
    const atom = fc.oneof(fc.constantFrom('а', 'б', 'в', ' ', '-', '1', '[а-б]', '[ав]', '[-а]'),
      fc.tuple(fc.constantFrom('а', 'б', 'в'), fc.constantFrom('а', 'б', 'в')).map(([x, y]) => `(${x}|${y}${x})`));
    // Quantifiers after a group or class: only those checkKeyword lets through (no nested repetition).
    const item = fc.tuple(atom, fc.constantFrom('', '', '*', '?', '*?', '??'))
      .map(([a, q]) => (a.startsWith('(') ? a + (q === '?' ? q : '') : a.startsWith('[') ? a + q.slice(0, 1) : a + q));
    const pattern = fc.array(item, { minLength: 1, maxLength: 6 }).map((x) => x.join('')).filter((p) => p.trim() !== '');
    const text = fc.array(fc.constantFrom('а', 'б', 'в', ' ', '-', '1', 'г'), { maxLength: 14 }).map((x) => x.join(''));
    fc.assert(fc.property(pattern, text, (p, t) => {
      const ok = checkKeyword(p, 0);
      expect(new KeywordPattern(ok).test(t), `${p} on «${t}»`).toBe(new RegExp(ok, 'u').test(t));
    }), { numRuns: 3000, seed: 16 });
    for (const [p, t, r] of [['(ав|б)', 'xxабв', true], ['нет отоплени', 'третий день нет отопления', true], ['а?б*в', 'г', false], ['()а', 'а', true]] as const)
      expect(new KeywordPattern(checkKeyword(p, 0)).test(t), p).toBe(r);
  });
});

describe('per-user slots of expensive GraphQL operations (KeyedSemaphore)', () => {
  it('runs at most `slots` per key at once, queues the rest in order, refuses past the queue, keys are independent', async () => {
    const sem = new KeyedSemaphore(2, 2);
    const order: string[] = [];
    const r1 = await sem.acquire('user:1');
    const r2 = await sem.acquire('user:1');
    const w3 = sem.acquire('user:1').then((r) => { order.push('3'); return r; });
    const w4 = sem.acquire('user:1').then((r) => { order.push('4'); return r; });
    await expect(sem.acquire('user:1')).rejects.toThrow(/queue full/);
    // Another user is not held up by the first one's operations.
    (await sem.acquire('user:2'))();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    r1();
    r1(); // a second release of the same slot changes nothing
    const r3 = await w3;
    expect(order).toEqual(['3']);
    r2();
    const r4 = await w4;
    expect(order).toEqual(['3', '4']);
    r3();
    r4();
    // All slots free again: two at once without waiting.
    const a = await sem.acquire('user:1');
    const b = await sem.acquire('user:1');
    a();
    b();
  });
});
