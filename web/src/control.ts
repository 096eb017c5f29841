// МЦУ Hub: «Контроль исполнения» — the rating of bodies and subordinate organisations with its breakdown,
// a card per organisation (trend over months, overdue / at-risk appeals, formal answers), the control queues,
// the Excel export for the head's meeting and the weights panel for coordinators.
import './style.css';
import './control.css';
import { ApiError, gql } from './api';
import { append, byId, clear, el } from './dom';
import { formatDateTime } from './labels';
import { mountUserBar, requireSession, type Me } from './auth';

type Kind = 'MONTH' | 'QUARTER' | 'YEAR' | 'CUSTOM';
type QState = 'OVERDUE' | 'AT_RISK';

interface Factor { factor: string; label: string; value: number | null; normalized: number | null; weight: number; effectiveWeight: number; points: number }
interface Figures {
  received: number; onTimeShare: number | null; medianAnswerMinutes: number | null; overdueNow: number; formalShare: number | null;
  satisfactionMean: number | null; satisfiedShare: number | null; repeatShare: number | null; rated: number; judged: number;
}
interface Row {
  organizationId: string; name: string; shortName: string | null; kind: string; parentId: string | null; score: number | null; ranked: boolean;
  rank: number | null; previousRank: number | null; rankChange: number | null; scoreChange: number | null; satisfactionGoalMet: boolean | null;
  figures: Figures; breakdown: Factor[];
}
interface Settings {
  weights: { factor: string; label: string; weight: number }[]; indicators: { code: string; name: string; weight: number }[];
  minAppeals: number; satisfactionGoal: number; answerTargetMinutes: number; answerWorstMinutes: number; updatedAt: string | null; updatedBy: string | null;
}
interface QItem { id: string; receivedAt: string; address: string | null; text: string; organizationName: string | null; themeName: string | null; urgent: boolean; answerDueAt: string; state: string; minutesLeft: number }

const FIG = 'received onTimeShare medianAnswerMinutes overdueNow formalShare satisfactionMean satisfiedShare repeatShare rated judged';
const SETTINGS = 'weights { factor label weight } indicators { code name weight } minAppeals satisfactionGoal answerTargetMinutes answerWorstMinutes updatedAt updatedBy';
const RATING = `query R($period: RatingPeriodInput!, $blockId: ID) { organizationRating(period: $period, blockId: $blockId) {
  period { from to label previousFrom previousTo } blockId
  rows { organizationId name shortName kind parentId score ranked rank previousRank rankChange scoreChange satisfactionGoalMet
    figures { ${FIG} } breakdown { factor label value normalized weight effectiveWeight points } }
  settings { ${SETTINGS} } } }`;
const CARD = `query C($id: ID!, $period: RatingPeriodInput!, $blockId: ID) { organizationRatingCard(organizationId: $id, period: $period, blockId: $blockId) {
  organizationId name rankedCount row { rank score previousRank rankChange scoreChange figures { ${FIG} } }
  trend { month score figures { received onTimeShare } }
  overdue { totalCount edges { node { id receivedAt address text organizationName themeName urgent answerDueAt state minutesLeft } } }
  atRisk { totalCount edges { node { id receivedAt address text organizationName themeName urgent answerDueAt state minutesLeft } } }
  formalAnswers { id receivedAt answeredAt themeName text answerText reasons overridden } formalAnswersTotal } }`;
const QUEUE = `query Q($state: ControlQueueState!, $blockId: ID, $first: Int, $after: String) { controlQueue(state: $state, blockId: $blockId, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id receivedAt address text organizationName themeName urgent answerDueAt state minutesLeft } } } }`;
const BLOCKS = `{ thematicBlocks { id name } }`;
const SET = `mutation S($w: RatingWeightsInput, $iw: [IndicatorWeightInput!], $min: Int) { setRatingSettings(weights: $w, indicatorWeights: $iw, minAppeals: $min) { ${SETTINGS} } }`;

