import DataLoader from 'dataloader';
import { query } from '../db/sql.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityClass } from '@mikro-orm/core';
import type { Geometry } from 'geojson';
import { Municipality, ThematicBlock } from './entities.js';
import { REFERENCE_SQL, rowToDistrict, rowToOrganization, rowToTheme } from './rows.js';

/** One batched `WHERE id IN (…)` per entity type and request. */
export function byIdLoader<T extends { id: number }>(em: EntityManager, entity: EntityClass<T>): DataLoader<number, T | null> {
  return new DataLoader<number, T | null>(async (ids) => {
    const found = (await em.find(entity, { id: { $in: [...ids] } } as never)) as T[];
    const map = new Map(found.map((e) => [e.id, e]));
    return ids.map((id) => map.get(id) ?? null);
  });
}

/** Batched by id with plain SQL and a light row mapper (no ORM hydration). */
function sqlLoader<T extends { id: number }>(em: EntityManager, select: string, map: (r: Record<string, any>) => T): DataLoader<number, T | null> {
  return new DataLoader<number, T | null>(async (ids) => {
    const rows = await query(em, `${select} WHERE id = ANY(?::int[])`, [[...ids]]);
    const found = new Map(rows.map((r) => [Number(r.id), map(r)]));
    return ids.map((id) => found.get(id) ?? null);
  });
}

export function referenceLoaders(em: EntityManager) {
  return {
    municipality: byIdLoader(em, Municipality),
    district: sqlLoader(em, REFERENCE_SQL.district, rowToDistrict),
    organization: sqlLoader(em, REFERENCE_SQL.organization, rowToOrganization),
    theme: sqlLoader(em, REFERENCE_SQL.theme, rowToTheme),
    thematicBlock: byIdLoader(em, ThematicBlock),
    districtGeometry: new DataLoader<number, Geometry | null>(async (ids) => {
      const rows = await query<{ id: number; g: Geometry }>(em, 
        'SELECT id, ST_AsGeoJSON(geom, 7)::json AS g FROM district WHERE id = ANY(?::int[])',
        [[...ids]],
      );
      const map = new Map(rows.map((r) => [r.id, r.g]));
      return ids.map((id) => map.get(id) ?? null);
    }),
  };
}
