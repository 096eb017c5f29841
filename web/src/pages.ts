// МЦУ Hub: «Официальные страницы» — the registry of official pages with a traffic light per target,
// a card per page with charts by month, the pages failing targets, the organisations by their pages,
// the edit form, file imports and the Excel export for the meeting.
import './style.css';
import './pages.css';
import { ApiError, gql } from './api';
import { append, byId, clear, el } from './dom';
import { can, mountUserBar, requireSession, type Me } from './auth';
import { formatNumber } from './labels';

type Status = 'PASS' | 'FAIL' | 'NO_DATA' | 'NOT_APPLICABLE';
interface Check { code: string; label: string; status: Status; figure: number | null; target: number | null; unit: string; direction: string; note: string | null }
interface MonthResult { month: string; score: number; failed: number; posts: number; views: number; likes: number; reposts: number; comments: number; subscribers: number; checks: Check[] }
interface Category { id: string; code: string; name: string }
interface CategoryTargets extends Category {
  description: string | null; sortOrder: number; minPostsPerWeek: number | null; maxReplyHours: number | null; minAnsweredShare: number | null;
  minErPost: number | null; minErMonth: number | null; minReachShare: number | null;
  requireVerified: boolean; requirePosWidget: boolean; requireOpenComments: boolean; requireDesign: boolean;
}
interface Org { id: string; name: string; shortName: string | null; kind: string }
interface Page {
  id: string; platform: string; url: string; name: string; responsible: string | null; verified: boolean; posWidget: boolean; posWidgetUrl: string | null;
  commentsOpen: boolean; hasCover: boolean; hasDescription: boolean; ogrn: string | null; active: boolean; posWidgetProblems: string[];
  organization: { id: string; name: string; shortName: string | null }; category: Category; result: MonthResult | null;
}

const PLATFORMS: Record<string, string> = { VK: 'ВКонтакте', OK: 'Одноклассники', TELEGRAM: 'Telegram', MAX: 'MAX', WEBSITE: 'Сайт' };
const CHECK_SHORT: [string, string][] = [
  ['POSTS', 'Публ.'], ['ER_POST', 'ER пост'], ['ER_MONTH', 'ER мес.'], ['REACH', 'Охват'], ['REPLY_TIME', 'Ответ'],
  ['ANSWERED', 'Доля отв.'], ['VERIFIED', 'Госорг.'], ['POS_WIDGET', 'ПОС'], ['COMMENTS_OPEN', 'Комм.'], ['DESIGN', 'Оформл.'],
];
const STATUS_RU: Record<Status, string> = { PASS: 'выполнено', FAIL: 'не выполнено', NO_DATA: 'нет данных', NOT_APPLICABLE: 'не применяется' };

let me: Me;
let categories: Category[] = [];
let organizations: Org[] = [];
let pages: Page[] = [];

const PAGE_FIELDS = `id platform url name responsible verified posWidget posWidgetUrl commentsOpen hasCover hasDescription ogrn active posWidgetProblems
  organization { id name shortName } category { id code name }`;
const RESULT_FIELDS = `month score failed posts views likes reposts comments subscribers checks { code label status figure target unit direction note }`;

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

const fmt = (v: number | null, unit = '') => (v == null ? '—' : `${formatNumber(Math.round(v * 100) / 100)}${unit && unit !== '' ? ` ${unit}` : ''}`);
const figureText = (c: Check) => (c.unit === '' ? (c.figure == null ? '—' : c.figure >= 1 ? 'есть' : 'нет') : fmt(c.figure, c.unit));
const targetText = (c: Check) => (c.target == null ? '—' : c.unit === '' ? 'обязательно' : `${c.direction === 'MAX' ? '≤' : '≥'} ${fmt(c.target, c.unit)}`);

function light(c: Check | undefined): HTMLElement {
  const status = c?.status ?? 'NO_DATA';
  const tip = c ? `${c.label}: ${figureText(c)}; цель ${targetText(c)} — ${STATUS_RU[status]}${c.note ? ` (${c.note})` : ''}` : 'нет данных за месяц';
  return el('span', { class: `tl tl-${status}`, title: tip, role: 'img', 'aria-label': tip, 'data-status': status });
}

