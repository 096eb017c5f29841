import type { EntityManager } from '@mikro-orm/postgresql';
import pg from 'pg';
import { query } from './sql.js';

/**
 * Liveness of long jobs that keep a RUNNING status in the database (an import batch, an analytic report).
 *
 * While a job runs, its process holds a session-level advisory lock (class of the job kind, the row's id) on a
 * connection of its own (application_name `mcu-hub jobs pid=<pid>`, opened while any job of the process runs). A crash,
 * a kill -9 or a lost connection ends that session and frees the lock; a sweep (sweepDeadJobs) marks only RUNNING rows
 * whose lock is free — the holder is gone — and never a job of this very process (a set kept in memory). The lock is
 * taken before the row shows RUNNING (holdJob first, then the insert or the update), so a sweep never sees a live job
 * without its lock, and the sweep's UPDATE re-checks the status, so a job that finished meanwhile keeps its result.
 *
 * The embedded backend (PGlite) is one process with one database session: no second connection, no locks; the set in
 * memory alone tells the jobs of the only process that can run any.
 */

/** Advisory-lock class per job kind (the object id is the row id). */
export const JOB_LOCK = { importBatch: 736_251, analyticReport: 736_252 } as const;
export type JobKind = keyof typeof JOB_LOCK;

/** application_name of a process's lock connection (the cluster's primary finds a dead worker's by it). */
export const jobsConnectionName = (pid: number = process.pid) => `mcu-hub jobs pid=${pid}`;

interface Backend { url: string; embedded: boolean }
const backends = new WeakMap<object, Backend>();

/** Called by createOrm: which database an EntityManager's configuration talks to. */
export function registerJobBackend(config: object, backend: Backend): void {
  backends.set(config, backend);
}

function backendOf(em: EntityManager): Backend {
  const b = backends.get(em.config);
  if (b) return b;
  // An ORM not made by createOrm (none in the server): a single connection is the embedded database.
  const pool = em.config.get('pool') as { max?: number } | undefined;
  return { url: String(em.config.get('clientUrl') ?? ''), embedded: pool?.max === 1 };
}

/** The jobs running in this process, `url|class:id`. */
const running = new Set<string>();
const key = (b: Backend, kind: JobKind, id: number) => `${b.url}|${JOB_LOCK[kind]}:${id}`;

interface LockConnection { client: pg.Client; users: number; ready: Promise<void> }
const connections = new Map<string, LockConnection>();

function openConnection(url: string): LockConnection {
  let c = connections.get(url);
  if (c) { c.users++; return c; }
  const client = new pg.Client({ connectionString: url, application_name: jobsConnectionName() });
  const conn: LockConnection = { client, users: 1, ready: Promise.resolve() };
  client.on('error', (e) => {
    // Its locks are gone with the session: another process's sweep may now mark this process's running jobs.
    console.error(`[jobs] соединение, удерживающее идущие задачи, потеряно: ${e.message}; идущие импорты и справки могут быть отмечены прерванными`);
    if (connections.get(url) === conn) connections.delete(url);
  });
  conn.ready = client.connect().then(() => undefined, (e) => {
    if (connections.get(url) === conn) connections.delete(url);
    throw e;
  });
  connections.set(url, conn);
  return conn;
}

async function closeConnection(url: string, conn: LockConnection): Promise<void> {
  if (--conn.users > 0) return;
  if (connections.get(url) === conn) connections.delete(url);
  await conn.client.end().catch(() => undefined);
}

export interface JobHold {
  /** Frees the job (after its final status is committed). */
  release(): Promise<void>;
}

/**
 * Marks a job alive for as long as this process runs it: call before its row shows RUNNING, release after the final
 * status is stored. Undefined when the job is already held (by this process or another live one).
 */
export async function holdJob(em: EntityManager, kind: JobKind, id: number): Promise<JobHold | undefined> {
  const b = backendOf(em);
  const k = key(b, kind, id);
  if (running.has(k)) return undefined;
  running.add(k);
  if (b.embedded) return { release: async () => { running.delete(k); } };
  const conn = openConnection(b.url);
  try {
    await conn.ready;
    const r = await conn.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [JOB_LOCK[kind], id]);
    if (!r.rows[0].ok) {
      running.delete(k);
      await closeConnection(b.url, conn);
      return undefined;
    }
  } catch (e) {
    running.delete(k);
    await closeConnection(b.url, conn);
    throw e;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await conn.client.query('SELECT pg_advisory_unlock($1, $2)', [JOB_LOCK[kind], id]).catch(() => undefined);
      running.delete(k);
      await closeConnection(b.url, conn);
    },
  };
}

/** The next id of a table's identity column (a job's id is known, and held, before its row exists). */
export async function nextId(em: EntityManager, table: 'import_batch' | 'analytic_report'): Promise<number> {
  const [r] = await query<{ id: string | number }>(em, `SELECT nextval(pg_get_serial_sequence('${table}', 'id')) AS id`);
  return Number(r.id);
}

/**
 * The RUNNING rows of `table` whose holder is gone (not this process, lock free), marked by `mark(tem, ids)`, which
 * must re-check `status = 'RUNNING'` in its UPDATE. Safe while other processes run jobs. Returns the ids marked.
 */
export async function sweepDeadJobs(em: EntityManager, kind: JobKind, table: 'import_batch' | 'analytic_report',
  mark: (tem: EntityManager, ids: number[]) => Promise<number[]>): Promise<number[]> {
  const b = backendOf(em);
  return em.transactional(async (tem) => {
    const rows = await query<{ id: number }>(tem, `SELECT id FROM ${table} WHERE status = 'RUNNING' ORDER BY id`);
    const dead: number[] = [];
    for (const { id } of rows) {
      if (running.has(key(b, kind, id))) continue;
      // Taken for this transaction only: free means no session holds the job. (The embedded backend has one session,
      // which takes a lock it holds again: there the set above alone decides.)
      const [{ free }] = await query<{ free: boolean }>(tem, 'SELECT pg_try_advisory_xact_lock(?, ?) AS free', [JOB_LOCK[kind], id]);
      if (free) dead.push(id);
    }
    return dead.length ? mark(tem, dead) : [];
  });
}

/**
 * A dead process's lock connection (application_name jobsConnectionName(pid)): ended if its server session lingers,
 * and waited for (at most `timeoutMs`) until its session and locks are gone, so that a sweep right after sees its jobs.
 */
export async function endDeadHolder(em: EntityManager, pid: number, timeoutMs = 10_000): Promise<void> {
  const name = jobsConnectionName(pid);
  const sessions = async () => (await query<{ pid: number }>(em, 'SELECT pid FROM pg_stat_activity WHERE application_name = ?', [name])).map((r) => r.pid);
  const backends = await sessions();
  if (!backends.length) return;
  // The process is gone: its session only waits to notice. (Not permitted for another role: then it is waited for.)
  await query(em, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?', [name]).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [{ n }] = await query<{ n: number }>(em,
      `SELECT (SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(?::int[])) + (SELECT count(*) FROM pg_locks WHERE pid = ANY(?::int[]))::int AS n`,
      [backends, backends]);
    if (Number(n) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
