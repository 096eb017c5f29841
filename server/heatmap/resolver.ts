import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { AppealFilter, BBoxInput, cacheableFilter, parseFilter } from '../appeals/filter.js';
import { heavy } from '../db/admission.js';
import { cacheKey, resultCacheOf } from '../db/result-cache.js';
import { parseIds } from '../graphql/ids.js';
import { District, Theme } from '../reference/entities.js';
import { HeatLayer } from './entities.js';
import { HexagonDrawer } from './grid.js';
import type { HeatLayerRow } from './importer.js';
import {
  DistrictStat, DistrictStats, HeatLayerImportInput, HeatLayerImportReport, HeatMap, HeatMapCell, HeatWeightsInput,
} from './inputs.js';
import { HeatLayerKind, HeatmapService } from './service.js';
import { READERS, REFERENCE_EDITORS } from '../auth/roles.js';
import { audit } from '../audit/audit.js';

function municipalityOf(ctx: Context, id?: string): number {
  return id == null ? ctx.municipalityId : parseIds('municipalityId', [id])![0];
}

/** heat_layer row → the GraphQL object (theme as an id-only reference for the DataLoader). */
export function rowToHeatLayer(r: HeatLayerRow): HeatLayer {
  return Object.assign({} as HeatLayer, {
    id: r.id, municipality: { id: r.municipality_id }, source: r.source, name: r.name, format: r.format,
    theme: r.theme_id == null ? undefined : { id: r.theme_id }, periodFrom: new Date(r.period_from), periodTo: new Date(r.period_to),
    checksum: r.checksum, rowsRead: r.rows_read, cellCount: r.cell_count, totalWeight: Number(r.total_weight), importedAt: new Date(r.imported_at),
  });
}

@Authorized(READERS)
@Resolver()
export class HeatmapQueries {
  @Query(() => HeatMap, {
    description: 'Тепловая карта прямоугольника bbox: шестиугольники (размер по масштабу zoom: 2 км … 100 м). '
      + 'Ячейка учитывает обращения (точки ЦУР) внутри шестиугольника и внутри bbox, поэтому сумма ячеек равна числу обращений в bbox.',
  })
  async heatmap(
    @Ctx() ctx: Context,
    @Arg('bbox', () => BBoxInput) bbox: BBoxInput,
    @Arg('zoom', () => Int) zoom: number,
    @Arg('filter', () => AppealFilter, { nullable: true }) filter: AppealFilter | undefined,
    @Arg('layer', () => HeatLayerKind, { defaultValue: HeatLayerKind.APPEALS }) layer: HeatLayerKind,
    @Arg('weights', () => HeatWeightsInput, { nullable: true }) weights: HeatWeightsInput | undefined,
    @Arg('curLayerIds', () => [ID], { nullable: true, description: 'Только эти слои ЦУР (по умолчанию все, чей период пересекается с периодом фильтра)' })
    curLayerIds: string[] | undefined,
  ): Promise<HeatMap> {
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    const layerIds = parseIds('curLayerIds', curLayerIds);
    const compute = async (): Promise<HeatMap> => {
      const r = await new HeatmapService(ctx.em).heatmap(f, { bbox, zoom, layer, weights, curLayerIds: layerIds });
      let total = 0;
      let maxValue = 0;
      const drawer = new HexagonDrawer(r.gridSize);
      const cells = r.cells.map((c) => {
        total += c.value;
        if (c.value > maxValue) maxValue = c.value;
        return new HeatMapCell(c.q, c.r, c.value, c.appeals, c.cur, { appeals: c.partAppeals, cur: c.partCur }, drawer);
      });
      const wsum = r.weights.appeals + r.weights.cur;
      return {
        layer: r.layer, zoom: r.zoom, cellSizeMeters: r.cellSizeMeters, weightAppeals: r.weights.appeals / wsum, weightCur: r.weights.cur / wsum,
        appealsTotal: r.appealsTotal, curTotal: r.curTotal, total, maxValue, cells,
      };
    };
    // Cached per (arguments, scope, data version); a miss runs under the admission of heavy work.
    if (!cacheableFilter(f)) return heavy(ctx.em, compute);
    return resultCacheOf(ctx.em).get(ctx.em, cacheKey('heatmap', f, bbox, zoom, layer, weights ?? null, layerIds ?? null), compute);
  }

  @Query(() => DistrictStats, { description: 'Обращения по районам: количество, на 1 000 жителей, изменение к предыдущему периоду той же длины' })
  async districtStats(@Ctx() ctx: Context, @Arg('filter', () => AppealFilter, { nullable: true }) filter?: AppealFilter): Promise<DistrictStats> {
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    const compute = async (): Promise<DistrictStats> => {
      const r = await new HeatmapService(ctx.em).districtStats(f);
      return {
        from: r.from, to: r.to, previousFrom: r.previousFrom, previousTo: r.previousTo,
        districts: r.rows.map((d) => ({ ...d, district: { id: d.districtId } as District })),
      };
    };
    // An open period (from without to) ends "now": not cached.
    if (!cacheableFilter(f) || (f.from && !f.to)) return heavy(ctx.em, compute);
    return resultCacheOf(ctx.em).get(ctx.em, cacheKey('districtStats', f), compute);
  }

  @Query(() => [HeatLayer], { description: 'Загруженные слои тепловой карты ЦУР, новые периоды сначала' })
  async heatLayers(@Ctx() ctx: Context, @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string): Promise<HeatLayer[]> {
    return (await new HeatmapService(ctx.em).layers(municipalityOf(ctx, municipalityId))).map(rowToHeatLayer);
  }

  @Mutation(() => HeatLayerImportReport, {
    description: 'Загружает файл тепловой карты ЦУР (CSV или GeoJSON) как новый слой, в одной транзакции. Повторная загрузка того же файла ничего не меняет.',
  })
  @Authorized(REFERENCE_EDITORS)
  async importHeatLayer(
    @Ctx() ctx: Context,
    @Arg('input', () => HeatLayerImportInput) input: HeatLayerImportInput,
    @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string,
  ): Promise<HeatLayerImportReport> {
    const themeId = input.themeId == null ? undefined : parseIds('input.themeId', [input.themeId])![0];
    const r = await new HeatmapService(ctx.em).importLayer(municipalityOf(ctx, municipalityId), { ...input, themeId });
    if (!r.alreadyImported) {
      await audit(ctx.em, { ...ctx, municipalityId: r.layer.municipality_id }, { entity: 'heat_layer', entityId: r.layer.id, action: 'import', before: null,
        after: { name: r.layer.name, source: r.layer.source, periodFrom: r.layer.period_from, periodTo: r.layer.period_to, checksum: r.layer.checksum, inserted: r.inserted, rejected: r.rejected } });
    }
    return { ...r, layer: rowToHeatLayer(r.layer) };
  }
}

// Roots typed Readonly<…> so type-graphql passes them through (see appeals/resolver.ts).
@Resolver(() => DistrictStat)
export class DistrictStatFields {
  @FieldResolver(() => District)
  district(@Root() s: Readonly<DistrictStat>, @Ctx() ctx: Context) {
    return ctx.loaders.district.load(s.district.id);
  }
}

@Resolver(() => HeatLayer)
export class HeatLayerFields {
  @FieldResolver(() => Theme, { nullable: true })
  theme(@Root() l: Readonly<HeatLayer>, @Ctx() ctx: Context) {
    return l.theme ? ctx.loaders.theme.load(l.theme.id) : null;
  }
}

export const heatmapResolvers = [HeatmapQueries, DistrictStatFields, HeatLayerFields] as const;
