import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { App } from '../server/app.js';
import { repoRoot } from '../server/reference/files.js';
import { benchAuth, median, mulberry32, percentile, type SummaryRow } from './lib.js';
import { figures, postgresCpuMs, runClient, startHub, startServer, stopServer, treeCpuMs, type ServerProcess } from './spawn.js';

/**
 * The appeals page side by side with a peer (issue 17): PostGraphile v4 (devDependency, bench only) on the same
 * database with an equivalent SQL function — 100 appeals of a period and a bounding box, newest first, each with its
 * district, theme and organisation (id, name). The hub runs as deployed (`node dist/server/main.js`, production
 * mode), the peer in its own process, the load client in a third (bench/client.ts). Both must return the same ids for
 * every request (checked on the first requests of each run). Measured: one client (median ms), 32 clients (req/s and
 * p99), with the peer at its defaults (named prepared statements → generic plans after five runs) and with the
 * peer on custom plans (plan_cache_mode=force_custom_plan). Bench name: `peer`. `--web-concurrency 1,2` measures the
 * hub with each number of HTTP processes (WEB_CONCURRENCY, server/cluster.ts) side by side in the same run: rows of
 * the default (1) keep their names, the others' names end in `[WEB_CONCURRENCY=n]`.
 */

const FIELDS = 'id externalId receivedAt channel status text address';
const HUB = `query Page($filter: AppealFilter) { appeals(first: 100, filter: $filter) {
  edges { node { ${FIELDS} district { id name } theme { id name } organization { id name } } } } }`;
const PEER = `query Page($mun: Int!, $from: Datetime!, $to: Datetime!, $minLon: Float!, $minLat: Float!, $maxLon: Float!, $maxLat: Float!) {
  appealsPage(pMun: $mun, pFrom: $from, pTo: $to, pMinLon: $minLon, pMinLat: $minLat, pMaxLon: $maxLon, pMaxLat: $maxLat) {
    nodes { ${FIELDS} districtByDistrictId { id name } themeByThemeId { id name } organizationByOrganizationId { id name } } } }`;

/** The peer's SQL function: the same rows as the hub's page (its WHERE and ORDER BY), inlined by the planner. */
const PEER_SQL = [
  'CREATE SCHEMA IF NOT EXISTS bench_peer',
  `CREATE OR REPLACE FUNCTION bench_peer.appeals_page(p_mun integer, p_from timestamptz, p_to timestamptz,
       p_min_lon float8, p_min_lat float8, p_max_lon float8, p_max_lat float8)
     RETURNS SETOF public.appeal LANGUAGE sql STABLE AS $$
     SELECT a.* FROM public.appeal a
      WHERE a.municipality_id = p_mun AND a.received_at >= p_from AND a.received_at < p_to
        AND a.point && ST_MakeEnvelope(p_min_lon, p_min_lat, p_max_lon, p_max_lat, 4326)
      ORDER BY a.received_at DESC, a.id DESC LIMIT 100 $$`,
];

/** The hub's page statement (as AppealService.page() builds it for this query), for the custom-vs-generic plan check. */
const HUB_PAGE_SQL = `SELECT a.id, a.received_at, a.external_id, a.channel, a.text, a.address, a.status, a.district_id, a.theme_id, a.organization_id,
       d.id AS d__id, d.name AS d__name, t.id AS t__id, t.name AS t__name, o.id AS o__id, o.name AS o__name
  FROM appeal a LEFT JOIN district d ON d.id = a.district_id LEFT JOIN theme t ON t.id = a.theme_id LEFT JOIN organization o ON o.id = a.organization_id
 WHERE a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at < $3 AND a.point && ST_MakeEnvelope($4, $5, $6, $7, 4326)
 ORDER BY a.received_at DESC, a.id DESC LIMIT $8`;

/**
 * The generic-plan trap, measured on the hub's own statement: the same 200 requests as unnamed statements (a custom
 * plan each time, what boundQuery sends) and as one named prepared statement with plan_cache_mode=force_generic_plan
 * (what a prepared-statement cache such as PostGraphile's gets after five runs). Median ms per statement.
 */
