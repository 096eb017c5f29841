import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import ExcelJS from 'exceljs';
import { xlsxCell } from '../export/cells.js';
import { scopeOf } from '../auth/scope.js';
import { maySeePersonalData } from '../auth/personal-data.js';
import { InformingService } from './service.js';
import { INFORMERS } from './resolver.js';
import type { Mount } from '../http/mount.js';
import { sendRouteError } from '../http/errors.js';

/**
 * GET /exports/callback.xlsx?informingId=N — the call-back list of a CALLBACK informing as a spreadsheet, for the roles
 * that inform and may see personal data; every row read is written to pd_access_log (operation CALLBACK_EXPORT).
 * Text cells never become formulas (server/export/cells.ts).
 */
export function callbackExportHandler(orm: MikroORM, defaultMunicipalityId: number) {
  return async (req: Request, res: Response) => {
    const user = req.auth!.user!;
    if (!maySeePersonalData(user) || !INFORMERS.includes(user.role)) {
      return res.status(403).json({ errors: [{ message: 'список обзвона содержит персональные данные: вашей роли он недоступен', extensions: { code: 'FORBIDDEN' } }] });
    }
    const em = orm.em.fork();
    try {
      const svc = new InformingService(em, { municipalityId: user.municipalityId ?? defaultMunicipalityId, user, actor: user.login, scope: scopeOf(user) });
      const list = await svc.callbackList(String(req.query.informingId ?? ''), 'CALLBACK_EXPORT');
      const inf = (await svc.get(Number(list.informingId)))!;
      const wb = new ExcelJS.Workbook();
      wb.creator = 'МЦУ Hub';
      const ws = wb.addWorksheet('Обзвон');
      ws.columns = [{ width: 6 }, { width: 34 }, { width: 18 }, { width: 28 }, { width: 40 }, { width: 28 }, { width: 14 }, { width: 10 }, { width: 24 }];
      ws.getCell(1, 1).value = xlsxCell(`Список обзвона № ${inf.id}: ${inf.sourceTitle ?? ''}`) as string;
      ws.getCell(1, 1).font = { bold: true };
      ws.getCell(2, 1).value = xlsxCell(`Сообщение: ${inf.message}`) as string;
      ws.getCell(3, 1).value = 'Только авторы, согласные на обратную связь. Персональные данные (152-ФЗ): не передавать третьим лицам.';
      const header = ws.getRow(5);
      header.values = ['№', 'ФИО', 'Телефон', 'E-mail', 'Адрес обращения', 'Тема', 'Обращение от', 'Номер', 'Отметка о звонке'];
      header.font = { bold: true };
      list.rows.forEach((r, i) => {
        ws.getRow(6 + i).values = [i + 1, r.fullName, r.phone, r.email, r.address, r.themeName, r.receivedAt, Number(r.appealId), ''].map(xlsxCell) as ExcelJS.CellValue[];
        ws.getCell(6 + i, 7).numFmt = 'dd.mm.yyyy';
      });
      res.set('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      res.set('content-disposition', `attachment; filename="callback-${inf.id}.xlsx"`);
      res.set('cache-control', 'no-store');
      res.send(Buffer.from(await wb.xlsx.writeBuffer()));
    } catch (e) {
      sendRouteError(res, e, 'callback export');
    }
  };
}

/** GET /exports/callback.xlsx?informingId=N: the call-back list of a targeted informing. */
export const mount: Mount = (app, { orm, municipalityId, exportGuard }) => {
  app.get('/exports/callback.xlsx', ...exportGuard, callbackExportHandler(orm, municipalityId));
};
