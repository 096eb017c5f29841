// «Проблемы территории» on the map page: the ranked list beside the map with its filters and
// export links, the problems layer (circles at the centres coloured by theme group and sized by
// score; hulls for the selected problem and, zoomed in, for all), the problem card (reasons,
// history, lifecycle, appeals) and the URL that restores the view. Meeting mode is in meeting.ts.
// User data goes into the page only as text (el() creates text nodes), never as HTML.
import * as maplibregl from 'maplibre-gl';
import type { Feature, FeatureCollection, Geometry, Point, Position } from 'geojson';
import type { ExpressionSpecification, GeoJSONSource, MapLayerMouseEvent } from 'maplibre-gl';
import './problems.css';
import { ApiError, type District, type Theme } from './api';
import type { Me } from './auth';
import { append, clear, el } from './dom';
import { channelLabel, formatDateTime, formatNumber, plural, statusLabel, STATUS_COLORS } from './labels';
import { LAYER } from './mapLayers';
import { startMeeting, type MeetingHandle } from './meeting';
import {
  EVENT_LABELS, ORDER_LABELS, PROBLEM_ORDERS, PROBLEM_SOURCES, PROBLEM_STATUSES, PROBLEM_STATUS_COLORS, PROBLEM_STATUS_LABELS,
  SOURCE_LABELS, TRANSITIONS, assignProblem, commentProblem, exportUrl, factorValue, formatHash, formatScore, growthText,
  loadOrganizations, loadProblem, loadProblems, mayAssign, mayChangeStatus, parseHash, setProblemPlanDue, setProblemStatus,
  transitionLabel, type BBox, type Organization, type ProblemDetail, type ProblemFilter, type ProblemNode, type ProblemOrder,
  type ProblemSource, type ProblemStatus, type ViewState,
} from './problemsData';

export const PROBLEMS_SOURCE = 'mcu-problems';
export const PROBLEM_HULLS_SOURCE = 'mcu-problem-hulls';
export const PROBLEM_SELECTED_SOURCE = 'mcu-problem-selected';

export const PROBLEM_LAYER = {
  hullFill: 'mcu-problem-hull-fill',
  hullLine: 'mcu-problem-hull-line',
  selectedFill: 'mcu-problem-selected-fill',
  selectedLine: 'mcu-problem-selected-line',
  circles: 'mcu-problem-circles',
} as const;

/** Layers a click on the map should treat as «a problem», not as a district. */
export const PROBLEM_HIT_LAYERS: string[] = [PROBLEM_LAYER.circles, PROBLEM_LAYER.hullFill, PROBLEM_LAYER.selectedFill];
/** From this zoom on, appeal points are far apart and keep their clicks even under a problem's circle. */
const POINTS_FIRST_ZOOM = 15;

function appealHit(m: maplibregl.Map, point: maplibregl.PointLike): boolean {
  const layers = [LAYER.points, LAYER.clusters].filter((l) => m.getLayer(l) && m.getLayoutProperty(l, 'visibility') !== 'none');
  return layers.length > 0 && m.queryRenderedFeatures(point, { layers }).length > 0;
}

/**
 * Whether a click at the point belongs to a problem: its circle when zoomed out (the circle is drawn over
 * the appeals), otherwise its circle or hull only where no appeal point or cluster is under the cursor.
 */
export function problemTakesClick(m: maplibregl.Map, point: maplibregl.PointLike): boolean {
  const circle = m.queryRenderedFeatures(point, { layers: [PROBLEM_LAYER.circles] }).length > 0;
  if (circle && m.getZoom() < POINTS_FIRST_ZOOM) return true;
  if (appealHit(m, point)) return false;
  return circle || m.queryRenderedFeatures(point, { layers: [PROBLEM_LAYER.hullFill] }).length > 0;
}

/** Hulls of every problem appear from this zoom on (the selected one always). */
const HULLS_MIN_ZOOM = 13.5;
/** The list and the layer hold this many problems (the API allows 500; the rest is counted). */
const LIST_LIMIT = 300;
/** Colours of theme groups (the rubricator's top level), in the order of the groups. */
// No blues: appeal clusters are blue.
const GROUP_PALETTE = ['#e03131', '#f08c00', '#2f9e44', '#9c36b5', '#0c8599', '#c2255c', '#5c940d', '#a0522d', '#e67700', '#862e9c'];
const NO_THEME_COLOR = '#495057';

// ---------------------------------------------------------------- map layers

const RADIUS_MIN = 9;
const RADIUS_MAX = 30;
/** Circle radius in pixels for a score 0…100 (the layer and the HTML discs agree). */
export function problemRadius(score: number): number {
  return RADIUS_MIN + ((RADIUS_MAX - RADIUS_MIN) * Math.max(0, Math.min(100, score))) / 100;
}

export function addProblemLayers(m: maplibregl.Map): void {
  const empty: FeatureCollection = { type: 'FeatureCollection', features: [] };
  m.addSource(PROBLEMS_SOURCE, { type: 'geojson', data: empty, promoteId: 'id' });
  m.addSource(PROBLEM_HULLS_SOURCE, { type: 'geojson', data: empty, promoteId: 'id' });
  m.addSource(PROBLEM_SELECTED_SOURCE, { type: 'geojson', data: empty });
  const hot = ['any', ['boolean', ['feature-state', 'hover'], false], ['boolean', ['feature-state', 'selected'], false]] as ExpressionSpecification;
  m.addLayer({
    id: PROBLEM_LAYER.hullFill,
    type: 'fill',
    source: PROBLEM_HULLS_SOURCE,
    minzoom: HULLS_MIN_ZOOM,
    paint: { 'fill-color': ['get', 'color'], 'fill-opacity': ['case', hot, 0.22, 0.1] },
  });
  m.addLayer({
    id: PROBLEM_LAYER.hullLine,
    type: 'line',
    source: PROBLEM_HULLS_SOURCE,
    minzoom: HULLS_MIN_ZOOM,
    paint: { 'line-color': ['get', 'color'], 'line-width': ['case', hot, 2.5, 1.2], 'line-opacity': 0.9 },
  });
  m.addLayer({
    id: PROBLEM_LAYER.selectedFill,
    type: 'fill',
    source: PROBLEM_SELECTED_SOURCE,
    paint: { 'fill-color': ['get', 'color'], 'fill-opacity': 0.2 },
  });
  m.addLayer({
    id: PROBLEM_LAYER.selectedLine,
    type: 'line',
    source: PROBLEM_SELECTED_SOURCE,
    paint: { 'line-color': '#1f2d3d', 'line-width': 3, 'line-dasharray': [2, 1] },
  });
  m.addLayer({
    id: PROBLEM_LAYER.circles,
    type: 'circle',
    source: PROBLEMS_SOURCE,
    paint: {
      'circle-color': ['get', 'color'],
      'circle-opacity': 0.82,
      // Size by score (problemRadius): 0 → 9 px, 100 → 30 px.
      'circle-radius': ['interpolate', ['linear'], ['get', 'score'], 0, RADIUS_MIN, 100, RADIUS_MAX],
      'circle-stroke-color': ['case', hot, '#1f2d3d', '#ffffff'],
      'circle-stroke-width': ['case', hot, 3.5, 2],
    },
  });
}

