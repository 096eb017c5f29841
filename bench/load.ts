import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { App } from '../server/app.js';
import { repoRoot } from '../server/reference/files.js';
import { getSchema } from '../server/graphql/schema.js';
import { UserService } from '../server/auth/users.js';
import { Role } from '../server/auth/roles.js';
import { query } from '../server/db/sql.js';
import { benchAuth, mulberry32, percentile, type SummaryRow } from './lib.js';

/**
 * Load benchmark (issue 6): `connections` concurrent clients for `seconds` against the server
 * running as its own process (NODE_ENV=production, as deployed) on the benchmark database, with a
 * mix of map queries (heatmap, districtStats, appealsGeoJSON), list queries (appeals connection
 * with filters) and the problem list. Every response is read: an HTTP status other than 200 or a
 * GraphQL `errors` entry counts as an error. Baseline: the same clients on GET /healthz (one
 * `SELECT 1`), the physical limit of this machine for a request that touches the database.
 * The rate limit is switched off for the run (all clients are one user on one address).
 */

type Kind = 'map' | 'list' | 'problems';
interface Req { kind: Kind; name: string; body: string }

const HEATMAP = `query($bbox: BBoxInput!, $zoom: Int!, $filter: AppealFilter) {
  heatmap(bbox: $bbox, zoom: $zoom, filter: $filter, layer: APPEALS) { total maxValue cells { id value appeals geometry } } }`;
const DISTRICTS = `query($filter: AppealFilter) { districtStats(filter: $filter) { districts { district { id name } count per1000 previousCount change } } }`;
const POINTS = `query($filter: AppealFilter) { appealsGeoJSON(filter: $filter, limit: 2000) }`;
const PAGE = `query($filter: AppealFilter, $after: String) { appeals(first: 50, filter: $filter, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id channel externalId receivedAt text address status overdue district { id name } theme { id name } organization { id name } } } } }`;
const PROBLEMS = `query($filter: ProblemFilter) { problems(first: 20, filter: $filter) {
  totalCount edges { node { id title score appealCount growth status district { name } theme { name } organization { name } } } } }`;

function mix(seed: number, withProblems: boolean, count = 400): Req[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const period = () => {
    const from = new Date(Date.UTC(2025, Math.floor(rnd() * 20), 1 + Math.floor(rnd() * 27)));
    return { from: from.toISOString(), to: new Date(from.getTime() + (14 + Math.floor(rnd() * 180)) * 86400_000).toISOString() };
  };
  const viewport = () => {
    const w = 0.03 + rnd() * 0.1;
    const minLon = 81.14 + rnd() * (0.14 - w);
    const minLat = 51.47 + rnd() * (0.09 - w * 0.6);
    return { minLon, minLat, maxLon: minLon + w, maxLat: minLat + w * 0.6 };
  };
  const out: Req[] = [];
  for (let i = 0; i < count; i++) {
    const r = rnd();
    const kind: Kind = withProblems ? (r < 0.4 ? 'map' : r < 0.8 ? 'list' : 'problems') : r < 0.5 ? 'map' : 'list';
    let name: string;
    let q: string;
    let variables: Record<string, unknown>;
    if (kind === 'map') {
      const m = rnd();
      if (m < 0.45) [name, q, variables] = ['heatmap', HEATMAP, { bbox: viewport(), zoom: 12 + Math.floor(rnd() * 3), filter: period() }];
      else if (m < 0.75) [name, q, variables] = ['districtStats', DISTRICTS, { filter: period() }];
      else [name, q, variables] = ['appealsGeoJSON', POINTS, { filter: { ...period(), bbox: viewport() } }];
    } else if (kind === 'list') {
      const f: Record<string, unknown> = { ...period() };
      const extra = rnd();
      if (extra < 0.25) f.channels = [pick(['POS', 'INCIDENT_MANAGEMENT', 'SOCIAL', 'DIRECT'])];
      else if (extra < 0.45) f.text = pick(['отопление', 'яма', 'мусор', 'освещение', 'снег', 'вода']);
      else if (extra < 0.65) f.bbox = viewport();
      else if (extra < 0.8) f.statuses = [pick(['NEW', 'IN_PROGRESS', 'ANSWERED'])];
      [name, q, variables] = ['appeals', PAGE, { filter: f }];
    } else {
      [name, q, variables] = ['problems', PROBLEMS, { filter: rnd() < 0.5 ? {} : { minScore: Math.round(rnd() * 50) } }];
    }
    out.push({ kind, name, body: JSON.stringify({ query: q, variables }) });
  }
  return out;
}