async function planModes(databaseUrl: string, municipalityId: number, cs: Case[]): Promise<{ custom: number; generic: number }> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const params = (x: Case) => [municipalityId, x.from, x.to, x.minLon, x.minLat, x.maxLon, x.maxLat, 101];
    const time = async (run: (x: Case) => Promise<unknown>) => {
      const ms: number[] = [];
      for (const x of cs) {
        const t = performance.now();
        await run(x);
        ms.push(performance.now() - t);
      }
      return median(ms);
    };
    await time((x) => c.query({ text: HUB_PAGE_SQL, values: params(x) }));
    const custom = await time((x) => c.query({ text: HUB_PAGE_SQL, values: params(x) }));
    await c.query('SET plan_cache_mode = force_generic_plan');
    const generic = await time((x) => c.query({ name: 'bench_hub_page', text: HUB_PAGE_SQL, values: params(x) }));
    return { custom, generic };
  } finally {
    await c.end();
  }
}

interface Case { from: string; to: string; minLon: number; minLat: number; maxLon: number; maxLat: number }

function cases(count: number): Case[] {
  const rnd = mulberry32(2026);
  return Array.from({ length: count }, () => {
    const w = 0.01 + rnd() * 0.05;
    const h = w * 0.6;
    const minLon = 81.15 + rnd() * (0.12 - w);
    const minLat = 51.48 + rnd() * (0.07 - h);
    const start = new Date(Date.UTC(2025, Math.floor(rnd() * 20), 1));
    const end = new Date(start.getTime() + (30 + Math.floor(rnd() * 90)) * 86400_000);
    return { minLon, minLat, maxLon: minLon + w, maxLat: minLat + h, from: start.toISOString(), to: end.toISOString() };
  });
}

export interface PeerOptions {
  /** Seconds of each 32-client run. */
  seconds: number;
  /** Requests of each one-client run. */
  iterations: number;
  clients: number;
  /** The hub's WEB_CONCURRENCY values to measure side by side (default [1]). */
  webConcurrency?: number[];
}

/** The suffix of a row of the hub with `w` HTTP processes (none for the default, one). */
export const webSuffix = (w: number) => (w === 1 ? '' : ` [WEB_CONCURRENCY=${w}]`);

