// МЦУ Hub: the appeals map of the municipality.
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import * as maplibregl from 'maplibre-gl';
import type { FeatureCollection, Point } from 'geojson';
import type { GeoJSONSource, MapLayerMouseEvent } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import {
  ApiError,
  fetchConfig,
  loadAppeal,
  loadCounts,
  loadDistricts,
  loadPage,
  loadPoints,
  loadThemes,
  type AppConfig,
  type AppealFilter,
  type AppealNode,
  type AppealDeadline,
  type AppealPage,
  type AppealPointProps,
  type AppealPoints,
  type Channel,
  type CountRow,
  type District,
  type Theme,
} from './api';
import { append, byId, clear, el } from './dom';
import { geometryBounds, labelPoint, mergeBounds, type Bounds } from './geo';
import {
  CHANNELS,
  CHANNEL_LABELS,
  PLACE_PRECISION_LABELS,
  STATUSES,
  STATUS_COLORS,
  STATUS_LABELS,
  appealsWord,
  channelLabel,
  formatDateTime,
  formatNumber,
  statusLabel,
} from './labels';
import { APPEALS_SOURCE, DISTRICTS_SOURCE, DISTRICT_PALETTE, LAYER, addMcuLayers, clusterColor, clusterRadius, districtFeatureCollection, offlineStyle } from './mapLayers';
import { addHeatLayers, initHeat, setHeatDistricts, updateHeat } from './heat';
import { can, mountUserBar, requireSession, type Me } from './auth';
import { deadlineSection } from './deadlineCard';
import { addProblemLayers, initProblems, problemTakesClick, PROBLEM_HIT_LAYERS } from './problems';
import { mountRiskBadge } from './riskBadge';
import { answerQualityBlock, type AnswerQuality } from './answerQuality';

let me: Me | undefined;

declare global {
  interface Window {
    __map?: maplibregl.Map;
  }
}

// The worker is emitted by Vite as a same-origin asset (an ES module).
maplibregl.setWorkerUrl(workerUrl);

const POINT_LIMIT = 20_000;
const LATEST_COUNT = 20;
const TOP_THEMES = 12;

const RU_LOCALE: Record<string, string> = {
  'NavigationControl.ZoomIn': 'Приблизить',
  'NavigationControl.ZoomOut': 'Отдалить',
  'NavigationControl.ResetBearing': 'Сбросить поворот',
  'ScaleControl.Meters': 'м',
  'ScaleControl.Kilometers': 'км',
  'Popup.Close': 'Закрыть',
  'AttributionControl.ToggleAttribution': 'Сведения о карте',
  'FullscreenControl.Enter': 'Во весь экран',
  'FullscreenControl.Exit': 'Выйти из полноэкранного режима',
  'Map.Title': 'Карта',
};

// ---------------------------------------------------------------- DOM

const ui = {
  municipalityName: byId('municipality-name'),
  error: byId('error'),
  from: byId<HTMLInputElement>('f-from'),
  to: byId<HTMLInputElement>('f-to'),
  theme: byId<HTMLSelectElement>('f-theme'),
  channels: byId<HTMLFieldSetElement>('f-channels'),
  reset: byId<HTMLButtonElement>('f-reset'),
  loading: byId('loading'),
  total: byId('total'),
  totalWord: byId('total-word'),
  shownNote: byId('shown-note'),
  statusList: byId('status-list'),
  districtList: byId('district-list'),
  districtNote: byId('district-note'),
  themeList: byId('theme-list'),
  latestList: byId('latest-list'),
  legend: byId('legend'),
};

// ---------------------------------------------------------------- state

let config: AppConfig | null = null;
let map: maplibregl.Map | null = null;
let districts: District[] = [];
let districtBounds = new Map<string, Bounds>();
let themes: Theme[] = [];
let themeChildren = new Map<string | null, Theme[]>();
let points: AppealPoints = { type: 'FeatureCollection', features: [] };
let pointsById = new Map<string, [number, number]>();
let districtCounts: CountRow[] | null = null;
let selectedDistrictId: string | null = null;
let districtsDrawn = false;

// ---------------------------------------------------------------- errors

// Persistent errors (start-up, reference data) stay; transient ones are replaced on each refresh.
const persistentErrors = new Set<string>();
const errors = new Set<string>();

function showError(message: string, persistent = false): void {
  (persistent ? persistentErrors : errors).add(message);
  renderErrors();
}

function clearErrors(): void {
  errors.clear();
  renderErrors();
}

