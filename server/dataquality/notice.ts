import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AlignmentType, BorderStyle, Document, Packer, Paragraph, Table, TableCell, TableRow, TextRun, WidthType } from 'docx';
import { query } from '../db/sql.js';
import { scopeOf } from '../auth/scope.js';
import { DQ_RULES, DataQualityService } from './service.js';
import type { Mount } from '../http/mount.js';

/**
 * GET /exports/notice.docx?id=N — the notice to the head of an organisation as a letter (DOCX): addressee, subject,
 * the list of errors found in its data, the date to fix them by, the coordinator's signature. Text from the database
 * goes into text runs only (never fields or markup).
 */
const ruleName = new Map(DQ_RULES.map((r) => [r.code, r.name]));
const ru = (d: string | Date) => new Date(d).toISOString().slice(0, 10).split('-').reverse().join('.');

export async function noticeDocx(orm: MikroORM, municipalityId: number, id: number, scope?: ReturnType<typeof scopeOf>): Promise<Buffer | null> {
  const em = orm.em.fork();
  const svc = new DataQualityService(em, { municipalityId, actor: 'export', scope });
  const [n] = await svc.notices(id);
  if (!n) return null;
  const [org] = await query<{ name: string; head_name: string | null; head_title: string | null }>(em, 'SELECT name, head_name, head_title FROM organization WHERE id = ?', [Number(n.organizationId)]);
  const [mun] = await query<{ name: string }>(em, 'SELECT name FROM municipality WHERE id = ?', [municipalityId]);
  const findings = await query<{ rule: string; details: string; first_found_at: string; resolved_at: string | null }>(em,
    'SELECT rule, details, first_found_at, resolved_at FROM dq_finding WHERE notice_id = ? ORDER BY rule, first_found_at, id LIMIT 2000', [id]);
  const font = 'Times New Roman';
  const p = (text: string, opts: { bold?: boolean; align?: (typeof AlignmentType)[keyof typeof AlignmentType]; after?: number; indent?: boolean } = {}) =>
    new Paragraph({ alignment: opts.align ?? AlignmentType.JUSTIFIED, spacing: { after: opts.after ?? 120 }, indent: opts.indent ? { firstLine: 709 } : undefined,
      children: [new TextRun({ text, bold: opts.bold, font, size: 26 })] });
  const cell = (text: string, bold = false, width?: number) => new TableCell({ width: width ? { size: width, type: WidthType.PERCENTAGE } : undefined,
    children: [new Paragraph({ children: [new TextRun({ text, bold, font, size: 22 })] })] });
  const border = { style: BorderStyle.SINGLE, size: 4, color: '000000' };
  const table = new Table({
    width: { size: 100, type: WidthType.PERCENTAGE },
    borders: { top: border, bottom: border, left: border, right: border, insideHorizontal: border, insideVertical: border },
    rows: [
      new TableRow({ tableHeader: true, children: [cell('№', true, 6), cell('Вид ошибки', true, 24), cell('Описание', true, 55), cell('Выявлено', true, 15)] }),
      ...findings.map((f, i) => new TableRow({ children: [cell(String(i + 1)), cell(ruleName.get(f.rule) ?? f.rule), cell(f.details + (f.resolved_at ? ' (устранено)' : '')), cell(ru(f.first_found_at))] })),
    ],
  });
  const addressee = [org.head_title ? `${org.head_title}` : 'Руководителю', org.name, org.head_name ?? ''].filter(Boolean);
  const doc = new Document({
    creator: 'МЦУ Hub',
    title: `Уведомление № ${id}`,
    sections: [{
      properties: { page: { margin: { top: 1134, bottom: 1134, left: 1701, right: 850 } } },
      children: [
        ...addressee.map((line) => new Paragraph({ alignment: AlignmentType.RIGHT, children: [new TextRun({ text: line, font, size: 26 })] })),
        p('', { after: 240 }),
        p(`Уведомление № ${id} от ${ru(String(n.createdAt))}`, { align: AlignmentType.LEFT }),
        p('О необходимости устранения ошибок в данных', { bold: true, align: AlignmentType.LEFT, after: 240 }),
        p(org.head_name ? `Уважаемый(ая) ${org.head_name}!` : 'Уважаемый руководитель!', { align: AlignmentType.CENTER, after: 240 }),
        p(`Муниципальный центр управления (${mun.name}) в ходе контроля качества и достоверности данных, предоставляемых органами и организациями, выявил в данных ${org.name} следующие ошибки (${findings.length}):`, { indent: true }),
        table,
        p('', { after: 120 }),
        p(`Просим устранить указанные ошибки в срок до ${ru(String(n.fixBy))} и сообщить о результатах в муниципальный центр управления. Устранение проверяется автоматически при следующем контроле данных.`, { indent: true }),
        ...(n.comment ? [p(String(n.comment), { indent: true })] : []),
        p('', { after: 480 }),
        p(`Руководитель-координатор МЦУ  ____________  ${String(n.createdBy)}`, { align: AlignmentType.LEFT }),
      ],
    }],
  });
  return Packer.toBuffer(doc);
}

export function noticeExportHandler(orm: MikroORM, defaultMunicipalityId: number) {
  return async (req: Request, res: Response) => {
    const id = Number(req.query.id);
    if (!Number.isInteger(id) || id < 1 || id > 2 ** 31 - 1) {
      return res.status(400).json({ errors: [{ message: 'id: номер уведомления — целое положительное число', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const user = req.auth!.user!;
    try {
      const buf = await noticeDocx(orm, user.municipalityId ?? defaultMunicipalityId, id, scopeOf(user));
      if (!buf) return res.status(404).json({ errors: [{ message: `уведомление ${id} не найдено`, extensions: { code: 'NOT_FOUND' } }] });
      res.set('content-type', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document');
      res.set('content-disposition', `attachment; filename="notice-${id}.docx"`);
      res.send(buf);
    } catch (e) {
      console.error('[exports] notice failed', e);
      res.status(500).json({ errors: [{ message: 'Внутренняя ошибка сервера', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  };
}

/** GET /exports/notice.docx: a data-quality notice to the head of an organisation; officers only their organisation's. */
export const mount: Mount = (app, { orm, municipalityId, exportGuard }) => {
  app.get('/exports/notice.docx', ...exportGuard, noticeExportHandler(orm, municipalityId));
};