export async function benchPeer(app: App, backend: SummaryRow['backend'], n: number, opts: PeerOptions, log: (m: string) => void): Promise<SummaryRow[]> {
  if (app.embedded) {
    // PGlite is one process with one connection: neither a second server process nor PostGraphile can share it.
    log('[embedded] peer: measured on PostGIS only (PostGraphile needs a PostgreSQL server)');
    return [];
  }
  const admin = new pg.Client({ connectionString: app.databaseUrl });
  await admin.connect();
  for (const s of PEER_SQL) await admin.query(s);
  await admin.end();

  const cs = cases(200);
  const hubBodies = cs.map((c) => JSON.stringify({ query: HUB, variables: { filter: { from: c.from, to: c.to, bbox: { minLon: c.minLon, minLat: c.minLat, maxLon: c.maxLon, maxLat: c.maxLat } } } }));
  const peerBodies = cs.map((c) => JSON.stringify({ query: PEER, variables: { mun: app.municipalityId, ...c } }));
  const date = new Date().toISOString().slice(0, 10);
  const rows: SummaryRow[] = [];
  const servers: ServerProcess[] = [];
  try {
    const hubs: { w: number; proc: ServerProcess; job: { url: string; path: string; headers: Record<string, string>; bodies: string[] } }[] = [];
    for (const w of opts.webConcurrency?.length ? opts.webConcurrency : [1]) {
      const proc = await startHub(app.databaseUrl, { WEB_CONCURRENCY: String(w) });
      servers.push(proc);
      hubs.push({ w, proc, job: { url: proc.url, path: '/graphql', headers: benchAuth.headers, bodies: hubBodies } });
    }
    const hubJob = hubs[0].job;
    const peerScript = path.join(repoRoot(), 'dist', 'bench', 'peer-server.js');
    const peerEnv = { ...process.env, DATABASE_URL: app.databaseUrl, NODE_ENV: 'production' };
    const peer = await startServer(peerScript, [], peerEnv, /peer: (http:\/\/[0-9.:]+)/);
    servers.push(peer);
    const peerCustom = await startServer(peerScript, ['--custom-plans'], peerEnv, /peer: (http:\/\/[0-9.:]+)/);
    servers.push(peerCustom);
    const peerJob = (p: ServerProcess) => ({ url: p.url, path: '/graphql', headers: {}, bodies: peerBodies });

    // Same ids, request by request (all 200 cases, one client each).
    const hubIds = (await runClient({ ...hubJob, connections: 1, requests: cs.length, collectIds: true }));
    if (hubIds.firstErrors.length) throw new Error(`hub: ${hubIds.firstErrors.join('; ')}`);
    for (const p of [peer, peerCustom]) {
      const peerIds = await runClient({ ...peerJob(p), connections: 1, requests: cs.length, collectIds: true });
      if (peerIds.firstErrors.length) throw new Error(`peer: ${peerIds.firstErrors.join('; ')}`);
      // The hub's answer lists appeal, district, theme, organisation ids in the same order as the peer's.
      for (let i = 0; i < cs.length; i++) {
        if (JSON.stringify(hubIds.ids![i]) !== JSON.stringify(peerIds.ids![i]))
          throw new Error(`case ${i}: the hub and the peer answer different ids: ${hubIds.ids![i].slice(0, 8)} vs ${peerIds.ids![i].slice(0, 8)}`);
      }
    }
    // Every number of HTTP processes answers the same ids.
    for (const h of hubs.slice(1)) {
      const ids = await runClient({ ...h.job, connections: 1, requests: cs.length, collectIds: true });
      if (ids.firstErrors.length) throw new Error(`hub (WEB_CONCURRENCY=${h.w}): ${ids.firstErrors.join('; ')}`);
      for (let i = 0; i < cs.length; i++) {
        if (JSON.stringify(hubIds.ids![i]) !== JSON.stringify(ids.ids![i])) throw new Error(`case ${i}: WEB_CONCURRENCY=${h.w} answers other ids than 1`);
      }
    }
    const rowsPerPage = median(hubIds.ids!.map((x) => x.length / 4));
    const plans = await planModes(app.databaseUrl, app.municipalityId, cs);
    log(`[${backend}] peer: the hub's page statement: custom plans ${plans.custom.toFixed(2)} ms, generic plan ${plans.generic.toFixed(2)} ms (median)`);
    rows.push({
      name: 'peer: the page statement, custom vs generic plan', backend, n, ours: plans.custom, baseline: plans.generic, ratio: plans.custom / plans.generic,
      unit: 'ms (median)', target: '≤ 1.0 (custom plans, as the hub sends them)', date,
      notes: `the same ${cs.length} period + bbox pages on one connection: unnamed statements (a custom plan each, what boundQuery sends) vs one named prepared statement under plan_cache_mode=force_generic_plan (the peer's prepared-statement cache after five runs)`,
    });
    log(`[${backend}] peer: same ids for ${cs.length} requests (median ${rowsPerPage} appeals per page)`);

    // One client: interleaved rounds so all see the same machine.
    type Key = string;
    const jobs: [Key, typeof hubJob, ServerProcess][] = [
      ...hubs.map((h) => [`hub${h.w}`, h.job, h.proc] as [Key, typeof hubJob, ServerProcess]),
      ['peer', peerJob(peer), peer], ['custom', peerJob(peerCustom), peerCustom],
    ];
    const one = new Map<Key, number[]>(jobs.map(([k]) => [k, []]));
    const rounds = 4;
    for (let r = 0; r < rounds; r++) {
      const per = Math.ceil(opts.iterations / rounds);
      for (const [k, job] of jobs) {
        const res = await runClient({ ...job, connections: 1, requests: per });
        for (let i = 1; i < res.samples.length; i += 3) one.get(k)!.push(res.samples[i]);
      }
    }
    // Many clients: each hub, peer, custom-plan peer, each for `seconds`, twice, alternating; the better run of each
    // counts. CPU per request of the server's processes (a cluster's primary and workers) and of PostgreSQL (all its
    // backends) during the runs: where the time goes.
    const many = new Map<Key, (ReturnType<typeof figures>['all'] & { serverCpu: number; dbCpu: number })[]>(jobs.map(([k]) => [k, []]));
    for (let r = 0; r < 2; r++) {
      for (const [k, job, proc] of jobs) {
        const s0 = treeCpuMs(proc.child.pid), d0 = postgresCpuMs();
        const res = await runClient({ ...job, connections: opts.clients, seconds: opts.seconds / 2 });
        const f = figures(res).all;
        if (f.errors) throw new Error(`${k}: ${f.errors} errors: ${res.firstErrors.join('; ')}`);
        many.get(k)!.push({ ...f, serverCpu: (treeCpuMs(proc.child.pid) - s0) / f.n, dbCpu: (postgresCpuMs() - d0) / f.n });
      }
    }
    const best = (k: Key) => many.get(k)!.reduce((a, b) => (b.rps > a.rps ? b : a));
    const p = best('peer'), c = best('custom');
    const mp = median(one.get('peer')!), mc = median(one.get('custom')!);
    for (const hub of hubs) {
      const k = `hub${hub.w}`, sfx = webSuffix(hub.w);
      const h = best(k), mh = median(one.get(k)!);
      const load = `1-min load average ${os.loadavg()[0].toFixed(1)} at the end; client in its own process; hub: node dist/server/main.js, NODE_ENV=production, `
        + `WEB_CONCURRENCY ${hub.w}, pool ${process.env.DATABASE_POOL_MAX ?? 10}${hub.w > 1 ? ' in all (split between the workers)' : ''}`;
      rows.push({
        name: `peer: appeals page, 1 client (vs PostGraphile v4)${sfx}`, backend, n, ours: mh, baseline: mp, ratio: mh / mp,
        unit: 'ms (median)', target: '≤ 1.0 (no worse than the peer)', date,
        notes: `p95 hub ${percentile(one.get(k)!, 95).toFixed(1)} / peer ${percentile(one.get('peer')!, 95).toFixed(1)} ms; peer on custom plans ${mc.toFixed(1)} ms; ${one.get(k)!.length} requests each, same ids checked on ${cs.length}; ${load}`,
      });
      rows.push({
        name: `peer: appeals page, ${opts.clients} clients (vs PostGraphile v4 at defaults)${sfx}`, backend, n, ours: h.rps, baseline: p.rps, ratio: h.rps / p.rps,
        unit: 'req/s', target: '≥ 1.5; p99 ≤ 250 ms', date,
        notes: `p99 hub ${h.p99.toFixed(0)} / peer ${p.p99.toFixed(0)} ms, p50 ${h.p50.toFixed(0)} / ${p.p50.toFixed(0)} ms; `
          + `CPU per request: hub ${h.serverCpu.toFixed(1)} ms in Node + ${h.dbCpu.toFixed(1)} ms in PostgreSQL, peer ${p.serverCpu.toFixed(1)} + ${p.dbCpu.toFixed(1)} ms; `
          + `${opts.seconds / 2} s × 2 runs each (better counts); ${load}`,
      });
      rows.push({
        name: `peer: appeals page, ${opts.clients} clients (vs PostGraphile v4 on custom plans)${sfx}`, backend, n, ours: h.rps, baseline: c.rps, ratio: h.rps / c.rps,
        unit: 'req/s', target: '≥ 1.0', date,
        notes: `plan_cache_mode=force_custom_plan on the peer's connections; p99 hub ${h.p99.toFixed(0)} / peer ${c.p99.toFixed(0)} ms; `
          + `CPU per request: peer ${c.serverCpu.toFixed(1)} ms in Node + ${c.dbCpu.toFixed(1)} ms in PostgreSQL; ${load}`,
      });
    }
  } finally {
    for (const s of servers.reverse()) await stopServer(s);
  }
  return rows;
}