function renderErrors(): void {
  clear(ui.error);
  const all = [...persistentErrors, ...errors];
  for (const m of all) append(ui.error, el('div', null, `Ошибка: ${m}`));
  ui.error.hidden = all.length === 0;
  if (all.length) document.body.dataset.error = all.join('; ');
  else delete document.body.dataset.error;
}

function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.message} (поле «${e.field}»)` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

// ---------------------------------------------------------------- filters

function isoDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function setPeriod(opts: { days?: number; months?: number }): void {
  const to = new Date();
  const from = new Date(to);
  if (opts.months) from.setMonth(from.getMonth() - opts.months);
  if (opts.days) from.setDate(from.getDate() - opts.days + 1);
  ui.from.value = isoDate(from);
  ui.to.value = isoDate(to);
}

function themeSubtree(id: string): string[] {
  const out: string[] = [];
  const walk = (tid: string) => {
    out.push(tid);
    for (const c of themeChildren.get(tid) ?? []) walk(c.id);
  };
  walk(id);
  return out;
}

function selectedChannels(): Channel[] {
  return [...ui.channels.querySelectorAll<HTMLInputElement>('input[type=checkbox]')].filter((i) => i.checked).map((i) => i.value as Channel);
}

/** The current filter, or a Russian message explaining why it is invalid. */
function buildFilter(): { filter: AppealFilter } | { invalid: string } {
  if (!ui.from.value || !ui.to.value) return { invalid: 'укажите обе даты периода' };
  const from = new Date(`${ui.from.value}T00:00:00`);
  const to = new Date(`${ui.to.value}T23:59:59.999`);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return { invalid: 'неверная дата периода' };
  if (from > to) return { invalid: 'дата начала периода позже даты окончания' };
  const filter: AppealFilter = { from: from.toISOString(), to: to.toISOString() };
  if (ui.theme.value) filter.themeIds = themeSubtree(ui.theme.value);
  const channels = selectedChannels();
  if (channels.length === 0) return { invalid: 'не выбран ни один канал' };
  if (channels.length < CHANNELS.length) filter.channels = channels;
  return { filter };
}

function renderChannelBoxes(): void {
  for (const ch of CHANNELS) {
    const input = el('input', { type: 'checkbox', value: ch, checked: true });
    input.checked = true;
    input.addEventListener('change', scheduleRefresh);
    ui.channels.appendChild(el('label', { class: 'check' }, input, el('span', null, CHANNEL_LABELS[ch]), el('span', { class: 'count', 'data-channel': ch })));
  }
}

function renderThemeSelect(): void {
  const current = ui.theme.value;
  clear(ui.theme);
  ui.theme.appendChild(el('option', { value: '' }, 'Все темы'));
  const ids = new Set(themes.map((t) => t.id));
  const roots = themes.filter((t) => !t.parentId || !ids.has(t.parentId));
  const byName = (a: Theme, b: Theme) => a.name.localeCompare(b.name, 'ru');
  const walk = (t: Theme, depth: number) => {
    const option = el('option', { value: t.id }, `${'\u00a0\u00a0\u00a0'.repeat(depth)}${t.name}`);
    if (!t.isLeaf) option.classList.add('group');
    ui.theme.appendChild(option);
    for (const c of [...(themeChildren.get(t.id) ?? [])].sort(byName)) walk(c, depth + 1);
  };
  for (const r of roots.sort(byName)) walk(r, 0);
  ui.theme.value = ids.has(current) ? current : '';
}

let refreshTimer: number | undefined;
function scheduleRefresh(): void {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => void refresh(), 250);
}

// ---------------------------------------------------------------- map

function createMap(cfg: AppConfig): maplibregl.Map {
  const m = new maplibregl.Map({
    container: 'map',
    style: cfg.basemapStyleUrl ?? offlineStyle(),
    center: cfg.municipality.center,
    zoom: cfg.municipality.zoom,
    minZoom: 8,
    maxZoom: 18,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
    attributionControl: { compact: true },
    locale: RU_LOCALE,
  });
  m.touchZoomRotate.disableRotation();
  m.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  m.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');

  let loaded = false;
  let fellBack = false;
  m.once('load', () => (loaded = true));
  m.on('error', (ev) => {
    console.warn('map error', ev.error);
    // A basemap that cannot be loaded must not leave the screen empty: use the offline style.
    if (!loaded && cfg.basemapStyleUrl && !fellBack && !('sourceId' in ev)) {
      fellBack = true;
      showError('не удалось загрузить подложку карты, показана упрощённая карта', true);
      m.setStyle(offlineStyle());
    }
  });
  return m;
}

function whenIdle(m: maplibregl.Map): Promise<void> {
  return new Promise((resolve) => {
    m.once('idle', () => resolve());
    m.triggerRepaint();
  });
}


function districtColor(id: string): string {
  const i = districts.findIndex((d) => d.id === id);
  return DISTRICT_PALETTE[(i < 0 ? 0 : i) % DISTRICT_PALETTE.length];
}

const districtLabelMarkers: maplibregl.Marker[] = [];

async function drawDistricts(m: maplibregl.Map): Promise<void> {
  districtBounds = new Map();
  for (const d of districts) {
    const b = d.geometry ? geometryBounds(d.geometry) : null;
    if (b) districtBounds.set(d.id, b);
  }
  await (m.getSource(DISTRICTS_SOURCE) as GeoJSONSource).setData(districtFeatureCollection(districts));

  // District names as HTML markers: there are no glyphs for map text.
  for (const mk of districtLabelMarkers.splice(0)) mk.remove();
  for (const d of districts) {
    const at = d.geometry ? labelPoint(d.geometry) : null;
    if (!at) continue;
    const label = el('div', { class: 'district-label' }, d.name);
    districtLabelMarkers.push(new maplibregl.Marker({ element: label, anchor: 'center' }).setLngLat(at).addTo(m));
  }
  const approximate = districts.some((d) => d.approximate);
  ui.districtNote.hidden = !approximate;
  renderLegend(approximate);
  districtsDrawn = true;
}

function selectDistrict(id: string | null, fly: boolean): void {
  selectedDistrictId = id;
  map?.setFilter(LAYER.districtSelected, ['==', ['get', 'id'], id ?? '']);
  for (const li of ui.districtList.querySelectorAll<HTMLElement>('li[data-id]')) {
    li.classList.toggle('selected', li.dataset.id === id);
  }
  const b = id ? districtBounds.get(id) : undefined;
  if (fly && b && map) map.fitBounds(b, { padding: 60, maxZoom: 15, duration: 900 });
}

// Cluster sizes as HTML markers (no glyphs for text layers).
const clusterMarkers = new Map<string, maplibregl.Marker>();

function clearClusterMarkers(): void {
  for (const mk of clusterMarkers.values()) mk.remove();
  clusterMarkers.clear();
}

function updateClusterMarkers(m: maplibregl.Map): void {
  const seen = new Set<string>();
  for (const f of m.querySourceFeatures(APPEALS_SOURCE, { filter: ['has', 'point_count'] })) {
    const props = f.properties as { cluster_id: number; point_count: number };
    const key = `${props.cluster_id}:${props.point_count}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (clusterMarkers.has(key)) continue;
    const coords = (f.geometry as Point).coordinates as [number, number];
    const n = props.point_count;
    const label = el('div', { class: 'cluster-count' }, n >= 10_000 ? `${Math.round(n / 1000)} тыс.` : String(n));
    // Same size and colour as the canvas circle, so the number stays readable above HTML labels.
    const size = 2 * clusterRadius(n);
    label.style.width = label.style.height = `${size}px`;
    label.style.background = clusterColor(n);
    clusterMarkers.set(key, new maplibregl.Marker({ element: label, anchor: 'center' }).setLngLat(coords).addTo(m));
  }
  for (const [key, mk] of clusterMarkers) {
    if (!seen.has(key)) {
      mk.remove();
      clusterMarkers.delete(key);
    }
  }
}

