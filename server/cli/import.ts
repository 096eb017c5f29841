import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { startEmbedded } from '../db/embedded.js';
import { createOrm, migrate } from '../db/orm.js';
import { ensureMunicipality } from '../reference/seed.js';
import { IntakeService } from '../intake/service.js';
import { importAddressRegister } from '../intake/address-register.js';
import type { SourceFormat } from '../intake/mapping.js';

/**
 * npm run import -- <channel> <file> [--mapping file.json] [--format csv|xlsx|jsonl|geojson]
 * npm run import -- addresses <file.csv>        (the local address register)
 * channel: im, pos, social, messenger, direct, public (built-in mappings in db/mappings/) or any
 * channel code with --mapping for other sources.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { mapping: { type: 'string' }, format: { type: 'string' }, actor: { type: 'string', default: 'cli' } },
});
if (positionals.length !== 2) {
  console.error('Использование: npm run import -- <канал> <файл> [--mapping сопоставление.json] [--format csv|xlsx|jsonl|geojson]\n' +
    '  каналы: im, pos, social, messenger, direct, public; addresses — адресный реестр (CSV)');
  process.exit(2);
}
const [channel, file] = positionals;
if (!fs.existsSync(file)) {
  console.error(`Файл не найден: ${file}`);
  process.exit(2);
}
let mapping: unknown;
if (values.mapping) {
  try {
    mapping = JSON.parse(fs.readFileSync(values.mapping, 'utf8'));
  } catch (e) {
    console.error(`Файл сопоставления ${values.mapping} не читается как JSON: ${(e as Error).message}`);
    process.exit(2);
  }
}
const config = loadConfig();
const embedded = config.databaseUrl ? undefined : await startEmbedded(config.dataDir);
const orm = await createOrm({ url: config.databaseUrl ?? embedded!.url, embedded: !!embedded });
let code = 0;
const size = fs.statSync(file).size;
const bar = new cliProgress.SingleBar({ format: 'Импорт [{bar}] {percentage}% | {value}/{total} КБ', hideCursor: true }, cliProgress.Presets.shades_classic);
try {
  await migrate(orm);
  const em = orm.em.fork();
  const { id } = await ensureMunicipality(em, config.municipality);
  const stream = fs.createReadStream(file);
  bar.start(Math.ceil(size / 1024), 0);
  // Poll the bytes read (a 'data' listener would start the stream before the importer reads it).
  const timer = setInterval(() => bar.update(Math.floor(stream.bytesRead / 1024)), 200);
  stream.once('close', () => clearInterval(timer));
  if (channel === 'addresses') {
    const r = await importAddressRegister(em, id, stream);
    bar.stop();
    console.log(`Адресный реестр: прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}, отклонено ${r.rejected}`);
    for (const i of r.issues.slice(0, 50)) console.log(`  строка ${i.line}, ${i.field}: ${i.reason}`);
  } else {
    const service = new IntakeService(em, id, values.actor!);
    const r = await service.importFile(stream, {
      fileName: path.basename(file), channel, mapping, format: values.format as SourceFormat | undefined,
      // Without a terminal (logs, scripts) each committed chunk is a line.
      onProgress: process.stdout.isTTY ? undefined : (read) => console.log(`записано: прочитано ${read}`),
    }).finally(() => bar.stop());
    console.log(`Пакет ${r.batchId}: ${r.status === 'DONE' ? 'завершён' : 'ОШИБКА'}`);
    console.log(`  прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}, без изменений ${r.unchanged}, отклонено ${r.rejected}, с предупреждениями ${r.flagged}`);
    if (r.error) console.log(`  ошибка: ${r.error}`);
    for (const i of r.issues.slice(0, 50)) console.log(`  строка ${i.line}${i.externalId ? ` (${i.externalId})` : ''}, ${i.field}: ${i.severity === 'ERROR' ? 'отклонена' : 'предупреждение'} — ${i.reason}`);
    if (r.issues.length > 50) console.log(`  … ещё замечаний: ${r.issues.length - 50} (все — в GraphQL: importBatch(id: ${r.batchId}) { issues })`);
    if (r.status !== 'DONE') code = 1;
  }
} catch (e) {
  bar.stop();
  console.error(`Ошибка: ${(e as Error).message}`);
  code = 1;
} finally {
  await orm.close(true);
  await embedded?.stop();
}
// Peak resident memory, for the import benchmark.
if (process.env.MCU_PRINT_MAXRSS) console.log(`maxRSS_KB ${process.resourceUsage().maxRSS}`);
process.exit(code);