function scoreBadge(score: number | null | undefined): HTMLElement {
  if (score == null) return el('span', { class: 'score score-none' }, '—');
  const cls = score >= 80 ? 'good' : score >= 60 ? 'mid' : 'bad';
  return el('span', { class: `score score-${cls}` }, formatNumber(score));
}

const orgName = (o: { name: string; shortName: string | null }) => o.shortName || o.name;
const month = () => (byId<HTMLSelectElement>('f-month').value || null);

const CATEGORY_FIELDS = `id code name description sortOrder minPostsPerWeek maxReplyHours minAnsweredShare minErPost minErMonth minReachShare
  requireVerified requirePosWidget requireOpenComments requireDesign`;

async function loadReference() {
  const r = await gql<{ pageCategories: CategoryTargets[]; organizations: Org[]; officialPageMonths: string[] }>(
    `{ pageCategories { ${CATEGORY_FIELDS} } organizations { id name shortName kind } officialPageMonths }`);
  categories = r.pageCategories;
  renderCategories(r.pageCategories);
  organizations = r.organizations;
  // Called again after an import or a change of targets: keep what the person selected.
  const m = byId<HTMLSelectElement>('f-month');
  const p = byId<HTMLSelectElement>('f-platform');
  const c = byId<HTMLSelectElement>('f-category');
  const keep = { m: m.value, p: p.value, c: c.value };
  clear(m);
  for (const x of r.officialPageMonths) m.append(el('option', { value: x }, monthLabel(x)));
  if (!r.officialPageMonths.length) m.append(el('option', { value: '' }, 'нет статистики'));
  while (p.options.length > 1) p.remove(1);
  for (const [k, v] of Object.entries(PLATFORMS)) p.append(el('option', { value: k }, v));
  while (c.options.length > 1) c.remove(1);
  for (const x of categories) c.append(el('option', { value: x.id }, x.name));
  if (keep.m && r.officialPageMonths.includes(keep.m)) m.value = keep.m;
  p.value = keep.p;
  if ([...c.options].some((o) => o.value === keep.c)) c.value = keep.c;
}

const MONTHS_RU = ['январь', 'февраль', 'март', 'апрель', 'май', 'июнь', 'июль', 'август', 'сентябрь', 'октябрь', 'ноябрь', 'декабрь'];
const monthLabel = (ym: string) => `${MONTHS_RU[Number(ym.slice(5, 7)) - 1]} ${ym.slice(0, 4)}`;
const monthShort = (ym: string) => `${MONTHS_RU[Number(ym.slice(5, 7)) - 1].slice(0, 3)} ${ym.slice(2, 4)}`;

async function load() {
  byId('error').hidden = true;
  const platform = byId<HTMLSelectElement>('f-platform').value;
  const category = byId<HTMLSelectElement>('f-category').value;
  const filter: Record<string, unknown> = {};
  if (platform) filter.platforms = [platform];
  if (category) filter.categoryIds = [category];
  const m = month();
  const r = await gql<{ officialPages: { totalCount: number; edges: { node: Page }[] }; officialPageRating: { organizations: { rank: number; score: number; pages: number; failedChecks: number; organization: Org }[] } | null }>(
    `query P($filter: OfficialPageFilter, $month: String) {
      officialPages(first: 500, filter: $filter) { totalCount edges { node { ${PAGE_FIELDS} result(month: $month) { ${RESULT_FIELDS} } } } }
      officialPageRating(month: $month) { organizations { rank score pages failedChecks organization { id name shortName kind } } }
    }`, { filter, month: m });
  pages = r.officialPages.edges.map((e) => e.node);
  byId<HTMLAnchorElement>('export-link').href = `/exports/official-pages.xlsx${m ? `?month=${m}` : ''}`;
  renderRegistry();
  renderFailing();
  renderOrgs(r.officialPageRating?.organizations ?? []);
}

