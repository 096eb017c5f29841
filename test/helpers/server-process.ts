import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { FreshDatabase } from './backends.js';

/** The built server as a user starts it (`node dist/server/main.js --demo --count N`); needs `npm run build`. */
export const MAIN = path.resolve('dist/server/main.js');

export interface ServerProcess { child: ChildProcess; url: string; output: () => string; accounts: Map<string, string> }

/**
 * Starts the real server process on a test database: PORT 0 on loopback, the test runner's own DATABASE_URL, DATA_DIR,
 * NODE_ENV and VITEST removed, then `env` applied (a value `undefined` removes a variable). Resolves once the server
 * prints its address; the demo accounts it prints are returned by login.
 */
export async function startServerProcess(db: FreshDatabase, o: { env?: NodeJS.ProcessEnv; count: number; timeoutMs: number }): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  for (const k of ['VITEST', 'DATABASE_URL', 'DATA_DIR', 'NODE_ENV']) delete env[k];
  for (const [k, v] of Object.entries(o.env ?? {})) if (v === undefined) delete env[k]; else env[k] = v;
  if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
  else env.DATA_DIR = db.dataDir;
  const child = spawn(process.execPath, [MAIN, '--demo', '--count', String(o.count)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in ${o.timeoutMs / 1000} s:\n${out}`)), o.timeoutMs);
    child.stdout!.on('data', () => {
      const m = /МЦУ Hub работает: (http:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited with ${code}:\n${out}`)); });
  });
  const accounts = new Map<string, string>();
  for (const m of out.matchAll(/^ {2}(\S+)\s+(\S+) {2}[A-Z_]+/gm)) accounts.set(m[1], m[2]);
  return { child, url, output: () => out, accounts };
}
