// The words of addresses shared by the intake's parser and the communication detector (server/util/address-words.ts).
import { describe, expect, it } from 'vitest';
import { foldRu, normalizeHouse, normalizeStreetName, ordinal, streetTypeOf, streetTypeWords, STREET_TYPES } from '../server/util/address-words.js';
import { parseAddress } from '../server/intake/address.js';
import { addressMentions, wrongAddress } from '../server/communication/detector.js';

describe('address words', () => {
  it('reads every written form of a street type as its canonical type, and no inflected form', () => {
    for (const t of STREET_TYPES) {
      for (const f of t.forms) expect(streetTypeOf(f), f).toBe(t.type);
      for (const f of t.inflected) expect(streetTypeOf(f), f).toBeNull();
    }
    expect(streetTypeOf('пр')).toBe('пр-кт');
    expect(streetTypeOf('ленина')).toBeNull();
    const words = streetTypeWords();
    expect(new Set(words).size).toBe(words.length);
  });

  it('normalises street names and houses one way', () => {
    expect(foldRu('Ёлочная')).toBe('елочная');
    expect(normalizeStreetName('им Ленина')).toBe('ленина');
    expect(normalizeStreetName('2я Пятилетка')).toBe('2-я пятилетка');
    expect(normalizeStreetName('по Калинина', new Set(['по']))).toBe('калинина');
    expect(normalizeStreetName('дом')).toBe('');
    expect(ordinal('3-ий')).toBe('3-й');
    expect(['015 А', '15а', '85a', '12 / 1', '0'].map(normalizeHouse)).toEqual(['15а', '15а', '85а', '12/1', '0']);
  });

  it('gives the intake and the detector the same street types and the same house spelling', () => {
    // «наб.» and «тупик» were the intake's only; the detector reads them from the same list now.
    expect(parseAddress('наб. Пушкина, 5')).toMatchObject({ streetType: 'наб', streetName: 'пушкина', house: '5' });
    expect(addressMentions('Работы проведены у дома 5 по наб. Пушкина.').map((m) => [m.street, m.house])).toEqual([['пушкина', '5']]);
    expect(addressMentions('Яма на тупике Садовом засыпана').length).toBe(0);
    expect(addressMentions('Тупик Садовый, 12 обследован').map((m) => [m.street, m.house])).toEqual([['садовый', '12']]);
    // A house with a leading zero is the same house in both.
    expect(parseAddress('ул. Ленина, 012')!.house).toBe('12');
    expect(wrongAddress('Светильник у дома 012 по ул. Ленина заменён.', 'ул. Ленина, 12')).toBeNull();
    expect(wrongAddress('Светильник у дома 14 по ул. Ленина заменён.', 'ул. Ленина, 12')?.kind).toBe('WRONG_ADDRESS');
  });
});
