import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { startEmbedded } from '../db/embedded.js';
import { createOrm, migrate } from '../db/orm.js';
import { ensureMunicipality } from '../reference/seed.js';
import { importDistricts } from '../reference/districts.js';

/** npm run import:districts -- <file.geojson> [--replace] — the same import as the importDistricts mutation. */
const { values, positionals } = parseArgs({ allowPositionals: true, options: { replace: { type: 'boolean', default: false } } });
if (positionals.length !== 1) {
  console.error('Использование: npm run import:districts -- <файл.geojson> [--replace]');
  process.exit(2);
}
let input: unknown;
try {
  input = JSON.parse(fs.readFileSync(positionals[0], 'utf8'));
} catch (e) {
  console.error(`Не удалось прочитать ${positionals[0]} как JSON: ${(e as Error).message}`);
  process.exit(2);
}
const config = loadConfig();
const embedded = config.databaseUrl ? undefined : await startEmbedded(config.dataDir);
const orm = await createOrm({ url: config.databaseUrl ?? embedded!.url, embedded: !!embedded });
let code = 0;
try {
  await migrate(orm);
  const em = orm.em.fork();
  const { id } = await ensureMunicipality(em, config.municipality);
  const r = await importDistricts(em, id, input, { replace: values.replace });
  console.log(`Районы: прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}, удалено ${r.removed}; обращений с новым районом: ${r.appealsReassigned}`);
} catch (e) {
  console.error(`Ошибка: ${(e as Error).message}. Ничего не изменено.`);
  code = 1;
} finally {
  await orm.close(true);
  await embedded?.stop();
}
process.exit(code);
