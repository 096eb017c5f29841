import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startApp } from '../server/app.js';
import { repoRoot } from '../server/reference/files.js';
import { signInBench, writeResults, type SummaryRow } from './lib.js';
import { benchAppealsConnection } from './appeals-connection.js';
import { benchHeatmap } from './heatmap.js';
import { benchIntake } from './intake.js';
import { benchClassifier } from './classifier.js';
import { benchProblems } from './problems.js';
import { benchLoad } from './load.js';

/**
 * npm run bench -- [--count 1000000] [--backends embedded,postgis] [--iterations 200]
 *                   [--only appeals,heatmap,intake,classifier,load] [--import-count 100000]
 *                   [--load-seconds 60] [--load-connections 64]
 * Real PostGIS is used when BENCH_DATABASE_URL (or DATABASE_URL) names a server; a database
 * `mcu_bench_<count>` is created there once and reused. The embedded data lives in bench/.data/.
 */
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    backends: { type: 'string', default: '' },
    iterations: { type: 'string', default: '200' },
    only: { type: 'string', default: 'appeals,heatmap,problems,intake,classifier' },
    'import-count': { type: 'string', default: '100000' },
    'load-seconds': { type: 'string', default: '60' },
    'load-connections': { type: 'string', default: '64' },
  },
});
const only = new Set(values.only!.split(','));
const importCount = Number(values['import-count']);
const n = Number(values.count);
const iterations = Number(values.iterations);
const serverUrl = process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || '';
// The server URL is only for the postgis backend: the app must not pick it up from the environment
// when the embedded backend is measured.
delete process.env.DATABASE_URL;
const wanted = (values.backends || (serverUrl ? 'postgis,embedded' : 'embedded')).split(',') as SummaryRow['backend'][];
const root = repoRoot();
const rows: SummaryRow[] = [];

const report = (r: SummaryRow) => {
  console.log(`[${r.backend}] ${r.name}: ours ${r.ours.toFixed(2)}, baseline ${r.baseline.toFixed(2)} ${r.unit}, ratio ${r.ratio.toFixed(2)} (target ${r.target})`);
  rows.push(r);
  // Written as each figure comes, so a long run that is stopped keeps what it measured.
  writeResults(path.join(root, 'bench', 'results'), [r]);
};

if (only.has('classifier')) for (const r of await benchClassifier()) report(r);

for (const backend of wanted) {
  if (only.has('intake')) {
    console.log(`[${backend}] импорт ${importCount} строк…`);
    for (const r of await benchIntake(backend, importCount, serverUrl)) report(r);
  }
  if (!only.has('appeals') && !only.has('heatmap') && !only.has('load') && !only.has('problems')) continue;
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  if (backend === 'postgis') {
    if (!serverUrl) throw new Error('--backends postgis needs BENCH_DATABASE_URL or DATABASE_URL');
    const name = `mcu_bench_${n}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!exists.rowCount) await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    databaseUrl = u.toString();
  } else {
    dataDir = path.join(root, 'bench', '.data', `embedded-${n}`);
    fs.mkdirSync(dataDir, { recursive: true });
  }
  console.log(`[${backend}] подготовка ${n} обращений…`);
  const t = Date.now();
  const app = await startApp({ databaseUrl, dataDir, port: 0, demo: { count: n, seed: 42 }, log: (m) => console.log(`[${backend}] ${m}`) });
  try {
    await app.orm.em.fork().execute('ANALYZE');
    await signInBench(app); // every request of the benchmarks goes through authentication, as in production
    console.log(`[${backend}] готово за ${((Date.now() - t) / 1000).toFixed(0)} с; замеры…`);
    if (only.has('appeals')) report(await benchAppealsConnection(app, backend, n, iterations));
    if (only.has('heatmap')) for (const h of await benchHeatmap(app, backend, n, iterations)) report(h);
    if (only.has('problems')) await benchProblems(app, backend, n, (m) => console.log(m), report);
    if (only.has('load')) {
      for (const r of await benchLoad(app, backend, n, { seconds: Number(values['load-seconds']), connections: Number(values['load-connections']) })) report(r);
    }
  } finally {
    await app.close();
  }
}
console.log('bench/results/summary.json и bench/results/README.md обновлены');
