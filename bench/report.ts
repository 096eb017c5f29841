import type { App } from '../server/app.js';
import { query } from '../server/db/sql.js';
import { RiskService } from '../server/risks/service.js';
import { ReportService } from '../server/reports/service.js';
import { collect } from '../server/reports/data.js';
import { buildDocument } from '../server/reports/content.js';
import { renderPdf } from '../server/reports/pdf.js';
import { renderDocx } from '../server/reports/docx.js';
import { median, type SummaryRow } from './lib.js';

/**
 * Analytic reports (issue 13, item 3): a monthly city report, DOCX + PDF.
 *   ours     = ReportService.request({ CITY, last full month }) — the row stored, every figure read (both months in one
 *              pass, problems with their maps, risk cards, the rating of bodies, recommendations), the charts and maps
 *              drawn, the PDF and the DOCX rendered and stored; what requestAnalyticReport does;
 *   baseline = the floor for anything that reports on the month: one aggregate pass over the month's and the previous
 *              month's appeals (the key figures alone).
 * Target: ≤ 10 s at 1 000 000 appeals. Notes: the split of ours into reading, PDF and DOCX, pages and sizes.
 * Setup (not timed): when the database has no risk signals, detection runs once so the report has risk cards.
 */
export async function benchReport(app: App, backend: SummaryRow['backend'], n: number, log: (m: string) => void, report: (r: SummaryRow) => void, iterations = 3): Promise<void> {
  const em = app.orm.em.fork();
  const mid = app.municipalityId;
  const [{ signals }] = await query<{ signals: number }>(em, 'SELECT count(*)::int AS signals FROM risk_signal WHERE municipality_id = ?', [mid]);
  if (signals === 0) {
    const t = Date.now();
    const r = await new RiskService(em, { municipalityId: mid, actor: 'bench' }).run();
    log(`[${backend}] справка: сигналы рисков выявлены для наполнения (${r.created}) за ${((Date.now() - t) / 1000).toFixed(1)} с`);
  }
  // The last full local month before the latest appeal.
  const [m] = await query<{ from: string; to: string; tz: string }>(em, `SELECT to_char(date_trunc('month', max(a.received_at AT TIME ZONE mu.timezone)) - interval '1 month', 'YYYY-MM-DD') AS from,
      to_char(date_trunc('month', max(a.received_at AT TIME ZONE mu.timezone)) - interval '1 day', 'YYYY-MM-DD') AS to, mu.timezone AS tz
    FROM appeal a JOIN municipality mu ON mu.id = a.municipality_id WHERE a.municipality_id = ? GROUP BY mu.timezone`, [mid]);
  const svc = new ReportService(em, { municipalityId: mid, actor: 'bench' });
  const ours: number[] = [];
  const base: number[] = [];
  const split: { read: number; pdf: number; docx: number }[] = [];
  let last: Awaited<ReturnType<ReportService['request']>> | undefined;
  const [b] = await query<{ p0: Date; p1: Date; p2: Date }>(em, `SELECT (?::date - interval '1 month')::timestamp AT TIME ZONE ?::text AS p0, (?::date)::timestamp AT TIME ZONE ?::text AS p1,
    (?::date + 1)::timestamp AT TIME ZONE ?::text AS p2`, [m.from, m.tz, m.from, m.tz, m.to, m.tz]);
  const [cnt] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM appeal WHERE municipality_id = ? AND received_at >= ? AND received_at < ?', [mid, b.p1, b.p2]);
  for (let i = 0; i <= iterations; i++) {
    let t = performance.now();
    last = await svc.request({ scopeKind: 'CITY', from: m.from, to: m.to });
    const o = (performance.now() - t) / 1000;
    if (last.status !== 'DONE') throw new Error(`report failed: ${last.error}`);
    t = performance.now();
    await query(em, `SELECT (a.received_at >= ?::timestamptz) AS cur, count(*), count(*) FILTER (WHERE a.answered_at <= a.answer_due_at), count(q.verdict),
        count(*) FILTER (WHERE q.verdict = 'FORMAL'), count(a.satisfaction), count(*) FILTER (WHERE a.satisfaction >= 4)
      FROM appeal a LEFT JOIN answer_quality q ON q.appeal_id = a.id WHERE a.municipality_id = ? AND a.received_at >= ? AND a.received_at < ? GROUP BY 1`, [b.p1, mid, b.p0, b.p2]);
    const bl = (performance.now() - t) / 1000;
    // The split, measured apart.
    t = performance.now();
    const data = await collect(em, { municipalityId: mid, scopeKind: 'CITY', scopeId: null, from: m.from, to: m.to });
    const read = performance.now() - t;
    const doc = buildDocument(data);
    t = performance.now();
    await renderPdf(doc, 'bench');
    const pdf = performance.now() - t;
    t = performance.now();
    await renderDocx(doc, 'bench');
    const docx = performance.now() - t;
    if (i === 0) continue; // warm-up (fonts, modules)
    ours.push(o); base.push(bl); split.push({ read, pdf, docx });
  }
  const o = median(ours);
  const bl = median(base);
  const sp = (k: 'read' | 'pdf' | 'docx') => (median(split.map((x) => x[k])) / 1000).toFixed(2);
  report({
    name: 'report: monthly city report (DOCX + PDF) vs one aggregate pass over the month', backend, n, ours: o, baseline: bl, ratio: o / bl, unit: 's', target: '≤ 10 s',
    date: new Date().toISOString().slice(0, 10),
    notes: `${m.from}…${m.to}: ${cnt.n} appeals in the month; runs ${ours.map((x) => x.toFixed(2)).join('/')} s; split: reading ${sp('read')} s, PDF ${sp('pdf')} s, DOCX ${sp('docx')} s; `
      + `${last!.pages} PDF pages, PDF ${Math.round((last!.pdf_bytes ?? 0) / 1024)} KB, DOCX ${Math.round((last!.docx_bytes ?? 0) / 1024)} KB`,
  });
}
