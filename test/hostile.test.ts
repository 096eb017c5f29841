import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { loadLimits } from '../server/config.js';
import { rateLimitKey } from '../server/http/limits.js';
import { bearer, post as rawPost, upload, withEnv, type GqlBody } from './hostile-support.js';

/**
 * Hostile clients against the GraphQL surface: limits on depth, cost, aliases, directives,
 * tokens, page size, batching, body and upload size, rate limit, introspection, error masking,
 * SQL injection through filters, full-text search and tile parameters, and a property-based
 * run of random filters. Every bad request gets a clear 4xx; nothing gets a 500 or changes data.
 */

/**
 * The answer must be a user error (never an internal one) and carry no internals. Errors found
 * before execution are HTTP 400; a resolver's BAD_USER_INPUT comes with 200, as GraphQL answers
 * execution errors.
 */
function expectUserError(r: { status: number; body: GqlBody }, code: string | RegExp, message?: RegExp) {
  const short = JSON.stringify(r.body).slice(0, 300);
  expect(r.status, short).toBeLessThan(500);
  const e = r.body.errors?.[0];
  expect(e, short).toBeDefined();
  if (r.status === 200) expect(r.body.data == null || Object.values(r.body.data).every((v) => v == null), short).toBe(true);
  expect(e!.extensions?.code).toMatch(code);
  if (message) expect(e!.message).toMatch(message);
  expect(JSON.stringify(r.body)).not.toMatch(/stacktrace|\bat .*\.(js|ts):\d+|SELECT|INSERT|relation "/);
}


/**
 * The code of a refusal, as the fuzzing expects it: another municipality named by `municipalityId` is FORBIDDEN
 * (docs/region.md), which for a fuzzer is the same as bad input.
 */
function allowedRefusal(e: { extensions?: Record<string, unknown> }): unknown {
  return e.extensions?.code === 'FORBIDDEN' && /municipalityId$/.test(String(e.extensions?.field ?? '')) ? 'BAD_USER_INPUT' : e.extensions?.code;
}

describe.each(backends)('hostile GraphQL clients on %s', (backend) => {
  let app: TestApp;
  let auth: Record<string, string>;
  const limits = loadLimits({});
  const post = (url: string, body: unknown) => rawPost(url, body, auth);
  beforeAll(async () => {
    // The property-based run sends a few hundred requests: the rate limit has its own app below.
    app = await withEnv({ RATE_LIMIT_PER_MINUTE: '0' }, () => startTestApp(backend, 300));
    auth = await bearer(app);
  });
  afterAll(async () => {
    await app?.close();
  });
  const counts = async () => (await app.sql(`SELECT (SELECT count(*) FROM appeal)::int AS appeals, (SELECT count(*) FROM appeal_event)::int AS events,
    (SELECT count(*) FROM district)::int AS districts, (SELECT count(*) FROM theme)::int AS themes`))[0];

  it('refuses queries deeper than GRAPHQL_MAX_DEPTH and accepts ordinary ones', async () => {
    let nested = 'id';
    for (let i = 0; i < limits.maxDepth + 3; i++) nested = `id parent { ${nested} }`;
    expectUserError(await post(app.url, { query: `{ organizations { ${nested} } }` }), 'GRAPHQL_VALIDATION_FAILED', /GRAPHQL_MAX_DEPTH/);
    const ok = await post(app.url, { query: '{ appeals(first: 5) { edges { node { id district { name } theme { name parent { name } } events { kind } } } } }' });
    expect(ok.status).toBe(200);
    expect(ok.body.data.appeals.edges).toHaveLength(5);
    // Fragments are followed, not a way around the limit.
    const frag = `query { organizations { ...A } } fragment A on Organization { parent { ...B } } fragment B on Organization { parent { ...C } }
      fragment C on Organization { parent { ...D } } fragment D on Organization { parent { ...E } } fragment E on Organization { parent { ...F } }
      fragment F on Organization { parent { parent { parent { parent { parent { parent { id } } } } } } }`;
    expectUserError(await post(app.url, { query: frag }), 'GRAPHQL_VALIDATION_FAILED', /GRAPHQL_MAX_DEPTH/);
  });

  it('refuses alias batching, directive floods and oversized documents', async () => {
    const aliases = Array.from({ length: limits.maxAliases + 5 }, (_, i) => `a${i}: channels { code }`).join(' ');
    expectUserError(await post(app.url, { query: `{ ${aliases} }` }), /GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/, /GRAPHQL_MAX_ALIASES/);
    const directives = Array.from({ length: limits.maxDirectives + 5 }, () => '@include(if: true)').join(' ');
    expectUserError(await post(app.url, { query: `{ channels ${directives} { code } }` }), /GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/, /GRAPHQL_MAX_DIRECTIVES/);
    const tokens = `{ channels { ${'code '.repeat(limits.maxTokens)} } }`;
    expectUserError(await post(app.url, { query: tokens }), "GRAPHQL_PARSE_FAILED", /GRAPHQL_MAX_TOKENS/);
    // A JSON array of operations (HTTP batching) is refused as a whole.
    const batch = await post(app.url, [{ query: '{ channels { code } }' }, { query: '{ channels { code } }' }]);
    expect(batch.status).toBe(400);
    expect(JSON.stringify(batch.body)).toMatch(/batch/i);
  });

  it('estimates cost with list sizes: many big pages in one request are refused, one is fine', async () => {
    const page = 'appeals(first: 500) { totalCount edges { node { id text address status receivedAt district { name } theme { name } organization { name } events { kind at actor } } } }';
    const one = await post(app.url, { query: `{ ${page} }` });
    expect(one.status, JSON.stringify(one.body.errors)).toBe(200);
    expect(one.body.data.appeals.totalCount).toBe(300);
    const many = Array.from({ length: 12 }, (_, i) => `p${i}: ${page}`).join(' ');
    const refused = await post(app.url, { query: `{ ${many} }` });
    expect(refused.status).toBe(400);
    expectUserError(refused, 'BAD_USER_INPUT', /GRAPHQL_MAX_COMPLEXITY/);
    // The same through variables (the estimate uses the request's variables).
    const viaVars = await post(app.url, {
      query: `query($n: Int!) { ${Array.from({ length: 16 }, (_, i) => `p${i}: appealsGeoJSON(limit: $n)`).join(' ')} }`,
      variables: { n: 200_000 },
    });
    expectUserError(viaVars, 'BAD_USER_INPUT', /GRAPHQL_MAX_COMPLEXITY/);
  });

  it('caps the page size of connections with a clear BAD_USER_INPUT naming first', async () => {
    for (const r of [
      await post(app.url, { query: '{ appeals(first: 501) { edges { node { id } } } }' }),
      await post(app.url, { query: 'query($n: Int!) { appeals(first: $n) { totalCount } }', variables: { n: 1_000_000 } }),
    ]) {
      expect(r.status).toBe(400); // refused before anything runs
      expectUserError(r, 'BAD_USER_INPUT', /first.*500/);
      expect(r.body.errors![0].extensions!.field).toBe('first');
    }
    expectUserError(await post(app.url, { query: '{ appeals(first: -1) { totalCount } }' }), 'BAD_USER_INPUT', /first/);
    expectUserError(await post(app.url, { query: '{ appealsGeoJSON(limit: 10000000) }' }), 'BAD_USER_INPUT', /limit/);
    expectUserError(await post(app.url, { query: '{ importBatches(first: 100000) { id } }' }), 'BAD_USER_INPUT', /first/);
    expectUserError(await post(app.url, { query: '{ appeals(first: 99999999999) { totalCount } }' }), /GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/, /Int/);
  });

  it('SQL injection through filters, ids, full-text search and tile parameters is refused or harmless', async () => {
    const before = await counts();
    const attacks = [
      "'; DROP TABLE appeal; --", "' OR '1'='1", '1; DELETE FROM appeal', "отопление') OR 1=1 --", '\\\'; SELECT pg_sleep(5); --',
      '"unterminated', '!!!', '& | ! <-> :*', 'a:* & b:*', "$$; DROP TABLE district; $$", '%', '_', '\\', '*/ SELECT 1 /*',
    ];
    for (const text of attacks) {
      const r = await post(app.url, { query: 'query($f: AppealFilter) { appeals(first: 5, filter: $f) { totalCount edges { node { id } } } }', variables: { f: { text } } });
      expect(r.status, `${text}: ${JSON.stringify(r.body)}`).toBe(200);
      expect(r.body.data.appeals.totalCount).toBeLessThan(300); // never "everything matched"
    }
    for (const [field, value] of [['districtIds', ['1 OR 1=1']], ['themeIds', ['1); DROP TABLE appeal; --']], ['organizationIds', ['-1']],
      ['municipalityId', '1; DROP TABLE municipality'], ['batchId', "1' OR '1'='1"], ['placeStatuses', ["UNRESOLVED' OR 1=1 --"]]] as const) {
      const r = await post(app.url, { query: 'query($f: AppealFilter) { appeals(first: 5, filter: $f) { totalCount } }', variables: { f: { [field]: value } } });
      expectUserError(r, 'BAD_USER_INPUT');
      expect(r.body.errors![0].extensions!.field).toMatch(new RegExp(`filter\\.${field}`));
    }
    const statuses = await post(app.url, { query: 'query($f: AppealFilter) { appeals(filter: $f) { totalCount } }', variables: { f: { statuses: ["NEW' OR 1=1"] } } });
    expectUserError(statuses, 'BAD_USER_INPUT', /AppealStatus/);
    const idAttack = await post(app.url, { query: '{ appeal(id: "1 OR 1=1") { id } }' });
    expectUserError(idAttack, 'BAD_USER_INPUT');
    for (const q of ["text=' OR 1=1 --", 'themeIds=1);DROP TABLE appeal;--', "channels=POS'--", 'from=2026-01-01%27%3B%20DROP%20TABLE%20appeal', 'districtIds=1%20OR%201%3D1']) {
      const r = await fetch(`${app.url}/tiles/appeals/12/2972/1365.mvt?${q}`, { headers: auth });
      expect(r.status, q).toBeLessThan(500);
      if (r.status >= 400) expect((await r.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    expect(await counts()).toEqual(before);
  });

  it('random filters (property-based): every answer is data or a BAD_USER_INPUT, never an internal error', { timeout: 300_000 }, async () => {
    const before = await counts();
    const hostileString = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom("'; DROP TABLE appeal; --", '<img src=x onerror=alert(1)>', '\u0000', '\uD800', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', 'отопление & !вода', '((((', '"', '\\'),
      fc.string({ minLength: 400, maxLength: 700 }),
    );
    // Mostly plausible values, sometimes hostile ones, so that both answers occur.
    const mostly = <T, U>(good: fc.Arbitrary<T>, evil: fc.Arbitrary<U>) => fc.oneof({ arbitrary: good, weight: 8 }, { arbitrary: evil, weight: 1 });
    const evilId = fc.oneof(fc.integer({ min: -5, max: 2_000_000_000 }).map(String), hostileString);
    const id = mostly(fc.integer({ min: 1, max: 8 }).map(String), evilId);
    const coord = mostly(fc.double({ noNaN: true, min: 50, max: 82 }), fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1000, max: 1000 }), fc.constantFrom(0, -0, 1e300)));
    const date = mostly(fc.date({ min: new Date('2024-01-01'), max: new Date('2027-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.oneof(fc.date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString()), hostileString));
    const ordered = <T>(a: fc.Arbitrary<[T, T]>) => a.map(([x, y]) => (x <= y ? [x, y] : [y, x]) as [T, T]);
    const period = mostly(ordered(fc.tuple(date, date)).map(([from, to]) => ({ from, to })), fc.record({ from: date, to: date }));
    const bbox = mostly(
      fc.tuple(ordered(fc.tuple(fc.double({ noNaN: true, min: 81, max: 81.4 }), fc.double({ noNaN: true, min: 81, max: 81.4 }))),
        ordered(fc.tuple(fc.double({ noNaN: true, min: 51.3, max: 51.7 }), fc.double({ noNaN: true, min: 51.3, max: 51.7 }))))
        .map(([[minLon, maxLon], [minLat, maxLat]]) => ({ minLon, minLat, maxLon, maxLat })),
      fc.record({ minLon: coord, minLat: coord, maxLon: coord, maxLat: coord }));
    const filter = fc.tuple(period, fc.record({
      municipalityId: mostly(fc.constant(String(app.municipalityId)), evilId),
      districtIds: fc.array(id, { maxLength: 4 }), themeIds: fc.array(id, { maxLength: 4 }), organizationIds: fc.array(id, { maxLength: 4 }),
      channels: fc.array(mostly(fc.constantFrom('POS', 'SOCIAL', 'DIRECT'), hostileString), { maxLength: 3 }),
      statuses: fc.array(mostly(fc.constantFrom('NEW', 'CLOSED'), hostileString), { maxLength: 3 }),
      bbox,
      near: fc.record({ lon: coord, lat: coord, radiusMeters: mostly(fc.constantFrom(1, 700, 100_000), fc.oneof(coord, fc.constantFrom(100_001, -1))) }),
      text: mostly(fc.constantFrom('отопление', 'яма дорога', 'снег'), hostileString), triage: fc.boolean(),
      placeStatuses: fc.array(mostly(fc.constantFrom('UNRESOLVED', 'POINT'), hostileString), { maxLength: 2 }),
      batchId: mostly(fc.constant('1'), evilId), duplicates: fc.boolean(), repeats: fc.boolean(),
    }, { requiredKeys: [] })).map(([p, rest]) => ({ ...p, ...rest }));
    const queries = [
      'query($f: AppealFilter, $n: Int!) { appeals(first: $n, filter: $f) { totalCount edges { node { id text } } } }',
      'query($f: AppealFilter) { appealCounts(groupBy: DISTRICT, filter: $f) { key count } }',
      'query($f: AppealFilter, $n: Int!) { appealsGeoJSON(filter: $f, limit: $n) }',
      'query($f: AppealFilter) { districtStats(filter: $f) { districts { count } } }',
      'query($f: AppealFilter, $n: Int!) { heatmap(bbox: { minLon: 81.1, minLat: 51.4, maxLon: 81.3, maxLat: 51.6 }, zoom: $n, filter: $f) { total } }',
    ];
    let data = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(filter, mostly(fc.integer({ min: 11, max: 100 }), fc.integer({ min: -10, max: 600 })), fc.nat(queries.length - 1), async (f, n, qi) => {
        const r = await post(app.url, { query: queries[qi], variables: { f, n } });
        expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBeLessThan(500);
        if (r.body.errors) {
          refused++;
          if (process.env.DEBUG_FUZZ) console.log(JSON.stringify(r.body.errors[0]).slice(0, 300));
          for (const e of r.body.errors) expect(allowedRefusal(e), JSON.stringify({ f, n, e })).toMatch(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/);
          expect(r.body.errors[0].message.length).toBeGreaterThan(5);
        } else data++;
      }),
      { numRuns: 150, seed: 20261127 },
    );
    expect(data).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(await counts()).toEqual(before);
  });

  it('random arguments to every other input (mutations, problems, heat map, batches): data or BAD_USER_INPUT, never internal', { timeout: 300_000 }, async () => {
    const str = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("1'; DROP TABLE appeal; --", '\u0000', '\uD800', '-1', '0', '1', '2', '999999999', '1e3', ' 3', '<b>x</b>'));
    const num = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1, 81.2, 51.5, 1e308, -1e308, 2 ** 31));
    const int = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 2 ** 31 - 1, 500, 501));
    const date = fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), str);
    const json = fc.oneof(fc.json().map((j) => JSON.parse(j)), fc.constant({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { code: 'x', name: 'y' }, geometry: { type: 'Point', coordinates: [81, 51] } }] }));
    const ops: [string, fc.Arbitrary<Record<string, unknown>>][] = [
      ['mutation($id: ID!, $t: ID!, $c: String) { reclassifyAppeal(id: $id, themeId: $t, comment: $c) { id } }', fc.record({ id: str, t: str, c: str })],
      ['mutation($id: ID!, $o: ID!) { reassignAppeal(id: $id, organizationId: $o) { id } }', fc.record({ id: str, o: str })],
      ['mutation($id: ID!, $lon: Float!, $lat: Float!) { resolveAppealPlace(id: $id, lon: $lon, lat: $lat, addToRegister: false) { id } }', fc.record({ id: str, lon: num, lat: num })],
      ['mutation($t: ID!, $o: ID!, $d: ID) { setRoutingRule(themeId: $t, organizationId: $o, districtId: $d) }', fc.record({ t: str, o: str, d: fc.option(str) })],
      ['mutation($i: HeatLayerImportInput!) { importHeatLayer(input: $i) { inserted rejected } }', fc.record({ i: fc.record({ format: fc.constantFrom('CSV', 'GEOJSON', 'XML'), content: fc.oneof(str, fc.constant('lat;lon;weight\n51.51;81.21;1\n')), periodFrom: date, periodTo: date, name: fc.option(str), themeId: fc.option(str) }, { requiredKeys: ['format', 'content', 'periodFrom', 'periodTo'] }) })],
      ['mutation($f: JSONObject!, $r: Boolean) { importDistricts(featureCollection: $f, replace: $r) { read } }', fc.record({ f: json, r: fc.boolean() })],
      ['query($b: BBoxInput!, $z: Int!, $w: HeatWeightsInput, $c: [ID!]) { heatmap(bbox: $b, zoom: $z, layer: MERGED, weights: $w, curLayerIds: $c) { total } }',
        fc.record({ b: fc.record({ minLon: num, minLat: num, maxLon: num, maxLat: num }), z: int, w: fc.option(fc.record({ appeals: num, cur: num })), c: fc.option(fc.array(str, { maxLength: 3 })) })],
      ['query($id: ID!) { appeal(id: $id) { id } importBatch(id: $id) { id } }', fc.record({ id: str })],
      ['query($n: Int!, $b: ID) { importBatches(first: $n, before: $b) { id issues(first: $n) { line } } }', fc.record({ n: int, b: fc.option(str) })],
    ];
    const schema = await post(app.url, { query: '{ __type(name: "Query") { fields { name } } }' });
    if (schema.body.data.__type.fields.some((f: { name: string }) => f.name === 'problems')) {
      ops.push(['query($f: ProblemFilter, $n: Int!, $a: String) { problems(filter: $f, first: $n, after: $a) { totalCount edges { node { id } } } }',
        fc.record({ f: fc.record({ text: str, minScore: num, from: date, to: date, districtIds: fc.array(str, { maxLength: 2 }), themeIds: fc.array(str, { maxLength: 2 }), bbox: fc.record({ minLon: num, minLat: num, maxLon: num, maxLat: num }) }, { requiredKeys: [] }), n: int, a: fc.option(str) })]);
    }
    const arb = fc.oneof(...ops.map(([q, vars]) => vars.map((v) => ({ q, v }))));
    const seen = { data: 0, refused: 0 };
    await fc.assert(fc.asyncProperty(arb, async ({ q, v }) => {
      const r = await post(app.url, { query: q, variables: v });
      seen[r.body.errors ? 'refused' : 'data']++;
      expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBeLessThan(500);
      for (const e of r.body.errors ?? []) expect(allowedRefusal(e), JSON.stringify({ q: q.slice(0, 60), v, e }).slice(0, 600)).toMatch(/^(BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED)$/);
    }), { numRuns: 200, seed: 77 });
    expect(seen.data).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
    expect((await counts()).themes).toBeGreaterThan(0);
  });

  it('answers an oversized JSON body with 413 and a clear message, and keeps serving', async () => {
    const big = await post(app.url, JSON.stringify({ query: '{ channels { code } }', variables: { pad: 'x'.repeat(limits.maxBodyBytes + 10) } }));
    expect(big.status).toBe(413);
    expect(big.body.errors![0].message).toMatch(/MAX_BODY_MB/);
    expect((await post(app.url, { query: '{ channels { code } }' })).status).toBe(200);
  });
});

