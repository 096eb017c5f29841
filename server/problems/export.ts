import type { Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import ExcelJS from 'exceljs';
import { stringify } from 'csv-stringify/sync';
import { neutraliseRow, xlsxCell } from '../export/cells.js';
import { GraphQLError } from 'graphql';
import { query } from '../db/sql.js';
import { createContext } from '../graphql/context.js';
import { scopeOf } from '../auth/scope.js';
import { FACTORS, FACTOR_LABELS } from './settings.js';
import { ProblemService, type ProblemRow } from './service.js';
import { ProblemOrder, ProblemSource, ProblemStatus, STATUS_LABELS, type ProblemFilter } from './types.js';
import type { Mount } from '../http/mount.js';

/**
 * Exports of the problem list for meetings and planning:
 *   GET /exports/problems.xlsx | .csv | .geojson ?statuses=…&sources=…&districtIds=…&themeIds=…&organizationIds=…&active=…&minScore=…&bbox=…&orderBy=…
 * XLSX and CSV (UTF-8 with BOM, `;`, for Excel) carry the score broken down by factor; GeoJSON the hulls
 * with the same properties. Same filter and row scope as the `problems` query.
 */

const SOURCE_LABELS: Record<ProblemSource, string> = { APPEALS: 'обращения', CUR: 'тепловая карта ЦУР', DISCUSSION: 'общественное обсуждение' };
const MAX_ROWS = 10_000;

export class ExportInputError extends Error {}

const list = (v: unknown): string[] | undefined => {
  if (v == null || v === '') return undefined;
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return s.split(',').map((x) => x.trim()).filter(Boolean);
};

export function parseExportQuery(q: Record<string, unknown>): { filter: ProblemFilter; order: ProblemOrder } {
  const f: ProblemFilter = {};
  const statuses = list(q.statuses);
  if (statuses) {
    for (const s of statuses) if (!Object.values(ProblemStatus).includes(s as ProblemStatus)) throw new ExportInputError(`statuses: неизвестный статус «${s.slice(0, 30)}»; допустимы: ${Object.keys(ProblemStatus).join(', ')}`);
    f.statuses = statuses as ProblemStatus[];
  }
  const sources = list(q.sources);
  if (sources) {
    for (const s of sources) if (!Object.values(ProblemSource).includes(s as ProblemSource)) throw new ExportInputError(`sources: неизвестный источник «${s.slice(0, 30)}»; допустимы: ${Object.keys(ProblemSource).join(', ')}`);
    f.sources = sources as ProblemSource[];
  }
  f.districtIds = list(q.districtIds);
  f.themeIds = list(q.themeIds);
  f.organizationIds = list(q.organizationIds);
  if (q.active != null && q.active !== '') {
    if (q.active !== 'true' && q.active !== 'false') throw new ExportInputError(`active: ожидается true или false, получено «${String(q.active).slice(0, 20)}»`);
    f.active = q.active === 'true';
  }
  if (q.minScore != null && q.minScore !== '') f.minScore = Number(q.minScore);
  if (q.text != null && q.text !== '') f.text = String(q.text);
  if (q.bbox != null && q.bbox !== '') {
    const v = String(q.bbox).split(',').map(Number);
    if (v.length !== 4 || v.some((x) => !Number.isFinite(x))) throw new ExportInputError(`bbox: ожидается minLon,minLat,maxLon,maxLat, получено «${String(q.bbox).slice(0, 60)}»`);
    f.bbox = { minLon: v[0], minLat: v[1], maxLon: v[2], maxLat: v[3] };
  }
  const order = (q.orderBy ?? 'SCORE') as ProblemOrder;
  if (!Object.values(ProblemOrder).includes(order)) throw new ExportInputError(`orderBy: неизвестный порядок «${String(order).slice(0, 20)}»; допустимы: ${Object.keys(ProblemOrder).join(', ')}`);
  return { filter: f, order };
}

interface Names { themes: Map<number, string>; districts: Map<number, string>; organizations: Map<number, string> }

async function names(orm: MikroORM, municipalityId: number): Promise<Names> {
  const em = orm.em.fork();
  const map = async (table: string) => new Map((await query<{ id: number; name: string }>(em, `SELECT id, name FROM ${table} WHERE municipality_id = ?`, [municipalityId])).map((r) => [r.id, r.name]));
  return { themes: await map('theme'), districts: await map('district'), organizations: await map('organization') };
}

const day = (v: string | null) => (v ? new Date(v).toISOString().slice(0, 10) : '');

/** One row per problem: columns (Russian headers) and values, the factor breakdown included. */
export function exportColumns(): { key: string; header: string; width: number }[] {
  return [
    { key: 'rankCity', header: 'Место в городе', width: 8 },
    { key: 'rankDistrict', header: 'Место в районе', width: 8 },
    { key: 'id', header: 'Номер', width: 8 },
    { key: 'title', header: 'Проблема', width: 60 },
    { key: 'theme', header: 'Тема', width: 30 },
    { key: 'district', header: 'Район', width: 20 },
    { key: 'organization', header: 'Ответственная организация', width: 40 },
    { key: 'status', header: 'Статус', width: 16 },
    { key: 'source', header: 'Источник', width: 18 },
    { key: 'score', header: 'Балл (0–100)', width: 10 },
    { key: 'appeals', header: 'Обращений', width: 10 },
    { key: 'authors', header: 'Заявителей', width: 10 },
    ...FACTORS.map((f) => ({ key: `f_${f}`, header: `${FACTOR_LABELS[f]}: значение`, width: 14 })),
    ...FACTORS.map((f) => ({ key: `p_${f}`, header: `${FACTOR_LABELS[f]}: баллы`, width: 12 })),
    { key: 'firstSeen', header: 'Выявлена', width: 12 },
    { key: 'lastAppeal', header: 'Последнее обращение', width: 12 },
    { key: 'planDue', header: 'Плановый срок', width: 12 },
    { key: 'reopened', header: 'Открывалась повторно', width: 10 },
    { key: 'lon', header: 'Долгота центра', width: 12 },
    { key: 'lat', header: 'Широта центра', width: 12 },
  ];
}

export function exportRow(p: ProblemRow, n: Names): Record<string, string | number | null> {
  const row: Record<string, string | number | null> = {
    rankCity: p.rank_city, rankDistrict: p.rank_district, id: p.id, title: p.title,
    theme: p.theme_id ? n.themes.get(p.theme_id) ?? '' : '', district: p.district_id ? n.districts.get(p.district_id) ?? '' : '',
    organization: p.organization_id ? n.organizations.get(p.organization_id) ?? '' : '',
    status: STATUS_LABELS[p.status], source: SOURCE_LABELS[p.source], score: Math.round(Number(p.score) * 10) / 10,
    appeals: p.appeal_count, authors: p.author_count,
    firstSeen: day(p.first_seen_at), lastAppeal: day(p.last_appeal_at), planDue: p.plan_due_at ?? '', reopened: p.reopened_count,
    lon: (p.center as { coordinates: number[] }).coordinates[0], lat: (p.center as { coordinates: number[] }).coordinates[1],
  };
  for (const f of FACTORS) {
    const part = p.breakdown?.find((b) => b.factor === f);
    row[`f_${f}`] = part ? part.value : null;
    row[`p_${f}`] = part ? Math.round(part.points * 10) / 10 : null;
  }
  return row;
}

export function problemExportHandler(orm: MikroORM, municipalityId: number) {
  return async (req: Request, res: Response) => {
    const format = String(req.params.format ?? '');
    if (!['xlsx', 'csv', 'geojson'].includes(format)) {
      res.status(404).type('text/plain; charset=utf-8').send(`Неизвестный формат выгрузки «${format.slice(0, 20)}»: xlsx, csv или geojson`);
      return;
    }
    try {
      const { filter, order } = parseExportQuery(req.query as Record<string, unknown>);
      const ctx = createContext(orm, municipalityId, req.auth);
      const svc = new ProblemService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, scope: ctx.user ? scopeOf(ctx.user) : undefined });
      const rows = await svc.all(filter, order, MAX_ROWS);
      const n = await names(orm, ctx.municipalityId);
      const stamp = new Date().toISOString().slice(0, 10);
      const fileName = `problems-${stamp}.${format}`;
      res.setHeader('Content-Disposition', `attachment; filename="${fileName}"; filename*=UTF-8''${encodeURIComponent(`перечень-проблем-${stamp}.${format}`)}`);
      res.setHeader('Cache-Control', 'private, no-store');
      const cols = exportColumns();
      if (format === 'csv') {
        const body = stringify(rows.map((r) => neutraliseRow(exportRow(r, n))), { header: true, delimiter: ';', bom: true, columns: cols.map((c) => ({ key: c.key, header: c.header })), record_delimiter: 'windows' });
        res.type('text/csv; charset=utf-8').send(body);
      } else if (format === 'xlsx') {
        const wb = new ExcelJS.Workbook();
        wb.creator = 'МЦУ Hub';
        wb.created = new Date();
        const ws = wb.addWorksheet('Перечень проблем', { views: [{ state: 'frozen', ySplit: 1 }] });
        ws.columns = cols;
        ws.getRow(1).font = { bold: true };
        ws.getRow(1).alignment = { wrapText: true, vertical: 'top' };
        for (const r of rows) ws.addRow(Object.fromEntries(Object.entries(exportRow(r, n)).map(([k, v]) => [k, xlsxCell(v)])));
        ws.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: cols.length } };
        res.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
        res.send(Buffer.from(await wb.xlsx.writeBuffer()));
      } else {
        res.type('application/geo+json; charset=utf-8').send(JSON.stringify({
          type: 'FeatureCollection',
          features: rows.map((r) => ({ type: 'Feature', id: r.id, geometry: r.hull, properties: exportRow(r, n) })),
        }));
      }
    } catch (e) {
      const err = e as Error;
      if (err instanceof ExportInputError || (err instanceof GraphQLError && err.extensions?.code === 'BAD_USER_INPUT')) {
        res.status(400).type('text/plain; charset=utf-8').send(`Неверный запрос выгрузки: ${err.message}`);
        return;
      }
      res.status(500).type('text/plain; charset=utf-8').send('Не удалось сформировать выгрузку');
    }
  };
}

/** GET /exports/problems.(xlsx|csv|geojson): the problem list, signed-in users, their row scope. */
export const mount: Mount = (app, { orm, municipalityId, exportGuard }) => {
  app.get('/exports/problems.:format', ...exportGuard, problemExportHandler(orm, municipalityId));
};
