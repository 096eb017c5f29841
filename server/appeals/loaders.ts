import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppealEvent } from './entities.js';

export function appealLoaders(em: EntityManager) {
  return {
    /** The full history of each appeal, oldest first: one statement per page. */
    events: new DataLoader<number, AppealEvent[]>(async (ids) => {
      const events = await em.find(AppealEvent, { appeal: { $in: [...ids] } }, { orderBy: { at: 'asc', id: 'asc' } });
      const groups = new Map<number, AppealEvent[]>(ids.map((id) => [id, []]));
      for (const e of events) groups.get(e.appeal.id)?.push(e);
      return ids.map((id) => groups.get(id)!);
    }),
  };
}
