import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { createAndSignIn, rawFetch, startTestApp, type Client, type TestApp } from './helpers/app.js';

const rawGet = (url: string) => rawFetch(url);
import { Role } from '../server/auth/roles.js';
import { generateDemoAppeals } from '../server/demo/generator.js';
import { readReference } from '../server/reference/files.js';
import ExcelJS from 'exceljs';
import { getNamedType, type GraphQLField } from 'graphql';
import { getSchema } from '../server/graphql/schema.js';
import { foreignObjects, operation, takesIds, type Fill } from './helpers/isolation.js';

/**
 * A region on one deployment: a second municipality (Aleisk) loaded beside Rubtsovsk with its own reference data and
 * demo appeals; the region entity; regional roles that read every municipality of the region (one at a time, opened
 * for the session) and change nothing the decree leaves to the municipality; the regional overview.
 */
describe('the demo generator fills any municipality', () => {
  it('places Aleisk appeals on Aleisk streets and districts, with the shared rubricator', () => {
    const rows = [...generateDemoAppeals({ count: 400, seed: 3, municipality: 'aleisk' })];
    expect(rows.length).toBe(400);
    const streets = new Set(readReference<{ streets: { name: string }[] }>('aleisk', 'demo.json').streets.map((s) => s.name));
    const addressed = rows.filter((r) => r.address);
    expect(addressed.length).toBeGreaterThan(100);
    for (const r of addressed) expect(streets.has(r.address!.split(',')[0]), r.address!).toBe(true);
    for (const r of rows.filter((x) => x.lon != null)) {
      expect(r.lon!).toBeGreaterThan(82.7); expect(r.lon!).toBeLessThan(82.86);
      expect(r.lat!).toBeGreaterThan(52.44); expect(r.lat!).toBeLessThan(52.54);
    }
    // Rubtsovsk's output is unchanged by the option (same seed, default municipality).
    const a = [...generateDemoAppeals({ count: 50, seed: 3 })];
    const b = [...generateDemoAppeals({ count: 50, seed: 3, municipality: 'rubtsovsk' })];
    expect(b).toEqual(a);
  });
});


/**
 * The isolation matrix: one entry per GraphQL field and per HTTP route. The fields come from the built schema and the
 * routes from the express router, so a new field or route without an entry fails the test («no entry»).
 * Query entries: `id` = the table of its `id` argument. Mutation entries: `id` likewise; `own` = it takes no id and acts
 * on the request's municipality (checked: the field has no ID argument); `skip` = the caller's own session/account.
 */
