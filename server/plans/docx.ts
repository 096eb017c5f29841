import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AlignmentType, BorderStyle, Document, PageOrientation, Packer, Paragraph, Table, TableCell, TableRow, TextRun, WidthType } from 'docx';
import { GraphQLError } from 'graphql';
import { query } from '../db/sql.js';
import { PlanService } from './service.js';
import { PlanPeriodKind, type PlanItemStatus } from './types.js';

/**
 * GET /exports/plan.docx?id=N — the plan as a municipal plan document (DOCX, landscape): the approval block
 * «УТВЕРЖДАЮ» (curator, date) or «ПРОЕКТ», the title «ПЛАН деятельности …», and the table «№ п/п · Наименование
 * мероприятия · Срок исполнения · Ответственный исполнитель · Отметка о выполнении». Text from the database goes
 * into text runs only.
 */
const STATUS: Record<PlanItemStatus, string> = { PLANNED: 'запланировано', IN_PROGRESS: 'в работе', DONE: 'выполнено', CANCELLED: 'отменено' };
const ROMAN = ['I', 'II', 'III', 'IV'];
const ru = (d: string) => d.slice(0, 10).split('-').reverse().join('.');
const font = 'Times New Roman';

export async function planDocx(orm: MikroORM, municipalityId: number, user: NonNullable<Request['auth']>['user'], id: number): Promise<Buffer> {
  const em = orm.em.fork();
  const plan = await new PlanService(em, { municipalityId, user: user! }).get(id);
  const [mun] = await query<{ name: string }>(em, 'SELECT name FROM municipality WHERE id = ?', [municipalityId]);
  const year = plan.periodStart.slice(0, 4);
  const period = plan.periodKind === PlanPeriodKind.QUARTER ? `${ROMAN[Math.floor((Number(plan.periodStart.slice(5, 7)) - 1) / 3)]} квартал ${year} года` : `${year} год`;
  const right = (text: string, bold = false) => new Paragraph({ alignment: AlignmentType.LEFT, indent: { left: 9000 }, children: [new TextRun({ text, bold, font, size: 26 })] });
  const stamp = plan.approvedBy
    ? [right('УТВЕРЖДАЮ', true), right('Куратор муниципального центра управления'), right(`____________ ${plan.approvedBy}`), right(`«${ru(plan.approvedAt!.toISOString()).slice(0, 2)}» ${ru(plan.approvedAt!.toISOString()).slice(3)} г.`)]
    : [right('ПРОЕКТ', true), right('подлежит утверждению куратором'), right('муниципального центра управления')];
  const cell = (text: string, opts: { bold?: boolean; width?: number; center?: boolean } = {}) => new TableCell({
    width: opts.width ? { size: opts.width, type: WidthType.PERCENTAGE } : undefined,
    children: [new Paragraph({ alignment: opts.center ? AlignmentType.CENTER : AlignmentType.LEFT, children: [new TextRun({ text, bold: opts.bold, font, size: 24 })] })],
  });
  const border = { style: BorderStyle.SINGLE, size: 4, color: '000000' };
  const rows = [
    new TableRow({ tableHeader: true, children: [cell('№ п/п', { bold: true, width: 6, center: true }), cell('Наименование мероприятия', { bold: true, width: 44, center: true }),
      cell('Срок исполнения', { bold: true, width: 12, center: true }), cell('Ответственный исполнитель', { bold: true, width: 20, center: true }), cell('Отметка о выполнении', { bold: true, width: 18, center: true })] }),
    ...plan.items.map((it) => {
      const link = [it.indicatorName && `Показатель: ${it.indicatorName}`, it.problemTitle && `Проблема: ${it.problemTitle}`].filter(Boolean).join('; ');
      const mark = `${STATUS[it.status]}${it.status === 'DONE' && it.doneAt ? ` ${ru(it.doneAt)}` : it.status !== 'CANCELLED' && it.status !== 'DONE' ? `, ${it.progress} %` : ''}${it.overdue ? ' (просрочено)' : ''}${it.note ? `; ${it.note}` : ''}`;
      return new TableRow({ children: [cell(`${it.position}.`, { center: true }), cell(link ? `${it.title} (${link})` : it.title), cell(ru(it.dueDate), { center: true }),
        cell([it.responsible, it.blockName].filter(Boolean).join('; ')), cell(mark)] });
    }),
  ];
  const doc = new Document({
    creator: 'МЦУ Hub',
    title: `План ${plan.title}`,
    sections: [{
      properties: { page: { size: { orientation: PageOrientation.LANDSCAPE }, margin: { top: 1134, bottom: 850, left: 1134, right: 1134 } } },
      children: [
        ...stamp,
        new Paragraph({ spacing: { before: 360 }, alignment: AlignmentType.CENTER, children: [new TextRun({ text: 'ПЛАН', bold: true, font, size: 28 })] }),
        new Paragraph({ alignment: AlignmentType.CENTER, children: [new TextRun({ text: `деятельности муниципального центра управления (${mun?.name ?? ''}) на ${period}`, bold: true, font, size: 26 })] }),
        new Paragraph({ alignment: AlignmentType.CENTER, spacing: { after: 240 }, children: [new TextRun({ text: plan.title, font, size: 26 })] }),
        new Table({ width: { size: 100, type: WidthType.PERCENTAGE }, borders: { top: border, bottom: border, left: border, right: border, insideHorizontal: border, insideVertical: border }, rows }),
        new Paragraph({ spacing: { before: 360 }, children: [new TextRun({ text: `Руководитель-координатор МЦУ  ____________  ${plan.draftedBy}`, font, size: 26 })] }),
      ],
    }],
  });
  return Packer.toBuffer(doc);
}

export function planDocxHandler(orm: MikroORM, defaultMunicipalityId: number) {
  return async (req: Request, res: Response) => {
    const id = Number(req.query.id);
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1) {
      return res.status(400).json({ errors: [{ message: 'id: номер плана — целое положительное число', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const user = req.auth!.user!;
    try {
      const buf = await planDocx(orm, user.municipalityId ?? defaultMunicipalityId, user, id);
      res.set('content-type', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
      res.set('content-disposition', `attachment; filename="plan-${id}.docx"`);
      res.send(buf);
    } catch (e) {
      if (e instanceof GraphQLError) return res.status(e.extensions?.code === 'BAD_USER_INPUT' ? 404 : 400).json({ errors: [{ message: e.message, extensions: e.extensions }] });
      console.error('[exports] plan docx failed', e);
      res.status(500).json({ errors: [{ message: 'Внутренняя ошибка сервера', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  };
}
