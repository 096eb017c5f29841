import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../server/reference/files.js';
import type { ClientJob, ClientResult } from './client.js';
import { percentile } from './lib.js';

/** A server process of the benchmark (the hub as deployed, or the peer), stopped with stopServer. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  log: string[];
}

/** Starts `node <script>` and waits for the line matching `ready` (its first group is the URL). */
export async function startServer(script: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 180_000): Promise<ServerProcess> {
  const log: string[] = [];
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start in ${timeoutMs / 1000} s: ${log.join('').slice(-2000)}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      log.push(d.toString());
      const m = ready.exec(log.join(''));
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${path.basename(script)} exited (${code}): ${log.join('').slice(-2000)}`)); });
  });
  return { child, url, log };
}

/** The hub as deployed: `node dist/server/main.js`, production mode, rate limits off (all clients are one account). */
export function startHub(databaseUrl: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  return startServer(path.join(repoRoot(), 'dist', 'server', 'main.js'), [], {
    ...process.env, DATABASE_URL: databaseUrl, NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0',
    EXPENSIVE_PER_USER: '0', ...extraEnv,
  }, /работает: (http:\/\/[0-9.:]+)/);
}

export async function stopServer(s: ServerProcess): Promise<void> {
  if (s.child.exitCode != null || s.child.signalCode != null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const killer = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
}

/** The load client in its own process (bench/client.ts), one job. */
export async function runClient(job: ClientJob): Promise<ClientResult & { kinds: string[] }> {
  const child = fork(path.join(repoRoot(), 'dist', 'bench', 'client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    return await new Promise((resolve, reject) => {
      child.once('message', (m: ClientResult & { kinds: string[]; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m)));
      child.once('exit', (code) => reject(new Error(`bench client exited (${code})`)));
      child.send(job);
    });
  } finally {
    child.disconnect();
  }
}

export interface KindFigures { kind: string; n: number; rps: number; p50: number; p95: number; p99: number; errors: number }

/** Per-kind and overall figures of a client result. */
export function figures(r: ClientResult & { kinds: string[] }): { all: KindFigures; perKind: KindFigures[] } {
  const byKind = new Map<number, { ms: number[]; errors: number }>();
  const allMs: number[] = [];
  let errors = 0;
  for (let i = 0; i < r.samples.length; i += 3) {
    const k = r.samples[i], ms = r.samples[i + 1], ok = r.samples[i + 2] === 1;
    let e = byKind.get(k);
    if (!e) { e = { ms: [], errors: 0 }; byKind.set(k, e); }
    e.ms.push(ms);
    allMs.push(ms);
    if (!ok) { e.errors++; errors++; }
  }
  const fig = (kind: string, ms: number[], err: number): KindFigures => ({
    kind, n: ms.length, rps: ms.length / r.elapsed, p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99), errors: err,
  });
  return {
    all: fig('all', allMs, errors),
    perKind: [...byKind.entries()].map(([k, e]) => fig(r.kinds[k] || String(k), e.ms, e.errors)).sort((a, b) => a.kind.localeCompare(b.kind)),
  };
}

/** CPU time (user + system, ms) a process has used so far (Linux /proc; 0 elsewhere). */
export function cpuMs(pid: number | undefined): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** CPU time (ms) of a process and its live children (a cluster's primary and its workers; Linux /proc). */
export function treeCpuMs(pid: number | undefined): number {
  if (pid == null) return 0;
  let total = cpuMs(pid);
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += cpuMs(Number(d));
    } catch {
      // gone
    }
  }
  return total;
}

/** CPU time (ms) of all PostgreSQL backend processes on this machine (Linux /proc; the database runs here). */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
      total += cpuMs(Number(pid));
    } catch {
      // gone
    }
  }
  return total;
}
