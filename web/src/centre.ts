// МЦУ Hub: the centre's own work — the dashboard «Показатели» (one card per indicator, grouped by thematic block)
// and the activity plans (draft → approval by the curator → progress, export).
import './style.css';
import './intake.css';
import './centre.css';
import { ApiError, gql } from './api';
import { append, byId, clear, el } from './dom';
import { formatNumber } from './labels';
import { mountUserBar, requireSession, type Me } from './auth';

interface Point { month: string; value: number | null; target: number | null; status: Status; reason: string | null; partial: boolean }
type Status = 'OK' | 'WARN' | 'FAIL' | 'NO_DATA' | 'NO_TARGET';
interface Card {
  indicator: { id: string; code: string; name: string; unit: string; direction: string; source: string; description: string | null };
  latest: Point | null;
  change: number | null;
  series: Point[];
}
interface Dashboard { from: string; to: string; cached: boolean; groups: { blockId: string | null; title: string; cards: Card[] }[] }

interface PlanItem {
  id: string; position: number; title: string; responsible: string | null; blockName: string | null; dueDate: string;
  indicatorName: string | null; problemTitle: string | null; status: 'PLANNED' | 'IN_PROGRESS' | 'DONE' | 'CANCELLED'; progress: number; note: string | null; overdue: boolean;
}
interface Plan {
  id: string; title: string; periodKind: 'QUARTER' | 'YEAR'; periodStart: string; periodEnd: string; status: 'DRAFT' | 'APPROVED' | 'CLOSED';
  draftedBy: string; approvedBy: string | null; approvedAt: string | null; itemCount: number; doneCount: number; overdueCount: number; completion: number; items: PlanItem[];
}

const UNIT: Record<string, string> = { PERCENT: '%', PER_1000: 'на 1 000 жит.', COUNT: '', HOURS: 'ч', DAYS: 'дн.', SCORE: 'балла', RUB: '₽', OTHER: '' };
const STATUS_LABEL: Record<Status, string> = { OK: 'цель достигнута', WARN: 'близко к цели', FAIL: 'цель не достигнута', NO_DATA: 'нет данных', NO_TARGET: 'цель не задана' };
const ITEM_STATUS: Record<PlanItem['status'], string> = { PLANNED: 'запланировано', IN_PROGRESS: 'в работе', DONE: 'выполнено', CANCELLED: 'отменено' };
const PLAN_STATUS: Record<Plan['status'], string> = { DRAFT: 'проект', APPROVED: 'утверждён', CLOSED: 'закрыт' };
const MONTHS = ['янв', 'фев', 'мар', 'апр', 'май', 'июн', 'июл', 'авг', 'сен', 'окт', 'ноя', 'дек'];
const ROMAN = ['I', 'II', 'III', 'IV'];

const PLAN_FIELDS = `id title periodKind periodStart periodEnd status draftedBy approvedBy approvedAt itemCount doneCount overdueCount completion
  items { id position title responsible blockName dueDate indicatorName problemTitle status progress note overdue }`;

let me: Me;
let plans: Plan[] = [];
let selectedPlan: string | null = null;

const fullAccess = () => me.role === 'CURATOR' || me.role === 'COORDINATOR';

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

/** Two decimals below 10 (0,14 на 1 000 жит.), one above. */
const num = (v: number) => formatNumber(Math.abs(v) < 10 ? Math.round(v * 100) / 100 : Math.round(v * 10) / 10);
const fmt = (v: number | null | undefined, unit: string) => (v == null ? '—' : `${num(v)}${UNIT[unit] ? ` ${UNIT[unit]}` : ''}`);
const monthLabel = (m: string) => `${MONTHS[Number(m.slice(5, 7)) - 1]} ${m.slice(0, 4)}`;

// ------------------------------------------------------------------ indicators

