// Heat-map overlay (appeals / ЦУР / merged, as vector tiles of our server), the district
// choropleth per 1 000 residents, and the time slider stepping by week or month.
// No symbol layers: values are shown in HTML (legend, popups).
import * as maplibregl from 'maplibre-gl';
import type { ExpressionSpecification, MapLayerMouseEvent } from 'maplibre-gl';
import type { AppealFilter, District } from './api';
import { loadDistrictStats, loadHeatSummary, type DistrictStat, type HeatLayerKind } from './api';
import { append, byId, clear, el } from './dom';
import { formatNumber } from './labels';
import { DISTRICT_PALETTE, LAYER } from './mapLayers';

export type HeatMode = 'off' | 'appeals' | 'cur' | 'merged';

export const HEAT_SOURCE = 'mcu-heat';
export const HEAT_LAYER = 'mcu-heat-fill';
export const HEAT_LINE = 'mcu-heat-line';

const MODE_LABELS: Record<HeatMode, string> = { off: 'Нет', appeals: 'Обращения', cur: 'ЦУР', merged: 'Сводная' };
const MODE_UNITS: Record<Exclude<HeatMode, 'off'>, string> = {
  appeals: 'обращений в ячейке',
  cur: 'вес ЦУР в ячейке',
  merged: '‰ сводной оценки в ячейке',
};
/** Yellow → red → dark purple (readable over the light offline background). */
const HEAT_COLORS = ['#ffe066', '#ffa94d', '#f76707', '#e03131', '#862e9c'];
/** Choropleth classes per 1 000 residents: light → dark blue-violet. */
const CHORO_COLORS = ['#edf2ff', '#bac8ff', '#748ffc', '#4c6ef5', '#364fc7', '#1b2a80'];

const ui = {
  modes: byId('heat-modes'),
  choropleth: byId<HTMLInputElement>('choropleth'),
  legend: byId('heat-legend'),
  stepOn: byId<HTMLInputElement>('t-on'),
  step: byId<HTMLSelectElement>('t-step'),
  slider: byId<HTMLInputElement>('t-slider'),
  sliderLabel: byId('t-label'),
  info: byId('heat-info'),
};

let mode: HeatMode = 'off';
let choropleth = false;
let lastFilter: AppealFilter | null = null;
let districts: District[] = [];
let stats: DistrictStat[] | null = null;
let heatMax = 0;
let currentUrl = '';

function tileQuery(filter: AppealFilter): string {
  const p = new URLSearchParams();
  if (filter.from) p.set('from', filter.from);
  if (filter.to) p.set('to', filter.to);
  if (filter.themeIds?.length) p.set('themeIds', filter.themeIds.join(','));
  if (filter.channels?.length) p.set('channels', filter.channels.join(','));
  if (filter.statuses?.length) p.set('statuses', filter.statuses.join(','));
  return p.toString();
}

function tileUrl(filter: AppealFilter, m: HeatMode): string {
  return `${location.origin}/tiles/${m}/{z}/{x}/{y}.mvt?${tileQuery(filter)}`;
}

/** Colour ramp for values 0…max (max from the current viewport). */
function heatColor(max: number): ExpressionSpecification {
  const top = Math.max(max, 1e-9);
  const stops = HEAT_COLORS.flatMap((c, i) => [(top * (i + 0.001)) / (HEAT_COLORS.length - 1), c]);
  return ['interpolate', ['linear'], ['get', 'value'], ...stops] as unknown as ExpressionSpecification;
}

export function addHeatLayers(m: maplibregl.Map): void {
  currentUrl = tileUrl({}, 'appeals');
  m.addSource(HEAT_SOURCE, { type: 'vector', tiles: [currentUrl], minzoom: 5, maxzoom: 15 });
  // Below the appeal points and district outlines, above the district fill.
  m.addLayer({
    id: HEAT_LAYER,
    type: 'fill',
    source: HEAT_SOURCE,
    'source-layer': 'appeals',
    layout: { visibility: 'none' },
    paint: { 'fill-color': heatColor(1), 'fill-opacity': 0.72 },
  }, LAYER.districtLine);
  m.addLayer({
    id: HEAT_LINE,
    type: 'line',
    source: HEAT_SOURCE,
    'source-layer': 'appeals',
    layout: { visibility: 'none' },
    paint: { 'line-color': '#ffffff', 'line-width': 0.6, 'line-opacity': 0.7 },
  }, LAYER.districtLine);
}

