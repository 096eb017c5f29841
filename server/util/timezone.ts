/**
 * Time-zone offsets: the one place that reads them from the runtime's time-zone data (Intl). Everything else —
 * working time, Open311's ISO times (in JS and in SQL), reports, the rating's Excel export, import of dates — asks here.
 *
 * An offset is `local wall clock − UTC`. Offsets are exact to the second, as Intl gives them: before ~1920 zones kept
 * local mean time, which is not a whole number of minutes (Europe/Moscow +2:30:17 until 1916, America/New_York
 * −4:56:02 until 1883); a caller that needs minutes says how it rounds (zoneTable: toward zero, as the ISO label
 * shows; zoneOffsetMinutes: to nearest).
 *
 * Speed: each zone's offsets over 1900–2100 are found once per process (weekly steps, each change located to the
 * millisecond by bisection; ~10 000 Intl calls, tens of milliseconds) and kept as a table of periods; an offset in that
 * range is then a comparison or a binary search, no Intl. Outside it (before 1900, where local mean times end at many
 * different dates, and after 2100) Intl is asked each time.
 */

/** The periods of a zone's offset: `from[i]` (ms since the epoch) is the first instant of offset `seconds[i]`. */
export interface ZonePeriods { from: number[]; seconds: number[] }

/**
 * The same in whole minutes (each offset truncated toward zero, as its ISO label shows it; neighbouring periods that
 * then agree are one). Before `from[0]` (1900) and after 2100 the boundary offsets hold: the table Open311's ISO times
 * use in JS and in SQL (server/open311/render.ts), so that both give the same text.
 */
export interface ZoneTable { from: number[]; minutes: number[] }

const T1900 = Date.UTC(1900, 0, 1);
const T2100 = Date.UTC(2100, 0, 1);
const WEEK = 7 * 86_400_000;
/** Zones kept at most (names are case-insensitive to Intl, so the set of accepted names is large). */
const MAX_ZONES = 500;

interface Zone { fmt: Intl.DateTimeFormat; periods: ZonePeriods; table?: ZoneTable }
/** By the zone's canonical name (Intl's resolvedOptions), so that «asia/barnaul» does not build a second table. */
const zones = new Map<string, Zone>();
/** A name as given → its zone (names are often given in their canonical form; this map only saves a lookup). */
const byName = new Map<string, Zone>();

const OFFSET = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** The offset Intl gives at instant `ms`, in seconds (throws RangeError for an invalid instant, as Intl does). */
function readOffset(fmt: Intl.DateTimeFormat, ms: number): number {
  const text = fmt.format(ms);
  const m = OFFSET.exec(text);
  if (!m) throw new Error(`unexpected time-zone offset text «${text}»`);
  if (!m[1]) return 0;
  const s = Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -s : s;
}

function zone(timeZone: string): Zone {
  let z = byName.get(timeZone);
  if (z) return z;
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  const canonical = fmt.resolvedOptions().timeZone;
  z = zones.get(canonical);
  if (z) {
    if (byName.size >= MAX_ZONES) byName.clear();
    byName.set(timeZone, z);
    return z;
  }
  const from = [T1900];
  const seconds = [readOffset(fmt, T1900)];
  let prevMs = T1900;
  let prev = seconds[0];
  for (let t = T1900 + WEEK; ; t = Math.min(t + WEEK, T2100)) {
    const off = readOffset(fmt, t);
    if (off !== prev) {
      // The first millisecond with the new offset, in (prevMs, t].
      let lo = prevMs;
      let hi = t;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (readOffset(fmt, mid) === prev) lo = mid;
        else hi = mid;
      }
      from.push(hi);
      seconds.push(off);
      prev = off;
    }
    prevMs = t;
    if (t >= T2100) break;
  }
  z = { fmt, periods: { from, seconds } };
  if (zones.size >= MAX_ZONES) zones.clear();
  if (byName.size >= MAX_ZONES) byName.clear();
  zones.set(canonical, z);
  byName.set(timeZone, z);
  return z;
}

/** Index of the period holding `t` (from[0] ≤ t); the newest period first, as most instants fall in it. */
function periodIndex(from: number[], t: number): number {
  let hi = from.length - 1;
  if (t >= from[hi]) return hi;
  let lo = 0;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (from[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Offset of `timeZone` from UTC at instant `t`, in ms, whole seconds (local wall clock = t + offset). */
export function zoneOffset(timeZone: string, t: number): number {
  const z = zone(timeZone);
  if (t >= T1900 && t < T2100) return z.periods.seconds[periodIndex(z.periods.from, t)] * 1000;
  return readOffset(z.fmt, t) * 1000;
}

/** The offset in whole minutes, rounded to the nearest (how dates read from files are placed: server/intake). */
export function zoneOffsetMinutes(timeZone: string, t: number): number {
  return Math.round(zoneOffset(timeZone, t) / 60_000);
}

/** The zone's periods over 1900–2100, to the second (one table per zone and process). */
export function zonePeriods(timeZone: string): ZonePeriods {
  return zone(timeZone).periods;
}

/** The zone's periods in whole minutes (see ZoneTable); one table per zone and process. */
export function zoneTable(timeZone: string): ZoneTable {
  const z = zone(timeZone);
  if (z.table) return z.table;
  const from: number[] = [];
  const minutes: number[] = [];
  z.periods.seconds.forEach((s, i) => {
    const m = s < 0 ? -Math.floor(-s / 60) : Math.floor(s / 60);
    if (i > 0 && m === minutes[minutes.length - 1]) return;
    from.push(z.periods.from[i]);
    minutes.push(m);
  });
  return (z.table = { from, minutes });
}

/** ±HH:MM of an offset in minutes (the ISO 8601 form: "+07:00", "-04:00"). */
export function offsetLabel(off: number): string {
  const a = Math.abs(off);
  return `${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/**
 * The local wall clock of instant `t` as a time value read in UTC: `new Date(wallClock(z, t)).getUTCHours()` is the
 * local hour (the same fields Intl shows for the zone).
 */
export function wallClock(timeZone: string, t: number): number {
  return t + zoneOffset(timeZone, t);
}

/**
 * The instant at which the local wall clock (a time value read in UTC) shows `wall`: wall − offset, with the offset
 * taken once at `wall` and corrected once at the instant found (in a gap the later offset's reading, in an overlap
 * the one the correction lands on). `offset` replaces zoneOffset where a caller rounds offsets its own way.
 */
export function wallToUtc(timeZone: string, wall: number, offset: (timeZone: string, t: number) => number = zoneOffset): number {
  return wall - offset(timeZone, wall - offset(timeZone, wall));
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The local date of an instant, "YYYY-MM-DD" (the year unpadded, as Intl writes it). */
export function localDate(timeZone: string, t: number): string {
  const d = new Date(wallClock(timeZone, t));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** The local date and time of an instant for people: «02.12.2026 10:15» (as Intl's ru-RU numeric date and time). */
export function localDateTimeText(timeZone: string, t: number): string {
  const d = new Date(wallClock(timeZone, t));
  return `${pad(d.getUTCDate())}.${pad(d.getUTCMonth() + 1)}.${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** Whether the runtime knows the IANA zone name. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}
