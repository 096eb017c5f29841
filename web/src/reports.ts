// МЦУ Hub: «Аналитические справки» — order a report for a period and scope, the list of reports with their DOCX and
// PDF, regeneration, and (curator, coordinator) weekly schedules. API text is inserted as text nodes only.
import './style.css';
import './intake.css';
import './reports.css';
import { ApiError, gql } from './api';
import { append, byId, clear, el } from './dom';
import { mountUserBar, requireSession, type Me } from './auth';

declare global { interface Window { __reportsReady?: boolean } }

type Kind = 'CITY' | 'DISTRICT' | 'BLOCK' | 'ORGANIZATION';
interface Option { id: string; name: string; parentId?: string | null }
interface Report {
  id: string; scopeKind: Kind; scopeName: string; periodFrom: string; periodTo: string; requestedBy: string; status: 'RUNNING' | 'DONE' | 'FAILED';
  error: string | null; generatedAt: string | null; pages: number | null; pdfBytes: number | null; docxBytes: number | null; pdfUrl: string | null; docxUrl: string | null;
  summary: { appeals?: number };
}
interface Schedule { id: string; scopeKind: Kind; scopeName: string | null; weekday: number; hour: number; createdBy: string; nextRunAt: string; lastRunAt: string | null; lastReportId: string | null }

const REPORT_FIELDS = 'id scopeKind scopeName periodFrom periodTo requestedBy status error generatedAt pages pdfBytes docxBytes pdfUrl docxUrl summary';
const LIST = `query L($first: Int, $after: String) { analyticReports(first: $first, after: $after) { totalCount hasNextPage endCursor edges { node { ${REPORT_FIELDS} } } } }`;
const REQUEST = `mutation R($input: ReportRequestInput!) { requestAnalyticReport(input: $input) { ${REPORT_FIELDS} } }`;
const REGENERATE = `mutation G($id: ID!) { regenerateAnalyticReport(id: $id) { ${REPORT_FIELDS} } }`;
const SCHEDULES = `{ reportSchedules { id scopeKind scopeName weekday hour createdBy nextRunAt lastRunAt lastReportId } }`;
const SCHEDULE = `mutation S($input: ReportScheduleInput!) { scheduleAnalyticReport(input: $input) { id } }`;
const CANCEL = `mutation C($id: ID!) { cancelReportSchedule(id: $id) }`;
const REFERENCE = `{ me { role thematicBlock { id name } organization { id name } } districts { id name } thematicBlocks { id name } organizations { id name shortName parent { id } } }`;

const KIND_LABEL: Record<Kind, string> = { CITY: 'город', DISTRICT: 'район', BLOCK: 'блок', ORGANIZATION: 'организация' };
const STATUS_LABEL = { RUNNING: 'формируется', DONE: 'готова', FAILED: 'ошибка' };
const WEEKDAYS = ['', 'понедельник', 'вторник', 'среда', 'четверг', 'пятница', 'суббота', 'воскресенье'];
const PAGE = 50;

let me: Me;
let role = '';
const options: Record<Exclude<Kind, 'CITY'>, Option[]> = { DISTRICT: [], BLOCK: [], ORGANIZATION: [] };
let after: string | null = null;

const ruDate = (d: string) => d.slice(0, 10).split('-').reverse().join('.');
const iso = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const num = (n: number) => n.toLocaleString('ru-RU');
const kb = (b: number | null) => (b == null ? '' : `${Math.max(1, Math.round(b / 1024)).toLocaleString('ru-RU')} КБ`);
const dateTime = (s: string) => new Date(s).toLocaleString('ru-RU', { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

/** The preset periods in local dates: last month, last week (Mon–Sun), last quarter. */
function preset(kind: string): { from: string; to: string } | null {
  const now = new Date();
  if (kind === 'month') return { from: iso(new Date(now.getFullYear(), now.getMonth() - 1, 1)), to: iso(new Date(now.getFullYear(), now.getMonth(), 0)) };
  if (kind === 'week') {
    const dow = (now.getDay() + 6) % 7;
    const monday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - dow - 7);
    return { from: iso(monday), to: iso(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 6)) };
  }
  if (kind === 'quarter') {
    const q = Math.floor(now.getMonth() / 3) - 1;
    const start = new Date(now.getFullYear(), q * 3, 1);
    return { from: iso(start), to: iso(new Date(start.getFullYear(), start.getMonth() + 3, 0)) };
  }
  return null;
}

