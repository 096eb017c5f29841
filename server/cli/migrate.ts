import { loadConfig } from '../config.js';
import { startEmbedded } from '../db/embedded.js';
import { createOrm, migrate } from '../db/orm.js';
import { schema } from '../modules.js';
import { ensureMunicipality } from '../reference/seed.js';

/** npm run migrate — applies pending migrations and loads reference data (production deploy step). */
const config = loadConfig();
const embedded = config.databaseUrl ? undefined : await startEmbedded(config.dataDir);
const orm = await createOrm({ url: config.databaseUrl ?? embedded!.url, embedded: !!embedded, ...schema });
try {
  const done = await migrate(orm);
  console.log(done.length ? `Применены миграции: ${done.join(', ')}` : 'Схема актуальна');
  const m = await ensureMunicipality(orm.em.fork(), config.municipality);
  if (m.created) console.log(`Загружены справочники: ${config.municipality}`);
} finally {
  await orm.close(true);
  await embedded?.stop();
}
