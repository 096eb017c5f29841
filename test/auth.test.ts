// Accounts, roles, personal data and audit: a matrix of every role × every sensitive operation and field,
// row scope in lists, aggregates and tiles, lock-out, sign-out, personal-data access log, retention, audit log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMetadataStorage } from 'type-graphql';
import { backends } from './helpers/backends.js';
import { rawFetch, startTestApp, type Client, type GqlResult, type TestApp } from './helpers/app.js';
import { getSchema } from '../server/graphql/schema.js';
import { ALL_ROLES, ANSWERERS, APPEAL_EDITORS, HEAT_LAYER_IMPORTERS, IMPORTERS, PROCESSORS, REFERENCE_EDITORS, Role, USER_ADMINS } from '../server/auth/roles.js';
import { anonymiseClosedAppealAuthors } from '../server/auth/retention.js';
import { disableDemoAccounts } from '../server/auth/demo.js';
import { AuthService } from '../server/auth/sessions.js';

const code = (r: GqlResult) => r.errors?.[0]?.extensions?.code as string | undefined;

/** The ids of the ЖКХ block and the housing department's subtree (the scopes of the test BLOCK_LEAD and ORG_OFFICER). */
const BLOCK_SQL = `a.theme_id IN (SELECT t.id FROM theme t JOIN thematic_block b ON b.id = t.block_id WHERE b.code = 'gkh')`;
const ORG_SQL = `a.organization_id IN (WITH RECURSIVE s AS (SELECT id FROM organization WHERE code = 'uzhkh' UNION SELECT o.id FROM organization o JOIN s ON o.parent_id = s.id) SELECT id FROM s)`;

