import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { artifacts } from './helpers/browser.js';
import { zipEntry } from './helpers/zip.js';
import { Role } from '../server/auth/roles.js';
import { ReportScheduler, ScheduleService } from '../server/reports/schedule.js';

/**
 * Analytic reports on both backends: a monthly city report as PDF and DOCX with its content (figures with the change,
 * problems with maps, risk cards, rating, accepted recommendations, methods), Russian typography, a hostile district
 * name, an empty scope and an empty period, bad input, row scope of BLOCK_LEAD / ORG_OFFICER in GraphQL and downloads,
 * regeneration with audit, and a weekly schedule run with a fake clock. The PDF pages are rendered to PNG
 * (test/artifacts/report-*.png).
 */
const FIELDS = 'id status error scopeKind scopeId scopeName periodFrom periodTo requestedBy generations pages pdfBytes docxBytes pdfUrl docxUrl summary scheduleId';
const REQUEST = `mutation R($input: ReportRequestInput!) { requestAnalyticReport(input: $input) { ${FIELDS} } }`;
const HOSTILE = '<script>alert(1)</script> «Кв» & \'x\' \u0001\u202E' + 'Д'.repeat(400);

function pdfText(pdf: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  try {
    fs.writeFileSync(path.join(dir, 'r.pdf'), pdf);
    return execFileSync('pdftotext', ['-layout', path.join(dir, 'r.pdf'), '-'], { encoding: 'utf8' });
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

function pdfPages(pdf: Buffer, prefix: string): string[] {
  fs.mkdirSync(artifacts, { recursive: true });
  for (const f of fs.readdirSync(artifacts)) if (f.startsWith(`${prefix}-`) && f.endsWith('.png')) fs.rmSync(path.join(artifacts, f));
  const file = path.join(artifacts, `${prefix}.pdf`);
  fs.writeFileSync(file, pdf);
  execFileSync('pdftoppm', ['-png', '-r', '60', file, path.join(artifacts, prefix)]);
  fs.rmSync(file);
  return fs.readdirSync(artifacts).filter((f) => f.startsWith(`${prefix}-`) && f.endsWith('.png'));
}

describe.each(backends)('analytic reports on %s', (backend) => {
  let app: TestApp;
  let from: string;
  let to: string;
  let cityReport: any;
  let hostileDistrict: number;
  let gkh: number;

  beforeAll(async () => {
    app = await startTestApp(backend, 2000, undefined, { reportScheduler: false });
    const [last] = await app.sql<{ d: string }>(`SELECT to_char(max(received_at AT TIME ZONE 'Asia/Barnaul'), 'YYYY-MM-DD') AS d FROM appeal`);
    to = last.d;
    from = `${to.slice(0, 8)}01`;
    [{ id: hostileDistrict }] = await app.sql<{ id: number }>(`SELECT district_id AS id FROM appeal WHERE district_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`);
    await app.sql(`UPDATE district SET name = ? WHERE id = ?`, [HOSTILE, hostileDistrict]);
    [{ id: gkh }] = await app.sql<{ id: number }>(`SELECT id FROM thematic_block WHERE code = 'gkh'`);
    // A planted spike (26 appeals on one place and theme within hours) so that the period has a risk card.
    await app.sql(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, district_id, theme_id, organization_id, status, author_key, due_at)
      SELECT a.municipality_id, (ARRAY['SOCIAL','MESSENGER','POS','DIRECT'])[1 + g % 4], 'SPIKE-' || g, (SELECT max(received_at) FROM appeal) - make_interval(hours => g % 5),
             'CITIZEN', 'Нет отопления в доме', ST_SetSRID(ST_MakePoint(ST_X(a.point) + (g % 5) * 0.0002, ST_Y(a.point) + (g % 3) * 0.0002), 4326),
             a.district_id, a.theme_id, a.organization_id, 'NEW', 'spike-author-' || g, (SELECT max(received_at) FROM appeal) - interval '1 hour'
        FROM (SELECT * FROM appeal WHERE theme_id IS NOT NULL AND district_id IS NOT NULL AND point IS NOT NULL ORDER BY id LIMIT 1) a, generate_series(1, 26) g`);
    // Risk cards and an accepted recommendation for the period.
    const risks = await app.gql('mutation { detectRisks { created } }');
    expect(risks.errors).toBeUndefined();
    expect(risks.data.detectRisks.created).toBeGreaterThan(0);
    // An accepted recommendation of the period (as the coordinator's edit leaves it), with markup-like text.
    await app.sql(`INSERT INTO recommendation (municipality_id, rule_code, subject_key, period_from, period_to, text, figures, thresholds, status, edited_text, decided_by, decided_at)
      VALUES (?, 'ORG_OVERDUE', 'o:test', ?, ?, 'исходный текст', '{}', '{}', 'ACCEPTED', 'Проверить «ночные» отключения & <b>сроки</b>', 'coordinator', now())`, [app.municipalityId, from, to]);
  }, 300_000);
  afterAll(async () => { await app?.close(); await app?.db.drop(); });

  it('makes a monthly city report as PDF and DOCX with every section, Russian typography and escaped hostile names', async () => {
    const r = await app.gql(REQUEST, { input: { scopeKind: 'CITY', from, to } });
    expect(r.errors).toBeUndefined();
    cityReport = r.data.requestAnalyticReport;
    expect(cityReport).toMatchObject({ status: 'DONE', error: null, scopeKind: 'CITY', periodFrom: from, periodTo: to, requestedBy: 'test-curator', generations: 1 });
    expect(cityReport.summary.appeals).toBeGreaterThan(0);
    expect(cityReport.pages).toBeGreaterThanOrEqual(4);

    const pdfRes = await fetch(`${app.url}${cityReport.pdfUrl}`);
    expect(pdfRes.status).toBe(200);
    expect(pdfRes.headers.get('content-type')).toBe('application/pdf');
    const pdf = Buffer.from(await pdfRes.arrayBuffer());
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.length).toBe(cityReport.pdfBytes);
    const text = pdfText(pdf);
    for (const s of ['Аналитическая справка о работе с обращениями граждан', '1. Основные показатели', '2. Обращения по районам', '3. Перечень проблем территории',
      '4. Информационные риски', '5. Рейтинг органов и организаций', '6. Принятые рекомендации', 'Приложение. Методика', 'Рисунок 1', 'Проблема 1.']) {
      expect(text, s).toContain(s);
    }
    expect(text).toMatch(/Поступило обращений\s+\d+\s+\d+\s+[+−]?\d+/);
    expect(text).toMatch(/\d+,\d %/); // decimal comma, a space before %
    expect(text).toMatch(/[+−]\d+,\d п\. п\./);
    expect(text).toContain('«МЦУ Hub»');
    expect(text).toContain('Проверить «ночные» отключения & <b>сроки</b>'); // the accepted recommendation, as plain text
    expect(text).toContain('<script>alert(1)</script>'); // a hostile name is text, shown as is
    expect(text).not.toMatch(/Д{200}/); // … and cut
    expect(text).toMatch(/Стр\. 1 из \d+/);
    expect(text).toMatch(/4\.1\. /); // a risk card …
    expect(text).toMatch(/Метод: (EARS|FARRINGTON)/); // … with its method
    expect(text).toContain('верхняя граница ожидаемого');
    const pages = pdfPages(pdf, backend === 'embedded' ? 'report-city' : `report-city-${backend}`);
    expect(pages.length).toBe(cityReport.pages);

    const docxRes = await fetch(`${app.url}${cityReport.docxUrl}`);
    expect(docxRes.status).toBe(200);
    expect(docxRes.headers.get('content-disposition')).toMatch(/attachment; filename="report-\d+-.*\.docx"/);
    const docx = Buffer.from(await docxRes.arrayBuffer());
    const xml = zipEntry(docx, 'word/document.xml')!;
    expect(xml).toContain('Аналитическая справка');
    expect(xml).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(xml).not.toMatch(/[\u0001\u202E]/);
    expect(xml).toContain('Приложение. Методика');
    expect((xml.match(/<pic:pic/g) ?? []).length).toBeGreaterThanOrEqual(3); // charts and maps
    expect(zipEntry(docx, 'word/media/image1.png')).not.toBeNull();
  }, 180_000);

  it('says so when the scope or the period has no appeals, never a broken document', async () => {
    const r = await app.gql(REQUEST, { input: { scopeKind: 'CITY', from: '2001-01-01', to: '2001-01-31' } });
    expect(r.errors).toBeUndefined();
    expect(r.data.requestAnalyticReport).toMatchObject({ status: 'DONE', summary: { appeals: 0 } });
    const text = pdfText(Buffer.from(await (await fetch(`${app.url}${r.data.requestAnalyticReport.pdfUrl}`)).arrayBuffer()));
    expect(text).toContain('обращений не поступало');
    expect(text).toContain('Проблем перечня, по которым поступали обращения в этот период, нет.');
    expect(text).toContain('Сигналов информационных рисков за период не было.');
    expect(text).toContain('Приложение. Методика');
    // An organisation without appeals.
    const [org] = await app.sql<{ id: number }>(`SELECT o.id FROM organization o WHERE NOT EXISTS (SELECT 1 FROM appeal a WHERE a.organization_id = o.id)
      AND NOT EXISTS (SELECT 1 FROM organization c WHERE c.parent_id = o.id) ORDER BY o.id LIMIT 1`);
    const e = await app.gql(REQUEST, { input: { scopeKind: 'ORGANIZATION', scopeId: String(org.id), from, to } });
    expect(e.data.requestAnalyticReport).toMatchObject({ status: 'DONE', summary: { appeals: 0 } });
    const docx = Buffer.from(await (await fetch(`${app.url}${e.data.requestAnalyticReport.docxUrl}`)).arrayBuffer());
    expect(zipEntry(docx, 'word/document.xml')).toContain('обращений не поступало');
  }, 120_000);

  it('rejects bad input with the field named', async () => {
    const bad = async (input: Record<string, unknown>) => (await app.gql(REQUEST, { input })).errors?.[0];
    expect((await bad({ scopeKind: 'CITY', from: '2026-11-30', to: '2026-11-01' }))?.message).toMatch(/^period\.to: .*период пуст/);
    expect((await bad({ scopeKind: 'CITY', from: '2024-01-01', to: '2026-11-01' }))?.message).toMatch(/^period\.to: период не длиннее 366 дней/);
    expect((await bad({ scopeKind: 'CITY', from: '2026-13-01', to: '2026-11-01' }))?.message).toMatch(/^period\.from:/);
    expect((await bad({ scopeKind: 'DISTRICT', from, to }))?.message).toMatch(/^scope\.id: для охвата DISTRICT нужен идентификатор/);
    expect((await bad({ scopeKind: 'DISTRICT', scopeId: '999999', from, to }))?.message).toMatch(/^scope\.id: район 999999 не найден/);
    expect((await bad({ scopeKind: 'CITY', scopeId: '1', from, to }))?.message).toMatch(/^scope\.id: для охвата CITY/);
    expect((await bad({ scopeKind: 'PLANET', from, to }))?.message).toMatch(/ReportScopeKind/);
    expect((await app.sql(`SELECT count(*)::int AS n FROM analytic_report WHERE period_from > period_to OR period_to - period_from > 366`))[0].n).toBe(0);
    const res = await fetch(`${app.url}/reports/abc.pdf`);
    expect(res.status).toBe(400);
    expect((await fetch(`${app.url}/reports/99999.pdf`)).status).toBe(404);
  });

  it('holds a BLOCK_LEAD and an ORG_OFFICER to their own scope, in GraphQL and in downloads', async () => {
    const lead = await app.as(Role.BLOCK_LEAD);
    const denied = await lead.gql(REQUEST, { input: { scopeKind: 'CITY', from, to } });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const own = await lead.gql(REQUEST, { input: { scopeKind: 'BLOCK', scopeId: String(gkh), from, to } });
    expect(own.errors).toBeUndefined();
    expect(own.data.requestAnalyticReport).toMatchObject({ status: 'DONE', scopeKind: 'BLOCK', scopeId: String(gkh) });
    const seen = await lead.gql('{ analyticReports(first: 100) { totalCount edges { node { id scopeKind scopeId } } } }');
    expect(seen.data.analyticReports.edges.every((e: any) => e.node.scopeKind === 'BLOCK' && e.node.scopeId === String(gkh))).toBe(true);
    expect(seen.data.analyticReports.totalCount).toBe(1);
    expect((await lead.fetch(`/reports/${cityReport.id}.pdf`)).status).toBe(404);
    expect((await lead.fetch(`/reports/${own.data.requestAnalyticReport.id}.pdf`)).status).toBe(200);
    expect((await lead.gql(`{ analyticReport(id: "${cityReport.id}") { id } }`)).data.analyticReport).toBeNull();
    expect((await lead.gql(`mutation { regenerateAnalyticReport(id: "${cityReport.id}") { id } }`)).errors?.[0].message).toMatch(/^id: справка \d+ не найдена/);

    const officer = await app.as(Role.ORG_OFFICER);
    const [other] = await app.sql<{ id: number }>(`SELECT id FROM organization WHERE code <> 'uzhkh' AND parent_id IS NULL ORDER BY id LIMIT 1`);
    expect((await officer.gql(REQUEST, { input: { scopeKind: 'ORGANIZATION', scopeId: String(other.id), from, to } })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await officer.gql(REQUEST, { input: { scopeKind: 'DISTRICT', scopeId: String(hostileDistrict), from, to } })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await officer.fetch(`/reports/${cityReport.id}.docx`)).status).toBe(404);
    expect((await app.anonymous.fetch(`/reports/${cityReport.id}.pdf`)).status).toBe(401);
  }, 120_000);

  it('regenerates a report from its parameters (audited) and a district report marks its district', async () => {
    const r = await app.gql(`mutation { regenerateAnalyticReport(id: "${cityReport.id}") { ${FIELDS} } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data.regenerateAnalyticReport).toMatchObject({ id: cityReport.id, status: 'DONE', generations: 2, periodFrom: from });
    const audit = await app.sql<{ action: string }>(`SELECT action FROM audit_log WHERE entity = 'analytic_report' AND entity_id = ? ORDER BY id`, [cityReport.id]);
    expect(audit.map((a) => a.action)).toEqual(['request', 'regenerate']);
    const d = await app.gql(REQUEST, { input: { scopeKind: 'DISTRICT', scopeId: String(hostileDistrict), from, to } });
    expect(d.data.requestAnalyticReport.status).toBe('DONE');
    expect(d.data.requestAnalyticReport.scopeName.length).toBeLessThanOrEqual(300);
    const text = pdfText(Buffer.from(await (await fetch(`${app.url}${d.data.requestAnalyticReport.pdfUrl}`)).arrayBuffer()));
    expect(text).toContain('жителей района');
    expect(text).toContain('Рейтинг органов ведётся по городу в целом');
  }, 120_000);

  it('schedules a weekly report and runs it when due (fake clock), once', async () => {
    const lead = await app.as(Role.BLOCK_LEAD);
    expect((await lead.gql('mutation { scheduleAnalyticReport(input: { scopeKind: CITY, weekday: 1, hour: 8 }) { id } }')).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gql('mutation { scheduleAnalyticReport(input: { scopeKind: CITY, weekday: 8, hour: 8 }) { id } }')).errors?.[0].message).toMatch(/^weekday:/);
    expect((await app.gql('mutation { scheduleAnalyticReport(input: { scopeKind: CITY, weekday: 1, hour: 24 }) { id } }')).errors?.[0].message).toMatch(/^hour:/);
    const s = await app.gql('mutation { scheduleAnalyticReport(input: { scopeKind: BLOCK, scopeId: "' + gkh + '", weekday: 1, hour: 8 }) { id nextRunAt scopeName } }');
    expect(s.errors).toBeUndefined();
    const id = s.data.scheduleAnalyticReport.id;
    const next = new Date(s.data.scheduleAnalyticReport.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    // Local Monday 08:00 in UTC+7 is 01:00 UTC.
    expect(next.toISOString()).toMatch(/T01:00:00\.000Z$/);
    expect(next.getUTCDay()).toBe(1);

    const svc = new ScheduleService(app.orm.em.fork(), { municipalityId: app.municipalityId, actor: 'test' });
    expect(await svc.runDue(new Date(next.getTime() - 1000))).toEqual([]);
    const made = await svc.runDue(new Date(next.getTime() + 5 * 60_000));
    expect(made.length).toBe(1);
    expect(await svc.runDue(new Date(next.getTime() + 6 * 60_000))).toEqual([]); // claimed: not twice
    const [rep] = await app.sql<{ schedule_id: number; from: string; to: string; status: string; requested_by: string }>(`SELECT schedule_id, to_char(period_from, 'YYYY-MM-DD') AS from,
      to_char(period_to, 'YYYY-MM-DD') AS to, status, requested_by FROM analytic_report WHERE id = ?`, [made[0]]);
    const day = (d: Date, n: number) => new Date(d.getTime() + n * 86_400_000 + 7 * 3_600_000).toISOString().slice(0, 10);
    expect(rep).toEqual({ schedule_id: Number(id), from: day(next, -7), to: day(next, -1), status: 'DONE', requested_by: `schedule:${id}` });
    const list = await app.gql('{ reportSchedules { id lastReportId lastRunAt nextRunAt } }');
    const row = list.data.reportSchedules.find((x: any) => x.id === id);
    expect(row.lastReportId).toBe(String(made[0]));
    expect(new Date(row.nextRunAt).getTime() - next.getTime()).toBe(7 * 86_400_000);
    // The in-process scheduler: started with a fake clock a week later it runs the schedule by itself; stop() waits
    // for the run in progress and no tick runs after it.
    const ticks: Date[] = [];
    const scheduler = new ReportScheduler(app.orm, app.municipalityId, { intervalMs: 20, now: () => { const t = new Date(next.getTime() + 7 * 86_400_000 + 60_000); ticks.push(t); return t; } });
    scheduler.start();
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      const [x] = await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM analytic_report WHERE schedule_id = ? AND status = 'DONE'`, [Number(id)]);
      if (x.n === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await scheduler.stop();
    const after = ticks.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(ticks.length).toBe(after);
    expect((await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM analytic_report WHERE schedule_id = ?`, [Number(id)]))[0].n).toBe(2);
    expect((await app.gql(`mutation { cancelReportSchedule(id: "${id}") }`)).data.cancelReportSchedule).toBe(true);
    expect((await app.gql('{ reportSchedules { id } }')).data.reportSchedules.find((x: any) => x.id === id)).toBeUndefined();
    expect((await app.gql(`mutation { cancelReportSchedule(id: "${id}") }`)).errors?.[0].message).toMatch(/^id: расписание \d+ не найдено/);
  }, 120_000);
});
