import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { scopeSql, type RowScope } from '../auth/scope.js';
import { ForbiddenError } from '../auth/checker.js';
import { parseIds } from '../graphql/ids.js';
import {
  DEFAULT_SETTINGS, detectDaily, detectWeekly, episodes, farringtonYears, weekdayFactors, type RiskSettings, type SeriesPoint,
} from './detect.js';
import { farringtonFirstIndex } from './farrington.js';
import { earsFirstIndex } from './ears.js';
import { escalationMentions, ESCALATION_PATTERNS } from './escalation.js';
import {
  RISK_KIND_LABELS, RISK_STATUS_LABELS, RISK_TRANSITIONS, RiskKind, RiskStatus, type RiskPoint, type RiskRelatedProblem, type RiskRun,
  type RiskSignal, type RiskSignalConnection, type RiskSignalFilter, RiskGranularity, RiskSeriesKind,
} from './types.js';

const DAY = 86_400_000;
const MAX_PAGE = 500;
const MAX_APPEALS = 1000;
const MAX_COMMENT = 2000;
/** Channels where stories spread in public (share on the card, PUBLIC_OVERDUE rule). */
export const SOCIAL_CHANNELS = ['SOCIAL', 'MESSENGER'];
export const PUBLIC_CHANNELS = ['SOCIAL', 'MESSENGER', 'OFFICIAL_PAGE'];
/** Grid of the «same place» rule: ~280 m × 280 m at Rubtsovsk's latitude. */
const CELL_LON = 0.004;
const CELL_LAT = 0.0025;