function renderRegistry() {
  const head = byId('registry-head');
  clear(head);
  append(head, el('th', null, 'Организация'), el('th', null, 'Площадка'), el('th', null, 'Страница'), el('th', null, 'Категория'), el('th', { class: 'num' }, 'Балл'),
    ...CHECK_SHORT.map(([code, short]) => el('th', { class: 'tl-col', title: code, scope: 'col' }, short)));
  const body = byId('registry-body');
  clear(body);
  const failingOnly = byId<HTMLInputElement>('f-failing').checked;
  const shown = pages.filter((p) => !failingOnly || (p.result && p.result.failed > 0));
  byId('registry-count').textContent = String(shown.length);
  for (const p of shown) {
    const checks = new Map((p.result?.checks ?? []).map((c) => [c.code, c]));
    const tr = el('tr', { class: `pg-row${p.active ? '' : ' inactive'}`, tabindex: 0, 'data-page-id': p.id },
      el('td', null, orgName(p.organization)),
      el('td', null, PLATFORMS[p.platform] ?? p.platform),
      el('td', null, el('div', { class: 'pg-name' }, p.name), el('div', { class: 'muted small' }, p.url)),
      el('td', null, p.category.name),
      el('td', { class: 'num' }, scoreBadge(p.result?.score)),
      ...CHECK_SHORT.map(([code]) => el('td', { class: 'tl-col' }, light(p.result ? checks.get(code) : undefined))));
    tr.addEventListener('click', () => void openCard(p.id));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') void openCard(p.id); });
    body.append(tr);
  }
  if (!shown.length) body.append(el('tr', null, el('td', { colspan: 5 + CHECK_SHORT.length, class: 'muted' }, 'Страниц нет')));
}

function renderFailing() {
  const body = byId('failing-body');
  clear(body);
  let n = 0;
  for (const p of pages) {
    for (const c of p.result?.checks ?? []) {
      if (c.status !== 'FAIL') continue;
      n++;
      const tr = el('tr', { class: 'pg-row' }, el('td', null, el('div', { class: 'pg-name' }, p.name), el('div', { class: 'muted small' }, orgName(p.organization))),
        el('td', null, c.label), el('td', { class: 'num' }, figureText(c)), el('td', { class: 'num' }, targetText(c)), el('td', { class: 'small' }, c.note ?? ''));
      tr.addEventListener('click', () => void openCard(p.id));
      body.append(tr);
    }
  }
  byId('failing-count').textContent = String(n);
  if (!n) body.append(el('tr', null, el('td', { colspan: 5, class: 'muted' }, 'Все страницы выполняют цели')));
}

function renderOrgs(rows: { rank: number; score: number; pages: number; failedChecks: number; organization: Org }[]) {
  const body = byId('orgs-body');
  clear(body);
  for (const o of rows) body.append(el('tr', null, el('td', { class: 'num' }, o.rank), el('td', null, orgName(o.organization)), el('td', { class: 'num' }, scoreBadge(o.score)),
    el('td', { class: 'num' }, o.pages), el('td', { class: 'num' }, o.failedChecks)));
  if (!rows.length) body.append(el('tr', null, el('td', { colspan: 5, class: 'muted' }, 'Нет статистики за месяц')));
}

// ------------------------------------------------------------ charts (SVG, no library)

const SVG = 'http://www.w3.org/2000/svg';
function svgEl(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text != null) n.textContent = text;
  return n;
}

