import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../server/app.js';
import { backends, freshDatabase, postgisUrl, templateDir } from './helpers/backends.js';
import { startTestApp } from './helpers/app.js';
import { bearer, post, upload } from './hostile-support.js';

/**
 * Faults: the database restarting under load (a private PostgreSQL instance, crashed with
 * `pg_ctl stop -m immediate` and started again), the embedded server killed with SIGKILL while
 * it acknowledges writes, the server killed during an import, and backup/restore of both backends.
 * Invariants: /healthz says when the database is gone and recovers by itself; no write that was
 * acknowledged is lost; a re-run import completes with exact counts; a restored backup is the same data.
 */

const PGBIN = '/usr/lib/postgresql/15/bin';
const root = path.resolve(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A PostgreSQL 15 of our own in a temporary folder (the shared one on 5432 is never touched). */
class PrivatePostgres {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-pg-'));
  port = 0;
  private readonly root = process.getuid?.() === 0;

  private run(bin: string, args: string[]) {
    const cmd = this.root ? ['runuser', ['-u', 'postgres', '--', path.join(PGBIN, bin), ...args]] as const : [path.join(PGBIN, bin), args] as const;
    return execFileSync(cmd[0], cmd[1], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  async init() {
    if (this.root) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      fs.chownSync(this.dir, uid, gid);
    }
    this.port = await freePort();
    this.run('initdb', ['-D', path.join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  }

  start() {
    this.run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'log'), '-w', '-t', '60',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=on`, 'start']);
  }

  /** `immediate`: a crash (no checkpoint; recovery from WAL on the next start). */
  stop(mode: 'fast' | 'immediate' = 'fast') {
    this.run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', mode, '-w', '-t', '60', 'stop']);
  }

  url(db = 'postgres') {
    return `postgres://postgres@127.0.0.1:${this.port}/${db}`;
  }

  destroy() {
    try {
      this.stop('immediate');
    } catch {
      // already stopped
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function health(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

async function until(what: string, cond: () => Promise<boolean>, ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/**
 * Clients that keep changing appeals' themes, each change with a unique comment; `acked` are the
 * comments of the changes the server confirmed. Answers during an outage must be errors without internals.
 */
function writers(url: string, headers: Record<string, string>, appealIds: number[], themeIds: number[], clients = 4) {
  const acked: { appealId: number; comment: string }[] = [];
  const failures: string[] = [];
  let stop = false;
  let n = 0;
  const loops = Array.from({ length: clients }, async (_, c) => {
    while (!stop) {
      const k = n++;
      const appealId = appealIds[(k * 7 + c) % appealIds.length];
      const comment = `fault-${c}-${k}`;
      try {
        const r = await post(url, {
          query: 'mutation($id: ID!, $t: ID!, $c: String) { reclassifyAppeal(id: $id, themeId: $t, comment: $c) { id } }',
          variables: { id: String(appealId), t: String(themeIds[k % themeIds.length]), c: comment },
        }, headers);
        if (!r.body.errors && r.body.data?.reclassifyAppeal?.id === String(appealId)) acked.push({ appealId, comment });
        else {
          failures.push(JSON.stringify(r.body).slice(0, 300));
          await sleep(50);
        }
      } catch (e) {
        failures.push(String(e));
        await sleep(50);
      }
    }
  });
  return { acked, failures, async stop() { stop = true; await Promise.all(loops); } };
}

async function storedComments(sql: (q: string) => Promise<{ comment: string }[]>): Promise<Map<string, number>> {
  const rows = await sql(`SELECT comment FROM appeal_event WHERE comment LIKE 'fault-%'`);
  const m = new Map<string, number>();
  for (const r of rows) m.set(r.comment, (m.get(r.comment) ?? 0) + 1);
  return m;
}

async function refs(app: App) {
  const em = app.orm.em.fork();
  const themes = (await em.execute('SELECT id FROM theme WHERE is_leaf ORDER BY id LIMIT 6')).map((r: { id: number }) => r.id);
  const appeals = (await em.execute('SELECT id FROM appeal ORDER BY id LIMIT 120')).map((r: { id: number }) => r.id);
  return { themes, appeals };
}

describe('the database restarting under load (private PostgreSQL + PostGIS)', () => {
  const pgi = new PrivatePostgres();
  afterAll(() => pgi.destroy());

  it('/healthz reports it, the server recovers by itself, no acknowledged write is lost', { timeout: 300_000 }, async () => {
    await pgi.init();
    pgi.start();
    const admin = new pg.Client({ connectionString: pgi.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE mcu_fault');
    await admin.end();
    const app = await startApp({ databaseUrl: pgi.url('mcu_fault'), port: 0, host: '127.0.0.1', demo: { count: 300, seed: 3 }, log: () => undefined, limits: { healthTimeoutMs: 1000, rateLimitPerMinute: 0 } });
    try {
      const headers = await bearer(app);
      const { themes, appeals } = await refs(app);
      expect(await health(app.url)).toBe(200);
      const w = writers(app.url, headers, appeals, themes);
      await until('writes acknowledged before the crash', async () => w.acked.length >= 20, 60_000);

      pgi.stop('immediate'); // a crash: every connection is cut, recovery from WAL on start
      const crashedAt = w.acked.length;
      await until('/healthz → 503', async () => (await health(app.url)) === 503, 20_000);
      await sleep(1500);
      expect(await health(app.url)).toBe(503);
      pgi.start();
      await until('/healthz → 200 again without restarting the app', async () => (await health(app.url)) === 200, 60_000);
      const recoveredAt = w.acked.length;
      await until('writes acknowledged after recovery', async () => w.acked.length >= recoveredAt + 20, 60_000);
      await w.stop();

      expect(crashedAt).toBeGreaterThan(0);
      expect(w.failures.length).toBeGreaterThan(0); // the outage was seen by the clients…
      for (const f of w.failures) expect(f).not.toMatch(/ECONNREFUSED|terminating connection|SELECT|UPDATE|INSERT|stacktrace/); // …without internals
      const stored = await storedComments((q) => app.orm.em.fork().execute(q));
      const lost = w.acked.filter((a) => !stored.has(a.comment));
      expect(lost, `acknowledged but lost: ${lost.map((l) => l.comment).join(', ')}`).toEqual([]);
      expect([...stored.values()].every((c) => c === 1)).toBe(true);
    } finally {
      await app.close();
    }
  });
});

/** The server as a process of its own (dist/server/main.js), demo mode for its accounts. */
async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; password: string; log: string[] }> {
  const log: string[] = [];
  const child = spawn(process.execPath, [path.join(root, 'dist/server/main.js'), '--demo', '--count', '200', '--seed', '5'], {
    env: { ...process.env, DATABASE_URL: '', PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = await new Promise<{ url: string; password: string }>((resolve, reject) => {
    const text = () => log.join('');
    child.stdout!.on('data', (d: Buffer) => {
      log.push(d.toString());
      const u = /работает: (http:\/\/[0-9.:]+)/.exec(text());
      const p = /^\s+curator\s+(\S+)\s+CURATOR/m.exec(text());
      if (u && p) resolve({ url: u[1], password: p[1] });
    });
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}): ${text().slice(-3000)}`)));
  });
  return { child, log, ...started };
}

async function kill9(child: ChildProcess) {
  child.kill('SIGKILL');
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
}

async function stopServer(child: ChildProcess) {
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
}

async function signIn(url: string, password: string): Promise<Record<string, string>> {
  const r = await post(url, { query: 'mutation($p: String!) { signIn(login: "curator", password: $p) { token } }', variables: { p: password } });
  if (!r.body.data?.signIn?.token) throw new Error(`sign-in failed: ${JSON.stringify(r.body)}`);
  return { authorization: `Bearer ${r.body.data.signIn.token}` };
}

function embeddedDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-fault-'));
  fs.rmSync(dir, { recursive: true });
  fs.cpSync(templateDir, dir, { recursive: true });
  return dir;
}

async function embeddedSql<T>(dir: string, fn: (sql: (q: string) => Promise<any[]>) => Promise<T>): Promise<T> {
  const app = await startTestApp('embedded', 0, dir);
  try {
    return await fn((q) => app.orm.em.fork().execute(q));
  } finally {
    await app.close();
  }
}

describe('the embedded server killed with SIGKILL', () => {
  it('loses no acknowledged write: restarted on the same data folder, every confirmed change is there', { timeout: 600_000 }, async () => {
    const dir = embeddedDir();
    try {
      let s = await startServer({ DATA_DIR: dir });
      try {
        const headers = await signIn(s.url, s.password);
        const { themes, appeals } = await embeddedRefs(s.url, headers);
        const w = writers(s.url, headers, appeals, themes, 3);
        await until('writes acknowledged', async () => w.acked.length >= 40, 120_000);
        await kill9(s.child); // while writes are in flight
        await w.stop();
        s = await startServer({ DATA_DIR: dir });
        const again = await signIn(s.url, s.password);
        expect((await post(s.url, { query: '{ appeals(first: 1) { totalCount } }' }, again)).body.data.appeals.totalCount).toBe(200);
        await stopServer(s.child);
        const stored = await embeddedSql(dir, (sql) => storedComments(sql as never));
        const lost = w.acked.filter((a) => !stored.has(a.comment));
        expect(w.acked.length).toBeGreaterThanOrEqual(40);
        expect(lost, `acknowledged but lost: ${lost.map((l) => l.comment).join(', ')}`).toEqual([]);
      } finally {
        if (s.child.exitCode === null && s.child.signalCode === null) await kill9(s.child);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

});

describe.each(backends)('the server killed with SIGKILL during an upload import on %s', (backend) => {
  it('the same upload again completes with exact counts', { timeout: 600_000 }, async () => {
    const db = backend === 'embedded' ? { dataDir: embeddedDir(), drop: async () => undefined } : await freshDatabase('postgis');
    const serverEnv: Record<string, string> = db.dataDir ? { DATA_DIR: db.dataDir } : { DATABASE_URL: db.databaseUrl! };
    const countRows = async () => {
      const q = `SELECT count(*)::int AS n, count(DISTINCT external_id)::int AS d FROM appeal WHERE external_id LIKE 'S-%'`;
      if (db.dataDir) return (await embeddedSql(db.dataDir, (sql) => sql(q)))[0];
      const c = new pg.Client({ connectionString: db.databaseUrl });
      await c.connect();
      try {
        return (await c.query(q)).rows[0];
      } finally {
        await c.end();
      }
    };
    const n = 6000; // six chunks of 1 000
    const t0 = Date.now();
    const step = (what: string) => process.env.DEBUG_FAULTS && console.log(`[faults ${backend}] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    const header = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';
    const rows = Array.from({ length: n }, (_, i) => `S-${i};${String(1 + (i % 28)).padStart(2, '0')}.03.2026 10:00;ВКонтакте;;Не вывозят мусор во дворе, контейнер ${i};Житель;Мусор;пр. Ленина, ${1 + (i % 150)};Новый;;`);
    const file = { name: 'im-export.csv', content: [header, ...rows].join('\n') };
    const mutation = 'mutation($file: Upload!) { importAppeals(file: $file, channel: INCIDENT_MANAGEMENT) { status read inserted updated unchanged rejected } }';
    try {
      let s = await startServer(serverEnv);
      try {
        const headers = await signIn(s.url, s.password);
        step('server up');
        const pending = upload(s.url, mutation, {}, file, headers).catch((e) => e);
        // Kill as soon as the first chunk is committed.
        await until('first chunk committed', async () => {
          const r = await post(s.url, { query: '{ importBatches(first: 1) { read inserted status } }' }, headers).catch(() => null);
          return (r?.body.data?.importBatches?.[0]?.inserted ?? 0) >= 1000;
        }, 120_000);
        await kill9(s.child);
        step('killed');
        expect(await pending).toBeInstanceOf(Error); // the client never got an answer
        s = await startServer(serverEnv);
        step('restarted');
        const again = await signIn(s.url, s.password);
        const r = await upload(s.url, mutation, {}, file, again);
        step('re-imported');
        const rep = r.body.data.importAppeals;
        expect(rep).toMatchObject({ status: 'DONE', read: n, updated: 0, rejected: 0 });
        expect(rep.unchanged).toBeGreaterThan(0);
        expect(rep.unchanged % 1000).toBe(0); // whole chunks only
        expect(rep.inserted + rep.unchanged).toBe(n);
        await stopServer(s.child);
        step('stopped');
        expect(await countRows()).toEqual({ n, d: n });
      } finally {
        if (s.child.exitCode === null && s.child.signalCode === null) await kill9(s.child);
      }
    } finally {
      if (db.dataDir) fs.rmSync(db.dataDir, { recursive: true, force: true });
      await db.drop();
    }
  });
});

async function embeddedRefs(url: string, headers: Record<string, string>) {
  const t = await post(url, { query: '{ themes { id isLeaf } appeals(first: 120) { edges { node { id } } } }' }, headers);
  return {
    themes: t.body.data.themes.filter((x: { isLeaf: boolean }) => x.isLeaf).slice(0, 6).map((x: { id: string }) => Number(x.id)),
    appeals: t.body.data.appeals.edges.map((e: { node: { id: string } }) => Number(e.node.id)),
  };
}

/** Everything a backup must carry, as one comparable value. */
async function fingerprint(sql: (q: string) => Promise<any[]>) {
  const [r] = await sql(`SELECT
      (SELECT count(*) FROM appeal)::int AS appeals,
      (SELECT md5(string_agg(id || status || coalesce(theme_id, 0) || md5(text) || coalesce(ST_AsText(point), ''), ',' ORDER BY id)) FROM appeal) AS appeal_rows,
      (SELECT count(*) FROM appeal_event)::int AS events,
      (SELECT md5(string_agg(id || kind || coalesce(comment, ''), ',' ORDER BY id)) FROM appeal_event) AS event_rows,
      (SELECT md5(string_agg(id || code || md5(ST_AsBinary(geom)::text), ',' ORDER BY id)) FROM district) AS districts,
      (SELECT md5(string_agg(login || role || password_hash, ',' ORDER BY id)) FROM app_user) AS users,
      (SELECT count(*) FROM heat_cell)::int AS heat_cells`);
  return r;
}

describe.each(backends)('backup and restore on %s', (backend) => {
  it('a restored backup is the same data and serves the same answers', { timeout: 300_000 }, async () => {
    if (backend === 'postgis') {
      const app = await startTestApp('postgis', 200);
      const dump = path.join(os.tmpdir(), `mcu-${process.pid}.dump`);
      const restored = `mcu_restore_${process.pid}`;
      try {
        const headers = await bearer(app);
        const { themes, appeals } = await refs(app);
        const w = writers(app.url, headers, appeals, themes, 2);
        await until('some changes', async () => w.acked.length >= 10, 60_000);
        await w.stop();
        const before = await fingerprint((q) => app.orm.em.fork().execute(q));
        // The documented commands: pg_dump -Fc, then pg_restore into an empty database.
        execFileSync('pg_dump', ['-Fc', '-f', dump, app.databaseUrl]);
        const admin = new pg.Client({ connectionString: postgisUrl });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${restored}`);
        await admin.end();
        const u = new URL(postgisUrl);
        u.pathname = `/${restored}`;
        execFileSync('pg_restore', ['--no-owner', '-d', u.toString(), dump]);
        const copy = await startApp({ databaseUrl: u.toString(), port: 0, host: '127.0.0.1', log: () => undefined });
        try {
          expect(await fingerprint((q) => copy.orm.em.fork().execute(q))).toEqual(before);
          // The same session token works against the restored database (sessions are data too).
          const page = await post(copy.url, { query: '{ appeals(first: 3) { totalCount edges { node { id text } } } }' }, headers);
          expect(page.body.data.appeals.totalCount).toBe(before.appeals);
        } finally {
          await copy.close();
        }
      } finally {
        await app.close();
        fs.rmSync(dump, { force: true });
        const admin = new pg.Client({ connectionString: postgisUrl });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${restored} WITH (FORCE)`);
        await admin.end();
      }
      return;
    }
    // Embedded: stop the server, copy the data folder; the copy starts as the same database.
    const dir = embeddedDir();
    const backup = `${dir}-backup`;
    try {
      const app = await startTestApp('embedded', 300, dir);
      let before;
      try {
        const headers = await bearer(app);
        const { themes, appeals } = await refs(app);
        const w = writers(app.url, headers, appeals, themes, 2);
        await until('some changes', async () => w.acked.length >= 10, 60_000);
        await w.stop();
        before = await fingerprint((q) => app.orm.em.fork().execute(q));
      } finally {
        await app.close();
      }
      fs.cpSync(dir, backup, { recursive: true });
      // Later changes to the live folder do not touch the backup.
      // (startApp itself: the test helper would add its own signed-in account to the data)
      const live = await startApp({ dataDir: dir, port: 0, host: '127.0.0.1', log: () => undefined });
      try {
        await live.orm.em.fork().execute(`UPDATE appeal SET status = 'CLOSED' WHERE id <= 50`);
      } finally {
        await live.close();
      }
      const restoredApp = await startApp({ dataDir: backup, port: 0, host: '127.0.0.1', log: () => undefined });
      try {
        expect(await fingerprint((q) => restoredApp.orm.em.fork().execute(q))).toEqual(before);
      } finally {
        await restoredApp.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(backup, { recursive: true, force: true });
    }
  });
});