// ---------------------------------------------------------------- popups

interface PopupData {
  id: string;
  themeName: string | null;
  status: string;
  channel: string;
  receivedAt: string;
  externalId?: string | null;
  address?: string | null;
  text?: string | null;
  district?: string | null;
  organization?: string | null;
  /** Author's contacts, present only for roles that may see personal data. */
  author?: string | null;
  /** Due times, state and extensions (server/deadlines), in the full card. */
  deadline?: AppealDeadline;
  answerText?: string | null;
  answerQuality?: AnswerQuality | null;
  secondaryThemes?: string | null;
  placePrecision?: string | null;
  duplicateOf?: string | null;
  repeatOf?: string | null;
}

const PLACE_PRECISION = PLACE_PRECISION_LABELS;

function statusChip(status: string): HTMLElement {
  const chip = el('span', { class: 'chip' }, statusLabel(status));
  chip.style.setProperty('--c', STATUS_COLORS[status as keyof typeof STATUS_COLORS] ?? '#495057');
  return chip;
}

function popupContent(d: PopupData, mode: 'hover' | 'full', loading = false): HTMLElement {
  const root = el(
    'div',
    { class: `popup popup-${mode}` },
    el('div', { class: 'popup-theme' }, d.themeName || 'Тема не определена'),
    el('div', { class: 'popup-meta' }, statusChip(d.status), el('span', null, channelLabel(d.channel))),
    el('div', { class: 'popup-date' }, `Поступило: ${formatDateTime(d.receivedAt)}`),
  );
  if (mode === 'hover') return root;
  const row = (label: string, value: string | null | undefined) =>
    value ? el('div', { class: 'popup-row' }, el('span', { class: 'muted' }, `${label}: `), value) : null;
  append(root, row('Адрес', d.address), row('Точность места', d.placePrecision ? PLACE_PRECISION[d.placePrecision] ?? d.placePrecision : null),
    row('Район', d.district), row('Исполнитель', d.organization), row('Также о', d.secondaryThemes),
    row('Дубликат обращения', d.duplicateOf), row('Повтор обращения', d.repeatOf), row('Автор', d.author));
  if (d.text) append(root, el('p', { class: 'popup-text' }, d.text));
  if (d.deadline) append(root, deadlineSection(d.id, d.deadline, !!me && can.seePersonalData(me), () => reloadAppealPopup(d.id)));
  if (d.answerText) append(root, el('div', { class: 'popup-answer' }, el('span', { class: 'muted' }, 'Ответ: '), d.answerText));
  if (d.answerQuality) append(root, answerQualityBlock(d.id, d.answerQuality, me));
  if (loading) append(root, el('div', { class: 'muted small' }, 'Загрузка подробностей…'));
  append(root, el('div', { class: 'muted small' }, `№ ${d.externalId || d.id}`));
  return root;
}

