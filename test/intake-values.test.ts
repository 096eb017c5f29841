import { describe, expect, it } from 'vitest';
import { parseDate } from '../server/intake/values.js';
import { zoneOffsetMinutes } from '../server/util/timezone.js';

const iso = (d: Date | undefined) => d?.toISOString();

describe('dates: formats, time zones and bounded work', () => {
  it('parses a hostile format against a hostile value in bounded time (ReDoS of the space rule)', () => {
    const format = 'dd.MM.yyyy' + ' '.repeat(8) + 'HH:mm';
    const value = '01.02.2026' + ' '.repeat(50) + 'x';
    const t0 = performance.now();
    expect(() => parseDate(value, 'Asia/Barnaul', format)).toThrow(/формат/);
    expect(() => parseDate('1'.repeat(5000) + ' '.repeat(5000), 'Asia/Barnaul', ' d '.repeat(30))).toThrow();
    expect(performance.now() - t0).toBeLessThan(200);
    // spaces in a format still match any run of whitespace
    expect(iso(parseDate('01.02.2026   \t 10:30', 'Asia/Barnaul', format))).toBe('2026-02-01T03:30:00.000Z');
  });

  it('computes the offset for each instant, not once per calendar month (DST change inside a month)', () => {
    const la = 'America/Los_Angeles';
    // The first value of March 2020 is before the change (PST, −8), the second after it (PDT, −7).
    expect(iso(parseDate('01.03.2020 12:00', la, 'dd.MM.yyyy HH:mm'))).toBe('2020-03-01T20:00:00.000Z');
    expect(iso(parseDate('20.03.2020 12:00', la, 'dd.MM.yyyy HH:mm'))).toBe('2020-03-20T19:00:00.000Z');
    // and the other way round in November 2020
    expect(iso(parseDate('2020-11-20 12:00', la))).toBe('2020-11-20T20:00:00.000Z');
    expect(iso(parseDate('2020-11-01 00:30', la))).toBe('2020-11-01T07:30:00.000Z');
    // Barnaul moved from +06 to +07 on 27 March 2016
    expect(iso(parseDate('01.03.2016 12:00', 'Asia/Barnaul'))).toBe('2016-03-01T06:00:00.000Z');
    expect(iso(parseDate('30.03.2016 12:00', 'Asia/Barnaul'))).toBe('2016-03-30T05:00:00.000Z');
    expect(iso(parseDate('15.06.2026 12:00', 'Asia/Barnaul'))).toBe('2026-06-15T05:00:00.000Z');
    expect(zoneOffsetMinutes('Asia/Barnaul', Date.parse('2026-01-01T00:00:00Z'))).toBe(420);
  });

  it('knows the tokens d, dd, M, MM, yy, yyyy, H, HH, h + a, mm, ss', () => {
    const la = 'America/Los_Angeles';
    expect(iso(parseDate('3/8/20 1:05', la, 'M/d/yy H:mm'))).toBe('2020-03-08T09:05:00.000Z');
    expect(iso(parseDate('12/31/2019 11:59:30 PM', la, 'MM/dd/yyyy h:mm:ss a'))).toBe('2020-01-01T07:59:30.000Z');
    expect(iso(parseDate('01/01/2020 12:15 AM', la, 'MM/dd/yyyy h:mm a'))).toBe('2020-01-01T08:15:00.000Z');
    expect(iso(parseDate('01/01/2020 12:15 pm', la, 'MM/dd/yyyy h:mm a'))).toBe('2020-01-01T20:15:00.000Z');
    expect(iso(parseDate('2026-5-7 9:03', 'Asia/Barnaul', 'yyyy-M-d H:mm'))).toBe('2026-05-07T02:03:00.000Z');
    expect(iso(parseDate('07.05.2026', 'Asia/Barnaul', 'dd.MM.yyyy'))).toBe('2026-05-06T17:00:00.000Z');
    expect(() => parseDate('13/01/2020 1:00', la, 'M/d/yyyy H:mm')).toThrow(/некорректная/);
    expect(() => parseDate('1/1/2020 13:00 PM', la, 'M/d/yyyy h:mm a')).toThrow();
    expect(() => parseDate('31.02.2026', 'Asia/Barnaul', 'dd.MM.yyyy')).toThrow(/несуществующая/);
    expect(() => parseDate('x', 'Asia/Barnaul', 'dd.MM.yyyy qq')).toThrow(/qq|формат/);
  });

  it('reads ISO 8601 and Excel serial dates', () => {
    expect(iso(parseDate('2026-03-01T10:00:00+03:00', 'Asia/Barnaul'))).toBe('2026-03-01T07:00:00.000Z');
    expect(iso(parseDate('2026-03-01T10:00:00Z', 'Asia/Barnaul', 'dd.MM.yyyy'))).toBe('2026-03-01T10:00:00.000Z');
    expect(iso(parseDate(46082.5, 'Asia/Barnaul'))).toBe('2026-03-01T05:00:00.000Z');
    expect(iso(parseDate('46082.5', 'Asia/Barnaul'))).toBe('2026-03-01T05:00:00.000Z');
    expect(iso(parseDate('46082,5', 'Asia/Barnaul', 'excel'))).toBe('2026-03-01T05:00:00.000Z');
  });
});

