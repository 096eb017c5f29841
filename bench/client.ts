import http from 'node:http';

/**
 * The benchmark's load client, in its own process (bench/spawn.ts starts it): `connections` loops over one
 * keep-alive agent, each sending the next request body as soon as its previous answer is read, for `seconds` or
 * until `requests` answers. Every answer is read and checked (HTTP 200, no GraphQL `errors`); with `collectIds` the
 * ids of every answer are returned (`"id":` values in order, for the side-by-side check).
 */
export interface ClientJob {
  url: string;
  path: string;
  /** GET sends no body (the bodies then only count requests). */
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  bodies: string[];
  connections: number;
  seconds?: number;
  requests?: number;
  /** Request kinds (per body), for per-kind figures. */
  kinds?: string[];
  collectIds?: boolean;
}

export interface ClientResult {
  elapsed: number;
  /** [kind index, ms, ok] per answer, flattened. */
  samples: number[];
  firstErrors: string[];
  ids?: string[][];
}

const ID = /"id":"?(\d+)"?/g;

export async function runJob(job: ClientJob): Promise<ClientResult & { kinds: string[] }> {
  const base = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const samples: number[] = [];
  const firstErrors: string[] = [];
  const ids: string[][] | undefined = job.collectIds ? new Array(job.bodies.length) : undefined;
  const kindIndex = new Map<string, number>();
  const kindOf = (i: number) => {
    const k = job.kinds?.[i] ?? '';
    let n = kindIndex.get(k);
    if (n === undefined) { n = kindIndex.size; kindIndex.set(k, n); }
    return n;
  };
  const started = performance.now();
  const deadline = job.seconds ? started + job.seconds * 1000 : Infinity;
  let next = 0;
  const one = (i: number) => new Promise<void>((resolve) => {
    const body = job.bodies[i];
    const t = performance.now();
    const finish = (ok: boolean, text: string, status?: number) => {
      samples.push(kindOf(i), performance.now() - t, ok ? 1 : 0);
      if (!ok && firstErrors.length < 5) firstErrors.push(`${job.kinds?.[i] ?? ''} ${status ?? ''}: ${text.slice(0, 300)}`);
      if (ok && ids) ids[i] = [...text.matchAll(ID)].map((m) => m[1]);
      resolve();
    };
    const get = job.method === 'GET';
    const r = http.request({ host: base.hostname, port: base.port, agent, method: get ? 'GET' : 'POST', path: job.path,
      headers: get ? job.headers : { ...job.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        finish(res.statusCode === 200 && (get || (text.startsWith('{"data"') && !text.includes('"errors"'))), text, res.statusCode);
      });
      res.on('error', (e) => finish(false, e.message));
    });
    r.on('error', (e) => finish(false, e.message));
    r.end(get ? undefined : body);
  });
  await Promise.all(Array.from({ length: job.connections }, async () => {
    for (;;) {
      if (performance.now() >= deadline) return;
      if (job.requests !== undefined && next >= job.requests) return;
      await one(next++ % job.bodies.length);
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { elapsed, samples, firstErrors, ids, kinds: [...kindIndex.keys()] };
}

// Run as a child process: one job per message, the result sent back.
if (process.send) {
  process.on('message', (job: ClientJob) => {
    runJob(job).then((r) => process.send!(r), (e) => process.send!({ error: String(e) }));
  });
  process.on('disconnect', () => process.exit(0));
}