describe('limits configured through the environment', () => {
  const backend = backends[0];

  it('refuses an upload over MAX_UPLOAD_MB before importing anything', async () => {
    const app = await withEnv({ MAX_UPLOAD_MB: '1' }, () => startTestApp(backend, 0));
    try {
      const before = (await app.sql('SELECT (SELECT count(*) FROM appeal)::int AS a, (SELECT count(*) FROM import_batch)::int AS b'))[0];
      const row = (i: number) => `${i};01.02.2026 10:00;Дороги;Ямы;Яма на дороге у дома ${i} ${'x'.repeat(200)};пр. Ленина, 85;;;Новое;;;;;;;\n`;
      const head = 'Номер;Дата подачи;Категория;Подкатегория;Текст;Адрес;Широта;Долгота;Статус;Срок;Дата ответа;Ответ;Оценка;Заявитель;Телефон;E-mail\n';
      let csv = head;
      for (let i = 1; csv.length < 3 * 1024 * 1024; i++) csv += row(i);
      const auth = await bearer(app);
      const res = await upload(app.url, 'mutation($file: Upload!) { importAppeals(file: $file, channel: POS) { inserted status error } }', {}, { name: 'big.csv', content: csv }, auth);
      expect(res.status).toBe(413);
      expect(res.body.errors?.[0].extensions?.code).toBe('PAYLOAD_TOO_LARGE');
      expect(res.body.errors?.[0].message).toMatch(/MAX_UPLOAD_MB/);
      const after = (await app.sql('SELECT (SELECT count(*) FROM appeal)::int AS a, (SELECT count(*) FROM import_batch)::int AS b'))[0];
      expect(after).toEqual(before);
      // A file under the limit goes through.
      const small = await upload(app.url, 'mutation($file: Upload!) { importAppeals(file: $file, channel: POS) { inserted status } }', {}, { name: 'small.csv', content: head + row(1) + row(2) }, auth);
      expect(small.body.data?.importAppeals).toMatchObject({ status: 'DONE', inserted: 2 });
    } finally {
      await app.close();
    }
  });

  it('rate-limits per signed-in user with 429, Retry-After and a clear message; other users and addresses go on', async () => {
    const app = await withEnv({ RATE_LIMIT_PER_MINUTE: '20' }, () => startTestApp(backend, 0));
    try {
      const alice = await bearer(app);
      const bob = await bearer(app);
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await rawPost(app.url, { query: '{ channels { code } }' }, alice)).status);
      expect(statuses.every((s) => s === 200)).toBe(true);
      const over = await rawPost(app.url, { query: '{ channels { code } }' }, alice);
      expect(over.status).toBe(429);
      expect(over.body.errors![0].extensions!.code).toBe('TOO_MANY_REQUESTS');
      expect(over.body.errors![0].message).toMatch(/не более 20 в минуту/);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(over.body.data).toBeUndefined();
      // Another user from the same address has an allowance of their own.
      expect((await rawPost(app.url, { query: '{ channels { code } }' }, bob)).status).toBe(200);
      // Anonymous sign-in attempts count per address: 127.0.0.1 runs out, 127.0.0.2 does not.
      const signIn = { query: 'mutation { signIn(login: "nobody", password: "wrong-password") { token } }' };
      const anon: number[] = [];
      for (let i = 0; i < 21; i++) anon.push((await rawPost(app.url, signIn)).status);
      expect(anon.at(-1)).toBe(429);
      expect(anon.slice(0, 20).every((s) => s !== 429)).toBe(true);
      const other = await new Promise<number>((resolve, reject) => {
        const u = new URL(`${app.url}/graphql`);
        const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(JSON.stringify(signIn));
      });
      expect(other).not.toBe(429);
    } finally {
      await app.close();
    }
  });

  it('keys the rate limit on the signed-in user when the context has one, else on the address', () => {
    expect(rateLimitKey({ user: { id: 42 } })).toBe('user:42');
    expect(rateLimitKey({ user: null })).toMatch(/^ip:/);
    expect(rateLimitKey({})).toMatch(/^ip:/);
  });

  it('in production: no introspection, no field suggestions, internal errors without SQL or stack traces', async () => {
    const app = await withEnv({ NODE_ENV: 'production' }, () => startTestApp(backend, 20));
    const post = async (url: string, body: unknown) => rawPost(url, body, auth);
    const auth = await bearer(app);
    try {
      const intro = await post(app.url, { query: '{ __schema { types { name } } }' });
      expectUserError(intro, /GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/, /[Ii]ntrospection/);
      const typo = await post(app.url, { query: '{ appeals { totalCoun } }' });
      expect(typo.status).toBe(400);
      expect(JSON.stringify(typo.body)).not.toMatch(/Did you mean|totalCount/);
      // Break the database under the app: the error is logged, the client sees a generic message.
      await app.sql('ALTER TABLE appeal RENAME COLUMN text TO text_hidden');
      try {
        const r = await post(app.url, { query: '{ appeals(first: 3) { edges { node { id text } } } }' });
        const e = r.body.errors![0];
        expect(e.extensions!.code).toBe('INTERNAL_SERVER_ERROR');
        expect(e.message).toBe('Внутренняя ошибка сервера');
        expect(JSON.stringify(r.body)).not.toMatch(/text_hidden|does not exist|SELECT|appeal a|stacktrace|\.ts:\d+|\.js:\d+/);
      } finally {
        await app.sql('ALTER TABLE appeal RENAME COLUMN text_hidden TO text');
      }
      expect((await post(app.url, { query: '{ appeals(first: 3) { edges { node { id text } } } }' })).body.data.appeals.edges).toHaveLength(3);
    } finally {
      await app.close();
    }
  });

  it('introspection can be switched on in production and off in development', async () => {
    const on = await withEnv({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }, () => startTestApp(backend, 0));
    try {
      expect((await rawPost(on.url, { query: '{ __schema { queryType { name } } }' }, await bearer(on))).body.data.__schema.queryType.name).toBe('Query');
    } finally {
      await on.close();
    }
    const off = await withEnv({ GRAPHQL_INTROSPECTION: 'false' }, () => startTestApp(backend, 0));
    try {
      expectUserError(await rawPost(off.url, { query: '{ __schema { queryType { name } } }' }, await bearer(off)), /GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/);
    } finally {
      await off.close();
    }
  });

  it('rejects malformed limit settings at start with the variable named', () => {
    expect(() => loadLimits({ GRAPHQL_MAX_DEPTH: 'deep' })).toThrow(/GRAPHQL_MAX_DEPTH/);
    expect(() => loadLimits({ GRAPHQL_MAX_PAGE_SIZE: '100000' })).toThrow(/GRAPHQL_MAX_PAGE_SIZE/);
    expect(() => loadLimits({ GRAPHQL_INTROSPECTION: 'maybe' })).toThrow(/GRAPHQL_INTROSPECTION/);
    expect(loadLimits({ NODE_ENV: 'production' }).introspection).toBe(false);
    expect(loadLimits({}).introspection).toBe(true);
  });
});