export const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10);
export const dayDiff = (a: string, b: string) => Math.round((Date.parse(`${a}T00:00:00Z`) - Date.parse(`${b}T00:00:00Z`)) / DAY);
/** A real calendar day written YYYY-MM-DD. */
export function validDay(v: unknown): v is string {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const t = Date.parse(`${v}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === v;
}
/** 0 = Monday. */
const weekday = (d: string) => (new Date(`${d}T00:00:00Z`).getUTCDay() + 6) % 7;
const fmt = (x: number, digits = 1) => x.toLocaleString('ru-RU', { maximumFractionDigits: digits });

interface SeriesInfo { seriesKind: RiskSeriesKind; key: string; districtId: number | null; themeId: number | null; organizationId: number | null; channel: string | null }

/** A signal found by a run, before it is merged with the stored ones. */
interface Candidate extends SeriesInfo {
  kind: RiskKind;
  granularity: RiskGranularity;
  method: string;
  methodNote: string;
  startedOn: string;
  lastOn: string;
  observed: number;
  expected: number | null;
  upperbound: number | null;
  series: RiskPoint[];
  appealIds: number[];
  details: Record<string, unknown>;
  /** How to find the appeals behind a count signal. */
  appealsFrom?: string;
  appealsTo?: string;
}

export interface RunOptions {
  mode?: 'FULL' | 'INCREMENTAL';
  /** INCREMENTAL: the local days (YYYY-MM-DD) whose appeals changed. */
  days?: string[];
  /** Data as of this local day (default: the day of the latest appeal). */
  asOf?: string;
  settings?: Partial<RiskSettings>;
}

export interface RunResult { timings: Record<string, number>; runId: number; asOf: string | null; series: number; created: number; updated: number; notes: string[]; ms: number; signalIds: number[] }

interface StoredRow {
  id: number; kind: RiskKind; series_key: string; granularity: RiskGranularity; started_on: string; last_on: string; status: RiskStatus;
  observed: number; expected: number | null; upperbound: number | null; appeal_ids: number[]; series: RiskPoint[]; details: Record<string, unknown>;
}

export class RiskService {
  private readonly municipalityId: number;
  constructor(private readonly em: EntityManager, private readonly who: AuditActor & { actor: string; scope?: RowScope }) {
    this.municipalityId = who.municipalityId;
  }

  private async timezone(): Promise<string> {
    const [m] = await query<{ timezone: string }>(this.em, 'SELECT timezone FROM municipality WHERE id = ?', [this.municipalityId]);
    if (!m) throw new InputError('municipalityId', 'муниципалитет не найден');
    return m.timezone;
  }

  /** Runs detection (full: the last windowDays days and windowWeeks weeks; incremental: the given days only) and stores signals. */
  async run(opts: RunOptions = {}): Promise<RunResult> {
    const t0 = performance.now();
    const s: RiskSettings = { ...DEFAULT_SETTINGS, ...opts.settings };
    const mode = opts.mode ?? 'FULL';
    const tz = await this.timezone();
    const notes: string[] = [];
    const timings: Record<string, number> = {};
    let tp = performance.now();
    const lap = (name: string) => { const t = performance.now(); timings[name] = Math.round((timings[name] ?? 0) + t - tp); tp = t; };
    const [span] = await query<{ first: string | null; last: string | null }>(this.em,
      `SELECT to_char(min(received_at) AT TIME ZONE ?, 'YYYY-MM-DD') AS first, to_char(max(received_at) AT TIME ZONE ?, 'YYYY-MM-DD') AS last
         FROM appeal WHERE municipality_id = ?`, [tz, tz, this.municipalityId]);
    if (opts.asOf != null && !validDay(opts.asOf)) throw new InputError('asOf', `дата ожидается в виде ГГГГ-ММ-ДД, получено «${String(opts.asOf).slice(0, 40)}»`);
    const finish = async (asOf: string | null, series: number, cands: Candidate[]) => {
      lap('before store');
      const stored = await this.store(cands, s);
      lap('store');
      const ms = Math.round(performance.now() - t0);
      const [r] = await query<{ id: number }>(this.em,
        `INSERT INTO risk_run (municipality_id, mode, actor, ms, as_of, series, created, updated, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb) RETURNING id`,
        [this.municipalityId, mode, this.who.actor, ms, asOf, series, stored.created, stored.updated, JSON.stringify(notes)]);
      return { timings, runId: r.id, asOf, series, created: stored.created, updated: stored.updated, notes, ms, signalIds: stored.ids };
    };
    if (!span?.first || !span.last) {
      notes.push('Нет ни одного обращения: выявлять нечего.');
      return finish(null, 0, []);
    }
    const asOf = opts.asOf ?? span.last;
    if (asOf < span.first) {
      notes.push(`Период пуст: обращения начинаются с ${span.first}, а расчёт запрошен по ${asOf}.`);
      return finish(asOf, 0, []);
    }
    const winFrom = addDays(asOf, -(s.windowDays - 1));
    let evalDays: string[];
    if (mode === 'INCREMENTAL') {
      const given = [...new Set(opts.days ?? [])].filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d));
      evalDays = given.filter((d) => d >= winFrom && d <= asOf).sort();
      if (!evalDays.length) notes.push('Импорт не затронул последние дни: ежедневные ряды не пересчитывались.');
    } else {
      evalDays = Array.from({ length: s.windowDays }, (_, i) => addDays(winFrom, i));
    }
    const cands: Candidate[] = [];
    let seriesCount = 0;
    const names = await this.names();

    // ---- daily counts: one GROUP BY over the appeals of the period (index-only over appeal_risk_idx)
    const first = earsFirstIndex(s.earsMethod, s.earsBaseline);
    const histFrom = evalDays.length ? addDays(evalDays[0], -Math.max(s.chartDays, 56 + first, 30)) : asOf;
    const nDays = dayDiff(asOf, histFrom) + 1;
    const historyDays = dayDiff(asOf, span.first) + 1;
    const weeklyNote = this.weeklyAvailability(span.first, asOf, s);
    const earsNote = `EARS ${s.earsMethod} по дням: база ${s.earsBaseline} дн.${s.earsMethod === 'C1' ? ' (сразу перед днём)' : ' (t−9…t−3, с защитным промежутком 2 дня)'}, α = ${fmt(s.earsAlpha, 4)}, σ не меньше ${fmt(s.earsMinSigma)}${s.earsPoissonSigma ? ' и не меньше √ожидаемого (разброс пуассоновского счёта)' : ''}, не меньше ${s.minCount} обращений в день; поправка на день недели по всему городу.`
      + (weeklyNote.available ? '' : ` ${weeklyNote.text}`);
    if (!weeklyNote.available) notes.push(weeklyNote.text);
    if (evalDays.length) {
      const rows = await query<{ d: number; district_id: number | null; theme_id: number | null; organization_id: number | null; channel: string | null; g: number; n: number }>(this.em,
        `SELECT s.d, s.district_id, s.theme_id, s.organization_id, s.channel,
                GROUPING(s.district_id, s.theme_id, s.organization_id, s.channel)::int AS g, count(*)::int AS n
           FROM (SELECT ((a.received_at AT TIME ZONE ?)::date - ?::date) AS d, a.district_id, a.theme_id, a.organization_id, a.channel
                   FROM appeal a
                  WHERE a.municipality_id = ? AND a.received_at >= (?::date::timestamp AT TIME ZONE ?) AND a.received_at < (?::date::timestamp AT TIME ZONE ?)) s
          GROUP BY GROUPING SETS ((s.d, s.district_id, s.theme_id), (s.d, s.theme_id), (s.d, s.organization_id), (s.d, s.channel), (s.d))`,
        [tz, histFrom, this.municipalityId, histFrom, tz, addDays(asOf, 1), tz]);
      lap('daily counts');
      const series = new Map<string, { info: SeriesInfo; y: Float64Array }>();
      const total = new Float64Array(nDays);
      const put = (info: SeriesInfo, d: number, n: number) => {
        let e = series.get(info.key);
        if (!e) { e = { info, y: new Float64Array(nDays) }; series.set(info.key, e); }
        e.y[d] += n;
      };
      for (const r of rows) {
        if (r.d < 0 || r.d >= nDays) continue;
        if (r.g === 15) total[r.d] += r.n;
        else if (r.g === 3 && r.district_id != null && r.theme_id != null) put({ seriesKind: RiskSeriesKind.DISTRICT_THEME, key: `dt:${r.district_id}:${r.theme_id}`, districtId: r.district_id, themeId: r.theme_id, organizationId: null, channel: null }, r.d, r.n);
        else if (r.g === 11 && r.theme_id != null) put({ seriesKind: RiskSeriesKind.THEME, key: `t:${r.theme_id}`, districtId: null, themeId: r.theme_id, organizationId: null, channel: null }, r.d, r.n);
        else if (r.g === 13 && r.organization_id != null) put({ seriesKind: RiskSeriesKind.ORGANIZATION, key: `o:${r.organization_id}`, districtId: null, themeId: null, organizationId: r.organization_id, channel: null }, r.d, r.n);
        else if (r.g === 14 && r.channel != null) put({ seriesKind: RiskSeriesKind.CHANNEL, key: `c:${r.channel}`, districtId: null, themeId: null, organizationId: null, channel: r.channel }, r.d, r.n);
      }
      const dayOf = (i: number) => addDays(histFrom, i);
      const factors = weekdayFactors(total, (i) => weekday(dayOf(i)), nDays);
      const factor = (i: number) => factors[weekday(dayOf(i))];
      const firstDataIdx = dayDiff(span.first, histFrom);
      const at = evalDays.map((d) => dayDiff(d, histFrom)).filter((i) => i - Math.max(0, firstDataIdx) >= first);
      if (at.length < evalDays.length) {
        notes.push(`История ${historyDays} дн. короче, чем нужно EARS ${s.earsMethod} (${first + 1} дн.): ${evalDays.length - at.length} из ${evalDays.length} дней не проверены.`);
      }
      for (const { info, y } of series.values()) {
        let any = false;
        for (const i of at) if (y[i] >= s.minCount) { any = true; break; }
        seriesCount++;
        if (!any) continue;
        const pts = detectDaily(y, at, s, factor);
        for (const ep of episodes(pts, 1)) {
          const chartFrom = Math.max(first, ep.to - s.chartDays + 1, Math.max(0, firstDataIdx) + first);
          const chartIdx = Array.from({ length: Math.max(0, Math.min(nDays - 1, Math.max(ep.to, at[at.length - 1])) - chartFrom + 1) }, (_, k) => chartFrom + k);
          const chart = detectDaily(y, chartIdx, s, factor);
          const total = ep.points.reduce((a, p) => a + p.y, 0);
          const totalExpected = ep.points.reduce((a, p) => a + (p.e ?? 0), 0);
          cands.push({
            ...info, kind: RiskKind.COUNT, granularity: RiskGranularity.DAY, method: `EARS_${s.earsMethod}`, methodNote: earsNote,
            startedOn: dayOf(ep.from), lastOn: dayOf(ep.to), observed: ep.peak.y, expected: round(ep.peak.e), upperbound: round(ep.peak.u),
            series: chart.map((p) => point(dayOf(p.i), p)), appealIds: [],
            details: { peakDay: dayOf(ep.peak.i), alarmDays: ep.points.length, episodeObserved: total, episodeExpected: round(totalExpected), weekdayFactor: round(factor(ep.peak.i)) },
            appealsFrom: dayOf(ep.from), appealsTo: dayOf(ep.to),
          });
        }
      }
      lap('daily detection');
      // «Резонанс» rules over the last days' appeals
      cands.push(...await this.rules(tz, asOf, evalDays, s, series, histFrom, lap));
    }

    // ---- weekly counts with the seasonal baseline (Farrington–Noufaily) — complete weeks only
    if (weeklyNote.available) {
      const monday0 = addDays(span.first, -weekday(span.first));
      const lastComplete = Math.floor((dayDiff(asOf, monday0) + 1) / 7) - 1;
      const evalWeeks = mode === 'FULL'
        ? Array.from({ length: s.windowWeeks }, (_, i) => lastComplete - s.windowWeeks + 1 + i).filter((k) => k >= 0)
        : [...new Set(evalDays.map((d) => Math.floor(dayDiff(d, monday0) / 7)))].filter((k) => k <= lastComplete && k > lastComplete - s.windowWeeks);
      if (evalWeeks.length) {
        const nWeeks = lastComplete + 1;
        const wrows = await query<{ w: number; district_id: number | null; theme_id: number | null; organization_id: number | null; channel: string | null; g: number; n: number }>(this.em,
          `SELECT s.w, s.district_id, s.theme_id, s.organization_id, s.channel,
                  GROUPING(s.district_id, s.theme_id, s.organization_id, s.channel)::int AS g, count(*)::int AS n
             FROM (SELECT ((a.received_at AT TIME ZONE ?)::date - ?::date) / 7 AS w, a.district_id, a.theme_id, a.organization_id, a.channel
                     FROM appeal a
                    WHERE a.municipality_id = ? AND a.received_at < (?::date::timestamp AT TIME ZONE ?)) s
            GROUP BY GROUPING SETS ((s.w, s.district_id, s.theme_id), (s.w, s.theme_id), (s.w, s.organization_id), (s.w, s.channel))`,
          [tz, monday0, this.municipalityId, addDays(monday0, nWeeks * 7), tz]);
        const wseries = new Map<string, { info: SeriesInfo; y: number[] }>();
        for (const r of wrows) {
          const info: SeriesInfo | null = r.g === 3 && r.district_id != null && r.theme_id != null ? { seriesKind: RiskSeriesKind.DISTRICT_THEME, key: `dt:${r.district_id}:${r.theme_id}`, districtId: r.district_id, themeId: r.theme_id, organizationId: null, channel: null }
            : r.g === 11 && r.theme_id != null ? { seriesKind: RiskSeriesKind.THEME, key: `t:${r.theme_id}`, districtId: null, themeId: r.theme_id, organizationId: null, channel: null }
              : r.g === 13 && r.organization_id != null ? { seriesKind: RiskSeriesKind.ORGANIZATION, key: `o:${r.organization_id}`, districtId: null, themeId: null, organizationId: r.organization_id, channel: null }
                : r.g === 14 && r.channel != null ? { seriesKind: RiskSeriesKind.CHANNEL, key: `c:${r.channel}`, districtId: null, themeId: null, organizationId: null, channel: r.channel } : null;
          if (!info || r.w < 0 || r.w >= nWeeks) continue;
          let e = wseries.get(info.key);
          if (!e) { e = { info, y: new Array<number>(nWeeks).fill(0) }; wseries.set(info.key, e); }
          e.y[r.w] += r.n;
        }
        const weekOf = (k: number) => addDays(monday0, k * 7);
        for (const { info, y } of wseries.values()) {
          seriesCount++;
          if (!evalWeeks.some((k) => y[k] > 0)) continue;
          const pts = detectWeekly(y, evalWeeks, s);
          for (const ep of episodes(pts, 0)) {
            const b = farringtonYears(ep.to, s);
            const chartIdx = Array.from({ length: 26 }, (_, k) => ep.to - 25 + k).filter((k) => k >= farringtonFirstIndex({ ...s.farrington, b: s.farringtonMinYears }) && k <= lastComplete);
            const chart = detectWeekly(y, chartIdx, s);
            cands.push({
              ...info, kind: RiskKind.COUNT, granularity: RiskGranularity.WEEK, method: 'FARRINGTON_NOUFAILY',
              methodNote: `Фаррингтон с улучшениями Нуфайли по неделям: база — те же недели ±${s.farrington.w} за ${b} прошлых года и остальные недели этих лет в ${s.farrington.noPeriods - 1} сезонных отрезках, без последних ${s.farrington.pastWeeksNotIncluded} недель; квазипуассоновская модель с трендом (если значим), прошлые вспышки с пониженным весом (остатки Энскомба > ${s.farrington.weightsThreshold}); граница — квантиль отрицательного биномиального ${fmt(1 - s.farrington.alpha, 3)}; не меньше ${s.farrington.limit54[0]} обращений за ${s.farrington.limit54[1]} недели.`,
              startedOn: weekOf(ep.from), lastOn: weekOf(ep.to), observed: ep.peak.y, expected: round(ep.peak.e), upperbound: round(ep.peak.u),
              series: chart.map((p) => point(weekOf(p.i), p)), appealIds: [], details: { peakWeek: weekOf(ep.peak.i), years: b },
              appealsFrom: weekOf(ep.from), appealsTo: addDays(weekOf(ep.to), 6),
            });
          }
        }
      }
    }
    lap('weekly');
    for (const c of cands) if (c.appealsFrom && c.appealsTo) c.appealIds = await this.appealsOf(tz, c);
    lap('appeals of signals');
    for (const c of cands) c.organizationId ??= await this.dominantOrganization(c.appealIds);
    lap('organisations');
    for (const c of cands) (c as Candidate & { title: string }).title = title(c, names);
    return finish(asOf, seriesCount, cands);
  }

  private weeklyAvailability(firstDay: string, asOf: string, s: RiskSettings): { available: boolean; text: string } {
    const weeks = Math.floor((dayDiff(asOf, firstDay) + 1) / 7);
    const need = farringtonFirstIndex({ ...s.farrington, b: s.farringtonMinYears }) + 1;
    return weeks >= need ? { available: true, text: '' }
      : { available: false, text: `Сезонная база (Фаррингтон–Нуфайли) недоступна: история ${weeks} нед., нужно не меньше ${need} (${s.farringtonMinYears} года и ${s.farrington.w + 1} нед.); работает EARS по дням.` };
  }

  private async names() {
    const rows = await query<{ t: string; id: number; name: string }>(this.em,
      `SELECT 'd' AS t, id, name FROM district WHERE municipality_id = ? UNION ALL SELECT 't', id, name FROM theme WHERE municipality_id = ?
       UNION ALL SELECT 'o', id, name FROM organization WHERE municipality_id = ? UNION ALL SELECT 'c', 0, code || '|' || name FROM channel`,
      [this.municipalityId, this.municipalityId, this.municipalityId]);
    const m = new Map<string, string>();
    for (const r of rows) {
      if (r.t === 'c') { const [code, name] = r.name.split('|'); m.set(`c:${code}`, name); } else m.set(`${r.t}:${r.id}`, r.name);
    }
    return m;
  }

  /** Appeals of the series on the signal's days (capped). */
  private async appealsOf(tz: string, c: Candidate): Promise<number[]> {
    const parts = ['a.municipality_id = ?', 'a.received_at >= (?::date::timestamp AT TIME ZONE ?)', 'a.received_at < (?::date::timestamp AT TIME ZONE ?)'];
    const params: unknown[] = [this.municipalityId, c.appealsFrom, tz, addDays(c.appealsTo!, 1), tz];
    if (c.districtId != null) { parts.push('a.district_id = ?'); params.push(c.districtId); }
    if (c.themeId != null) { parts.push('a.theme_id = ?'); params.push(c.themeId); }
    if (c.seriesKind === RiskSeriesKind.ORGANIZATION) { parts.push('a.organization_id = ?'); params.push(c.organizationId); }
    if (c.channel != null) { parts.push('a.channel = ?'); params.push(c.channel); }
    const rows = await query<{ id: number }>(this.em, `SELECT a.id FROM appeal a WHERE ${parts.join(' AND ')} ORDER BY a.received_at, a.id LIMIT ${MAX_APPEALS}`, params);
    return rows.map((r) => r.id);
  }

  private async dominantOrganization(ids: number[]): Promise<number | null> {
    if (!ids.length) return null;
    const [r] = await query<{ organization_id: number | null }>(this.em,
      `SELECT organization_id FROM appeal WHERE id = ANY(?::int[]) AND organization_id IS NOT NULL GROUP BY organization_id ORDER BY count(*) DESC, organization_id LIMIT 1`, [ids]);
    return r?.organization_id ?? null;
  }

  /** «Резонанс»: many distinct authors, one place in several channels, escalation in texts, overdue in public channels. */
  private async rules(tz: string, asOf: string, evalDays: string[], s: RiskSettings, daily: Map<string, { info: SeriesInfo; y: Float64Array }>, histFrom: string, lap: (name: string) => void = () => undefined): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const span = Math.max(s.escalationDays, s.crossChannelDays, 2);
    const from = addDays(evalDays[0], -(span - 1));
    const rows = await query<{ id: number; day: string; district_id: number | null; theme_id: number | null; organization_id: number | null; channel: string; author_key: string | null; text: string | null; lon: number | null; lat: number | null }>(this.em,
      `SELECT a.id, to_char(a.received_at AT TIME ZONE ?, 'YYYY-MM-DD') AS day, a.district_id, a.theme_id, a.organization_id, a.channel, a.author_key,
              CASE WHEN a.received_at >= (?::date::timestamp AT TIME ZONE ?) THEN left(a.text, 4000) END AS text, ST_X(a.point) AS lon, ST_Y(a.point) AS lat
         FROM appeal a
        WHERE a.municipality_id = ? AND a.received_at >= (?::date::timestamp AT TIME ZONE ?) AND a.received_at < (?::date::timestamp AT TIME ZONE ?)
        ORDER BY a.received_at, a.id`,
      [tz, addDays(asOf, -(s.escalationDays - 1)), tz, this.municipalityId, from, tz, addDays(asOf, 1), tz]);
    lap('rules: read appeals');
    const evalSet = new Set(evalDays);
    const dtInfo = (r: { district_id: number | null; theme_id: number | null }): SeriesInfo => ({
      seriesKind: RiskSeriesKind.DISTRICT_THEME, key: `dt:${r.district_id ?? 0}:${r.theme_id ?? 0}`, districtId: r.district_id, themeId: r.theme_id, organizationId: null, channel: null,
    });
    const byDt = new Map<string, typeof rows>();
    for (const r of rows) {
      if (r.theme_id == null) continue;
      const k = dtInfo(r).key;
      (byDt.get(k) ?? byDt.set(k, []).get(k)!).push(r);
    }
    // AUTHORS: distinct authors in two days against twice the daily mean of the previous four weeks
    for (const [key, list] of byDt) {
      const y = daily.get(key)?.y;
      const hits: { day: string; authors: number; base: number; limit: number; ids: number[] }[] = [];
      for (const d of evalDays) {
        const win = list.filter((r) => r.day === d || r.day === addDays(d, -1));
        if (win.length < s.authorsMin) continue;
        const authors = new Set(win.map((r) => r.author_key ?? `id:${r.id}`)).size;
        let base = 0;
        if (y) {
          const i = dayDiff(d, histFrom);
          let sum = 0, n = 0;
          for (let j = i - 29; j <= i - 2; j++) if (j >= 0) { sum += y[j]; n++; }
          base = n ? (2 * sum) / n : 0;
        }
        const limit = Math.max(s.authorsMin, s.authorsRatio * base);
        if (authors >= limit) hits.push({ day: d, authors, base, limit, ids: win.map((r) => r.id) });
      }
      if (!hits.length) continue;
      const peak = hits.reduce((a, b) => (b.authors / b.limit > a.authors / a.limit ? b : a));
      out.push({
        ...dtInfo(list[0]), kind: RiskKind.AUTHORS, granularity: RiskGranularity.DAY, method: 'RULE_AUTHORS',
        methodNote: `Правило «много авторов»: разных авторов за 2 дня не меньше ${s.authorsMin} и не меньше ${fmt(s.authorsRatio)} × среднего числа обращений за 2 дня в предыдущие 4 недели.`,
        startedOn: hits[0].day, lastOn: hits[hits.length - 1].day, observed: peak.authors, expected: round(peak.base), upperbound: round(peak.limit),
        series: [], appealIds: [...new Set(hits.flatMap((h) => h.ids))].slice(0, MAX_APPEALS), details: { peakDay: peak.day, distinctAuthors: peak.authors, baseline2Days: round(peak.base) },
      });
    }
    // CROSS_CHANNEL: the same ~300 m cell in several channels within a few days
    const cells = new Map<string, typeof rows>();
    for (const r of rows) {
      if (r.lon == null || r.lat == null) continue;
      const k = `${Math.floor(r.lon / CELL_LON)}:${Math.floor(r.lat / CELL_LAT)}`;
      (cells.get(k) ?? cells.set(k, []).get(k)!).push(r);
    }
    for (const [cell, list] of cells) {
      const hits: { day: string; channels: string[]; ids: number[] }[] = [];
      for (const d of evalDays) {
        const win = list.filter((r) => r.day <= d && r.day > addDays(d, -s.crossChannelDays));
        const channels = [...new Set(win.map((r) => r.channel))].sort();
        if (channels.length >= s.crossChannelMin && win.length >= s.crossChannelAppeals) hits.push({ day: d, channels, ids: win.map((r) => r.id) });
      }
      if (!hits.length) continue;
      const peak = hits.reduce((a, b) => (b.channels.length > a.channels.length ? b : a));
      const ids = [...new Set(hits.flatMap((h) => h.ids))];
      const themes = mode(list.filter((r) => ids.includes(r.id)).map((r) => r.theme_id));
      const districts = mode(list.filter((r) => ids.includes(r.id)).map((r) => r.district_id));
      out.push({
        seriesKind: RiskSeriesKind.PLACE, key: `place:${cell}`, districtId: districts, themeId: themes, organizationId: null, channel: null,
        kind: RiskKind.CROSS_CHANNEL, granularity: RiskGranularity.DAY, method: 'RULE_CROSS_CHANNEL',
        methodNote: `Правило «одно место в разных каналах»: в ячейке ~300 × 300 м за ${s.crossChannelDays} дн. не меньше ${s.crossChannelMin} каналов и ${s.crossChannelAppeals} обращений.`,
        startedOn: hits[0].day, lastOn: hits[hits.length - 1].day, observed: peak.channels.length, expected: null, upperbound: s.crossChannelMin - 1,
        series: [], appealIds: ids.slice(0, MAX_APPEALS), details: { channels: peak.channels, appeals: peak.ids.length, peakDay: peak.day },
      });
    }
    // ESCALATION: mentions of the prosecutor, governor, court, media, collective appeals
    const escFrom = addDays(asOf, -(s.escalationDays - 1));
    for (const [, list] of byDt) {
      const hits = list.filter((r) => r.day >= escFrom).map((r) => ({ r, m: escalationMentions(r.text) })).filter((h) => h.m.length);
      if (hits.length < s.escalationMin || !hits.some((h) => evalSet.has(h.r.day))) continue;
      const mentions: Record<string, number> = {};
      for (const h of hits) for (const m of h.m) mentions[ESCALATION_PATTERNS.find((p) => p.code === m)!.label] = (mentions[ESCALATION_PATTERNS.find((p) => p.code === m)!.label] ?? 0) + 1;
      out.push({
        ...dtInfo(list[0]), kind: RiskKind.ESCALATION, granularity: RiskGranularity.DAY, method: 'RULE_ESCALATION',
        methodNote: `Правило «угроза эскалации»: за ${s.escalationDays} дн. не меньше ${s.escalationMin} обращений одной темы в районе упоминают прокуратуру, губернатора, суд, СМИ, президента, коллективное обращение или сбор подписей (с формами слов).`,
        startedOn: hits[0].r.day, lastOn: hits[hits.length - 1].r.day, observed: hits.length, expected: null, upperbound: s.escalationMin - 1,
        series: [], appealIds: hits.map((h) => h.r.id).slice(0, MAX_APPEALS), details: { mentions },
      });
    }
    lap('rules: authors, places, texts');
    // PUBLIC_OVERDUE: open overdue appeals from public channels (state from the control-loop contract)
    const overdue = await query<{ id: number; district_id: number | null; theme_id: number | null; due: string }>(this.em,
      `SELECT a.id, a.district_id, a.theme_id, to_char(coalesce(a.answer_due_at, a.due_at) AT TIME ZONE ?, 'YYYY-MM-DD') AS due
         FROM appeal a
        WHERE a.municipality_id = ? AND a.channel = ANY(?::text[]) AND a.received_at >= (?::date::timestamp AT TIME ZONE ?)
          AND appeal_deadline_state(a.answered_at, coalesce(a.answer_due_at, a.due_at), a.answer_at_risk_at, now()) = 'OVERDUE'
          AND a.status NOT IN ('CLOSED', 'REJECTED')
        ORDER BY a.id`,
      [tz, this.municipalityId, PUBLIC_CHANNELS, addDays(asOf, -90), tz]);
    lap('rules: overdue');
    const od = new Map<string, typeof overdue>();
    for (const r of overdue) { if (r.theme_id == null) continue; const k = dtInfo(r).key; (od.get(k) ?? od.set(k, []).get(k)!).push(r); }
    for (const [, list] of od) {
      if (list.length < s.publicOverdueMin) continue;
      const firstDue = list.map((r) => r.due).sort()[0];
      out.push({
        ...dtInfo(list[0]), kind: RiskKind.PUBLIC_OVERDUE, granularity: RiskGranularity.DAY, method: 'RULE_PUBLIC_OVERDUE',
        methodNote: `Правило «просрочка в публичных каналах»: не меньше ${s.publicOverdueMin} открытых просроченных обращений одной темы в районе из соцсетей, мессенджеров и комментариев на официальных страницах (поступили за 90 дней).`,
        startedOn: firstDue > asOf ? asOf : firstDue, lastOn: asOf, observed: list.length, expected: null, upperbound: s.publicOverdueMin - 1,
        series: [], appealIds: list.map((r) => r.id).slice(0, MAX_APPEALS), details: { overdue: list.length },
      });
    }
    return out;
  }

  /** Merges candidates with stored signals: the same series and an overlapping or adjacent episode is the same signal. */
  private async store(cands: Candidate[], s: RiskSettings): Promise<{ created: number; updated: number; ids: number[] }> {
    if (!cands.length) return { created: 0, updated: 0, ids: [] };
    const minStart = cands.reduce((m, c) => (c.startedOn < m ? c.startedOn : m), cands[0].startedOn);
    let created = 0, updated = 0;
    const ids: number[] = [];
    await this.em.transactional(async (em) => {
      const stored = await query<StoredRow>(em,
        `SELECT id, kind, series_key, granularity, to_char(started_on, 'YYYY-MM-DD') AS started_on, to_char(last_on, 'YYYY-MM-DD') AS last_on, status,
                observed, expected, upperbound, appeal_ids, series, details
           FROM risk_signal WHERE municipality_id = ? AND last_on >= ?::date - 14 FOR UPDATE`, [this.municipalityId, minStart]);
      for (const c of cands as (Candidate & { title: string })[]) {
        const gap = c.granularity === RiskGranularity.WEEK ? 7 : 2;
        const match = stored.find((r) => r.kind === c.kind && r.series_key === c.key && r.granularity === c.granularity
          && dayDiff(c.startedOn, r.last_on) <= gap && dayDiff(r.started_on, c.lastOn) <= gap);
        if (match) {
          const ratio = (o: number, u: number | null) => o / Math.max(u ?? 0, 0.5);
          const better = ratio(c.observed, c.upperbound) > ratio(match.observed, match.upperbound) + 1e-9;
          const next = {
            last_on: c.lastOn > match.last_on ? c.lastOn : match.last_on,
            observed: better ? c.observed : match.observed,
            expected: better ? c.expected : match.expected,
            upperbound: better ? c.upperbound : match.upperbound,
            appeal_ids: [...new Set([...match.appeal_ids, ...c.appealIds])].sort((a, b) => a - b).slice(0, MAX_APPEALS),
            series: c.series.length ? c.series : match.series,
            details: better ? c.details : match.details,
          };
          const same = next.last_on === match.last_on && next.observed === match.observed && num(next.expected) === num(match.expected)
            && num(next.upperbound) === num(match.upperbound) && JSON.stringify(next.appeal_ids) === JSON.stringify([...match.appeal_ids].sort((a, b) => a - b))
            && canonical(next.series) === canonical(match.series) && canonical(next.details) === canonical(match.details);
          ids.push(match.id);
          if (same) continue;
          await query(em, `UPDATE risk_signal SET last_on = ?, observed = ?, expected = ?, upperbound = ?, appeal_ids = ?::int[], series = ?::jsonb, details = ?::jsonb,
                             title = ?, updated_at = now() WHERE id = ?`,
            [next.last_on, next.observed, next.expected, next.upperbound, next.appeal_ids, JSON.stringify(next.series), JSON.stringify(next.details), c.title, match.id]);
          Object.assign(match, next);
          updated++;
        } else {
          const [r] = await query<{ id: number }>(em,
            `INSERT INTO risk_signal (municipality_id, kind, series_kind, series_key, granularity, district_id, theme_id, organization_id, channel, title, method, method_note,
                                      started_on, last_on, observed, expected, upperbound, series, appeal_ids, details)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::int[], ?::jsonb)
             ON CONFLICT (municipality_id, kind, series_key, granularity, started_on) DO NOTHING RETURNING id`,
            [this.municipalityId, c.kind, c.seriesKind, c.key, c.granularity, c.districtId, c.themeId, c.organizationId, c.channel, c.title, c.method, c.methodNote,
              c.startedOn, c.lastOn, c.observed, c.expected, c.upperbound, JSON.stringify(c.series), c.appealIds, JSON.stringify(c.details)]);
          if (!r) continue;
          ids.push(r.id);
          stored.push({ id: r.id, kind: c.kind, series_key: c.key, granularity: c.granularity, started_on: c.startedOn, last_on: c.lastOn, status: RiskStatus.NEW,
            observed: c.observed, expected: c.expected, upperbound: c.upperbound, appeal_ids: c.appealIds, series: c.series, details: c.details });
          await audit(em, this.who, { entity: 'risk_signal', entityId: r.id, action: 'detect',
            after: { kind: c.kind, seriesKey: c.key, granularity: c.granularity, method: c.method, startedOn: c.startedOn, observed: c.observed, upperbound: c.upperbound } });
          created++;
        }
      }
    });
    void s;
    return { created, updated, ids };
  }

  // ---------------------------------------------------------------- reading

  private where(f: RiskSignalFilter | undefined): { sql: string; params: unknown[] } {
    const parts = ['r.municipality_id = ?'];
    const params: unknown[] = [this.municipalityId];
    const sc = this.who.scope;
    if (sc?.thematicBlockId != null) { parts.push('r.theme_id IN (SELECT id FROM theme WHERE block_id = ?)'); params.push(sc.thematicBlockId); }
    if (sc?.organizationId != null) {
      parts.push(`r.organization_id IN (WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ? UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub)`);
      params.push(sc.organizationId);
    }
    if (f?.statuses?.length) { parts.push('r.status = ANY(?::text[])'); params.push(f.statuses); }
    if (f?.kinds?.length) { parts.push('r.kind = ANY(?::text[])'); params.push(f.kinds); }
    const d = parseIds('filter.districtIds', f?.districtIds);
    if (d) { parts.push('r.district_id = ANY(?::int[])'); params.push(d); }
    const t = parseIds('filter.themeIds', f?.themeIds);
    if (t) { parts.push('r.theme_id = ANY(?::int[])'); params.push(t); }
    const o = parseIds('filter.organizationIds', f?.organizationIds);
    if (o) { parts.push('r.organization_id = ANY(?::int[])'); params.push(o); }
    for (const [k, v] of [['from', f?.from], ['to', f?.to]] as const) {
      if (v == null) continue;
      if (!validDay(v)) throw new InputError(`filter.${k}`, `дата ожидается в виде ГГГГ-ММ-ДД, получено «${String(v).slice(0, 40)}»`);
    }
    if (f?.from && f?.to && f.from > f.to) throw new InputError('filter.from', `начало периода ${f.from} позже конца ${f.to}`);
    if (f?.from) { parts.push('r.last_on >= ?::date'); params.push(f.from); }
    if (f?.to) { parts.push('r.started_on <= ?::date'); params.push(f.to); }
    return { sql: parts.join(' AND '), params };
  }

  async list(f: RiskSignalFilter | undefined, first: number, after?: string): Promise<RiskSignalConnection> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw new InputError('first', `размер страницы — от 1 до ${MAX_PAGE}`);
    const offset = decodeOffset(after);
    const w = this.where(f);
    const rows = await query<SignalRow>(this.em, `SELECT ${COLUMNS} FROM risk_signal r WHERE ${w.sql}
      ORDER BY CASE r.status WHEN 'NEW' THEN 0 WHEN 'ACKNOWLEDGED' THEN 1 ELSE 2 END, r.last_on DESC, r.id DESC LIMIT ? OFFSET ?`, [...w.params, first + 1, offset]);
    const [{ n }] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM risk_signal r WHERE ${w.sql}`, w.params);
    const page = rows.slice(0, first).map(toSignal);
    return {
      edges: page.map((node, i) => ({ node, cursor: encodeOffset(offset + i + 1) })), totalCount: n, hasNextPage: rows.length > first,
      endCursor: page.length ? encodeOffset(offset + page.length) : null,
    };
  }

  async get(id: string): Promise<RiskSignal | null> {
    const [n] = parseIds('id', [id])!;
    const w = this.where(undefined);
    const [r] = await query<SignalRow>(this.em, `SELECT ${COLUMNS} FROM risk_signal r WHERE ${w.sql} AND r.id = ?`, [...w.params, n]);
    return r ? toSignal(r) : null;
  }

  async countNew(): Promise<number> {
    const w = this.where({ statuses: [RiskStatus.NEW] });
    const [{ n }] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM risk_signal r WHERE ${w.sql}`, w.params);
    return n;
  }

  /** Shares among the signal's appeals (within the reader's scope): from social networks and messengers; overdue (contract state). */
  async shares(sig: RiskSignal): Promise<{ social: number | null; overdue: number | null; n: number }> {
    if (!sig.appealIds.length) return { social: null, overdue: null, n: 0 };
    const sc = scopeSql(this.who.scope ?? { municipalityId: this.municipalityId }, 'a');
    const [r] = await query<{ n: number; social: number; overdue: number }>(this.em,
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE a.channel = ANY(?::text[]))::int AS social,
              count(*) FILTER (WHERE appeal_deadline_state(a.answered_at, coalesce(a.answer_due_at, a.due_at), a.answer_at_risk_at, now()) = 'OVERDUE')::int AS overdue
         FROM appeal a WHERE a.id = ANY(?::int[]) AND ${sc.sql}`, [SOCIAL_CHANNELS, sig.appealIds, ...sc.params]);
    return r.n ? { social: r.social / r.n, overdue: r.overdue / r.n, n: r.n } : { social: null, overdue: null, n: 0 };
  }

  /** The signal's appeals as GeoJSON points (within the reader's scope). */
  async appealsGeoJSON(sig: RiskSignal): Promise<Record<string, unknown>> {
    const sc = scopeSql(this.who.scope ?? { municipalityId: this.municipalityId }, 'a');
    const rows = await query<{ id: number; channel: string; lon: number; lat: number; overdue: boolean; received_at: Date }>(this.em,
      `SELECT a.id, a.channel, ST_X(a.point) AS lon, ST_Y(a.point) AS lat, a.received_at,
              appeal_deadline_state(a.answered_at, coalesce(a.answer_due_at, a.due_at), a.answer_at_risk_at, now()) = 'OVERDUE' AS overdue
         FROM appeal a WHERE a.id = ANY(?::int[]) AND a.point IS NOT NULL AND ${sc.sql} ORDER BY a.id`, [sig.appealIds, ...sc.params]);
    return {
      type: 'FeatureCollection',
      features: rows.map((r) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [r.lon, r.lat] },
        properties: { id: String(r.id), channel: r.channel, overdue: !!r.overdue, receivedAt: new Date(r.received_at).toISOString() } })),
    };
  }

  /** Active problems of the problem list on the same theme in the same district, or whose outline covers the signal's appeals. */
  async relatedProblems(sig: RiskSignal): Promise<RiskRelatedProblem[]> {
    if (sig.themeId == null && !sig.appealIds.length) return [];
    const sc = scopeSql(this.who.scope ?? { municipalityId: this.municipalityId }, 'p');
    const rows = await query<{ id: number; title: string; status: string; score: number; appeal_count: number }>(this.em,
      `SELECT p.id, p.title, p.status, p.score, p.appeal_count FROM problem p
        WHERE ${sc.sql} AND p.active AND (
          (p.theme_id = ? AND (?::int IS NULL OR p.district_id = ?))
          OR EXISTS (SELECT 1 FROM appeal a WHERE a.id = ANY(?::int[]) AND a.point IS NOT NULL AND ST_Intersects(p.hull, a.point)
                       AND (?::int IS NULL OR p.theme_id = ?)))
        ORDER BY p.score DESC, p.id LIMIT 10`,
      [...sc.params, sig.themeId, sig.districtId, sig.districtId, sig.appealIds, sig.themeId, sig.themeId]);
    return rows.map((r) => ({ id: String(r.id), title: r.title, status: r.status, score: Number(r.score), appealCount: r.appeal_count }));
  }

  async runs(first: number): Promise<RiskRun[]> {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw new InputError('first', 'от 1 до 100');
    const rows = await query<{ id: number; mode: string; actor: string; started_at: Date; ms: number | null; as_of: string | null; series: number; created: number; updated: number; notes: string[] }>(this.em,
      `SELECT id, mode, actor, started_at, ms, to_char(as_of, 'YYYY-MM-DD') AS as_of, series, created, updated, notes FROM risk_run WHERE municipality_id = ? ORDER BY started_at DESC, id DESC LIMIT ?`,
      [this.municipalityId, first]);
    return rows.map((r) => ({ id: String(r.id), mode: r.mode, actor: r.actor, startedAt: new Date(r.started_at), ms: r.ms ?? 0, asOf: r.as_of, series: r.series, created: r.created, updated: r.updated, notes: r.notes ?? [] }));
  }

  // ---------------------------------------------------------------- lifecycle

  async setStatus(id: string, status: RiskStatus, comment?: string | null): Promise<RiskSignal> {
    const text = comment?.trim() || null;
    if (text && text.length > MAX_COMMENT) throw new InputError('comment', `комментарий длиннее ${MAX_COMMENT} символов`);
    if ((status === RiskStatus.RESOLVED || status === RiskStatus.FALSE_ALARM) && !text) {
      throw new InputError('comment', status === RiskStatus.RESOLVED ? 'опишите, что сделано (комментарий обязателен)' : 'объясните, почему тревога ложная (комментарий обязателен)');
    }
    const current = await this.get(id);
    if (!current) throw new InputError('id', `сигнал ${id} не найден или недоступен`);
    if (!RISK_TRANSITIONS[current.status].includes(status)) {
      throw new InputError('status', `из состояния «${RISK_STATUS_LABELS[current.status]}» нельзя перейти в «${RISK_STATUS_LABELS[status]}»`
        + (RISK_TRANSITIONS[current.status].length ? ` (можно: ${RISK_TRANSITIONS[current.status].map((x) => `«${RISK_STATUS_LABELS[x]}»`).join(', ')})` : ' (сигнал закрыт)'));
    }
    if (!this.who.user && !this.who.actor) throw new ForbiddenError('нет пользователя');
    await this.em.transactional(async (em) => {
      const rows = await query<{ id: number }>(em, status === RiskStatus.ACKNOWLEDGED
        ? `UPDATE risk_signal SET status = ?, acknowledged_by = ?, acknowledged_at = now(), comment = coalesce(?, comment), updated_at = now() WHERE id = ? AND status = ? RETURNING id`
        : `UPDATE risk_signal SET status = ?, closed_by = ?, closed_at = now(), comment = ?, updated_at = now() WHERE id = ? AND status = ? RETURNING id`,
        [status, this.who.actor, text, Number(current.id), current.status]);
      if (!rows.length) throw new InputError('status', 'сигнал только что изменил кто-то другой: обновите карточку');
      await audit(em, this.who, { entity: 'risk_signal', entityId: current.id, action: 'status', before: { status: current.status }, after: { status, comment: text } });
    });
    return (await this.get(id))!;
  }
}

