import DataLoader from 'dataloader';
import { query } from '../db/sql.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityClass } from '@mikro-orm/core';
import type { Geometry } from 'geojson';
import { District, Municipality, Organization, ThematicBlock, Theme } from './entities.js';

/** One batched `WHERE id IN (…)` per entity type and request. */
export function byIdLoader<T extends { id: number }>(em: EntityManager, entity: EntityClass<T>): DataLoader<number, T | null> {
  return new DataLoader<number, T | null>(async (ids) => {
    const found = (await em.find(entity, { id: { $in: [...ids] } } as never)) as T[];
    const map = new Map(found.map((e) => [e.id, e]));
    return ids.map((id) => map.get(id) ?? null);
  });
}

export function referenceLoaders(em: EntityManager) {
  return {
    municipality: byIdLoader(em, Municipality),
    district: byIdLoader(em, District),
    organization: byIdLoader(em, Organization),
    theme: byIdLoader(em, Theme),
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
