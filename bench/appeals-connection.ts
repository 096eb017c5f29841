import pg from 'pg';
import type { App } from '../server/app.js';
import { median, mulberry32, percentile, type SummaryRow } from './lib.js';

const QUERY = `query Bench($filter: AppealFilter) {
  appeals(first: 100, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id externalId receivedAt channel status text address point
      district { id name } theme { id name } organization { id name } } }
  }
}`;

/** The same result in one hand-written SQL round trip per part (page with joins, count). */
const RAW_PAGE = `SELECT a.id, a.external_id, a.received_at, a.channel, a.status, a.text, a.address, ST_AsGeoJSON(a.point, 7)::json AS point,
       d.id AS district_id, d.name AS district_name, t.id AS theme_id, t.name AS theme_name, o.id AS org_id, o.name AS org_name
  FROM appeal a
  LEFT JOIN district d ON d.id = a.district_id
  LEFT JOIN theme t ON t.id = a.theme_id
  LEFT JOIN organization o ON o.id = a.organization_id
 WHERE a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at < $3 AND a.point && ST_MakeEnvelope($4, $5, $6, $7, 4326)
 ORDER BY a.received_at DESC, a.id DESC LIMIT 101`;
const RAW_COUNT = `SELECT count(*)::int AS n FROM appeal a
 WHERE a.municipality_id = $1 AND a.received_at >= $2 AND a.received_at < $3 AND a.point && ST_MakeEnvelope($4, $5, $6, $7, 4326)`;

export async function benchAppealsConnection(app: App, backend: SummaryRow['backend'], n: number, iterations: number): Promise<SummaryRow> {
  const raw = new pg.Client({ connectionString: app.databaseUrl });
  await raw.connect();
  const rnd = mulberry32(2026);
  const cases = Array.from({ length: iterations }, () => {
    const w = 0.01 + rnd() * 0.05;
    const h = w * 0.6;
    const minLon = 81.15 + rnd() * (0.12 - w);
    const minLat = 51.48 + rnd() * (0.07 - h);
    const start = new Date(Date.UTC(2025, Math.floor(rnd() * 20), 1));
    const end = new Date(start.getTime() + (30 + Math.floor(rnd() * 90)) * 86400_000);
    return { minLon, minLat, maxLon: minLon + w, maxLat: minLat + h, from: start, to: end };
  });
  const ours: number[] = [];
  const base: number[] = [];
  const runOurs = async (c: (typeof cases)[number]) => {
    const t = performance.now();
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, variables: { filter: { from: c.from, to: c.to, bbox: { minLon: c.minLon, minLat: c.minLat, maxLon: c.maxLon, maxLat: c.maxLat } } } }),
    });
    const body = (await res.json()) as { errors?: unknown; data: { appeals: { totalCount: number } } };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return { ms: performance.now() - t, total: body.data.appeals.totalCount as number };
  };
  const runRaw = async (c: (typeof cases)[number]) => {
    const t = performance.now();
    const params = [app.municipalityId, c.from, c.to, c.minLon, c.minLat, c.maxLon, c.maxLat];
    await raw.query(RAW_PAGE, params);
    const r = await raw.query(RAW_COUNT, params);
    return { ms: performance.now() - t, total: r.rows[0].n as number };
  };
  // Warm-up, then interleave so both see the same machine noise and cache state.
  for (const c of cases.slice(0, 5)) { await runOurs(c); await runRaw(c); }
  for (const [i, c] of cases.entries()) {
    const [a, b] = i % 2 ? [await runOurs(c), await runRaw(c)] : [await runRaw(c), await runOurs(c)].reverse();
    if (a.total !== b.total) throw new Error(`mismatch: GraphQL totalCount ${a.total} vs SQL ${b.total}`);
    ours.push(a.ms);
    base.push(b.ms);
  }
  await raw.end();
  const mo = median(ours);
  const mb = median(base);
  return {
    name: 'appeals-connection (page 100 + nested, period+bbox)',
    backend, n, ours: mo, baseline: mb, ratio: mo / mb, unit: 'ms (median)', target: 1.5,
    date: new Date().toISOString().slice(0, 10),
    notes: `p95 ours ${percentile(ours, 95).toFixed(1)} / raw ${percentile(base, 95).toFixed(1)} ms; ${iterations} viewports`,
  };
}
