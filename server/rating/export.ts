import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import ExcelJS from 'exceljs';
import { GraphQLError } from 'graphql';
import { createContext } from '../graphql/context.js';
import { RatingService, type Aggregate, type FormalAnswer, type QueueItem, type RatingResult } from './service.js';
import { BASE_FACTORS, FACTOR_LABELS } from './settings.js';
import type { PeriodKind } from './period.js';
import type { Mount } from '../http/mount.js';
import { wallClock } from '../util/timezone.js';

/**
 * GET /exports/rating.xlsx?kind=YEAR&start=2026-01-01[&end=…][&blockId=…][&organizationId=…]
 * The workbook for the head's meeting, one sheet per view of the page: «Рейтинг», «Разбивка по факторам», «Просроченные»,
 * «Под угрозой»; with organizationId, the organisation's card as well: «Динамика» (its months) and «Отписки».
 * Numbers are numbers, shares are percentage cells, the header is frozen. Same auth and row scope as the GraphQL
 * queries (BLOCK_LEAD: their block; ORG_OFFICER: the queues of their organisation only).
 */

const KIND_LABELS: Record<string, string> = { ADMINISTRATION: 'Администрация', FUNCTIONAL_BODY: 'Орган', SUBORDINATE: 'Подведомственная' };
const PCT = '0.0%';
const QUEUE_MAX = 5000;

type Col = { header: string; key: string; width: number; numFmt?: string };

