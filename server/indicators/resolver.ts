import { Arg, Authorized, Ctx, Float, ID, Mutation, Query, Resolver } from 'type-graphql';
import { GraphQLUpload } from 'graphql-upload-minimal';
import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { spoolXlsx } from '../files/xlsx-guard.js';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS } from '../auth/roles.js';
import { InputError } from '../errors.js';
import { IndicatorService } from './service.js';
import { CatalogueQueryType, Indicator, IndicatorDashboard, IndicatorImportReport, IndicatorInput, IndicatorUnit } from './types.js';

interface FileUpload { filename: string; createReadStream(): Readable }
/** Files of indicator values are small tables: 5 MB at most. */
const MAX_FILE_BYTES = 5 * 1024 * 1024;

const service = (ctx: Context) => new IndicatorService(ctx.em, { municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor, blockId: ctx.user?.thematicBlockId });
const id = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) throw new InputError('id', 'целое положительное число');
  return n;
};

/** The first sheet of a workbook as rows of text, after the shared XLSX limits (server/files/xlsx-guard.ts). */
async function xlsxRows(buf: Buffer): Promise<string[][]> {
  const book = await spoolXlsx(Readable.from([buf]));
  try {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(book.file);
    const ws = wb.worksheets[0];
    if (!ws) throw new InputError('file', 'в книге нет листов');
    const rows: string[][] = [];
    ws.eachRow({ includeEmpty: false }, (row) => {
      if (rows.length > 50_001) return;
      const values = (row.values as unknown[]).slice(1).map((v) => {
        if (v == null) return '';
        if (v instanceof Date) return v.toISOString().slice(0, 7);
        if (typeof v === 'object') {
          const o = v as { result?: unknown; text?: unknown; richText?: { text: string }[] };
          return String(o.result ?? o.text ?? o.richText?.map((r) => r.text).join('') ?? '');
        }
        return String(v);
      });
      rows.push(values.map((x) => x.trim()));
    });
    return rows;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError('file', `книга XLSX не читается: ${(e as Error).message.slice(0, 200)}`);
  } finally {
    book.remove();
  }
}

function decodeUtf8(buf: Buffer): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(buf);
  if (text.includes('\uFFFD')) throw new InputError('file', 'файл не в кодировке UTF-8: сохраните его как «CSV UTF-8» или загрузите XLSX');
  return text;
}

async function readBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > MAX_FILE_BYTES) { stream.destroy(); throw new InputError('file', `файл больше ${MAX_FILE_BYTES / 1024 / 1024} МБ`); }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

@Resolver()
export class IndicatorResolver {
  @Authorized(READERS)
  @Query(() => [CatalogueQueryType], { description: 'Каталог запросов, по которым показатели вычисляются из данных системы' })
  indicatorCatalogue(@Ctx() ctx: Context) {
    return service(ctx).catalogue();
  }

  @Authorized(READERS)
  @Query(() => [Indicator], { description: 'Комплекс показателей' })
  indicators(@Ctx() ctx: Context, @Arg('includeInactive', { defaultValue: false }) includeInactive: boolean) {
    return service(ctx).list(includeInactive);
  }

  @Authorized(READERS)
  @Query(() => IndicatorDashboard, { description: 'Панель «Показатели» за период (месяцы ГГГГ-ММ, не более 120)' })
  indicatorDashboard(@Ctx() ctx: Context, @Arg('from') from: string, @Arg('to') to: string) {
    return service(ctx).dashboard(from, to);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Indicator, { description: 'Определить показатель' })
  createIndicator(@Ctx() ctx: Context, @Arg('input', () => IndicatorInput) input: IndicatorInput) {
    return service(ctx).create(input);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Indicator, { description: 'Изменить определение показателя' })
  updateIndicator(@Ctx() ctx: Context, @Arg('id', () => ID) indicatorId: string, @Arg('input', () => IndicatorInput) input: IndicatorInput) {
    return service(ctx).update(id(indicatorId), input);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Float, { description: 'Задать цель показателя на месяцы с from по to (ГГГГ-ММ); value = null снимает цель. Возвращает число месяцев' })
  async setIndicatorTarget(@Ctx() ctx: Context, @Arg('id', () => ID) indicatorId: string, @Arg('from') from: string, @Arg('to') to: string,
    @Arg('value', () => Float, { nullable: true }) value: number | null,
    @Arg('unit', () => IndicatorUnit, { nullable: true, description: 'Единица цели; должна совпадать с единицей показателя' }) unit?: IndicatorUnit) {
    return service(ctx).setTargets(id(indicatorId), from, to, value, unit);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => IndicatorImportReport, { description: 'Загрузить значения показателей из CSV или XLSX (показатель; месяц; значение). Всё или ничего' })
  async importIndicatorValues(@Ctx() ctx: Context, @Arg('file', () => GraphQLUpload) file: Promise<FileUpload>) {
    const f = await file;
    const buf = await readBytes(f.createReadStream());
    // A workbook (zip) is read as XLSX: the first sheet, the same columns; everything else as CSV text.
    if (buf.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return service(ctx).importRecords(await xlsxRows(buf), f.filename);
    return service(ctx).importValues(decodeUtf8(buf), f.filename);
  }
}

export const indicatorResolvers = [IndicatorResolver] as const;
