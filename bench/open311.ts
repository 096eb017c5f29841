import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { App } from '../server/app.js';
import { Open311Service, REQUEST_SELECT } from '../server/open311/service.js';
import { median, mulberry32, percentile, type SummaryRow } from './lib.js';
import { startHub, stopServer, type ServerProcess } from './spawn.js';

/**
 * Open311 `GET requests` for a 90-day window, 1 000 results (the spec's default cap), in JSON and in XML, through
 * HTTP as a client sees it (anonymous open-data reads), against the same rows read by one raw SQL query over `pg`
 * (same columns, joins, window, order and limit; no masking, formatting or serialisation). A second row per format
 * measures the endpoint's own work without the HTTP transport (query, masking, times, serialisation in-process),
 * which on a loaded machine is the steadier figure.
 *
 * With PostgreSQL the HTTP figure is also taken against the hub as deployed (`node dist/server/main.js`, a process of
 * its own, as PostgreSQL is for the raw query): the client's own work (reading and decoding the answer) then runs
 * beside the server's, not on its thread, exactly as the raw query's client runs beside PostgreSQL. The embedded
 * database lives inside the server's process, so there both are measured against the runner's app.
 */
const RAW = `${REQUEST_SELECT}
 WHERE a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at <= $3
 ORDER BY a.received_at DESC, a.id DESC LIMIT 1000`;

