import { Arg, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { Geometry } from 'geojson';
import type { Context } from '../graphql/context.js';
import { municipalityArg } from '../graphql/municipality.js';
import { ChannelRef, District, Municipality, Organization, ThematicBlock, Theme } from './entities.js';
import { importDistricts } from './districts.js';
import { READERS, REFERENCE_EDITORS } from '../auth/roles.js';
import { audit } from '../audit/audit.js';
import { query } from '../db/sql.js';

@ObjectType({ description: 'Итог загрузки границ районов' })
export class DistrictImportReport {
  @Field(() => Int, { description: 'Прочитано объектов' }) read!: number;
  @Field(() => Int) inserted!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int, { description: 'Удалено районов, которых нет в файле (при replace)' }) removed!: number;
  @Field(() => Int, { description: 'Обращений, у которых изменился район' }) appealsReassigned!: number;
}

@Authorized(READERS)
@Resolver()
export class ReferenceQueries {
  @Query(() => [Municipality], { description: 'Муниципальные образования, доступные пользователю: своё; для ролей региона — все муниципалитеты региона' })
  municipalities(@Ctx() ctx: Context) {
    return ctx.em.find(Municipality, { id: { $in: ctx.municipalityIds } }, { orderBy: { id: 'asc' } });
  }

  @Query(() => [District], { description: 'Районы (микрорайоны, посёлки) с границами' })
  districts(@Ctx() ctx: Context, @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string) {
    return ctx.em.find(District, { municipality: municipalityArg(ctx, municipalityId) }, { orderBy: { name: 'asc' }, populate: ['geometry'] });
  }

  @Query(() => [Organization], { description: 'Администрация, отраслевые органы, подведомственные организации' })
  organizations(@Ctx() ctx: Context, @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string) {
    return ctx.em.find(Organization, { municipality: municipalityArg(ctx, municipalityId) }, { orderBy: { id: 'asc' } });
  }

  @Query(() => [ThematicBlock])
  thematicBlocks(@Ctx() ctx: Context, @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string) {
    return ctx.em.find(ThematicBlock, { municipality: municipalityArg(ctx, municipalityId) }, { orderBy: { id: 'asc' } });
  }

  @Query(() => [Theme], { description: 'Рубрикатор тем (дерево: parentId)' })
  themes(@Ctx() ctx: Context, @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string) {
    return ctx.em.find(Theme, { municipality: municipalityArg(ctx, municipalityId) }, { orderBy: { id: 'asc' } });
  }

  @Query(() => [ChannelRef])
  channels(@Ctx() ctx: Context) {
    return ctx.em.find(ChannelRef, {}, { orderBy: { code: 'asc' } });
  }

  @Mutation(() => DistrictImportReport, {
    description: 'Заменяет или дополняет границы районов из GeoJSON FeatureCollection (properties: code, name, population, kind, approximate). Всё или ничего.',
  })
  @Authorized(REFERENCE_EDITORS)
  importDistricts(
    @Ctx() ctx: Context,
    @Arg('featureCollection', () => GraphQLJSONObject) featureCollection: Record<string, unknown>,
    @Arg('replace', { defaultValue: false, description: 'Удалить районы, которых нет в файле' }) replace: boolean,
    @Arg('municipalityId', () => ID, { nullable: true }) municipalityId?: string,
  ) {
    const mid = municipalityArg(ctx, municipalityId, 'write');
    const list = (em: typeof ctx.em) => query(em, 'SELECT code, name, population, approximate FROM district WHERE municipality_id = ? ORDER BY code', [mid]);
    // The import and its audit entry commit together.
    return ctx.em.transactional(async (tem) => {
      const before = await list(tem);
      const report = await importDistricts(tem, mid, featureCollection, { replace });
      await audit(tem, { ...ctx, municipalityId: mid }, { entity: 'district', action: replace ? 'import_replace' : 'import', before, after: { districts: await list(tem), report } });
      return report;
    });
  }
}

// Roots are typed Readonly<…> so type-graphql passes them through instead of copying each
// into a new entity instance (which costs ORM property setters on every field).
@Resolver(() => District)
export class DistrictFields {
  @FieldResolver(() => GraphQLJSONObject, { description: 'GeoJSON MultiPolygon, EPSG:4326' })
  geometry(@Root() d: Readonly<District>, @Ctx() ctx: Context): Geometry | Promise<Geometry | null> {
    return d.geometry ?? ctx.loaders.districtGeometry.load(d.id);
  }
}

@Resolver(() => Organization)
export class OrganizationFields {
  @FieldResolver(() => Organization, { nullable: true })
  parent(@Root() o: Readonly<Organization>, @Ctx() ctx: Context) {
    return o.parent ? ctx.loaders.organization.load(o.parent.id) : null;
  }
}

@Resolver(() => Theme)
export class ThemeFields {
  @FieldResolver(() => ID, { nullable: true })
  parentId(@Root() t: Readonly<Theme>) {
    return t.parent?.id ?? null;
  }

  @FieldResolver(() => Theme, { nullable: true })
  parent(@Root() t: Readonly<Theme>, @Ctx() ctx: Context) {
    return t.parent ? ctx.loaders.theme.load(t.parent.id) : null;
  }

  @FieldResolver(() => ThematicBlock, { nullable: true })
  block(@Root() t: Readonly<Theme>, @Ctx() ctx: Context) {
    return t.block ? ctx.loaders.thematicBlock.load(t.block.id) : null;
  }

  @FieldResolver(() => Organization, { nullable: true, description: 'Ответственная организация по умолчанию' })
  organization(@Root() t: Readonly<Theme>, @Ctx() ctx: Context) {
    return t.organization ? ctx.loaders.organization.load(t.organization.id) : null;
  }
}

export const referenceResolvers = [ReferenceQueries, DistrictFields, OrganizationFields, ThemeFields] as const;
