import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backends, freshDatabase, type FreshDatabase } from './helpers/backends.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

/**
 * Clean stop under a load that keeps heavy work queued (issue 17, "many users at once"): the real server process
 * (`node dist/server/main.js`, NODE_ENV=production) with one heavy slot (HEAVY_CONCURRENCY=1) and no aggregate cache,
 * 32 clients — half asking heavy questions (GeoJSON, district statistics) that wait in the admission queue, half
 * cheap pages — then SIGTERM: every request in flight (also those still waiting for a heavy slot) is answered, no
 * request gets an error, and the process exits with code 0 within 10 s. On PostGIS also in cluster mode
 * (WEB_CONCURRENCY=2, server/cluster.ts): the signal goes to the primary, and both workers drain. Needs `npm run build`.
 */

const HEAVY = `query { appealsGeoJSON(limit: 100) districtStats(filter: { from: "2024-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z" }) { districts { count } } }`;
const CHEAP = `query { appeals(first: 50) { totalCount edges { node { id text district { name } theme { name } } } } }`;

type Server = ServerProcess;

function start(db: FreshDatabase, extra: NodeJS.ProcessEnv = {}): Promise<Server> {
  return startServerProcess(db, { env: { RATE_LIMIT_PER_MINUTE: '0', EXPENSIVE_PER_USER: '0', NODE_ENV: 'production', HEAVY_CONCURRENCY: '1', AGGREGATE_CACHE_ENTRIES: '0', ...extra }, count: 300, timeoutMs: 150_000 });
}

interface Outcome { heavy: boolean; started: number; ended: number; ok: boolean; error?: string }

// Cluster mode needs a real PostgreSQL (the embedded database serves one process).
const cases = backends.flatMap((backend) => backend === 'postgis'
  ? [{ backend, workers: 1 }, { backend, workers: 2 }]
  : [{ backend, workers: 1 }]);

for (const { backend, workers } of cases) {
  const name = workers > 1 ? `${backend}, WEB_CONCURRENCY=${workers}` : backend;
  describe(`clean stop under load with heavy work queued (${name})`, () => {
    let db: FreshDatabase | undefined;
    afterAll(async () => { await db?.drop(); });

    it('SIGTERM with 32 clients (half heavy, queued for one slot): all in-flight requests answered, exit 0 within 10 s', async () => {
      db = await freshDatabase(backend);
      // HEAVY_CONCURRENCY=2 in cluster mode: one heavy slot in each worker.
      const server = await start(db, workers > 1 ? { WEB_CONCURRENCY: String(workers), HEAVY_CONCURRENCY: String(workers) } : {});
      if (workers > 1) expect(server.output()).toMatch(new RegExp(`процессов HTTP: ${workers}`));
      const login = await fetch(`${server.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url },
        body: JSON.stringify({ login: 'curator', password: server.accounts.get('curator') }) });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      let signalledAt = 0;
      const outcomes: Outcome[] = [];
      const client = async (heavy: boolean) => {
        while (!signalledAt) {
          const started = Date.now();
          try {
            const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({ query: heavy ? HEAVY : CHEAP }) });
            const body = (await res.json()) as { errors?: unknown[] };
            const ok = res.status === 200 && !body.errors;
            outcomes.push({ heavy, started, ended: Date.now(), ok, error: ok ? undefined : `${res.status} ${JSON.stringify(body).slice(0, 300)}` });
          } catch (e) {
            outcomes.push({ heavy, started, ended: Date.now(), ok: false, error: String((e as Error).cause ?? e) });
            return;
          }
        }
      };
      const running = Promise.all(Array.from({ length: 32 }, (_, i) => client(i % 2 === 0)));
      await new Promise((r) => setTimeout(r, 2000));
      signalledAt = Date.now();
      const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
        const killer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
        server.child.once('exit', (code) => { clearTimeout(killer); resolve({ code, ms: Date.now() - signalledAt }); });
      });
      server.child.kill('SIGTERM');
      const stop = await exited;
      await running;
      expect(stop.code, server.output().slice(-3000)).toBe(0);
      expect(stop.ms).toBeLessThan(10_000);
      // Every worker drained and stopped (the primary after them).
      if (workers > 1) expect(server.output().match(/\[рабочий процесс \d+\] Остановлено за/g)?.length).toBe(workers);
      // Heavy and cheap work both ran before the signal.
      expect(outcomes.filter((o) => o.ok && o.heavy).length).toBeGreaterThan(0);
      expect(outcomes.filter((o) => o.ok && !o.heavy).length).toBeGreaterThan(0);
      // Requests in flight at the signal (heavy ones among them, queued for the one slot) were answered.
      const inFlight = outcomes.filter((o) => o.started < signalledAt - 20 && o.ended >= signalledAt);
      expect(inFlight.filter((o) => o.heavy).length).toBeGreaterThan(0);
      expect(inFlight.filter((o) => !o.ok)).toEqual([]);
      // No request started before the stop got an error; later ones were refused a connection, not answered wrongly.
      expect(outcomes.filter((o) => !o.ok && o.started < signalledAt - 20)).toEqual([]);
      if (db.dataDir) expect(fs.existsSync(path.join(db.dataDir, 'mcu-embedded.lock'))).toBe(false);
    }, 240_000);
  });
}
