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
    // The same starting state for the floor measurement (below).
    if (backend === 'postgis') await adminQuery(serverUrl!, `CREATE DATABASE ${dbName}_floor TEMPLATE ${dbName}`);
    else fs.cpSync(dataDir!, floorDir(dataDir!), { recursive: true });

    const env = { ...process.env, MCU_PRINT_MAXRSS: '1', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_URL: '', DATA_DIR: dataDir! }) };
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [path.join(root, 'dist/server/cli/import.js'), 'pos', file], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const ours = (performance.now() - t0) / 1000;
    const out = run.stdout ?? '';
    const m = /прочитано (\d+), добавлено (\d+)/.exec(out);
    if (run.status !== 0 || !m || Number(m[1]) !== n) throw new Error(`import failed: ${run.stderr}\n${out.slice(-2000)}`);
    const problemsS = Number(/перечень проблем обновлён за ([\d.]+) с/.exec(out)?.[1] ?? 0);
    const importS = ours - problemsS;
    const rssMb = Number(/maxRSS_KB (\d+)/.exec(out)![1]) / 1024;
    const jsMb = Number(/maxJS_KB (\d+)/.exec(out)?.[1] ?? NaN) / 1024;
    const externalMb = Number(/maxExternal_KB (\d+)/.exec(out)?.[1] ?? NaN) / 1024;
    const dbMb = Number(/dbMaxRSS_KB (\d+)/.exec(out)?.[1] ?? NaN) / 1024;

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
    const { floor: floorS, bulk: bulkS } = await floorSeconds(backend, databaseUrl, dataDir);
    const oursRate = n / importS;
    const copyRate = n / copy;
    const floorRate = n / floorS;
    return [
      {
        name: 'intake import throughput (validate, geocode, district, classify, route, dedupe) vs raw COPY',
        backend, n, ours: oursRate, baseline: copyRate, ratio: oursRate / copyRate, unit: 'rows/s', target: 0.5, date,
        notes: `import ${importS.toFixed(1)} s (the whole command with start-up and classifier training, without the problem-list update that follows it: ${problemsS.toFixed(1)} s) vs COPY of the file into a bare table ${copy.toFixed(1)} s`,
      },
      {
        name: 'intake import throughput vs the database floor (the same final rows INSERT…SELECTed into the same tables)',
        backend, n, ours: oursRate, baseline: floorRate, ratio: oursRate / floorRate, unit: 'rows/s', target: 'report', date,
        notes: `import ${importS.toFixed(1)} s vs ${floorS.toFixed(1)} s for the database alone to store the import's result — its appeals, authors and events, ` +
          'already computed, from unlogged staging tables in one transaction, on a copy of the same starting database (indexes, constraints, the full-text column and the heat-map trigger included)',
      },
      ...(bulkS ? [{
        name: 'intake: the database floor in bulk mode (secondary indexes and foreign keys dropped for the load, rebuilt after) vs raw COPY',
        backend, n, ours: n / bulkS, baseline: copyRate, ratio: n / bulkS / copyRate, unit: 'rows/s', target: 0.5, date,
        notes: `${bulkS.toFixed(1)} s for the database alone to store the import's result with the fastest loading PostgreSQL offers short of ` +
          `dropping features (no secondary index or foreign key during the INSERT…SELECT, then CREATE INDEX / ADD CONSTRAINT, maintenance_work_mem 256 MB; ` +
          `rolled back) vs COPY ${copy.toFixed(1)} s: what remains is the heap, the primary and unique keys, the generated tsvector and the heat-hexagon trigger`,
      }] : []),
      {
        name: 'intake import peak RSS', backend, n, ours: rssMb, baseline: 400, ratio: rssMb / 400, unit: 'MB (peak RSS of the import process)', target: '< 400 MB', date,
        notes: (backend === 'embedded'
          ? `importer process; the embedded database runs in a child process of the command (its peak: ${dbMb.toFixed(0)} MB, the next row)`
          : 'importer process only (the database is the PostgreSQL server)') + `; peak V8 heap ${jsMb.toFixed(0)} MB, peak external memory ${externalMb.toFixed(0)} MB`,
      },
      ...(backend === 'embedded' ? [{
        name: 'intake import peak RSS of the embedded database process', backend, n, ours: dbMb, baseline: 400, ratio: dbMb / 400,
        unit: 'MB (peak RSS of the PGlite process the command starts)', target: '< 400 MB', date,
        notes: 'PGlite with PostGIS served from files on disk (no bundle), shared_buffers 16 MB, baseline WebAssembly compiler (see README, embedded backend)',
      }] : []),
    ];
  } finally {
    if (backend === 'postgis') {
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.query(`DROP DATABASE IF EXISTS ${dbName}_floor WITH (FORCE)`);
      await admin.end();
    } else {
      fs.rmSync(dataDir!, { recursive: true, force: true });
      fs.rmSync(floorDir(dataDir!), { recursive: true, force: true });
    }
  }
}

