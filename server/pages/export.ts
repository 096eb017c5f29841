import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import ExcelJS from 'exceljs';
import { GraphQLError } from 'graphql';
import { query } from '../db/sql.js';
import { createContext } from '../graphql/context.js';
import { scopeOf } from '../auth/scope.js';
import { CHECKS, CHECK_INFO, aggregateOrganizations, type CheckStatus } from './checks.js';
import { addMonths, monthArg, PageService } from './service.js';
import { PLATFORM_LABELS } from './urls.js';

/**
 * GET /exports/official-pages.xlsx?month=ГГГГ-ММ — the workbook for the meeting: the registry with the month's figures
 * and every check (figure, target, status), the failing checks, the organisations by their pages and the 12-month trend.
 * Russian headers, numbers as numbers; the user's row scope (ORG_OFFICER: their organisations).
 */
const STATUS_RU: Record<CheckStatus, string> = { PASS: 'выполнено', FAIL: 'не выполнено', NO_DATA: 'нет данных', NOT_APPLICABLE: '—' };

export function pagesExportHandler(orm: MikroORM, municipalityId: number) {
  return async (req: Request, res: Response) => {
    try {
      const ctx = createContext(orm, municipalityId, req.auth);
      const svc = new PageService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });
      const monthParam = typeof req.query.month === 'string' && req.query.month ? req.query.month : undefined;
      const month = monthParam ? monthArg('month', monthParam) : await svc.latestMonth();
      const pages = await svc.all();
      const orgNames = new Map((await query<{ id: number; name: string }>(ctx.em, 'SELECT id, coalesce(short_name, name) AS name FROM organization WHERE municipality_id = ?', [ctx.municipalityId])).map((r) => [r.id, r.name]));
      const cats = new Map((await svc.categories()).map((c) => [c.id, c.name]));
      const results = month ? new Map((await svc.results(month, month)).map((r) => [r.pageId, r])) : new Map();

      const wb = new ExcelJS.Workbook();
      wb.creator = 'МЦУ Hub';
      wb.created = new Date();
      const ws = wb.addWorksheet('Страницы', { views: [{ state: 'frozen', ySplit: 1, xSplit: 3 }] });
      ws.columns = [
        { key: 'org', header: 'Организация', width: 36 }, { key: 'platform', header: 'Площадка', width: 14 }, { key: 'name', header: 'Страница', width: 30 },
        { key: 'url', header: 'Адрес', width: 32 }, { key: 'category', header: 'Категория', width: 14 }, { key: 'responsible', header: 'Ответственный', width: 22 },
        { key: 'month', header: 'Месяц', width: 10 }, { key: 'score', header: 'Балл (0–100)', width: 10 }, { key: 'failed', header: 'Не выполнено проверок', width: 12 },
        { key: 'posts', header: 'Публикаций', width: 11 }, { key: 'views', header: 'Просмотров', width: 12 }, { key: 'likes', header: 'Отметок «Нравится»', width: 12 },
        { key: 'reposts', header: 'Репостов', width: 10 }, { key: 'comments', header: 'Комментариев', width: 12 }, { key: 'subscribers', header: 'Подписчиков', width: 12 },
        ...CHECKS.flatMap((c) => [
          { key: `f_${c}`, header: `${CHECK_INFO[c].label}${CHECK_INFO[c].unit ? `, ${CHECK_INFO[c].unit}` : ''}: значение`, width: 14 },
          { key: `t_${c}`, header: `${CHECK_INFO[c].label}: цель`, width: 10 },
          { key: `s_${c}`, header: `${CHECK_INFO[c].label}: итог`, width: 13 },
        ]),
      ];
      ws.getRow(1).font = { bold: true };
      ws.getRow(1).alignment = { wrapText: true, vertical: 'top' };
      const failing = wb.addWorksheet('Не выполнено', { views: [{ state: 'frozen', ySplit: 1 }] });
      failing.columns = [
        { key: 'org', header: 'Организация', width: 36 }, { key: 'name', header: 'Страница', width: 30 }, { key: 'url', header: 'Адрес', width: 32 },
        { key: 'check', header: 'Показатель', width: 36 }, { key: 'figure', header: 'Значение', width: 12 }, { key: 'target', header: 'Цель', width: 10 },
        { key: 'unit', header: 'Единица', width: 10 }, { key: 'note', header: 'Пояснение', width: 50 },
      ];
      failing.getRow(1).font = { bold: true };
      for (const p of pages) {
        const r = results.get(p.id);
        const row: Record<string, string | number | null> = {
          org: orgNames.get(p.organizationId) ?? '', platform: PLATFORM_LABELS[p.platform], name: p.name, url: p.url, category: cats.get(p.categoryId) ?? '',
          responsible: p.responsible ?? '', month: month ? month.slice(0, 7) : '',
        };
        if (r) {
          Object.assign(row, { score: r.score, failed: r.failed, posts: r.posts, views: r.views, likes: r.likes, reposts: r.reposts, comments: r.comments, subscribers: r.subscribers });
          for (const c of r.checks) {
            row[`f_${c.code}`] = c.figure;
            row[`t_${c.code}`] = c.target;
            row[`s_${c.code}`] = STATUS_RU[c.status as CheckStatus];
            if (c.status === 'FAIL') failing.addRow({ org: row.org, name: p.name, url: p.url, check: c.label, figure: c.figure, target: c.target, unit: c.unit, note: c.note ?? '' });
          }
        }
        ws.addRow(row);
      }
      ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: ws.columns.length } };

      const orgs = wb.addWorksheet('Организации', { views: [{ state: 'frozen', ySplit: 1 }] });
      orgs.columns = [
        { key: 'rank', header: 'Место', width: 8 }, { key: 'org', header: 'Организация', width: 40 }, { key: 'score', header: 'Балл по страницам (0–100)', width: 14 },
        { key: 'pages', header: 'Страниц', width: 9 }, { key: 'failed', header: 'Не выполнено проверок', width: 12 },
        ...CHECKS.map((c) => ({ key: `p_${c}`, header: `${CHECK_INFO[c].label}: доля страниц, выполнивших, %`, width: 14 })),
      ];
      orgs.getRow(1).font = { bold: true };
      orgs.getRow(1).alignment = { wrapText: true, vertical: 'top' };
      if (month) {
        aggregateOrganizations([...results.values()]).forEach((o, i) => {
          const row: Record<string, string | number | null> = { rank: i + 1, org: orgNames.get(o.organizationId) ?? '', score: o.score, pages: o.pages, failed: o.failedChecks };
          for (const c of CHECKS) row[`p_${c}`] = o.passShare[c] == null ? null : Math.round(o.passShare[c] * 1000) / 10;
          orgs.addRow(row);
        });
      }
      const trend = wb.addWorksheet('Динамика');
      if (month) {
        const from = addMonths(month, -11);
        const hist = aggregateOrganizations(await svc.results(from, month));
        const months = Array.from({ length: 12 }, (_, i) => addMonths(from, i).slice(0, 7));
        trend.columns = [{ key: 'org', header: 'Организация', width: 40 }, ...months.map((m) => ({ key: m, header: m, width: 9 }))];
        trend.getRow(1).font = { bold: true };
        const byOrg = new Map<number, Record<string, string | number | null>>();
        for (const h of hist) {
          let r = byOrg.get(h.organizationId);
          if (!r) byOrg.set(h.organizationId, (r = { org: orgNames.get(h.organizationId) ?? '' }));
          r[h.month.slice(0, 7)] = h.score;
        }
        for (const r of [...byOrg.values()].sort((a, b) => String(a.org).localeCompare(String(b.org), 'ru'))) trend.addRow(r);
      }
      const stamp = month ? month.slice(0, 7) : new Date().toISOString().slice(0, 10);
      res.setHeader('Content-Disposition', `attachment; filename="official-pages-${stamp}.xlsx"; filename*=UTF-8''${encodeURIComponent(`официальные-страницы-${stamp}.xlsx`)}`);
      res.setHeader('Cache-Control', 'private, no-store');
      res.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      res.send(Buffer.from(await wb.xlsx.writeBuffer()));
    } catch (e) {
      const err = e as Error;
      if (err instanceof GraphQLError && err.extensions?.code === 'BAD_USER_INPUT') {
        res.status(400).type('text/plain; charset=utf-8').send(`Неверный запрос выгрузки: ${err.message}`);
        return;
      }
      console.error('[pages] export failed', e);
      res.status(500).type('text/plain; charset=utf-8').send('Не удалось сформировать выгрузку');
    }
  };
}
