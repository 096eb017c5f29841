// МЦУ Hub: «Информационные риски» — the list of signals with their states, a card with the series and its
// bound (SVG), the appeals on a small map (offline style, no tiles), and the actions of the lifecycle.
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './intake.css';
import './risks.css';
import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource } from 'maplibre-gl';
import type { FeatureCollection } from 'geojson';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { ApiError, fetchConfig, gql, loadDistricts, type AppConfig, type District } from './api';
import { append, byId, clear, el } from './dom';
import { DISTRICTS_SOURCE, addMcuLayers, districtFeatureCollection, offlineStyle } from './mapLayers';
import { mountUserBar, requireSession, type Me } from './auth';

maplibregl.setWorkerUrl(workerUrl);

declare global { interface Window { __riskMap?: maplibregl.Map; __risksReady?: boolean } }

type Status = 'NEW' | 'ACKNOWLEDGED' | 'RESOLVED' | 'FALSE_ALARM';
interface Point { date: string; observed: number; expected: number | null; upperbound: number | null; alarm: boolean }
interface Signal {
  id: string; kind: string; kindLabel: string; title: string; method: string; methodNote: string; startedOn: string; lastOn: string;
  observed: number; expected: number | null; upperbound: number | null; status: Status; statusLabel: string; granularity: 'DAY' | 'WEEK';
  acknowledgedBy?: string | null; acknowledgedAt?: string | null; closedBy?: string | null; closedAt?: string | null; comment?: string | null;
  appealCount?: number; socialShare?: number | null; overdueShare?: number | null; series?: Point[];
  appealsGeoJSON?: FeatureCollection; relatedProblems?: { id: string; title: string; status: string }[];
}

const STATUS_SETS: Record<string, Status[] | null> = {
  OPEN: ['NEW', 'ACKNOWLEDGED'], NEW: ['NEW'], ACKNOWLEDGED: ['ACKNOWLEDGED'], CLOSED: ['RESOLVED', 'FALSE_ALARM'], ALL: null,
};
const HANDLERS = ['CURATOR', 'COORDINATOR', 'BLOCK_LEAD'];
const DETECTORS = ['CURATOR', 'COORDINATOR'];
const PAGE = 50;

const LIST = `query L($f: RiskSignalFilter, $first: Int, $after: String) { riskSignals(filter: $f, first: $first, after: $after) {
  totalCount hasNextPage endCursor edges { node { id kind kindLabel title method startedOn lastOn observed expected upperbound status statusLabel granularity } } } }`;
const CARD = `query C($id: ID!) { riskSignal(id: $id) { id kind kindLabel title method methodNote startedOn lastOn observed expected upperbound status statusLabel granularity
  acknowledgedBy acknowledgedAt closedBy closedAt comment appealCount socialShare overdueShare series { date observed expected upperbound alarm }
  appealsGeoJSON relatedProblems { id title status } } }`;

let me: Me;
let cfg: AppConfig;
let districts: District[] = [];
let after: string | null = null;
let selected: string | null = null;
let map: maplibregl.Map | undefined;

const fmt = (v: number | null | undefined, digits = 1) => (v == null ? '—' : v.toLocaleString('ru-RU', { maximumFractionDigits: digits }));
const pct = (v: number | null | undefined) => (v == null ? '—' : `${Math.round(v * 100)} %`);
const ruDate = (d: string) => d.split('-').reverse().join('.');

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}

function filter() {
  const st = STATUS_SETS[(byId<HTMLSelectElement>('r-status')).value];
  const kind = byId<HTMLSelectElement>('r-kind').value;
  return { ...(st ? { statuses: st } : {}), ...(kind ? { kinds: [kind] } : {}) };
}

async function loadList(append_ = false) {
  const data = await gql<{ riskSignals: { totalCount: number; hasNextPage: boolean; endCursor: string | null; edges: { node: Signal }[] } }>(
    LIST, { f: filter(), first: PAGE, after: append_ ? after : null });
  const body = byId('risks-list');
  if (!append_) clear(body);
  const c = data.riskSignals;
  byId('risks-count').textContent = String(c.totalCount);
  after = c.endCursor;
  byId('r-more').hidden = !c.hasNextPage;
  if (!c.edges.length && !append_) {
    append(body, el('tr', null, el('td', { colspan: 5, class: 'muted small' }, 'Сигналов нет: всплесков и «резонанса» в этой выборке не найдено.')));
  }
  for (const { node: s } of c.edges) {
    const tr = el('tr', { 'data-id': s.id, class: s.id === selected ? 'selected' : undefined },
      el('td', null, el('span', { class: `risk-state ${s.status}` }, s.statusLabel)),
      el('td', { class: 'title' }, s.title, el('div', { class: 'muted small' }, s.kindLabel)),
      el('td', null, ruDate(s.startedOn)),
      el('td', { class: 'num' }, `${s.observed} / ${fmt(s.upperbound)}`),
      el('td', { class: 'small' }, s.method));
    tr.addEventListener('click', () => void openCard(s.id).catch(showError));
    body.appendChild(tr);
  }
}

