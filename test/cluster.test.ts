import fs from 'node:fs';
import http from 'node:http';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { backends, freshDatabase, type FreshDatabase } from './helpers/backends.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { loadDatabaseSettings, loadLimits, webConcurrency, workerShare } from '../server/config.js';

/**
 * Cluster mode (WEB_CONCURRENCY, server/cluster.ts) on the real server process (`node dist/server/main.js`): with a
 * real PostgreSQL two workers serve one port, the one-time start-up work runs once, and what one worker does holds in
 * the other — a sign-out, the rate limits (not doubled), the failed sign-ins of an address, a committed change of the
 * data — and a worker that dies is replaced, the import it was running marked INTERRUPTED by the primary. Every
 * request goes on a new connection: the primary hands connections to the workers in turn, so consecutive requests
 * reach both. The embedded database stays one process. Needs `npm run build`.
 */


type Server = ServerProcess;

function start(db: FreshDatabase, extra: NodeJS.ProcessEnv): Promise<Server> {
  return startServerProcess(db, { env: { NODE_ENV: 'production', ...extra }, count: 200, timeoutMs: 180_000 });
}

async function stop(s: Server): Promise<{ code: number | null; ms: number }> {
  const t = Date.now();
  if (s.child.exitCode != null) return { code: s.child.exitCode, ms: 0 };
  const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)));
  const killer = setTimeout(() => s.child.kill('SIGKILL'), 20_000);
  s.child.kill('SIGTERM');
  const code = await exited;
  clearTimeout(killer);
  return { code, ms: Date.now() - t };
}

/** One request on a connection of its own (no keep-alive: the next request may reach the other worker). */
function request(url: string, o: { method?: string; path: string; token?: string; body?: unknown; origin?: boolean; timeoutMs?: number }): Promise<{ status: number; body: any }> {
  const u = new URL(o.path, url);
  const data = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = http.request(u, {
      method: o.method ?? (data ? 'POST' : 'GET'), agent: false,
      headers: {
        ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.origin ? { origin: url } : {}),
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let body: any = text;
        try { body = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.setTimeout(o.timeoutMs ?? 60_000, () => req.destroy(new Error(`${o.path}: no answer in ${o.timeoutMs ?? 60_000} ms`)));
    req.end(data);
  });
}

const signIn = async (s: Server, login: string) => {
  const r = await request(s.url, { path: '/auth/login', body: { login, password: s.accounts.get(login) }, origin: true });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.token as string;
};

/** The pids of the live children of a process (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

describe('WEB_CONCURRENCY and each worker\'s share of the totals', () => {
  it('reads 1 by default, a number, or auto (the cores); a bad value names the variable', () => {
    expect(webConcurrency({})).toBe(1);
    expect(webConcurrency({ WEB_CONCURRENCY: '3' })).toBe(3);
    expect(webConcurrency({ WEB_CONCURRENCY: 'auto' })).toBeGreaterThanOrEqual(1);
    expect(() => webConcurrency({ WEB_CONCURRENCY: '0' })).toThrow(/WEB_CONCURRENCY must be an integer 1\.\.64/);
    expect(() => webConcurrency({ WEB_CONCURRENCY: 'two' })).toThrow(/WEB_CONCURRENCY/);
  });

  it('splits the pool (less the primary\'s 2), heavy slots, the heavy queue and a user\'s expensive operations so the totals stay as configured', () => {
    const share = (env: NodeJS.ProcessEnv, n: number) => workerShare(loadDatabaseSettings(env), loadLimits(env), n);
    // Defaults (pool 10, heavy 2, queue 256, expensive 2), two workers: 4 + 4 + the primary's 2 = 10.
    expect(share({}, 2)).toEqual({ database: expect.objectContaining({ poolMax: 4, poolMin: 1, heavyConcurrency: 1, heavyQueueMax: 128 }), limits: { expensivePerUser: 1 } });
    expect(share({ DATABASE_POOL_MAX: '20', HEAVY_CONCURRENCY: '4', EXPENSIVE_PER_USER: '4' }, 2).database).toMatchObject({ poolMax: 9, heavyConcurrency: 2 });
    expect(share({ DATABASE_POOL_MAX: '20', HEAVY_CONCURRENCY: '4', EXPENSIVE_PER_USER: '4' }, 2).limits).toEqual({ expensivePerUser: 2 });
    // Too small to split: each worker its minimum (2 connections, 1 heavy slot, fewer heavy slots than connections).
    expect(share({ DATABASE_POOL_MAX: '3', HEAVY_CONCURRENCY: '1' }, 4).database).toMatchObject({ poolMax: 2, heavyConcurrency: 1 });
    // EXPENSIVE_PER_USER=0 (no limit) stays 0.
    expect(share({ EXPENSIVE_PER_USER: '0' }, 2).limits).toEqual({ expensivePerUser: 0 });
  });
});

/** Polls `fn` until it returns a value (no fixed sleeps: a short pause between tries). */
async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string | (() => string)): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(typeof what === 'string' ? what : what());
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * An import by GraphQL multipart whose file stops after 12 valid rows and never ends (the connection stays open): the
 * import runs, commits two chunks of 5 (INTAKE_CHUNK_SIZE=5; the last 2 rows wait for their chunk to fill), and waits
 * for more. Settles when the connection is dropped.
 */