function sheet(wb: ExcelJS.Workbook, name: string, title: string, cols: Col[]): ExcelJS.Worksheet {
  const ws = wb.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 2 }], pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 } });
  ws.columns = cols.map((c) => ({ key: c.key, width: c.width, style: c.numFmt ? { numFmt: c.numFmt } : {} }));
  const t = ws.getRow(1);
  t.getCell(1).value = title;
  t.font = { bold: true, size: 14 };
  ws.mergeCells(1, 1, 1, Math.min(cols.length, 8));
  const h = ws.getRow(2);
  cols.forEach((c, i) => { h.getCell(i + 1).value = c.header; });
  h.font = { bold: true };
  h.alignment = { wrapText: true, vertical: 'top' };
  h.height = 45;
  h.eachCell((c) => { c.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE8EEF5' } }; c.border = { bottom: { style: 'thin' } }; });
  ws.autoFilter = { from: { row: 2, column: 1 }, to: { row: 2, column: cols.length } };
  return ws;
}

const hours = (min: number | null) => (min == null ? null : Math.round((min / 60) * 10) / 10);

/** Excel cells have no time zone: a date cell shows the municipality's local wall time (whole seconds). */
export function wallTime(d: Date, tz: string): Date {
  return new Date(Math.floor(wallClock(tz, d.getTime()) / 1000) * 1000);
}

/** The organisation's card: its name, the trend by month and its formal answers. */
export interface CardSheets {
  name: string;
  trend: { month: string; agg: Aggregate; score: number | null }[];
  formal: FormalAnswer[];
  formalTotal: number;
}

export async function ratingWorkbook(r: RatingResult, overdue: QueueItem[], atRisk: QueueItem[], blockName: string | null, tz = 'UTC', card?: CardSheets): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'МЦУ Hub';
  wb.created = new Date();
  const suffix = `${r.period.label}${blockName ? ` — блок «${blockName}»` : ''}`;
  const inds = r.settings.indicators;
  const s1 = sheet(wb, 'Рейтинг', `Рейтинг органов и подведомственных организаций: ${suffix}`, [
    { header: 'Место', key: 'rank', width: 8 },
    { header: 'Изменение места', key: 'change', width: 11 },
    { header: 'Организация', key: 'name', width: 50 },
    { header: 'Вид', key: 'kind', width: 16 },
    { header: 'Балл (0–100)', key: 'score', width: 10, numFmt: '0.0' },
    { header: 'Балл в прошлом периоде', key: 'prev', width: 11, numFmt: '0.0' },
    { header: 'Поступило обращений', key: 'received', width: 11 },
    { header: 'Ответы в срок', key: 'onTime', width: 10, numFmt: PCT },
    { header: 'Медиана времени ответа, раб. ч', key: 'median', width: 12, numFmt: '0.0' },
    { header: 'Просрочено сейчас', key: 'overdue', width: 11 },
    { header: 'Формальные ответы', key: 'formal', width: 11, numFmt: PCT },
    { header: 'Средняя оценка', key: 'satMean', width: 9, numFmt: '0.00' },
    { header: 'Оценки 4–5', key: 'sat', width: 9, numFmt: PCT },
    { header: 'Повторные после ответа', key: 'repeats', width: 11, numFmt: PCT },
    ...inds.map((i) => ({ header: i.name, key: `ind_${i.code}`, width: 14, numFmt: '0.0' })),
    { header: 'В рейтинге', key: 'ranked', width: 12 },
  ]);
  const share = (n: number, d: number) => (d > 0 ? n / d : null);
  for (const x of r.rows) {
    const a = x.agg;
    const row: Record<string, unknown> = {
      rank: x.rank, change: x.rankChange, name: x.name, kind: KIND_LABELS[x.kind] ?? x.kind, score: x.score, prev: x.previousScore, received: a.received,
      onTime: share(a.onTime, a.dueJudged), median: hours(a.medianMinutes), overdue: a.overdue, formal: share(a.formal, a.judged),
      satMean: a.satisfactionMean == null ? null : Math.round(a.satisfactionMean * 100) / 100, sat: share(a.satisfied, a.rated), repeats: share(a.repeated, a.answered),
      ranked: x.ranked ? 'да' : `нет (менее ${r.settings.minAppeals} обращений)`,
    };
    for (const i of inds) row[`ind_${i.code}`] = a.indicators[i.code] ?? null;
    s1.addRow(row);
  }
  const factors = [...BASE_FACTORS.map((f) => ({ key: f, label: FACTOR_LABELS[f], weight: r.settings.weights[f] })), ...inds.map((i) => ({ key: `ind:${i.code}`, label: i.name, weight: i.weight }))];
  const totalW = factors.reduce((s, f) => s + f.weight, 0) || 1;
  const s2 = sheet(wb, 'Разбивка по факторам', `Разбивка балла по факторам (баллы — вклад в итог 0–100): ${suffix}`, [
    { header: 'Место', key: 'rank', width: 8 },
    { header: 'Организация', key: 'name', width: 50 },
    { header: 'Балл (0–100)', key: 'score', width: 10, numFmt: '0.0' },
    ...factors.map((f) => ({ header: `${f.label} (вес ${Math.round((f.weight / totalW) * 1000) / 10} %)`, key: `p_${f.key}`, width: 14, numFmt: '0.0' })),
  ]);
  for (const x of r.rows) {
    const row: Record<string, unknown> = { rank: x.rank, name: x.name, score: x.score };
    for (const f of factors) {
      const p = x.breakdown.find((b) => b.factor === f.key);
      row[`p_${f.key}`] = p && p.normalized != null ? p.points : null;
    }
    s2.addRow(row);
  }
  const queueCols = (left: string): Col[] => [
    { header: '№ обращения', key: 'id', width: 11 },
    { header: 'Срочное', key: 'urgent', width: 9 },
    { header: left, key: 'left', width: 12, numFmt: '0.0' },
    { header: 'Срок ответа', key: 'due', width: 17, numFmt: 'dd.mm.yyyy hh:mm' },
    { header: 'Поступило', key: 'received', width: 17, numFmt: 'dd.mm.yyyy hh:mm' },
    { header: 'Организация', key: 'org', width: 34 },
    { header: 'Тема', key: 'theme', width: 28 },
    { header: 'Адрес', key: 'address', width: 30 },
    { header: 'Текст обращения', key: 'text', width: 70 },
  ];
  const fill = (ws: ExcelJS.Worksheet, items: QueueItem[], sign: number) => {
    for (const q of items) {
      ws.addRow({ id: q.id, urgent: q.urgent ? 'да' : '', left: Math.round((sign * q.minutesLeft / 60) * 10) / 10, due: wallTime(q.answerDueAt, tz), received: wallTime(q.receivedAt, tz),
        org: q.organizationName ?? '', theme: q.themeName ?? '', address: q.address ?? '', text: q.text });
    }
  };
  fill(sheet(wb, 'Просроченные', `Просроченные обращения (без ответа, срок истёк): ${overdue.length}`, queueCols('Просрочено на, ч')), overdue, -1);
  fill(sheet(wb, 'Под угрозой', `Обращения под угрозой срыва срока: ${atRisk.length}`, queueCols('Осталось, ч')), atRisk, 1);
  if (card) {
    const share = (n: number, d: number) => (d > 0 ? n / d : null);
    const s5 = sheet(wb, 'Динамика', `${card.name}: динамика по месяцам`, [
      { header: 'Месяц', key: 'month', width: 12, numFmt: 'mm.yyyy' },
      { header: 'Балл (0–100)', key: 'score', width: 11, numFmt: '0.0' },
      { header: 'Поступило', key: 'received', width: 11, numFmt: '0' },
      { header: 'Ответы в срок', key: 'onTime', width: 11, numFmt: PCT },
      { header: 'Медиана времени ответа, раб. ч', key: 'median', width: 14, numFmt: '0.0' },
      { header: 'Просрочено сейчас', key: 'overdue', width: 11, numFmt: '0' },
      { header: 'Доля отписок', key: 'formal', width: 11, numFmt: PCT },
      { header: 'Оценки 4–5', key: 'sat', width: 11, numFmt: PCT },
      { header: 'Повторные после ответа', key: 'repeats', width: 11, numFmt: PCT },
    ]);
    for (const t of card.trend) {
      const a = t.agg;
      s5.addRow({ month: new Date(`${t.month}T00:00:00Z`), score: t.score, received: a.received, onTime: share(a.onTime, a.dueJudged), median: hours(a.medianMinutes),
        overdue: a.overdue, formal: share(a.formal, a.judged), sat: share(a.satisfied, a.rated), repeats: share(a.repeated, a.answered) });
    }
    const s6 = sheet(wb, 'Отписки', `${card.name}: формальные ответы за период (${card.formal.length} из ${card.formalTotal})`, [
      { header: '№ обращения', key: 'id', width: 11 },
      { header: 'Поступило', key: 'received', width: 17, numFmt: 'dd.mm.yyyy hh:mm' },
      { header: 'Ответ дан', key: 'answered', width: 17, numFmt: 'dd.mm.yyyy hh:mm' },
      { header: 'Тема', key: 'theme', width: 28 },
      { header: 'Текст обращения', key: 'text', width: 60 },
      { header: 'Ответ', key: 'answer', width: 60 },
      { header: 'Почему отписка', key: 'reasons', width: 50 },
      { header: 'Оценку изменил человек', key: 'overridden', width: 12 },
    ]);
    for (const f of card.formal) {
      s6.addRow({ id: f.id, received: wallTime(f.receivedAt, tz), answered: f.answeredAt ? wallTime(f.answeredAt, tz) : null, theme: f.themeName ?? '',
        text: f.text, answer: f.answerText ?? '', reasons: f.reasons.join('; '), overridden: f.overridden ? 'да' : '' });
    }
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export function ratingExportHandler(orm: MikroORM, municipalityId: number) {
  return async (req: Request, res: Response) => {
    try {
      const q = req.query as Record<string, unknown>;
      const str = (v: unknown) => (v == null || v === '' ? undefined : String(v).slice(0, 40));
      const ctx = createContext(orm, municipalityId, req.auth);
      const svc = new RatingService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor });
      const kind = (str(q.kind) ?? 'YEAR') as PeriodKind;
      const start = str(q.start) ?? `${new Date().getUTCFullYear()}-01-01`;
      const block = await svc.effectiveBlock(str(q.blockId));
      const r = await svc.rating({ kind, start, end: str(q.end) }, block);
      const org = str(q.organizationId) ? await svc.checkOrganization(str(q.organizationId)!) : null;
      const overdue = (await svc.queue('OVERDUE', { organizationId: org, blockId: block }, 500, 0)).items;
      const atRisk = (await svc.queue('AT_RISK', { organizationId: org, blockId: block }, 500, 0)).items;
      // Beyond one page: the rest, up to QUEUE_MAX rows per sheet.
      for (const [state, list] of [['OVERDUE', overdue], ['AT_RISK', atRisk]] as const) {
        while (list.length % 500 === 0 && list.length > 0 && list.length < QUEUE_MAX) {
          const more = (await svc.queue(state, { organizationId: org, blockId: block }, 500, list.length)).items;
          if (!more.length) break;
          list.push(...more);
        }
      }
      const blockName = block != null ? (await ctx.em.execute<{ name: string }[]>('SELECT name FROM thematic_block WHERE id = ?', [block]))[0]?.name ?? null : null;
      const [m] = await ctx.em.execute<{ timezone: string }[]>('SELECT timezone FROM municipality WHERE id = ?', [ctx.municipalityId]);
      let card: CardSheets | undefined;
      if (org != null) {
        const period = { kind, start, end: str(q.end) };
        const [trend, formal, [o]] = [await svc.trend(org, period, block), await svc.formalAnswers(org, period, block, 1000),
          await ctx.em.execute<{ name: string }[]>('SELECT name FROM organization WHERE id = ?', [org])];
        card = { name: o?.name ?? String(org), trend, formal: formal.items, formalTotal: formal.total };
      }
      const body = await ratingWorkbook(r, overdue, atRisk, blockName, m?.timezone ?? 'UTC', card);
      const fileName = `rating-${r.period.from}.xlsx`;
      res.setHeader('Content-Disposition', `attachment; filename="${fileName}"; filename*=UTF-8''${encodeURIComponent(`рейтинг-${r.period.from}.xlsx`)}`);
      res.setHeader('Cache-Control', 'private, no-store');
      res.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').send(body);
    } catch (e) {
      const err = e as GraphQLError;
      const code = err instanceof GraphQLError ? err.extensions?.code : undefined;
      if (code === 'BAD_USER_INPUT') { res.status(400).type('text/plain; charset=utf-8').send(`Неверный запрос выгрузки: ${err.message}`); return; }
      if (code === 'FORBIDDEN') { res.status(403).type('text/plain; charset=utf-8').send(err.message); return; }
      console.error('[rating export] failed', e);
      res.status(500).type('text/plain; charset=utf-8').send('Не удалось сформировать выгрузку');
    }
  };
}

/** GET /exports/rating.xlsx: the rating of bodies and organisations with its queues, for the head's meeting (row scope). */
export const mount: Mount = (app, { orm, municipalityId, exportGuard }) => {
  app.get('/exports/rating.xlsx', ...exportGuard, ratingExportHandler(orm, municipalityId));
};
