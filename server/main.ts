import { parseArgs } from 'node:util';
import { startApp } from './app.js';
import { intVar } from './config.js';
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


/**
 * The one stop of the process (SIGTERM from `docker compose stop`, SIGINT from Ctrl+C): the application owns the
 * lifecycle (Apollo's own signal handlers are off, see server/http/graphql.ts), so HTTP stops accepting and
 * drains the requests in flight, GraphQL stops once, the pool and the embedded database close and the data
 * folder's lock is released; then exit 0. A stop that hangs beyond SHUTDOWN_TIMEOUT_MS exits with code 1; a
 * second signal during the stop exits at once (code 1).
 */
let stopping = false;
async function stop(signal: NodeJS.Signals) {
  if (stopping) {
    console.error(`Повторный сигнал ${signal}: немедленная остановка`);
    process.exit(1);
  }
  stopping = true;
  console.log(`Остановка (${signal})…`);
  const started = Date.now();
  const deadline = setTimeout(() => {
    console.error(`Остановка не завершилась за ${shutdownTimeoutMs} мс (SHUTDOWN_TIMEOUT_MS): выход`);
    process.exit(1);
  }, shutdownTimeoutMs);
  deadline.unref();
  try {
    // A signal during the start: the start completes (migrations are transactional), then everything closes.
    const app = await starting;
    await app.close();
  } catch (e) {
    console.error('Ошибка при остановке', e);
    process.exit(1);
  }
  console.log(`Остановлено за ${Date.now() - started} мс`);
  process.exit(0);
}
// Handlers first: a signal that comes while the server is starting (or right after it said so) is a clean stop too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, (s) => void stop(s));

// The demo serves every municipality with reference data (a region on one deployment) unless MUNICIPALITIES says otherwise.
const municipalities = values.demo && process.env.MUNICIPALITIES === undefined ? referenceMunicipalities() : undefined;
const starting = startApp({ demo: values.demo ? { count, seed: Number(values.seed) } : false, municipalities });
starting.catch(() => undefined);
const app = await starting;
if (!stopping) console.log(`МЦУ Hub работает: ${app.url}  (карта: ${app.url}/, GraphQL: ${app.url}/graphql)`);