function slowUpload(url: string, token: string): Promise<unknown> {
  const boundary = 'mcu-slow-upload';
  const head = 'Рег. номер;Дата регистрации;Заявитель — вид;Заявитель;Телефон;E-mail;Адрес;Содержание;Исполнитель;Статус;Срок;Дата ответа;Ответ\n';
  // Long texts: the first 8 KB of a stream are read before its rows flow (the encoding is detected on them).
  const text = `Не горит фонарь у дома ${'и во дворе темно, '.repeat(40)}просим починить.`;
  const rows = Array.from({ length: 12 }, (_, i) => `Вх-медл-${i + 1};20.05.2026;Гражданин;;;;ул. Сердюка, ${i + 1};${text};;Зарегистрировано;19.06.2026;;\n`).join('');
  const part = (name: string, value: string, file?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"\r\nContent-Type: text/csv` : ''}\r\n\r\n${value}`;
  const body = part('operations', JSON.stringify({ query: 'mutation($file: Upload!) { importAppeals(file: $file, channel: DIRECT) { batchId } }', variables: { file: null } })) + '\r\n'
    + part('map', JSON.stringify({ 0: ['variables.file'] })) + '\r\n'
    + part('0', head + rows, 'slow.csv'); // no closing boundary: the file goes on
  return new Promise((resolve, reject) => {
    const req = http.request(new URL('/graphql', url), {
      method: 'POST', agent: false,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.write(body);
  });
}

const count = (text: string, re: RegExp) => (text.match(new RegExp(re.source, 'g')) ?? []).length;

for (const backend of backends) {
  describe(`cluster mode, WEB_CONCURRENCY=2 (${backend})`, () => {
    let db: FreshDatabase | undefined;
    afterAll(async () => { await db?.drop(); });

    if (backend === 'embedded') {
      it('the embedded database stays one process: a clear message, no workers, serves and stops cleanly', async () => {
        db = await freshDatabase(backend);
        const s = await start(db, { WEB_CONCURRENCY: '2' });
        try {
          expect(s.output()).toMatch(/WEB_CONCURRENCY=2: встроенная база данных \(PGlite, DATABASE_URL не задан\) работает внутри одного процесса/);
          expect(s.output()).not.toMatch(/процессов HTTP/);
          expect(childrenOf(s.child.pid!)).toEqual([]);
          expect((await request(s.url, { path: '/healthz' })).body).toEqual({ status: 'ok' });
        } finally {
          const st = await stop(s);
          expect(st.code, s.output().slice(-2000)).toBe(0);
        }
      }, 240_000);
      return;
    }

    it('two workers on one port; one-time work once; sign-out, rate limits, address lock-out and data changes hold across workers; a dead worker is replaced', async () => {
      db = await freshDatabase(backend);
      const s = await start(db, {
        WEB_CONCURRENCY: '2', RATE_LIMIT_PER_MINUTE: '30', INTAKE_CHUNK_SIZE: '5', AUTH_IP_MAX_FAILURES: '4', AUTH_MAX_FAILURES: '100',
        // Long enough that a worker not told of a change would serve its cached state for the whole test.
        AUTH_SESSION_CACHE_SECONDS: '300', DATA_VERSION_TTL_MS: '600000', EXPENSIVE_PER_USER: '0',
      });
      const sql = new pg.Client({ connectionString: db.databaseUrl });
      await sql.connect();
      try {
        // Two workers; migrations, demo data and accounts were made once (by the primary).
        const workers = childrenOf(s.child.pid!);
        expect(workers.length).toBe(2);
        expect(s.output()).toMatch(/процессов HTTP: 2 \(WEB_CONCURRENCY\)/);
        expect(count(s.output(), /Миграции применены/)).toBe(1);
        expect(count(s.output(), /Генерация демонстрационных обращений \(rubtsovsk\)/)).toBe(1);
        expect(count(s.output(), /Демонстрационные учётные записи/)).toBe(1);

        // A sign-out answered by one worker is honoured by the other, though each had the session cached for 300 s.
        const token = await signIn(s, 'curator');
        for (let i = 0; i < 8; i++) expect((await request(s.url, { path: '/auth/me', token })).status).toBe(200);
        const out = await request(s.url, { path: '/auth/logout', token, body: {}, origin: true });
        expect(out.body).toEqual({ ok: true });
        const after = await Promise.all(Array.from({ length: 8 }, () => request(s.url, { path: '/auth/me', token })));
        expect(after.map((r) => r.status)).toEqual(Array(8).fill(401));
        // …and the cache is real: a session revoked behind the server's back (SQL) is still trusted by both workers.
        const token2 = await signIn(s, 'analyst');
        for (let i = 0; i < 8; i++) expect((await request(s.url, { path: '/auth/me', token: token2 })).status).toBe(200);
        await sql.query(`UPDATE user_session SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = (SELECT id FROM app_user WHERE login = 'analyst')`);
        const cached = await Promise.all(Array.from({ length: 8 }, () => request(s.url, { path: '/auth/me', token: token2 })));
        expect(cached.map((r) => r.status)).toEqual(Array(8).fill(200));

        // RATE_LIMIT_PER_MINUTE=30 is the server's limit, not each worker's: of 50 operations exactly 30 run.
        const coordinator = await signIn(s, 'coordinator');
        const ops = [];
        for (let i = 0; i < 50; i++) ops.push(await request(s.url, { path: '/graphql', token: coordinator, body: { query: '{ me { login } }' } }));
        expect(ops.filter((r) => r.status === 200).length).toBe(30);
        expect(ops.filter((r) => r.status === 429).length).toBe(20);
        expect(ops.find((r) => r.status === 429)!.body.errors[0].extensions.code).toBe('TOO_MANY_REQUESTS');

        // A committed change seen by one worker (a mutation) reaches the other's aggregate cache at once, though it
        // trusts its data version for 600 s: the change itself is made with SQL, unseen by both until the mutation.
        const admin = (await request(s.url, { path: '/auth/login', body: { login: 'admin', password: s.accounts.get('admin') }, origin: true }));
        expect(admin.status).toBe(200);
        const stats = `query { districtStats(filter: { from: "2000-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z" }) { districts { count } } }`;
        const total = async () => {
          const r = await request(s.url, { path: '/graphql', token: admin.body.token, body: { query: stats } });
          expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
          return (r.body.data.districtStats.districts as { count: number }[]).reduce((a, d) => a + d.count, 0);
        };
        const before = [await total(), await total(), await total(), await total()];
        expect(new Set(before).size).toBe(1);
        await sql.query('UPDATE appeal SET district_id = NULL WHERE id = (SELECT min(id) FROM appeal WHERE district_id IS NOT NULL)');
        expect([await total(), await total(), await total(), await total()]).toEqual(before);
        const signOut = await request(s.url, { path: '/graphql', token: admin.body.token, body: { query: 'mutation { signOut }' } });
        expect(signOut.body.data).toEqual({ signOut: true });
        const again = (await signIn(s, 'admin'));
        const now = [];
        for (let i = 0; i < 4; i++) {
          const r = await request(s.url, { path: '/graphql', token: again, body: { query: stats } });
          now.push((r.body.data.districtStats.districts as { count: number }[]).reduce((a, d) => a + d.count, 0));
        }
        expect(now).toEqual(Array(4).fill(before[0] - 1));

        // Signed in before this address is locked out: the import further down.
        const importer = await signIn(s, 'curator');

        // AUTH_IP_MAX_FAILURES=4 failed sign-ins from one address, whichever worker counted them: the 5th is refused
        // (last: from here on this address cannot sign in).
        const tries = [];
        for (let i = 0; i < 6; i++) tries.push(await request(s.url, { path: '/auth/login', body: { login: `nobody${i}`, password: 'wrong-password' }, origin: true }));
        const reasons = tries.map((r) => r.body.errors?.[0]?.extensions?.reason);
        expect(reasons).toEqual(['INVALID', 'INVALID', 'INVALID', 'INVALID', 'LOCKED', 'LOCKED']);

        // A worker killed in the middle of an import: the upload stops after 12 rows (two committed chunks of 5) and
        // the worker that runs it gets SIGKILL. The primary marks its batch INTERRUPTED with what it committed.
        const upload = slowUpload(s.url, importer);
        upload.catch(() => undefined); // the connection is dropped with the worker
        let seen: unknown;
        const batch = await poll(async () => {
          const r = await sql.query(`SELECT id, status, inserted, rows_read, rejected, error FROM import_batch WHERE source_name = 'slow.csv'`);
          seen = r.rows;
          return r.rows[0]?.inserted === 10 ? r.rows[0] : undefined;
        }, 60_000, () => `the slow import never committed its first 10 rows: ${JSON.stringify(seen)}\n${s.output().slice(-2000)}`);
        expect(batch.status).toBe('RUNNING');
        const holders = (await sql.query(`SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'mcu-hub jobs pid=%'`)).rows
          .map((r) => Number(/pid=(\d+)/.exec(r.application_name)![1]));
        expect(holders).toHaveLength(1);
        const dying = holders[0];
        expect(workers).toContain(dying);
        const other = workers.find((p) => p !== dying)!;

        // A worker that dies is replaced (logged), and the server goes on answering meanwhile. (A connection the
        // primary was handing to the worker as it died is lost with it, like the requests it was serving: requests in
        // that window get a short timeout and are not counted; most are answered by the other worker.)
        process.kill(dying, 'SIGKILL');
        await upload.catch(() => undefined);
        const marked = await poll(async () => {
          const r = await sql.query('SELECT status, error FROM import_batch WHERE id = $1', [batch.id]);
          return r.rows[0].status === 'RUNNING' ? undefined : r.rows[0];
        }, 30_000, 'the dead worker\'s batch stayed RUNNING');
        expect(marked.status).toBe('INTERRUPTED');
        expect(marked.error).toMatch(/^Импорт прерван: процесс сервера остановлен или упал; сохранено строк — 10 новых, 0 обновлено, 0 без изменений из 10 прочитанных/);
        expect(s.output()).toMatch(/Рабочий процесс \d+ \(pid \d+\) завершился, не доделав задачи: импортов отмечено INTERRUPTED — 1, справок FAILED — 0/);
        const deadline = Date.now() + 60_000;
        const meanwhile: number[] = [];
        while ((meanwhile.length < 3 || !/снова обслуживает запросы/.test(s.output())) && Date.now() < deadline) {
          meanwhile.push((await request(s.url, { path: '/healthz', timeoutMs: 3000 }).catch(() => ({ status: 0 }))).status);
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(meanwhile.filter((x) => x === 200).length).toBeGreaterThan(0);
        // Both workers serve again.
        for (let i = 0; i < 6; i++) expect((await request(s.url, { path: '/healthz', timeoutMs: 10_000 })).status).toBe(200);
        expect(s.output()).toMatch(/рабочий процесс \d+ \(pid \d+\) завершился \(сигнал SIGKILL\); новый через 500 мс/);
        expect(s.output()).toMatch(/снова обслуживает запросы/);
        const now2 = childrenOf(s.child.pid!);
        expect(now2.length).toBe(2);
        expect(now2).not.toContain(dying);
        expect(now2).toContain(other);
        expect(count(s.output(), /Миграции применены/)).toBe(1);
      } finally {
        await sql.end();
        const st = await stop(s);
        expect(st.code, s.output().slice(-3000)).toBe(0);
        expect(st.ms).toBeLessThan(10_000);
      }
    }, 300_000);
  });
}
