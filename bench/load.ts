import crypto from 'node:crypto';
import os from 'node:os';
import type { App } from '../server/app.js';
import { getSchema } from '../server/graphql/schema.js';
import { UserService } from '../server/auth/users.js';
import { Role } from '../server/auth/roles.js';
import { query } from '../server/db/sql.js';
import { benchAuth, mulberry32, percentile, type SummaryRow } from './lib.js';
import { figures, runClient, startHub, stopServer } from './spawn.js';
import { webSuffix } from './peer.js';
import { captureExplains } from './explain.js';

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
export interface Req { kind: Kind; name: string; body: string }

const HEATMAP = `query($bbox: BBoxInput!, $zoom: Int!, $filter: AppealFilter) {
  heatmap(bbox: $bbox, zoom: $zoom, filter: $filter, layer: APPEALS) { total maxValue cells { id value appeals geometry } } }`;
const DISTRICTS = `query($filter: AppealFilter) { districtStats(filter: $filter) { districts { district { id name } count per1000 previousCount change } } }`;
const POINTS = `query($filter: AppealFilter) { appealsGeoJSON(filter: $filter, limit: 2000) }`;
const PAGE = `query($filter: AppealFilter, $after: String) { appeals(first: 50, filter: $filter, after: $after) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { node { id channel externalId receivedAt text address status overdue district { id name } theme { id name } organization { id name } } } } }`;
const PROBLEMS = `query($filter: ProblemFilter) { problems(first: 20, filter: $filter) {
  totalCount edges { node { id title score appealCount growth status district { name } theme { name } organization { name } } } } }`;