function viewport(m: maplibregl.Map) {
  const b = m.getBounds();
  return {
    minLon: Math.max(-180, b.getWest()), minLat: Math.max(-85, b.getSouth()),
    maxLon: Math.min(180, b.getEast()), maxLat: Math.min(85, b.getNorth()),
  };
}

/** Tile zoom MapLibre requests for the view (512-px tiles, clamped to the source's range). */
function tileZoom(m: maplibregl.Map): number {
  return Math.max(5, Math.min(15, Math.floor(m.getZoom())));
}

function renderHeatLegend(unit: string, max: number, cellMeters: number | null): void {
  clear(ui.legend);
  if (mode === 'off') {
    ui.legend.hidden = true;
    return;
  }
  ui.legend.hidden = false;
  const ramp = el('span', { class: 'heat-ramp' });
  ramp.style.background = `linear-gradient(to right, ${HEAT_COLORS.join(', ')})`;
  const fmt = (v: number) => (mode === 'appeals' ? formatNumber(Math.round(v)) : v.toLocaleString('ru-RU', { maximumFractionDigits: 1 }));
  append(
    ui.legend,
    el('div', { class: 'heat-legend-title' }, `Тепловая карта: ${MODE_LABELS[mode]}`),
    el('div', { class: 'heat-legend-row' }, el('span', null, '0'), ramp, el('span', null, fmt(max))),
    el('div', { class: 'muted small' }, unit),
    cellMeters ? el('div', { class: 'muted small' }, `ячейка ≈ ${formatNumber(Math.round(cellMeters * Math.sqrt(3)))} м поперёк`) : null,
  );
}

function choroplethBreaks(values: number[]): number[] {
  const max = Math.max(0, ...values);
  if (max <= 0) return [0, 0, 0, 0, 0];
  // Equal intervals rounded to a readable step.
  const raw = max / CHORO_COLORS.length;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = Math.ceil(raw / pow) * pow;
  return CHORO_COLORS.slice(1).map((_, i) => step * (i + 1));
}

function renderChoroplethLegend(breaks: number[]): HTMLElement {
  const fmt = (v: number) => v.toLocaleString('ru-RU', { maximumFractionDigits: 1 });
  const items = CHORO_COLORS.map((c, i) => {
    const sw = el('span', { class: 'choro-swatch' });
    sw.style.background = c;
    const label = i === 0 ? `< ${fmt(breaks[0])}` : i === CHORO_COLORS.length - 1 ? `≥ ${fmt(breaks[i - 1])}` : `${fmt(breaks[i - 1])}–${fmt(breaks[i])}`;
    return el('span', { class: 'legend-item' }, sw, label);
  });
  return el('div', { class: 'choro-legend' }, el('div', { class: 'heat-legend-title' }, 'Обращений на 1 000 жителей'), el('div', { class: 'choro-items' }, ...items));
}

function applyChoropleth(m: maplibregl.Map): HTMLElement | null {
  if (!choropleth || !stats) {
    m.setPaintProperty(LAYER.districtFill, 'fill-color', ['coalesce', ['get', 'color'], DISTRICT_PALETTE[0]]);
    m.setPaintProperty(LAYER.districtFill, 'fill-opacity', [
      'interpolate', ['linear'], ['zoom'],
      12, ['case', ['boolean', ['feature-state', 'hover'], false], 0.28, 0.14],
      16, ['case', ['boolean', ['feature-state', 'hover'], false], 0.14, 0.05],
    ]);
    return null;
  }
  const per = new Map(stats.map((s) => [s.district.id, s.per1000 ?? 0]));
  const breaks = choroplethBreaks([...per.values()]);
  const match: unknown[] = ['match', ['get', 'id']];
  for (const d of districts) {
    const v = per.get(d.id) ?? 0;
    let cls = 0;
    while (cls < breaks.length && v >= breaks[cls]) cls++;
    match.push(d.id, CHORO_COLORS[cls]);
  }
  match.push(CHORO_COLORS[0]);
  m.setPaintProperty(LAYER.districtFill, 'fill-color', (districts.length ? match : CHORO_COLORS[0]) as ExpressionSpecification);
  m.setPaintProperty(LAYER.districtFill, 'fill-opacity', ['case', ['boolean', ['feature-state', 'hover'], false], 0.85, 0.7]);
  return renderChoroplethLegend(breaks);
}