type Entry = { id?: string; args?: Record<string, unknown> | ((fill: Fill) => Record<string, unknown>); own?: string; skip?: string; region?: string };
const OWN = 'acts on the request\'s municipality (ctx.municipalityId); takes no id';
const QUERY_MATRIX: Record<string, Entry> = {
  activityPlan: { id: 'activity_plan' }, activityPlans: {}, analyseAnswerText: {}, communicationFindings: {}, communicationKinds: {},
  communicationLastRun: {}, communicationSummary: {}, analyticReport: { id: 'analytic_report' }, analyticReports: {}, reportSchedules: {}, answerQualityByOrganization: {}, answerTemplates: {}, appeal: { id: 'appeal' },
  appealCounts: {}, appeals: {}, appealsGeoJSON: {}, auditLog: {}, bestPractices: {}, channels: {}, controlQueue: {}, dataQualityFindings: {},
  dataQualityNotices: {}, dataQualitySettings: {}, dataQualitySummary: {}, deadlineRules: {}, deadlineSettings: {}, districtStats: {},
  districts: {}, heatLayers: {}, heatmap: { args: { bbox: { minLon: 80, minLat: 50, maxLon: 84, maxLat: 54 }, zoom: 11 } }, importBatch: { id: 'import_batch' },
  importBatches: {}, indicatorCatalogue: {}, indicatorDashboard: { args: { from: '2025-01', to: '2026-11' } }, indicators: {}, me: {}, municipalities: {},
  newRiskSignalCount: {}, officialPage: { id: 'official_page' }, officialPageMonths: {}, officialPageRating: {}, officialPages: {}, open311Keys: {},
  organizationRating: { args: { period: { from: '2025-01-01', to: '2026-12-01' } } }, organizationRatingCard: { args: { period: { from: '2025-01-01', to: '2026-12-01' } } },
  organizations: {}, pageCategories: {}, personalDataAccessLog: {}, problem: { id: 'problem' }, problemRuns: {}, problemSettings: {}, problems: {},
  productionCalendar: {}, ratingSettings: {}, recommendation: { id: 'recommendation' }, recommendationRules: {}, recommendations: {},
  regionOverview: { region: 'regional roles only: FORBIDDEN for municipal roles' }, riskRuns: {}, riskSignal: { id: 'risk_signal' }, riskSignals: {},
  routingRules: {}, seminarInviteSuggestions: { args: { basis: 'problems', from: '2025-01-01', to: '2026-12-01' } }, seminars: {}, thematicBlocks: {},
  themes: {}, users: {}, workingHours: {},
  informingTemplates: {}, informingPlaceholders: {}, plannedWorks: {}, informings: {}, callbackList: { id: 'informing' },
  informingAudience: { args: (f) => ({ audience: { kind: 'DISTRICTS', districtIds: [f.idOf('district')] } }) },
  informingDraft: { args: (f) => ({ source: { kind: 'PROBLEM', id: f.idOf('problem') }, templateCode: 'page.problem' }) },
};
const MUTATION_MATRIX: Record<string, Entry> = {
  acknowledgeRiskSignal: { id: 'risk_signal' }, runCommunicationCheck: { own: OWN },
  requestAnalyticReport: { args: (f) => ({ input: { from: '2026-10-01', to: '2026-11-01', scopeKind: 'DISTRICT', scopeId: f.idOf('district') } }) },
  regenerateAnalyticReport: { id: 'analytic_report' }, cancelReportSchedule: { id: 'report_schedule' },
  scheduleAnalyticReport: { args: (f) => ({ input: { weekday: 1, hour: 9, scopeKind: 'ORGANIZATION', scopeId: f.idOf('organization') } }) }, addBestPractice: {}, addPlanItem: {}, answerAppeal: { id: 'appeal' }, approveActivityPlan: {},
  assignProblem: { id: 'problem' }, changePassword: { skip: 'the caller\'s own password' }, closeActivityPlan: {}, closeRiskSignal: { id: 'risk_signal' },
  commentProblem: { id: 'problem' }, completeSeminar: {}, createActivityPlan: { own: OWN }, createDataQualityNotice: {}, createIndicator: { own: OWN },
  createOfficialPage: {}, createSeminar: { own: OWN }, createUser: { args: (f) => ({ input: { login: 'matrix-user', role: 'ORG_OFFICER', password: 'a-long-password-12', organization: f.idOf('organization') } }) }, decideRecommendation: { id: 'recommendation' }, deleteOfficialPage: { id: 'official_page' },
  detectRisks: { own: OWN }, extendAppealDeadline: {}, generateRecommendations: { own: OWN }, importAddressRegister: { own: OWN }, importAppeals: { own: OWN },
  importDistricts: { own: OWN }, importHeatLayer: {}, importIndicatorValues: { own: OWN }, importOfficialPageFile: { own: OWN }, importOpen311: { own: OWN },
  importOrgIndicators: { own: OWN }, importProductionCalendar: { own: 'the production calendar is federal (one for the deployment), no municipality data' },
  inviteToSeminar: {}, issueOpen311Key: { own: OWN }, judgeAnswers: { own: OWN },
  openMunicipality: { region: 'regional roles only: FORBIDDEN for municipal roles' }, overrideAnswerQuality: {}, reassignAppeal: { id: 'appeal' },
  reclassifyAppeal: { id: 'appeal' }, recomputeAppealDeadlines: { own: OWN }, recomputeOfficialPageScores: { own: OWN }, recomputeProblems: { own: OWN },
  recordFirstReaction: {}, recordSatisfaction: {}, resolveAppealPlace: { id: 'appeal' }, retireDeadlineRule: { id: 'deadline_rule' }, retrainAnswerQuality: { own: OWN },
  retrainClassifier: { own: OWN }, revokeOpen311Key: { id: 'open311_api_key' }, runDataQualityCheck: { own: OWN }, setAppealStatus: { id: 'appeal' },
  setAppealUrgent: {}, setDataQualitySettings: { own: OWN }, setDeadlineRule: {}, setDeadlineSettings: { own: OWN }, setIndicatorTarget: { id: 'indicator' },
  setOrganizationContacts: {}, setPlanItemProgress: {}, setProblemPlanDue: { id: 'problem' }, setProblemSettings: {}, setProblemStatus: { id: 'problem' },
  setRatingSettings: { own: OWN }, setRecommendationRule: { own: OWN }, setRoutingRule: {}, setUserPassword: { id: 'app_user' }, setWorkingHours: { own: OWN },
  signIn: { skip: 'anonymous sign-in: answers the account signing in' }, signOut: { skip: 'ends the caller\'s own session' },
  syncOfficialPageFromVk: { id: 'official_page' }, takeOfficialPageCommentsAsAppeals: {}, unlockUser: { id: 'app_user' }, updateIndicator: { id: 'indicator' },
  updateOfficialPage: { id: 'official_page' }, updatePlanItem: {}, updateUser: { id: 'app_user' }, upsertPageCategory: { own: OWN },
  setInformingTemplate: { own: OWN },
  createPlannedWorks: { args: (f) => ({ input: { title: 'Матрица', address: 'ул. Матричная, 1', startsAt: '2026-12-10T03:00:00Z', endsAt: '2026-12-11T03:00:00Z',
    districtId: f.idOf('district'), organizationId: f.idOf('organization'), themeId: f.idOf('theme') } }) },
  recordInforming: { args: (f) => ({ input: { audience: { kind: 'DISTRICTS', districtIds: [f.idOf('district')] }, channel: 'OFFICIAL_PAGE', message: 'Матрица',
    source: { kind: 'PROBLEM', id: f.idOf('problem') } } }) },
};
/** HTTP routes (from the express router) → how the matrix checks them. */
const ROUTE_MATRIX: Record<string, string> = {
  'GET /tiles/:layer/:z/:x/:file': 'tile cache keyed by municipality; municipalityId of another municipality → 403',
  'GET /exports/problems.:format': 'CSV/GeoJSON of the own municipality only',
  'GET /exports/plan.xlsx': 'another municipality\'s plan id → not found',
  'GET /exports/plan.docx': 'another municipality\'s plan id → not found',
  'GET /exports/notice.docx': 'another municipality\'s notice id → not found',
  'GET /exports/rating.xlsx': 'rating workbook of the own municipality only',
  'GET /reports/:file': 'another municipality\'s report id → not found',
  'GET /exports/official-pages.xlsx': 'pages workbook of the own municipality only',
  'GET /exports/callback.xlsx': 'another municipality\'s informing id → not found (call-back list of the own municipality only)',
  'USE /open311/v2': 'jurisdiction_id picks the municipality; a key of another municipality is unknown there (401)',
  'POST /auth/login': 'the account signing in', 'USE /auth': 'the auth router\'s own middleware (no data)', 'POST /auth/logout': 'the caller\'s session', 'GET /auth/me': 'the caller\'s account',
  'GET /healthz': 'no data', 'GET /config.json': 'the caller\'s municipality', 'GET /graphql': 'GraphiQL page (no data)',
  'USE /graphql': 'the GraphQL fields (QUERY_MATRIX, MUTATION_MATRIX)', 'USE /': 'static files of dist/web, 404 and error handlers (no data)',
};
const MARKERS = /Алейск(?!ая|ой|ую)|Сердюка|Привокзальн|aleisk|ale-curator/;