export function mix(seed: number, withProblems: boolean, count = 400): Req[] {
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

const fmt = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

/**
 * `caches`: the runs to make, with the aggregate cache on (`load`) and/or off (`load-nocache`), one hub process each.
 * Both in one call, because on the embedded backend the runner's app is closed for the hub (see below).
 */
export async function benchLoad(app: App, backend: SummaryRow['backend'], n: number,
  opts: { connections?: number; seconds?: number; caches?: boolean[]; dataDir?: string; webConcurrency?: number[] } = {}): Promise<SummaryRow[]> {
  const caches = opts.caches ?? [true];
  const connections = opts.connections ?? 64;
  const seconds = opts.seconds ?? 60;
  if (app.embedded && !opts.dataDir) {
    console.log('[embedded] load: needs the data folder of the benchmark database');
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

  // EXPLAIN (ANALYZE, BUFFERS) of every statement of one request of each kind (bench/explain.ts), before the load.
  if (caches.includes(true)) await captureExplains(app, mix(6006, withProblems), (m) => console.log(`[${backend}] ${m}`));

  // The server as deployed: its own process, production mode; the in-process app of the runner stays idle.
  // The mix repeats 400 distinct requests: after the warm-up its aggregates are answered from the cache. `load-nocache`
  // measures the same mix with AGGREGATE_CACHE_ENTRIES=0 (every aggregate computed).
  // Embedded: PGlite is one process per data folder, so the runner's app closes (the load is the last benchmark of
  // the run on this backend) and the hub process opens the folder (one connection: as far as one session allows).
  if (app.embedded) await app.close();
  const rows: SummaryRow[] = [];
  // `webConcurrency` (bench option --web-concurrency 1,2): the hub with each number of HTTP processes (WEB_CONCURRENCY,
  // server/cluster.ts) one after the other; rows of the default (1) keep their names, the others' end in
  // `[WEB_CONCURRENCY=n]`. The embedded database is one process: measured once.
  const counts = app.embedded ? [1] : opts.webConcurrency?.length ? opts.webConcurrency : [1];
  for (const cache of caches) {
    for (const w of counts) rows.push(...await loadRun(app, backend, n, { connections, seconds, cache, headers, withProblems, dataDir: opts.dataDir, w }));
  }
  return rows;
}

async function loadRun(app: App, backend: SummaryRow['backend'], n: number,
  opts: { connections: number; seconds: number; cache: boolean; headers: Record<string, string>; withProblems: boolean; dataDir?: string; w: number }): Promise<SummaryRow[]> {
  const { w } = opts;
  const sfx = webSuffix(w);
  const { connections, seconds, cache, headers, withProblems } = opts;
  const hub = await startHub(app.embedded ? '' : app.databaseUrl, {
    WEB_CONCURRENCY: String(w),
    ...(cache ? {} : { AGGREGATE_CACHE_ENTRIES: '0' }),
    ...(app.embedded ? { DATABASE_URL: '', DATA_DIR: opts.dataDir } : {}),
  });
  const url = hub.url;
  const rows: SummaryRow[] = [];
  try {
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
    // The load client in its own process (bench/client.ts). Warm-up (plans, caches, connections), then the
    // measured runs: the mix, then /healthz.
    const job = { url, path: '/graphql', headers, bodies: requests.map((r) => r.body), kinds: requests.map((r) => r.name), connections };
    await runClient({ ...job, seconds: 5 });
    console.log(`[${backend}] load${sfx}: ${connections} клиентов × ${seconds} с, смешанные запросы…`);
    const loadBefore = os.loadavg()[0];
    const ours = await runClient({ ...job, seconds });
    console.log(`[${backend}] load${sfx}: ${connections} клиентов × ${seconds} с, GET /healthz…`);
    const health = await runClient({ url, path: '/healthz', method: 'GET', headers: {}, bodies: [''], connections, seconds });
    const loadAfter = os.loadavg()[0];

    const f = figures(ours);
    const hf = figures(health).all;
    const all = f.all;
    if (ours.firstErrors.length) console.log(`[${backend}] load: first errors:\n  ${ours.firstErrors.join('\n  ')}`);
    const perKind = f.perKind.map((k) => `${k.kind} ${fmt(k.rps)} req/s p50 ${fmt(k.p50)} / p99 ${fmt(k.p99)} ms, errors ${k.errors}`);
    const date = new Date().toISOString().slice(0, 10);
    const context = `server in its own process (node dist/server/main.js, NODE_ENV=production, rate limit off, WEB_CONCURRENCY ${w}), client in its own process; `
      + `2-core machine shared with PostgreSQL (1-min load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after)`;
    rows.push({
      name: `load: ${connections} clients, map + list${withProblems ? ' + problems' : ''} queries, ${seconds} s${cache ? '' : ', aggregate cache off'}${sfx}`,
      backend, n, ours: all.rps, baseline: hf.rps, ratio: all.rps / hf.rps, unit: 'req/s', target: '≥ 300 req/s, p99 ≤ 1 s, 0 errors',
      date,
      notes: `${all.n} requests, errors ${all.errors} (HTTP ≠ 200 or GraphQL errors); latency p50 ${fmt(all.p50)} ms, p95 ${fmt(all.p95)} ms, p99 ${fmt(all.p99)} ms; `
        + `${perKind.join('; ')}; baseline = GET /healthz (SELECT 1) by the same ${connections} clients: p50 ${fmt(hf.p50)} ms, p99 ${fmt(hf.p99)} ms, errors ${hf.errors}; `
        + `median alone (no concurrency, ms): ${alone.join(', ')}; ${context}; EXPLAIN (ANALYZE, BUFFERS) per kind in bench/results/explain-*.txt`
        + (withProblems ? '' : '; no problems query in the schema at this run'),
    });
    // One row per kind of the mix: its share of the throughput and its tail.
    for (const k of f.perKind) {
      rows.push({
        name: `load: ${connections} clients${cache ? '' : ', cache off'} — ${k.kind}${sfx}`, backend, n, ours: k.p99, baseline: k.p50, ratio: k.p99 / Math.max(k.p50, 0.001),
        unit: 'ms (p99; baseline = p50)', target: 'p99 ≤ 1000 ms, 0 errors', date,
        notes: `${fmt(k.rps)} req/s, ${k.n} requests, errors ${k.errors}, p95 ${fmt(k.p95)} ms; within the mix above`,
      });
    }
  } finally {
    await stopServer(hub);
  }
  return rows;
}
