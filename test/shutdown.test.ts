import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backends, freshDatabase, type FreshDatabase } from './helpers/backends.js';

/**
 * A clean stop of the real server process, started as a user starts it (`node dist/server/main.js`, NODE_ENV unset
 * or production, never `test`: Apollo installs its own signal handlers outside tests, which is how the stop used to
 * hang) and signalled as `docker compose stop` (SIGTERM) or Ctrl+C (SIGINT) would: idle, and with 32 clients
 * running (the requests in flight are answered); exit code 0 within 10 s; the next start on the same data works.
 * Needs `npm run build` (dist/server/main.js).
 */

const MAIN = path.resolve('dist/server/main.js');

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
  accounts: Map<string, string>;
}

function childEnv(db: FreshDatabase, nodeEnv: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0' };
  delete env.NODE_ENV;
  delete env.VITEST;
  delete env.DATABASE_URL;
  delete env.DATA_DIR;
  if (nodeEnv) env.NODE_ENV = nodeEnv;
  if (db.databaseUrl) env.DATABASE_URL = db.databaseUrl;
  else env.DATA_DIR = db.dataDir;
  return env;
}

async function start(db: FreshDatabase, nodeEnv: string | undefined): Promise<Server> {
  const child = spawn(process.execPath, [MAIN, '--demo', '--count', '120'], { env: childEnv(db, nodeEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 120 s:\n${out}`)), 120_000);
    const check = () => {
      const m = /МЦУ Hub работает: (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${out}`));
    });
  });
  const accounts = new Map<string, string>();
  for (const m of out.matchAll(/^ {2}(\S+)\s+(\S+) {2}[A-Z_]+/gm)) accounts.set(m[1], m[2]);
  return { child, url, output: () => out, accounts };
}

/** Sends the signal; resolves to the exit code and the time the process took to exit. */
function stop(server: Server, signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
    server.child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, ms: Date.now() - t0 });
    });
    server.child.kill(signal);
  });
}

async function signIn(server: Server, login: string): Promise<string> {
  const res = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url },
    body: JSON.stringify({ login, password: server.accounts.get(login) }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

const PAGE = `query { appeals(first: 50) { totalCount edges { node { id text district { name } theme { name } } } } districtStats { districts { district { name } count } } }`;

interface Outcome { started: number; ended: number; ok: boolean; error?: string }

/** 32 clients asking GraphQL in a loop until `until` says stop; every request's outcome. */
function load(server: Server, token: string, clients: number, stopAt: () => boolean, outcomes: Outcome[] = []): Promise<Outcome[]> {
  const one = async () => {
    while (!stopAt()) {
      const started = Date.now();
      try {
        const res = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: PAGE }),
        });
        const body = (await res.json()) as { data?: { appeals?: { totalCount: number } }; errors?: unknown[] };
        const ok = res.status === 200 && !body.errors && body.data?.appeals?.totalCount === 120;
        outcomes.push({ started, ended: Date.now(), ok, error: ok ? undefined : `${res.status} ${JSON.stringify(body).slice(0, 300)}` });
      } catch (e) {
        // Refused: the server no longer accepts (after the signal); recorded, the client stops.
        outcomes.push({ started, ended: Date.now(), ok: false, error: String((e as Error).cause ?? e) });
        return;
      }
    }
  };
  return Promise.all(Array.from({ length: clients }, one)).then(() => outcomes);
}

for (const backend of backends) {
  describe(`clean stop of the server process (${backend})`, () => {
    const dbs: FreshDatabase[] = [];
    afterAll(async () => {
      for (const db of dbs) await db.drop();
    });

    for (const nodeEnv of [undefined, 'production']) {
      it(`NODE_ENV=${nodeEnv ?? '(unset)'}: stops idle and under 32 clients, exit 0 within 10 s, and starts again on the same data`, { timeout: 240_000 }, async () => {
        const db = await freshDatabase(backend);
        dbs.push(db);
        // Idle: SIGINT when NODE_ENV is unset (Ctrl+C in a terminal), SIGTERM in production (docker compose stop).
        const idle = await start(db, nodeEnv);
        const idleStop = await stop(idle, nodeEnv ? 'SIGTERM' : 'SIGINT');
        expect(idleStop, idle.output()).toMatchObject({ code: 0, signal: null });
        expect(idleStop.ms).toBeLessThan(10_000);
        expect(idle.output()).toMatch(/Остановлено за \d+ мс/);
        if (db.dataDir) expect(fs.existsSync(path.join(db.dataDir, 'mcu-embedded.lock'))).toBe(false);

        // Under load: the second start on the same data works; 32 clients run, then SIGTERM.
        const busy = await start(db, nodeEnv);
        const token = await signIn(busy, 'curator');
        let signalledAt = 0;
        const seen: Outcome[] = [];
        const running = load(busy, token, 32, () => signalledAt > 0, seen);
        // At least 1.5 s of load and more answers than clients (on a busy machine that takes longer), at most 60 s.
        const loadStart = Date.now();
        while (Date.now() - loadStart < 60_000 && (Date.now() - loadStart < 1500 || seen.filter((o) => o.ok).length <= 32)) {
          await new Promise((r) => setTimeout(r, 100));
        }
        signalledAt = Date.now();
        const busyStop = await stop(busy, 'SIGTERM');
        const outcomes = await running;
        expect(busyStop, busy.output()).toMatchObject({ code: 0, signal: null });
        expect(busyStop.ms).toBeLessThan(10_000);
        const answered = outcomes.filter((o) => o.ok);
        // Real work ran, and requests were in flight when the signal came; they were answered, not cut.
        expect(answered.length).toBeGreaterThan(32);
        const inFlight = outcomes.filter((o) => o.started < signalledAt - 20 && o.ended >= signalledAt);
        expect(inFlight.length).toBeGreaterThan(0);
        expect(inFlight.filter((o) => !o.ok)).toEqual([]);
        // No request got an error answer: each one either completed or was refused a connection after the stop began.
        expect(outcomes.filter((o) => !o.ok && !(o.started >= signalledAt - 20))).toEqual([]);
        if (db.dataDir) expect(fs.existsSync(path.join(db.dataDir, 'mcu-embedded.lock'))).toBe(false);

        // And once more: the data folder (or database) is free and intact.
        const again = await start(db, nodeEnv);
        const res = await fetch(`${again.url}/healthz`);
        expect(res.status).toBe(200);
        expect((await stop(again, 'SIGTERM')).code).toBe(0);
      });
    }
  });
}