/** The series as an SVG chart: bars observed (red on alarm days), line expected, dashed upper bound. */
function chart(points: Point[], granularity: 'DAY' | 'WEEK'): SVGSVGElement {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 640, H = 200, L = 34, R = 8, T = 10, B = 26;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const mk = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text) n.textContent = text;
    svg.appendChild(n);
    return n;
  };
  if (!points.length) { mk('text', { x: 10, y: 20, class: 'axis' }, 'Ряд для графика не сохранён (сигнал-правило).'); return svg; }
  const max = Math.max(1, ...points.map((p) => Math.max(p.observed, p.upperbound ?? 0, p.expected ?? 0))) * 1.08;
  const x = (i: number) => L + ((W - L - R) * (i + 0.5)) / points.length;
  const y = (v: number) => T + (H - T - B) * (1 - v / max);
  const bw = Math.max(1.5, ((W - L - R) / points.length) * 0.7);
  for (const t of [0, 0.5, 1]) {
    const v = Math.round(max * t);
    mk('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e9ecef' });
    mk('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'axis' }, String(v));
  }
  points.forEach((p, i) => {
    mk('rect', { x: x(i) - bw / 2, y: y(p.observed), width: bw, height: Math.max(0, y(0) - y(p.observed)), fill: p.alarm ? '#e03131' : '#a5b4c8' })
      .appendChild(Object.assign(document.createElementNS(NS, 'title'), { textContent: `${ruDate(p.date)}: ${p.observed}, граница ${fmt(p.upperbound)}` }));
  });
  const path = (pick: (p: Point) => number | null) => {
    let d = '';
    points.forEach((p, i) => { const v = pick(p); if (v == null) return; d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`; });
    return d;
  };
  mk('path', { d: path((p) => p.expected), fill: 'none', stroke: '#1c7ed6', 'stroke-width': 1.6 });
  mk('path', { d: path((p) => p.upperbound), fill: 'none', stroke: '#f08c00', 'stroke-width': 1.6, 'stroke-dasharray': '5 3' });
  const step = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => { if (i % step === 0) mk('text', { x: x(i), y: H - 8, 'text-anchor': 'middle', class: 'axis' }, ruDate(p.date).slice(0, 5)); });
  mk('text', { x: W - R, y: T + 2, 'text-anchor': 'end', class: 'axis' }, granularity === 'WEEK' ? 'обращений в неделю' : 'обращений в день');
  return svg;
}

async function ensureMap(): Promise<maplibregl.Map> {
  if (map) return map;
  const m = new maplibregl.Map({
    container: byId('c-map'), style: cfg.basemapStyleUrl ?? offlineStyle(), center: cfg.municipality.center, zoom: cfg.municipality.zoom,
    minZoom: 8, maxZoom: 18, dragRotate: false, attributionControl: false,
  });
  m.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map = m;
  window.__riskMap = m;
  await new Promise<void>((resolve) => (m.loaded() ? resolve() : m.once('load', () => resolve())));
  addMcuLayers(m);
  await (m.getSource(DISTRICTS_SOURCE) as GeoJSONSource).setData(districtFeatureCollection(districts));
  m.addSource('risk-appeals', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  m.addLayer({ id: 'risk-appeals', type: 'circle', source: 'risk-appeals', paint: {
    'circle-radius': 5, 'circle-color': ['case', ['get', 'overdue'], '#e03131', ['in', ['get', 'channel'], ['literal', ['SOCIAL', 'MESSENGER']]], '#7048e8', '#1c7ed6'],
    'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } });
  return m;
}

async function openCard(id: string) {
  selected = id;
  for (const tr of document.querySelectorAll('#risks-list tr')) tr.classList.toggle('selected', (tr as HTMLElement).dataset.id === id);
  const { riskSignal: s } = await gql<{ riskSignal: Signal | null }>(CARD, { id });
  byId('card-empty').hidden = !!s;
  byId('card-body').hidden = !s;
  if (!s) { byId('card-empty').textContent = 'Сигнал не найден или недоступен.'; return; }
  byId('card-title').textContent = s.title;
  const st = byId('c-status');
  st.className = `risk-state ${s.status}`;
  st.textContent = s.statusLabel;
  byId('c-kind').textContent = `${s.kindLabel} · ${s.granularity === 'WEEK' ? 'по неделям' : 'по дням'}`;
  byId('c-observed').textContent = fmt(s.observed, 0);
  byId('c-expected').textContent = fmt(s.expected);
  byId('c-upper').textContent = fmt(s.upperbound);
  byId('c-since').textContent = s.startedOn === s.lastOn ? ruDate(s.startedOn) : `${ruDate(s.startedOn)} — ${ruDate(s.lastOn)}`;
  byId('c-social').textContent = pct(s.socialShare);
  byId('c-overdue').textContent = pct(s.overdueShare);
  byId('c-method').textContent = s.method;
  byId('c-note').textContent = s.methodNote;
  const box = byId('c-chart');
  clear(box);
  box.appendChild(chart(s.series ?? [], s.granularity));
  append(box, el('div', { class: 'risk-legend' }, el('span', null, el('i', { style: 'background:#a5b4c8;height:8px' }), 'наблюдено'),
    el('span', null, el('i', { style: 'background:#e03131;height:8px' }), 'тревога'), el('span', null, el('i', { style: 'background:#1c7ed6' }), 'ожидалось'),
    el('span', null, el('i', { style: 'background:#f08c00' }), 'верхняя граница')));
  const fc = s.appealsGeoJSON ?? { type: 'FeatureCollection', features: [] };
  byId('c-appeals').textContent = `Обращений за сигналом: ${s.appealCount ?? 0}, на карте: ${fc.features.length} (красные — просроченные, фиолетовые — из соцсетей и мессенджеров).`;
  const m = await ensureMap();
  await (m.getSource('risk-appeals') as GeoJSONSource).setData(fc);
  if (fc.features.length) {
    const b = new maplibregl.LngLatBounds();
    for (const f of fc.features) if (f.geometry.type === 'Point') b.extend(f.geometry.coordinates as [number, number]);
    m.fitBounds(b, { padding: 40, maxZoom: 15, duration: 0 });
  }
  const probs = byId('c-problems');
  clear(probs);
  if (!s.relatedProblems?.length) append(probs, el('li', { class: 'muted' }, 'нет'));
  for (const p of s.relatedProblems ?? []) append(probs, el('li', null, el('a', { href: `/#problem=${p.id}` }, p.title)));
  const hist: string[] = [];
  if (s.acknowledgedBy) hist.push(`принял: ${s.acknowledgedBy}, ${new Date(s.acknowledgedAt!).toLocaleString('ru-RU')}`);
  if (s.closedBy) hist.push(`закрыл: ${s.closedBy}, ${new Date(s.closedAt!).toLocaleString('ru-RU')}`);
  if (s.comment) hist.push(`комментарий: ${s.comment}`);
  byId('c-history').textContent = hist.join(' · ');
  byId<HTMLAnchorElement>('c-inform').href = `/informing.html#kind=RISK&id=${encodeURIComponent(s.id)}`;
  const canAct = HANDLERS.includes(me.role) && (s.status === 'NEW' || s.status === 'ACKNOWLEDGED');
  byId('c-actions').hidden = !canAct;
  byId('c-ack').hidden = s.status !== 'NEW';
  byId('c-resolve').hidden = s.status !== 'ACKNOWLEDGED';
  byId('c-false').hidden = s.status !== 'ACKNOWLEDGED';
  byId('c-result').textContent = '';
}

async function act(kind: 'ack' | 'RESOLVED' | 'FALSE_ALARM') {
  if (!selected) return;
  const comment = byId<HTMLTextAreaElement>('c-comment').value;
  try {
    if (kind === 'ack') await gql(`mutation A($id: ID!, $c: String) { acknowledgeRiskSignal(id: $id, comment: $c) { id } }`, { id: selected, c: comment || null });
    else await gql(`mutation Z($id: ID!, $s: RiskStatus!, $c: String!) { closeRiskSignal(id: $id, status: $s, comment: $c) { id } }`, { id: selected, s: kind, c: comment });
    byId<HTMLTextAreaElement>('c-comment').value = '';
    await loadList();
    await openCard(selected);
  } catch (e) {
    byId('c-result').textContent = e instanceof Error ? e.message : String(e);
  }
}

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  [cfg, districts] = await Promise.all([fetchConfig(), loadDistricts()]);
  byId('r-status').addEventListener('change', () => void loadList().catch(showError));
  byId('r-kind').addEventListener('change', () => void loadList().catch(showError));
  byId('r-more').addEventListener('click', () => void loadList(true).catch(showError));
  byId('c-ack').addEventListener('click', () => void act('ack'));
  byId('c-resolve').addEventListener('click', () => void act('RESOLVED'));
  byId('c-false').addEventListener('click', () => void act('FALSE_ALARM'));
  const detect = byId<HTMLButtonElement>('r-detect');
  detect.hidden = !DETECTORS.includes(me.role);
  detect.addEventListener('click', async () => {
    detect.disabled = true;
    byId('r-run').textContent = 'Идёт расчёт…';
    try {
      const { detectRisks: r } = await gql<{ detectRisks: { created: number; updated: number; series: number; ms: number; notes: string[] } }>(
        `mutation { detectRisks { created updated series ms notes } }`);
      byId('r-run').textContent = `Проверено рядов: ${r.series}; новых сигналов: ${r.created}, обновлено: ${r.updated} (${(r.ms / 1000).toFixed(1)} с). ${r.notes.join(' ')}`;
      await loadList();
    } catch (e) { showError(e); } finally { detect.disabled = false; }
  });
  await loadList();
  const first = document.querySelector<HTMLElement>('#risks-list tr[data-id]');
  const wanted = new URLSearchParams(location.hash.slice(1)).get('signal') ?? first?.dataset.id;
  if (wanted) await openCard(wanted);
  setInterval(() => void loadList().catch(() => undefined), 30_000);
  window.__risksReady = true;
}

main().catch(showError);
