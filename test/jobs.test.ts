import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { holdJob, JOB_LOCK, nextId, type JobHold } from '../server/db/jobs.js';
import { markInterruptedBatches } from '../server/intake/pipeline.js';
import { INTERRUPTED_REPORT, markInterruptedReports, ReportService } from '../server/reports/service.js';

/**
 * Liveness of long jobs (server/db/jobs.ts): a sweep marks only the RUNNING import batches and reports whose holder is
 * gone — never one this process runs (on the embedded backend, one database session, too), nor on PostgreSQL one a
 * session of another process holds (another cluster worker). The cluster's kill -9 case: test/cluster.test.ts.
 */
for (const backend of backends) {
  describe(`job liveness (${backend})`, () => {
    let app: TestApp;
    let mid: number;
    beforeAll(async () => {
      app = await startTestApp(backend, 0);
      [{ id: mid }] = await app.sql('SELECT id FROM municipality ORDER BY id LIMIT 1');
    }, 240_000);
    afterAll(async () => { await app?.close(); });

    const em = () => app.orm.em.fork();
    /** A RUNNING report row with the given id (as ReportService.request stores it before generating). */
    const runningReport = async (id: number) => app.sql(`INSERT INTO analytic_report (id, municipality_id, scope_kind, scope_name, period_from, period_to, requested_by)
      VALUES (?, ?, 'CITY', 'Город', '2026-01-01', '2026-01-31', 'test')`, [id, mid]);
    const runningBatch = async (id: number, name: string) => app.sql(`INSERT INTO import_batch (id, municipality_id, channel, source_name, format, mapping, actor, rows_read, inserted)
      VALUES (?, ?, 'POS', ?, 'csv', '{}'::jsonb, 'test', 20, 10)`, [id, mid, name]);
    const status = async (table: string, id: number) => (await app.sql(`SELECT status, error FROM ${table} WHERE id = ?`, [id]))[0];

    it('a sweep leaves the jobs this process runs, marks the ones nobody holds, and a released job is marked next time', async () => {
      const liveReport = await nextId(em(), 'analytic_report');
      const liveBatch = await nextId(em(), 'import_batch');
      const holds: JobHold[] = [(await holdJob(em(), 'analyticReport', liveReport))!, (await holdJob(em(), 'importBatch', liveBatch))!];
      await runningReport(liveReport);
      await runningBatch(liveBatch, 'live.csv');
      const deadReport = await nextId(em(), 'analytic_report');
      const deadBatch = await nextId(em(), 'import_batch');
      await runningReport(deadReport);
      await runningBatch(deadBatch, 'dead.csv');
      try {
        // Held here: a second hold is refused (the same job cannot run twice).
        expect(await holdJob(em(), 'analyticReport', liveReport)).toBeUndefined();
        expect(await markInterruptedReports(em())).toBe(1);
        expect(await markInterruptedBatches(em())).toBe(1);
        expect(await status('analytic_report', liveReport)).toEqual({ status: 'RUNNING', error: null });
        expect(await status('import_batch', liveBatch)).toEqual({ status: 'RUNNING', error: null });
        expect(await status('analytic_report', deadReport)).toEqual({ status: 'FAILED', error: INTERRUPTED_REPORT });
        const dead = await status('import_batch', deadBatch);
        expect(dead.status).toBe('INTERRUPTED');
        expect(dead.error).toMatch(/^Импорт прерван: процесс сервера остановлен или упал; сохранено строк — 10 новых, 0 обновлено, 0 без изменений из 20 прочитанных/);
      } finally {
        for (const h of holds) await h.release();
      }
      // Released with the row still RUNNING (its process would have stored a result first): nobody runs it now.
      expect(await markInterruptedReports(em())).toBe(1);
      expect(await markInterruptedBatches(em())).toBe(1);
      expect((await status('analytic_report', liveReport)).status).toBe('FAILED');
      expect((await status('import_batch', liveBatch)).status).toBe('INTERRUPTED');
    });

    it('a report being generated cannot be generated again at the same time; one left RUNNING by a dead process can', async () => {
      const svc = new ReportService(em(), { municipalityId: mid, actor: 'test' });
      const id = await nextId(em(), 'analytic_report');
      await runningReport(id);
      const hold = (await holdJob(em(), 'analyticReport', id))!;
      try {
        await expect(svc.regenerate(id)).rejects.toThrow(`справка ${id} ещё формируется`);
      } finally {
        await hold.release();
      }
      // Nobody holds it: regenerated (DONE, or FAILED with the renderer's reason — not refused).
      const row = await svc.regenerate(id);
      expect(row.status).not.toBe('RUNNING');
      expect(row.error ?? '').not.toMatch(/ещё формируется/);
    }, 120_000);

    if (backend === 'postgis') {
      it('a job another process holds (another cluster worker: a session with its lock) is left RUNNING; once that session ends, it is marked', async () => {
        const report = await nextId(em(), 'analytic_report');
        const batch = await nextId(em(), 'import_batch');
        const other = new pg.Client({ connectionString: app.databaseUrl });
        await other.connect();
        try {
          await other.query('SELECT pg_advisory_lock($1, $2), pg_advisory_lock($3, $4)', [JOB_LOCK.analyticReport, report, JOB_LOCK.importBatch, batch]);
          await runningReport(report);
          await runningBatch(batch, 'other.csv');
          expect(await markInterruptedReports(em())).toBe(0);
          expect(await markInterruptedBatches(em())).toBe(0);
          expect((await status('analytic_report', report)).status).toBe('RUNNING');
          expect((await status('import_batch', batch)).status).toBe('RUNNING');
          // …and this process cannot take it over.
          expect(await holdJob(em(), 'analyticReport', report)).toBeUndefined();
        } finally {
          await other.end();
        }
        // The session's server process frees its locks as it exits, just after the client's end: polled.
        let marked = 0;
        for (const deadline = Date.now() + 10_000; marked < 2 && Date.now() < deadline;) {
          marked += await markInterruptedReports(em()) + await markInterruptedBatches(em());
          if (marked < 2) await new Promise((r) => setTimeout(r, 50));
        }
        expect(marked).toBe(2);
        expect((await status('analytic_report', report)).status).toBe('FAILED');
        expect((await status('import_batch', batch)).status).toBe('INTERRUPTED');
      });
    }
  });
}
