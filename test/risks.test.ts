import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { gqlUpload } from './helpers/upload.js';
import { Role } from '../server/auth/roles.js';
import { mulberry32 } from '../bench/lib.js';
import { escalationMentions } from '../server/risks/escalation.js';

/**
 * Information risks on every backend: an ordinary synthetic history (Poisson counts with a weekday effect) with
 * planted spikes of known place, day and size; detection, the card, idempotent re-runs, the state machine and its
 * audit, row scopes, the short-history fallback, empty periods and scopes, bad input, the import hook.
 */
const AS_OF = '2026-11-20';
const TZ_OFFSET = '+07:00';
const day = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

const LIST = `query L($f: RiskSignalFilter, $first: Int, $after: String) { riskSignals(filter: $f, first: $first, after: $after) {
  totalCount hasNextPage endCursor edges { node { id kind seriesKey granularity title method methodNote startedOn lastOn observed expected upperbound status
  theme { code } district { id } organization { code } } } } }`;
const CARD = `query C($id: ID!) { riskSignal(id: $id) { id kind title method methodNote startedOn lastOn observed expected upperbound status statusLabel
  acknowledgedBy acknowledgedAt closedBy comment appealCount appealIds socialShare overdueShare appealsGeoJSON details
  series { date observed expected upperbound alarm } relatedProblems { id title } } }`;
const DETECT = `mutation D($asOf: String) { detectRisks(asOf: $asOf) { id mode series created updated notes asOf } }`;

function poisson(rnd: () => number, lambda: number) {
  const l = Math.exp(-lambda);
  let k = 0, p = 1;
  do { k++; p *= rnd(); } while (p > l);
  return k - 1;
}

describe('escalation mentions (hand-written evaluation set, not used to build the patterns)', () => {
  const positives = [
    'Если не сделаете, пишем в прокуратуру!', 'Обратились к прокурору района, ответа нет', 'Будем жаловаться губернатору',
    'Напишем губернатору края и в СМИ', 'Подадим в суд на управляющую компанию', 'Дело дойдёт до суда', 'Готовим коллективное обращение от жителей дома',
    'Это коллективная жалоба 40 квартир', 'Позвоним журналистам с телевидения', 'Собрали 120 подписей под письмом', 'Обращусь на прямую линию к президенту',
    'ПРОКУРАТУРА уже в курсе', 'Жители собираются в суд', 'Пишу президенту', 'в судебном порядке взыщем ущерб',
  ];
  const negatives = [
    'Не работает посудомоечная машина в столовой школы', 'Прорвало трубу, нет отопления', 'Сломана скамейка в сквере',
    'На губернаторской ёлке разбили игрушки', 'Смирно стоят машины в пробке уже час', 'Судно на реке не убрали', 'Просим рассудить спор соседей о парковке',
    'Посуда в кафе грязная', 'Яма на дороге у дома 12', 'Нет воды третий день', 'Спасибо за ремонт подъезда', 'Коллектив школы благодарит за ремонт',
  ];
  it('finds every positive and no negative; reports precision and recall', () => {
    const tp = positives.filter((t) => escalationMentions(t).length > 0).length;
    const fp = negatives.filter((t) => escalationMentions(t).length > 0);
    console.log(`escalation matcher: recall ${tp}/${positives.length}, false positives ${fp.length}/${negatives.length} ${fp.join(' | ')}`);
    expect(positives.filter((t) => escalationMentions(t).length === 0)).toEqual([]);
    expect(fp).toEqual([]);
  });
});

