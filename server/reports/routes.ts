import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ReportService } from './service.js';
import { InputError } from '../errors.js';
import type { Mount } from '../http/mount.js';
import { ReportScheduler } from './schedule.js';

/**
 * GET /reports/:id.pdf and /reports/:id.docx — the stored files of a report. Signed-in users only (mounted behind
 * authenticate + requireSignedIn); a BLOCK_LEAD / ORG_OFFICER gets only the reports of their own scope (others: 404,
 * so report numbers of other scopes are not disclosed).
 */
const TYPES = { pdf: 'application/pdf', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' } as const;

export function reportFileHandler(orm: MikroORM, defaultMunicipalityId: number) {
  return async (req: Request, res: Response) => {
    const m = /^(\d{1,10})\.(pdf|docx)$/.exec(String(req.params.file ?? ''));
    if (!m) return res.status(400).json({ errors: [{ message: 'адрес: /reports/<номер>.pdf или /reports/<номер>.docx', extensions: { code: 'BAD_USER_INPUT' } }] });
    const format = m[2] as 'pdf' | 'docx';
    const user = req.auth!.user!;
    try {
      const svc = new ReportService(orm.em.fork(), { municipalityId: user.municipalityId ?? defaultMunicipalityId, user, actor: user.login });
      const f = await svc.file(m[1], format);
      if (!f) return res.status(404).json({ errors: [{ message: `справка ${m[1]} не найдена`, extensions: { code: 'NOT_FOUND' } }] });
      if (f.row.status !== 'DONE') {
        return res.status(409).json({ errors: [{ message: f.row.status === 'RUNNING' ? `справка ${f.row.id} ещё формируется` : `справка ${f.row.id} не сформирована: ${f.row.error ?? ''}`, extensions: { code: 'NOT_READY' } }] });
      }
      const name = `report-${f.row.id}-${f.row.period_from}_${f.row.period_to}.${format}`;
      res.set('content-type', TYPES[format]);
      res.set('content-disposition', `attachment; filename="${name}"`);
      res.set('x-content-type-options', 'nosniff');
      res.send(f.data);
    } catch (e) {
      if (e instanceof InputError) return res.status(400).json({ errors: [{ message: e.message, extensions: { code: 'BAD_USER_INPUT' } }] });
      console.error('[reports] download failed', e);
      res.status(500).json({ errors: [{ message: 'Внутренняя ошибка сервера', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  };
}

/**
 * The routes of the reports and the in-process scheduler of weekly reports: started here, stopped when the app
 * closes (after the HTTP server, before the database; stop() waits for a report being made).
 */
export const mount: Mount = (app, { orm, municipalityId, exportGuard, reportScheduler, log }) => {
  app.get('/reports/:file', ...exportGuard, reportFileHandler(orm, municipalityId));
  const scheduler = new ReportScheduler(orm, municipalityId, { intervalMs: reportScheduler ? reportScheduler.intervalMs : undefined, log });
  if (reportScheduler !== false) scheduler.start();
  return { close: () => scheduler.stop() };
};