// ---------------------------------------------------------------- geometry

export function geometryBounds(g: Geometry): [[number, number], [number, number]] | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [x, y] = c as Position;
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    } else if (Array.isArray(c)) for (const x of c) walk(x);
  };
  if (g.type === 'GeometryCollection') for (const x of g.geometries) walk('coordinates' in x ? x.coordinates : []);
  else walk(g.coordinates);
  return Number.isFinite(minX) ? [[minX, minY], [maxX, maxY]] : null;
}

function viewportBBox(m: maplibregl.Map): BBox {
  const b = m.getBounds();
  return {
    minLon: Math.max(-180, b.getWest()), minLat: Math.max(-85, b.getSouth()),
    maxLon: Math.min(180, b.getEast()), maxLat: Math.min(85, b.getNorth()),
  };
}

// ---------------------------------------------------------------- the controller

export interface ProblemsOptions {
  map: maplibregl.Map;
  me: Me;
  districts: District[];
  themes: Theme[];
  municipalityName: string;
  /** The page's error box. */
  showError(message: string): void;
}

export interface ProblemsController {
  /** Re-reads the list (after an import or a recomputation elsewhere). */
  reload(): Promise<void>;
}

const ui = {
  panel: null as unknown as HTMLElement,
  count: null as unknown as HTMLElement,
  error: null as unknown as HTMLElement,
  list: null as unknown as HTMLOListElement,
  more: null as unknown as HTMLElement,
  card: null as unknown as HTMLElement,
  legend: null as unknown as HTMLElement,
  district: null as unknown as HTMLSelectElement,
  theme: null as unknown as HTMLSelectElement,
  status: null as unknown as HTMLSelectElement,
  source: null as unknown as HTMLSelectElement,
  order: null as unknown as HTMLSelectElement,
  text: null as unknown as HTMLInputElement,
  inView: null as unknown as HTMLInputElement,
  exports: [] as HTMLAnchorElement[],
  meetingButton: null as unknown as HTMLButtonElement,
};

