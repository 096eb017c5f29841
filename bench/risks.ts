import pg from 'pg';
import type { App } from '../server/app.js';
import { query } from '../server/db/sql.js';
import { RiskService } from '../server/risks/service.js';
import { DEFAULT_SETTINGS } from '../server/risks/detect.js';
import { demoDailySeries, evaluateDaily, evaluateWeekly } from '../server/risks/evaluate.js';
import { median, type SummaryRow } from './lib.js';

/**
 * Information risks (issue 13):
 *  - full detection for all series after an import (district × theme, theme, organisation, channel by day; by week
 *    with the seasonal baseline when 2+ years exist; «резонанс» rules): ours = RiskService.run FULL (median of 3,
 *    after a first run that creates the signals), baseline = one raw GROUP BY of the appeals by day × district × theme
 *    over the whole history (the aggregate the detection starts from). Target ≤ 5 s at 1M appeals over 2 years.
 *  - incremental detection for a day's import (the last day's appeals copied one day later): ours = run INCREMENTAL
 *    over that day, baseline = the daily GROUP BY of the window it reads. Target ≤ 1 s.
 */
export async function benchRisks(app: App, backend: SummaryRow['backend'], n: number, log: (m: string) => void, report: (r: SummaryRow) => void): Promise<void> {
  const em = app.orm.em.fork();
  const [mun] = await query<{ id: number; timezone: string }>(em, 'SELECT id, timezone FROM municipality ORDER BY id LIMIT 1');
  const svc = new RiskService(em, { municipalityId: mun.id, actor: 'bench' });
  const date = new Date().toISOString().slice(0, 10);
  const raw = new pg.Client({ connectionString: app.databaseUrl });
  await raw.connect();
  try {
    const groupAll = async () => {
      const t = performance.now();
      await raw.query(`SELECT d, district_id, theme_id, count(*) FROM (SELECT (received_at AT TIME ZONE $2)::date AS d, district_id, theme_id FROM appeal WHERE municipality_id = $1) s
        GROUP BY 1, 2, 3`, [mun.id, mun.timezone]);
      return performance.now() - t;
    };
    const first = await svc.run({ mode: 'FULL' });
    log(`[${backend}] риски: первый полный расчёт ${(first.ms / 1000).toFixed(2)} с, рядов ${first.series}, сигналов ${first.created}; ${first.notes.join(' ')}`);
    const ours: number[] = [];
    const base: number[] = [];
    let last = first;
    for (let i = 0; i < 3; i++) {
      base.push(await groupAll());
      const t = performance.now();
      last = await svc.run({ mode: 'FULL' });
      ours.push(performance.now() - t);
    }
    const o = median(ours) / 1000, b = median(base) / 1000;
    report({ name: 'risks: full detection, all series (day, week, rules) vs one GROUP BY of all appeals by day × district × theme', backend, n, ours: o, baseline: b, ratio: o / b,
      unit: 's', target: '≤ 5 s', date, notes: `${last.series} series, first run ${(first.ms / 1000).toFixed(2)} s created ${first.created}; re-runs created ${last.created}, runs ${ours.map((x) => (x / 1000).toFixed(2)).join('/')} s` });

    // a day's import: the appeals of the last day, copied one day later
    const [{ asof }] = await query<{ asof: string }>(em, `SELECT to_char(max(received_at) AT TIME ZONE ?, 'YYYY-MM-DD') AS asof FROM appeal WHERE municipality_id = ?`, [mun.timezone, mun.id]);
    const inc: number[] = [];
    const incBase: number[] = [];
    let copied = 0;
    for (let i = 1; i <= 3; i++) {
      const day = new Date(Date.parse(`${asof}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10);
      const rows = await query<{ id: number }>(em, `INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, district_id, theme_id, organization_id, status, author_key, due_at)
        SELECT municipality_id, channel, 'BENCH-RISK-' || ? || '-' || id, received_at + make_interval(days => ?), author_kind, text, point, district_id, theme_id, organization_id, 'NEW', author_key, due_at + make_interval(days => ?)
          FROM appeal WHERE municipality_id = ? AND received_at >= (?::date::timestamp AT TIME ZONE ?) AND received_at < (?::date::timestamp AT TIME ZONE ?) + interval '1 day'
        RETURNING id`, [i, i, i, mun.id, asof, mun.timezone, asof, mun.timezone]);
      copied = rows.length;
      const from = new Date(Date.parse(`${day}T00:00:00Z`) - 90 * 86_400_000).toISOString().slice(0, 10);
      let t = performance.now();
      await raw.query(`SELECT d, district_id, theme_id, count(*) FROM (SELECT (received_at AT TIME ZONE $2)::date AS d, district_id, theme_id FROM appeal
        WHERE municipality_id = $1 AND received_at >= ($3::date::timestamp AT TIME ZONE $2)) s GROUP BY 1, 2, 3`, [mun.id, mun.timezone, from]);
      incBase.push(performance.now() - t);
      t = performance.now();
      await svc.run({ mode: 'INCREMENTAL', days: [day] });
      inc.push(performance.now() - t);
    }
    await query(em, `DELETE FROM appeal WHERE municipality_id = ? AND external_id LIKE 'BENCH-RISK-%'`, [mun.id]);
    const io = median(inc) / 1000, ib = median(incBase) / 1000;
    report({ name: "risks: incremental detection after a day's import vs the GROUP BY of the 90 days it reads", backend, n, ours: io, baseline: ib, ratio: io / ib,
      unit: 's', target: '≤ 1 s', date, notes: `${copied} appeals imported per day; runs ${inc.map((x) => (x / 1000).toFixed(2)).join('/')} s` });
  } finally {
    await raw.end();
  }
}

/**
 * Detection quality on planted spikes in demo history of n appeals over 2 years (daily EARS) and 1.5·n over 3 years
 * (weekly Farrington–Noufaily): detection rate by spike size (baseline: 1 = every spike found), false alarms per
 * month over all district × theme series with nothing planted (baseline: what α promises, α × series × days),
 * delay in days.
 */
export function benchRiskQuality(n: number, log: (m: string) => void): SummaryRow[] {
  const date = new Date().toISOString().slice(0, 10);
  const rows: SummaryRow[] = [];
  const s = DEFAULT_SETTINGS;
  const dailyData = demoDailySeries(n, 42, 2);
  const daily = evaluateDaily(dailyData, { trials: 200, sizes: [3, 5, 8, 12, 20], evalDays: 365 });
  log(`риски: по дням ${JSON.stringify(daily)}`);
  // The same history with σ from the 7 baseline days alone (the setting before the Poisson floor), for before/after figures.
  const plain = evaluateDaily(dailyData, { trials: 200, sizes: [3, 5, 8, 12, 20], evalDays: 365, settings: { earsPoissonSigma: false } });
  log(`риски: по дням, σ только по базе ${JSON.stringify(plain)}`);
  for (const r of daily.bySize) {
    rows.push({ name: `risks: planted one-day spike of +${r.size} appeals (district × theme), EARS ${s.earsMethod} detection rate`, backend: 'embedded', n, ours: r.rate, baseline: 1, ratio: r.rate,
      unit: 'share', target: r.size >= 8 ? '≥ 0.9' : 'reported', date, notes: `${r.detected}/${r.trials} detected, delay mean ${r.meanDelay?.toFixed(2) ?? '—'} d, max ${r.maxDelay ?? '—'} d; ${daily.series} series` });
  }
  const nominal = s.earsAlpha * daily.series * 30.44;
  rows.push({ name: `risks: false alarms per month, all ${daily.series} district × theme series, nothing planted (EARS ${s.earsMethod}) vs α × series × days`, backend: 'embedded', n,
    ours: daily.falseAlarmsPerMonth, baseline: nominal, ratio: daily.falseAlarmsPerMonth / nominal, unit: 'alarms/month', target: 'reported', date,
    notes: `${daily.falseAlarmsPerSeriesMonth.toFixed(4)} per series and month over ${daily.months.toFixed(1)} months` });
  rows.push({ name: `risks: false alarms per month, σ ≥ √expected (ours) vs σ of the 7 baseline days alone (EARS ${s.earsMethod})`, backend: 'embedded', n,
    ours: daily.falseAlarmsPerMonth, baseline: plain.falseAlarmsPerMonth, ratio: daily.falseAlarmsPerMonth / Math.max(plain.falseAlarmsPerMonth, 1e-9), unit: 'alarms/month', target: '< 1', date,
    notes: `per series and month ${daily.falseAlarmsPerSeriesMonth.toFixed(4)} vs ${plain.falseAlarmsPerSeriesMonth.toFixed(4)}; detection ${daily.bySize.map((r, i) => `+${r.size}: ${r.rate} vs ${plain.bySize[i].rate}`).join(', ')}` });
  const weekly = evaluateWeekly(demoDailySeries(Math.round(n * 1.5), 43, 3), { trials: 60, sizes: [5, 10, 20, 40], evalWeeks: 26, minMean: 1 });
  log(`риски: по неделям ${JSON.stringify(weekly)}`);
  for (const r of weekly.bySize) {
    rows.push({ name: `risks: planted one-week spike of +${r.size} appeals, Farrington–Noufaily detection rate`, backend: 'embedded', n: Math.round(n * 1.5), ours: r.rate, baseline: 1, ratio: r.rate,
      unit: 'share', target: 'reported', date, notes: `${r.detected}/${r.trials}, delay mean ${r.meanDelay?.toFixed(1) ?? '—'} d; ${weekly.series} weekly series with ≥ 1 appeal a week` });
  }
  const wNominal = s.farrington.alpha * weekly.series * (30.44 / 7);
  rows.push({ name: 'risks: false alarms per month, weekly series, nothing planted (Farrington–Noufaily) vs α × series × weeks', backend: 'embedded', n: Math.round(n * 1.5),
    ours: weekly.falseAlarmsPerMonth, baseline: wNominal, ratio: weekly.falseAlarmsPerMonth / wNominal, unit: 'alarms/month', target: 'reported', date,
    notes: `${weekly.falseAlarmsPerSeriesMonth.toFixed(4)} per series and month` });
  return rows;
}
