import { describe, expect, it } from 'vitest';
import {
  isValidTimeZone, localDate, localDateTimeText, offsetLabel, wallClock, wallToUtc, zoneOffset, zoneOffsetMinutes, zonePeriods, zoneTable,
} from '../server/util/timezone.js';

/**
 * server/util/timezone.ts against the runtime's own reading of each instant (Intl's wall-clock fields, not the
 * offset text the module parses): random instants 1850–2250 (local mean times before ~1920, which are not whole
 * minutes; the module's table covers 1900–2100, Intl itself the rest), every period boundary ±1 ms and ±1 s, and
 * named DST and zone changes.
 */

const ZONES = ['Asia/Barnaul', 'Europe/Moscow', 'Europe/Kaliningrad', 'Asia/Kamchatka', 'America/New_York', 'Asia/Kolkata'];

const fields = new Map<string, Intl.DateTimeFormat>();
/** Intl's wall clock of instant t in the zone, as a time value read in UTC (whole seconds). */
function intlWall(zone: string, t: number): number {
  let f = fields.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', era: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    fields.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const x of f.formatToParts(t)) p[x.type] = x.value;
  const d = new Date(0);
  d.setUTCFullYear(p.era === 'BC' ? 1 - Number(p.year) : Number(p.year), Number(p.month) - 1, Number(p.day));
  d.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second), 0);
  return d.getTime();
}
const intlOffset = (zone: string, t: number) => intlWall(zone, t) - Math.floor(t / 1000) * 1000;

let seed = 2026;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const YEAR = 365.25 * 86_400_000;

function instants(zone: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < 1500; i++) out.push(Date.UTC(1850, 0, 1) + Math.floor(rnd() * 400 * YEAR));
  for (let i = 0; i < 300; i++) out.push(Date.UTC(1850, 0, 1) + Math.floor(rnd() * 70 * YEAR)); // more before 1920
  for (const f of zonePeriods(zone).from.slice(1)) out.push(f - 1000, f - 1, f, f + 1, f + 1000);
  out.push(Date.UTC(1900, 0, 1) - 1, Date.UTC(1900, 0, 1), Date.UTC(2100, 0, 1) - 1, Date.UTC(2100, 0, 1), -1, 0, 1);
  return out;
}