interface Sample { kind: string; ms: number; ok: boolean }

/** `connections` loops, each sending requests one after the other for `seconds`. */
async function drive(base: URL, headers: Record<string, string>, connections: number, seconds: number, next: (i: number) => Req | null): Promise<{ samples: Sample[]; elapsed: number; firstErrors: string[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const samples: Sample[] = [];
  const firstErrors: string[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let counter = 0;
  const one = (req: Req | null) => new Promise<Sample>((resolve) => {
    const t = performance.now();
    const r = http.request({
      host: base.hostname, port: base.port, agent, method: req ? 'POST' : 'GET', path: req ? '/graphql' : '/healthz',
      headers: req ? { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(req.body) } : headers,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let ok = res.statusCode === 200;
        if (ok && req) ok = !text.includes('"errors"') && text.startsWith('{"data"');
        if (!ok && firstErrors.length < 5) firstErrors.push(`${req?.name ?? 'healthz'} ${res.statusCode}: ${text.slice(0, 300)}`);
        resolve({ kind: req?.name ?? 'healthz', ms: performance.now() - t, ok });
      });
      res.on('error', () => resolve({ kind: req?.name ?? 'healthz', ms: performance.now() - t, ok: false }));
    });
    r.on('error', (e) => {
      if (firstErrors.length < 5) firstErrors.push(`${req?.name ?? 'healthz'}: ${e.message}`);
      resolve({ kind: req?.name ?? 'healthz', ms: performance.now() - t, ok: false });
    });
    r.end(req?.body);
  });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) samples.push(await one(next(counter++)));
  }));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { samples, elapsed, firstErrors };
}