function fillScope(kindSel: HTMLSelectElement, scopeSel: HTMLSelectElement, wrap: HTMLElement) {
  const kind = kindSel.value as Kind;
  clear(scopeSel);
  wrap.hidden = kind === 'CITY';
  if (kind === 'CITY') return;
  for (const o of options[kind]) append(scopeSel, el('option', { value: o.id }, o.name));
}

/** BLOCK_LEAD and ORG_OFFICER order reports on their own scope only: the choice is limited to it. */
function restrictKinds(kindSel: HTMLSelectElement) {
  const allowed: Kind[] | null = role === 'BLOCK_LEAD' ? ['BLOCK'] : role === 'ORG_OFFICER' ? ['ORGANIZATION'] : null;
  if (!allowed) return;
  for (const opt of [...kindSel.options]) if (!allowed.includes(opt.value as Kind)) opt.remove();
  kindSel.value = allowed[0];
}

function reportRow(r: Report): HTMLTableRowElement {
  const state = el('span', { class: `report-state ${r.status}` }, STATUS_LABEL[r.status]);
  const files = el('td', { class: 'files' });
  if (r.pdfUrl) append(files, el('a', { href: r.pdfUrl, download: '', 'data-format': 'pdf' }, `PDF${r.pages ? `, ${r.pages} стр.` : ''} (${kb(r.pdfBytes)})`));
  if (r.docxUrl) append(files, el('a', { href: r.docxUrl, download: '', 'data-format': 'docx' }, `DOCX (${kb(r.docxBytes)})`));
  const regen = el('button', { type: 'button', class: 'link small', 'data-id': r.id }, 'пересоздать');
  regen.addEventListener('click', async () => {
    regen.disabled = true;
    regen.textContent = 'формируется…';
    try {
      await gql(REGENERATE, { id: r.id });
      await loadList(true);
    } catch (e) {
      showError(e);
      regen.disabled = false;
      regen.textContent = 'пересоздать';
    }
  });
  return el('tr', { 'data-id': r.id },
    el('td', null, r.id),
    el('td', { class: 'scope' }, r.scopeKind === 'CITY' ? r.scopeName : `${KIND_LABEL[r.scopeKind]}: ${r.scopeName}`),
    el('td', null, `${ruDate(r.periodFrom)} — ${ruDate(r.periodTo)}`),
    el('td', { class: 'small' }, r.requestedBy, el('br'), el('span', { class: 'muted' }, r.generatedAt ? dateTime(r.generatedAt) : '')),
    el('td', null, state, r.error ? el('span', { class: 'report-error' }, r.error) : null),
    el('td', { class: 'num' }, r.summary?.appeals == null ? '—' : num(r.summary.appeals)),
    files,
    el('td', null, regen));
}

async function loadList(reset: boolean) {
  if (reset) { after = null; clear(byId('r-list')); }
  const data = await gql<{ analyticReports: { totalCount: number; hasNextPage: boolean; endCursor: string | null; edges: { node: Report }[] } }>(LIST, { first: PAGE, after });
  const c = data.analyticReports;
  byId('r-count').textContent = num(c.totalCount);
  for (const e of c.edges) append(byId('r-list'), reportRow(e.node));
  if (!c.totalCount) append(byId('r-list'), el('tr', null, el('td', { colspan: 8, class: 'muted' }, 'Справок пока нет: закажите первую выше.')));
  after = c.endCursor;
  byId('r-more').hidden = !c.hasNextPage;
}

async function loadSchedules() {
  const data = await gql<{ reportSchedules: Schedule[] }>(SCHEDULES);
  const body = byId('s-list');
  clear(body);
  if (!data.reportSchedules.length) append(body, el('tr', null, el('td', { colspan: 6, class: 'muted' }, 'Расписаний нет.')));
  for (const s of data.reportSchedules) {
    const cancel = el('button', { type: 'button', class: 'link small' }, 'отменить');
    cancel.addEventListener('click', async () => {
      try { await gql(CANCEL, { id: s.id }); await loadSchedules(); } catch (e) { showError(e); }
    });
    append(body, el('tr', null,
      el('td', { class: 'scope' }, s.scopeKind === 'CITY' ? (s.scopeName ?? '—') : `${KIND_LABEL[s.scopeKind]}: ${s.scopeName ?? '—'}`),
      el('td', null, `${WEEKDAYS[s.weekday]}, ${String(s.hour).padStart(2, '0')}:00`),
      el('td', null, dateTime(s.nextRunAt)),
      el('td', null, s.lastRunAt ? `${dateTime(s.lastRunAt)}${s.lastReportId ? ` (№ ${s.lastReportId})` : ''}` : '—'),
      el('td', null, s.createdBy),
      el('td', null, cancel)));
  }
}

