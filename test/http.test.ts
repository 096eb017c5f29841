import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, templateDir } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';

describe.each(backends)('HTTP surface on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(backend, 200);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('reports health', async () => {
    const r = await fetch(`${app.url}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('serves the client configuration with an offline default basemap', async () => {
    const r = await fetch(`${app.url}/config.json`);
    const c = await r.json();
    expect(c.municipality).toMatchObject({ code: 'rubtsovsk', name: 'город Рубцовск' });
    expect(c.basemapStyleUrl ?? null).toBeNull();
  });

  it('gives browsers the bundled GraphiQL at GET /graphql and API clients GraphQL', async () => {
    const html = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(html.status).toBe(200);
    const body = await html.text();
    expect(body).toMatch(/<html/i);
    expect(body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}\//i);
    const api = await fetch(`${app.url}/graphql?query=${encodeURIComponent('{ channels { code } }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect((await api.json()).data.channels).toHaveLength(8);
  });

  it('answers broken requests with a clear 4xx and no internals', async () => {
    const bad = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(bad.status).toBe(400);
    const text = await bad.text();
    expect(text).toMatch(/JSON/);
    expect(text).not.toMatch(/at .*\.js:\d+/);
    const syntax = await app.gql('{ appeals(first: 1) { edges { node { id } } }');
    expect(syntax.errors![0].extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    const unknown = await app.gql('{ appeals { nope } }');
    expect(unknown.errors![0].message).toMatch(/nope/);
    const wrongType = await app.gql('{ appeals(first: "ten") { totalCount } }');
    expect(wrongType.errors![0].message).toMatch(/Int/);
  });
});

describe('embedded backend', () => {
  it('keeps its data in the folder across restarts', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-persist-'));
    fs.rmSync(dir, { recursive: true });
    fs.cpSync(templateDir, dir, { recursive: true });
    try {
      const first = await startTestApp('embedded', 150, dir);
      const before = (await first.sql('SELECT count(*)::int AS n, max(id) AS m FROM appeal'))[0];
      await first.close();
      expect(before.n).toBe(150);
      const second = await startTestApp('embedded', 150, dir);
      const after = (await second.sql('SELECT count(*)::int AS n, max(id) AS m FROM appeal'))[0];
      await second.close();
      expect(after).toEqual(before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