const EDITORS = ['ADMIN', 'CURATOR', 'COORDINATOR'];
const COLORS = ['#2f6fdf', '#17a2a2', '#e8590c', '#7048e8', '#2b8a3e', '#c2255c', '#868e96', '#f59f00', '#5c940d', '#1098ad'];
const MONTHS = ['янв', 'фев', 'мар', 'апр', 'май', 'июн', 'июл', 'авг', 'сен', 'окт', 'ноя', 'дек'];

const state = {
  kind: 'MONTH' as Kind,
  start: '',
  end: '',
  blockId: '',
  queue: 'OVERDUE' as QState,
  queueAfter: null as string | null,
  selected: null as string | null,
  rows: [] as Row[],
  settings: null as Settings | null,
};
let me: Me;

const pct = (x: number | null | undefined, digits = 0) => (x == null ? '—' : `${(x * 100).toFixed(digits).replace('.', ',')} %`);
const num = (x: number | null | undefined, digits = 1) => (x == null ? '—' : x.toFixed(digits).replace('.', ','));
const hoursOf = (min: number | null) => (min == null ? '—' : num(min / 60));
const iso = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

function showError(e: unknown) {
  const box = byId('error');
  if (e == null) { box.hidden = true; clear(box); return; }
  box.hidden = false;
  box.textContent = e instanceof ApiError ? e.message : `Ошибка: ${(e as Error).message ?? e}`;
}

function period() {
  return state.kind === 'CUSTOM' ? { kind: state.kind, start: state.start, end: state.end || state.start } : { kind: state.kind, start: state.start };
}

function factorColor(code: string, i: number) { return COLORS[i % COLORS.length]; }

function leftText(min: number): string {
  const a = Math.abs(min);
  const d = Math.floor(a / 1440), h = Math.floor((a % 1440) / 60), m = a % 60;
  return d ? `${d} дн ${h} ч` : h ? `${h} ч ${m} мин` : `${m} мин`;
}

// ------------------------------------------------------------------ period controls

function stepPeriod(dir: number) {
  const d = new Date(`${state.start}T00:00:00`);
  if (state.kind === 'MONTH') d.setMonth(d.getMonth() + dir, 1);
  else if (state.kind === 'QUARTER') d.setMonth(d.getMonth() + 3 * dir, 1);
  else if (state.kind === 'YEAR') d.setFullYear(d.getFullYear() + dir, 0, 1);
  else {
    const e = new Date(`${(state.end || state.start)}T00:00:00`);
    const days = Math.round((e.getTime() - d.getTime()) / 86_400_000) + 1;
    d.setDate(d.getDate() + dir * days);
    e.setDate(e.getDate() + dir * days);
    state.end = iso(e);
  }
  state.start = iso(d);
  syncControls();
  void refresh();
}

function syncControls() {
  for (const b of byId('p-kind').querySelectorAll<HTMLButtonElement>('button')) b.setAttribute('aria-pressed', String(b.dataset.kind === state.kind));
  byId('p-start-label').textContent = state.kind === 'CUSTOM' ? 'С' : state.kind === 'MONTH' ? 'Месяц с датой' : state.kind === 'QUARTER' ? 'Квартал с датой' : 'Год с датой';
  byId<HTMLInputElement>('p-start').value = state.start;
  byId('p-end-wrap').hidden = state.kind !== 'CUSTOM';
  byId<HTMLInputElement>('p-end').value = state.end;
  const q = new URLSearchParams({ kind: state.kind, start: state.start });
  if (state.kind === 'CUSTOM') q.set('end', state.end || state.start);
  if (state.blockId) q.set('blockId', state.blockId);
  byId<HTMLAnchorElement>('export').href = `/exports/rating.xlsx?${q}`;
  // the open card's own workbook: its queues, its months and its formal answers
  if (state.selected) byId<HTMLAnchorElement>('org-export').href = `/exports/rating.xlsx?${q}&organizationId=${encodeURIComponent(state.selected)}`;
  history.replaceState(null, '', `?${q}${state.selected ? `&org=${state.selected}` : ''}`);
}

// ------------------------------------------------------------------ rating table

