import { parseArgs } from 'node:util';
import { startApp } from './app.js';
import { isClusterWorker, processLabel, runPrimary, startWorker } from './cluster.js';
import { intVar, webConcurrency } from './config.js';
import { referenceMunicipalities } from './reference/files.js';

const { values } = parseArgs({
  options: {
    demo: { type: 'boolean', default: false },
    count: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '42' },
  },
});
const count = Number(values.count);
if (!Number.isInteger(count) || count < 0) {
  console.error(`--count: ожидается целое неотрицательное число, получено «${values.count}»`);
  process.exit(2);
}
/** SHUTDOWN_TIMEOUT_MS: how long a stop may take before the process exits anyway (code 1). */
const shutdownTimeoutMs = intVar(process.env, 'SHUTDOWN_TIMEOUT_MS', 9000, 1000, 600_000);
let workers: number;
try {
  workers = webConcurrency(process.env);
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

/**
 * How this process runs (server/cluster.ts): one process (default), the primary of a cluster (WEB_CONCURRENCY > 1
 * with DATABASE_URL: prepares once, runs the schedulers, forks the workers), or one of its workers (serves HTTP).
 */
const mode: 'single' | 'primary' | 'worker' = isClusterWorker() ? 'worker' : workers > 1 && process.env.DATABASE_URL ? 'primary' : 'single';
if (mode === 'single' && workers > 1) {
  console.log(`WEB_CONCURRENCY=${process.env.WEB_CONCURRENCY}: встроенная база данных (PGlite, DATABASE_URL не задан) работает внутри одного процесса — сервер запускается одним процессом`);
}
const label = processLabel();

/**
 * The one stop of the process (SIGTERM from `docker compose stop`, SIGINT from Ctrl+C): the application owns the
 * lifecycle (Apollo's own signal handlers are off, see server/http/graphql.ts), so HTTP stops accepting and
 * drains the requests in flight, GraphQL stops once, the pool and the embedded database close and the data
 * folder's lock is released; then exit 0. A stop that hangs beyond SHUTDOWN_TIMEOUT_MS exits with code 1; a
 * second signal during the stop exits at once (code 1). In a cluster the primary asks every worker to stop this way
 * (Ctrl+C also reaches the workers directly: one stop each), waits for them, then stops its schedulers.
 */
let stopping = false;
async function stop(signal: NodeJS.Signals | 'primary') {
  if (stopping) {
    // A worker is told by its primary and, on Ctrl+C, by the terminal too: that is one stop.
    if (signal === 'primary' || mode === 'worker') return;
    console.error(`Повторный сигнал ${signal}: немедленная остановка`);
    process.exit(1);
  }
  stopping = true;
  console.log(`${label}Остановка (${signal === 'primary' ? 'по команде основного процесса' : signal})…`);
  const started = Date.now();
  const deadline = setTimeout(() => {
    console.error(`${label}Остановка не завершилась за ${shutdownTimeoutMs} мс (SHUTDOWN_TIMEOUT_MS): выход`);
    process.exit(1);
  }, shutdownTimeoutMs);
  deadline.unref();
  let ok = true;
  try {
    // A signal during the start: the start completes (migrations are transactional), then everything closes.
    const running = await starting;
    ok = await running.close();
  } catch (e) {
    console.error(`${label}Ошибка при остановке`, e);
    process.exit(1);
  }
  console.log(`${label}Остановлено за ${Date.now() - started} мс`);
  process.exit(ok ? 0 : 1);
}
// Handlers first: a signal that comes while the server is starting (or right after it said so) is a clean stop too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, (s) => void stop(s));

// The demo serves every municipality with reference data (a region on one deployment) unless MUNICIPALITIES says otherwise.
const municipalities = values.demo && process.env.MUNICIPALITIES === undefined ? referenceMunicipalities() : undefined;
const opts = { demo: values.demo ? { count, seed: Number(values.seed) } : false as const, municipalities };

interface Running { url: string; close(): Promise<boolean> }
async function start(): Promise<Running> {
  if (mode === 'worker') {
    const app = await startWorker(opts, () => void stop('primary'));
    return { url: app.url, close: () => app.close().then(() => true) };
  }
  if (mode === 'primary') {
    const c = await runPrimary(opts, workers);
    return { url: c.url, close: () => c.stop() };
  }
  const app = await startApp(opts);
  return { url: app.url, close: () => app.close().then(() => true) };
}
const starting = start();
starting.catch((e) => {
  console.error(`${label}Запуск не удался:`, e);
  process.exit(1);
});
const running = await starting;
if (!stopping && mode !== 'worker') {
  const processes = mode === 'primary' ? `; процессов HTTP: ${workers} (WEB_CONCURRENCY)` : '';
  console.log(`МЦУ Hub работает: ${running.url}  (карта: ${running.url}/, GraphQL: ${running.url}/graphql${processes})`);
}