function nodeToPopup(n: AppealNode): PopupData {
  return {
    id: n.id,
    themeName: n.theme?.name ?? null,
    status: n.status,
    channel: n.channel,
    receivedAt: n.receivedAt,
    externalId: n.externalId,
    address: n.address,
    text: n.text,
    district: n.district?.name ?? null,
    organization: n.organization?.name ?? null,
    deadline: n.deadline,
    answerText: n.answerText ?? null,
    answerQuality: n.answerQuality,
    author: n.author && !n.author.masked ? [n.author.fullName, n.author.phone, n.author.email, n.author.profileUrl].filter(Boolean).join(', ') || null : null,
    secondaryThemes: n.secondaryThemes?.length ? n.secondaryThemes.map((t) => t.name).join('; ') : null,
    placePrecision: n.placePrecision ?? null,
    duplicateOf: n.duplicateOf ? `№ ${n.duplicateOf.externalId || n.duplicateOf.id}` : null,
    repeatOf: n.repeatOf ? `№ ${n.repeatOf.externalId || n.repeatOf.id}` : null,
  };
}

const hoverPopup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 10, className: 'mcu-popup-hover', maxWidth: '280px' });
const clickPopup = new maplibregl.Popup({ closeButton: true, closeOnClick: true, offset: 10, className: 'mcu-popup', maxWidth: '360px' });
let clickPopupId: string | null = null;
clickPopup.on('close', () => {
  clickPopupId = null;
  map?.setFilter(LAYER.pointSelected, ['==', ['get', 'id'], '']);
});

function openAppealPopup(m: maplibregl.Map, at: [number, number], data: PopupData, details: AppealNode | null): void {
  hoverPopup.remove();
  clickPopupId = data.id;
  m.setFilter(LAYER.pointSelected, ['==', ['get', 'id'], data.id]);
  const withAuthor = !!me && can.seePersonalData(me);
  // The card's details (address, text, author, deadlines, the answer and its verdict) come from the single appeal's query.
  const needsDetails = withAuthor || !details?.deadline || details.answerQuality === undefined;
  clickPopup.setLngLat(at).setDOMContent(popupContent(details ? nodeToPopup(details) : data, 'full', needsDetails)).addTo(m);
  if (!needsDetails) return;
  loadAppeal(data.id, at, withAuthor)
    .then((node) => {
      if (clickPopupId !== data.id) return;
      clickPopup.setDOMContent(popupContent(node ? nodeToPopup(node) : data, 'full'));
    })
    .catch((e) => {
      if (clickPopupId !== data.id) return;
      const c = popupContent(data, 'full');
      append(c, el('div', { class: 'popup-error' }, `Ошибка: ${errorText(e)}`));
      clickPopup.setDOMContent(c);
    });
}

/** Reloads the open card (after an extension of its deadline). */
function reloadAppealPopup(id: string): void {
  const at = clickPopup.getLngLat();
  if (clickPopupId !== id || !at) return;
  loadAppeal(id, [at.lng, at.lat], !!me && can.seePersonalData(me))
    .then((node) => { if (node && clickPopupId === id) clickPopup.setDOMContent(popupContent(nodeToPopup(node), 'full')); })
    .catch((e) => showError(`Не удалось обновить карточку: ${errorText(e)}`));
}