function breakdownBar(r: Row): HTMLElement {
  const bar = el('div', { class: 'factor-bar', title: r.breakdown.filter((f) => f.normalized != null).map((f) => `${f.label}: ${num(f.points)} из ${num(f.effectiveWeight * 100)}`).join('\n') });
  r.breakdown.forEach((f, i) => {
    if (f.normalized == null || f.points <= 0) return;
    const seg = el('span', { class: 'seg-part', style: `width:${f.points}%;background:${factorColor(f.factor, i)}`, 'data-factor': f.factor });
    bar.append(seg);
  });
  return el('div', { class: 'score-cell' }, el('strong', { class: 'score' }, r.score == null ? '—' : num(r.score)), bar);
}

function changeCell(r: Row): HTMLElement {
  if (r.rankChange == null) return el('td', { class: 'num change none', title: 'нет места в прошлом периоде' }, '·');
  if (r.rankChange > 0) return el('td', { class: 'num change up', title: `поднялась на ${r.rankChange}` }, `▲ ${r.rankChange}`);
  if (r.rankChange < 0) return el('td', { class: 'num change down', title: `опустилась на ${-r.rankChange}` }, `▼ ${-r.rankChange}`);
  return el('td', { class: 'num change same', title: 'без изменений' }, '＝');
}

function renderRating() {
  const body = byId('rating-rows');
  clear(body);
  const ranked = state.rows.filter((r) => r.rank != null);
  const unranked = state.rows.filter((r) => r.rank == null);
  for (const r of ranked) {
    const f = r.figures;
    const tr = el('tr', { class: `row${state.selected === r.organizationId ? ' selected' : ''}${r.kind === 'SUBORDINATE' ? ' sub' : ''}`, tabindex: 0, 'data-org': r.organizationId },
      el('td', { class: 'num rank' }, r.rank),
      changeCell(r),
      el('td', { class: 'org' }, el('span', { class: 'org-name' }, r.shortName ?? r.name), r.kind === 'SUBORDINATE' ? el('span', { class: 'kind' }, 'подвед.') : null),
      el('td', null, breakdownBar(r)),
      el('td', { class: 'num' }, f.received),
      el('td', { class: `num ${f.onTimeShare != null && f.onTimeShare < 0.8 ? 'bad' : ''}` }, pct(f.onTimeShare)),
      el('td', { class: 'num' }, hoursOf(f.medianAnswerMinutes)),
      el('td', { class: `num ${f.overdueNow ? 'bad' : ''}` }, f.overdueNow),
      el('td', { class: `num ${f.formalShare != null && f.formalShare > 0.3 ? 'bad' : ''}` }, pct(f.formalShare)),
      el('td', { class: `num ${r.satisfactionGoalMet === false ? 'bad' : ''}`, title: 'средняя · доля 4–5' }, f.rated ? `${num(f.satisfactionMean)} · ${pct(f.satisfiedShare)}` : '—'),
      el('td', { class: 'num' }, pct(f.repeatShare)));
    tr.addEventListener('click', () => void openCard(r.organizationId));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') void openCard(r.organizationId); });
    body.append(tr);
  }
  if (!ranked.length) body.append(el('tr', null, el('td', { colspan: 11, class: 'muted' }, 'За период нет организаций с достаточным числом обращений')));
  const box = byId('unranked');
  box.hidden = !unranked.length;
  byId('unranked-title').textContent = `Не ранжируются: менее ${state.settings?.minAppeals ?? '—'} обращений за период или нет данных (${unranked.length})`;
  const list = byId('unranked-list');
  clear(list);
  for (const r of unranked) {
    const li = el('li', { 'data-org': r.organizationId }, el('button', { type: 'button', class: 'link' }, r.shortName ?? r.name),
      el('span', { class: 'muted' }, ` — обращений ${r.figures.received}${r.score != null ? `, балл ${num(r.score)}` : ''}`));
    li.querySelector('button')!.addEventListener('click', () => void openCard(r.organizationId));
    list.append(li);
  }
  renderLegend();
}

function renderLegend() {
  const lg = byId('legend');
  clear(lg);
  const factors = state.rows[0]?.breakdown ?? [];
  factors.forEach((f, i) => {
    const share = state.rows.length ? f.weight : 0;
    lg.append(el('span', { class: 'legend-item' }, el('i', { style: `background:${factorColor(f.factor, i)}` }), `${f.label} (вес ${num(share, 2)})`));
  });
}

