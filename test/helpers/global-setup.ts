import fs from 'node:fs';
import path from 'node:path';
import { startEmbedded } from '../../server/db/embedded.js';
import { createOrm, migrate } from '../../server/db/orm.js';
import { schema } from '../../server/modules.js';
import { ensureMunicipality } from '../../server/reference/seed.js';
import { templateDir } from './backends.js';

/**
 * Builds, once per run, an embedded data folder with the schema and Rubtsovsk's
 * reference data; each test copies it instead of paying PGlite's initdb again.
 */
export default async function setup() {
  process.env.MCU_TEST_TEMPLATE = templateDir;
  fs.rmSync(templateDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(templateDir), { recursive: true });
  const db = await startEmbedded(templateDir);
  const orm = await createOrm({ url: db.url, embedded: true, ...schema });
  try {
    await migrate(orm);
    await ensureMunicipality(orm.em.fork(), 'rubtsovsk');
  } finally {
    await orm.close(true);
    await db.stop();
  }
  return () => fs.rmSync(templateDir, { recursive: true, force: true });
}