/** A small chart of one figure by month: bars or a line, with the target as a dashed line when given. */
function chart(title: string, points: { month: string; value: number | null }[], opts: { bars?: boolean; target?: number | null; color: string; max?: number; unit?: string }): HTMLElement {
  const W = 300, H = 150, L = 36, R = 8, T = 10, B = 24;
  const values = points.map((p) => p.value ?? 0);
  const max = opts.max ?? Math.max(1, ...values, opts.target ?? 0) * 1.1;
  const x = (i: number) => L + ((W - L - R) * (i + 0.5)) / Math.max(1, points.length);
  const y = (v: number) => T + (H - T - B) * (1 - v / max);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': title, class: 'pg-chart' }) as SVGSVGElement;
  for (const f of [0, 0.5, 1]) {
    svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'grid' }));
    svg.append(svgEl('text', { x: L - 4, y: y(max * f) + 4, 'text-anchor': 'end', class: 'axis' }, formatNumber(Math.round(max * f))));
  }
  const bw = ((W - L - R) / Math.max(1, points.length)) * 0.6;
  if (opts.bars) {
    points.forEach((p, i) => {
      if (p.value == null) return;
      const r = svgEl('rect', { x: x(i) - bw / 2, y: y(p.value), width: bw, height: Math.max(0, y(0) - y(p.value)), fill: opts.color, rx: 2 });
      r.append(svgEl('title', {}, `${monthLabel(p.month)}: ${formatNumber(p.value)}${opts.unit ? ' ' + opts.unit : ''}`));
      svg.append(r);
    });
  } else {
    const d = points.map((p, i) => (p.value == null ? null : `${x(i)},${y(p.value)}`)).filter(Boolean).join(' ');
    svg.append(svgEl('polyline', { points: d, fill: 'none', stroke: opts.color, 'stroke-width': 2 }));
    points.forEach((p, i) => {
      if (p.value == null) return;
      const c = svgEl('circle', { cx: x(i), cy: y(p.value), r: 3, fill: opts.color });
      c.append(svgEl('title', {}, `${monthLabel(p.month)}: ${formatNumber(p.value)}${opts.unit ? ' ' + opts.unit : ''}`));
      svg.append(c);
    });
  }
  if (opts.target != null) svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(opts.target), y2: y(opts.target), class: 'target' }));
  const step = Math.ceil(points.length / 6);
  points.forEach((p, i) => { if ((points.length - 1 - i) % step === 0) svg.append(svgEl('text', { x: x(i), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, monthShort(p.month))); });
  return el('figure', { class: 'pg-chart-box' }, el('figcaption', null, title, opts.target != null ? el('span', { class: 'muted small' }, ` (цель — пунктир)`) : null), svg);
}

async function openCard(id: string) {
  const r = await gql<{ officialPage: (Page & { history: MonthResult[] }) | null }>(
    `query C($id: ID!, $month: String) { officialPage(id: $id) { ${PAGE_FIELDS} result(month: $month) { ${RESULT_FIELDS} } history(months: 12) { ${RESULT_FIELDS} } } }`,
    { id, month: month() });
  const p = r.officialPage;
  if (!p) return;
  byId('card-title').textContent = p.name;
  const body = byId('card-body');
  clear(body);
  const res = p.result;
  append(body,
    el('div', { class: 'pg-card-meta' },
      el('div', null, el('b', null, orgName(p.organization)), ' · ', PLATFORMS[p.platform], ' · категория «', p.category.name, '»'),
      el('div', null, el('a', { href: p.url, target: '_blank', rel: 'noopener noreferrer' }, p.url)),
      el('div', { class: 'muted small' }, `Ответственный: ${p.responsible ?? 'не назначен'}${p.ogrn ? ` · ОГРН ${p.ogrn}` : ''}`),
      p.posWidgetProblems.length ? el('div', { class: 'pg-warn small' }, `Виджет ПОС: ${p.posWidgetProblems.join('; ')}`) : null),
    res ? el('div', { class: 'pg-card-score' }, 'Балл за ', monthLabel(res.month), ': ', scoreBadge(res.score), ` · не выполнено проверок: ${res.failed}`) : el('p', { class: 'muted' }, 'Нет статистики за выбранный месяц'));
  if (res) {
    const t = el('table', { class: 'pg-table pg-checks' }, el('thead', null, el('tr', null, el('th', null, ''), el('th', null, 'Показатель'), el('th', { class: 'num' }, 'Значение'), el('th', { class: 'num' }, 'Цель'), el('th', null, 'Пояснение'))));
    const tb = el('tbody');
    for (const c of res.checks) tb.append(el('tr', { 'data-check': c.code }, el('td', null, light(c)), el('td', null, c.label), el('td', { class: 'num' }, figureText(c)), el('td', { class: 'num' }, targetText(c)), el('td', { class: 'small muted' }, c.note ?? (c.status === 'NOT_APPLICABLE' ? 'не применяется' : ''))));
    t.append(tb);
    body.append(t);
  }
  const h = p.history;
  if (h.length) {
    const target = (code: string) => h[h.length - 1].checks.find((c) => c.code === code)?.target ?? null;
    const fig = (code: string) => h.map((m) => ({ month: m.month, value: m.checks.find((c) => c.code === code)?.figure ?? null }));
    body.append(el('div', { class: 'pg-charts', id: 'card-charts' },
      chart('Балл', h.map((m) => ({ month: m.month, value: m.score })), { color: '#2f4fbf', max: 100 }),
      chart('Публикаций в неделю', fig('POSTS'), { bars: true, color: '#4c9f70', target: target('POSTS') }),
      chart('Подписчики', h.map((m) => ({ month: m.month, value: m.subscribers })), { color: '#7b5ea7' }),
      chart('ER за месяц, %', fig('ER_MONTH'), { bars: true, color: '#d9822b', target: target('ER_MONTH'), unit: '%' }),
      chart('Медиана ответа, раб. ч', fig('REPLY_TIME'), { bars: true, color: '#c92a2a', target: target('REPLY_TIME'), unit: 'ч' }),
      chart('Доля комментариев с ответом, %', fig('ANSWERED'), { color: '#1c7c8c', target: target('ANSWERED'), max: 100, unit: '%' })));
  }
  if (can.editReference(me)) {
    const edit = el('button', { type: 'button', class: 'pg-button primary', id: 'card-edit' }, 'Изменить');
    edit.addEventListener('click', () => { (byId('card-dialog') as HTMLDialogElement).close(); openEdit(p); });
    body.append(el('div', { class: 'pg-dialog-actions' }, edit));
  }
  const d = byId<HTMLDialogElement>('card-dialog');
  if (!d.open) d.showModal();
}