async function refresh() {
  showError(null);
  try {
    const r = await gql<{ organizationRating: { period: { label: string; previousFrom: string; previousTo: string }; blockId: string | null; rows: Row[]; settings: Settings } }>(RATING, { period: period(), blockId: state.blockId || null });
    const data = r.organizationRating;
    state.rows = data.rows;
    state.settings = data.settings;
    if (data.blockId && !state.blockId) { state.blockId = data.blockId; byId<HTMLSelectElement>('f-block').value = data.blockId; byId<HTMLSelectElement>('f-block').disabled = true; }
    byId('p-label').textContent = data.period.label;
    byId('rating-sub').textContent = `· сравнение с ${data.period.previousFrom.split('-').reverse().join('.')}–${prevEnd(data.period.previousTo)}`;
    renderRating();
    renderWeights();
    await Promise.all([loadQueue(true), state.selected ? openCard(state.selected, true) : Promise.resolve()]);
  } catch (e) {
    showError(e);
  }
}

function prevEnd(to: string) {
  const d = new Date(`${to}T00:00:00`);
  d.setDate(d.getDate() - 1);
  return iso(d).split('-').reverse().join('.');
}

// ------------------------------------------------------------------ card

function trendSvg(points: { month: string; score: number | null; figures: { received: number } }[]): SVGSVGElement {
  const W = 720, H = 250, L = 44, R = 44, T = 16, B = 58;
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'trend-svg');
  const mk = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text != null) n.textContent = text;
    svg.append(n);
    return n;
  };
  const n = points.length;
  const x = (i: number) => L + ((W - L - R) * (i + 0.5)) / n;
  const y = (s: number) => T + (H - T - B) * (1 - s / 100);
  const maxR = Math.max(1, ...points.map((p) => p.figures.received));
  const yr = (v: number) => H - B - ((H - T - B) * v) / maxR;
  for (const s of [0, 50, 100]) {
    mk('line', { x1: L, x2: W - R, y1: y(s), y2: y(s), class: 'grid' });
    mk('text', { x: L - 6, y: y(s) + 4, class: 'axis', 'text-anchor': 'end' }, String(s));
  }
  mk('text', { x: W - R + 6, y: T + 4, class: 'axis bars-axis' }, String(maxR));
  const bw = ((W - L - R) / n) * 0.55;
  points.forEach((p, i) => {
    if (p.figures.received) mk('rect', { x: x(i) - bw / 2, y: yr(p.figures.received), width: bw, height: H - B - yr(p.figures.received), class: 'bar-rect' });
    const [yy, mm] = p.month.split('-');
    mk('text', { x: x(i), y: H - B + 16, class: 'axis', 'text-anchor': 'middle' }, MONTHS[Number(mm) - 1]);
    if (mm === '01' || i === 0) mk('text', { x: x(i), y: H - B + 30, class: 'axis year', 'text-anchor': 'middle' }, yy);
  });
  let d = '';
  points.forEach((p, i) => { if (p.score != null) d += `${d && points[i - 1]?.score != null ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.score).toFixed(1)} `; });
  if (d) mk('path', { d, class: 'line' });
  points.forEach((p, i) => {
    if (p.score == null) return;
    const c = mk('circle', { cx: x(i), cy: y(p.score), r: 5, class: 'dot' });
    const t = document.createElementNS(NS, 'title');
    t.textContent = `${p.month.slice(0, 7)}: балл ${num(p.score)}, обращений ${p.figures.received}`;
    c.append(t);
  });
  mk('text', { x: L, y: H - 4, class: 'axis legend-text' }, 'линия — балл (0–100), столбцы — поступило обращений');
  return svg;
}

