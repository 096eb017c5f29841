import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import ExcelJS from 'exceljs';
import { GraphQLError } from 'graphql';
import { query } from '../db/sql.js';
import { PlanService } from './service.js';
import { PlanItemStatus, PlanPeriodKind } from './types.js';
import type { Mount } from '../http/mount.js';
import { planDocxHandler } from './docx.js';

/**
 * GET /exports/plan.xlsx?id=N — the plan in the shape of a municipal plan: the approval stamp («УТВЕРЖДАЮ»), the
 * title, and the table «№ п/п · Наименование мероприятия · Ответственный исполнитель · Срок исполнения ·
 * Показатель / проблема · Отметка об исполнении». Text cells are plain strings (never formulas), dates are dates.
 */
const STATUS: Record<PlanItemStatus, string> = {
  PLANNED: 'запланировано', IN_PROGRESS: 'в работе', DONE: 'выполнено', CANCELLED: 'отменено',
};
const ROMAN = ['I', 'II', 'III', 'IV'];

export function planExportHandler(orm: MikroORM, defaultMunicipalityId: number) {
  return async (req: Request, res: Response) => {
    const id = Number(req.query.id);
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1) {
      return res.status(400).json({ errors: [{ message: 'id: номер плана — целое положительное число', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const user = req.auth!.user!;
    const em = orm.em.fork();
    try {
      const plan = await new PlanService(em, { municipalityId: user.municipalityId ?? defaultMunicipalityId, user }).get(id);
      const [mun] = await query<{ name: string }>(em, 'SELECT name FROM municipality WHERE id = ?', [user.municipalityId ?? defaultMunicipalityId]);
      const wb = new ExcelJS.Workbook();
      wb.creator = 'МЦУ Hub';
      const ws = wb.addWorksheet('План', { pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
      ws.columns = [{ width: 7 }, { width: 60 }, { width: 32 }, { width: 16 }, { width: 34 }, { width: 28 }];
      const year = plan.periodStart.slice(0, 4);
      const period = plan.periodKind === PlanPeriodKind.QUARTER
        ? `${ROMAN[Math.floor((Number(plan.periodStart.slice(5, 7)) - 1) / 3)]} квартал ${year} года` : `${year} год`;
      const stamp = plan.approvedBy
        ? ['УТВЕРЖДАЮ', 'Куратор муниципального центра управления', `${plan.approvedBy}`, `${plan.approvedAt!.toISOString().slice(0, 10).split('-').reverse().join('.')}`]
        : ['ПРОЕКТ', 'подлежит утверждению куратором', '', ''];
      stamp.forEach((line, i) => {
        const row = ws.getRow(i + 1);
        row.getCell(5).value = line;
        ws.mergeCells(i + 1, 5, i + 1, 6);
        row.getCell(5).alignment = { horizontal: 'center' };
        if (i === 0) row.getCell(5).font = { bold: true };
      });
      const titleRow = 6;
      ws.mergeCells(titleRow, 1, titleRow, 6);
      ws.getCell(titleRow, 1).value = 'ПЛАН';
      ws.getCell(titleRow, 1).font = { bold: true, size: 14 };
      ws.getCell(titleRow, 1).alignment = { horizontal: 'center' };
      ws.mergeCells(titleRow + 1, 1, titleRow + 1, 6);
      ws.getCell(titleRow + 1, 1).value = `деятельности муниципального центра управления (${mun?.name ?? ''}) на ${period}: ${plan.title}`;
      ws.getCell(titleRow + 1, 1).alignment = { horizontal: 'center', wrapText: true };
      ws.getRow(titleRow + 1).height = 32;
      const headerRow = titleRow + 3;
      const header = ws.getRow(headerRow);
      header.values = ['№ п/п', 'Наименование мероприятия', 'Ответственный исполнитель', 'Срок исполнения', 'Показатель / проблема', 'Отметка об исполнении'];
      header.font = { bold: true };
      header.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
      ws.views = [{ state: 'frozen', ySplit: headerRow }];
      plan.items.forEach((it, i) => {
        const row = ws.getRow(headerRow + 1 + i);
        const link = [it.indicatorName && `Показатель: ${it.indicatorName}`, it.problemTitle && `Проблема: ${it.problemTitle}`].filter(Boolean).join('; ');
        const mark = `${STATUS[it.status]}${it.status === 'DONE' && it.doneAt ? ` ${it.doneAt.split('-').reverse().join('.')}` : it.status !== 'CANCELLED' && it.status !== 'DONE' ? `, ${it.progress} %` : ''}${it.overdue ? ' (просрочено)' : ''}${it.note ? `; ${it.note}` : ''}`;
        // Strings are set as rich values of type string: exceljs never turns them into formulas.
        row.values = [it.position, it.title, [it.responsible, it.blockName].filter(Boolean).join('; '), new Date(`${it.dueDate}T00:00:00Z`), link, mark];
        row.getCell(4).numFmt = 'dd.mm.yyyy';
        row.alignment = { vertical: 'top', wrapText: true };
        if (it.overdue) row.getCell(6).font = { color: { argb: 'FFC00000' } };
      });
      for (let r = headerRow; r <= headerRow + plan.items.length; r++) {
        for (let c = 1; c <= 6; c++) ws.getCell(r, c).border = { top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' } };
      }
      const buf = await wb.xlsx.writeBuffer();
      res.set('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      res.set('content-disposition', `attachment; filename="plan-${id}.xlsx"`);
      res.send(Buffer.from(buf as ArrayBuffer));
    } catch (e) {
      if (e instanceof GraphQLError) return res.status(e.extensions?.code === 'BAD_USER_INPUT' ? 404 : 400).json({ errors: [{ message: e.message, extensions: e.extensions }] });
      console.error('[exports] plan failed', e);
      res.status(500).json({ errors: [{ message: 'Внутренняя ошибка сервера', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  };
}

/** GET /exports/plan.xlsx and /exports/plan.docx: the centre's activity plan in the shape of a municipal plan. */
export const mount: Mount = (app, { orm, municipalityId, exportGuard }) => {
  app.get('/exports/plan.xlsx', ...exportGuard, planExportHandler(orm, municipalityId));
  app.get('/exports/plan.docx', ...exportGuard, planDocxHandler(orm, municipalityId));
};
