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
import { benchIndicators } from './indicators.js';
import { benchRisks, benchRiskQuality } from './risks.js';
import { benchWorktime } from './worktime.js';
import { benchRating } from './rating.js';
import { benchPages } from './pages.js';
import { benchQuality, benchQualityDb } from './quality.js';
import { benchCommunication } from './communication.js';
import { benchOpen311 } from './open311.js';
import { benchRegion } from './region.js';
import { benchPeer } from './peer.js';
import { benchReport } from './report.js';

/**
 * npm run bench -- [--count 1000000] [--backends embedded,postgis] [--iterations 200]
 *                   [--only indicators,risks,worktime,rating,quality,appeals,heatmap,intake,classifier,load,problems,open311,report,communication,region] [--import-count 100000]
 *                   [--municipalities 10]   (region: municipalities × --count appeals each, its own database)
 *                   [--only indicators,risks,worktime,rating,quality,appeals,heatmap,intake,classifier,load,load-nocache,peer,problems,open311,report,communication]
 *                   [--import-count 100000] [--load-seconds 60] [--load-connections 64] [--peer-seconds 40] [--peer-clients 32]
 *                   [--web-concurrency 1,2]   (peer, load: the hub with each number of HTTP processes, WEB_CONCURRENCY)
 * Real PostGIS is used when BENCH_DATABASE_URL (or DATABASE_URL) names a server; a database
 * `mcu_bench_<count>` is created there once and reused. The embedded data lives in bench/.data/.
 */
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    backends: { type: 'string', default: '' },
    iterations: { type: 'string', default: '200' },
    only: { type: 'string', default: 'appeals,heatmap,problems,intake,classifier,rating' },
    'import-count': { type: 'string', default: '100000' },
    'load-seconds': { type: 'string', default: '60' },
    'load-connections': { type: 'string', default: '64' },
    'peer-seconds': { type: 'string', default: '40' },
    'peer-clients': { type: 'string', default: '32' },
    'web-concurrency': { type: 'string', default: '1' },
    pages: { type: 'string', default: '500' },
    months: { type: 'string', default: '24' },
    municipalities: { type: 'string', default: '10' },
  },
});
const only = new Set(values.only!.split(','));
/** The benchmarks that run against the app on a database of n appeals (each further capability adds its name). */
const APP_BENCHES = new Set(['appeals', 'heatmap', 'load', 'load-nocache', 'peer', 'problems', 'indicators', 'risks', 'rating', 'pages', 'quality', 'open311', 'report', 'communication']);
const importCount = Number(values['import-count']);
const webConcurrency = values['web-concurrency']!.split(',').map((x) => Number(x.trim()));
if (!webConcurrency.length || webConcurrency.some((w) => !Number.isInteger(w) || w < 1 || w > 64)) {
  throw new Error(`--web-concurrency: ожидаются целые числа 1..64 через запятую, получено «${values['web-concurrency']}»`);
}
const n = Number(values.count);
const iterations = Number(values.iterations);
const serverUrl = process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || '';
// The server URL is only for the postgis backend: the app must not pick it up from the environment
// when the embedded backend is measured.
delete process.env.DATABASE_URL;
const wanted = (values.backends || (serverUrl ? 'postgis,embedded' : 'embedded')).split(',') as SummaryRow['backend'][];
const root = repoRoot();
// Open311 reads are measured as anonymous open-data clients: no per-address limit during the benchmark.
if (only.has('open311')) process.env.OPEN311_ANON_PER_MINUTE ??= '0';
const rows: SummaryRow[] = [];

const report = (r: SummaryRow) => {
  console.log(`[${r.backend}] ${r.name}: ours ${r.ours.toFixed(2)}, baseline ${r.baseline.toFixed(2)} ${r.unit}, ratio ${r.ratio.toFixed(2)} (target ${r.target})`);
  rows.push(r);
  // Written as each figure comes, so a long run that is stopped keeps what it measured.
  writeResults(path.join(root, 'bench', 'results'), [r]);
};

if (only.has('classifier')) for (const r of await benchClassifier()) report(r);
if (only.has('risks')) for (const r of benchRiskQuality(n, (m) => console.log(m))) report(r);
if (only.has('worktime')) for (const r of benchWorktime(Math.min(n, 1_000_000))) report(r);
if (only.has('quality')) for (const r of await benchQuality(Math.min(n, 200_000))) report(r);

for (const backend of wanted) {
  if (only.has('intake')) {
    console.log(`[${backend}] импорт ${importCount} строк…`);
    for (const r of await benchIntake(backend, importCount, serverUrl)) report(r);
  }
  if (only.has('region')) {
    for (const r of await benchRegion(backend, n, serverUrl, { municipalities: Number(values.municipalities), iterations: Math.min(iterations, 200) }, (m) => console.log(m))) report(r);
  }
  // Benchmarks that need the app on a database of n appeals.
  if (![...APP_BENCHES].some((b) => only.has(b))) continue;
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
    if (only.has('indicators')) for (const r of await benchIndicators(app, backend, n, iterations)) report(r);
    if (only.has('risks')) await benchRisks(app, backend, n, (m) => console.log(m), report);
    if (only.has('rating')) await benchRating(app, backend, n, (m) => console.log(m), report);
    // Before the load: on the embedded backend the load closes the runner's app (one process per data folder).
    if (only.has('peer')) {
      const opts = { seconds: Number(values['peer-seconds']), clients: Number(values['peer-clients']), iterations: Math.min(iterations, 400), webConcurrency };
      for (const r of await benchPeer(app, backend, n, opts, (m) => console.log(m))) report(r);
    }
    if (only.has('pages')) await benchPages(app, backend, Number(values.pages), Number(values.months), (m) => console.log(m), report);
    if (only.has('quality')) for (const r of await benchQualityDb(app, backend, n)) report(r);
    if (only.has('open311')) for (const r of await benchOpen311(app, backend, n, iterations)) report(r);
    if (only.has('report')) await benchReport(app, backend, n, (m) => console.log(m), report);
    if (only.has('communication')) for (const r of await benchCommunication(app, backend, n)) report(r);
    // Last: on the embedded backend the load closes the runner's app (the hub process opens its data folder).
    const caches = [...(only.has('load') ? [true] : []), ...(only.has('load-nocache') ? [false] : [])];
    if (caches.length) {
      for (const r of await benchLoad(app, backend, n, { seconds: Number(values['load-seconds']), connections: Number(values['load-connections']), caches, dataDir, webConcurrency })) report(r);
    }
  } finally {
    await app.close();
  }
}
console.log('bench/results/summary.json и bench/results/README.md обновлены');