function wireMapInteractions(m: maplibregl.Map): void {
  m.on('mouseenter', LAYER.points, () => (m.getCanvas().style.cursor = 'pointer'));
  m.on('mouseleave', LAYER.points, () => {
    m.getCanvas().style.cursor = '';
    hoverPopup.remove();
  });
  m.on('mousemove', LAYER.points, (e: MapLayerMouseEvent) => {
    const f = e.features?.[0];
    if (!f) return;
    const p = f.properties as AppealPointProps;
    if (clickPopupId === p.id) return;
    const at = (f.geometry as Point).coordinates as [number, number];
    hoverPopup.setLngLat(at).setDOMContent(popupContent({ ...p, themeName: p.themeName ?? null }, 'hover')).addTo(m);
  });
  m.on('click', LAYER.points, (e: MapLayerMouseEvent) => {
    const f = e.features?.[0];
    if (!f) return;
    // A problem's circle drawn over the point takes the click when zoomed out (web/src/problems.ts).
    if (problemTakesClick(m, e.point)) return;
    const p = f.properties as AppealPointProps;
    const at = (f.geometry as Point).coordinates as [number, number];
    openAppealPopup(m, at, { ...p, themeName: p.themeName ?? null }, null);
  });

  m.on('mouseenter', LAYER.clusters, () => (m.getCanvas().style.cursor = 'zoom-in'));
  m.on('mouseleave', LAYER.clusters, () => (m.getCanvas().style.cursor = ''));
  m.on('click', LAYER.clusters, async (e: MapLayerMouseEvent) => {
    const f = e.features?.[0];
    if (!f) return;
    const src = m.getSource(APPEALS_SOURCE) as GeoJSONSource;
    const zoom = await src.getClusterExpansionZoom((f.properties as { cluster_id: number }).cluster_id);
    m.easeTo({ center: (f.geometry as Point).coordinates as [number, number], zoom: Math.min(zoom, 17) });
  });

  let hoveredDistrict: string | null = null;
  const setHover = (id: string | null) => {
    if (hoveredDistrict) m.setFeatureState({ source: DISTRICTS_SOURCE, id: hoveredDistrict }, { hover: false });
    hoveredDistrict = id;
    if (id) m.setFeatureState({ source: DISTRICTS_SOURCE, id }, { hover: true });
  };
  m.on('mousemove', LAYER.districtFill, (e: MapLayerMouseEvent) => setHover((e.features?.[0]?.properties as { id?: string })?.id ?? null));
  m.on('mouseleave', LAYER.districtFill, () => setHover(null));
  m.on('click', (e) => {
    const hits = m.queryRenderedFeatures(e.point, { layers: [LAYER.points, LAYER.clusters, ...PROBLEM_HIT_LAYERS] });
    if (hits.length) return;
    const d = m.queryRenderedFeatures(e.point, { layers: [LAYER.districtFill] })[0];
    selectDistrict((d?.properties as { id?: string } | undefined)?.id ?? null, false);
    const li = selectedDistrictId ? ui.districtList.querySelector<HTMLElement>(`li[data-id="${CSS.escape(selectedDistrictId)}"]`) : null;
    li?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  });

  m.on('render', () => {
    if (m.getSource(APPEALS_SOURCE) && m.isSourceLoaded(APPEALS_SOURCE)) updateClusterMarkers(m);
  });
}

// ---------------------------------------------------------------- side panel

function renderLegend(approximate: boolean): void {
  clear(ui.legend);
  for (const s of STATUSES) {
    const dot = el('span', { class: 'dot' });
    dot.style.background = STATUS_COLORS[s];
    append(ui.legend, el('span', { class: 'legend-item' }, dot, STATUS_LABELS[s]));
  }
  append(
    ui.legend,
    el('span', { class: 'legend-item' }, el('span', { class: 'dot cluster' }), 'группа обращений'),
    el('span', { class: 'legend-item' }, el('span', { class: approximate ? 'swatch dashed' : 'swatch' }), approximate ? 'границы районов приблизительные' : 'границы районов'),
  );
}

function bar(value: number, max: number, color: string): HTMLElement {
  const b = el('span', { class: 'bar' });
  const fill = el('span', { class: 'bar-fill' });
  fill.style.width = `${max > 0 ? Math.max(2, (100 * value) / max) : 0}%`;
  fill.style.background = color;
  b.appendChild(fill);
  return b;
}

