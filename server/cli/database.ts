import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfig, type AppConfig } from '../config.js';
import { startEmbedded } from '../db/embedded.js';
import { createOrm, migrate } from '../db/orm.js';
import { ensureMunicipality } from '../reference/seed.js';

export interface CliDatabase {
  em: EntityManager;
  municipalityId: number;
  config: AppConfig;
}

/**
 * Opens the configured database for a command (embedded PGlite in DATA_DIR or DATABASE_URL),
 * applies migrations and reference data, runs `fn`, and always closes everything.
 * Returns the exit code: 0, or 1 when `fn` throws (its message is printed in Russian framing).
 */
export async function runWithDatabase(fn: (db: CliDatabase) => Promise<number | void>, failure = 'Ошибка'): Promise<number> {
  const config = loadConfig();
  const embedded = config.databaseUrl ? undefined : await startEmbedded(config.dataDir);
  const orm = await createOrm({ url: config.databaseUrl ?? embedded!.url, embedded: !!embedded });
  try {
    await migrate(orm);
    const em = orm.em.fork();
    const { id } = await ensureMunicipality(em, config.municipality);
    return (await fn({ em, municipalityId: id, config })) ?? 0;
  } catch (e) {
    console.error(`${failure}: ${(e as Error).message}`);
    return 1;
  } finally {
    await orm.close(true);
    await embedded?.stop();
  }
}
