import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfig, type AppConfig } from '../config.js';
import { BATCH_SETTINGS } from '../db/embedded.js';
import { spawnEmbedded, type EmbeddedProcess } from '../db/embedded-process.js';
import { createOrm, migrate } from '../db/orm.js';
import { schema } from '../modules.js';
import { ensureMunicipality } from '../reference/seed.js';

export interface CliDatabase {
  em: EntityManager;
  municipalityId: number;
  config: AppConfig;
}

/** Peak resident memory (KB) of the embedded database process of the last runWithDatabase, once it has stopped. */
export let embeddedPeakRssKb: number | null = null;

/**
 * Opens the configured database for a command (embedded PGlite in DATA_DIR or DATABASE_URL),
 * applies migrations and reference data, runs `fn`, and always closes everything.
 * Returns the exit code: 0, or 1 when `fn` throws (its message is printed in Russian framing).
 *
 * The embedded database runs in a child process (embedded-process.ts) that the command reaches by URL as it
 * would a server: PGlite's WebAssembly memory never shrinks and with PostGIS is several hundred MB, which in the
 * command's own process made a large import's peak RSS exceed 1 GB.
 */
export async function runWithDatabase(fn: (db: CliDatabase) => Promise<number | void>, failure = 'Ошибка'): Promise<number> {
  const config = loadConfig();
  let embedded: EmbeddedProcess | undefined;
  try {
    if (!config.databaseUrl) embedded = await spawnEmbedded(config.dataDir, BATCH_SETTINGS);
  } catch (e) {
    console.error(`${failure}: не удалось открыть встроенную базу данных: ${(e as Error).message}`);
    return 1;
  }
  try {
    const orm = await createOrm({ url: config.databaseUrl ?? embedded!.url, embedded: !!embedded, ...schema });
    try {
      await migrate(orm);
      const em = orm.em.fork();
      const { id } = await ensureMunicipality(em, config.municipality);
      return (await fn({ em, municipalityId: id, config })) ?? 0;
    } finally {
      await orm.close(true);
    }
  } catch (e) {
    console.error(`${failure}: ${(e as Error).message}`);
    return 1;
  } finally {
    if (embedded) embeddedPeakRssKb = await embedded.stop();
  }
}
