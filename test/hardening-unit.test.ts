import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { POLYGON_LIMITS } from '../server/db/geometry.js';
import { parseDistrictCollection } from '../server/reference/districts.js';
import { parseHeatGeoJson } from '../server/heatmap/importer.js';
import { decodeText, detectEncoding } from '../server/files/encoding.js';

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
