import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import pg from 'pg';
import { startApp } from '../server/app.js';
import { startEmbedded } from '../server/db/embedded.js';
import { generateDemoAppeals } from '../server/demo/generator.js';
import { repoRoot } from '../server/reference/files.js';
import type { SummaryRow } from './lib.js';

const HEADER = 'Номер;Дата подачи;Категория;Подкатегория;Текст;Адрес;Широта;Долгота;Статус;Срок;Дата ответа;Ответ;Оценка;Заявитель;Телефон;E-mail';
const STATUS: Record<string, string> = { NEW: 'Зарегистрировано', IN_PROGRESS: 'На рассмотрении', ANSWERED: 'Дан ответ', CLOSED: 'Решено', REJECTED: 'Отклонено' };

const csvCell = (v: string | number | null | undefined) => {
  if (v == null) return '';
  const s = String(v);
  return /[;"\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const ru = (d: Date | null, time = true) => {
  if (!d) return '';
  const l = new Date(d.getTime() + 7 * 3600_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(l.getUTCDate())}.${p(l.getUTCMonth() + 1)}.${l.getUTCFullYear()}` + (time ? ` ${p(l.getUTCHours())}:${p(l.getUTCMinutes())}` : '');
};

/** A ПОС-format export of n generated appeals: ~70 % with a theme code, the rest left to the classifier; some address-only. */
export function writeImportFile(file: string, n: number): number {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  let lines: string[] = [HEADER];
  let i = 0;
  for (const a of generateDemoAppeals({ count: n, seed: 777 })) {
    lines.push([
      `B-${a.externalId}`, ru(a.receivedAt), '', i % 10 < 7 ? a.themeCode : '', a.text, a.address, a.lat, a.lon, STATUS[a.status], ru(a.dueAt, false),
      ru(a.answeredAt), a.answerText, a.satisfaction, a.authorName, a.authorPhone, a.authorEmail,
    ].map(csvCell).join(';'));
    if (lines.length >= 5000) {
      fs.writeSync(fd, lines.join('\n') + '\n');
      lines = [];
    }
    i++;
  }
  fs.writeSync(fd, lines.join('\n') + '\n');
  fs.closeSync(fd);
  return fs.statSync(file).size;
}

const BARE = `CREATE TABLE bare_import (${HEADER.split(';').map((_, k) => `c${k} text`).join(', ')})`;

/**
 * Import throughput with validation, geocoding, district, classification and routing
 * (the import command, as a separate process) vs a raw COPY of the same file into a bare table
 * on the same database; and the importer's peak RSS.
 */
export async function benchIntake(backend: SummaryRow['backend'], n: number, serverUrl?: string): Promise<SummaryRow[]> {
  const root = repoRoot();
  const file = path.join(root, 'bench', '.data', `import-${n}.csv`);
  if (!fs.existsSync(file)) writeImportFile(file, n);
  const date = new Date().toISOString().slice(0, 10);
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  const dbName = `mcu_bench_import_${process.pid}`;
  if (backend === 'postgis') {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const u = new URL(serverUrl!);
    u.pathname = `/${dbName}`;
    databaseUrl = u.toString();
  } else {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-bench-import-'));
  }
  try {
    // Reference data, the demo address register and 20 000 labelled appeals to train the classifier.
    const app = await startApp({ databaseUrl, dataDir, port: 0, demo: { count: 20_000, seed: 5 }, log: () => undefined });
    await app.close();

    const env = { ...process.env, MCU_PRINT_MAXRSS: '1', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '', DATA_DIR: dataDir! }) };
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [path.join(root, 'dist/server/cli/import.js'), 'pos', file], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const ours = (performance.now() - t0) / 1000;
    const out = run.stdout ?? '';
    const m = /прочитано (\d+), добавлено (\d+)/.exec(out);
    if (run.status !== 0 || !m || Number(m[1]) !== n) throw new Error(`import failed: ${run.stderr}\n${out.slice(-2000)}`);
    const rssMb = Number(/maxRSS_KB (\d+)/.exec(out)![1]) / 1024;
    const jsMb = Number(/maxJS_KB (\d+)/.exec(out)?.[1] ?? NaN) / 1024;
    const externalMb = Number(/maxExternal_KB (\d+)/.exec(out)?.[1] ?? NaN) / 1024;

    let copy: number;
    if (backend === 'postgis') {
      execFileSync('psql', [databaseUrl!, '-qc', BARE]);
      const t = performance.now();
      execFileSync('psql', [databaseUrl!, '-qc', `\\copy bare_import FROM '${file}' WITH (FORMAT csv, HEADER true, DELIMITER ';')`]);
      copy = (performance.now() - t) / 1000;
    } else {
      const db = await startEmbedded(dataDir!);
      try {
        await db.db.exec(BARE);
        const blob = new Blob([fs.readFileSync(file)]);
        const t = performance.now();
        await db.db.query(`COPY bare_import FROM '/dev/blob' WITH (FORMAT csv, HEADER true, DELIMITER ';')`, [], { blob });
        copy = (performance.now() - t) / 1000;
      } finally {
        await db.stop();
      }
    }
    const oursRate = n / ours;
    const copyRate = n / copy;
    return [
      {
        name: 'intake import throughput (validate, geocode, district, classify, route, dedupe) vs raw COPY',
        backend, n, ours: oursRate, baseline: copyRate, ratio: oursRate / copyRate, unit: 'rows/s', target: 0.5, date,
        notes: `import ${ours.toFixed(1)} s (whole command incl. start-up, classifier training and the problem-list update after the import) vs COPY ${copy.toFixed(1)} s`,
      },
      {
        name: 'intake import peak RSS', backend, n, ours: rssMb, baseline: 400, ratio: rssMb / 400, unit: 'MB (peak RSS of the import process)', target: '< 400 MB', date,
        notes: (backend === 'embedded'
          ? 'the embedded PGlite database runs in the importing process: its WebAssembly memory is part of this RSS'
          : 'importer process only (the database is the PostgreSQL server)') + `; peak V8 heap ${jsMb.toFixed(0)} MB, peak external memory ${externalMb.toFixed(0)} MB`,
      },
    ];
  } finally {
    if (backend === 'postgis') {
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    } else fs.rmSync(dataDir!, { recursive: true, force: true });
  }
}