const floorDir = (dataDir: string) => `${dataDir}-floor`;

async function adminQuery(url: string, sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** What the import wrote, table by table, in an order that satisfies the foreign keys; hex cells and search are derived by the database. */
const FLOOR_TABLES: { table: string; columns: string; where: string }[] = [
  { table: 'appeal_author', columns: 'id, municipality_id, kind, full_name, phone, email, profile_url', where: 'id IN (SELECT author_id FROM appeal WHERE batch_id IS NOT NULL)' },
  {
    table: 'appeal',
    columns: 'id, municipality_id, channel, external_id, received_at, author_kind, author_id, author_key, text, address, point, district_id, theme_id, ' +
      'theme_confidence, theme_source, triage, organization_id, status, due_at, first_response_at, answered_at, answer_text, satisfaction, place_status, ' +
      'batch_id, duplicate_of_id, repeat_of_id, created_at, updated_at',
    where: 'batch_id IS NOT NULL',
  },
  { table: 'appeal_event', columns: 'municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment', where: 'appeal_id IN (SELECT id FROM appeal WHERE batch_id IS NOT NULL)' },
];

/**
 * The physical floor of the import: the seconds the database alone takes to store what the import produced (its
 * appeals, authors and events, already computed) into the same tables with their indexes, constraints, generated
 * full-text column and heat-map trigger, starting from the same state — INSERT … SELECT from unlogged staging tables,
 * one transaction. The rows are read from the imported database and loaded into the staging tables of its copy
 * untimed; the batch row itself is copied too (the appeals reference it).
 */
async function floorSeconds(backend: SummaryRow['backend'], databaseUrl?: string, dataDir?: string): Promise<{ floor: number; bulk?: number }> {
  const stage = (t: string) => `floor_${t}`;
  const batches = { table: 'import_batch', columns: 'id, municipality_id, channel, source_name, format, mapping, actor', where: 'true' };
  if (backend === 'postgis') {
    const floorUrl = databaseUrl!.replace(/\/([^/]+)$/, '/$1_floor');
    const src = new pg.Client({ connectionString: databaseUrl });
    const dst = new pg.Client({ connectionString: floorUrl });
    await src.connect();
    await dst.connect();
    try {
      for (const t of [batches, ...FLOOR_TABLES]) {
        await dst.query(`CREATE UNLOGGED TABLE ${stage(t.table)} AS SELECT ${t.columns} FROM ${t.table} WITH NO DATA`);
        // Through a file: psql's \copy on both sides.
        const file = path.join(os.tmpdir(), `mcu-floor-${process.pid}-${t.table}.bin`);
        execFileSync('psql', [databaseUrl!, '-qc', `\\copy (SELECT ${t.columns} FROM ${t.table} WHERE ${t.where}) TO '${file}' WITH (FORMAT binary)`]);
        execFileSync('psql', [floorUrl, '-qc', `\\copy ${stage(t.table)} FROM '${file}' WITH (FORMAT binary)`]);
        fs.rmSync(file);
      }
      await dst.query(`INSERT INTO import_batch (${batches.columns}) SELECT * FROM ${stage('import_batch')}`);
      await dst.query('ANALYZE');
      const bulk = await bulkFloorSeconds(dst, stage);
      const t0 = performance.now();
      await dst.query('BEGIN');
      for (const t of FLOOR_TABLES) await dst.query(`INSERT INTO ${t.table} (${t.columns}) SELECT * FROM ${stage(t.table)}`);
      await dst.query('COMMIT');
      return { floor: (performance.now() - t0) / 1000, bulk };
    } finally {
      await src.end();
      await dst.end();
    }
  }
  const src = await startEmbedded(dataDir!);
  const blobs = new Map<string, Blob>();
  try {
    for (const t of [batches, ...FLOOR_TABLES]) {
      const r = await src.db.query(`COPY (SELECT ${t.columns} FROM ${t.table} WHERE ${t.where}) TO '/dev/blob' WITH (FORMAT binary)`);
      blobs.set(t.table, r.blob!);
    }
  } finally {
    await src.stop();
  }
  const dst = await startEmbedded(floorDir(dataDir!));
  try {
    for (const t of [batches, ...FLOOR_TABLES]) {
      await dst.db.exec(`CREATE UNLOGGED TABLE ${stage(t.table)} AS SELECT ${t.columns} FROM ${t.table} WITH NO DATA`);
      await dst.db.query(`COPY ${stage(t.table)} FROM '/dev/blob' WITH (FORMAT binary)`, [], { blob: blobs.get(t.table) });
    }
    await dst.db.exec(`INSERT INTO import_batch (${batches.columns}) SELECT * FROM ${stage('import_batch')}; ANALYZE;`);
    const t0 = performance.now();
    await dst.db.transaction(async (tx) => {
      for (const t of FLOOR_TABLES) await tx.exec(`INSERT INTO ${t.table} (${t.columns}) SELECT * FROM ${stage(t.table)}`);
    });
    return { floor: (performance.now() - t0) / 1000 };
  } finally {
    await dst.stop();
  }
}

/**
 * The floor in bulk mode (PostGIS): the same INSERT…SELECTs with the tables' secondary indexes and foreign keys
 * dropped for the load and rebuilt after, in one transaction that is rolled back (the indexed floor runs next on
 * the same state). The most a bulk path could gain without dropping features.
 */
async function bulkFloorSeconds(db: pg.Client, stage: (t: string) => string): Promise<number> {
  const tables = FLOOR_TABLES.map((t) => t.table);
  const fks = (await db.query(`SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
                                WHERE contype = 'f' AND conrelid::regclass::text = ANY($1)`, [tables])).rows as { tbl: string; conname: string; def: string }[];
  const indexes = (await db.query(`SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index
                                    WHERE indrelid::regclass::text = ANY($1) AND NOT indisunique AND NOT indisprimary`, [tables])).rows as { name: string; def: string }[];
  const t0 = performance.now();
  await db.query('BEGIN');
  try {
    await db.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    for (const f of fks) await db.query(`ALTER TABLE ${f.tbl} DROP CONSTRAINT ${f.conname}`);
    for (const i of indexes) await db.query(`DROP INDEX ${i.name}`);
    for (const t of FLOOR_TABLES) await db.query(`INSERT INTO ${t.table} (${t.columns}) SELECT * FROM ${stage(t.table)}`);
    for (const i of indexes) await db.query(i.def);
    for (const f of fks) await db.query(`ALTER TABLE ${f.tbl} ADD CONSTRAINT ${f.conname} ${f.def}`);
    return (performance.now() - t0) / 1000;
  } finally {
    await db.query('ROLLBACK');
  }
}