describe.each(backends)('a region on one deployment (%s)', (backend) => {
  let app: TestApp;
  let rub: number;
  let ale: number;
  let aleCurator: Client;
  let regionAnalyst: Client;
  let regionCurator: Client;

  beforeAll(async () => {
    app = await startTestApp(backend, 600, undefined, {
      municipalities: ['aleisk'],
      // The isolation matrix sends every field with its whole selection, many times: limits out of its way.
      limits: { maxDepth: 40, maxComplexity: 10_000_000, maxTokens: 1_000_000, maxAliases: 1000, rateLimitPerMinute: 0 },
    });
    rub = app.municipalityId;
    ale = app.municipalities.find((m) => m.code === 'aleisk')!.id;
    aleCurator = await createAndSignIn(app, { login: 'ale-curator', role: Role.CURATOR, municipalityId: ale });
    regionAnalyst = await createAndSignIn(app, { login: 'region-analyst', role: Role.REGION_ANALYST });
    regionCurator = await createAndSignIn(app, { login: 'region-curator', role: Role.REGION_CURATOR });
  }, 300_000);
  afterAll(async () => app?.close());

  it('loads Aleisk beside Rubtsovsk, both in Altai Krai, with its own districts and organisations and the shared rubricator', async () => {
    const rows = await app.sql(`SELECT m.code, r.code AS region, (SELECT count(*)::int FROM district d WHERE d.municipality_id = m.id) AS districts,
        (SELECT count(*)::int FROM organization o WHERE o.municipality_id = m.id) AS orgs, (SELECT count(*)::int FROM theme t WHERE t.municipality_id = m.id) AS themes,
        (SELECT count(*)::int FROM appeal a WHERE a.municipality_id = m.id) AS appeals,
        (SELECT count(*)::int FROM appeal a WHERE a.municipality_id = m.id AND a.point IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM district d WHERE d.municipality_id = m.id AND ST_DWithin(d.geom, a.point, 0.01))) AS outside
       FROM municipality m JOIN region r ON r.id = m.region_id ORDER BY m.id`);
    expect(rows.map((r) => [r.code, r.region])).toEqual([['rubtsovsk', 'altai-krai'], ['aleisk', 'altai-krai']]);
    const [r, a] = rows;
    expect(a.districts).toBe(5);
    expect(a.themes).toBe(r.themes);
    expect(a.orgs).toBeGreaterThan(10);
    // Demo appeals in proportion to population: 600 × 28 000 / 146 386 ≈ 115.
    expect(a.appeals).toBe(Math.round(600 * 28000 / 146386));
    expect(a.outside).toBe(0);
    // Every Aleisk appeal's theme, district and organisation are Aleisk's own rows.
    const [{ foreign }] = await app.sql(`SELECT count(*)::int AS foreign FROM appeal a WHERE a.municipality_id = ? AND (
        a.theme_id NOT IN (SELECT id FROM theme WHERE municipality_id = ?) OR a.district_id NOT IN (SELECT id FROM district WHERE municipality_id = ?)
        OR a.organization_id NOT IN (SELECT id FROM organization WHERE municipality_id = ?))`, [ale, ale, ale, ale]);
    expect(foreign).toBe(0);
    const [{ n }] = await app.sql('SELECT count(*)::int AS n FROM address_point WHERE municipality_id = ? AND display LIKE ?', [ale, 'ул. Сердюка%']);
    expect(n).toBeGreaterThan(10);
  });

  it('serves each municipal user their own municipality: lists, counts, reference data, config', async () => {
    const q = '{ municipalities { code } districts { name } appeals(first: 5) { totalCount } }';
    const mine = await aleCurator.gql(q);
    expect(mine.errors).toBeUndefined();
    expect(mine.data.municipalities.map((m: { code: string }) => m.code)).toEqual(['aleisk']);
    expect(mine.data.districts.map((d: { name: string }) => d.name).sort()).toEqual(['Восточный', 'Западный', 'Привокзальный', 'Северный', 'Центральный']);
    expect(mine.data.appeals.totalCount).toBe(Math.round(600 * 28000 / 146386));
    const theirs = await app.gql(q);
    expect(theirs.data.municipalities.map((m: { code: string }) => m.code)).toEqual(['rubtsovsk']);
    expect(theirs.data.appeals.totalCount).toBe(600);
    const cfg = await (await aleCurator.fetch('/config.json')).json();
    expect(cfg.municipality.code).toBe('aleisk');
    expect(cfg.municipality.center[0]).toBeCloseTo(82.7794, 3);
  });

  it('refuses another municipality named explicitly (FORBIDDEN, never silently another one)', async () => {
    for (const q of [`{ districts(municipalityId: "${ale}") { id } }`, `{ heatLayers(municipalityId: "${ale}") { id } }`,
      `{ appeals(filter: { municipalityId: "${ale}" }) { totalCount } }`]) {
      const r = await app.gql(q);
      expect(r.errors?.[0].extensions?.code, q).toBe('FORBIDDEN');
    }
    const imp = await app.gql(`mutation { importDistricts(municipalityId: "${ale}", featureCollection: { type: "FeatureCollection", features: [] }) { read } }`);
    expect(imp.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('gives the regional roles the region: the overview, then one municipality opened read-only', async () => {
    const overview = await regionAnalyst.gql(`{ regionOverview(from: "2025-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z") { region { code name }
      currentMunicipalityId municipalities { id code name population appeals appealsPer1000 problems riskSignals overdue geometry } } }`);
    expect(overview.errors).toBeUndefined();
    const o = overview.data.regionOverview;
    expect(o.region).toEqual({ code: 'altai-krai', name: 'Алтайский край' });
    const byCode = Object.fromEntries(o.municipalities.map((m: any) => [m.code, m]));
    expect(Object.keys(byCode).sort()).toEqual(['aleisk', 'rubtsovsk']);
    expect(byCode.rubtsovsk.appeals).toBe(600);
    expect(byCode.aleisk.appeals).toBe(Math.round(600 * 28000 / 146386));
    expect(byCode.aleisk.appealsPer1000).toBeCloseTo((byCode.aleisk.appeals / 28000) * 1000, 1);
    expect(byCode.aleisk.geometry.type).toBe('MultiPolygon');
    const [{ problems }] = await app.sql(`SELECT count(*)::int AS problems FROM problem WHERE municipality_id = ? AND status IN ('DETECTED', 'CONFIRMED', 'IN_PROGRESS', 'PLANNED')`, [rub]);
    expect(byCode.rubtsovsk.problems).toBe(problems);
    expect(o.currentMunicipalityId).toBe(String(rub));

    // Municipal roles have no regional view.
    expect((await app.gql('{ regionOverview { region { code } } }')).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await aleCurator.gql(`mutation { openMunicipality(municipalityId: "${rub}") { code } }`)).errors?.[0].extensions?.code).toBe('FORBIDDEN');

    // Drill-down: the analyst opens Aleisk; the same queries now answer Aleisk's data, without personal data.
    const opened = await regionAnalyst.gql(`mutation { openMunicipality(municipalityId: "${ale}") { code name } }`);
    expect(opened.data.openMunicipality).toEqual({ code: 'aleisk', name: 'город Алейск' });
    const seen = await regionAnalyst.gql('{ districts { name } appeals(first: 1) { totalCount } }');
    expect(seen.data.appeals.totalCount).toBe(byCode.aleisk.appeals);
    expect(seen.data.districts).toHaveLength(5);
    expect((await (await regionAnalyst.fetch('/config.json')).json()).municipality.code).toBe('aleisk');
    // Explicitly, another municipality of the region is readable too; a municipality outside the region is not.
    expect((await regionAnalyst.gql(`{ districts(municipalityId: "${rub}") { id } }`)).data.districts).toHaveLength(10);
    expect((await regionAnalyst.gql('{ districts(municipalityId: "999999") { id } }')).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // Read-only: nothing the municipality decides.
    const [{ id: appealId }] = await app.sql('SELECT id FROM appeal WHERE municipality_id = ? ORDER BY id LIMIT 1', [ale]);
    const change = await regionAnalyst.gql(`mutation { setAppealStatus(id: "${appealId}", status: IN_PROGRESS) { id } }`);
    expect(change.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const pd = await regionAnalyst.gql(`{ appeal(id: "${appealId}") { id author { masked fullName phone } } }`);
    expect(pd.data.appeal).toEqual({ id: String(appealId), author: { masked: true, fullName: null, phone: null } });
    // Back home.
    await regionAnalyst.gql('mutation { openMunicipality { code } }');
    expect((await regionAnalyst.gql('{ appeals(first: 1) { totalCount } }')).data.appeals.totalCount).toBe(600);
  });

  it('lets the regional curator import the ЦУР heat map of a municipality of its region, and nothing else', async () => {
    const csv = 'lon;lat;weight\n82.78;52.49;3\n82.79;52.495;2\n';
    const input = { name: 'ЦУР, Алейск', source: 'CUR', format: 'CSV', periodFrom: "2026-10-01T00:00:00Z", periodTo: "2026-11-01T00:00:00Z", content: csv };
    const q = 'mutation I($input: HeatLayerImportInput!, $m: ID) { importHeatLayer(input: $input, municipalityId: $m) { inserted layer { id } } }';
    const r = await regionCurator.gql(q, { input, m: String(ale) });
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data.importHeatLayer.inserted).toBe(2);
    const [{ mid }] = await app.sql('SELECT municipality_id AS mid FROM heat_layer WHERE id = ?', [Number(r.data.importHeatLayer.layer.id)]);
    expect(mid).toBe(ale);
    // A municipal curator cannot do it for its neighbour; the regional analyst cannot do it at all.
    expect((await app.gql(q, { input, m: String(ale) })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await regionAnalyst.gql(q, { input, m: String(ale) })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await regionCurator.gql('mutation { recomputeProblems { created } }')).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('keeps regional roles out of a municipal administrator\'s reach', async () => {
    const admin = await app.as(Role.ADMIN);
    const r = await admin.gql('mutation { createUser(input: { login: "sneaky", role: REGION_ANALYST, password: "a-long-password-1" }) { id } }');
    expect(r.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(r.errors?.[0].message).toContain('npm run user:create');
    const [{ n }] = await app.sql("SELECT count(*)::int AS n FROM app_user WHERE login = 'sneaky'");
    expect(n).toBe(0);
  });

  describe('the isolation matrix (municipal roles never cross municipalities)', () => {
    let fill: Fill;
    const foreign = new Map<string, Set<string>>();
    const fingerprint = async () => {
      const tables = await app.sql(`SELECT table_name AS t FROM information_schema.columns WHERE column_name = 'municipality_id' AND table_schema = 'public'
        AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema = 'public') ORDER BY 1`);
      const out: Record<string, string> = {};
      for (const { t } of tables) out[t] = (await app.sql(`SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h FROM ${t} x WHERE municipality_id = ?`, [ale]))[0].h;
      return out;
    };

    beforeAll(async () => {
      // Aleisk's own rows of every kind a field can name: an import batch, a plan with an item, a seminar, an official page, a notice,
      // risk signals, recommendations, an Open311 key.
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: 'mutation($file: Upload!) { importAppeals(file: $file, channel: DIRECT) { batchId inserted } }', variables: { file: null } }));
      form.append('map', JSON.stringify({ 0: ['variables.file'] }));
      form.append('0', new Blob(['Рег. номер;Дата регистрации;Заявитель — вид;Заявитель;Телефон;E-mail;Адрес;Содержание;Исполнитель;Статус;Срок;Дата ответа;Ответ\n'
        + 'Вх-1;20.05.2026;Гражданин;Иванова Анна;+7 913 000-00-01;;ул. Сердюка, 10;Не горит фонарь у дома.;;Зарегистрировано;19.06.2026;;\n']), 'ale.csv');
      const imp = await (await aleCurator.fetch('/graphql', { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true' } })).json();
      expect(imp.errors, JSON.stringify(imp.errors)).toBeUndefined();
      const plan = await aleCurator.gql('mutation { createActivityPlan(input: { periodKind: YEAR, year: 2027, title: "План Алейска" }) { id } }');
      expect(plan.errors, JSON.stringify(plan.errors)).toBeUndefined();
      const item = await aleCurator.gql(`mutation { addPlanItem(planId: "${plan.data.createActivityPlan.id}", input: { title: "Пункт Алейска", responsible: "Управление ЖКХ", dueDate: "2027-06-30" }) { id } }`);
      expect(item.errors, JSON.stringify(item.errors)).toBeUndefined();
      const seminar = await aleCurator.gql('mutation { createSeminar(input: { heldOn: "2026-12-20", topic: "Семинар Алейска" }) { id } }');
      expect(seminar.errors, JSON.stringify(seminar.errors)).toBeUndefined();
      const [cat] = await app.sql('SELECT id FROM page_category WHERE municipality_id = ? ORDER BY id LIMIT 1', [ale]);
      const [org] = await app.sql("SELECT id FROM organization WHERE municipality_id = ? AND code = 'uzhkh'", [ale]);
      const page = await aleCurator.gql(`mutation { createOfficialPage(input: { categoryId: "${cat.id}", organizationId: "${org.id}", platform: VK, url: "https://vk.com/aleisk_gkh", name: "ЖКХ Алейска" }) { id } }`);
      expect(page.errors, JSON.stringify(page.errors)).toBeUndefined();
      await aleCurator.gql('mutation { runDataQualityCheck { __typename } }');
      const [flawed] = await app.sql('SELECT organization_id AS id FROM dq_finding WHERE municipality_id = ? AND organization_id IS NOT NULL AND resolved_at IS NULL ORDER BY id LIMIT 1', [ale]);
      expect(flawed, 'Aleisk has data-quality findings').toBeTruthy();
      const notice = await aleCurator.gql(`mutation { createDataQualityNotice(organizationId: "${flawed.id}", fixBy: "2026-12-31") { id } }`);
      expect(notice.errors, JSON.stringify(notice.errors)).toBeUndefined();
      expect((await aleCurator.gql('mutation { detectRisks { id } }')).errors).toBeUndefined();
      expect((await aleCurator.gql('mutation { generateRecommendations { __typename } }')).errors).toBeUndefined();
      const report = await aleCurator.gql('mutation { requestAnalyticReport(input: { from: "2026-10-01", to: "2026-11-01", scopeKind: CITY }) { id } }');
      expect(report.errors, JSON.stringify(report.errors)).toBeUndefined();
      const schedule = await aleCurator.gql('mutation { scheduleAnalyticReport(input: { weekday: 1, hour: 9, scopeKind: CITY }) { id } }');
      expect(schedule.errors, JSON.stringify(schedule.errors)).toBeUndefined();
      const aleAdmin = await createAndSignIn(app, { login: 'ale-admin', role: Role.ADMIN, municipalityId: ale });
      const key = await aleAdmin.gql('mutation { issueOpen311Key(input: { name: "Алейск, портал" }) { secret } }');
      expect(key.errors, JSON.stringify(key.errors)).toBeUndefined();

      const ids = new Map<string, string>();
      const tables = (await app.sql(`SELECT table_name AS t FROM information_schema.columns WHERE column_name = 'municipality_id' AND table_schema = 'public'
          AND table_name IN (SELECT table_name FROM information_schema.columns WHERE column_name = 'id' AND table_schema = 'public')`)).map((r) => r.t as string);
      for (const t of tables) {
        const rows = await app.sql(`SELECT id::text AS id FROM ${t} WHERE municipality_id = ? ORDER BY id`, [ale]);
        if (rows.length) ids.set(t, rows[0].id);
        const type = t === 'app_user' ? 'User' : t.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
        foreign.set(type, new Set(rows.map((r) => r.id)));
      }
      foreign.set('Municipality', new Set([String(ale)]));
      fill = { idOf: (t) => ids.get(t) ?? '2000000000', otherMunicipalityId: String(ale) };
      // The kinds the matrix names all have an Aleisk row (else the cross-id calls would prove less).
      for (const t of ['appeal', 'problem', 'import_batch', 'activity_plan', 'plan_item', 'seminar', 'official_page', 'page_category', 'organization', 'theme',
        'district', 'thematic_block', 'app_user', 'indicator', 'deadline_rule', 'open311_api_key', 'heat_layer', 'analytic_report', 'report_schedule']) expect(ids.has(t), t).toBe(true);
    }, 300_000);

    const check = (what: string, body: unknown) => {
      const text = JSON.stringify(body);
      expect(text, `${what}: another municipality's names in the answer`).not.toMatch(MARKERS);
      expect(foreignObjects(body, foreign), `${what}: another municipality's objects in the answer`).toEqual([]);
    };

    it('has an entry for every GraphQL field, and every field keeps to its municipality', async () => {
      const schema = await getSchema();
      const queries = Object.values(schema.getQueryType()!.getFields());
      const mutations = Object.values(schema.getMutationType()!.getFields());
      expect(queries.map((f) => f.name).filter((n) => !QUERY_MATRIX[n]), 'query fields without a matrix entry').toEqual([]);
      expect(mutations.map((f) => f.name).filter((n) => !MUTATION_MATRIX[n]), 'mutation fields without a matrix entry').toEqual([]);
      expect(Object.keys(QUERY_MATRIX).filter((n) => !queries.some((f) => f.name === n)), 'matrix entries of fields that no longer exist').toEqual([]);
      expect(Object.keys(MUTATION_MATRIX).filter((n) => !mutations.some((f) => f.name === n)), 'matrix entries of fields that no longer exist').toEqual([]);
      const before = await fingerprint();
      const curator = await app.as(Role.CURATOR);
      const admin = await app.as(Role.ADMIN);
      const officer = await app.as(Role.ORG_OFFICER);
      let calls = 0;
      const internal: string[] = [];
      const violations: string[] = [];
      const run = async (kind: 'query' | 'mutation', f: GraphQLField<unknown, unknown>, e: Entry) => {
        for (const all of [false, true]) {
          if (kind === 'mutation' && !all) continue;
          const args = typeof e.args === 'function' ? e.args(fill) : e.args;
          const op = operation(schema, kind, f, fill, { id: e.id, all, args });
          for (const [who, client] of [['CURATOR', curator], ['ADMIN', admin], ['ORG_OFFICER', officer]] as const) {
            if (kind === 'mutation' && who === 'ORG_OFFICER') continue;
            const r = await client.gql(op.text, op.variables);
            calls++;
            const what = `${kind} ${f.name} as ${who}${all ? ' with another municipality\'s ids' : ''}`;
            const text = JSON.stringify(r);
            if (MARKERS.test(text)) violations.push(`${what}: another municipality's names: …${text.slice(Math.max(0, text.search(MARKERS) - 80), text.search(MARKERS) + 40)}…`);
            const objects = foreignObjects(r, foreign);
            if (objects.length) violations.push(`${what}: another municipality's objects ${objects.slice(0, 5).join(', ')}`);
            const broken = r.errors?.find((x) => x.extensions?.code === 'INTERNAL_SERVER_ERROR');
            if (broken) internal.push(`${what}: ${JSON.stringify(broken.path)}`);
            if (e.region && r.errors?.[0].extensions?.code !== 'FORBIDDEN') violations.push(`${what}: not FORBIDDEN for a municipal role`);
            const data = (r.data as Record<string, unknown> | undefined)?.[f.name];
            // A field named by another municipality's id answers nothing; a mutation given one changes nothing.
            if (kind === 'query' && e.id && data != null) violations.push(`${what}: answered ${text.slice(0, 200)}`);
            if (kind === 'mutation' && !r.errors?.length && data != null && data !== false) violations.push(`${what} succeeded: ${text.slice(0, 300)}`);
          }
          if (op.municipalityArgs.length) {
            // Naming the other municipality explicitly: FORBIDDEN.
            const named = operation(schema, kind, f, fill, { id: e.id, all: false, args: { ...args, ...Object.fromEntries(f.args.filter((a) => a.name === 'municipalityId').map((a) => [a.name, String(ale)])) } });
            if ('municipalityId' in named.variables) {
              const r = await curator.gql(named.text, named.variables);
              if (r.errors?.[0].extensions?.code !== 'FORBIDDEN') violations.push(`${f.name}(municipalityId: other): ${JSON.stringify(r).slice(0, 200)}`);
            }
          }
        }
      };
      for (const f of queries) await run('query', f, QUERY_MATRIX[f.name]);
      for (const f of mutations) {
        const e = MUTATION_MATRIX[f.name];
        if (e.skip) continue;
        if (e.own) {
          // Takes no id: nothing to point at another municipality with (its municipality is the request's) …
          if (takesIds(f)) violations.push(`${f.name} takes an id: give it a cross-municipality entry`);
          // … except an explicit municipalityId, which must name the caller's own.
          if (f.args.some((a) => a.name === 'municipalityId')) {
            const op = operation(schema, 'mutation', f, fill, { all: false, args: { municipalityId: String(ale) } });
            const r = await curator.gql(op.text, op.variables);
            if (r.errors?.[0].extensions?.code !== 'FORBIDDEN') violations.push(`${f.name}(municipalityId: other): ${JSON.stringify(r).slice(0, 200)}`);
          }
          continue;
        }
        await run('mutation', f, e);
      }
      expect(calls).toBeGreaterThan(200);
      expect(violations).toEqual([]);
      // Every field answered without an internal error (the matrix reaches fields no other test selects).
      expect(internal).toEqual([]);
      // Nothing of the other municipality changed: every table's rows of Aleisk are as they were.
      expect(await fingerprint()).toEqual(before);
    }, 600_000);

    it('has an entry for every HTTP route, and no route crosses municipalities', async () => {
      const routes = app.routes();
      expect(routes.filter((r) => !ROUTE_MATRIX[r]), 'routes without a matrix entry').toEqual([]);
      expect(Object.keys(ROUTE_MATRIX).filter((r) => !routes.includes(r)), 'matrix entries of routes that no longer exist').toEqual([]);
      const curator = await app.as(Role.CURATOR);
      // Tiles: the same URL is Rubtsovsk's tile for Rubtsovsk's users and Aleisk's (empty there) for Aleisk's, cache or not.
      const z = 13;
      const n = 2 ** z;
      const x = Math.floor(((81.21 + 180) / 360) * n);
      const lat = (51.515 * Math.PI) / 180;
      const y = Math.floor(((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * n);
      const url = `/tiles/appeals/${z}/${x}/${y}.mvt`;
      const mine = await curator.fetch(url);
      expect(mine.status).toBe(200);
      const mineBody = Buffer.from(await mine.arrayBuffer());
      expect(mineBody.length).toBeGreaterThan(50);
      const again = await curator.fetch(url); // now from the cache
      expect(Buffer.from(await again.arrayBuffer()).equals(mineBody)).toBe(true);
      const theirs = await aleCurator.fetch(url);
      const theirsBody = Buffer.from(await theirs.arrayBuffer());
      expect(theirsBody.equals(mineBody)).toBe(false);
      expect(theirsBody.length).toBeLessThan(mineBody.length);
      expect((await curator.fetch(`${url}?municipalityId=${ale}`)).status).toBe(403);
      // The regional analyst reads Rubtsovsk's tile through the parameter (and the cache entry is Rubtsovsk's).
      const viaRegion = await regionAnalyst.fetch(`${url}?municipalityId=${rub}`);
      expect(viaRegion.status).toBe(200);
      // Exports: no other municipality's names; other municipality's documents are not found.
      for (const path of ['/exports/problems.csv', '/exports/problems.geojson']) {
        const r = await curator.fetch(path);
        expect(r.status, path).toBe(200);
        expect(await r.text(), path).not.toMatch(MARKERS);
      }
      const workbookText = async (r: Response) => {
        const wb = new ExcelJS.Workbook();
        await wb.xlsx.load(Buffer.from(await r.arrayBuffer()) as never);
        const cells: string[] = [];
        wb.eachSheet((ws) => ws.eachRow((row) => row.eachCell((c) => { cells.push(String(c.text)); })));
        return cells.join('\n');
      };
      for (const path of ['/exports/rating.xlsx?kind=YEAR&start=2026-01-01', '/exports/official-pages.xlsx']) {
        const r = await curator.fetch(path);
        expect(r.status, path).toBe(200);
        const text = await workbookText(r);
        expect(text.length, path).toBeGreaterThan(20);
        expect(text, path).not.toMatch(MARKERS);
      }
      for (const format of ['xlsx', 'docx']) {
        const plan = (await curator.fetch(`/exports/plan.${format}?id=${fill.idOf('activity_plan')}`)).status;
        expect(plan >= 400 && plan < 500, `plan ${format} of another municipality: HTTP ${plan}`).toBe(true);
      }
      for (const format of ['pdf', 'docx']) expect((await curator.fetch(`/reports/${fill.idOf('analytic_report')}.${format}`)).status).toBe(404);
      const [notice] = await app.sql('SELECT id FROM dq_notice WHERE municipality_id = ?', [ale]);
      expect((await curator.fetch(`/exports/notice.docx?id=${notice.id}`)).status).toBe(404);
      // Open311: jurisdictions are the municipalities; a key works only in its own.
      const adminA = await app.as(Role.ADMIN);
      const key = (await adminA.gql('mutation { issueOpen311Key(input: { name: "Рубцовск, портал" }) { secret } }')).data.issueOpen311Key.secret;
      expect((await rawGet(`${app.url}/open311/v2/requests.json?jurisdiction_id=aleisk&api_key=${key}`)).status).toBe(401);
      expect((await rawGet(`${app.url}/open311/v2/requests.json?jurisdiction_id=rubtsovsk&api_key=${key}`)).status).toBe(200);
      const services = await (await rawGet(`${app.url}/open311/v2/requests.json?jurisdiction_id=aleisk`)).text();
      expect(services).not.toMatch(/Заводская|Рубцовск/);
      // The rest: own account, own municipality, no data.
      for (const path of ['/auth/me', '/config.json', '/healthz', '/graphql', '/', '/region.html']) {
        const r = await curator.fetch(path, { headers: { accept: 'text/html' } });
        expect(r.status, path).toBeLessThan(400);
        expect(await r.text(), path).not.toMatch(MARKERS);
      }
    }, 300_000);
  });
});
