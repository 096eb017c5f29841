import fs from 'node:fs';
import path from 'node:path';

export interface SummaryRow {
  name: string;
  backend: 'postgis' | 'embedded';
  n: number;
  ours: number;
  baseline: number;
  ratio: number;
  unit: string;
  target: number | string;
  date: string;
  /** Extra figures (p95 etc.), shown in the README table. */
  notes?: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Seeded PRNG so every run measures the same viewports and filters. */
export { mulberry32 } from '../server/util/random.js';

/** Merges rows into bench/results/summary.json (replacing same name+backend) and rewrites the README. */
export function writeResults(dir: string, rows: SummaryRow[]) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'summary.json');
  const old: SummaryRow[] = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
  const key = (r: SummaryRow) => `${r.name}|${r.backend}`;
  const fresh = new Set(rows.map(key));
  const all = [...old.filter((r) => !fresh.has(key(r))), ...rows].sort((a, b) => key(a).localeCompare(key(b)));
  fs.writeFileSync(file, JSON.stringify(all, null, 2) + '\n');
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench`. Ratios are measured side by side in one run (ours and the baseline interleaved), medians unless noted.',
    '`ratio` = ours / baseline; `target` is what the issue asks for.',
    '',
    '| benchmark | backend | n | ours | baseline | ratio | target | unit | notes | date |',
    '|---|---|---:|---:|---:|---:|---:|---|---|---|',
    ...all.map((r) => `| ${r.name} | ${r.backend} | ${r.n.toLocaleString('en-US')} | ${r.ours.toFixed(2)} | ${r.baseline.toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.target} | ${r.unit} | ${r.notes ?? ''} | ${r.date} |`),
    '',
  ];
  // Hand-written notes on the runs (what was measured where, what is missing) follow the generated table.
  const notes = path.join(dir, 'notes.md');
  if (fs.existsSync(notes)) lines.push(fs.readFileSync(notes, 'utf8'));
  fs.writeFileSync(path.join(dir, 'README.md'), lines.join('\n'));
}

/**
 * Signs the benchmark in: an account (CURATOR: every row, no scope) is created in the bench database, and every
 * fetch to the app carries its token. Returns the header for load generators (autocannon).
 */
export const benchAuth: { headers: Record<string, string> } = { headers: {} };

export async function signInBench(app: { url: string; orm: { em: { fork(): unknown } }; municipalityId: number }): Promise<Record<string, string>> {
  const { UserService, randomPassword } = await import('../server/auth/users.js');
  const { Role } = await import('../server/auth/roles.js');
  const password = randomPassword(20);
  const svc = new UserService(app.orm.em.fork() as never, app.municipalityId);
  const existing = await svc.byLogin('bench');
  if (existing) await svc.setPassword(existing.id, password);
  else await svc.create({ login: 'bench', displayName: 'Нагрузочный тест', role: Role.CURATOR, password });
  const res = await fetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'bench', password }) });
  const { token } = (await res.json()) as { token: string };
  const origin = new URL(app.url).origin;
  const plain = globalThis.fetch.bind(globalThis);
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.origin !== origin) return plain(input, init);
    const headers = new Headers(init?.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return plain(input, { ...init, headers });
  }) as typeof fetch;
  benchAuth.headers = { authorization: `Bearer ${token}` };
  return benchAuth.headers;
}
