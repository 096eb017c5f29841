import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { runWithDatabase } from './database.js';
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
process.exit(
  await runWithDatabase(async ({ em, municipalityId }) => {
    const r = await importDistricts(em, municipalityId, input, { replace: values.replace });
    console.log(`Районы: прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}, удалено ${r.removed}; обращений с новым районом: ${r.appealsReassigned}`);
  }, 'Ошибка (ничего не изменено)'),
);
