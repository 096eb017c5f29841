import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { backends } from './helpers/backends.js';
import { rawFetch, startTestApp, type TestApp } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { AuthService } from '../server/auth/sessions.js';
import { neutraliseCell } from '../server/export/cells.js';
import { safeNextPath } from '../web/src/next-path.js';
import { loadLimits } from '../server/config.js';
import fc from 'fast-check';

/** Issue 16: cost of aliases, authorization, bad input, formula injection, auth CSRF and lock-out, HTTP headers. */

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

describe('pure helpers', () => {
  it('keeps `next` after sign-in on this origin only', () => {
    const o = 'http://127.0.0.1:8080';
    expect(safeNextPath('/graphql', o)).toBe('/graphql');
    expect(safeNextPath('/intake.html?x=1#a', o)).toBe('/intake.html?x=1#a');
    for (const evil of ['/\\evil.example/phish', '/\t/evil.example/phish', '//evil.example/phish', 'https://evil.example/', 'javascript:alert(1)', '/login.html?next=//evil', '\\\\evil.example'])
      expect(safeNextPath(evil, o), evil).toBe('/');
    // What the browser would make of a raw query string: URLSearchParams decodes %5C and %09 first.
    expect(safeNextPath(new URLSearchParams('next=/%5Cevil.example/phish').get('next'), o)).toBe('/');
    expect(safeNextPath(new URLSearchParams('next=/%09/evil.example/phish').get('next'), o)).toBe('/');
    // Re-attack: dot segments that leave a path starting with `//` (protocol-relative: another host).
    for (const evil of ['/.//evil.example/x', '/..//evil.example', '/%2e//evil.example', '/./\\evil.example', '/a/..//evil.example', '/.///\\evil.example'])
      expect(safeNextPath(evil, o), evil).toBe(`/${evil.includes('/x') ? 'evil.example/x' : 'evil.example'}`);
    // Whatever `next` is, the browser resolves the answer to this origin.
    fc.assert(fc.property(fc.array(fc.constantFrom('/', '\\', '.', '..', '%2e', '%2f', '%5c', '\t', '\n', ' ', ':', '@', '#', '?', 'evil.example', 'http:', 'javascript:', 'x'), { maxLength: 8 }), (parts) => {
      const raw = parts.join('');
      const target = new URL(safeNextPath(raw, o), o);
      expect(target.origin, raw).toBe(o);
      expect(safeNextPath(raw, o).startsWith('//'), raw).toBe(false);
    }), { numRuns: 3000, seed: 8 });
  });

  it('neutralises cells that spreadsheets would run as formulas', () => {
    for (const s of ['=HYPERLINK("http://evil","x")', '+1+2', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(neutraliseCell(s)).toBe(`'${s}`);
    expect(neutraliseCell('Западный')).toBe('Западный');
    expect(neutraliseCell(-5)).toBe(-5);
  });
});

describe.each(backends)('hardening on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await withEnv({ RATE_LIMIT_PER_MINUTE: '0' }, () => startTestApp(backend, 400));
  });
  afterAll(async () => {
    await app?.close();
  });

  it('allows each expensive field once per operation (no alias multiplication), and prices GeoJSON by its rows', async () => {
    // 14 × 200 000 points is over the cost limit (one per 10 points); 14 small ones are refused as repeats.
    const big = await app.gql(`{ ${Array.from({ length: 14 }, (_, i) => `g${i}: appealsGeoJSON(limit: 200000)`).join(' ')} }`);
    expect(big.errors?.[0].message).toMatch(/GRAPHQL_MAX_COMPLEXITY/);
    const aliases = Array.from({ length: 14 }, (_, i) => `g${i}: appealsGeoJSON(limit: 100)`).join(' ');
    const r = await app.gql(`{ ${aliases} }`);
    expect(r.errors?.[0].message).toMatch(/«Тяжёлое» поле appealsGeoJSON — не более одного раза в запросе, в запросе 14/);
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const twice = await app.gql(`query($b: BBoxInput!) { a: heatmap(bbox: $b, zoom: 12) { total } b: heatmap(bbox: $b, zoom: 13) { total } }`, { b: { minLon: 81.1, minLat: 51.4, maxLon: 81.4, maxLat: 51.6 } });
    expect(twice.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    // Different expensive fields once each (the map's own mix) are fine.
    const mixed = await app.gql(`query($b: BBoxInput!) { appealsGeoJSON(limit: 10) heatmap(bbox: $b, zoom: 12) { total } }`, { b: { minLon: 81.1, minLat: 51.4, maxLon: 81.4, maxLat: 51.6 } });
    expect(mixed.errors).toBeUndefined();
    // One big layer is still allowed; the cost of a leaf list grows with its rows (one per 10).
    const one = await app.gql('{ appealsGeoJSON(limit: 200000) }');
    expect(one.errors).toBeUndefined();
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM appeal WHERE point IS NOT NULL');
    expect(one.data.appealsGeoJSON.features.length).toBe(n);
  });

  it('re-attack: aliases of aggregates and of introspection, fragments and inline fragments cannot multiply work', async () => {
    const repeated = (r: any, field: string) => {
      expect(r.errors?.[0].message, JSON.stringify(r.errors)).toMatch(new RegExp(`поле ${field} — не более одного раза в запросе`));
      expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    };
    // Each alias with another filter misses the aggregate cache and queues one more heavy job ahead of other users.
    repeated(await app.gql(`{ ${Array.from({ length: 5 }, (_, i) => `s${i}: districtStats(filter: { text: "яма${i}" }) { districts { count } }`).join(' ')} }`), 'districtStats');
    repeated(await app.gql('{ a: appealCounts(groupBy: THEME) { count } b: appealCounts(groupBy: DISTRICT) { count } }'), 'appealCounts');
    repeated(await app.gql('{ a: answerQualityByOrganization { __typename } b: answerQualityByOrganization(filter: { text: "вода" }) { __typename } }'), 'answerQualityByOrganization');
    repeated(await app.gql('{ a: indicatorDashboard(from: "2025-01", to: "2025-12") { __typename } b: indicatorDashboard(from: "2024-01", to: "2025-12") { __typename } }'), 'indicatorDashboard');
    // Full introspection, ~150 KB each, is not priced by the cost estimate: once.
    repeated(await app.gql('{ a: __schema { types { name } } b: __schema { types { name } } }'), '__schema');
    // Fragments and inline fragments are counted like fields written out.
    repeated(await app.gql('{ ...F ...G } fragment F on Query { x: appealsGeoJSON(limit: 10) } fragment G on Query { y: appealsGeoJSON(limit: 10) }'), 'appealsGeoJSON');
    repeated(await app.gql('{ ... on Query { a: districtStats { districts { count } } } ... on Query { ...H } } fragment H on Query { b: districtStats(filter: { text: "x" }) { districts { count } } }'), 'districtStats');
    // A literal nested 20 000 levels deep: refused in Russian (token limit or the parser's stack), never a 500.
    const deep = await app.defaultClient.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ districtStats(filter: { districtIds: ${'['.repeat(20_000)}${']'.repeat(20_000)} }) { districts { count } } }` }) });
    expect(deep.status).toBe(400);
    expect((await deep.json()).errors[0].message).toMatch(/слишком глубоко вложен|не более \d+ лексем/);
    // Nested introspection is refused by the server's introspection depth rule.
    expect((await app.gql('{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }')).errors?.[0].message).toMatch(/introspection depth/i);
    // Each once — the map's and the dashboards' own queries — is fine.
    const ok = await app.gql('{ districtStats { districts { count } } appealCounts(groupBy: THEME) { count } answerQualityByOrganization { __typename } __schema { queryType { name } } }');
    expect(ok.errors).toBeUndefined();
  });

  it('runs at most EXPENSIVE_PER_USER expensive operations of one user at once; the others wait', async () => {
    // With 2 slots, 6 concurrent GeoJSON requests all succeed (queued), none is refused.
    const all = await Promise.all(Array.from({ length: 6 }, () => app.gql('{ appealsGeoJSON(limit: 1000) }')));
    expect(all.every((x) => !x.errors)).toBe(true);
  });

  it('rate-limits /tiles and /exports per user', async () => {
    const limited = await withEnv({ TILE_RATE_LIMIT_PER_MINUTE: '3', EXPORT_RATE_LIMIT_PER_MINUTE: '2', RATE_LIMIT_PER_MINUTE: '1000' }, () => startTestApp(backend, 0));
    try {
      const tiles = [];
      for (let i = 0; i < 5; i++) tiles.push((await limited.defaultClient.fetch('/tiles/appeals/12/2972/1360.mvt')).status);
      expect(tiles.slice(0, 3).every((s) => s === 200 || s === 204)).toBe(true);
      expect(tiles.slice(3)).toEqual([429, 429]);
      const exp = [];
      for (let i = 0; i < 3; i++) exp.push((await limited.defaultClient.fetch('/exports/problems.csv')).status);
      expect(exp).toEqual([200, 200, 429]);
      const body = await (await limited.defaultClient.fetch('/exports/problems.csv')).json();
      expect(body.errors[0].message).toMatch(/EXPORT_RATE_LIMIT_PER_MINUTE/);
    } finally {
      await limited.close();
    }
  });

  it('bounds the bytes of a GraphQL answer (GRAPHQL_MAX_RESPONSE_MB), counting UTF-8 bytes, not characters', async () => {
    // Descriptions of the schema are Russian: the answer has more bytes than characters.
    const Q = '{ __schema { types { name description fields { name description } } } }';
    const text = await (await app.defaultClient.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: Q }) })).text();
    const [chars, bytes] = [text.length, Buffer.byteLength(text)];
    expect(bytes).toBeGreaterThan(chars * 1.2);
    const limit = Math.floor((chars + bytes) / 2); // more characters would fit, not the bytes
    const small = await startTestApp(backend, 0, undefined, { limits: { ...loadLimits(), rateLimitPerMinute: 0, maxResponseBytes: limit } });
    try {
      const r = await small.defaultClient.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: Q }) });
      const body = await r.text();
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(limit);
      expect(JSON.parse(body).errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(JSON.parse(body).errors[0].message).toMatch(/Ответ слишком большой: более \d+ КБ \(GRAPHQL_MAX_RESPONSE_MB\)/);
      // A smaller answer goes through.
      expect((await small.gql('{ channels { code } }')).data.channels.length).toBeGreaterThan(0);
    } finally {
      await small.close();
    }
  });

  it('lets only curators and coordinators recompute the city-wide problem list; officers move problems to IN_PROGRESS/PLANNED only', async () => {
    const R = 'mutation { recomputeProblems(from: "2020-01-01T00:00:00Z", to: "2020-01-02T00:00:00Z") { id } }';
    for (const role of [Role.BLOCK_LEAD, Role.WORKER, Role.ORG_OFFICER, Role.ANALYST, Role.ADMIN]) {
      const r = await app.gqlAs(role, R);
      expect(r.errors?.[0].extensions?.code, role).toBe('FORBIDDEN');
    }
    const ok = await app.gqlAs(Role.COORDINATOR, 'mutation { recomputeProblems { id } }');
    expect(ok.errors).toBeUndefined();
    // A problem of the officer's organisation (uzhkh or one below it).
    const officer = await app.as(Role.ORG_OFFICER);
    const all = await app.gql('{ problems(first: 50) { edges { node { id status } } } }');
    const p = all.data.problems.edges.map((e: any) => e.node).find((n: any) => n.status === 'DETECTED');
    expect(p).toBeTruthy();
    // Assigned to the officer's organisation by the centre.
    const [{ id: uzhkh }] = await app.sql(`SELECT id FROM organization WHERE code = 'uzhkh'`);
    expect((await app.gql(`mutation { assignProblem(id: "${p.id}", organizationId: "${uzhkh}") { id } }`)).errors).toBeUndefined();
    const confirm = await officer.gql(`mutation { setProblemStatus(id: "${p.id}", status: CONFIRMED) { status } }`);
    expect(confirm.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await app.gql(`mutation { setProblemStatus(id: "${p.id}", status: CONFIRMED) { status } }`)).errors).toBeUndefined();
    expect((await officer.gql(`mutation { setProblemStatus(id: "${p.id}", status: IN_PROGRESS) { status } }`)).data.setProblemStatus.status).toBe('IN_PROGRESS');
    expect((await officer.gql(`mutation { setProblemStatus(id: "${p.id}", status: PLANNED) { status } }`)).data.setProblemStatus.status).toBe('PLANNED');
    expect((await officer.gql(`mutation { setProblemStatus(id: "${p.id}", status: RESOLVED) { status } }`)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('answers bad input with BAD_USER_INPUT or a correct answer, never a 500', async () => {
    const nul = await app.gql('query($f: AppealFilter) { appeals(filter: $f) { totalCount } }', { f: { text: 'яма\u0000' } });
    expect(nul.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'filter.text' } });
    const year0 = await app.gql('query($f: AppealFilter) { appeals(filter: $f) { totalCount } }', { f: { from: '0000-01-01T00:00:00Z' } });
    expect(year0.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await app.defaultClient.fetch('/tiles/appeals/12/2972/1360.mvt?text=%00')).status).toBe(400);
    const order = await app.defaultClient.fetch('/exports/problems.csv?orderBy=toString');
    expect(order.status).toBe(400);
    expect((await app.defaultClient.fetch('/exports/problems.csv?statuses=constructor')).status).toBe(400);
    expect((await app.defaultClient.fetch('/exports/problems.csv?sources=__proto__')).status).toBe(400);
    // Re-attack: a prototype key as the tile layer, NUL in the problem search (GraphQL and exports).
    for (const layer of ['constructor', '__proto__', 'toString']) {
      const t = await app.defaultClient.fetch(`/tiles/${layer}/12/2972/1360.mvt`);
      expect(t.status, layer).toBe(400);
      expect((await t.json()).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'layer' });
    }
    expect((await app.defaultClient.fetch('/exports/problems.csv?text=%00')).status).toBe(400);
    const pnul = await app.gql('query($f: ProblemFilter) { problems(filter: $f) { totalCount } }', { f: { text: 'яма\u0000' } });
    expect(pnul.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'filter.text' } });
    // The last tile of zoom 22 (x = 2^22 − 1) is a valid address: an (empty) tile, not a 400.
    const edge = await app.defaultClient.fetch('/tiles/appeals/22/4194303/1398101.mvt');
    expect([200, 204]).toContain(edge.status);
  });

  it('neutralises formulas in CSV exports and never writes XLSX formulas', async () => {
    await app.sql(`UPDATE district SET name = '=HYPERLINK("http://evil.example","Нажмите")' WHERE id = (SELECT district_id FROM problem WHERE district_id IS NOT NULL LIMIT 1)`);
    const csv = await (await app.defaultClient.fetch('/exports/problems.csv')).text();
    expect(csv).toContain(`'=HYPERLINK`);
    for (const line of csv.split('\r\n')) for (const cell of line.split(';')) expect(cell.replace(/^"/, ''), cell).not.toMatch(/^[=+@\t\r]/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await (await app.defaultClient.fetch('/exports/problems.xlsx')).arrayBuffer()) as never);
    let found = false;
    wb.worksheets[0].eachRow((row) => row.eachCell((c) => {
      expect(c.formula).toBeFalsy();
      if (String(c.value).includes('HYPERLINK')) found = true;
    }));
    expect(found).toBe(true);
  });

  it('refuses form-encoded and cross-site sign-in and sign-out (login/logout CSRF)', async () => {
    const form = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'login=a&password=b' });
    expect(form.status).toBe(415);
    const cross = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: '{"login":"a","password":"b"}' });
    expect(cross.status).toBe(403);
    const site = await rawFetch(`${app.url}/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, body: '{}' });
    expect(site.status).toBe(403);
    const textPlain = await rawFetch(`${app.url}/auth/logout`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(textPlain.status).toBe(415);
    const same = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: app.url, 'sec-fetch-site': 'same-origin' }, body: '{"login":"nobody","password":"b"}' });
    expect(same.status).toBe(401);
  });

  it('locks sign-in per account and source, the same for real and unknown logins, with backoff', async () => {
    await app.signInNew({ login: 'desk-user', role: Role.WORKER, password: 'пароль-рабочего-места' });
    const svc = new AuthService(app.orm, { ...app.auth.config, maxFailures: 3, lockMinutes: 15, ipMaxFailures: 1000 });
    const sign = (login: string, password: string, ip: string) => svc.signIn(login, password, { ip }).then(() => 'ok', (e) => `${e.extensions.reason}: ${e.message}`);
    const attacker = '203.0.113.66';
    for (let i = 0; i < 3; i++) {
      await sign('desk-user', `wrong-${i}`, attacker);
      await sign('no-such-user', `wrong-${i}`, attacker);
    }
    const real = await sign('desk-user', 'пароль-рабочего-места', attacker);
    const ghost = await sign('no-such-user', 'x', attacker);
    expect(real).toMatch(/^LOCKED/);
    // The same answer, word for word apart from the time, for an account that does not exist.
    expect(ghost.replace(/\d{4}-\S+/, 'T')).toBe(real.replace(/\d{4}-\S+/, 'T'));
    // The user at their own desk is not locked out by the attacker.
    expect(await sign('desk-user', 'пароль-рабочего-места', '192.0.2.10')).toBe('ok');
    // Backoff: the second lock of the same pair lasts twice as long.
    const minutes = async () => (await app.sql(`SELECT round(extract(epoch FROM locked_until - now()) / 60)::int AS m FROM sign_in_lock WHERE login = 'desk-user' AND source = ?`, [attacker]))[0].m;
    expect(await minutes()).toBe(15);
    await app.sql(`UPDATE sign_in_lock SET locked_until = now() - interval '1 second' WHERE login = 'desk-user'`);
    for (let i = 0; i < 3; i++) await sign('desk-user', `wrong-${i}`, attacker);
    expect(await minutes()).toBe(30);
  });

  it('sends security headers on pages, API and tiles; no source maps in production', async () => {
    for (const p of ['/', '/login.html', '/graphql', '/tiles/appeals/12/2972/1360.mvt', '/healthz']) {
      const res = await app.defaultClient.fetch(p, p === '/graphql' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' } : undefined);
      expect(res.headers.get('content-security-policy'), p).toMatch(/script-src 'self';.*frame-ancestors 'none'/);
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), p).toBe('DENY');
      expect(res.headers.get('referrer-policy'), p).toBe('same-origin');
    }
    const page = await (await app.defaultClient.fetch('/')).text();
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page).not.toMatch(/\sstyle="/);
    const prod = await withEnv({ NODE_ENV: 'production' }, () => startTestApp(backend, 0));
    try {
      const js = /src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
      expect(js).toBeTruthy();
      expect((await prod.defaultClient.fetch(`${js}.map`)).status).toBe(404);
      expect((await prod.defaultClient.fetch(js!)).status).toBe(200);
    } finally {
      await prod.close();
    }
  });
});