interface SignalRow {
  id: number; kind: RiskKind; series_kind: RiskSeriesKind; series_key: string; granularity: RiskGranularity; district_id: number | null; theme_id: number | null;
  organization_id: number | null; channel: string | null; title: string; method: string; method_note: string | null; started_on: string; last_on: string;
  observed: number; expected: number | null; upperbound: number | null; series: RiskPoint[]; appeal_ids: number[]; details: Record<string, unknown>; status: RiskStatus;
  acknowledged_by: string | null; acknowledged_at: Date | null; closed_by: string | null; closed_at: Date | null; comment: string | null; created_at: Date; updated_at: Date;
}

const COLUMNS = `r.id, r.kind, r.series_kind, r.series_key, r.granularity, r.district_id, r.theme_id, r.organization_id, r.channel, r.title, r.method, r.method_note,
  to_char(r.started_on, 'YYYY-MM-DD') AS started_on, to_char(r.last_on, 'YYYY-MM-DD') AS last_on, r.observed, r.expected, r.upperbound, r.series, r.appeal_ids,
  r.details, r.status, r.acknowledged_by, r.acknowledged_at, r.closed_by, r.closed_at, r.comment, r.created_at, r.updated_at`;

function toSignal(r: SignalRow): RiskSignal {
  const d = (v: Date | string | null) => (v == null ? null : new Date(v));
  return {
    id: String(r.id), kind: r.kind, kindLabel: RISK_KIND_LABELS[r.kind], seriesKind: r.series_kind, seriesKey: r.series_key, granularity: r.granularity,
    title: r.title, method: r.method, methodNote: r.method_note ?? '', startedOn: r.started_on, lastOn: r.last_on, observed: r.observed,
    expected: r.expected == null ? null : Number(r.expected), upperbound: r.upperbound == null ? null : Number(r.upperbound), status: r.status,
    statusLabel: RISK_STATUS_LABELS[r.status], districtId: r.district_id, themeId: r.theme_id, organizationId: r.organization_id, channel: r.channel,
    acknowledgedBy: r.acknowledged_by, acknowledgedAt: d(r.acknowledged_at), closedBy: r.closed_by, closedAt: d(r.closed_at), comment: r.comment,
    createdAt: new Date(r.created_at), updatedAt: new Date(r.updated_at), appealCount: r.appeal_ids.length, details: r.details ?? {},
    appealIds: r.appeal_ids, seriesPoints: r.series ?? [],
  };
}