async function waitHealthy(url: string, child: ChildProcess, log: string[]) {
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    if (child.exitCode != null) throw new Error(`server exited (${child.exitCode}): ${log.join('').slice(-2000)}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('server did not become healthy in 120 s');
}

const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

export async function benchLoad(app: App, backend: SummaryRow['backend'], n: number, opts: { connections?: number; seconds?: number } = {}): Promise<SummaryRow[]> {
  const connections = opts.connections ?? 64;
  const seconds = opts.seconds ?? 60;
  if (app.embedded) {
    // PGlite is a single-process database: a second process cannot serve its folder while the benchmark holds it.
    console.log('[embedded] load: measured on PostGIS only (the embedded database is a single-process PGlite)');
    return [];
  }
  const withProblems = !!(await getSchema()).getQueryType()!.getFields().problems;
  // The runner's signed-in account (bench/lib.ts signInBench: a curator), else one of our own.
  let headers = benchAuth.headers;
  if (!headers.authorization) {
    const login = `bench-load-${crypto.randomBytes(3).toString('hex')}`;
    const password = `${crypto.randomBytes(12).toString('base64url')}Aa1!`;
    await new UserService(app.orm.em.fork(), app.municipalityId).create({ login, role: Role.CURATOR, password, displayName: 'Нагрузочный тест' });
    headers = { authorization: `Bearer ${(await app.auth.signIn(login, password)).token}` };
  }
  if (withProblems) {
    const [{ c }] = await query<{ c: number }>(app.orm.em.fork(), 'SELECT count(*)::int AS c FROM problem WHERE municipality_id = ?', [app.municipalityId]);
    if (!c) {
      console.log(`[${backend}] load: пересчёт перечня проблем…`);
      const r = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query: 'mutation { recomputeProblems { id } }' }) });
      const body = await r.json() as { errors?: unknown };
      if (body.errors) throw new Error(`recomputeProblems: ${JSON.stringify(body.errors)}`);
    }
  }

  // The server as deployed: its own process, production mode; the in-process app of the runner stays idle.
  const log: string[] = [];
  const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'server', 'main.js')], {
    env: { ...process.env, DATABASE_URL: app.databaseUrl, NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0',
      // All clients are one account: the per-user limit of expensive operations would serialise them.
      EXPENSIVE_PER_USER: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      log.push(d.toString());
      const m = /работает: (http:\/\/[0-9.:]+)/.exec(log.join(''));
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${log.join('').slice(-2000)}`)));
  });
  const rows: SummaryRow[] = [];
  try {
    await waitHealthy(url, child, log);
    const base = new URL(url);
    const requests = mix(6006, withProblems);
    // Every request of the mix alone, one after the other: each must succeed (a wrong query would make the
    // load meaningless), and its median time without concurrency is the service time the load is compared with.
    const alone: string[] = [];
    for (const name of [...new Set(requests.map((r) => r.name))].sort()) {
      const ms: number[] = [];
      for (const sample of requests.filter((r) => r.name === name).slice(0, 7)) {
        const t = performance.now();
        const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: sample.body });
        const text = await res.text();
        ms.push(performance.now() - t);
        if (res.status !== 200 || text.includes('"errors"')) throw new Error(`${name}: ${res.status} ${text.slice(0, 500)}`);
      }
      alone.push(`${name} ${fmt(percentile(ms, 50))}`);
    }
    // Warm-up (plans, caches, connections), then the measured runs: the mix, then /healthz.
    await drive(base, headers, connections, 5, (i) => requests[i % requests.length]);
    console.log(`[${backend}] load: ${connections} клиентов × ${seconds} с, смешанные запросы…`);
    const loadBefore = os.loadavg()[0];
    const ours = await drive(base, headers, connections, seconds, (i) => requests[i % requests.length]);
    console.log(`[${backend}] load: ${connections} клиентов × ${seconds} с, GET /healthz…`);
    const health = await drive(base, {}, connections, seconds, () => null);
    const loadAfter = os.loadavg()[0];

    const summarise = (s: Sample[]) => {
      const ms = s.map((x) => x.ms);
      return { p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99) };
    };
    const errors = ours.samples.filter((s) => !s.ok).length;
    const rps = ours.samples.length / ours.elapsed;
    const healthRps = health.samples.length / health.elapsed;
    const all = summarise(ours.samples);
    const perKind = [...new Set(ours.samples.map((s) => s.kind))].sort().map((k) => {
      const xs = ours.samples.filter((s) => s.kind === k);
      const p = summarise(xs);
      return `${k} ${xs.length} req p50 ${fmt(p.p50)} / p95 ${fmt(p.p95)} ms`;
    });
    const hp = summarise(health.samples);
    if (ours.firstErrors.length) console.log(`[${backend}] load: first errors:\n  ${ours.firstErrors.join('\n  ')}`);
    rows.push({
      name: `load: ${connections} clients, map + list${withProblems ? ' + problems' : ''} queries, ${seconds} s`,
      backend, n, ours: rps, baseline: healthRps, ratio: rps / healthRps, unit: 'req/s', target: '0 errors',
      date: new Date().toISOString().slice(0, 10),
      notes: `${ours.samples.length} requests, errors ${errors} (HTTP ≠ 200 or GraphQL errors); latency p50 ${fmt(all.p50)} ms, p95 ${fmt(all.p95)} ms, p99 ${fmt(all.p99)} ms; `
        + `${perKind.join('; ')}; baseline = GET /healthz (SELECT 1) by the same ${connections} clients: p50 ${fmt(hp.p50)} ms, p99 ${fmt(hp.p99)} ms, errors ${health.samples.filter((s) => !s.ok).length}; `
        + `median alone (no concurrency, ms): ${alone.join(', ')}; `
        + `server in its own process, NODE_ENV=production, rate limit off; 2-core machine shared with the client, PostgreSQL and other work `
        + `(1-min load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after)`
        + (withProblems ? '' : '; no problems query in the schema at this run'),
    });
  } finally {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await new Promise((r) => (child.exitCode != null || child.signalCode != null ? r(null) : child.once('exit', r)));
    clearTimeout(killer);
  }
  return rows;
}