function renderDistrictList(): void {
  clear(ui.districtList);
  const byKey = new Map<string, CountRow>();
  for (const r of districtCounts ?? []) if (r.key) byKey.set(r.key, r);
  const known = districtCounts !== null;
  const rows = districts.map((d) => ({ d, count: byKey.get(d.id)?.count ?? 0 }));
  rows.sort((a, b) => b.count - a.count || a.d.name.localeCompare(b.d.name, 'ru'));
  const max = Math.max(0, ...rows.map((r) => r.count));
  for (const { d, count } of rows) {
    const color = districtColor(d.id);
    const swatch = el('span', { class: 'swatch' });
    swatch.style.background = color;
    const rate = known && d.population ? `${((count * 10_000) / d.population).toLocaleString('ru-RU', { maximumFractionDigits: 1 })} на 10 тыс. жит.` : null;
    const button = el(
      'button',
      { type: 'button', class: 'row', title: 'Показать район на карте' },
      el('span', { class: 'row-main' }, swatch, el('span', { class: 'row-name' }, d.name), el('span', { class: 'row-count' }, known ? formatNumber(count) : '—')),
      bar(count, max, color),
      el(
        'span',
        { class: 'row-sub muted' },
        [d.population ? `население ${formatNumber(d.population)}` : null, rate].filter(Boolean).join(' · '),
      ),
    );
    button.addEventListener('click', () => selectDistrict(d.id, true));
    const li = el('li', { 'data-id': d.id }, button);
    if (d.id === selectedDistrictId) li.classList.add('selected');
    ui.districtList.appendChild(li);
  }
  // Appeals outside every known district (e.g. not geocoded).
  const ids = new Set(districts.map((d) => d.id));
  for (const r of districtCounts ?? []) {
    if (r.key && ids.has(r.key)) continue;
    if (!r.count) continue;
    ui.districtList.appendChild(
      el('li', { class: 'static' }, el('span', { class: 'row-main' }, el('span', { class: 'swatch empty' }), el('span', { class: 'row-name' }, r.label || 'Район не определён'), el('span', { class: 'row-count' }, formatNumber(r.count)))),
    );
  }
  if (!ui.districtList.children.length) ui.districtList.appendChild(el('li', { class: 'empty' }, 'Районы не загружены'));
}

function renderThemeList(rows: CountRow[]): void {
  clear(ui.themeList);
  const sorted = [...rows].filter((r) => r.count > 0).sort((a, b) => b.count - a.count);
  const max = sorted[0]?.count ?? 0;
  const themeIds = new Set(themes.map((t) => t.id));
  for (const r of sorted.slice(0, TOP_THEMES)) {
    const content = [
      el('span', { class: 'row-main' }, el('span', { class: 'row-name' }, r.label || 'Тема не определена'), el('span', { class: 'row-count' }, formatNumber(r.count))),
      bar(r.count, max, '#5c7cfa'),
    ];
    if (r.key && themeIds.has(r.key)) {
      const key = r.key;
      const button = el('button', { type: 'button', class: 'row', title: 'Показать только эту тему' }, ...content);
      button.addEventListener('click', () => {
        ui.theme.value = key;
        void refresh();
      });
      ui.themeList.appendChild(el('li', null, button));
    } else {
      ui.themeList.appendChild(el('li', { class: 'static' }, ...content));
    }
  }
  const rest = sorted.slice(TOP_THEMES);
  if (rest.length) {
    const sum = rest.reduce((s, r) => s + r.count, 0);
    ui.themeList.appendChild(el('li', { class: 'more muted' }, `и ещё ${rest.length} тем: ${formatNumber(sum)} ${appealsWord(sum)}`));
  }
  if (!sorted.length) ui.themeList.appendChild(el('li', { class: 'empty' }, 'Нет обращений за период'));
}

function renderStatusList(rows: CountRow[]): void {
  clear(ui.statusList);
  const byKey = new Map(rows.map((r) => [r.key ?? '', r.count]));
  for (const s of STATUSES) {
    const dot = el('span', { class: 'dot' });
    dot.style.background = STATUS_COLORS[s];
    ui.statusList.appendChild(el('li', null, dot, el('span', null, STATUS_LABELS[s]), el('strong', null, formatNumber(byKey.get(s) ?? 0))));
  }
}

function renderChannelCounts(rows: CountRow[] | null): void {
  const byKey = new Map((rows ?? []).map((r) => [r.key ?? '', r.count]));
  for (const span of ui.channels.querySelectorAll<HTMLElement>('.count[data-channel]')) {
    span.textContent = rows ? formatNumber(byKey.get(span.dataset.channel!) ?? 0) : '';
  }
}