async function upload(client: Client, query: string, variables: Record<string, unknown>, file: { name: string; content: string }): Promise<GqlResult> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([file.content]), file.name);
  const res = await client.fetch('/graphql', { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true' } });
  return res.json();
}

describe.each(backends)('accounts, roles and personal data on %s', (backend) => {
  let app: TestApp;
  const clients = {} as Record<Role, Client>;
  beforeAll(async () => {
    app = await startTestApp(backend, 1500);
    for (const role of ALL_ROLES) clients[role] = await app.as(role);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('gives anonymous requests nothing but sign-in; /healthz and static files stay open', async () => {
    const anon = app.anonymous;
    for (const q of ['{ appeals(first: 1) { totalCount } }', '{ districts { id } }', '{ __schema { queryType { name } } }', '{ me { login } }',
      'mutation { signOut }', 'mutation { signIn(login: "x", password: "y") { token } me { login } }']) {
      const res = await anon.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: q }) });
      expect(res.status, q).toBe(401);
      expect((await res.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    expect((await anon.fetch(`/graphql?query=${encodeURIComponent('{ channels { code } }')}`, { headers: { accept: 'application/json' } })).status).toBe(401);
    expect((await upload(anon, 'mutation($file: Upload!) { importAddressRegister(file: $file) { read } }', {}, { name: 'a.csv', content: 'x' })).errors![0].extensions!.code).toBe('UNAUTHENTICATED');
    expect((await anon.fetch('/tiles/appeals/13/5942/2780.mvt')).status).toBe(401);
    expect((await anon.fetch('/tiles/appeals/13/5942/2780.mvt', { headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    expect((await anon.fetch('/auth/me')).status).toBe(401);
    expect((await anon.fetch('/healthz')).status).toBe(200);
    expect((await anon.fetch('/')).status).toBe(200);
    expect((await anon.fetch('/login.html')).status).toBe(200);
    const graphiql = await anon.fetch('/graphql', { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect([graphiql.status, graphiql.headers.get('location')]).toEqual([302, '/login.html?next=%2Fgraphql']);
    // The one open operation: a wrong password is told apart from nothing else.
    const bad = await anon.gql('mutation { signIn(login: "test-curator", password: "wrong password") { token } }');
    expect(bad.errors![0]).toMatchObject({ message: 'Неверный логин или пароль', extensions: { code: 'UNAUTHENTICATED' } });
    const unknown = await anon.gql('mutation { signIn(login: "nobody-here", password: "wrong password") { token } }');
    expect(unknown.errors![0].message).toBe('Неверный логин или пароль');
  });

  it('has a role rule on every query and mutation (only signIn is open)', async () => {
    await getSchema();
    const md = getMetadataStorage();
    const open = [...md.queries, ...md.mutations].filter((r) => r.roles === undefined).map((r) => r.schemaName);
    expect(open).toEqual(['signIn']);
    // Type-level rules: the audit types' fields are for admins whichever resolver returns them.
    for (const type of ['AuditEntry', 'PersonalDataAccess']) {
      const fields = md.objectTypes.find((o) => o.name === type)!.fields!;
      expect(fields.length, type).toBeGreaterThan(3);
      expect(fields.every((f) => JSON.stringify(f.roles) === JSON.stringify(USER_ADMINS)), type).toBe(true);
    }
  });

  // Each operation with the roles allowed to run it. Arguments are chosen so that an allowed role gets an
  // ordinary answer or BAD_USER_INPUT (nothing changes), and a denied role gets FORBIDDEN.
  const ops: { name: string; roles: readonly Role[]; run: (c: Client) => Promise<GqlResult> }[] = [
    { name: 'appeals', roles: ALL_ROLES, run: (c) => c.gql('{ appeals(first: 2) { totalCount edges { node { id text } } } }') },
    { name: 'appeal', roles: ALL_ROLES, run: (c) => c.gql('{ appeal(id: "1") { id } }') },
    { name: 'appealCounts', roles: ALL_ROLES, run: (c) => c.gql('{ appealCounts(groupBy: DISTRICT) { count } }') },
    { name: 'appealsGeoJSON', roles: ALL_ROLES, run: (c) => c.gql('{ appealsGeoJSON(limit: 5) }') },
    { name: 'heatmap', roles: ALL_ROLES, run: (c) => c.gql('{ heatmap(bbox: { minLon: 81.1, minLat: 51.45, maxLon: 81.3, maxLat: 51.58 }, zoom: 12) { total } }') },
    { name: 'districtStats', roles: ALL_ROLES, run: (c) => c.gql('{ districtStats { districts { count } } }') },
    { name: 'reference data', roles: ALL_ROLES, run: (c) => c.gql('{ districts { id } themes { id } organizations { id } heatLayers { id } routingRules { id } }') },
    { name: 'importBatches', roles: ALL_ROLES, run: (c) => c.gql('{ importBatches { id } }') },
    { name: 'me', roles: ALL_ROLES, run: (c) => c.gql('{ me { login role } }') },
    { name: 'users', roles: USER_ADMINS, run: (c) => c.gql('{ users { login } }') },
    { name: 'auditLog', roles: USER_ADMINS, run: (c) => c.gql('{ auditLog(first: 1) { totalCount } }') },
    { name: 'personalDataAccessLog', roles: USER_ADMINS, run: (c) => c.gql('{ personalDataAccessLog(first: 1) { totalCount } }') },
    { name: 'createUser', roles: USER_ADMINS, run: (c) => c.gql('mutation { createUser(input: { login: "x", role: ANALYST, password: "short" }) { id } }') },
    { name: 'updateUser', roles: USER_ADMINS, run: (c) => c.gql('mutation { updateUser(id: "999999", input: { displayName: "x" }) { id } }') },
    { name: 'setUserPassword', roles: USER_ADMINS, run: (c) => c.gql('mutation { setUserPassword(id: "999999", password: "long enough password") }') },
    { name: 'unlockUser', roles: USER_ADMINS, run: (c) => c.gql('mutation { unlockUser(id: "999999") { id } }') },
    { name: 'importDistricts', roles: REFERENCE_EDITORS, run: (c) => c.gql('mutation { importDistricts(featureCollection: { type: "Nothing" }) { read } }') },
    { name: 'setRoutingRule', roles: REFERENCE_EDITORS, run: (c) => c.gql('mutation { setRoutingRule(themeId: "999999", organizationId: "1") }') },
    { name: 'importHeatLayer', roles: HEAT_LAYER_IMPORTERS, run: (c) => c.gql(`mutation { importHeatLayer(input: { format: CSV, content: "lat;lon;weight\\n",
        periodFrom: "2026-01-01T00:00:00Z", periodTo: "2026-02-01T00:00:00Z" }) { inserted } }`) },
    { name: 'importAddressRegister', roles: REFERENCE_EDITORS, run: (c) => upload(c, 'mutation($file: Upload!) { importAddressRegister(file: $file) { read } }', {}, { name: 'a.csv', content: '' }) },
    { name: 'importAppeals', roles: IMPORTERS, run: (c) => upload(c, 'mutation($file: Upload!) { importAppeals(file: $file) { read } }', {}, { name: 'a.csv', content: 'x' }) },
    { name: 'reclassifyAppeal', roles: APPEAL_EDITORS, run: (c) => c.gql('mutation { reclassifyAppeal(id: "999999", themeId: "1") { id } }') },
    { name: 'reassignAppeal', roles: APPEAL_EDITORS, run: (c) => c.gql('mutation { reassignAppeal(id: "999999", organizationId: "1") { id } }') },
    { name: 'resolveAppealPlace', roles: APPEAL_EDITORS, run: (c) => c.gql('mutation { resolveAppealPlace(id: "999999", lon: 81.2, lat: 51.5) { id } }') },
    { name: 'answerAppeal', roles: ANSWERERS, run: (c) => c.gql('mutation { answerAppeal(id: "999999", answerText: "Ответ") { id } }') },
    { name: 'setAppealStatus', roles: ANSWERERS, run: (c) => c.gql('mutation { setAppealStatus(id: "999999", status: IN_PROGRESS) { id } }') },
  ];

  it.each(ops)('$name: allowed roles get an answer, the others FORBIDDEN', async (op) => {
    for (const role of ALL_ROLES) {
      const r = await op.run(clients[role]);
      if (op.roles.includes(role)) {
        expect([undefined, 'BAD_USER_INPUT'], `${op.name} as ${role}: ${JSON.stringify(r.errors)}`).toContain(code(r));
      } else {
        expect(code(r), `${op.name} as ${role}`).toBe('FORBIDDEN');
        expect(r.errors![0].message).toMatch(/Недостаточно прав/);
      }
    }
  });

  it('shows the author\'s personal data only to roles that process appeals, masks it for the rest, and logs every read', async () => {
    const [target] = await app.sql<{ id: number; full_name: string; phone: string | null }>(
      `SELECT a.id, au.full_name, au.phone FROM appeal a JOIN appeal_author au ON au.id = a.author_id
        WHERE au.full_name IS NOT NULL AND ${BLOCK_SQL} AND ${ORG_SQL} ORDER BY a.id LIMIT 1`);
    expect(target).toBeDefined();
    await app.sql('DELETE FROM pd_access_log');
    for (const role of ALL_ROLES) {
      const r = await clients[role].gql(`{ appeal(id: "${target.id}") { id authorKind author { kind masked fullName phone email profileUrl } } }`);
      expect(r.errors, role).toBeUndefined();
      const author = r.data.appeal.author;
      if (PROCESSORS.includes(role)) {
        expect(author, role).toMatchObject({ masked: false, fullName: target.full_name, phone: target.phone });
      } else {
        expect(author, role).toEqual({ kind: r.data.appeal.authorKind, masked: true, fullName: null, phone: null, email: null, profileUrl: null });
      }
    }
    const log = await app.sql<{ actor: string; appeal_id: number; user_id: number }>('SELECT actor, appeal_id, user_id FROM pd_access_log ORDER BY id');
    expect(log.map((l) => l.actor).sort()).toEqual(PROCESSORS.map((r) => clients[r].login).sort());
    expect(log.every((l) => l.appeal_id === target.id)).toBe(true);
    expect(log.map((l) => l.user_id).sort()).toEqual(PROCESSORS.map((r) => clients[r].userId).sort());

    // A page: one log row per appeal read, in one statement with the read; an analyst's page logs nothing.
    await app.sql('DELETE FROM pd_access_log');
    const page = await clients[Role.WORKER].gql('{ appeals(first: 50) { edges { node { id author { fullName } } } } }');
    const withName = page.data.appeals.edges.filter((e: any) => e.node.author?.fullName).map((e: any) => Number(e.node.id));
    expect(withName.length).toBeGreaterThan(0);
    const logged = (await app.sql<{ appeal_id: number }>('SELECT appeal_id FROM pd_access_log')).map((l) => l.appeal_id);
    for (const id of withName) expect(logged).toContain(id);
    const analyst = await clients[Role.ANALYST].gql('{ appeals(first: 50) { edges { node { id author { masked fullName phone } } } } }');
    expect(analyst.data.appeals.edges.every((e: any) => e.node.author.masked && e.node.author.fullName === null && e.node.author.phone === null)).toBe(true);
    expect((await app.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pd_access_log WHERE user_id = ?`, [clients[Role.ANALYST].userId]))[0].n).toBe(0);

    // Admins read the access log.
    const admin = await clients[Role.ADMIN].gql('{ personalDataAccessLog(first: 5) { totalCount edges { node { actor appealId operation } } } }');
    expect(admin.data.personalDataAccessLog.totalCount).toBe(logged.length);
    expect(admin.data.personalDataAccessLog.edges[0].node).toMatchObject({ actor: 'test-worker', operation: 'READ' });
  });

  it('limits BLOCK_LEAD and ORG_OFFICER to their rows in lists, counts, GeoJSON, heat maps, district stats and tiles', async () => {
    const [{ all, block, org }] = await app.sql<{ all: number; block: number; org: number }>(
      `SELECT count(*)::int AS all, count(*) FILTER (WHERE ${BLOCK_SQL})::int AS block, count(*) FILTER (WHERE ${ORG_SQL})::int AS org FROM appeal a`);
    expect(block).toBeGreaterThan(0);
    expect(org).toBeGreaterThan(0);
    expect(block).toBeLessThan(all);
    expect(org).toBeLessThan(all);
    const expected: Partial<Record<Role, number>> = { [Role.CURATOR]: all, [Role.ANALYST]: all, [Role.ADMIN]: all, [Role.BLOCK_LEAD]: block, [Role.ORG_OFFICER]: org };
    const Q = `{ appeals(first: 1) { totalCount } appealCounts(groupBy: THEME) { count } appealsGeoJSON(limit: 200000)
      heatmap(bbox: { minLon: 80, minLat: 50, maxLon: 83, maxLat: 53 }, zoom: 10) { total } districtStats { districts { count } } }`;
    const [{ located }] = await app.sql<{ located: number }>(`SELECT count(*)::int AS located FROM appeal a WHERE a.point IS NOT NULL AND ${BLOCK_SQL}`);
    for (const [role, n] of Object.entries(expected) as [Role, number][]) {
      const r = await clients[role].gql(Q);
      expect(r.errors, role).toBeUndefined();
      expect(r.data.appeals.totalCount, role).toBe(n);
      expect(r.data.appealCounts.reduce((s: number, g: any) => s + g.count, 0), role).toBe(n);
      const features = (typeof r.data.appealsGeoJSON === 'string' ? JSON.parse(r.data.appealsGeoJSON) : r.data.appealsGeoJSON).features.length;
      if (role === Role.BLOCK_LEAD) {
        expect(features).toBe(located);
        expect(r.data.heatmap.total).toBe(located);
      }
      expect(features, role).toBeLessThanOrEqual(n);
      expect(r.data.districtStats.districts.reduce((s: number, d: any) => s + d.count, 0), role).toBeLessThanOrEqual(n);
    }
    // A single appeal outside the scope is not there for them, and they cannot act on it.
    const [outside] = await app.sql<{ id: number }>(`SELECT a.id FROM appeal a WHERE NOT (${BLOCK_SQL}) AND NOT (${ORG_SQL}) ORDER BY a.id LIMIT 1`);
    for (const role of [Role.BLOCK_LEAD, Role.ORG_OFFICER]) {
      expect((await clients[role].gql(`{ appeal(id: "${outside.id}") { id } }`)).data.appeal, role).toBeNull();
    }
    expect((await clients[Role.CURATOR].gql(`{ appeal(id: "${outside.id}") { id } }`)).data.appeal.id).toBe(String(outside.id));
    const deny = await clients[Role.ORG_OFFICER].gql(`mutation { answerAppeal(id: "${outside.id}", answerText: "Ответ") { id } }`);
    expect(code(deny)).toBe('FORBIDDEN');
    const deny2 = await clients[Role.BLOCK_LEAD].gql(`mutation { reassignAppeal(id: "${outside.id}", organizationId: "1") { id } }`);
    expect(code(deny2)).toBe('FORBIDDEN');

    // Tiles: the scoped user's tile is computed for their rows and never shared or cached publicly.
    const path = '/tiles/appeals/11/1486/680.mvt?from=2000-01-01';
    const full = await clients[Role.CURATOR].fetch(path);
    const scoped = await clients[Role.ORG_OFFICER].fetch(path);
    const again = await clients[Role.ANALYST].fetch(path);
    expect([full.status, scoped.status, again.status]).toEqual([200, 200, 200]);
    const [fb, sb, ab] = [Buffer.from(await full.arrayBuffer()), Buffer.from(await scoped.arrayBuffer()), Buffer.from(await again.arrayBuffer())];
    expect(fb.length).toBeGreaterThan(0);
    expect(sb.equals(fb)).toBe(false);
    expect(ab.equals(fb)).toBe(true);
    expect(full.headers.get('cache-control')).toMatch(/^private/);
    expect(scoped.headers.get('cache-control')).toBe('private, no-store');
    // The cached path (answered before Express) checks the session too.
    expect((await clients[Role.ANALYST].fetch(path)).headers.get('cache-control')).toMatch(/^private/);
    expect((await app.anonymous.fetch(path)).status).toBe(401);
  });

  it('records changes with the signed-in user in appeal history and the audit log', async () => {
    const [a] = await app.sql<{ id: number; theme_id: number }>(`SELECT a.id, a.theme_id FROM appeal a WHERE ${BLOCK_SQL} ORDER BY a.id LIMIT 1`);
    const [other] = await app.sql<{ id: number }>(`SELECT t.id FROM theme t JOIN thematic_block b ON b.id = t.block_id WHERE b.code = 'gkh' AND t.is_leaf AND t.id <> ? ORDER BY t.id LIMIT 1`, [a.theme_id]);
    const worker = clients[Role.WORKER];
    const r = await worker.gql(`mutation { reclassifyAppeal(id: "${a.id}", themeId: "${other.id}", comment: "по тексту") { id theme { id } } }`);
    expect(r.errors).toBeUndefined();
    const officer = clients[Role.ORG_OFFICER];
    const [mine] = await app.sql<{ id: number }>(`SELECT a.id FROM appeal a WHERE ${ORG_SQL} AND a.status IN ('NEW', 'IN_PROGRESS') ORDER BY a.id LIMIT 1`);
    const ans = await officer.gql(`mutation { answerAppeal(id: "${mine.id}", answerText: "Работы выполнены") { id status answerText events { actor kind toValue } } }`);
    expect(ans.errors).toBeUndefined();
    expect(ans.data.answerAppeal).toMatchObject({ status: 'ANSWERED', answerText: 'Работы выполнены' });
    expect(ans.data.answerAppeal.events.filter((e: any) => e.actor === 'test-org-officer').map((e: any) => e.kind).sort()).toEqual(['ANSWER', 'STATUS']);
    expect(code(await officer.gql(`mutation { setAppealStatus(id: "${mine.id}", status: CLOSED) { id } }`))).toBe('FORBIDDEN');

    const events = await app.sql<{ actor: string; kind: string }>('SELECT actor, kind FROM appeal_event WHERE appeal_id = ? AND kind = ?', [a.id, 'THEME']);
    expect(events.at(-1)!.actor).toBe('test-worker');
    const log = await clients[Role.ADMIN].gql(`{ auditLog(first: 10, filter: { entity: "appeal" }) { totalCount edges { node { actor actorId entity entityId action before after at } } } }`);
    expect(log.errors).toBeUndefined();
    const entries = log.data.auditLog.edges.map((e: any) => e.node);
    const reclass = entries.find((e: any) => e.action === 'reclassify' && e.entityId === String(a.id));
    expect(reclass).toMatchObject({ actor: 'test-worker', actorId: String(worker.userId), before: { themeId: a.theme_id }, after: { themeId: other.id, comment: 'по тексту' } });
    const answer = entries.find((e: any) => e.action === 'answer' && e.entityId === String(mine.id));
    expect(answer.after).toMatchObject({ status: 'ANSWERED', answerText: 'Работы выполнены' });
    expect(answer.actor).toBe('test-org-officer');

    // Users: creation and changes are audited; a role change ends the user's sessions.
    const created = await clients[Role.ADMIN].gql(`mutation { createUser(input: { login: "ivanova", displayName: "Иванова А. П.", role: WORKER, password: "очень-длинный-пароль" }) { id login role roleLabel } }`);
    expect(created.errors).toBeUndefined();
    expect(created.data.createUser).toMatchObject({ login: 'ivanova', role: 'WORKER', roleLabel: 'Работник МЦУ' });
    const ivanova = await app.signInNew({ login: 'ivanova', role: Role.WORKER, password: 'очень-длинный-пароль' });
    expect((await ivanova.gql('{ me { login } }')).data.me.login).toBe('ivanova');
    const upd = await clients[Role.ADMIN].gql(`mutation { updateUser(id: "${created.data.createUser.id}", input: { role: ORG_OFFICER, organization: "vodokanal" }) { role organization { name } } }`);
    expect(upd.errors).toBeUndefined();
    expect((await ivanova.fetch('/auth/me')).status).toBe(401);
    const missing = await clients[Role.ADMIN].gql(`mutation { createUser(input: { login: "petrov", role: BLOCK_LEAD, password: "длинный-пароль-123" }) { id } }`);
    expect(missing.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.thematicBlock' });
    const users = await clients[Role.ADMIN].gql(`{ auditLog(first: 10, filter: { entity: "user" }) { edges { node { action actor before after } } } }`);
    const acts = users.data.auditLog.edges.map((e: any) => e.node);
    expect(acts.find((e: any) => e.action === 'create')).toMatchObject({ actor: 'test-admin', after: { login: 'ivanova', role: 'WORKER' } });
    expect(acts.find((e: any) => e.action === 'update')).toMatchObject({ before: { role: 'WORKER' }, after: { role: 'ORG_OFFICER' } });
    expect(JSON.stringify(acts)).not.toMatch(/argon2|password_hash/);

    // Paging: a cursor continues where the page ended.
    const p1 = await clients[Role.ADMIN].gql('{ auditLog(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }');
    const p2 = await clients[Role.ADMIN].gql(`{ auditLog(first: 2, after: "${p1.data.auditLog.pageInfo.endCursor}") { edges { node { id } } } }`);
    expect(p1.data.auditLog.totalCount).toBeGreaterThanOrEqual(4);
    expect(Number(p2.data.auditLog.edges[0].node.id)).toBeLessThan(Number(p1.data.auditLog.edges[1].node.id));
  });

  it('locks an account after 5 wrong passwords for 15 minutes, and the admin can unlock it', async () => {
    const user = await app.signInNew({ login: 'locked-user', role: Role.ANALYST, password: 'правильный-пароль' });
    const attempt = (password: string) => rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'locked-user', password }) });
    for (let i = 0; i < 4; i++) expect((await attempt(`wrong-${i}`)).status).toBe(401);
    expect((await attempt('правильный-пароль')).status).toBe(200); // success resets the counter
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong-${i}`)).status).toBe(401);
    const locked = await attempt('правильный-пароль');
    expect(locked.status).toBe(401);
    expect((await locked.json()).errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', reason: 'LOCKED' } });
    const [row] = await app.sql<{ minutes: number; failed: number }>(`SELECT round(extract(epoch FROM locked_until - now()) / 60)::int AS minutes, failed_attempts AS failed FROM app_user WHERE login = 'locked-user'`);
    expect(row).toMatchObject({ minutes: 15, failed: 5 });
    // A session proven before the lock keeps working (nobody signs a user out by guessing).
    expect((await user.fetch('/auth/me')).status).toBe(200);
    const list = await clients[Role.ADMIN].gql('{ users { id login lockedUntil } }');
    const u = list.data.users.find((x: any) => x.login === 'locked-user');
    expect(u.lockedUntil).not.toBeNull();
    expect((await clients[Role.ADMIN].gql(`mutation { unlockUser(id: "${u.id}") { lockedUntil } }`)).data.unlockUser.lockedUntil).toBeNull();
    expect((await attempt('правильный-пароль')).status).toBe(200);
    // After the lock time the count starts over.
    for (let i = 0; i < 5; i++) await attempt(`wrong-${i}`);
    await app.sql(`UPDATE app_user SET locked_until = now() - interval '1 second' WHERE login = 'locked-user'`);
    await app.sql(`UPDATE sign_in_lock SET locked_until = now() - interval '1 second' WHERE login = 'locked-user'`);
    expect((await attempt('правильный-пароль')).status).toBe(200);
 
    // Many logins from one address (password spraying): after AUTH_IP_MAX_FAILURES failures that address waits, others do not.
    const service = new AuthService(app.orm, { ...app.auth.config, ipMaxFailures: 3 });
    const sign = (login: string, password: string, ip: string) => service.signIn(login, password, { ip }).then(() => 'ok', (e) => e.extensions.reason);
    expect(await sign('nobody-1', 'x', '203.0.113.9')).toBe('INVALID');
    expect(await sign('nobody-2', 'x', '203.0.113.9')).toBe('INVALID');
    expect(await sign('locked-user', 'wrong', '203.0.113.9')).toBe('INVALID');
    expect(await sign('locked-user', 'правильный-пароль', '203.0.113.9')).toBe('LOCKED');
    expect(await sign('locked-user', 'правильный-пароль', '198.51.100.7')).toBe('ok');
  });

  it('ends the session on sign-out (Bearer token and cookie alike)', async () => {
    const c = await app.signInNew({ login: 'signout-user', role: Role.WORKER, password: 'пароль-для-выхода' });
    expect((await c.gql('{ me { login } }')).data.me.login).toBe('signout-user');
    expect((await c.gql('mutation { signOut }')).data.signOut).toBe(true);
    const after = await c.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ me { login } }' }) });
    expect(after.status).toBe(401);
    expect((await c.fetch('/tiles/appeals/11/1486/680.mvt')).status).toBe(401);

    // The web client's way: the HttpOnly cookie from /auth/login, then /auth/logout.
    const login = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'signout-user', password: 'пароль-для-выхода' }) });
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^mcu_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    const cookie = setCookie.split(';')[0];
    const me = await rawFetch(`${app.url}/auth/me`, { headers: { cookie } });
    expect((await me.json()).user).toMatchObject({ login: 'signout-user', role: 'WORKER', roleLabel: 'Работник МЦУ' });
    const out = await rawFetch(`${app.url}/auth/logout`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' });
    expect(out.headers.get('set-cookie')).toMatch(/mcu_session=; .*Max-Age=0/);
    expect((await rawFetch(`${app.url}/auth/me`, { headers: { cookie } })).status).toBe(401);
    // The GraphQL signIn sets the same cookie.
    const gsign = await rawFetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation { signIn(login: "signout-user", password: "пароль-для-выхода") { token expiresAt user { login role } } }' }) });
    expect(gsign.headers.get('set-cookie')).toMatch(/^mcu_session=/);
    expect((await gsign.json()).data.signIn.user).toEqual({ login: 'signout-user', role: 'WORKER' });
  });

  it('creates demo accounts per role only in demo mode', async () => {
    expect(app.demoAccounts.map((a) => a.role).sort()).toEqual([...ALL_ROLES].sort());
    const analyst = app.demoAccounts.find((a) => a.role === Role.ANALYST)!;
    const ok = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: analyst.login, password: analyst.password }) });
    expect(ok.status).toBe(200);
    const token = (await ok.json()).token;
    // Outside demo mode (what startApp does without --demo) they are disabled and their sessions end.
    expect(await disableDemoAccounts(app.orm.em.fork())).toBe(ALL_ROLES.length);
    app.auth.forgetUser((await app.sql<{ id: number }>(`SELECT id FROM app_user WHERE login = ?`, [analyst.login]))[0].id);
    expect((await rawFetch(`${app.url}/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    const no = await rawFetch(`${app.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: analyst.login, password: analyst.password }) });
    expect(no.status).toBe(401);
  });

  it('anonymises the authors of appeals closed longer than the retention period', async () => {
    const count = (sql: string) => app.sql<{ n: number }>(sql).then((r) => r[0].n);
    const allClosed = `SELECT count(*)::int AS n FROM appeal_author au WHERE au.anonymized_at IS NULL AND coalesce(au.full_name, au.phone, au.email, au.profile_url) IS NOT NULL
      AND EXISTS (SELECT 1 FROM appeal a WHERE a.author_id = au.id) AND NOT EXISTS (SELECT 1 FROM appeal a WHERE a.author_id = au.id AND a.status NOT IN ('CLOSED', 'REJECTED'))`;
    const expected = await count(allClosed);
    const openBefore = await count(`SELECT count(*)::int AS n FROM appeal_author au WHERE EXISTS (SELECT 1 FROM appeal a WHERE a.author_id = au.id AND a.status NOT IN ('CLOSED', 'REJECTED')) AND au.full_name IS NOT NULL`);
    expect(expected).toBeGreaterThan(0);
    const em = app.orm.em.fork();
    // Today nothing is old enough under a 5-year period.
    expect((await anonymiseClosedAppealAuthors(em, app.municipalityId, { days: 1826 })).authors).toBe(0);
    const dry = await anonymiseClosedAppealAuthors(em, app.municipalityId, { days: 30, now: new Date('2100-01-01'), dryRun: true });
    expect(dry.authors).toBeGreaterThanOrEqual(expected);
    const r = await anonymiseClosedAppealAuthors(em, app.municipalityId, { days: 30, now: new Date('2100-01-01') });
    expect(r.authors).toBe(dry.authors);
    expect(await count(allClosed)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM appeal_author WHERE anonymized_at IS NOT NULL AND coalesce(full_name, phone, email, profile_url) IS NOT NULL`)).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM appeal a JOIN appeal_author au ON au.id = a.author_id WHERE au.anonymized_at IS NOT NULL AND a.author_key IS NOT NULL`)).toBe(0);
    // Authors with an open appeal keep their data.
    expect(await count(`SELECT count(*)::int AS n FROM appeal_author au WHERE EXISTS (SELECT 1 FROM appeal a WHERE a.author_id = au.id AND a.status NOT IN ('CLOSED', 'REJECTED')) AND au.full_name IS NOT NULL`)).toBe(openBefore);
    // Again: nothing left to do.
    expect((await anonymiseClosedAppealAuthors(em, app.municipalityId, { days: 30, now: new Date('2100-01-01') })).authors).toBe(0);
    // A processor sees the anonymised author, and the read is not logged as a personal-data read.
    const [anon] = await app.sql<{ id: number }>(`SELECT a.id FROM appeal a JOIN appeal_author au ON au.id = a.author_id WHERE au.anonymized_at IS NOT NULL ORDER BY a.id LIMIT 1`);
    await app.sql('DELETE FROM pd_access_log');
    const seen = await clients[Role.CURATOR].gql(`{ appeal(id: "${anon.id}") { author { masked anonymized fullName phone email profileUrl } } }`);
    expect(seen.data.appeal.author).toEqual({ masked: false, anonymized: true, fullName: null, phone: null, email: null, profileUrl: null });
    expect(await count('SELECT count(*)::int AS n FROM pd_access_log')).toBe(0);
    const audit = await clients[Role.ADMIN].gql('{ auditLog(first: 1, filter: { entity: "appeal_author" }) { edges { node { actor action after } } } }');
    expect(audit.data.auditLog.edges[0].node).toMatchObject({ actor: 'system:retention', action: 'anonymise', after: { authors: r.authors, retentionDays: 30 } });
  });
});