// ------------------------------------------------------------ edit form

let editing: Page | null = null;
function openEdit(p: Page | null) {
  editing = p;
  byId('edit-title').textContent = p ? `Страница: ${p.name}` : 'Новая страница';
  byId('edit-error').hidden = true;
  const org = byId<HTMLSelectElement>('e-org');
  clear(org);
  for (const o of organizations) org.append(el('option', { value: o.id }, orgName(o)));
  const plat = byId<HTMLSelectElement>('e-platform');
  clear(plat);
  for (const [k, v] of Object.entries(PLATFORMS)) plat.append(el('option', { value: k }, v));
  const cat = byId<HTMLSelectElement>('e-category');
  clear(cat);
  for (const c of categories) cat.append(el('option', { value: c.id }, c.name));
  org.value = p?.organization.id ?? organizations[0]?.id ?? '';
  plat.value = p?.platform ?? 'VK';
  cat.value = p?.category.id ?? categories[0]?.id ?? '';
  byId<HTMLInputElement>('e-url').value = p?.url ?? '';
  byId<HTMLInputElement>('e-name').value = p?.name ?? '';
  byId<HTMLInputElement>('e-responsible').value = p?.responsible ?? '';
  byId<HTMLInputElement>('e-widget').value = p?.posWidgetUrl ?? '';
  byId<HTMLInputElement>('e-ogrn').value = p?.ogrn ?? '';
  const flags: [string, boolean][] = [['verified', p?.verified ?? false], ['posWidget', p?.posWidget ?? false], ['commentsOpen', p?.commentsOpen ?? true],
    ['hasCover', p?.hasCover ?? false], ['hasDescription', p?.hasDescription ?? false], ['active', p?.active ?? true]];
  for (const [k, v] of flags) byId<HTMLInputElement>(`e-${k}`).checked = v;
  byId('e-delete').hidden = !p;
  byId<HTMLDialogElement>('edit-dialog').showModal();
}

const FIELD_INPUT: Record<string, string> = { 'input.url': 'e-url', 'input.posWidgetUrl': 'e-widget', 'input.ogrn': 'e-ogrn', 'input.organizationId': 'e-org', 'input.categoryId': 'e-category' };