function appealItem(q: QItem): HTMLElement {
  return el('li', { class: q.urgent ? 'urgent' : '' },
    el('div', { class: 'appeal-head' }, el('strong', null, `№ ${q.id}`), q.urgent ? el('span', { class: 'tag urgent-tag' }, 'срочное') : null,
      el('span', { class: q.minutesLeft < 0 ? 'late' : 'left' }, q.minutesLeft < 0 ? `просрочено на ${leftText(q.minutesLeft)}` : `осталось ${leftText(q.minutesLeft)}`),
      el('span', { class: 'muted' }, `срок ${formatDateTime(q.answerDueAt)}`)),
    el('div', { class: 'appeal-text' }, q.themeName ? `${q.themeName}: ` : '', q.text.slice(0, 160), q.text.length > 160 ? '…' : ''));
}

async function openCard(id: string, quiet = false) {
  state.selected = id;
  syncControls();
  for (const tr of byId('rating-rows').querySelectorAll('tr')) tr.classList.toggle('selected', (tr as HTMLElement).dataset.org === id);
  const box = byId('org-card');
  try {
    const r = await gql<{ organizationRatingCard: any }>(CARD, { id, period: period(), blockId: state.blockId || null });
    const c = r.organizationRatingCard;
    box.hidden = false;
    byId('org-title').textContent = c.name;
    const s = byId('org-summary');
    clear(s);
    const row = c.row;
    append(s,
      el('div', { class: 'big' }, el('span', { class: 'big-num' }, row?.rank != null ? `${row.rank}` : '—'), el('span', { class: 'muted' }, row?.rank != null ? ` место из ${c.rankedCount}` : ' не ранжируется')),
      el('div', { class: 'big' }, el('span', { class: 'big-num' }, row?.score != null ? num(row.score) : '—'), el('span', { class: 'muted' }, ' балл'),
        row?.scoreChange != null ? el('span', { class: row.scoreChange >= 0 ? 'up' : 'down' }, ` ${row.scoreChange >= 0 ? '▲' : '▼'} ${num(Math.abs(row.scoreChange))}`) : null),
      el('div', { class: 'kv' }, 'Поступило: ', el('strong', null, row?.figures.received ?? 0), ' · в срок: ', el('strong', null, pct(row?.figures.onTimeShare)),
        ' · отписки: ', el('strong', null, pct(row?.figures.formalShare)), ' · оценки 4–5: ', el('strong', null, pct(row?.figures.satisfiedShare))));
    const tr = byId('org-trend');
    clear(tr);
    tr.append(trendSvg(c.trend));
    const fill = (listId: string, countId: string, conn: { totalCount: number; edges: { node: QItem }[] }) => {
      const ul = byId(listId);
      clear(ul);
      byId(countId).textContent = String(conn.totalCount);
      for (const e of conn.edges.slice(0, 8)) ul.append(appealItem(e.node));
      if (!conn.edges.length) ul.append(el('li', { class: 'muted' }, 'нет'));
      else if (conn.totalCount > 8) ul.append(el('li', { class: 'muted' }, `и ещё ${conn.totalCount - 8}`));
    };
    fill('org-overdue', 'org-overdue-count', c.overdue);
    void orgRecommendations(id);
    fill('org-risk', 'org-risk-count', c.atRisk);
    byId('org-formal-count').textContent = String(c.formalAnswersTotal);
    const fl = byId('org-formal');
    clear(fl);
    for (const f of c.formalAnswers.slice(0, 6)) {
      fl.append(el('li', null,
        el('div', { class: 'appeal-head' }, el('strong', null, `№ ${f.id}`), el('span', { class: 'muted' }, `${f.themeName ?? ''} · ответ ${formatDateTime(f.answeredAt)}`), f.overridden ? el('span', { class: 'tag' }, 'решение координатора') : null),
        el('blockquote', null, f.answerText ?? ''),
        f.reasons.length ? el('div', { class: 'reasons' }, ...f.reasons.map((x: string) => el('span', { class: 'tag reason' }, x))) : null));
    }
    if (!c.formalAnswers.length) fl.append(el('li', { class: 'muted' }, 'нет'));
    if (!quiet) box.scrollIntoView({ behavior: 'smooth', block: 'start' });
  } catch (e) {
    box.hidden = true;
    state.selected = null;
    showError(e);
  }
}

// ------------------------------------------------------------------ queues