/** Re-reads what the overlay shows for the filter and the view; awaited by the page's refresh. */
export async function updateHeat(m: maplibregl.Map, filter: AppealFilter, signal?: AbortSignal): Promise<void> {
  lastFilter = filter;
  const tasks: Promise<unknown>[] = [];
  let summary: { maxValue: number; cellSizeMeters: number } | null = null;
  if (mode !== 'off') {
    const url = tileUrl(filter, mode);
    if (url !== currentUrl) {
      (m.getSource(HEAT_SOURCE) as maplibregl.VectorTileSource).setTiles([url]);
      currentUrl = url;
    }
    tasks.push(loadHeatSummary(viewport(m), tileZoom(m), filter, mode.toUpperCase() as HeatLayerKind, signal).then((s) => (summary = s)));
  }
  if (choropleth) tasks.push(loadDistrictStats(filter, signal).then((s) => (stats = s)));
  await Promise.all(tasks);
  for (const id of [HEAT_LAYER, HEAT_LINE]) {
    m.setLayoutProperty(id, 'visibility', mode === 'off' ? 'none' : 'visible');
    if (mode !== 'off') {
      // The tile's layer is named after the URL's layer: re-point the style layers.
      const layer = m.getLayer(id);
      if (layer && layer.sourceLayer !== mode) {
        const spec = { ...m.getStyle().layers.find((l) => l.id === id)!, 'source-layer': mode } as maplibregl.LayerSpecification;
        m.removeLayer(id);
        m.addLayer(spec, LAYER.districtLine);
      }
    }
  }
  if (summary) {
    heatMax = (summary as { maxValue: number }).maxValue;
    m.setPaintProperty(HEAT_LAYER, 'fill-color', heatColor(heatMax));
  }
  const s = summary as { maxValue: number; cellSizeMeters: number } | null;
  renderHeatLegend(mode === 'off' ? '' : MODE_UNITS[mode], heatMax, s?.cellSizeMeters ?? null);
  const choro = applyChoropleth(m);
  if (choro) {
    ui.legend.hidden = false;
    ui.legend.appendChild(choro);
  }
  document.body.dataset.heat = mode;
  document.body.dataset.choropleth = choropleth && stats ? '1' : '0';
}

function cellPopup(p: Record<string, unknown>): HTMLElement {
  const n = (v: unknown, digits = 2) => Number(v ?? 0).toLocaleString('ru-RU', { maximumFractionDigits: digits });
  const root = el('div', { class: 'popup popup-hover' }, el('div', { class: 'popup-theme' }, `Ячейка ${p.q}:${p.r}`));
  const row = (label: string, value: string) => el('div', { class: 'popup-row' }, el('span', { class: 'muted' }, `${label}: `), value);
  append(root, row('Значение', n(p.value)));
  if (mode !== 'cur') append(root, row('Обращений', n(p.appeals, 0)));
  if (mode !== 'appeals') append(root, row('Вес ЦУР', n(p.cur)));
  if (mode === 'merged') append(root, row('Вклад: обращения / ЦУР', `${n(p.part_appeals)} / ${n(p.part_cur)}`));
  return root;
}

/**
 * Wires the panel controls. `refresh` re-runs the page's data flow (which calls updateHeat);
 * `setPeriod` writes the period inputs (the slider steps through weeks or months).
 */
