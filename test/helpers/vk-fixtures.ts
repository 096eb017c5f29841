import fs from 'node:fs';
import path from 'node:path';

const fixtures = path.resolve('test/fixtures/vk');
const fx = (name: string) => fs.readFileSync(path.join(fixtures, name), 'utf8');

/** A fetch that answers from the recorded responses by method (and post id), recording every call. */
export function fixtureFetch(overrides: Record<string, string[]> = {}) {
  const calls: { method: string; params: Record<string, string> }[] = [];
  const queue = new Map(Object.entries(overrides).map(([k, v]) => [k, [...v]]));
  const f = (async (url: string | URL, init?: RequestInit) => {
    const method = String(url).split('/').pop()!;
    const params = Object.fromEntries(new URLSearchParams(String(init?.body ?? '')));
    calls.push({ method, params });
    const q = queue.get(method);
    if (q?.length) return new Response(fx(q.shift()!), { status: 200 });
    const file = method === 'wall.getComments' ? `wall.getComments-${params.post_id}.json` : `${method}.json`;
    if (!fs.existsSync(path.join(fixtures, file))) return new Response('{"response":{"count":0,"items":[]}}', { status: 200 });
    return new Response(fx(file), { status: 200 });
  }) as unknown as typeof fetch;
  return { fetch: f, calls };
}