async function main() {
  me = await requireSession();
  const userBar = byId('user-bar');
  mountUserBar(userBar, me);
  userBar.hidden = false;
  const ref = await gql<{ me: { role: string; thematicBlock: Option | null; organization: Option | null }; districts: Option[]; thematicBlocks: Option[];
    organizations: { id: string; name: string; shortName: string | null; parent: { id: string } | null }[] }>(REFERENCE);
  role = ref.me.role;
  options.DISTRICT = ref.districts;
  options.BLOCK = role === 'BLOCK_LEAD' ? (ref.me.thematicBlock ? [ref.me.thematicBlock] : []) : ref.thematicBlocks;
  let orgs = ref.organizations.map((o) => ({ id: o.id, name: o.name, parentId: o.parent?.id ?? null }));
  if (role === 'ORG_OFFICER') {
    const own = new Set(ref.me.organization ? [ref.me.organization.id] : []);
    for (let grew = true; grew;) {
      grew = false;
      for (const o of orgs) if (o.parentId && own.has(o.parentId) && !own.has(o.id)) { own.add(o.id); grew = true; }
    }
    orgs = orgs.filter((o) => own.has(o.id));
  }
  options.ORGANIZATION = orgs;

  const kind = byId<HTMLSelectElement>('o-kind');
  const scope = byId<HTMLSelectElement>('o-scope');
  restrictKinds(kind);
  fillScope(kind, scope, byId('o-scope-wrap'));
  kind.addEventListener('change', () => fillScope(kind, scope, byId('o-scope-wrap')));
  const presetSel = byId<HTMLSelectElement>('o-preset');
  const from = byId<HTMLInputElement>('o-from');
  const to = byId<HTMLInputElement>('o-to');
  const applyPreset = () => { const p = preset(presetSel.value); if (p) { from.value = p.from; to.value = p.to; } };
  applyPreset();
  presetSel.addEventListener('change', applyPreset);
  for (const i of [from, to]) i.addEventListener('input', () => { presetSel.value = 'custom'; });

  byId<HTMLFormElement>('order').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    byId('error').hidden = true;
    const result = byId('o-result');
    const button = byId<HTMLButtonElement>('o-submit');
    button.disabled = true;
    result.textContent = 'Справка формируется…';
    try {
      const input = { scopeKind: kind.value, scopeId: kind.value === 'CITY' ? null : scope.value || null, from: from.value, to: to.value };
      const r = (await gql<{ requestAnalyticReport: Report }>(REQUEST, { input })).requestAnalyticReport;
      result.textContent = r.status === 'DONE' ? `Справка № ${r.id} готова.` : `Справка № ${r.id}: ${r.error ?? STATUS_LABEL[r.status]}`;
      await loadList(true);
    } catch (e) {
      result.textContent = '';
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
  byId('r-more').addEventListener('click', () => void loadList(false).catch(showError));

  if (role === 'CURATOR' || role === 'COORDINATOR') {
    byId('sched-card').hidden = false;
    const sKind = byId<HTMLSelectElement>('s-kind');
    const sScope = byId<HTMLSelectElement>('s-scope');
    fillScope(sKind, sScope, byId('s-scope-wrap'));
    sKind.addEventListener('change', () => fillScope(sKind, sScope, byId('s-scope-wrap')));
    byId<HTMLFormElement>('sched').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      byId('error').hidden = true;
      try {
        await gql(SCHEDULE, { input: { scopeKind: sKind.value, scopeId: sKind.value === 'CITY' ? null : sScope.value || null,
          weekday: Number(byId<HTMLSelectElement>('s-weekday').value), hour: Number(byId<HTMLInputElement>('s-hour').value) } });
        byId('s-result').textContent = 'Расписание назначено.';
        await loadSchedules();
      } catch (e) { showError(e); }
    });
    await loadSchedules();
  }
  await loadList(true);
  window.__reportsReady = true;
}

main().catch(showError);