async function loadQueue(reset: boolean) {
  if (reset) state.queueAfter = null;
  for (const b of byId('q-tabs').querySelectorAll<HTMLButtonElement>('button')) b.setAttribute('aria-selected', String(b.dataset.state === state.queue));
  byId('q-left-head').textContent = state.queue === 'OVERDUE' ? 'Просрочено на' : 'Осталось';
  const vars = { blockId: state.blockId || null, first: 50 };
  const [main, other] = await Promise.all([
    gql<{ controlQueue: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: QItem }[] } }>(QUEUE, { ...vars, state: state.queue, after: state.queueAfter }),
    gql<{ controlQueue: { totalCount: number } }>(QUEUE, { ...vars, first: 1, state: state.queue === 'OVERDUE' ? 'AT_RISK' : 'OVERDUE' }),
  ]);
  const q = main.controlQueue;
  byId(state.queue === 'OVERDUE' ? 'q-overdue-count' : 'q-risk-count').textContent = String(q.totalCount);
  byId(state.queue === 'OVERDUE' ? 'q-risk-count' : 'q-overdue-count').textContent = String(other.controlQueue.totalCount);
  const body = byId('q-rows');
  if (reset) clear(body);
  for (const { node: n } of q.edges) {
    body.append(el('tr', { class: n.urgent ? 'urgent' : '' },
      el('td', { class: 'num' }, n.id),
      el('td', { class: n.minutesLeft < 0 ? 'late' : 'left' }, n.urgent ? el('span', { class: 'tag urgent-tag' }, 'срочное') : null, ' ', leftText(n.minutesLeft)),
      el('td', null, formatDateTime(n.answerDueAt)),
      el('td', null, n.organizationName ?? '—'),
      el('td', null, n.themeName ?? '—'),
      el('td', { class: 'text' }, n.text.slice(0, 140), n.text.length > 140 ? '…' : '', n.address ? el('div', { class: 'muted small' }, n.address) : null)));
  }
  if (!q.totalCount) body.append(el('tr', null, el('td', { colspan: 6, class: 'muted' }, 'Очередь пуста')));
  state.queueAfter = q.pageInfo.endCursor;
  byId('q-more').hidden = !q.pageInfo.hasNextPage;
}

// ------------------------------------------------------------------ weights

function renderWeights() {
  const s = state.settings;
  if (!s) return;
  const editable = EDITORS.includes(me.role);
  const box = byId('weights-fields');
  clear(box);
  const field = (name: string, label: string, value: number, step = '0.01') =>
    el('label', { class: 'field' }, label, el('input', { type: 'number', name, min: 0, max: name === 'minAppeals' ? 1000000 : 100, step, value, disabled: !editable, required: true }));
  for (const w of s.weights) box.append(field(`w:${w.factor}`, w.label, w.weight));
  for (const i of s.indicators) box.append(field(`i:${i.code}`, i.name, i.weight));
  box.append(field('minAppeals', 'Минимум обращений за период для места в рейтинге', s.minAppeals, '1'));
  byId('weights-save').hidden = !editable;
  byId('weights-status').textContent = s.updatedAt ? `Изменены ${formatDateTime(s.updatedAt)}${s.updatedBy ? ` (${s.updatedBy})` : ''}` : 'Веса по умолчанию';
  if (!editable) byId('weights-status').textContent += ' · изменять веса могут администратор, куратор и руководитель-координатор';
}

async function saveWeights(e: Event) {
  e.preventDefault();
  const form = byId<HTMLFormElement>('weights-form');
  const w: Record<string, number> = {};
  const iw: { code: string; weight: number }[] = [];
  let min: number | undefined;
  for (const inp of form.querySelectorAll<HTMLInputElement>('input')) {
    const v = Number(inp.value);
    if (inp.value === '' || !Number.isFinite(v)) { byId('weights-status').textContent = `Неверное число в поле «${inp.parentElement?.firstChild?.textContent}»`; return; }
    if (inp.name.startsWith('w:')) w[inp.name.slice(2)] = v;
    else if (inp.name.startsWith('i:')) iw.push({ code: inp.name.slice(2), weight: v });
    else if (inp.name === 'minAppeals') min = v;
  }
  try {
    await gql(SET, { w, iw, min });
    byId('weights-status').textContent = 'Сохранено';
    await refresh();
  } catch (err) {
    byId('weights-status').textContent = err instanceof ApiError ? err.message : String(err);
  }
}

