/**
 * The embedded database as a process of its own, for the command-line tools (see embedded-process.ts):
 * PGlite's WebAssembly memory (and its compiled code) then does not add to the command's resident memory.
 *
 * Started with an IPC channel; argv: <dataDir> <JSON of Postgres settings>.
 *   → { type: 'ready', url }            the database is served on a loopback port
 *   → { type: 'failed', message }       it could not start (the folder is in use, say)
 *   ← { type: 'stop' }                  close the database, then → { type: 'stopped', maxRssKb } and exit
 * When the channel closes (the parent exited or was killed, even with kill -9) the database is closed and the
 * process exits. SIGINT is ignored (Ctrl-C reaches the whole process group: the parent decides); SIGTERM closes.
 */
import { startEmbedded, type EmbeddedDatabase } from './embedded.js';

const [dataDir, settingsJson] = process.argv.slice(2);
const send = (m: object) => new Promise<void>((resolve) => (process.connected ? process.send!(m, () => resolve()) : resolve()));

if (!process.send || !dataDir) {
  console.error('embedded-server: запускается командами МЦУ Hub (нужен канал IPC и папка данных)');
  process.exit(2);
}

let db: EmbeddedDatabase | undefined;
let closing: Promise<void> | undefined;
const close = (reply: boolean) =>
  (closing ??= (async () => {
    try {
      await db?.stop();
    } catch (e) {
      console.error(`embedded-server: ошибка при закрытии базы данных: ${(e as Error).message}`);
      process.exitCode = 1;
    }
    if (reply) await send({ type: 'stopped', maxRssKb: process.resourceUsage().maxRSS });
    if (process.connected) process.disconnect();
    process.exit();
  })());

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void close(false));
process.on('disconnect', () => void close(false));
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'stop') void close(true);
});

// MCU_EMBEDDED_MEMLOG=<seconds>: the process's memory on stderr (diagnostics of the embedded backend's footprint).
const memlog = Number(process.env.MCU_EMBEDDED_MEMLOG ?? 0);
if (memlog > 0) {
  const t0 = Date.now();
  setInterval(() => {
    const m = process.memoryUsage();
    const wasm = (db?.db as unknown as { mod?: { HEAP8?: Int8Array } } | undefined)?.mod?.HEAP8?.byteLength ?? 0;
    const mb = (n: number) => Math.round(n / 1048576);
    const cpu = process.cpuUsage();
    console.error(`[embedded-server] ${Math.round((Date.now() - t0) / 1000)} s: rss ${mb(m.rss)} MB, wasm memory ${mb(wasm)} MB, ` +
      `heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, array buffers ${mb(m.arrayBuffers)} MB, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
  }, memlog * 1000).unref();
}

// Every query and result passes through Buffers and Uint8Arrays (pglite-socket, PGlite's protocol handling) that die
// at once, but V8 collects only when ~64 MB of such external memory has accumulated since the last collection. With
// --expose-gc (embedded-process.ts), a collection when array buffers grew by 16 MB over what survived the last one.
const gc = (globalThis as { gc?: (o?: { type?: 'minor' | 'major' }) => void }).gc;
if (gc) {
  let floor = Infinity;
  setInterval(() => {
    const ab = process.memoryUsage().arrayBuffers;
    if (ab > floor + 16 * 1048576) {
      gc();
      floor = process.memoryUsage().arrayBuffers;
    } else floor = Math.min(floor, ab);
  }, 250).unref();
}

try {
  db = await startEmbedded(dataDir, { settings: settingsJson ? JSON.parse(settingsJson) : undefined });
  if (closing || !process.connected) await close(false);
  else await send({ type: 'ready', url: db.url });
} catch (e) {
  await send({ type: 'failed', message: (e as Error).message });
  process.exit(1);
}