const num = (v: number | string | null) => (v == null ? null : Number(v));
/** JSON with sorted keys (jsonb does not keep the order of keys). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

function round(v: number | null | undefined): number | null {
  return v == null || !Number.isFinite(v) ? null : Math.round(v * 1000) / 1000;
}

function point(date: string, p: SeriesPoint): RiskPoint {
  return { date, observed: p.y, expected: round(p.e), upperbound: round(p.u), alarm: p.a };
}

function mode<T>(xs: (T | null)[]): T | null {
  const m = new Map<T, number>();
  for (const x of xs) if (x != null) m.set(x, (m.get(x) ?? 0) + 1);
  let best: T | null = null, n = 0;
  for (const [k, v] of m) if (v > n) { best = k; n = v; }
  return best;
}

function title(c: Candidate, names: Map<string, string>): string {
  const th = c.themeId != null ? names.get(`t:${c.themeId}`) ?? `тема ${c.themeId}` : null;
  const di = c.districtId != null ? names.get(`d:${c.districtId}`) ?? `район ${c.districtId}` : null;
  const where = [th, di].filter(Boolean).join(' — ');
  const week = c.granularity === RiskGranularity.WEEK ? ' (по неделям)' : '';
  switch (c.kind) {
    case RiskKind.COUNT:
      if (c.seriesKind === RiskSeriesKind.DISTRICT_THEME) return `Всплеск обращений: ${where}${week}`;
      if (c.seriesKind === RiskSeriesKind.THEME) return `Всплеск обращений по теме «${th}» по городу${week}`;
      if (c.seriesKind === RiskSeriesKind.ORGANIZATION) return `Всплеск обращений к организации: ${names.get(`o:${c.organizationId}`) ?? c.organizationId}${week}`;
      return `Всплеск обращений в канале «${names.get(`c:${c.channel}`) ?? c.channel}»${week}`;
    case RiskKind.AUTHORS: return `Много разных авторов за 2 дня: ${where}`;
    case RiskKind.CROSS_CHANNEL: return `Одно место в ${c.observed} каналах: ${where || 'без темы'}`;
    case RiskKind.ESCALATION: return `Упоминания прокуратуры, суда, СМИ и т. п.: ${where}`;
    default: return `Просроченные обращения в соцсетях и мессенджерах: ${where}`;
  }
}

export function encodeOffset(n: number) { return Buffer.from(`r:${n}`).toString('base64url'); }
export function decodeOffset(c: string | undefined | null): number {
  if (!c) return 0;
  const m = /^r:(\d{1,7})$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) throw new InputError('after', 'неверный курсор страницы');
  return Number(m[1]);
}