describe('channel argument', () => {
  it('is accepted in any case and by its Russian or English alias; unknown ones are refused by name', async () => {
    const { channelCode, builtinMapping } = await import('../server/intake/mapping.js');
    expect(channelCode('social')).toBe('SOCIAL');
    expect(channelCode('SOCIAL')).toBe('SOCIAL');
    expect(channelCode('Соцсети')).toBe('SOCIAL');
    expect(channelCode('Incident-Management')).toBe('INCIDENT_MANAGEMENT');
    expect(channelCode('инцидент менеджмент')).toBe('INCIDENT_MANAGEMENT');
    expect(channelCode('Общественные обсуждения')).toBe('PUBLIC_DISCUSSION');
    expect(channelCode('official_page')).toBe('OFFICIAL_PAGE');
    expect(channelCode('toString')).toBeUndefined();
    expect(channelCode('нечто')).toBeUndefined();
    expect(builtinMapping('ПОС').channel).toBe(builtinMapping('pos').channel);
    expect(() => builtinMapping('нечто')).toThrow(/нечто/);
  });

  it('a batch that stored nothing says why', async () => {
    const { nothingStored } = await import('../server/intake/pipeline.js');
    const base = { batchId: 1, status: 'DONE' as const, inserted: 0, updated: 0, unchanged: 0, flagged: 0 };
    expect(nothingStored({ ...base, read: 0, rejected: 0, issues: [] })).toMatch(/нет ни одной записи/);
    const msg = nothingStored({ ...base, read: 3, rejected: 3, issues: [
      { line: 2, field: 'receivedAt', severity: 'ERROR', reason: '«x» не соответствует формату M/d/yy' },
      { line: 3, field: 'receivedAt', severity: 'ERROR', reason: '«y» не соответствует формату M/d/yy' },
      { line: 4, field: 'text', severity: 'ERROR', reason: 'пустой текст' },
    ] });
    expect(msg).toBe('ничего не сохранено: отклонено 3 из 3; чаще всего — receivedAt: «…» не соответствует формату M/d/yy (2); text: пустой текст (1)');
  });
});

describe('mapping: a field joined from several columns', () => {
  it('joins the non-empty values with the separator; bad specs name the mapping path', async () => {
    const { parseMapping } = await import('../server/intake/mapping.js');
    const { normalizeRecord } = await import('../server/intake/normalize.js');
    const m = parseMapping({
      channel: 'соцсети',
      fields: { externalId: 'id', receivedAt: { column: 'created', format: 'M/d/yy H:mm' }, text: { columns: ['type', 'details'] }, address: { columns: ['street', 'house'], separator: ' ' } },
    }) ;
    expect(m.fields.text).toMatchObject({ columns: ['type', 'details'], separator: '. ' });
    const row: Record<string, string> = { id: '1', created: '3/8/20 1:05', type: 'Graffiti', details: 'On the wall', street: 'ул. Ленина', house: '5' };
    const refs = { timezone: 'America/Los_Angeles', extent: { minLon: -180, minLat: -90, maxLon: 180, maxLat: 90 }, themes: new Map(), organizations: new Map() };
    const r = normalizeRecord({ line: 2, get: (c) => row[c] }, m, refs);
    expect(r.candidate).toMatchObject({ text: 'Graffiti. On the wall', address: 'ул. Ленина 5' });
    expect(r.candidate!.receivedAt.toISOString()).toBe('2020-03-08T09:05:00.000Z');
    const r2 = normalizeRecord({ line: 3, get: (c) => ({ ...row, details: '' })[c] }, m, refs);
    expect(r2.candidate!.text).toBe('Graffiti');
    expect(() => parseMapping({ fields: { externalId: 'id', receivedAt: 'd', text: { columns: [] } } })).toThrow(/columns|столбц/);
    try { parseMapping({ fields: { externalId: 'id', receivedAt: 'd', text: { columns: 'x' } } }); } catch (e) { expect((e as { field?: string }).field ?? String(e)).toMatch(/mapping\.fields\.text\.columns/); }
  });
});