async function saveEdit(ev: Event) {
  ev.preventDefault();
  const v = (id: string) => byId<HTMLInputElement>(id).value.trim();
  const input = {
    organizationId: v('e-org'), platform: v('e-platform'), url: v('e-url'), name: v('e-name') || null, categoryId: v('e-category'),
    responsible: v('e-responsible') || null, posWidgetUrl: v('e-widget') || null, ogrn: v('e-ogrn') || null,
    verified: byId<HTMLInputElement>('e-verified').checked, posWidget: byId<HTMLInputElement>('e-posWidget').checked,
    commentsOpen: byId<HTMLInputElement>('e-commentsOpen').checked, hasCover: byId<HTMLInputElement>('e-hasCover').checked,
    hasDescription: byId<HTMLInputElement>('e-hasDescription').checked, active: byId<HTMLInputElement>('e-active').checked,
  };
  for (const id of Object.values(FIELD_INPUT)) byId(id).removeAttribute('aria-invalid');
  try {
    if (editing) await gql(`mutation U($id: ID!, $input: OfficialPageInput!) { updateOfficialPage(id: $id, input: $input) { id } }`, { id: editing.id, input });
    else await gql(`mutation C($input: OfficialPageInput!) { createOfficialPage(input: $input) { id } }`, { input });
    byId<HTMLDialogElement>('edit-dialog').close();
    await load();
  } catch (e) {
    const box = byId('edit-error');
    box.textContent = e instanceof Error ? e.message.replace(/^input\.\w+: /, '') : String(e);
    box.hidden = false;
    if (e instanceof ApiError && e.field && FIELD_INPUT[e.field]) {
      byId(FIELD_INPUT[e.field]).setAttribute('aria-invalid', 'true');
      byId(FIELD_INPUT[e.field]).focus();
    }
  }
}

async function deletePage() {
  if (!editing || !confirm(`Удалить страницу «${editing.name}» из реестра вместе со статистикой?`)) return;
  try {
    await gql(`mutation D($id: ID!) { deleteOfficialPage(id: $id) }`, { id: editing.id });
    byId<HTMLDialogElement>('edit-dialog').close();
    await load();
  } catch (e) {
    byId('edit-error').textContent = (e as Error).message;
    byId('edit-error').hidden = false;
  }
}

// ------------------------------------------------------------ categories and their targets

/** Target inputs: field, how a stored value is shown (shares 0…1 as percent), step. */
const TARGETS: { field: keyof CategoryTargets; percent: boolean; step: string; label: string }[] = [
  { field: 'minPostsPerWeek', percent: false, step: '0.1', label: 'публикаций в неделю' },
  { field: 'maxReplyHours', percent: false, step: '0.5', label: 'медиана ответа, раб. ч' },
  { field: 'minAnsweredShare', percent: true, step: '1', label: 'доля ответов, %' },
  { field: 'minErPost', percent: false, step: '0.1', label: 'ER на публикацию, %' },
  { field: 'minErMonth', percent: false, step: '0.1', label: 'ER за месяц, %' },
  { field: 'minReachShare', percent: true, step: '0.1', label: 'подписчики / население, %' },
];
const REQUIRES: (keyof CategoryTargets)[] = ['requireVerified', 'requirePosWidget', 'requireOpenComments', 'requireDesign'];
const REQUIRE_LABELS: Record<string, string> = { requireVerified: 'отметка «Госорганизация»', requirePosWidget: 'виджет ПОС', requireOpenComments: 'открытые комментарии', requireDesign: 'оформление' };

const shown = (v: number | null, percent: boolean) => (v == null ? '' : String(Math.round((percent ? v * 100 : v) * 1000) / 1000));