function setMode(k: HeatMode): void {
  mode = k;
  for (const x of ui.modes.querySelectorAll<HTMLButtonElement>('button')) x.setAttribute('aria-pressed', String(x.dataset.mode === k));
}

export function initHeat(m: maplibregl.Map, opts: { refresh(): void; setPeriod(from: Date, to: Date): void; viewChanged(): void }): void {
  for (const k of Object.keys(MODE_LABELS) as HeatMode[]) {
    const b = el('button', { type: 'button', 'data-mode': k, 'aria-pressed': k === mode ? 'true' : 'false' }, MODE_LABELS[k]);
    b.addEventListener('click', () => {
      setMode(k);
      // One picture at a time: hexagons over a choropleth are unreadable.
      if (k !== 'off' && choropleth) ui.choropleth.checked = choropleth = false;
      opts.refresh();
    });
    ui.modes.appendChild(b);
  }
  ui.choropleth.addEventListener('change', () => {
    choropleth = ui.choropleth.checked;
    if (choropleth) setMode('off');
    opts.refresh();
  });

  // Time slider: the last 24 months (or 104 weeks) up to today; each position is one window.
  const steps = () => (ui.step.value === 'week' ? 104 : 24);
  const windowAt = (i: number): [Date, Date] => {
    const today = new Date();
    if (ui.step.value === 'week') {
      const monday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - ((today.getDay() + 6) % 7));
      const from = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() - 7 * (steps() - 1 - i));
      return [from, new Date(from.getFullYear(), from.getMonth(), from.getDate() + 6)];
    }
    const from = new Date(today.getFullYear(), today.getMonth() - (steps() - 1 - i), 1);
    return [from, new Date(from.getFullYear(), from.getMonth() + 1, 0)];
  };
  const label = (i: number) => {
    const [a, b] = windowAt(i);
    if (ui.step.value === 'month') return a.toLocaleDateString('ru-RU', { month: 'long', year: 'numeric' });
    return `${a.toLocaleDateString('ru-RU', { day: 'numeric', month: 'short' })} – ${b.toLocaleDateString('ru-RU', { day: 'numeric', month: 'short', year: 'numeric' })}`;
  };
  const apply = () => {
    const i = Number(ui.slider.value);
    ui.sliderLabel.textContent = label(i);
    if (!ui.stepOn.checked) return;
    const [a, b] = windowAt(i);
    opts.setPeriod(a, b);
    opts.refresh();
  };
  const resetSlider = () => {
    ui.slider.max = String(steps() - 1);
    ui.slider.value = String(steps() - 1);
    ui.slider.disabled = !ui.stepOn.checked;
    ui.step.disabled = !ui.stepOn.checked;
  };
  resetSlider();
  ui.sliderLabel.textContent = label(Number(ui.slider.value));
  ui.stepOn.addEventListener('change', () => {
    resetSlider();
    apply();
  });
  ui.step.addEventListener('change', () => {
    resetSlider();
    apply();
  });
  ui.slider.addEventListener('input', () => (ui.sliderLabel.textContent = label(Number(ui.slider.value))));
  ui.slider.addEventListener('change', apply);

  // The legend's maximum follows the view.
  m.on('moveend', () => {
    if (mode !== 'off' && lastFilter) opts.viewChanged();
  });

  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 8, className: 'mcu-popup-hover', maxWidth: '260px' });
  m.on('mousemove', HEAT_LAYER, (e: MapLayerMouseEvent) => {
    const f = e.features?.[0];
    if (!f || m.queryRenderedFeatures(e.point, { layers: [LAYER.points, LAYER.clusters] }).length) return popup.remove();
    popup.setLngLat(e.lngLat).setDOMContent(cellPopup(f.properties as Record<string, unknown>)).addTo(m);
  });
  m.on('mouseleave', HEAT_LAYER, () => popup.remove());
  ui.info.textContent = 'Ячейки — шестиугольники 2 км … 100 м в зависимости от масштаба; значение ячейки можно получить запросом heatmap в GraphQL.';
}

export function setHeatDistricts(list: District[]): void {
  districts = list;
}

export function heatMode(): HeatMode {
  return mode;
}