/** A sparkline of the series with the target as a dashed line (SVG, no library). */
function sparkline(series: Point[]): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const w = 220;
  const h = 48;
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const vals = series.flatMap((p) => [p.value, p.target]).filter((v): v is number => v != null);
  if (!vals.length) return svg;
  const min = Math.min(...vals, 0);
  const max = Math.max(...vals) || 1;
  const x = (i: number) => (series.length === 1 ? w / 2 : 4 + (i * (w - 8)) / (series.length - 1));
  const y = (v: number) => h - 4 - ((v - min) / (max - min || 1)) * (h - 8);
  const line = (key: 'value' | 'target', cls: string) => {
    let d = '';
    series.forEach((p, i) => {
      const v = p[key];
      if (v == null) return;
      d += `${d && series[i - 1]?.[key] != null ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    if (!d) return;
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    path.setAttribute('class', cls);
    svg.appendChild(path);
  };
  line('target', 'spark-target');
  line('value', 'spark-value');
  series.forEach((p, i) => {
    if (p.value == null) return;
    const c = document.createElementNS(ns, 'circle');
    c.setAttribute('cx', x(i).toFixed(1));
    c.setAttribute('cy', y(p.value).toFixed(1));
    c.setAttribute('r', i === series.length - 1 ? '3' : '1.8');
    c.setAttribute('class', `spark-dot st-${p.status}`);
    svg.appendChild(c);
  });
  svg.setAttribute('aria-label', series.map((p) => `${monthLabel(p.month)}: ${p.value == null ? 'нет данных' : formatNumber(Math.round(p.value * 10) / 10)}`).join('; '));
  return svg;
}

function renderCard(c: Card): HTMLElement {
  const l = c.latest;
  const status: Status = l?.status ?? 'NO_DATA';
  const trend = c.change == null ? '' : c.change > 0 ? `▲ ${num(c.change)}` : c.change < 0 ? `▼ ${num(-c.change)}` : '= 0';
  const good = c.change == null || c.change === 0 ? '' : (c.change > 0) === (c.indicator.direction === 'HIGHER_IS_BETTER') ? 'trend-good' : 'trend-bad';
  return el('article', { class: `ind-card st-${status}`, 'data-code': c.indicator.code },
    el('header', null, el('h3', { title: c.indicator.description ?? '' }, c.indicator.name),
      el('span', { class: `badge st-${status}` }, STATUS_LABEL[status])),
    el('div', { class: 'ind-value' },
      el('span', { class: 'big' }, l?.value == null ? '—' : num(l.value)),
      l?.value != null && UNIT[c.indicator.unit] ? el('span', { class: 'unit' }, UNIT[c.indicator.unit]) : null,
      el('span', { class: `trend ${good}` }, trend)),
    el('div', { class: 'ind-meta small muted' },
      l ? `${monthLabel(l.month)}${l.partial ? ' (месяц не закончился)' : ''}` : '',
      ' · цель ', fmt(l?.target, c.indicator.unit),
      ' · ', c.indicator.direction === 'HIGHER_IS_BETTER' ? 'чем больше, тем лучше' : 'чем меньше, тем лучше',
      c.indicator.source === 'IMPORTED' ? ' · загружается из таблицы' : ''),
    l?.value == null && l?.reason ? el('p', { class: 'reason small' }, `Почему нет значения: ${l.reason}`) : null,
    sparkline(c.series));
}

async function loadDashboard() {
  const from = (byId<HTMLInputElement>('p-from')).value;
  const to = (byId<HTMLInputElement>('p-to')).value;
  const status = byId('dash-status');
  status.textContent = 'Загрузка…';
  try {
    const d = (await gql<{ indicatorDashboard: Dashboard }>(`query D($from: String!, $to: String!) { indicatorDashboard(from: $from, to: $to) {
      from to cached groups { blockId title cards { indicator { id code name unit direction source description } change
      latest { month value target status reason partial } series { month value target status reason partial } } } } }`, { from, to })).indicatorDashboard;
    const root = byId('dashboard');
    clear(root);
    for (const g of d.groups) {
      append(root, el('section', { class: 'card ind-group' }, el('h2', null, g.title), el('div', { class: 'ind-grid' }, ...g.cards.map(renderCard))));
    }
    const n = d.groups.reduce((s, g) => s + g.cards.length, 0);
    status.textContent = `${n} показателей, ${monthLabel(d.from)} — ${monthLabel(d.to)}`;
  } catch (e) {
    status.textContent = '';
    showError(e);
  }
}

async function importValues(file: File) {
  const out = byId('import-result');
  out.textContent = 'Загрузка…';
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: 'mutation I($file: Upload!) { importIndicatorValues(file: $file) { rows stored } }', variables: { file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, file.name);
  const res = await fetch('/graphql', { method: 'POST', body: form, credentials: 'same-origin', headers: { 'apollo-require-preflight': 'true' } });
  const body = await res.json() as { data?: { importIndicatorValues: { rows: number; stored: number } }; errors?: { message: string }[] };
  if (body.errors?.length) {
    out.className = 'small bad';
    out.textContent = body.errors[0].message;
    return;
  }
  out.className = 'small';
  out.textContent = `Сохранено значений: ${body.data!.importIndicatorValues.stored}`;
  await loadDashboard();
}

// ------------------------------------------------------------------ plans

const periodLabel = (p: Plan) => (p.periodKind === 'QUARTER'
  ? `${ROMAN[Math.floor((Number(p.periodStart.slice(5, 7)) - 1) / 3)]} квартал ${p.periodStart.slice(0, 4)}` : `${p.periodStart.slice(0, 4)} год`);
const ruDate = (d: string) => d.split('-').reverse().join('.');

function renderPlanList() {
  const list = byId('plan-list');
  clear(list);
  if (!plans.length) append(list, el('li', { class: 'muted' }, 'Планов пока нет.'));
  for (const p of plans) {
    const li = el('li', { class: p.id === selectedPlan ? 'selected' : '' },
      el('button', { type: 'button', class: 'link plan-link', 'data-id': p.id }, `${periodLabel(p)}: ${p.title}`),
      el('span', { class: `pill plan-${p.status}` }, PLAN_STATUS[p.status]),
      p.overdueCount ? el('span', { class: 'pill overdue' }, `просрочено: ${p.overdueCount}`) : null);
    li.querySelector('button')!.addEventListener('click', () => { selectedPlan = p.id; renderPlanList(); renderPlan(); });
    append(list, li);
  }
}

async function planMutation(query: string, variables: Record<string, unknown>, key: string) {
  try {
    const r = await gql<Record<string, Plan>>(query, variables);
    const plan = r[key];
    plans = plans.map((p) => (p.id === plan.id ? plan : p));
    renderPlanList();
    renderPlan();
    return true;
  } catch (e) {
    const out = document.getElementById('plan-error');
    if (out) out.textContent = e instanceof Error ? e.message : String(e);
    return false;
  }
}

function renderPlan() {
  const p = plans.find((x) => x.id === selectedPlan);
  byId('plan-placeholder').hidden = !!p;
  const root = byId('plan-detail');
  root.hidden = !p;
  clear(root);
  if (!p) return;
  const head = el('div', { class: 'plan-head' },
    el('h2', null, `План деятельности на ${periodLabel(p)}`),
    el('p', null, p.title),
    el('p', { class: 'small muted' }, `Подготовил: ${p.draftedBy}. `,
      p.approvedBy ? `Утвердил: ${p.approvedBy}, ${new Date(p.approvedAt!).toLocaleDateString('ru-RU')}.` : 'Не утверждён.'),
    el('div', { class: 'plan-stats' },
      el('span', { class: 'stat' }, el('span', { class: 'stat-label' }, 'Мероприятий'), el('span', { class: 'stat-num' }, p.itemCount)),
      el('span', { class: 'stat' }, el('span', { class: 'stat-label' }, 'Выполнено'), el('span', { class: 'stat-num' }, `${formatNumber(p.completion)} %`)),
      el('span', { class: `stat ${p.overdueCount ? 'stat-bad' : ''}` }, el('span', { class: 'stat-label' }, 'Просрочено'), el('span', { class: 'stat-num' }, p.overdueCount))),
    el('div', { class: 'form-actions' },
      el('a', { class: 'button', href: `/exports/plan.xlsx?id=${p.id}`, download: `plan-${p.id}.xlsx` }, 'Скачать Excel'),
      p.status === 'DRAFT' && me.role === 'CURATOR' ? el('button', { type: 'button', class: 'primary', id: 'approve-plan' }, 'Утвердить план') : null,
      p.status === 'DRAFT' && me.role !== 'CURATOR' && fullAccess() ? el('span', { class: 'small muted' }, 'Проект утверждает куратор.') : null),
    el('div', { id: 'plan-error', class: 'small bad', role: 'alert' }));
  append(root, head);
  const table = el('table', { class: 'data plan-table' },
    el('thead', null, el('tr', null, ...['№', 'Мероприятие', 'Ответственный', 'Срок', 'Показатель / проблема', 'Исполнение'].map((h) => el('th', { scope: 'col' }, h)))));
  const tbody = el('tbody');
  for (const it of p.items) {
    const exec = el('td', { class: 'exec' },
      el('span', { class: `pill item-${it.status}` }, ITEM_STATUS[it.status]),
      it.status === 'IN_PROGRESS' || it.status === 'PLANNED' ? ` ${it.progress} %` : '',
      it.overdue ? el('span', { class: 'pill overdue' }, 'просрочено') : null,
      it.note ? el('div', { class: 'small muted' }, it.note) : null);
    if (p.status === 'APPROVED' && fullAccess() && it.status !== 'DONE' && it.status !== 'CANCELLED') {
      const sel = el('select', { 'aria-label': `Исполнение мероприятия ${it.position}` },
        ...(['PLANNED', 'IN_PROGRESS', 'DONE', 'CANCELLED'] as const).map((s) => el('option', { value: s, selected: s === it.status }, ITEM_STATUS[s])));
      const save = el('button', { type: 'button', class: 'small-button' }, 'Отметить');
      save.addEventListener('click', () => void planMutation(`mutation S($id: ID!, $i: PlanItemProgressInput!) { setPlanItemProgress(itemId: $id, input: $i) { ${PLAN_FIELDS} } }`,
        { id: it.id, i: { status: sel.value } }, 'setPlanItemProgress'));
      append(exec, el('div', { class: 'progress-edit' }, sel, save));
    }
    append(tbody, el('tr', { class: it.overdue ? 'row-overdue' : '' },
      el('td', { class: 'num' }, it.position), el('td', null, it.title),
      el('td', null, [it.responsible, it.blockName].filter(Boolean).join('; ')),
      el('td', { class: 'nowrap' }, ruDate(it.dueDate)),
      el('td', { class: 'small' }, [it.indicatorName && `Показатель: ${it.indicatorName}`, it.problemTitle && `Проблема: ${it.problemTitle}`].filter(Boolean).join('; ')),
      exec));
  }
  if (!p.items.length) append(tbody, el('tr', null, el('td', { colspan: 6, class: 'muted' }, 'Мероприятий пока нет.')));
  append(table, tbody);
  append(root, el('div', { class: 'table-wrap' }, table));
  if (p.status === 'DRAFT' && fullAccess()) {
    const form = el('form', { class: 'item-form', id: 'item-form' },
      el('h3', null, 'Добавить мероприятие'),
      el('label', { class: 'field' }, 'Мероприятие', el('textarea', { id: 'it-title', rows: 2, required: true, maxlength: 1000 })),
      el('div', { class: 'row' },
        el('label', { class: 'field' }, 'Ответственный исполнитель', el('input', { id: 'it-resp', maxlength: 300 })),
        el('label', { class: 'field' }, 'Срок исполнения', el('input', { id: 'it-due', type: 'date', min: p.periodStart, max: p.periodEnd })),
        el('label', { class: 'field' }, 'Показатель (код, необязательно)', el('input', { id: 'it-ind', maxlength: 64 }))),
      el('button', { type: 'submit', class: 'primary' }, 'Добавить'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = (id: string) => (document.getElementById(id) as HTMLInputElement).value.trim() || undefined;
      void planMutation(`mutation A($p: ID!, $i: PlanItemInput!) { addPlanItem(planId: $p, input: $i) { ${PLAN_FIELDS} } }`,
        { p: p.id, i: { title: v('it-title') ?? '', responsible: v('it-resp'), dueDate: v('it-due'), indicator: v('it-ind') } }, 'addPlanItem');
    });
    append(root, form);
  }
  document.getElementById('approve-plan')?.addEventListener('click', () =>
    void planMutation(`mutation A($p: ID!) { approveActivityPlan(planId: $p) { ${PLAN_FIELDS} } }`, { p: p.id }, 'approveActivityPlan'));
}

async function loadPlans() {
  try {
    plans = (await gql<{ activityPlans: Plan[] }>(`{ activityPlans { ${PLAN_FIELDS} } }`)).activityPlans;
    if (!selectedPlan && plans.length) selectedPlan = plans[0].id;
    renderPlanList();
    renderPlan();
  } catch (e) {
    showError(e);
  }
}

// ------------------------------------------------------------------ data quality

interface DqRule { code: string; name: string; enabled: boolean }
interface DqRow { organizationId: string | null; organizationName: string | null; rule: string; open: number; noticed: number }
interface DqNotice { id: string; organizationName: string; createdAt: string; fixBy: string; findings: number; openFindings: number; status: 'SENT' | 'FIXED' | 'OVERDUE'; documentUrl: string }
const NOTICE_STATUS: Record<DqNotice['status'], string> = { SENT: 'направлено', FIXED: 'устранено', OVERDUE: 'срок истёк' };
let dqRules: DqRule[] = [];
let dqOrg: string | null = null;

async function loadQuality() {
  try {
    const d = await gql<{ dataQualitySettings: { rules: DqRule[] }; dataQualitySummary: DqRow[]; dataQualityNotices: DqNotice[] }>(`{
      dataQualitySettings { rules { code name enabled } } dataQualitySummary { organizationId organizationName rule open noticed }
      dataQualityNotices { id organizationName createdAt fixBy findings openFindings status documentUrl } }`);
    dqRules = d.dataQualitySettings.rules;
    const head = byId('dq-head');
    clear(head);
    append(head, el('tr', null, el('th', { scope: 'col' }, 'Организация'), ...dqRules.map((r) => el('th', { scope: 'col', class: 'num', title: r.name }, r.name)), el('th', { scope: 'col', class: 'num' }, 'Всего')));
    const orgs = new Map<string, { name: string; counts: Map<string, number> }>();
    for (const r of d.dataQualitySummary) {
      const key = r.organizationId ?? '-';
      const o = orgs.get(key) ?? { name: r.organizationName ?? 'без организации', counts: new Map() };
      o.counts.set(r.rule, r.open);
      orgs.set(key, o);
    }
    const body = byId('dq-body');
    clear(body);
    const sorted = [...orgs.entries()].sort((a, b) => [...b[1].counts.values()].reduce((x, y) => x + y, 0) - [...a[1].counts.values()].reduce((x, y) => x + y, 0));
    for (const [id, o] of sorted) {
      const total = [...o.counts.values()].reduce((x, y) => x + y, 0);
      const name = el('button', { type: 'button', class: 'link' }, o.name);
      name.addEventListener('click', () => { dqOrg = id; void loadOrgFindings(id, o.name); });
      append(body, el('tr', { class: id === dqOrg ? 'selected' : '' }, el('td', null, name),
        ...dqRules.map((r) => el('td', { class: `num ${o.counts.get(r.code) ? 'bad' : 'muted'}` }, o.counts.get(r.code) ?? '—')), el('td', { class: 'num' }, total)));
    }
    if (!sorted.length) append(body, el('tr', null, el('td', { colspan: dqRules.length + 2, class: 'muted' }, 'Неустранённых ошибок нет (или проверка ещё не запускалась).')));
    const notices = byId('dq-notices');
    clear(notices);
    for (const n of d.dataQualityNotices) {
      append(notices, el('tr', null, el('td', { class: 'num' }, n.id), el('td', null, n.organizationName), el('td', { class: 'nowrap' }, new Date(n.createdAt).toLocaleDateString('ru-RU')),
        el('td', { class: 'nowrap' }, ruDate(n.fixBy)), el('td', { class: 'num' }, n.findings), el('td', { class: 'num' }, n.openFindings),
        el('td', null, el('span', { class: `pill notice-${n.status}` }, NOTICE_STATUS[n.status])), el('td', null, el('a', { href: n.documentUrl, download: `notice-${n.id}.docx` }, 'DOCX'))));
    }
    if (!d.dataQualityNotices.length) append(notices, el('tr', null, el('td', { colspan: 8, class: 'muted' }, 'Уведомлений пока нет.')));
  } catch (e) {
    showError(e);
  }
}

async function loadOrgFindings(orgId: string, name: string) {
  byId('dq-org-card').hidden = false;
  byId('dq-org-title').textContent = name;
  byId('dq-notice-form').hidden = !fullAccess() || orgId === '-';
  const ruleName = new Map(dqRules.map((r) => [r.code, r.name]));
  const d = await gql<{ dataQualityFindings: { rule: string; details: string; firstFoundAt: string; noticeId: string | null }[] }>(
    `query F($o: ID) { dataQualityFindings(organizationId: $o, first: 500) { rule details firstFoundAt noticeId } }`, { o: orgId === '-' ? null : orgId });
  const body = byId('dq-findings');
  clear(body);
  for (const f of d.dataQualityFindings) {
    append(body, el('tr', null, el('td', null, ruleName.get(f.rule) ?? f.rule), el('td', null, f.details),
      el('td', { class: 'nowrap' }, new Date(f.firstFoundAt).toLocaleDateString('ru-RU')), el('td', null, f.noticeId ? `№ ${f.noticeId}` : '—')));
  }
}

// ------------------------------------------------------------------ seminars and best practices

interface Suggestion { organizationId: string; organizationName: string; figure: number; cityFigure: number | null; reason: string }
interface Seminar { id: string; topic: string; heldOn: string; organiser: string; status: string; materials: string[]; invitedCount: number; attendedCount: number;
  invitees: { organizationName: string; person: string | null; reason: string | null; attended: boolean | null }[] }
interface Practice { id: string; title: string; description: string; source: string; organizationName: string | null; indicatorName: string | null; indicatorUnit: string | null;
  beforeMonth: string | null; afterMonth: string | null; beforeValue: number | null; afterValue: number | null }
const SEM_STATUS: Record<string, string> = { PLANNED: 'запланирован', HELD: 'проведён', CANCELLED: 'отменён' };
let suggestions: Suggestion[] = [];

async function loadSuggestions() {
  const to = new Date();
  const from = new Date(to.getTime() - 91 * 86_400_000);
  const d = await gql<{ seminarInviteSuggestions: Suggestion[] }>('query S($b: String!, $f: String!, $t: String!) { seminarInviteSuggestions(basis: $b, from: $f, to: $t) { organizationId organizationName figure cityFigure reason } }',
    { b: byId<HTMLSelectElement>('sg-basis').value, f: from.toISOString().slice(0, 10), t: new Date(to.getTime() + 86_400_000).toISOString().slice(0, 10) });
  suggestions = d.seminarInviteSuggestions;
  const list = byId('sg-list');
  clear(list);
  for (const x of suggestions) append(list, el('li', null, el('strong', null, x.organizationName), el('div', { class: 'small muted' }, x.reason)));
  if (!suggestions.length) append(list, el('li', { class: 'muted small' }, 'По этому основанию никого не выделяется.'));
}

async function loadSeminars() {
  try {
    const d = await gql<{ seminars: Seminar[]; bestPractices: Practice[] }>(`{ seminars { id topic heldOn organiser status materials invitedCount attendedCount invitees { organizationName person reason attended } }
      bestPractices { id title description source organizationName indicatorName indicatorUnit beforeMonth afterMonth beforeValue afterValue } }`);
    const list = byId('sem-list');
    clear(list);
    for (const s of d.seminars) {
      append(list, el('article', { class: 'seminar' },
        el('h3', null, `${ruDate(s.heldOn)} · ${s.topic}`),
        el('p', { class: 'small muted' }, `${s.organiser === 'CENTRE_WITH_CUR' ? 'МЦУ совместно с ЦУР' : 'МЦУ'} · ${SEM_STATUS[s.status] ?? s.status} · приглашено ${s.invitedCount}${s.status === 'HELD' ? `, присутствовали ${s.attendedCount}` : ''}`),
        s.invitees.length ? el('ul', { class: 'small' }, ...s.invitees.map((i) => el('li', null, [i.organizationName, i.person].filter(Boolean).join(' — '), i.reason ? el('span', { class: 'muted' }, ` (${i.reason})`) : null))) : null,
        s.materials.length ? el('p', { class: 'small' }, `Материалы: ${s.materials.join('; ')}`) : null));
    }
    if (!d.seminars.length) append(list, el('p', { class: 'muted' }, 'Семинаров пока нет.'));
    const bp = byId('bp-list');
    clear(bp);
    for (const p of d.bestPractices) {
      append(bp, el('article', { class: 'seminar' }, el('h3', null, p.title), el('p', { class: 'small' }, p.description),
        el('p', { class: 'small muted' }, `Источник: ${p.source}${p.organizationName ? ` · ${p.organizationName}` : ''}`),
        p.indicatorName ? el('p', { class: 'small' }, `${p.indicatorName}: ${monthLabel(p.beforeMonth!)} — ${fmt(p.beforeValue, p.indicatorUnit ?? '')}, ${monthLabel(p.afterMonth!)} — ${fmt(p.afterValue, p.indicatorUnit ?? '')}`) : null));
    }
    if (!d.bestPractices.length) append(bp, el('p', { class: 'muted' }, 'Практик пока нет (добавляются через GraphQL: addBestPractice).'));
    await loadSuggestions();
  } catch (e) {
    showError(e);
  }
}

// ------------------------------------------------------------------ page

type Tab = 'indicators' | 'plans' | 'quality' | 'seminars';
function selectTab(which: Tab) {
  for (const t of ['indicators', 'plans', 'quality', 'seminars'] as const) {
    byId(`tab-${t}`).setAttribute('aria-selected', String(t === which));
    byId(`panel-${t}`).hidden = t !== which;
  }
  history.replaceState(null, '', `#${which}`);
  if (which === 'plans' && !plans.length) void loadPlans();
  if (which === 'quality') void loadQuality();
  if (which === 'seminars') void loadSeminars();
}

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  const now = new Date();
  const to = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
  const fromDate = new Date(now.getFullYear(), now.getMonth() - 11, 1);
  byId<HTMLInputElement>('p-from').value = `${fromDate.getFullYear()}-${String(fromDate.getMonth() + 1).padStart(2, '0')}`;
  byId<HTMLInputElement>('p-to').value = to;
  byId<HTMLInputElement>('np-year').value = String(now.getFullYear());
  byId('period-form').addEventListener('submit', (e) => { e.preventDefault(); void loadDashboard(); });
  byId('tab-indicators').addEventListener('click', () => selectTab('indicators'));
  byId('tab-plans').addEventListener('click', () => selectTab('plans'));
  byId('tab-quality').addEventListener('click', () => selectTab('quality'));
  byId('tab-seminars').addEventListener('click', () => selectTab('seminars'));
  byId('sg-basis').addEventListener('change', () => void loadSuggestions().catch(showError));
  if (fullAccess()) {
    byId('sem-form').hidden = false;
    byId<HTMLInputElement>('sem-date').value = new Date(Date.now() + 21 * 86_400_000).toISOString().slice(0, 10);
    byId('sem-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      byId('sem-error').textContent = '';
      try {
        const s = (await gql<{ createSeminar: { id: string } }>('mutation C($i: SeminarInput!) { createSeminar(input: $i) { id } }', {
          i: { topic: byId<HTMLInputElement>('sem-topic').value, heldOn: byId<HTMLInputElement>('sem-date').value, organiser: byId<HTMLSelectElement>('sem-org').value } })).createSeminar;
        if (suggestions.length) {
          await gql('mutation I($s: ID!, $v: [InviteeInput!]!) { inviteToSeminar(seminarId: $s, invitees: $v) { id } }',
            { s: s.id, v: suggestions.map((x) => ({ organizationId: x.organizationId, reason: x.reason })) });
        }
        await loadSeminars();
      } catch (err) {
        byId('sem-error').textContent = err instanceof Error ? err.message : String(err);
      }
    });
  }
  if (fullAccess()) {
    byId('dq-run').hidden = false;
    byId('dq-run').addEventListener('click', async () => {
      byId('dq-status').textContent = 'Проверка…';
      try {
        const r = (await gql<{ runDataQualityCheck: { found: number; created: number; resolved: number } }>('mutation { runDataQualityCheck { found created resolved } }')).runDataQualityCheck;
        byId('dq-status').textContent = `Найдено ошибок: ${r.found}, новых: ${r.created}, устранено с прошлой проверки: ${r.resolved}`;
        await loadQuality();
      } catch (e) {
        byId('dq-status').textContent = '';
        showError(e);
      }
    });
    const fix = new Date(Date.now() + 14 * 86_400_000);
    byId<HTMLInputElement>('dq-fixby').value = fix.toISOString().slice(0, 10);
    byId('dq-notice-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      byId('dq-notice-error').textContent = '';
      try {
        await gql('mutation N($o: ID!, $d: String!) { createDataQualityNotice(organizationId: $o, fixBy: $d) { id } }', { o: dqOrg, d: byId<HTMLInputElement>('dq-fixby').value });
        await loadQuality();
        await loadOrgFindings(dqOrg!, byId('dq-org-title').textContent ?? '');
      } catch (err) {
        byId('dq-notice-error').textContent = err instanceof Error ? err.message : String(err);
      }
    });
  }
  if (fullAccess()) {
    byId('import-box').hidden = false;
    byId('plan-form').hidden = false;
    byId<HTMLInputElement>('values-file').addEventListener('change', (e) => {
      const f = (e.target as HTMLInputElement).files?.[0];
      if (f) void importValues(f).catch(showError);
    });
  }
  byId('np-kind').addEventListener('change', () => { byId('np-quarter-field').hidden = byId<HTMLSelectElement>('np-kind').value !== 'QUARTER'; });
  byId('plan-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const kind = byId<HTMLSelectElement>('np-kind').value;
    try {
      const r = await gql<{ createActivityPlan: Plan }>(`mutation C($i: PlanInput!) { createActivityPlan(input: $i) { ${PLAN_FIELDS} } }`, {
        i: { title: byId<HTMLInputElement>('np-title').value, periodKind: kind, year: Number(byId<HTMLInputElement>('np-year').value),
          quarter: kind === 'QUARTER' ? Number(byId<HTMLSelectElement>('np-quarter').value) : undefined },
      });
      plans = [r.createActivityPlan, ...plans];
      selectedPlan = r.createActivityPlan.id;
      renderPlanList();
      renderPlan();
    } catch (err) {
      showError(err);
    }
  });
  await loadDashboard();
  if (location.hash === '#plans') selectTab('plans');
  if (location.hash === '#quality') selectTab('quality');
  if (location.hash === '#seminars') selectTab('seminars');
}

main().catch(showError);
