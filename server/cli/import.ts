import fs from 'node:fs';
import v8 from 'node:v8';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { embeddedPeakRssKb, runWithDatabase } from './database.js';
import cliProgress from 'cli-progress';
import { IntakeService } from '../intake/service.js';
import { importAddressRegister } from '../intake/address-register.js';
import type { SourceFormat } from '../intake/mapping.js';
import { Open311Client, readOpen311Mapping } from '../open311/client.js';

/**
 * npm run import -- <channel> <file> [--mapping file.json] [--format csv|xlsx|jsonl|geojson]
 * npm run import -- addresses <file.csv>        (the local address register)
 * npm run import -- open311 <base URL> [--mapping open311|file.json] [--since ISO date]   (pull from an Open311 server)
 * channel: im, pos, social, messenger, direct, public (built-in mappings in db/mappings/) or any
 * channel code with --mapping for other sources.
 */
// Memory stays flat for any file size: the import keeps at most two chunks of rows, but V8 by default lets the old
// generation grow to ~4× what survived the last full collection before collecting again, so garbage of the chunks
// piled up to ~200 MB of heap. A growth factor of 1.5 (collections are cheap: the live heap is ~50 MB) keeps the
// heap near 100 MB; the import's throughput is unchanged within measurement noise.
v8.setFlagsFromString('--heap-growing-percent=50');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { mapping: { type: 'string' }, format: { type: 'string' }, actor: { type: 'string', default: 'cli' }, since: { type: 'string' } },
});
if (positionals[0] === 'open311') {
  if (positionals.length !== 2) {
    console.error('Использование: npm run import -- open311 <адрес сервера, например https://city.example/open311/v2/> [--mapping open311|файл.json] [--since 2026-09-01]');
    process.exit(2);
  }
  let since: Date | undefined;
  if (values.since) {
    since = new Date(values.since);
    if (!/^\d{4}-\d{2}-\d{2}/.test(values.since) || Number.isNaN(since.getTime())) {
      console.error(`--since: «${values.since}» — не дата ISO 8601`);
      process.exit(2);
    }
  }
  let mapping: unknown;
  try {
    mapping = values.mapping ? readOpen311Mapping(values.mapping) : undefined;
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const code = await runWithDatabase(async ({ em, municipalityId }) => {
    try {
      const r = await new Open311Client(em, municipalityId).pull({ baseUrl: positionals[1], mapping, since, actor: values.actor! });
      console.log(`Open311 ${r.baseUrl} (источник ${r.sourceId}, режим ${r.mode === 'updated' ? 'по updated_datetime' : 'окнами по дате подачи'})`);
      console.log(`  запросов ${r.calls}, получено заявок ${r.fetched}: добавлено ${r.inserted}, обновлено ${r.updated}, без изменений ${r.unchanged}, отклонено ${r.rejected}, с предупреждениями ${r.flagged}`);
      console.log(`  загружено до ${r.cursor ?? '—'}${r.stoppedEarly ? ` (остановлено: ${r.stoppedEarly}; следующий запуск продолжит)` : ''}`);
      for (const i of r.issues.slice(0, 50)) console.log(`  ${i.externalId ?? `#${i.line}`}, ${i.field}: ${i.severity === 'ERROR' ? 'отклонена' : 'предупреждение'} — ${i.reason}`);
      return 0;
    } catch (e) {
      console.error(`Ошибка: ${(e as Error).message}`);
      return 1;
    }
  });
  process.exit(code);
}
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
const size = fs.statSync(file).size;
// For the import benchmark: the peaks of the V8 heap and of the memory V8 counts as external (buffers and, with the
// embedded backend, PGlite's WebAssembly memory), sampled while the import runs.
let maxJsKb = 0;
let maxExternalKb = 0;
const sampleJs = () => {
  const m = process.memoryUsage();
  maxJsKb = Math.max(maxJsKb, Math.round(m.heapTotal / 1024));
  maxExternalKb = Math.max(maxExternalKb, Math.round(m.external / 1024));
};
const jsTimer = process.env.MCU_PRINT_MAXRSS ? setInterval(sampleJs, 100) : undefined;
const bar = new cliProgress.SingleBar({ format: 'Импорт [{bar}] {percentage}% | {value}/{total} КБ', hideCursor: true }, cliProgress.Presets.shades_classic);
const code = await runWithDatabase(async ({ em, municipalityId: id }) => {
  const stream = fs.createReadStream(file);
  bar.start(Math.ceil(size / 1024), 0);
  // Poll the bytes read (a 'data' listener would start the stream before the importer reads it).
  const timer = setInterval(() => bar.update(Math.floor(stream.bytesRead / 1024)), 200);
  stream.once('close', () => clearInterval(timer));
  try {
    if (channel === 'addresses') {
      const r = await importAddressRegister(em, id, stream);
      bar.stop();
      console.log(`Адресный реестр: прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}, отклонено ${r.rejected}`);
      for (const i of r.issues.slice(0, 50)) console.log(`  строка ${i.line}, ${i.field}: ${i.reason}`);
      return 0;
    }
    const service = new IntakeService(em, id, values.actor!);
    const r = await service.importFile(stream, {
      fileName: path.basename(file), channel, mapping, format: values.format as SourceFormat | undefined,
      // Without a terminal (logs, scripts) each committed chunk is a line.
      onProgress: process.stdout.isTTY ? undefined : (read) => console.log(`записано: прочитано ${read}`),
    });
    bar.stop();
    console.log(`Пакет ${r.batchId}: ${r.status === 'DONE' ? 'завершён' : 'ОШИБКА'}`);
    console.log(`  прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}, без изменений ${r.unchanged}, отклонено ${r.rejected}, с предупреждениями ${r.flagged}`);
    if (r.error) console.log(`  ошибка: ${r.error}`);
    if (service.problemsUpdateMs) console.log(`  перечень проблем обновлён за ${(service.problemsUpdateMs / 1000).toFixed(1)} с`);
    // Each reason begins with the mapping path and column of its field (mapping.fields.receivedAt (столбец "…"): …).
    for (const i of r.issues.slice(0, 50)) console.log(`  строка ${i.line}${i.externalId ? ` (${i.externalId})` : ''}: ${i.severity === 'ERROR' ? 'отклонена' : 'предупреждение'} — ${i.reason}`);
    if (r.issues.length > 50) console.log(`  … ещё замечаний: ${r.issues.length - 50} (все — в GraphQL: importBatch(id: ${r.batchId}) { issues })`);
    // Nothing stored (every row rejected, or an empty file) is a failure for scripts too.
    return r.status === 'DONE' && r.inserted + r.updated + r.unchanged > 0 ? 0 : 1;
  } finally {
    bar.stop();
    clearInterval(timer);
  }
});
// Peak resident memory, for the import benchmark.
if (process.env.MCU_PRINT_MAXRSS) {
  clearInterval(jsTimer);
  sampleJs();
  console.log(`maxRSS_KB ${process.resourceUsage().maxRSS}`);
  console.log(`maxJS_KB ${maxJsKb}`);
  console.log(`maxExternal_KB ${maxExternalKb}`);
  // The embedded database's own process (without DATABASE_URL).
  if (embeddedPeakRssKb != null) console.log(`dbMaxRSS_KB ${embeddedPeakRssKb}`);
}
process.exit(code);