export async function benchOpen311(app: App, backend: SummaryRow['backend'], n: number, iterations: number): Promise<SummaryRow[]> {
  const raw = new pg.Client({ connectionString: app.databaseUrl });
  await raw.connect();
  const { rows: [range] } = await raw.query<{ min: Date; max: Date }>('SELECT min(received_at) AS min, max(received_at) AS max FROM appeal WHERE municipality_id = $1', [app.municipalityId]);
  const day = 86_400_000;
  const lo = range.min.getTime() + 90 * day;
  const hi = Math.max(lo, range.max.getTime());
  const rnd = mulberry32(311);
  const cases = Array.from({ length: iterations }, () => {
    const end = new Date(Math.floor((lo + rnd() * (hi - lo)) / 1000) * 1000);
    return { start: new Date(end.getTime() - 90 * day), end };
  });
  const municipality = await Open311Service.municipality(app.orm.em.fork(), app.municipalityId);
  const out: SummaryRow[] = [];
  const hub: ServerProcess | null = app.embedded ? null : await startHub(app.databaseUrl, { OPEN311_ANON_PER_MINUTE: '0' });
  // The transport floor: the same answer, already rendered, served from memory in the runner's process in the
  // endpoint's pieces (32 KB, chunked): what HTTP alone costs for these bytes, whatever the rendering.
  let floorBody = '';
  const floor = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    for (let i = 0; i < floorBody.length; i += 32_768) res.write(floorBody.slice(i, i + 32_768));
    res.end();
  });
  await new Promise<void>((resolve) => floor.listen(0, '127.0.0.1', resolve));
  const floorUrl = `http://127.0.0.1:${(floor.address() as AddressInfo).port}/`;
  try {
  for (const format of ['json', 'xml'] as const) {
    const ours: number[] = [];
    const base: number[] = [];
    const inproc: number[] = [];
    const runInProcess = async (c: (typeof cases)[number]) => {
      const t = performance.now();
      const { body, count } = await new Open311Service(app.orm.em.fork(), municipality, 'street')
        .renderRequestsText({ start: c.start, end: c.end, byUpdated: false, page: 1, pageSize: 1000 }, format);
      return { ms: performance.now() - t, count: body.length > 0 ? count : -1 };
    };
    const deployed: number[] = [];
    const transport: number[] = [];
    const runOurs = async (c: (typeof cases)[number], base = app.url) => {
      const t = performance.now();
      const res = await fetch(`${base}/open311/v2/requests.${format}?start_date=${c.start.toISOString()}&end_date=${c.end.toISOString()}`);
      const body = await res.text();
      const ms = performance.now() - t;
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${body.slice(0, 300)}`);
      return { ms, body, count: format === 'json' ? (JSON.parse(body) as unknown[]).length : body.split('<request>').length - 1 };
    };
    const runRaw = async (c: (typeof cases)[number]) => {
      const t = performance.now();
      const r = await raw.query(RAW, [app.municipalityId, c.start, c.end]);
      return { ms: performance.now() - t, count: r.rowCount ?? 0 };
    };
    for (const c of cases.slice(0, 5)) { await runOurs(c); await runRaw(c); if (hub) await runOurs(c, hub.url); }
    let results = 0;
    for (const [i, c] of cases.entries()) {
      let a: Awaited<ReturnType<typeof runOurs>>;
      let b: Awaited<ReturnType<typeof runRaw>>;
      if (i % 2) { a = await runOurs(c); b = await runRaw(c); } else { b = await runRaw(c); a = await runOurs(c); }
      if (a.count !== b.count) throw new Error(`mismatch: Open311 ${a.count} requests vs SQL ${b.count} rows`);
      results += a.count;
      ours.push(a.ms);
      base.push(b.ms);
      floorBody = a.body;
      const tf = performance.now();
      const fr = await fetch(floorUrl);
      if ((await fr.text()).length !== floorBody.length) throw new Error('transport floor: a different body');
      transport.push(performance.now() - tf);
      const p = await runInProcess(c);
      if (p.count !== b.count) throw new Error(`mismatch: in-process ${p.count} requests vs SQL ${b.count} rows`);
      inproc.push(p.ms);
      if (hub) {
        const d = await runOurs(c, hub.url);
        if (d.count !== b.count) throw new Error(`mismatch: deployed hub ${d.count} requests vs SQL ${b.count} rows`);
        deployed.push(d.ms);
      }
    }
    const mo = median(ours);
    const mb = median(base);
    out.push({
      name: `open311 GET requests.${format} (90 days, ≤1000 results)`,
      backend, n, ours: mo, baseline: mb, ratio: mo / mb, unit: 'ms (median)', target: 1.3,
      date: new Date().toISOString().slice(0, 10),
      notes: `p95 ours ${percentile(ours, 95).toFixed(1)} / raw ${percentile(base, 95).toFixed(1)} ms; ${iterations} windows, ${Math.round(results / iterations)} results on average; HTTP vs raw SQL over pg; ` +
        (hub ? 'the HTTP client runs in the server\'s process (see the deployed row)' : 'the embedded database, the server and the client in one process'),
    });
    const mt = median(transport);
    out.push({
      name: `open311 requests.${format}: HTTP transport alone (the same answer served from memory)`,
      backend, n, ours: mt, baseline: mb, ratio: mt / mb, unit: 'ms (median)', target: '—',
      date: new Date().toISOString().slice(0, 10),
      notes: `the floor under the HTTP rows: ${Math.round(Buffer.byteLength(floorBody) / 1024)} KB of the last answer, same pieces, same client (fetch); no target — context for the HTTP ratio`,
    });
    if (hub) {
      const md = median(deployed);
      out.push({
        name: `open311 GET requests.${format} from the hub as deployed (90 days, ≤1000 results)`,
        backend, n, ours: md, baseline: mb, ratio: md / mb, unit: 'ms (median)', target: 1.3,
        date: new Date().toISOString().slice(0, 10),
        notes: `node dist/server/main.js in its own process, the client in the runner's (as for the raw query); p95 ${percentile(deployed, 95).toFixed(1)} ms; same windows, interleaved`,
      });
    }
    const mi = median(inproc);
    out.push({
      name: `open311 requests.${format} rendered in-process (90 days, ≤1000 results)`,
      backend, n, ours: mi, baseline: mb, ratio: mi / mb, unit: 'ms (median)', target: 1.3,
      date: new Date().toISOString().slice(0, 10),
      notes: `query + masking + ISO times + ${format.toUpperCase()} serialisation, no HTTP; p95 ${percentile(inproc, 95).toFixed(1)} ms`,
    });
  }
  } finally {
    if (hub) await stopServer(hub);
    await new Promise((resolve) => floor.close(resolve));
  }
  await raw.end();
  return out;
}
