import fs from 'node:fs';
import { decodeText } from '../files/encoding.js';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runWithDatabase } from './database.js';
import { query } from '../db/sql.js';
import { HeatLayerFormat } from '../heatmap/entities.js';
import { importHeatLayer } from '../heatmap/importer.js';
import { InputError } from '../errors.js';

/**
 * npm run import:heat -- <file.csv|file.geojson> --from 2026-01-01 --to 2026-02-01 [--theme roads] [--name …] [--source …]
 * The same import as the importHeatLayer mutation: one transaction, a report of rejected rows.
 */
const USAGE = 'Использование: npm run import:heat -- <файл.csv|файл.geojson> --from ГГГГ-ММ-ДД --to ГГГГ-ММ-ДД [--theme код_темы] [--name название] [--source источник] [--format CSV|GEOJSON]';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    theme: { type: 'string' },
    name: { type: 'string' },
    source: { type: 'string' },
    format: { type: 'string' },
  },
});
if (positionals.length !== 1 || !values.from || !values.to) {
  console.error(USAGE);
  process.exit(2);
}
const file = positionals[0];
const format = (values.format?.toUpperCase() ?? (/\.(geo)?json$/i.test(file) ? 'GEOJSON' : 'CSV')) as HeatLayerFormat;
if (!Object.values(HeatLayerFormat).includes(format)) {
  console.error(`--format: ожидается CSV или GEOJSON, получено «${values.format}»`);
  process.exit(2);
}
const parseDate = (name: string, s: string) => {
  const d = new Date(/^\d{4}-\d\d-\d\d$/.test(s) ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(d.getTime())) {
    console.error(`--${name}: ожидается дата ГГГГ-ММ-ДД, получено «${s}»`);
    process.exit(2);
  }
  return d;
};
const periodFrom = parseDate('from', values.from);
const periodTo = parseDate('to', values.to);
let content: string;
try {
  // UTF-8 or Windows-1251, detected (server/files/encoding.ts).
  content = decodeText(fs.readFileSync(file)).text;
} catch (e) {
  console.error(`Не удалось прочитать ${file}: ${(e as Error).message}`);
  process.exit(2);
}

process.exit(
  await runWithDatabase(async ({ em, municipalityId: id }) => {
    let themeId: number | undefined;
    if (values.theme) {
      const [t] = await query<{ id: number }>(em, 'SELECT id FROM theme WHERE municipality_id = ? AND code = ?', [id, values.theme]);
      if (!t) throw new InputError('theme', `тема с кодом «${values.theme}» не найдена`);
      themeId = t.id;
    }
    const r = await importHeatLayer(em, id, { content, format, periodFrom, periodTo, themeId, name: values.name ?? path.basename(file), source: values.source });
    if (r.alreadyImported) console.log(`Файл уже загружен как слой ${r.layer.id} («${r.layer.name}»): ничего не изменено.`);
    else console.log(`Слой ${r.layer.id} «${r.layer.name}»: прочитано ${r.read}, принято ${r.inserted}, отклонено ${r.rejected}`);
    for (const x of r.rejections) console.log(`  строка ${x.line}, ${x.field}: ${x.reason}`);
    if (r.rejected > r.rejections.length) console.log(`  … и ещё ${r.rejected - r.rejections.length}`);
  }, 'Ошибка (ничего не изменено)'),
);