function renderLatest(page: AppealPage): void {
  clear(ui.latestList);
  for (const { node } of page.edges) {
    const button = el(
      'button',
      { type: 'button', class: 'latest-item' },
      el('span', { class: 'latest-top muted' }, `${formatDateTime(node.receivedAt)} · ${channelLabel(node.channel)}`),
      el('span', { class: 'latest-theme' }, node.theme?.name || 'Тема не определена', ' ', statusChip(node.status)),
      node.address ? el('span', { class: 'latest-address' }, node.address) : null,
      node.text ? el('span', { class: 'latest-text' }, node.text) : null,
      pointsById.has(node.id) ? null : el('span', { class: 'latest-nogeo' }, 'Место не определено — на карте не показано'),
    );
    if (pointsById.has(node.id)) button.addEventListener('click', () => focusAppeal(node));
    else button.classList.add('no-geo');
    ui.latestList.appendChild(el('li', null, button));
  }
  if (!page.edges.length) ui.latestList.appendChild(el('li', { class: 'empty' }, 'Нет обращений за период'));
}

function focusAppeal(node: AppealNode): void {
  const at = pointsById.get(node.id);
  if (!map || !at) return;
  // The point in the upper part of the map: the card (with the answer and its verdict) opens below it with room to show.
  map.flyTo({ center: at, zoom: Math.max(map.getZoom(), 15.5), duration: 900, offset: [0, -Math.round(map.getContainer().clientHeight * 0.3)] });
  map.once('moveend', () => map && openAppealPopup(map, at, nodeToPopup(node), node));
}

// ---------------------------------------------------------------- data flow

let refreshSeq = 0;
let refreshAbort: AbortController | null = null;

async function refresh(): Promise<void> {
  const m = map;
  if (!m) return;
  const built = buildFilter();
  if ('invalid' in built) {
    clearErrors();
    showError(built.invalid);
    return;
  }
  const { filter } = built;
  const seq = ++refreshSeq;
  refreshAbort?.abort();
  const abort = (refreshAbort = new AbortController());
  const signal = abort.signal;
  ui.loading.hidden = false;
  document.body.dataset.ready = '0';
  const withoutChannels: AppealFilter = { ...filter, channels: undefined };

  const [pts, byDistrict, byTheme, byStatus, byChannel, page] = await Promise.allSettled([
    loadPoints(filter, POINT_LIMIT, signal),
    loadCounts(filter, 'DISTRICT', signal),
    loadCounts(filter, 'THEME', signal),
    loadCounts(filter, 'STATUS', signal),
    loadCounts(withoutChannels, 'CHANNEL', signal),
    loadPage(filter, LATEST_COUNT, undefined, signal),
  ]);
  if (seq !== refreshSeq) return;

  clearErrors();
  for (const r of [pts, byDistrict, byTheme, byStatus, byChannel, page]) {
    if (r.status === 'rejected' && !isAbort(r.reason)) showError(errorText(r.reason));
  }

  districtCounts = byDistrict.status === 'fulfilled' ? byDistrict.value : null;
  renderDistrictList();
  if (byTheme.status === 'fulfilled') renderThemeList(byTheme.value);
  else clear(ui.themeList);
  if (byStatus.status === 'fulfilled') renderStatusList(byStatus.value);
  else clear(ui.statusList);
  renderChannelCounts(byChannel.status === 'fulfilled' ? byChannel.value : null);

  let total: number | null = null;
  if (page.status === 'fulfilled') {
    total = page.value.totalCount;
  } else if (byStatus.status === 'fulfilled') {
    total = byStatus.value.reduce((s, r) => s + r.count, 0);
  }
  ui.total.textContent = total === null ? '—' : formatNumber(total);
  ui.totalWord.textContent = total === null ? 'обращений за период' : `${appealsWord(total)} за период`;

  pointsById = new Map();
  if (pts.status === 'fulfilled') {
    for (const f of pts.value.features) {
      if (f.geometry?.type === 'Point' && f.properties?.id != null) pointsById.set(String(f.properties.id), f.geometry.coordinates as [number, number]);
    }
  }
  if (page.status === 'fulfilled') renderLatest(page.value);
  else clear(ui.latestList);

  if (pts.status !== 'fulfilled') {
    ui.loading.hidden = true;
    return;
  }
  points = pts.value;
  clearClusterMarkers();
  clickPopup.remove();
  hoverPopup.remove();
  await (m.getSource(APPEALS_SOURCE) as GeoJSONSource).setData(points);
  const drawn = points.features.length;
  document.body.dataset.appeals = String(drawn);
  ui.shownNote.textContent =
    drawn >= POINT_LIMIT
      ? `На карте показаны первые ${formatNumber(drawn)} — уточните фильтр`
      : total !== null && drawn < total
        ? `На карте ${formatNumber(drawn)}: у остальных нет координат`
        : `На карте ${formatNumber(drawn)} ${appealsWord(drawn)}`;

  try {
    await updateHeat(m, filter, signal);
  } catch (e) {
    if (!isAbort(e)) showError(`тепловая карта: ${errorText(e)}`);
  }
  if (seq !== refreshSeq) return;

  await whenIdle(m);
  if (seq !== refreshSeq) return;
  ui.loading.hidden = true;
  if (districtsDrawn) document.body.dataset.ready = '1';
}