describe('time-zone offsets (server/util/timezone.ts) against Intl', () => {
  it('gives each instant the offset Intl gives, to the second (local mean time included)', () => {
    for (const zone of ZONES) {
      for (const t of instants(zone)) {
        const at = `${zone} ${new Date(t).toISOString()}`;
        expect(zoneOffset(zone, t), at).toBe(intlOffset(zone, t));
        expect(wallClock(zone, t) - (t - Math.floor(t / 1000) * 1000), at).toBe(intlWall(zone, t));
        expect(zoneOffsetMinutes(zone, t), at).toBe(Math.round(intlOffset(zone, t) / 60_000));
      }
    }
  });

  it('knows the offsets that are not whole minutes, and the named changes', () => {
    const off = (zone: string, iso: string) => zoneOffset(zone, Date.parse(iso)) / 1000;
    const hms = (h: number, m: number, s = 0) => Math.sign(h || m) * (Math.abs(h) * 3600 + Math.abs(m) * 60 + s);
    expect(off('Europe/Moscow', '1900-06-01T00:00:00Z')).toBe(hms(2, 30, 17));
    expect(off('Europe/Moscow', '1850-06-01T00:00:00Z')).toBe(hms(2, 30, 17));
    expect(off('Asia/Barnaul', '1900-06-01T00:00:00Z')).toBe(hms(5, 35));
    expect(off('America/New_York', '1850-06-01T00:00:00Z')).toBe(-hms(4, 56, 2));
    expect(off('America/New_York', '1900-06-01T00:00:00Z')).toBe(-hms(5, 0));
    expect(off('Asia/Kolkata', '1900-06-01T00:00:00Z')).toBe(hms(5, 21, 10));
    // Barnaul +06 → +07 on 27 March 2016 at 02:00 local (2016-03-26T20:00Z)
    expect(off('Asia/Barnaul', '2016-03-26T19:59:59.999Z')).toBe(hms(6, 0));
    expect(off('Asia/Barnaul', '2016-03-26T20:00:00Z')).toBe(hms(7, 0));
    // Russia's last DST change (2011-03-27) and the 2014 return; Kamchatka's and Kaliningrad's own
    expect(off('Europe/Moscow', '2011-03-26T22:59:59Z')).toBe(hms(3, 0));
    expect(off('Europe/Moscow', '2011-03-26T23:00:00Z')).toBe(hms(4, 0));
    expect(off('Europe/Moscow', '2014-10-25T21:59:59Z')).toBe(hms(4, 0));
    expect(off('Europe/Moscow', '2014-10-25T22:00:00Z')).toBe(hms(3, 0));
    expect(off('Asia/Kamchatka', '2010-11-15T00:00:00Z')).toBe(hms(11, 0));
    expect(off('Asia/Kamchatka', '2026-07-01T00:00:00Z')).toBe(hms(12, 0));
    expect(off('Europe/Kaliningrad', '2012-07-01T00:00:00Z')).toBe(hms(3, 0));
    expect(off('Europe/Kaliningrad', '2026-07-01T00:00:00Z')).toBe(hms(2, 0));
    // New York's DST in 2026 and after the table (2100: Intl is asked)
    expect(off('America/New_York', '2026-03-08T06:59:59Z')).toBe(-hms(5, 0));
    expect(off('America/New_York', '2026-03-08T07:00:00Z')).toBe(-hms(4, 0));
    expect(off('America/New_York', '2026-11-01T05:59:59Z')).toBe(-hms(4, 0));
    expect(off('America/New_York', '2026-11-01T06:00:00Z')).toBe(-hms(5, 0));
    expect(off('America/New_York', '2150-07-01T00:00:00Z')).toBe(-hms(4, 0));
    expect(zoneOffsetMinutes('Europe/Moscow', Date.parse('1900-06-01T00:00:00Z'))).toBe(150);
  });

  it('keeps one period table per zone: boundaries where Intl changes, nothing missed', () => {
    for (const zone of ZONES) {
      const { from, seconds } = zonePeriods(zone);
      expect(zonePeriods(zone)).toBe(zonePeriods(zone));
      expect(from[0]).toBe(Date.UTC(1900, 0, 1));
      for (let i = 1; i < from.length; i++) {
        expect(from[i], zone).toBeGreaterThan(from[i - 1]);
        expect(seconds[i], zone).not.toBe(seconds[i - 1]);
        expect(intlOffset(zone, from[i] - 1), zone).toBe(seconds[i - 1] * 1000);
        expect(intlOffset(zone, from[i]), zone).toBe(seconds[i] * 1000);
      }
      // Every third day over 1900–2100: no period between two boundaries that the table does not have (the table
      // samples weekly; a period shorter than that would be missed).
      for (let t = Date.UTC(1900, 0, 1) + 43_200_000; t < Date.UTC(2100, 0, 1); t += 3 * 86_400_000) {
        if (zoneOffset(zone, t) !== intlOffset(zone, t)) expect.fail(`${zone} ${new Date(t).toISOString()}`);
      }
    }
  });

  it('gives the whole-minute table and ISO labels as Intl labels the offset (seconds dropped, toward zero)', () => {
    const label = new Map(ZONES.map((z) => [z, new Intl.DateTimeFormat('en-US', { timeZone: z, timeZoneName: 'longOffset' })]));
    for (const zone of ZONES) {
      const { from, minutes } = zoneTable(zone);
      expect(zoneTable(zone)).toBe(zoneTable(zone));
      for (let i = 1; i < minutes.length; i++) expect(minutes[i], zone).not.toBe(minutes[i - 1]);
      for (const t of instants(zone).filter((x) => x >= from[0] && x < Date.UTC(2100, 0, 1))) {
        let i = from.length - 1;
        while (i > 0 && t < from[i]) i--;
        const text = label.get(zone)!.formatToParts(t).find((p) => p.type === 'timeZoneName')!.value;
        expect(`GMT${minutes[i] === 0 ? '' : offsetLabel(minutes[i])}`, `${zone} ${new Date(t).toISOString()}`).toBe(text.replace(/^(GMT[+-]\d\d:\d\d):\d\d$/, '$1'));
        expect(minutes[i]).toBe(Math.trunc(intlOffset(zone, t) / 60_000));
      }
    }
    expect(zoneTable('Europe/Moscow').minutes[0]).toBe(150); // +2:30:17 → +02:30
    expect(zoneTable('America/New_York').minutes[0]).toBe(-300);
    expect(offsetLabel(420)).toBe('+07:00');
    expect(offsetLabel(-296)).toBe('-04:56');
    expect(offsetLabel(330)).toBe('+05:30');
    expect(offsetLabel(0)).toBe('+00:00');
  });

  it('turns a local wall clock into the instant (one correction; gaps and overlaps as documented)', () => {
    for (const zone of ZONES) {
      for (let i = 0; i < 500; i++) {
        const wall = Date.UTC(1850, 0, 1) + Math.floor(rnd() * 400 * YEAR / 60_000) * 60_000;
        const t = wallToUtc(zone, wall);
        expect(t, `${zone} ${new Date(wall).toISOString()}`).toBe(wall - zoneOffset(zone, wall - zoneOffset(zone, wall)));
        // Outside a change (the offset the same an hour either side) the instant reads back as the wall clock.
        if (zoneOffset(zone, t - 3_600_000) === zoneOffset(zone, t + 3_600_000)) expect(intlWall(zone, t)).toBe(wall);
      }
    }
    const ny = (iso: string) => new Date(wallToUtc('America/New_York', Date.parse(`${iso}Z`))).toISOString();
    expect(ny('2026-07-01T09:00:00')).toBe('2026-07-01T13:00:00.000Z');
    expect(ny('2026-03-08T02:30:00')).toBe('2026-03-08T06:30:00.000Z'); // in the spring gap: 01:30 EST
    expect(ny('2026-11-01T01:30:00')).toBe('2026-11-01T05:30:00.000Z'); // in the autumn overlap: the EDT reading
    expect(new Date(wallToUtc('Europe/Moscow', Date.UTC(1900, 0, 1, 12))).toISOString()).toBe('1900-01-01T09:29:43.000Z');
    // A caller's own rounding of offsets (server/intake: whole minutes)
    const minutes = (z: string, t: number) => zoneOffsetMinutes(z, t) * 60_000;
    expect(new Date(wallToUtc('Europe/Moscow', Date.UTC(1900, 0, 1, 12), minutes)).toISOString()).toBe('1900-01-01T09:30:00.000Z');
  });

  it('writes local dates and date-times as Intl does', () => {
    const day = new Map(ZONES.map((z) => [z, new Intl.DateTimeFormat('en-CA', { timeZone: z, year: 'numeric', month: '2-digit', day: '2-digit' })]));
    const ru = new Map(ZONES.map((z) => [z, new Intl.DateTimeFormat('ru-RU', { timeZone: z, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' })]));
    for (const zone of ZONES) {
      for (const t of instants(zone).slice(0, 800)) {
        expect(localDate(zone, t)).toBe(day.get(zone)!.format(t));
        expect(localDateTimeText(zone, t)).toBe(ru.get(zone)!.format(t).replace(',', ''));
      }
    }
    expect(localDateTimeText('Asia/Barnaul', Date.parse('2026-12-02T03:15:00Z'))).toBe('02.12.2026 10:15');
    expect(localDate('Asia/Barnaul', Date.parse('2026-09-30T17:30:00Z'))).toBe('2026-10-01');
  });

  it('rejects unknown zones and invalid instants as Intl does', () => {
    expect(isValidTimeZone('Asia/Barnaul')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(() => zoneOffset('Mars/Olympus', 0)).toThrow(RangeError);
    expect(() => zoneOffset('Asia/Barnaul', NaN)).toThrow(RangeError);
    expect(() => localDateTimeText('Asia/Barnaul', NaN)).toThrow(RangeError);
  });
});