function renderCategories(list: CategoryTargets[]) {
  const body = byId('cats-body');
  clear(body);
  const editable = can.editReference(me);
  for (const c of list) {
    const tr = el('tr', { 'data-code': c.code });
    tr.append(el('td', null, el('b', null, c.name), el('div', { class: 'muted small' }, c.code)));
    for (const t of TARGETS) {
      const v = shown(c[t.field] as number | null, t.percent);
      tr.append(el('td', { class: 'num' }, editable
        ? el('input', { type: 'number', min: '0', step: t.step, value: v, 'data-field': t.field, 'aria-label': `${c.name}: ${t.label}` })
        : (v === '' ? '—' : v)));
    }
    for (const f of REQUIRES) {
      const box = el('input', { type: 'checkbox', 'data-field': f, 'aria-label': `${c.name}: обязательно ${REQUIRE_LABELS[f]}` }) as HTMLInputElement;
      box.checked = c[f] as boolean;
      box.disabled = !editable;
      tr.append(el('td', { class: 'tl-col' }, box));
    }
    const save = el('button', { type: 'button', class: 'pg-button', 'data-save': c.code }, 'Сохранить');
    save.addEventListener('click', () => void saveCategory(c, tr));
    tr.append(el('td', null, editable ? save : ''));
    body.append(tr);
  }
}

async function saveCategory(c: CategoryTargets, tr: HTMLElement) {
  const status = byId('cats-status');
  clear(status);
  const input: Record<string, unknown> = { code: c.code, name: c.name, description: c.description, sortOrder: c.sortOrder };
  for (const t of TARGETS) {
    const box = tr.querySelector<HTMLInputElement>(`input[data-field="${t.field}"]`)!;
    box.removeAttribute('aria-invalid');
    const raw = box.value.trim().replace(',', '.');
    const n = raw === '' ? null : Number(raw);
    const wrong = n == null ? null : !Number.isFinite(n) ? 'не число' : n < 0 ? 'не может быть меньше 0' : t.percent && n > 100 ? 'не больше 100 %' : null;
    if (wrong) {
      box.setAttribute('aria-invalid', 'true');
      status.append(el('div', { class: 'error', id: 'cats-error' }, `«${c.name}», ${t.label}: ${wrong}`));
      return;
    }
    input[t.field] = n == null || !Number.isFinite(n) ? (raw === '' ? null : n) : t.percent ? Math.round(n * 1000) / 100000 : n;
  }
  for (const f of REQUIRES) input[f] = tr.querySelector<HTMLInputElement>(`input[data-field="${f}"]`)!.checked;
  try {
    await gql(`mutation S($input: PageCategoryInput!) { upsertPageCategory(input: $input) { id } }`, { input });
    await loadReference();
    await load();
    // Shown once the registry shows the new lights.
    status.append(el('div', { class: 'pg-ok', id: 'cats-ok' }, `Цели категории «${c.name}» сохранены, баллы пересчитаны`));
  } catch (e) {
    const field = e instanceof ApiError && e.field ? e.field.replace(/^input\./, '') : '';
    const label = TARGETS.find((t) => t.field === field)?.label;
    const text = e instanceof Error ? e.message.replace(/^input\.\w+: /, '') : String(e);
    status.append(el('div', { class: 'error', id: 'cats-error' }, label ? `«${c.name}», ${label}: ${text}` : text));
    if (e instanceof ApiError && e.field) tr.querySelector(`input[data-field="${e.field.replace(/^input\./, '')}"]`)?.setAttribute('aria-invalid', 'true');
  }
}

// ------------------------------------------------------------ imports

interface Report { kind: string; status: string; read: number; inserted: number; updated: number; deleted: number; months: string[]; issues: { line: number; field: string; severity: string; reason: string }[] }