describe.each(backends)('information risks on %s', (backend) => {
  let app: TestApp;
  let districts: { id: number; lon: number; lat: number }[];
  let themes: Map<string, { id: number; block: string; org: number | null }>;
  let ext = 0;

  async function insert(rows: { district: number; theme: string; at: string; channel: string; author?: string; text?: string; due?: string; jitter?: number }[]) {
    if (!rows.length) return;
    const rnd = mulberry32(rows.length * 7919 + ext);
    const ds = rows.map((r) => districts[r.district]);
    const th = rows.map((r) => themes.get(r.theme)!);
    await app.sql(`
      INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, district_id, theme_id, organization_id, status, author_key, due_at)
      SELECT 1, u.ch, u.ext, u.at, 'CITIZEN', u.txt, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326), u.d, u.t, u.o, 'NEW', u.author, u.due
        FROM unnest(?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::float8[], ?::float8[], ?::int[], ?::int[], ?::int[], ?::text[], ?::timestamptz[])
          AS u(ch, ext, at, txt, lon, lat, d, t, o, author, due)`,
      [rows.map((r) => r.channel), rows.map(() => `R-${++ext}`), rows.map((r) => r.at), rows.map((r) => r.text ?? 'обращение'),
        ds.map((d, i) => d.lon + (rnd() - 0.5) * (rows[i].jitter ?? 0.02)), ds.map((d, i) => d.lat + (rnd() - 0.5) * (rows[i].jitter ?? 0.012)),
        ds.map((d) => d.id), th.map((t) => t.id), th.map((t) => t.org), rows.map((r) => r.author ?? `a-${ext}-${Math.floor(rnd() * 1e9)}`), rows.map((r) => r.due ?? null)]
        .map((a) => `{${a.map((v) => (v == null ? 'NULL' : typeof v === 'string' ? `"${v}"` : v)).join(',')}}`));
  }

  /** Ordinary history: per district × theme Poisson(λ · weekday factor) a day. */
  function history(from: string, to: string, seed: number) {
    const rnd = mulberry32(seed);
    const rows: Parameters<typeof insert>[0] = [];
    const channels = ['POS', 'INCIDENT_MANAGEMENT', 'DIRECT', 'POS', 'SOCIAL'];
    for (let d = from; d <= to; d = day(d, 1)) {
      const wd = new Date(`${d}T00:00:00Z`).getUTCDay();
      const f = wd === 0 ? 0.6 : wd === 6 ? 0.7 : 1;
      for (let di = 0; di < 3; di++) for (const t of ['gkh.heating', 'gkh.water', 'roads.potholes']) {
        const n = poisson(rnd, 2 * f);
        for (let k = 0; k < n; k++) {
          const h = String(8 + Math.floor(rnd() * 10)).padStart(2, '0');
          rows.push({ district: di, theme: t, at: `${d}T${h}:00:00${TZ_OFFSET}`, channel: channels[Math.floor(rnd() * channels.length)] });
        }
      }
    }
    return rows;
  }

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
    districts = await app.sql(`SELECT id, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM district ORDER BY id LIMIT 3`);
    const t = await app.sql<{ code: string; id: number; block: string; organization_id: number | null }>(
      `SELECT t.code, t.id, b.code AS block, t.organization_id FROM theme t JOIN thematic_block b ON b.id = t.block_id WHERE t.code = ANY(?::text[])`,
      ['{gkh.heating,gkh.water,roads.potholes}']);
    themes = new Map(t.map((r) => [r.code, { id: r.id, block: r.block, org: r.organization_id }]));
    expect(themes.size).toBe(3);
    expect(themes.get('roads.potholes')!.block).not.toBe('gkh');
  }, 240_000);
  afterAll(async () => { await app?.close(); await app?.db.drop(); });

  it('an empty database: a clear note, no signals, empty scopes', async () => {
    const r = await app.gql(DETECT, {});
    expect(r.errors).toBeUndefined();
    expect(r.data.detectRisks).toMatchObject({ created: 0, series: 0 });
    expect(r.data.detectRisks.notes.join(' ')).toMatch(/Нет ни одного обращения/);
    for (const role of [Role.ORG_OFFICER, Role.BLOCK_LEAD, Role.ANALYST]) {
      const l = await app.gqlAs(role, LIST, {});
      expect(l.errors).toBeUndefined();
      expect(l.data.riskSignals.totalCount).toBe(0);
      expect((await app.gqlAs(role, '{ newRiskSignalCount }')).data.newRiskSignalCount).toBe(0);
    }
  });

  it('a history too short for EARS and for the seasonal baseline says so', async () => {
    await insert(history(day(AS_OF, -4), AS_OF, 11));
    const r = await app.gql(DETECT, { asOf: AS_OF });
    expect(r.errors).toBeUndefined();
    const notes = r.data.detectRisks.notes.join(' ');
    expect(notes).toMatch(/История 5 дн\. короче, чем нужно EARS C2 \(10 дн\.\)/);
    expect(notes).toMatch(/Сезонная база \(Фаррингтон–Нуфайли\) недоступна: история 0 нед\./);
    const empty = await app.gql(DETECT, { asOf: '2020-01-01' });
    expect(empty.data.detectRisks.notes.join(' ')).toMatch(/Период пуст/);
  });

  it('finds the planted spikes with their method, card and evidence', async () => {
    await insert(history(day(AS_OF, -75), day(AS_OF, -5), 12));
    // A: district 0 × heating, two days before AS_OF, 24 appeals from four channels at one place, distinct authors,
    //    six mention escalation, the social/messenger half overdue.
    const spikeDay = day(AS_OF, -2);
    const chans = ['SOCIAL', 'MESSENGER', 'POS', 'DIRECT'];
    const texts = ['Напишем в прокуратуру', 'Готовим коллективное обращение', 'нет отопления', 'холодно в квартире'];
    await insert(Array.from({ length: 24 }, (_, k) => ({
      district: 0, theme: 'gkh.heating', at: `${spikeDay}T${String(8 + (k % 12)).padStart(2, '0')}:30:00${TZ_OFFSET}`, channel: chans[k % 4],
      text: k < 8 ? texts[k % 2] : texts[2 + (k % 2)], author: `spike-a-${k}`, jitter: 0.0008,
      due: k % 4 < 2 ? `${spikeDay}T23:00:00${TZ_OFFSET}` : undefined,
    })));
    // B: district 1 × potholes (another block), the day before AS_OF, 20 appeals.
    await insert(Array.from({ length: 20 }, (_, k) => ({ district: 1, theme: 'roads.potholes', at: `${day(AS_OF, -1)}T1${k % 10}:00:00${TZ_OFFSET}`, channel: 'POS' })));
    const prob = await app.gql(`mutation { recomputeProblems(from: "${day(AS_OF, -30)}T00:00:00+07:00", to: "${day(AS_OF, 1)}T00:00:00+07:00") { id } }`);
    expect(prob.errors).toBeUndefined();

    const r = await app.gql(DETECT, { asOf: AS_OF });
    expect(r.errors).toBeUndefined();
    expect(r.data.detectRisks.created).toBeGreaterThan(0);
    const all = (await app.gql(LIST, { first: 500 })).data.riskSignals;
    const sig = all.edges.map((e: any) => e.node);
    const keyA = `dt:${districts[0].id}:${themes.get('gkh.heating')!.id}`;
    const keyB = `dt:${districts[1].id}:${themes.get('roads.potholes')!.id}`;
    const a = sig.find((s: any) => s.kind === 'COUNT' && s.seriesKey === keyA);
    const b = sig.find((s: any) => s.kind === 'COUNT' && s.seriesKey === keyB);
    expect(a).toMatchObject({ method: 'EARS_C2', granularity: 'DAY', startedOn: spikeDay, status: 'NEW', theme: { code: 'gkh.heating' } });
    expect(b).toMatchObject({ method: 'EARS_C2', startedOn: day(AS_OF, -1) });
    expect(a.observed).toBeGreaterThanOrEqual(24);
    expect(a.upperbound).toBeLessThan(a.observed);
    expect(a.expected).toBeLessThan(6);
    expect(a.methodNote).toMatch(/EARS C2 по дням.*поправка на день недели.*Сезонная база \(Фаррингтон–Нуфайли\) недоступна/);
    // false alarms on the ordinary district × theme series of the window (planted A and B excluded): few
    const falseAlarms = sig.filter((s: any) => s.kind === 'COUNT' && s.seriesKey.startsWith('dt:') && s.seriesKey !== keyA && s.seriesKey !== keyB);
    expect(falseAlarms.length).toBeLessThanOrEqual(2);
    // «Резонанс» around A
    for (const kind of ['AUTHORS', 'CROSS_CHANNEL', 'ESCALATION', 'PUBLIC_OVERDUE']) {
      expect(sig.some((s: any) => s.kind === kind && (s.seriesKey === keyA || s.kind === 'CROSS_CHANNEL')), kind).toBe(true);
    }
    const esc = sig.find((s: any) => s.kind === 'ESCALATION');
    expect(esc.method).toBe('RULE_ESCALATION');

    const card = (await app.gql(CARD, { id: a.id })).data.riskSignal;
    expect(card.appealCount).toBeGreaterThanOrEqual(24);
    expect(card.appealsGeoJSON.features.length).toBe(card.appealCount);
    expect(card.socialShare).toBeGreaterThan(0.3);
    expect(card.overdueShare).toBeGreaterThan(0.3);
    expect(card.overdueShare).toBeLessThan(0.7);
    const peak = card.series.find((p: any) => p.date === spikeDay);
    expect(peak).toMatchObject({ alarm: true });
    expect(peak.observed).toBeGreaterThan(peak.upperbound);
    expect(card.series.length).toBeGreaterThan(30);
    expect(card.series.filter((p: any) => p.alarm).length).toBeLessThanOrEqual(3);
    expect(card.relatedProblems.length).toBeGreaterThan(0);
  });

  it('a re-run is idempotent: no duplicate signals, nothing changed', async () => {
    const before = await app.sql<{ n: number; m: string }>(`SELECT count(*)::int AS n, max(updated_at)::text AS m FROM risk_signal`);
    const r = await app.gql(DETECT, { asOf: AS_OF });
    expect(r.data.detectRisks).toMatchObject({ created: 0, updated: 0 });
    const after = await app.sql<{ n: number; m: string }>(`SELECT count(*)::int AS n, max(updated_at)::text AS m FROM risk_signal`);
    expect(after).toEqual(before);
    // the next day: the same episodes continue as the same signals
    const next = await app.gql(DETECT, { asOf: day(AS_OF, 1) });
    expect(next.errors).toBeUndefined();
    // no two signals of one series whose episodes overlap or touch (they would be one signal)
    const dup = await app.sql(`SELECT a.id, b.id FROM risk_signal a JOIN risk_signal b ON a.kind = b.kind AND a.series_key = b.series_key
      AND a.granularity = b.granularity AND a.id < b.id AND a.started_on <= b.last_on + 2 AND b.started_on <= a.last_on + 2`);
    expect(dup).toEqual([]);
  });

  it('state machine NEW → ACKNOWLEDGED → RESOLVED / FALSE_ALARM, with comments, audited', async () => {
    const list = (await app.gql(LIST, { f: { kinds: ['COUNT'], statuses: ['NEW'] }, first: 2 })).data.riskSignals;
    expect(list.edges.length).toBe(2);
    expect(list.hasNextPage).toBe(true);
    const [x, y] = list.edges.map((e: any) => e.node.id);
    const skip = await app.gql(`mutation { closeRiskSignal(id: "${x}", status: RESOLVED, comment: "сразу") { id } }`);
    expect(skip.errors?.[0].message).toMatch(/из состояния «новый» нельзя перейти в «отработан»/);
    const ack = await app.gql(`mutation { acknowledgeRiskSignal(id: "${x}") { status acknowledgedBy acknowledgedAt } }`);
    expect(ack.data.acknowledgeRiskSignal).toMatchObject({ status: 'ACKNOWLEDGED', acknowledgedBy: 'test-curator' });
    const noComment = await app.gql(`mutation { closeRiskSignal(id: "${x}", status: FALSE_ALARM, comment: "  ") { id } }`);
    expect(noComment.errors?.[0].extensions?.field).toBe('comment');
    const wrongStatus = await app.gql(`mutation { closeRiskSignal(id: "${x}", status: NEW, comment: "x") { id } }`);
    expect(wrongStatus.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const closed = await app.gql(`mutation { closeRiskSignal(id: "${x}", status: FALSE_ALARM, comment: "учения ГО") { status closedBy comment } }`);
    expect(closed.data.closeRiskSignal).toEqual({ status: 'FALSE_ALARM', closedBy: 'test-curator', comment: 'учения ГО' });
    const again = await app.gql(`mutation { acknowledgeRiskSignal(id: "${x}") { id } }`);
    expect(again.errors?.[0].message).toMatch(/сигнал закрыт/);
    await app.gql(`mutation { acknowledgeRiskSignal(id: "${y}", comment: "смотрим") { id } }`);
    const res = await app.gql(`mutation { closeRiskSignal(id: "${y}", status: RESOLVED, comment: "бригада выехала") { status } }`);
    expect(res.data.closeRiskSignal.status).toBe('RESOLVED');
    const log = await app.sql<{ action: string; actor: string; after: any }>(`SELECT action, actor, after FROM audit_log WHERE entity = 'risk_signal' AND entity_id = ? ORDER BY id`, [x]);
    expect(log.map((l) => l.action)).toEqual(['detect', 'status', 'status']);
    expect(log[2]).toMatchObject({ actor: 'test-curator', after: { status: 'FALSE_ALARM', comment: 'учения ГО' } });
    // a closed signal stays closed on re-run, and is not duplicated
    await app.gql(DETECT, { asOf: AS_OF });
    expect((await app.gql(CARD, { id: x })).data.riskSignal.status).toBe('FALSE_ALARM');
  });

  it('roles and row scopes', async () => {
    const keyB = `dt:${districts[1].id}:${themes.get('roads.potholes')!.id}`;
    const lead = (await app.gqlAs(Role.BLOCK_LEAD, LIST, { first: 500 })).data.riskSignals.edges.map((e: any) => e.node);
    expect(lead.length).toBeGreaterThan(0);
    expect(lead.every((s: any) => s.theme && s.theme.code.startsWith('gkh'))).toBe(true);
    expect(lead.some((s: any) => s.seriesKey === keyB)).toBe(false);
    const all = (await app.gql(LIST, { first: 500 })).data.riskSignals.edges.map((e: any) => e.node);
    const b = all.find((s: any) => s.seriesKey === keyB && s.kind === 'COUNT');
    expect((await app.gqlAs(Role.BLOCK_LEAD, CARD, { id: b.id })).data.riskSignal).toBeNull();
    const leadAck = await app.gqlAs(Role.BLOCK_LEAD, `mutation { acknowledgeRiskSignal(id: "${b.id}") { id } }`);
    expect(leadAck.errors?.[0].message).toMatch(/не найден или недоступен/);
    // an officer of the heating network sees the signals whose appeals are mostly theirs, not the roads' ones
    const heat = await app.signInNew({ login: 'officer-heat', role: Role.ORG_OFFICER, organization: 'teploseti' });
    const officer = (await heat.gql(LIST, { first: 500 })).data.riskSignals.edges.map((e: any) => e.node);
    expect(officer.length).toBeGreaterThan(0);
    expect(officer.every((s: any) => s.organization?.code === 'teploseti')).toBe(true);
    expect(officer.some((s: any) => s.seriesKey === keyB)).toBe(false);
    expect(officer.length).toBeLessThan(all.length);
    // uzhkh includes its subordinate organisations (blag, teploseti, vodokanal)
    const uzhkh = (await app.gqlAs(Role.ORG_OFFICER, LIST, { first: 500 })).data.riskSignals.edges.map((e: any) => e.node);
    expect(uzhkh.some((s: any) => s.seriesKey === keyB)).toBe(true);
    for (const role of [Role.ANALYST, Role.WORKER, Role.ORG_OFFICER]) {
      const r = await app.gqlAs(role, `mutation { acknowledgeRiskSignal(id: "${b.id}") { id } }`);
      expect(r.errors?.[0].extensions?.code, role).toBe('FORBIDDEN');
    }
    for (const role of [Role.ANALYST, Role.WORKER, Role.BLOCK_LEAD]) {
      expect((await app.gqlAs(role, DETECT, {})).errors?.[0].extensions?.code, role).toBe('FORBIDDEN');
    }
    expect((await app.gqlAs(Role.COORDINATOR, DETECT, { asOf: AS_OF })).errors).toBeUndefined();
    const count = (await app.gqlAs(Role.BLOCK_LEAD, '{ newRiskSignalCount }')).data.newRiskSignalCount;
    expect(count).toBe(lead.filter((s: any) => s.status === 'NEW').length);
  });

  it('bad input gets clear messages', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [DETECT, { asOf: '2026-13-45' }, 'asOf'],
      [DETECT, { asOf: '20.11.2026' }, 'asOf'],
      [LIST, { f: { from: '2026-02-30' } }, 'filter.from'],
      [LIST, { f: { from: '2026-11-20', to: '2026-11-01' } }, 'filter.from'],
      [LIST, { f: { themeIds: ['abc'] } }, 'filter.themeIds[0]'],
      [LIST, { first: 0 }, 'first'],
      [LIST, { after: 'garbage' }, 'after'],
      [CARD, { id: 'x1' }, 'id[0]'],
    ];
    for (const [q, v, field] of cases) {
      const r = await app.gql(q, v);
      expect(r.errors?.[0].extensions?.code, JSON.stringify(v)).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0].extensions?.field, JSON.stringify(v)).toBe(field);
    }
    expect((await app.gql(CARD, { id: '999999' })).data.riskSignal).toBeNull();
  });

  it('an import runs incremental detection over the days it touched', async () => {
    const d = day(AS_OF, 1);
    const { lon, lat } = districts[2];
    const lines = Array.from({ length: 26 }, (_, k) => JSON.stringify({
      id: `imp-${k}`, date: `${d}T1${k % 10}:00:00+07:00`, text: `Нет горячей воды и отопления в доме, батареи холодные ${k}`, theme: 'gkh.heating',
      lat: lat + (k % 5) * 0.0003, lon: lon + (k % 3) * 0.0003, author: `imp-author-${k}`,
    })).join('\n');
    const mapping = { format: 'jsonl', channel: 'SOCIAL', fields: { externalId: 'id', receivedAt: 'date', text: 'text', theme: 'theme', lat: 'lat', lon: 'lon', authorProfileUrl: 'author' } };
    const r = await gqlUpload(app.url, `mutation I($file: Upload!, $mapping: JSONObject) { importAppeals(file: $file, mapping: $mapping) { inserted rejected } }`,
      { mapping }, { name: 'spike.jsonl', content: lines });
    expect(r.errors).toBeUndefined();
    expect(r.data.importAppeals.inserted).toBe(26);
    const runs = (await app.gql('{ riskRuns(first: 1) { mode actor asOf created } }')).data.riskRuns;
    expect(runs[0]).toMatchObject({ mode: 'INCREMENTAL', asOf: d });
    const key = `dt:${districts[2].id}:${themes.get('gkh.heating')!.id}`;
    const sig = (await app.gql(LIST, { first: 500 })).data.riskSignals.edges.map((e: any) => e.node);
    expect(sig.some((s: any) => s.kind === 'COUNT' && s.seriesKey === key && s.startedOn === d)).toBe(true);
    const n = (await app.sql<{ n: number }>('SELECT count(*)::int AS n FROM risk_signal'))[0].n;
    await app.gql(DETECT, { asOf: d });
    expect((await app.sql<{ n: number }>('SELECT count(*)::int AS n FROM risk_signal'))[0].n).toBe(n);
  });
});
