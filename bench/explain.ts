import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { App } from '../server/app.js';
import { repoRoot } from '../server/reference/files.js';
import { benchAuth } from './lib.js';

/**
 * EXPLAIN (ANALYZE, BUFFERS) of every statement one request of each kind of the load mix runs: the requests are sent
 * to the runner's in-process app while pg's Client.query is watched, and each statement seen (with its bound values)
 * is then explained twice on a separate connection (the second, warm, run is written). One file per kind and backend:
 * bench/results/explain-<kind>.txt (PostGIS) and explain-<kind>-embedded.txt. The old spatial-join district statistics are explained too
 * (explain-districtStats-spatial-join.txt), for the comparison in the notes.
 */
export async function captureExplains(app: App, requests: { name: string; body: string }[], log: (m: string) => void): Promise<void> {
  const dir = path.join(repoRoot(), 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  const seen: { text: string; values: unknown[] }[] = [];
  let watching = false;
  proto.query = function (this: unknown, ...args: unknown[]) {
    if (watching) {
      const a = args[0] as string | { text: string; values?: unknown[] };
      const text = typeof a === 'string' ? a : a?.text;
      const values = typeof a === 'string' ? (Array.isArray(args[1]) ? args[1] as unknown[] : []) : a?.values ?? [];
      if (text && /^\s*(SELECT|WITH)\b/i.test(text) && !/heatmap_data_version|FROM "?session"?|auth_session/i.test(text)) seen.push({ text, values });
    }
    return original.apply(this, args);
  };
  const client = new pg.Client({ connectionString: app.databaseUrl });
  await client.connect();
  try {
    for (const name of [...new Set(requests.map((r) => r.name))].sort()) {
      const req = requests.find((r) => r.name === name)!;
      seen.length = 0;
      watching = true;
      const res = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { ...benchAuth.headers, 'content-type': 'application/json' }, body: req.body });
      await res.text();
      watching = false;
      const out: string[] = [`# ${name}: EXPLAIN (ANALYZE, BUFFERS) of each statement of one request`, `# request: ${req.body.slice(0, 600)}`, ''];
      for (const s of seen.splice(0)) {
        out.push('-- statement:', s.text.trim(), `-- values: ${JSON.stringify(s.values).slice(0, 500)}`);
        try {
          await client.query({ text: `EXPLAIN (ANALYZE, BUFFERS) ${s.text}`, values: s.values });
          const plan = await client.query({ text: `EXPLAIN (ANALYZE, BUFFERS) ${s.text}`, values: s.values });
          out.push(...plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']), '');
        } catch (e) {
          out.push(`-- not explained: ${(e as Error).message}`, '');
        }
      }
      const file = `explain-${name}${app.embedded ? '-embedded' : ''}.txt`;
      fs.writeFileSync(path.join(dir, file), out.join('\n'));
      log(`EXPLAIN ${name}: bench/results/${file}`);
    }
    // The spatial join districtStats used before (issue 17), on the first districtStats request's period.
    const ds = requests.find((r) => r.name === 'districtStats');
    if (ds) {
      const f = (JSON.parse(ds.body) as { variables: { filter: { from: string; to: string } } }).variables.filter;
      const sql = `SELECT d.id, d.name, count(a.id) FILTER (WHERE a.received_at >= $2) AS n, count(a.id) FILTER (WHERE a.received_at < $2) AS prev
        FROM district d LEFT JOIN appeal a ON ST_Intersects(d.geom, a.point) AND a.municipality_id = $1 AND a.received_at >= $3 AND a.received_at < $4
       WHERE d.municipality_id = $1 GROUP BY d.id, d.name ORDER BY d.name, d.id`;
      const from = new Date(f.from), to = new Date(f.to);
      const prevFrom = new Date(from.getTime() - (to.getTime() - from.getTime()));
      const values = [app.municipalityId, from, prevFrom, to];
      await client.query({ text: sql, values });
      const plan = await client.query({ text: `EXPLAIN (ANALYZE, BUFFERS) ${sql}`, values });
      fs.writeFileSync(path.join(dir, `explain-districtStats-spatial-join${app.embedded ? '-embedded' : ''}.txt`),
        ['# districtStats as it was (spatial join), same period', sql, `-- values: ${JSON.stringify(values)}`, ...plan.rows.map((r: Record<string, string>) => r['QUERY PLAN'])].join('\n'));
    }
  } finally {
    watching = false;
    proto.query = original;
    await client.end();
  }
}