/** Recommendations accepted by the coordinator for this organisation (its addressee card). */
async function orgRecommendations(id: string) {
  const ul = byId('org-recs');
  try {
    const r = await gql<{ recommendations: { totalCount: number; edges: { node: { id: string; text: string; editedText: string | null; decidedAt: string | null; periodFrom: string; periodTo: string } }[] } }>(
      `query R($o: [ID!]) { recommendations(first: 20, filter: { statuses: [ACCEPTED], organizationIds: $o }) { totalCount edges { node { id text editedText decidedAt periodFrom periodTo } } } }`, { o: [id] });
    clear(ul);
    byId('org-recs-count').textContent = String(r.recommendations.totalCount);
    if (!r.recommendations.edges.length) ul.append(el('li', { class: 'muted' }, 'нет'));
    for (const { node } of r.recommendations.edges) {
      ul.append(el('li', { 'data-rec': node.id }, node.editedText ?? node.text, ' ',
        el('a', { href: `/recommendations.html#rec=${node.id}`, class: 'muted small' }, `принята ${node.decidedAt ? new Date(node.decidedAt).toLocaleDateString('ru-RU') : ''}`)));
    }
  } catch {
    clear(ul);
    ul.append(el('li', { class: 'muted' }, 'рекомендации недоступны'));
  }
}

// ------------------------------------------------------------------ start

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  const q = new URLSearchParams(location.search);
  const now = new Date();
  state.kind = (['MONTH', 'QUARTER', 'YEAR', 'CUSTOM'].includes(q.get('kind') ?? '') ? q.get('kind') : 'MONTH') as Kind;
  state.start = /^\d{4}-\d{2}-\d{2}$/.test(q.get('start') ?? '') ? q.get('start')! : iso(new Date(now.getFullYear(), now.getMonth() - 1, 1));
  state.end = /^\d{4}-\d{2}-\d{2}$/.test(q.get('end') ?? '') ? q.get('end')! : '';
  state.blockId = q.get('blockId') ?? '';
  state.selected = q.get('org');
  try {
    const b = await gql<{ thematicBlocks: { id: string; name: string }[] }>(BLOCKS);
    const sel = byId<HTMLSelectElement>('f-block');
    for (const x of b.thematicBlocks) sel.append(el('option', { value: x.id }, x.name));
    sel.value = state.blockId;
  } catch (e) { showError(e); }
  for (const b of byId('p-kind').querySelectorAll<HTMLButtonElement>('button')) {
    b.addEventListener('click', () => { state.kind = b.dataset.kind as Kind; if (state.kind === 'CUSTOM' && !state.end) state.end = state.start; syncControls(); void refresh(); });
  }
  byId('p-prev').addEventListener('click', () => stepPeriod(-1));
  byId('p-next').addEventListener('click', () => stepPeriod(1));
  byId<HTMLInputElement>('p-start').addEventListener('change', (e) => { const v = (e.target as HTMLInputElement).value; if (v) { state.start = v; syncControls(); void refresh(); } });
  byId<HTMLInputElement>('p-end').addEventListener('change', (e) => { const v = (e.target as HTMLInputElement).value; if (v) { state.end = v; syncControls(); void refresh(); } });
  byId<HTMLSelectElement>('f-block').addEventListener('change', (e) => { state.blockId = (e.target as HTMLSelectElement).value; syncControls(); void refresh(); });
  for (const b of byId('q-tabs').querySelectorAll<HTMLButtonElement>('button')) {
    b.addEventListener('click', () => { state.queue = b.dataset.state as QState; void loadQueue(true).catch(showError); });
  }
  byId('q-more').addEventListener('click', () => void loadQueue(false).catch(showError));
  byId('weights-form').addEventListener('submit', (e) => void saveWeights(e));
  syncControls();
  await refresh();
  document.body.dataset.ready = 'true';
}

void main().catch(showError);
