import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { postgisMinimal } from './postgis-bundle.js';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The embedded backend: PGlite with PostGIS, its data in a folder, served on a
 * loopback port so that `pg` and MikroORM talk to it exactly as to a server.
 *
 * PGlite is one Postgres session. pglite-socket multiplexes connections message by
 * message, which is safe only while one connection at a time speaks the extended
 * protocol; the application therefore uses a pool of ONE connection on this backend.
 */
export interface EmbeddedDatabase {
  url: string;
  db: PGlite;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  port?: number;
  /**
   * Postgres settings given at start (`-c name=value`). The web application keeps PGlite's defaults;
   * the command-line tools pass BATCH_SETTINGS to stay small.
   */
  settings?: Record<string, string>;
}

/**
 * Settings for a short-lived command in the embedded backend (import, migrate). PGlite's WebAssembly memory only
 * ever grows, and Postgres touches all of shared_buffers as the buffer pool fills (128 MB by default, reached
 * after some tens of thousands of imported rows); pages that miss 16 MB of buffers are read through the OS page
 * cache, which costs the import little.
 */
export const BATCH_SETTINGS: Record<string, string> = {
  shared_buffers: '16MB',
};

/** The database in a data folder is in use by another process (the message is for the user, in Russian). */
export class DataDirInUseError extends Error {
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`папка данных ${dataDir} уже используется другим процессом (pid ${pid}) — дождитесь его завершения или остановите его`);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * One process at a time per data folder: PGlite is a single-user Postgres with no lock of its own, and two
 * processes writing the same files (the web application and an import, say) would corrupt the database.
 * The lock is a file with the owner's pid; a lock whose process is gone (killed) is taken over. A live owner
 * is waited for up to `waitMs` (a database process that is closing after its command was killed), then
 * DataDirInUseError. Returns the release function.
 */
export async function lockDataDir(dataDir: string, waitMs = 15_000): Promise<() => void> {
  const file = path.join(dataDir, 'mcu-embedded.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let pid = NaN;
      try {
        pid = Number(fs.readFileSync(file, 'utf8').trim());
      } catch {
        continue; // released meanwhile
      }
      if (!(Number.isInteger(pid) && pid > 0 && alive(pid))) {
        fs.rmSync(file, { force: true }); // stale: its process is gone
        continue;
      }
      if (Date.now() >= deadline) throw new DataDirInUseError(dataDir, pid);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const release = () => {
    process.off('exit', release);
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return release;
}

export async function startEmbedded(dataDir: string, opts: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  fs.mkdirSync(dataDir, { recursive: true });
  const unlock = await lockDataDir(dataDir);
  try {
    const startParams = [...PGlite.defaultStartParams, ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const db = await PGlite.create({ dataDir, extensions: { postgis: postgisMinimal }, startParams });
    await db.exec('CREATE EXTENSION IF NOT EXISTS postgis;');
    // PGlite 0.5.8 keeps the unpacked extension bundles referenced from its module after they were copied into its
    // file system (a Blob of 37 MB for PostGIS when it comes as a bundle; postgis-bundle.ts now serves its files
    // from disk, but the full bundle is still the fallback); drop the reference so that the memory is reused.
    const mod = (db as unknown as { mod?: { pg_extensions?: unknown } }).mod;
    if (mod && 'pg_extensions' in mod) delete mod.pg_extensions;
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: opts.port ?? 0, maxConnections: 16 });
    await server.start();
    const url = `postgres://postgres:postgres@${server.getServerConn()}/postgres`;
    let stopped = false;
    return {
      url,
      db,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await server.stop();
          await db.close();
        } finally {
          unlock();
        }
      },
    };
  } catch (e) {
    unlock();
    throw e;
  }
}