function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.message} (поле «${e.field}»)` : e.message;
  return e instanceof Error ? e.message : String(e);
}
const isAbort = (e: unknown) => e instanceof Error && e.name === 'AbortError';

function chip(text: string, color: string): HTMLElement {
  const c = el('span', { class: 'chip' }, text);
  c.style.setProperty('--c', color);
  return c;
}

function themeLabel(text: string, color: string): HTMLElement {
  const dot = el('span', { class: 'pp-dot' });
  dot.style.background = color;
  return el('span', { class: 'pp-theme' }, dot, text);
}

function statusChip(s: ProblemStatus): HTMLElement {
  return chip(PROBLEM_STATUS_LABELS[s], PROBLEM_STATUS_COLORS[s]);
}

function growthBadge(g: number): HTMLElement {
  const t = growthText(g);
  return el('span', { class: `pp-growth ${t.cls}`, title: `Рост к прошлому периоду той же длины: ${t.text}` }, t.arrow, ' ', t.cls === 'flat' ? '' : t.text);
}

function appealsCount(n: number): string {
  return `${formatNumber(n)} ${plural(n, 'обращение', 'обращения', 'обращений')}`;
}

function dateOnly(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString('ru-RU');
}

export async function initProblems(opts: ProblemsOptions): Promise<ProblemsController> {
  const m = opts.map;
  const me = opts.me;
  let state: ViewState = parseHash(location.hash);
  let page: { nodes: ProblemNode[]; totalCount: number; hasNextPage: boolean } = { nodes: [], totalCount: 0, hasNextPage: false };
  let byId = new Map<string, ProblemNode>();
  let selectedId: string | null = null;
  let detail: ProblemDetail | null = null;
  let hoveredId: string | null = null;
  let organizations: Organization[] | null = null;
  let meeting: MeetingHandle | null = null;
  const rankMarkers: maplibregl.Marker[] = [];
  const markerById = new Map<string, HTMLElement>();

  // Theme → colour of its top-level group.
  const themeById = new Map(opts.themes.map((t) => [t.id, t]));
  const rootOf = (id: string): Theme | undefined => {
    let t = themeById.get(id);
    for (let i = 0; t?.parentId && themeById.has(t.parentId) && i < 20; i++) t = themeById.get(t.parentId);
    return t;
  };
  const roots = opts.themes.filter((t) => !t.parentId || !themeById.has(t.parentId)).sort((a, b) => Number(a.id) - Number(b.id));
  const rootColor = new Map(roots.map((r, i) => [r.id, GROUP_PALETTE[i % GROUP_PALETTE.length]]));
  const colorOf = (p: { theme: { id: string } | null }) => (p.theme ? rootColor.get(rootOf(p.theme.id)?.id ?? '') ?? NO_THEME_COLOR : NO_THEME_COLOR);

  buildPanel(opts);

  // ------------------------------------------------------------ URL

  let urlTimer: number | undefined;
  /** The URL is only written once the view it described has been restored. */
  let restored = false;
  function writeUrl(): void {
    if (!restored) return;
    window.clearTimeout(urlTimer);
    urlTimer = window.setTimeout(() => {
      const c = m.getCenter();
      state = { ...state, z: m.getZoom(), lon: c.lng, lat: c.lat, problem: selectedId ?? undefined };
      const hash = formatHash(state);
      if (location.hash.replace(/^#/, '') !== hash) history.replaceState(history.state, '', `${location.pathname}${location.search}#${hash}`);
    }, 150);
  }

  // ------------------------------------------------------------ filters

  function filterFromState(withBBox = true): ProblemFilter {
    const f: ProblemFilter = {};
    if (state.district) f.districtIds = [state.district];
    if (state.theme) f.themeIds = [state.theme];
    if (state.status) f.statuses = [state.status];
    if (state.source) f.sources = [state.source];
    if (state.q) f.text = state.q;
    if (withBBox && state.inView) f.bbox = viewportBBox(m);
    return f;
  }

  function stateToControls(): void {
    ui.district.value = state.district && opts.districts.some((d) => d.id === state.district) ? state.district : '';
    ui.theme.value = state.theme && themeById.has(state.theme) ? state.theme : '';
    ui.status.value = state.status ?? '';
    ui.source.value = state.source ?? '';
    ui.order.value = state.order;
    ui.text.value = state.q ?? '';
    ui.inView.checked = state.inView;
  }

  function controlsToState(): void {
    state = {
      ...state,
      district: ui.district.value || undefined,
      theme: ui.theme.value || undefined,
      status: (ui.status.value || undefined) as ProblemStatus | undefined,
      source: (ui.source.value || undefined) as ProblemSource | undefined,
      order: ui.order.value as ProblemOrder,
      q: ui.text.value.trim() || undefined,
      inView: ui.inView.checked,
    };
  }

  function updateExports(): void {
    const f = filterFromState(true);
    const formats = ['xlsx', 'csv', 'geojson'] as const;
    ui.exports.forEach((a, i) => (a.href = exportUrl(formats[i], f, state.order)));
  }

  // ------------------------------------------------------------ list

  let listSeq = 0;
  let listAbort: AbortController | null = null;

  async function reload(): Promise<void> {
    const seq = ++listSeq;
    listAbort?.abort();
    const abort = (listAbort = new AbortController());
    document.body.dataset.problems = 'loading';
    updateExports();
    try {
      page = await loadProblems(filterFromState(), state.order, LIST_LIMIT, abort.signal);
    } catch (e) {
      if (isAbort(e) || seq !== listSeq) return;
      showPanelError(`перечень проблем не загружен: ${errorText(e)}`);
      document.body.dataset.problems = 'error';
      return;
    }
    if (seq !== listSeq) return;
    showPanelError(null);
    byId = new Map(page.nodes.map((p) => [p.id, p]));
    renderList();
    await drawLayer();
    document.body.dataset.problemsCount = String(page.nodes.length);
    document.body.dataset.problems = 'ready';
  }

  function showPanelError(msg: string | null): void {
    ui.error.textContent = msg ? `Ошибка: ${msg}` : '';
    ui.error.hidden = !msg;
  }

  function renderList(): void {
    clear(ui.list);
    const n = page.totalCount;
    ui.count.textContent = `${formatNumber(n)} ${plural(n, 'проблема', 'проблемы', 'проблем')}`;
    page.nodes.forEach((p, i) => {
      const color = colorOf(p);
      const fill = el('span', { class: 'pp-bar-fill' });
      fill.style.width = `${Math.max(2, Math.min(100, p.score))}%`;
      fill.style.background = color;
      const rank = el('span', { class: 'pp-rank', title: p.rankCity ? `№ ${p.rankCity} в городе` : '' }, String(i + 1));
      rank.style.setProperty('--c', color);
      const button = el(
        'button',
        { type: 'button', class: 'pp-item' },
        rank,
        el(
          'span',
          { class: 'pp-main' },
          el('span', { class: 'pp-title' }, p.title),
          el('span', { class: 'pp-scoreline' }, el('span', { class: 'pp-bar', title: 'Балл 0–100' }, fill), el('strong', { class: 'pp-score' }, formatScore(p.score))),
          el(
            'span',
            { class: 'pp-meta' },
            el('span', { class: 'pp-district' }, p.district?.name ?? 'район не определён'),
            statusChip(p.status),
            growthBadge(p.growth),
            el('span', { class: 'muted' }, p.source === 'APPEALS' ? appealsCount(p.appealCount) : SOURCE_LABELS[p.source]),
          ),
        ),
      );
      button.addEventListener('click', () => void select(p.id, { fly: true }));
      button.addEventListener('mouseenter', () => setHover(p.id, false));
      button.addEventListener('mouseleave', () => setHover(null, false));
      const li = el('li', { 'data-id': p.id }, button);
      if (p.id === selectedId) li.classList.add('selected');
      ui.list.appendChild(li);
    });
    if (!page.nodes.length) {
      ui.list.appendChild(el('li', { class: 'empty muted' }, state.inView ? 'В границах карты проблем нет — отдалите карту или снимите отметку «только в границах карты».' : 'Проблем по этим условиям нет.'));
    }
    ui.more.textContent = page.hasNextPage ? `Показаны первые ${formatNumber(page.nodes.length)} из ${formatNumber(page.totalCount)} — уточните отбор или выгрузите весь перечень.` : '';
    ui.more.hidden = !page.hasNextPage;
    renderLegend();
  }

  function renderLegend(): void {
    clear(ui.legend);
    const groups = new Map<string, { name: string; color: string }>();
    for (const p of page.nodes) {
      const r = p.theme ? rootOf(p.theme.id) : undefined;
      const key = r?.id ?? '';
      if (!groups.has(key)) groups.set(key, { name: r?.name ?? 'без темы', color: colorOf(p) });
    }
    if (!groups.size) return;
    append(ui.legend, el('span', { class: 'muted' }, 'Цвет — группа тем, размер круга — балл:'));
    for (const g of groups.values()) {
      const dot = el('span', { class: 'pp-dot' });
      dot.style.background = g.color;
      append(ui.legend, el('span', { class: 'legend-item' }, dot, g.name));
    }
  }

  function markSelectedInList(scroll: boolean): void {
    for (const li of ui.list.querySelectorAll<HTMLElement>('li[data-id]')) li.classList.toggle('selected', li.dataset.id === selectedId);
    if (scroll && selectedId) ui.list.querySelector<HTMLElement>(`li[data-id="${CSS.escape(selectedId)}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  // ------------------------------------------------------------ layer

  async function drawLayer(): Promise<void> {
    const points: Feature[] = [];
    const hulls: Feature[] = [];
    for (const p of page.nodes) {
      const props = { id: p.id, score: p.score, color: colorOf(p), title: p.title };
      if (p.center?.type === 'Point') points.push({ type: 'Feature', properties: props, geometry: p.center });
      if (p.hull && (p.hull.type === 'Polygon' || p.hull.type === 'MultiPolygon')) hulls.push({ type: 'Feature', properties: props, geometry: p.hull });
    }
    // Lower scores first, so the most important circles are drawn on top.
    points.sort((a, b) => Number(a.properties!.score) - Number(b.properties!.score));
    await Promise.all([
      (m.getSource(PROBLEMS_SOURCE) as GeoJSONSource).setData({ type: 'FeatureCollection', features: points }),
      (m.getSource(PROBLEM_HULLS_SOURCE) as GeoJSONSource).setData({ type: 'FeatureCollection', features: hulls }),
    ]);
    if (selectedId && byId.has(selectedId)) m.setFeatureState({ source: PROBLEMS_SOURCE, id: selectedId }, { selected: true });
    if (!meeting) drawRankMarkers(page.nodes.map((p, i) => ({ p, label: String(i + 1) })));
  }

  /**
   * The numbered discs over the canvas circles (HTML: there are no glyphs for map text). Same size and
   * colour as the circle, above the appeal cluster counts and district names; clicks pass through to the
   * canvas layer. Lower scores are added first, so the most important discs end up on top.
   */
  function drawRankMarkers(items: { p: ProblemNode; label: string; current?: boolean }[]): void {
    for (const mk of rankMarkers.splice(0)) mk.remove();
    markerById.clear();
    for (const { p, label, current } of [...items].sort((a, b) => a.p.score - b.p.score)) {
      if (p.center?.type !== 'Point') continue;
      const node = el('div', { class: `pp-marker${current ? ' current' : ''}`, 'data-id': p.id, 'aria-hidden': 'true' }, label);
      const size = 2 * problemRadius(p.score);
      node.style.width = node.style.height = `${size}px`;
      node.style.background = colorOf(p);
      node.classList.toggle('selected', p.id === selectedId);
      node.classList.toggle('hover', p.id === hoveredId);
      markerById.set(p.id, node);
      rankMarkers.push(new maplibregl.Marker({ element: node, anchor: 'center' }).setLngLat(p.center.coordinates as [number, number]).addTo(m));
    }
  }

  function markMarkers(): void {
    for (const [id, node] of markerById) {
      node.classList.toggle('selected', id === selectedId);
      node.classList.toggle('hover', id === hoveredId);
    }
  }

  function setHover(id: string | null, fromMap: boolean): void {
    if (hoveredId && (byId.has(hoveredId) || meeting)) m.setFeatureState({ source: PROBLEMS_SOURCE, id: hoveredId }, { hover: false });
    if (hoveredId) m.setFeatureState({ source: PROBLEM_HULLS_SOURCE, id: hoveredId }, { hover: false });
    hoveredId = id;
    if (id) {
      m.setFeatureState({ source: PROBLEMS_SOURCE, id }, { hover: true });
      m.setFeatureState({ source: PROBLEM_HULLS_SOURCE, id }, { hover: true });
    }
    for (const li of ui.list.querySelectorAll<HTMLElement>('li[data-id]')) li.classList.toggle('hover', li.dataset.id === id);
    markMarkers();
    if (fromMap && id) ui.list.querySelector<HTMLElement>(`li[data-id="${CSS.escape(id)}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  // ------------------------------------------------------------ selection and card

  let cardSeq = 0;

  function fitTo(geometry: Geometry | null | undefined, duration: number): void {
    const b = geometry ? geometryBounds(geometry) : null;
    if (!b) return;
    const padding = meeting ? meeting.padding() : { top: 60, bottom: 60, left: 60, right: 60 };
    // Small hulls keep some surroundings (and the heat map's cells readable in meeting mode).
    m.fitBounds(b, { padding, maxZoom: meeting ? 15 : 16, duration });
  }

  async function showSelectedHull(p: { hull: Geometry; theme: { id: string } | null } | null): Promise<void> {
    const features: Feature[] = p && p.hull && p.hull.type !== 'Point' ? [{ type: 'Feature', properties: { color: colorOf(p) }, geometry: p.hull }] : [];
    await (m.getSource(PROBLEM_SELECTED_SOURCE) as GeoJSONSource).setData({ type: 'FeatureCollection', features });
  }

  async function select(id: string | null, o: { fly: boolean; card?: boolean }): Promise<void> {
    if (selectedId && selectedId !== id) m.setFeatureState({ source: PROBLEMS_SOURCE, id: selectedId }, { selected: false });
    selectedId = id;
    markSelectedInList(true);
    markMarkers();
    writeUrl();
    const seq = ++cardSeq;
    if (!id) {
      detail = null;
      await showSelectedHull(null);
      closeCard();
      return;
    }
    m.setFeatureState({ source: PROBLEMS_SOURCE, id }, { selected: true });
    const known = byId.get(id) ?? null;
    if (known) {
      await showSelectedHull(known);
      if (o.fly) fitTo(known.hull, 900);
    }
    if (o.card === false) return;
    delete document.body.dataset.problemCard;
    renderCardLoading(known);
    let d: ProblemDetail | null;
    try {
      d = await loadProblem(id);
    } catch (e) {
      if (seq !== cardSeq) return;
      renderCardError(`проблема не загружена: ${errorText(e)}`);
      return;
    }
    if (seq !== cardSeq) return;
    if (!d) {
      renderCardError(`проблема № ${id} не найдена (удалена или вне вашей области доступа)`);
      return;
    }
    detail = d;
    if (!known) {
      await showSelectedHull(d);
      if (o.fly) fitTo(d.hull, 900);
    }
    renderCard(d);
    document.body.dataset.problemCard = d.id;
  }

  function closeCard(): void {
    clear(ui.card);
    ui.card.hidden = true;
    ui.panel.classList.remove('with-card');
    delete document.body.dataset.problemCard;
  }

  function cardShell(): HTMLElement {
    clear(ui.card);
    ui.card.hidden = false;
    ui.panel.classList.add('with-card');
    const close = el('button', { type: 'button', class: 'pp-card-close', title: 'Закрыть карточку', 'aria-label': 'Закрыть карточку' }, '×');
    close.addEventListener('click', () => void select(null, { fly: false }));
    ui.card.appendChild(close);
    return ui.card;
  }

  function renderCardLoading(p: ProblemNode | null): void {
    const c = cardShell();
    append(c, el('h3', { class: 'pp-card-title' }, p?.title ?? 'Проблема'), el('p', { class: 'muted' }, 'Загрузка карточки…'));
  }

  function renderCardError(msg: string): void {
    const c = cardShell();
    append(c, el('div', { class: 'error' }, `Ошибка: ${msg}`));
  }

  function section(title: string, ...children: (Node | null)[]): HTMLElement {
    return el('section', { class: 'pp-section' }, el('h4', null, title), ...children);
  }

  function renderCard(p: ProblemDetail): void {
    const c = cardShell();
    c.dataset.id = p.id;
    const color = colorOf(p);
    const ranks = [p.rankCity ? `№ ${p.rankCity} в городе` : null, p.rankDistrict && p.district ? `№ ${p.rankDistrict} в районе` : null].filter(Boolean).join(' · ');
    append(
      c,
      el('div', { class: 'pp-card-ranks muted' }, ranks || 'вне рейтинга'),
      el('h3', { class: 'pp-card-title' }, p.title),
      el(
        'div',
        { class: 'pp-card-meta' },
        statusChip(p.status),
        themeLabel(p.theme?.name ?? 'без темы', color),
        el('span', null, p.district?.name ?? 'район не определён'),
        el('span', { class: 'muted' }, `источник: ${SOURCE_LABELS[p.source]}`),
      ),
      el('div', { class: 'pp-card-org' }, el('span', { class: 'muted' }, 'Ответственный: '), p.organization?.name ?? 'не назначен'),
    );

    // Score and the reasons.
    const scoreBox = el(
      'div',
      { class: 'pp-scorebox' },
      el('span', { class: 'pp-bigscore' }, el('strong', null, formatScore(p.score)), el('span', { class: 'muted' }, ' из 100')),
      el('span', null, appealsCount(p.appealCount)),
      el('span', null, `${formatNumber(p.authorCount)} ${plural(p.authorCount, 'заявитель', 'заявителя', 'заявителей')}`),
      growthBadge(p.growth),
    );
    append(c, scoreBox);
    const reasons = el('ol', { class: 'pp-breakdown' });
    for (const f of [...p.breakdown].sort((a, b) => b.points - a.points)) {
      const max = f.weight * 100;
      const fill = el('span', { class: 'pp-bar-fill' });
      fill.style.width = `${max > 0 ? Math.min(100, (100 * f.points) / max) : 0}%`;
      fill.style.background = color;
      const li = el(
        'li',
        { class: f.points > 0 ? '' : 'zero', 'data-factor': f.factor },
        el('span', { class: 'pp-factor-head' }, el('span', { class: 'pp-factor-label' }, f.label), el('span', { class: 'pp-factor-value' }, factorValue(f))),
        el('span', { class: 'pp-factor-row' }, el('span', { class: 'pp-bar', title: `вес ${Math.round(f.weight * 100)} %: до ${formatScore(max)} балла` }, fill), el('strong', { class: 'pp-factor-points' }, `+${formatScore(f.points)}`)),
      );
      reasons.appendChild(li);
    }
    append(c, section('Почему в перечне: баллы по факторам', reasons));

    append(c, section('Период и сроки', el(
      'dl',
      { class: 'pp-dl' },
      el('dt', null, 'Период расчёта'), el('dd', null, `${dateOnly(p.periodFrom)} – ${dateOnly(p.periodTo)}`),
      el('dt', null, 'Обращения'), el('dd', null, p.firstAppealAt ? `${dateOnly(p.firstAppealAt)} – ${dateOnly(p.lastAppealAt)}` : 'нет'),
      el('dt', null, 'Выявлена'), el('dd', null, formatDateTime(p.firstSeenAt)),
      el('dt', null, 'Плановый срок'), el('dd', null, p.planDueAt ? dateOnly(p.planDueAt) : 'не установлен'),
      p.reopenedCount ? el('dt', null, 'Открывалась снова') : null, p.reopenedCount ? el('dd', null, `${p.reopenedCount} раз(а)`) : null,
      p.resolvedAt ? el('dt', null, 'Решена') : null, p.resolvedAt ? el('dd', null, formatDateTime(p.resolvedAt)) : null,
    )));

    append(c, section('Динамика по пересчётам', historyView(p)));
    const actions = actionsView(p);
    if (actions) append(c, section('Действия', actions));
    append(c, section('История', eventsView(p)));
    append(c, section(`Обращения${p.appeals.totalCount ? ` (${formatNumber(p.appeals.totalCount)})` : ''}`, appealsView(p)));
  }

  function historyView(p: ProblemDetail): HTMLElement {
    const wrap = el('div', { class: 'pp-history' });
    const h = p.history;
    if (!h.length) {
      wrap.appendChild(el('p', { class: 'muted' }, 'Пересчётов ещё не было.'));
      return wrap;
    }
    // Sparkline of the score (0…100) over the runs (from two runs on).
    const W = 340, H = 48, pad = 4;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('class', 'pp-spark');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `Балл по пересчётам: ${h.map((x) => formatScore(x.score)).join(', ')}`);
    const x = (i: number) => (h.length === 1 ? W / 2 : pad + (i * (W - 2 * pad)) / (h.length - 1));
    const y = (v: number) => H - pad - (Math.max(0, Math.min(100, v)) / 100) * (H - 2 * pad);
    const base = document.createElementNS(svg.namespaceURI, 'line');
    for (const [k, v] of [['x1', pad], ['x2', W - pad], ['y1', y(0)], ['y2', y(0)]] as const) base.setAttribute(k, String(v));
    base.setAttribute('class', 'pp-spark-base');
    svg.appendChild(base);
    if (h.length > 1) {
      const line = document.createElementNS(svg.namespaceURI, 'polyline');
      line.setAttribute('points', h.map((s, i) => `${x(i).toFixed(1)},${y(s.score).toFixed(1)}`).join(' '));
      line.setAttribute('class', 'pp-spark-line');
      svg.appendChild(line);
    }
    h.forEach((s, i) => {
      const dot = document.createElementNS(svg.namespaceURI, 'circle');
      dot.setAttribute('cx', x(i).toFixed(1));
      dot.setAttribute('cy', y(s.score).toFixed(1));
      dot.setAttribute('r', '3');
      dot.setAttribute('class', 'pp-spark-dot');
      svg.appendChild(dot);
    });
    if (h.length > 1) wrap.appendChild(svg);
    const table = el('table', { class: 'pp-table' }, el('thead', null, el('tr', null, el('th', null, 'Пересчёт'), el('th', null, 'Обращений'), el('th', null, 'Заявителей'), el('th', null, 'Балл'))));
    const body = el('tbody');
    for (const s of [...h].reverse().slice(0, 8)) {
      body.appendChild(el('tr', null, el('td', null, formatDateTime(s.at)), el('td', null, formatNumber(s.appealCount)), el('td', null, formatNumber(s.authorCount)), el('td', null, formatScore(s.score))));
    }
    table.appendChild(body);
    wrap.appendChild(table);
    if (h.length > 8) wrap.appendChild(el('p', { class: 'muted small' }, `и ещё ${h.length - 8} пересчётов раньше`));
    return wrap;
  }

  function eventText(e: ProblemDetail['events'][number]): string {
    const kind = EVENT_LABELS[e.kind] ?? e.kind;
    const statusName = (v: string | null) => (v && PROBLEM_STATUS_LABELS[v as ProblemStatus]) || v || '—';
    const orgName = (v: string | null) => (v ? organizations?.find((o) => o.id === v)?.name ?? `организация № ${v}` : 'не назначен');
    if (e.kind === 'STATUS') return `${kind}: ${statusName(e.fromValue)} → ${statusName(e.toValue)}`;
    if (e.kind === 'ORGANIZATION') return `${kind}: ${orgName(e.toValue)}`;
    if (e.kind === 'PLAN_DUE') return `${kind}: ${e.toValue ? dateOnly(e.toValue) : 'снят'}`;
    return kind;
  }

  function eventsView(p: ProblemDetail): HTMLElement {
    const list = el('ol', { class: 'pp-events' });
    for (const e of [...p.events].reverse()) {
      list.appendChild(el(
        'li',
        null,
        el('span', { class: 'pp-event-top muted' }, `${formatDateTime(e.at)} · ${e.actor}`),
        el('span', { class: 'pp-event-kind' }, eventText(e)),
        e.comment ? el('span', { class: 'pp-event-comment' }, e.comment) : null,
      ));
    }
    if (!p.events.length) list.appendChild(el('li', { class: 'muted' }, 'Событий нет.'));
    return list;
  }

  function appealsView(p: ProblemDetail): HTMLElement {
    const list = el('ol', { class: 'pp-appeals' });
    for (const { node: a } of p.appeals.edges) {
      const st = el('span', { class: 'chip' }, statusLabel(a.status));
      st.style.setProperty('--c', STATUS_COLORS[a.status as keyof typeof STATUS_COLORS] ?? '#868e96');
      const item = el(
        'button',
        { type: 'button', class: 'pp-appeal', 'data-id': a.id, title: a.point ? 'Показать на карте' : 'Место не определено' },
        el('span', { class: 'pp-appeal-top muted' }, `${formatDateTime(a.receivedAt)} · ${channelLabel(a.channel)} `, st),
        a.address ? el('span', { class: 'pp-appeal-address' }, a.address) : null,
        a.text ? el('span', { class: 'pp-appeal-text' }, a.text) : null,
      );
      if (a.point) {
        const at = a.point.coordinates as [number, number];
        item.addEventListener('click', () => {
          m.setFilter(LAYER.pointSelected, ['==', ['get', 'id'], a.id]);
          m.flyTo({ center: at, zoom: Math.max(m.getZoom(), 16), duration: 700 });
        });
      } else item.disabled = true;
      list.appendChild(el('li', null, item));
    }
    if (!p.appeals.edges.length) {
      list.appendChild(el('li', { class: 'muted' }, p.source === 'APPEALS' ? 'Обращений нет.' : `Проблема выявлена по источнику «${SOURCE_LABELS[p.source]}»: обращений в ней нет.`));
    } else if (p.appeals.totalCount > p.appeals.edges.length) {
      list.appendChild(el('li', { class: 'muted small' }, `Показаны ${p.appeals.edges.length} новых из ${formatNumber(p.appeals.totalCount)}.`));
    }
    return list;
  }

  function actionsView(p: ProblemDetail): HTMLElement | null {
    const canStatus = mayChangeStatus(me.role);
    const canAssign = mayAssign(me.role);
    if (!canStatus && !canAssign) return null;
    const box = el('div', { class: 'pp-actions' });
    const message = el('div', { class: 'pp-action-msg', role: 'status' });
    const fail = (e: unknown) => {
      message.className = 'pp-action-msg error';
      message.textContent = `Ошибка: ${errorText(e)}`;
    };
    const comment = el('textarea', { class: 'pp-comment', rows: 2, maxlength: 2000, placeholder: 'Комментарий (необязательно)', 'aria-label': 'Комментарий' });
    const commentValue = () => comment.value.trim() || null;
    const busy = (on: boolean) => box.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('button, input, select, textarea').forEach((x) => (x.disabled = on));
    const run = async (what: () => Promise<void>, done: string) => {
      busy(true);
      message.className = 'pp-action-msg';
      message.textContent = 'Сохранение…';
      try {
        await what();
        await Promise.all([reload(), select(p.id, { fly: false })]);
        const msg = ui.card.querySelector<HTMLElement>('.pp-action-msg');
        if (msg) msg.textContent = done;
      } catch (e) {
        busy(false);
        fail(e);
      }
    };

    if (canStatus) {
      const next = TRANSITIONS[p.status];
      const row = el('div', { class: 'pp-status-buttons' });
      for (const to of next) {
        const b = el('button', { type: 'button', class: `pp-btn${to === 'REJECTED' ? ' danger' : ''}`, 'data-status': to }, transitionLabel(p.status, to));
        b.addEventListener('click', () => {
          if (to === 'REJECTED') return openReject();
          void run(() => setProblemStatus(p.id, to, commentValue()), `Статус: ${PROBLEM_STATUS_LABELS[to]}`);
        });
        row.appendChild(b);
      }
      append(box, el('div', { class: 'pp-label muted' }, `Статус «${PROBLEM_STATUS_LABELS[p.status]}» → `), row);

      // Rejecting needs a reason.
      const reason = el('textarea', { class: 'pp-reason', rows: 2, maxlength: 2000, placeholder: 'Причина отклонения (обязательно)', 'aria-label': 'Причина отклонения' });
      const confirmReject = el('button', { type: 'button', class: 'pp-btn danger', 'data-action': 'confirm-reject' }, 'Отклонить проблему');
      const cancelReject = el('button', { type: 'button', class: 'pp-btn link' }, 'Отмена');
      const rejectBox = el('div', { class: 'pp-reject', hidden: true }, reason, el('div', { class: 'pp-row' }, confirmReject, cancelReject));
      const openReject = () => {
        rejectBox.hidden = false;
        reason.focus();
      };
      cancelReject.addEventListener('click', () => (rejectBox.hidden = true));
      confirmReject.addEventListener('click', () => {
        const why = reason.value.trim();
        if (!why) {
          message.className = 'pp-action-msg error';
          message.textContent = 'Укажите причину отклонения.';
          reason.focus();
          return;
        }
        void run(() => setProblemStatus(p.id, 'REJECTED', why), 'Проблема отклонена');
      });
      box.appendChild(rejectBox);
    }

    append(box, comment);
    if (canStatus) {
      const add = el('button', { type: 'button', class: 'pp-btn', 'data-action': 'comment' }, 'Добавить комментарий');
      add.addEventListener('click', () => {
        const text = commentValue();
        if (!text) {
          message.className = 'pp-action-msg error';
          message.textContent = 'Комментарий пуст.';
          comment.focus();
          return;
        }
        void run(() => commentProblem(p.id, text), 'Комментарий добавлен');
      });
      box.appendChild(el('div', { class: 'pp-row' }, add));
    }

    if (canAssign) {
      const org = el('select', { class: 'pp-org', 'aria-label': 'Ответственная организация' }, el('option', { value: '' }, 'Ответственная организация…'));
      const fillOrgs = () => {
        for (const o of organizations ?? []) {
          const opt = el('option', { value: o.id }, o.name);
          if (o.id === p.organization?.id) opt.selected = true;
          org.appendChild(opt);
        }
      };
      if (organizations) fillOrgs();
      else loadOrganizations().then((list) => ((organizations = list), fillOrgs())).catch(fail);
      const assign = el('button', { type: 'button', class: 'pp-btn', 'data-action': 'assign' }, 'Назначить');
      assign.addEventListener('click', () => {
        if (!org.value) {
          message.className = 'pp-action-msg error';
          message.textContent = 'Выберите организацию.';
          return;
        }
        void run(() => assignProblem(p.id, org.value, commentValue()), 'Ответственный назначен');
      });
      const due = el('input', { type: 'date', class: 'pp-due', 'aria-label': 'Плановый срок', value: p.planDueAt ?? '' });
      const saveDue = el('button', { type: 'button', class: 'pp-btn', 'data-action': 'plan-due' }, 'Установить срок');
      saveDue.addEventListener('click', () => {
        if (!due.value) {
          message.className = 'pp-action-msg error';
          message.textContent = 'Укажите дату планового срока.';
          return;
        }
        void run(() => setProblemPlanDue(p.id, due.value, commentValue()), 'Плановый срок установлен');
      });
      const clearDue = el('button', { type: 'button', class: 'pp-btn link' }, 'Снять срок');
      clearDue.hidden = !p.planDueAt;
      clearDue.addEventListener('click', () => void run(() => setProblemPlanDue(p.id, null, commentValue()), 'Плановый срок снят'));
      append(
        box,
        el('div', { class: 'pp-row' }, org, assign),
        el('div', { class: 'pp-row' }, el('label', { class: 'muted' }, 'Плановый срок '), due, saveDue, clearDue),
      );
    }
    box.appendChild(message);
    return box;
  }

  // ------------------------------------------------------------ map interactions

  const hoverPopup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 14, className: 'mcu-popup-hover', maxWidth: '300px' });
  m.on('mousemove', PROBLEM_LAYER.circles, (e: MapLayerMouseEvent) => {
    const f = pickTop(e);
    if (!f) return;
    m.getCanvas().style.cursor = 'pointer';
    const p = byId.get(String(f.properties.id));
    if (!p) return;
    if (hoveredId !== p.id) setHover(p.id, true);
    hoverPopup
      .setLngLat(p.center.coordinates as [number, number])
      .setDOMContent(el('div', { class: 'popup' }, el('div', { class: 'popup-theme' }, p.title), el('div', { class: 'popup-meta' }, `балл ${formatScore(p.score)}`, statusChip(p.status))))
      .addTo(m);
  });
  m.on('mouseleave', PROBLEM_LAYER.circles, () => {
    m.getCanvas().style.cursor = '';
    hoverPopup.remove();
    setHover(null, true);
  });
  const pickTop = (e: MapLayerMouseEvent) => [...(e.features ?? [])].sort((a, b) => Number(b.properties.score) - Number(a.properties.score))[0];
  m.on('click', (e) => {
    if (!problemTakesClick(m, e.point)) return;
    let hits = m.queryRenderedFeatures(e.point, { layers: [PROBLEM_LAYER.circles] });
    if (!hits.length) hits = m.queryRenderedFeatures(e.point, { layers: [PROBLEM_LAYER.hullFill] });
    if (!hits.length) return;
    const top = [...hits].sort((a, b) => Number(b.properties.score) - Number(a.properties.score))[0];
    hoverPopup.remove();
    const id = String(top.properties.id);
    if (meeting) return meeting.goToId(id);
    void select(id, { fly: true });
  });

  let moveTimer: number | undefined;
  m.on('moveend', () => {
    writeUrl();
    if (!state.inView || meeting) return;
    window.clearTimeout(moveTimer);
    moveTimer = window.setTimeout(() => void reload(), 300);
  });

  // ------------------------------------------------------------ controls

  const onFilter = () => {
    controlsToState();
    writeUrl();
    void reload();
  };
  for (const s of [ui.theme, ui.status, ui.source, ui.order]) s.addEventListener('change', onFilter);
  ui.inView.addEventListener('change', onFilter);
  ui.district.addEventListener('change', () => {
    onFilter();
    // The map follows the district filter.
    const d = opts.districts.find((x) => x.id === ui.district.value);
    if (d?.geometry) {
      const b = geometryBounds(d.geometry);
      if (b) m.fitBounds(b, { padding: 50, maxZoom: 15, duration: 800 });
    }
  });
  let textTimer: number | undefined;
  ui.text.addEventListener('input', () => {
    window.clearTimeout(textTimer);
    textTimer = window.setTimeout(onFilter, 350);
  });

  // ------------------------------------------------------------ meeting mode

  function meetingHost() {
    return {
      map: m,
      title: `Совещание · проблемы территории · ${opts.municipalityName}`,
      async top(n: number): Promise<ProblemNode[]> {
        const f = filterFromState(false);
        if (state.inView) f.bbox = state.mbbox ?? viewportBBox(m);
        if (state.inView && !state.mbbox) state = { ...state, mbbox: f.bbox };
        return (await loadProblems(f, state.order, n)).nodes;
      },
      colorOf,
      async show(list: ProblemNode[], current: ProblemNode, o: { fly: boolean }) {
        // Only the meeting's problems are drawn, numbered in its order.
        const only = ['in', ['get', 'id'], ['literal', list.map((p) => p.id)]] as ExpressionSpecification;
        for (const id of [PROBLEM_LAYER.circles, PROBLEM_LAYER.hullFill, PROBLEM_LAYER.hullLine]) m.setFilter(id, only);
        // Make sure they are in the layer even if the panel's list is filtered differently.
        const missing = list.filter((p) => !byId.has(p.id));
        if (missing.length) {
          page = { ...page, nodes: [...page.nodes, ...missing] };
          for (const p of missing) byId.set(p.id, p);
          await drawLayer();
        }
        drawRankMarkers(list.map((p, i) => ({ p, label: String(i + 1), current: p.id === current.id })));
        await select(current.id, { fly: o.fly, card: false });
      },
      stateChanged(s: { step: number; n: number } | null) {
        state = s ? { ...state, meeting: true, step: s.step, n: s.n } : { ...state, meeting: false, step: undefined, n: undefined, mbbox: undefined };
        writeUrl();
      },
      exited(currentId: string | null) {
        meeting = null;
        m.setFilter(PROBLEM_LAYER.circles, null);
        m.setFilter(PROBLEM_LAYER.hullFill, null);
        m.setFilter(PROBLEM_LAYER.hullLine, null);
        void reload().then(() => select(currentId, { fly: false }));
      },
      pointsVisible(on: boolean) {
        for (const id of [LAYER.points, LAYER.clusters, LAYER.pointSelected]) if (m.getLayer(id)) m.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
      },
    };
  }

  async function enterMeeting(o: { step: number; n: number; fromUrl: boolean; gesture: boolean }): Promise<void> {
    if (meeting) return;
    closeCard();
    meeting = startMeeting(meetingHost(), o);
    await meeting.ready;
  }

  ui.meetingButton.addEventListener('click', () => void enterMeeting({ step: 1, n: state.n ?? 10, fromUrl: false, gesture: true }));

  // ------------------------------------------------------------ start

  stateToControls();
  const initial = { ...state };
  const hasView = initial.z !== undefined && initial.lon !== undefined && initial.lat !== undefined;
  if (hasView) m.jumpTo({ center: [initial.lon!, initial.lat!], zoom: initial.z! });
  try {
    await reload();
    if (initial.meeting) {
      await enterMeeting({ step: initial.step ?? 1, n: initial.n ?? 10, fromUrl: hasView, gesture: false });
    } else if (initial.problem) {
      await select(initial.problem, { fly: !hasView });
    }
  } finally {
    restored = true;
    writeUrl();
  }

  // A link pasted into the same tab (only the hash changes): apply it.
  window.addEventListener('hashchange', () => location.reload());

  return { reload };
}