async function importFile(ev: Event) {
  ev.preventDefault();
  const file = byId<HTMLInputElement>('i-file').files?.[0];
  const out = byId('import-result');
  clear(out);
  if (!file) { out.append(el('div', { class: 'error' }, 'Выберите файл')); return; }
  const query = `mutation I($kind: PageFileKind!, $file: Upload!) { importOfficialPageFile(kind: $kind, file: $file) { kind status read inserted updated deleted months issues { line field severity reason } } }`;
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { kind: byId<HTMLSelectElement>('i-kind').value, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, file.name);
  byId<HTMLButtonElement>('i-submit').disabled = true;
  try {
    const res = await fetch('/graphql', { method: 'POST', body: form, credentials: 'same-origin', headers: { 'apollo-require-preflight': 'true' } });
    const body = (await res.json()) as { data?: { importOfficialPageFile: Report }; errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(body.errors[0].message);
    const r = body.data!.importOfficialPageFile;
    out.append(el('div', { class: r.status === 'DONE' ? 'pg-ok' : 'error', id: 'import-status' },
      r.status === 'DONE' ? `Загружено: прочитано ${r.read}, добавлено ${r.inserted}, обновлено ${r.updated}${r.deleted ? `, удалено ${r.deleted}` : ''}` : `Файл отклонён целиком, ничего не изменено: ошибок — ${r.issues.filter((i) => i.severity === 'ERROR').length}`));
    if (r.issues.length) {
      const t = el('table', { class: 'pg-table' }, el('thead', null, el('tr', null, el('th', { class: 'num' }, 'Строка'), el('th', null, 'Столбец'), el('th', null, 'Вид'), el('th', null, 'Причина'))));
      const tb = el('tbody', { id: 'import-issues' });
      for (const i of r.issues.slice(0, 200)) tb.append(el('tr', null, el('td', { class: 'num' }, i.line), el('td', null, i.field), el('td', null, i.severity === 'ERROR' ? 'ошибка' : 'предупреждение'), el('td', null, i.reason)));
      t.append(tb);
      out.append(t);
    }
    if (r.status === 'DONE') { await loadReference().catch(() => undefined); await load(); }
  } catch (e) {
    out.append(el('div', { class: 'error' }, (e as Error).message));
  } finally {
    byId<HTMLButtonElement>('i-submit').disabled = false;
  }
}

async function takeAppeals() {
  const out = byId('import-result');
  clear(out);
  try {
    const r = await gql<{ takeOfficialPageCommentsAsAppeals: { comments: number; inserted: number; rejected: number } }>(
      `mutation { takeOfficialPageCommentsAsAppeals { comments inserted rejected } }`);
    const x = r.takeOfficialPageCommentsAsAppeals;
    out.append(el('div', { class: 'pg-ok' }, x.comments ? `Передано в приём: ${x.comments}, создано обращений: ${x.inserted}${x.rejected ? `, отклонено: ${x.rejected}` : ''}` : 'Новых вопросов и жалоб в комментариях нет'));
  } catch (e) {
    out.append(el('div', { class: 'error' }, (e as Error).message));
  }
}

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  if (can.editReference(me)) byId('add-page').hidden = false;
  if (['ADMIN', 'CURATOR', 'COORDINATOR', 'WORKER'].includes(me.role)) byId('import-card').hidden = false;
  if (!can.importAppeals(me)) byId('i-appeals').hidden = true;
  if (!can.editReference(me)) byId<HTMLSelectElement>('i-kind').querySelector('option[value="PAGES"]')?.remove();
  await loadReference();
  await load();
  for (const id of ['f-month', 'f-platform', 'f-category']) byId(id).addEventListener('change', () => void load().catch(showError));
  byId('f-failing').addEventListener('change', () => { renderRegistry(); });
  byId('add-page').addEventListener('click', () => openEdit(null));
  byId('card-close').addEventListener('click', () => byId<HTMLDialogElement>('card-dialog').close());
  byId('edit-close').addEventListener('click', () => byId<HTMLDialogElement>('edit-dialog').close());
  byId('e-cancel').addEventListener('click', () => byId<HTMLDialogElement>('edit-dialog').close());
  byId('e-delete').addEventListener('click', () => void deletePage());
  byId('edit-form').addEventListener('submit', (e) => void saveEdit(e));
  byId('import-form').addEventListener('submit', (e) => void importFile(e));
  byId('i-appeals').addEventListener('click', () => void takeAppeals());
  byId<HTMLInputElement>('i-file').addEventListener('change', () => {
    byId('i-file-name').textContent = byId<HTMLInputElement>('i-file').files?.[0]?.name ?? 'файл не выбран';
  });
  document.body.dataset.ready = 'true';
}

main().catch(showError);
