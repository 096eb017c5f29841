import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The embedded database served by a child process (embedded-server.ts); the command connects to `url`. */
export interface EmbeddedProcess {
  url: string;
  pid: number;
  /** Closes the database and waits for the process to exit; resolves to its peak RSS in KB (null if unknown). */
  stop(): Promise<number | null>;
}

/**
 * Starts the embedded database of `dataDir` in a child process. The child dies with this process (it closes the
 * database when the IPC channel closes, which happens even on kill -9 of this process), and the data folder is
 * locked by the child (DataDirInUseError's message comes back as the error).
 */
export function spawnEmbedded(dataDir: string, settings?: Record<string, string>): Promise<EmbeddedProcess> {
  const script = fileURLToPath(new URL('./embedded-server.js', import.meta.url));
  const child = fork(script, [dataDir, JSON.stringify(settings ?? {})], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    // Memory of the database process (100 000-row import, peak RSS of the process):
    // - Liftoff (baseline) code only, compiled lazily: V8 otherwise also compiles hot PGlite/PostGIS functions with
    //   TurboFan, whose code stays resident (~100 MB more: 495 vs 392 MB on 20 000 rows) for no gain in total CPU time
    //   on imports of this size (29.7 vs 27.2 s of the database process's CPU);
    // - a small young generation, and gc exposed for embedded-server.ts, which collects when dead protocol buffers
    //   pile up (V8 lets up to ~64 MB of external memory accumulate before it collects).
    // MCU_EMBEDDED_NODE_ARGS: other V8/Node flags for the database process (space-separated; later flags win,
    // e.g. --no-liftoff-only).
    execArgv: ['--liftoff-only', '--wasm-lazy-compilation', '--max-semi-space-size=4', '--expose-gc',
      ...(process.env.MCU_EMBEDDED_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`процесс встроенной базы данных завершился при запуске (${signal ?? `код ${code}`})`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', function onStart(m: { type?: string; url?: string; message?: string }) {
      if (m?.type === 'failed') {
        child.off('message', onStart);
        child.off('exit', onExit);
        reject(new Error(m.message));
      } else if (m?.type === 'ready') {
        child.off('message', onStart);
        child.off('exit', onExit);
        let stopping: Promise<number | null> | undefined;
        resolve({
          url: m.url!,
          pid: child.pid!,
          stop: () =>
            (stopping ??= new Promise<number | null>((done) => {
              let peak: number | null = null;
              child.on('message', (r: { type?: string; maxRssKb?: number }) => {
                if (r?.type === 'stopped') peak = r.maxRssKb ?? null;
              });
              void exited.then(() => done(peak));
              if (child.connected) child.send({ type: 'stop' });
              else if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            })),
        });
      }
    });
  });
}