let heatViewTimer: number | undefined;
/** After panning or zooming, only the heat map's scale is re-read. */
function heatViewChanged(): void {
  window.clearTimeout(heatViewTimer);
  heatViewTimer = window.setTimeout(() => {
    const built = buildFilter();
    if (map && 'filter' in built) void updateHeat(map, built.filter).catch((e) => showError(`тепловая карта: ${errorText(e)}`));
  }, 300);
}

async function init(): Promise<void> {
  // Signed-in users only (the page goes to /login.html otherwise); the role decides what is shown.
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  mountRiskBadge(document.getElementById('link-risks'));
  setPeriod({ months: 12 });
  renderChannelBoxes();
  renderLegend(false);
  for (const b of document.querySelectorAll<HTMLButtonElement>('.presets button')) {
    b.addEventListener('click', () => {
      setPeriod({ days: b.dataset.days ? Number(b.dataset.days) : undefined, months: b.dataset.months ? Number(b.dataset.months) : undefined });
      void refresh();
    });
  }
  ui.from.addEventListener('change', scheduleRefresh);
  ui.to.addEventListener('change', scheduleRefresh);
  ui.theme.addEventListener('change', scheduleRefresh);
  ui.reset.addEventListener('click', () => {
    setPeriod({ months: 12 });
    ui.theme.value = '';
    for (const i of ui.channels.querySelectorAll<HTMLInputElement>('input[type=checkbox]')) i.checked = true;
    selectDistrict(null, false);
    void refresh();
  });

  ui.loading.hidden = false;
  try {
    config = await fetchConfig();
  } catch (e) {
    showError(errorText(e), true);
    ui.loading.hidden = true;
    return;
  }
  ui.municipalityName.textContent = config.municipality.name;
  document.title = `МЦУ Hub · ${config.municipality.name}`;

  // Reference data loads while the map starts.
  const districtsP = loadDistricts();
  const themesP = loadThemes();

  try {
    map = createMap(config);
  } catch (e) {
    showError(`карта не может быть показана: браузер не поддерживает WebGL (${errorText(e)})`, true);
    ui.loading.hidden = true;
    return;
  }
  window.__map = map;
  const m = map;
  await new Promise<void>((resolve) => (m.loaded() ? resolve() : m.once('load', () => resolve())));
  addMcuLayers(m);
  addHeatLayers(m);
  addProblemLayers(m);
  wireMapInteractions(m);
  initHeat(m, {
    refresh: () => void refresh(),
    setPeriod: (from, to) => {
      ui.from.value = isoDate(from);
      ui.to.value = isoDate(to);
    },
    viewChanged: heatViewChanged,
  });

  const [d, t] = await Promise.allSettled([districtsP, themesP]);
  if (t.status === 'fulfilled') {
    themes = t.value;
    themeChildren = new Map();
    for (const th of themes) {
      const list = themeChildren.get(th.parentId ?? null) ?? [];
      list.push(th);
      themeChildren.set(th.parentId ?? null, list);
    }
    renderThemeSelect();
  } else {
    showError(`темы не загружены: ${errorText(t.reason)}`, true);
  }
  if (d.status === 'fulfilled') {
    districts = d.value;
    setHeatDistricts(districts);
    await drawDistricts(m);
    const all = mergeBounds([...districtBounds.values()]);
    // Show the whole municipality, but never zoom in past the configured view.
    if (all) m.fitBounds(all, { padding: { top: 40, right: 60, bottom: 70, left: 40 }, duration: 0, maxZoom: config.municipality.zoom + 1 });
  } else {
    showError(`районы не загружены: ${errorText(d.reason)}`, true);
  }
  // The territorial problem list beside the map (it may restore a view from the URL first).
  const problems = initProblems({ map: m, me, districts, themes, municipalityName: config.municipality.name, showError: (msg) => showError(msg) })
    .catch((e) => showError(`проблемы территории: ${errorText(e)}`, true));
  await refresh();
  await problems;
}

void init().catch((e) => {
  console.error(e);
  showError(errorText(e), true);
});
