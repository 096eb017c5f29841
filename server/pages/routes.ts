import type { EntityManager } from '@mikro-orm/postgresql';
import type { Mount } from '../http/mount.js';
import { authenticate, requireSignedIn } from '../auth/http.js';
import { ensurePageCategories } from './config.js';
import { ensureDemoPages } from './demo.js';
import { pagesExportHandler } from './export.js';

/** At start: the default page categories (first start), and demo pages in demo mode. */
export async function preparePages(em: EntityManager, municipalityId: number, demo: boolean, log: (m: string) => void): Promise<void> {
  await ensurePageCategories(em, municipalityId);
  if (demo) {
    const n = await ensureDemoPages(em, municipalityId);
    if (n) log(`Загружены демонстрационные официальные страницы: ${n}`);
  }
}

/** GET /exports/official-pages.xlsx — signed-in users, their row scope (as /exports/problems.*). */
export const mount: Mount = (app, { orm, municipalityId, auth }) => {
  app.get('/exports/official-pages.xlsx', authenticate(auth), requireSignedIn(), pagesExportHandler(orm, municipalityId));
};