// ---------------------------------------------------------------- the panel's DOM

function buildPanel(opts: ProblemsOptions): void {
  const panel = document.getElementById('problems-panel');
  if (!panel) throw new Error('#problems-panel is missing in index.html');
  ui.panel = panel;
  clear(panel);

  ui.count = el('span', { id: 'pp-count', class: 'pp-count' });
  ui.meetingButton = el('button', { type: 'button', id: 'pp-meeting', class: 'pp-meeting', title: 'Полноэкранный показ проблем по одной: ← и → на клавиатуре' }, 'Режим совещания');
  const header = el('header', { class: 'pp-header' }, el('div', { class: 'pp-heading' }, el('h2', { id: 'problems-title' }, 'Проблемы территории'), ui.count), ui.meetingButton);

  const select = (id: string, label: string, options: [string, string, boolean?][]) => {
    const s = el('select', { id, 'aria-label': label });
    for (const [value, text, group] of options) {
      const o = el('option', { value }, text);
      if (group) o.classList.add('group');
      s.appendChild(o);
    }
    return s;
  };
  const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name, 'ru');
  ui.district = select('pp-district', 'Район', [['', 'Все районы'], ...[...opts.districts].sort(byName).map((d) => [d.id, d.name] as [string, string])]);
  const themeOptions: [string, string, boolean?][] = [['', 'Все темы']];
  const children = new Map<string | null, Theme[]>();
  const ids = new Set(opts.themes.map((t) => t.id));
  for (const t of opts.themes) {
    const key = t.parentId && ids.has(t.parentId) ? t.parentId : null;
    children.set(key, [...(children.get(key) ?? []), t]);
  }
  const walk = (t: Theme, depth: number) => {
    themeOptions.push([t.id, `${'\u00a0\u00a0\u00a0'.repeat(depth)}${t.name}`, !t.isLeaf]);
    for (const c of [...(children.get(t.id) ?? [])].sort(byName)) walk(c, depth + 1);
  };
  for (const r of [...(children.get(null) ?? [])].sort(byName)) walk(r, 0);
  ui.theme = select('pp-theme', 'Тема', themeOptions);
  ui.status = select('pp-status', 'Статус', [['', 'Все статусы'], ...PROBLEM_STATUSES.map((s) => [s, PROBLEM_STATUS_LABELS[s]] as [string, string])]);
  ui.source = select('pp-source', 'Источник', [['', 'Все источники'], ...PROBLEM_SOURCES.map((s) => [s, SOURCE_LABELS[s]] as [string, string])]);
  ui.order = select('pp-order', 'Порядок', PROBLEM_ORDERS.map((o) => [o, ORDER_LABELS[o]] as [string, string]));
  ui.text = el('input', { id: 'pp-text', type: 'search', placeholder: 'Поиск в названии', 'aria-label': 'Поиск в названии', maxlength: 200 });
  ui.inView = el('input', { id: 'pp-inview', type: 'checkbox' });
  const filters = el(
    'div',
    { class: 'pp-filters' },
    ui.district, ui.theme, ui.status, ui.source, ui.order, ui.text,
    el('label', { class: 'check pp-inview' }, ui.inView, el('span', null, 'только в границах карты')),
  );

  const link = (id: string, text: string, format: string) =>
    el('a', { id, class: 'pp-export', href: `/exports/problems.${format}`, download: '', title: `Выгрузить перечень (${text}) с текущими условиями отбора` }, text);
  ui.exports = [link('pp-export-xlsx', 'Excel', 'xlsx'), link('pp-export-csv', 'CSV', 'csv'), link('pp-export-geojson', 'GeoJSON', 'geojson')];
  const exports = el('div', { class: 'pp-exports' }, el('span', { class: 'muted' }, 'Выгрузить:'), ...ui.exports);

  ui.legend = el('div', { class: 'pp-legend' });
  ui.error = el('div', { class: 'error', role: 'alert', hidden: true });
  ui.list = el('ol', { id: 'problem-list', class: 'pp-list', 'aria-label': 'Перечень проблем по рейтингу' });
  ui.more = el('p', { class: 'muted small pp-more', hidden: true });
  ui.card = el('section', { id: 'problem-card', class: 'pp-card', 'aria-label': 'Карточка проблемы', hidden: true });
  const listWrap = el('div', { class: 'pp-list-wrap' }, ui.list, ui.more);
  append(panel, header, filters, exports, ui.legend, ui.error, listWrap, ui.card);
}
