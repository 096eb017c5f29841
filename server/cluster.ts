import cluster, { type Worker } from 'node:cluster';
import { preparePrimary, startApp, type App, type StartOptions } from './app.js';
import { loadConfig, workerShare } from './config.js';
import { joinPeers, relayPeers } from './util/peers.js';

/**
 * Cluster mode (WEB_CONCURRENCY > 1 with DATABASE_URL): the HTTP/GraphQL layer on several cores behind one port.
 *
 * - The primary does the one-time work once (migrations, reference and demo data, accounts: app.preparePrimary),
 *   runs the schedulers (weekly reports, personal-data retention), keeps the rate-limit counters of all workers and
 *   relays what one worker tells the others (server/util/peers.ts); it serves no HTTP.
 * - It forks WEB_CONCURRENCY workers. Each one serves HTTP on the same port (the cluster module shares the listening
 *   socket and hands connections round-robin), with its share of the pool, heavy slots and per-user limits
 *   (config.workerShare), and none of the one-time work.
 * - A worker that dies is forked again after a back-off (0.5 s doubling up to 30 s; back to 0.5 s after a minute of
 *   life), logged. The import batches and reports it left RUNNING are marked at once (INTERRUPTED / FAILED:
 *   server/db/jobs.ts); the other workers' running jobs are untouched. A worker that dies before the server has first
 *   become ready stops the start (exit 1): its cause (a setting, the database) would kill every new one too.
 * - stop(): every worker drains its requests in flight and exits (the same stop as a single process), then the
 *   primary stops its schedulers and closes its pool.
 */

const WORKER_ENV = 'MCU_CLUSTER_WORKER';
const CHANNEL = 'mcu-cluster';

interface WorkerInfo { workers: number; municipalityId: number; municipalities: { code: string; id: number }[] }
type ClusterMessage = { channel: typeof CHANNEL; type: 'ready'; url: string } | { channel: typeof CHANNEL; type: 'stop' };
const isClusterMessage = (m: unknown): m is ClusterMessage => !!m && typeof m === 'object' && (m as { channel?: unknown }).channel === CHANNEL;

/** This process is a worker forked by runPrimary. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && !!process.env[WORKER_ENV];
}

/** A short name of this process for its log lines ("" in a single process). */
export function processLabel(): string {
  return isClusterWorker() ? `[рабочий процесс ${cluster.worker?.id}] ` : '';
}

/**
 * The worker's side: serves HTTP with the primary's prepared municipalities and its share of the server's settings;
 * `onStop` is called when the primary asks it to stop.
 */
export async function startWorker(opts: StartOptions, onStop: () => void): Promise<App> {
  const info = JSON.parse(process.env[WORKER_ENV]!) as WorkerInfo;
  joinPeers();
  process.on('message', (m: unknown) => { if (isClusterMessage(m) && m.type === 'stop') onStop(); });
  const config = loadConfig();
  const share = workerShare(config.database, config.limits, info.workers);
  const app = await startApp({
    ...opts,
    worker: { municipalityId: info.municipalityId, municipalities: info.municipalities },
    database: { ...share.database, ...opts.database },
    limits: { ...share.limits, ...opts.limits },
  });
  process.send?.({ channel: CHANNEL, type: 'ready', url: app.url } satisfies ClusterMessage);
  return app;
}

export interface RunningCluster {
  url: string;
  workers: number;
  /** Stops every worker (each drains its requests), then the primary's schedulers; true when all exited cleanly. */
  stop(): Promise<boolean>;
}

/** The primary's side: prepares once, forks `workers` workers, resolves when all of them serve. */
export async function runPrimary(opts: StartOptions, workers: number, log: (m: string) => void = (m) => console.log(m)): Promise<RunningCluster> {
  relayPeers();
  const primary = await preparePrimary(opts);
  const env = { [WORKER_ENV]: JSON.stringify({ workers, municipalityId: primary.municipalityId, municipalities: primary.municipalities } satisfies WorkerInfo) };
  let stopping = false;
  let started = false;
  let clean = true;
  const live = new Set<Worker>();
  let failStart: (e: Error) => void = () => undefined;
  let readyCount = 0;
  let resolveReady: (url: string) => void = () => undefined;
  const ready = new Promise<string>((resolve, reject) => { resolveReady = resolve; failStart = reject; });

  const fork = (attempt: number) => {
    const w = cluster.fork(env);
    const bornAt = Date.now();
    live.add(w);
    // A worker that is gone cannot be sent to: never let that error stop the primary.
    w.process.on('error', (e) => console.error(`[cluster] рабочий процесс ${w.id}: ${e.message}`));
    w.on('message', (m: unknown) => {
      if (!isClusterMessage(m) || m.type !== 'ready') return;
      if (started) log(`Рабочий процесс ${w.id} (pid ${w.process.pid}) снова обслуживает запросы`);
      else if (++readyCount === workers) { started = true; resolveReady(m.url); }
    });
    w.on('exit', (code, signal) => {
      live.delete(w);
      if (stopping) {
        if (code !== 0) clean = false;
        return;
      }
      const how = signal ? `сигнал ${signal}` : `код ${code}`;
      // Its import batches and reports left RUNNING are marked now (the other workers' go on): server/db/jobs.ts.
      const pid = w.process.pid;
      if (pid) {
        primary.sweepAfter(pid).then(({ batches, reports }) => {
          if (batches || reports) log(`Рабочий процесс ${w.id} (pid ${pid}) завершился, не доделав задачи: импортов отмечено INTERRUPTED — ${batches}, справок FAILED — ${reports}`);
        }, (e) => console.error(`[cluster] задачи рабочего процесса ${w.id} не отмечены: ${(e as Error).message}`));
      }
      if (!started) {
        failStart(new Error(`рабочий процесс ${w.id} завершился при запуске (${how})`));
        return;
      }
      // Back-off: 0.5 s doubling up to 30 s while workers keep dying young; a worker that lived a minute resets it.
      const next = Date.now() - bornAt > 60_000 ? 1 : attempt + 1;
      const delay = Math.min(30_000, 500 * 2 ** (next - 1));
      console.error(`[cluster] рабочий процесс ${w.id} (pid ${w.process.pid}) завершился (${how}); новый через ${delay} мс`);
      const timer = setTimeout(() => { if (!stopping) fork(next); }, delay);
      timer.unref();
    });
  };
  for (let i = 0; i < workers; i++) fork(0);

  const stop = async (): Promise<boolean> => {
    stopping = true;
    const exits = [...live].map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', () => resolve());
      try { w.send({ channel: CHANNEL, type: 'stop' } satisfies ClusterMessage); } catch { w.process.kill('SIGTERM'); }
    }));
    await Promise.all(exits);
    await primary.close();
    return clean;
  };

  let url: string;
  try {
    url = await ready;
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
  return { url, workers, stop };
}
