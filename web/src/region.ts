// МЦУ Hub: the regional view (ЦУР) — the municipalities of the region on a map (first level) and in a comparison
// table; «Открыть» opens a municipality for this session (read-only) and goes to its own map.
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './intake.css';
import './region.css';
import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource } from 'maplibre-gl';
import type { Feature, FeatureCollection, MultiPolygon, Point } from 'geojson';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { ApiError, fetchConfig, gql } from './api';
import { append, byId, clear, el } from './dom';
import { geometryBounds, mergeBounds } from './geo';
import { formatNumber } from './labels';
import { offlineStyle } from './mapLayers';
import { isRegionRole, mountUserBar, requireSession } from './auth';

maplibregl.setWorkerUrl(workerUrl);

declare global {
  interface Window { __regionMap?: maplibregl.Map; __regionReady?: boolean }
}

interface Row {
  id: string; code: string; name: string; population: number | null; center: [number, number]; appeals: number; appealsPer1000: number | null;
  previousAppeals: number; change: number | null; open: number; overdue: number; answeredOnTimeShare: number | null; problems: number; riskSignals: number;
  geometry: MultiPolygon | null;
}
interface Overview {
  region: { code: string; name: string; center: [number, number]; zoom: number };
  from: string; to: string; currentMunicipalityId: string; municipalities: Row[];
}
type Measure = 'per1000' | 'problems' | 'riskSignals' | 'overdue';

const QUERY = `query R($from: DateTime, $to: DateTime) { regionOverview(from: $from, to: $to) {
  region { code name center zoom } from to currentMunicipalityId
  municipalities { id code name population center appeals appealsPer1000 previousAppeals change open overdue answeredOnTimeShare problems riskSignals geometry } } }`;

const MEASURE_LABEL: Record<Measure, string> = {
  per1000: 'обращений на 1 000 жителей', problems: 'открытых проблем', riskSignals: 'информационных рисков', overdue: 'просрочено',
};
const COLORS = ['#d3f9d8', '#ffe066', '#ffa94d', '#f76707', '#c92a2a'];

let map: maplibregl.Map | undefined;
let markers: maplibregl.Marker[] = [];
let data: Overview | undefined;

function showError(msg: string | null) {
  const e = byId('error');
  e.textContent = msg ?? '';
  e.hidden = !msg;
}

function value(r: Row, m: Measure): number {
  return m === 'per1000' ? r.appealsPer1000 ?? 0 : r[m];
}

/** Colour classes by the share of the region's maximum (five steps). */
function colorOf(v: number, max: number): string {
  if (max <= 0) return COLORS[0];
  return COLORS[Math.min(COLORS.length - 1, Math.floor((v / max) * (COLORS.length - 0.001)))];
}

async function openMunicipality(r: Row) {
  try {
    await gql('mutation O($id: ID) { openMunicipality(municipalityId: $id) { code } }', { id: r.id });
    location.href = '/';
  } catch (e) {
    showError(`не удалось открыть ${r.name}: ${e instanceof ApiError ? e.message : String(e)}`);
  }
}

function renderTable(o: Overview) {
  const body = byId('region-rows');
  clear(body);
  byId('r-count').textContent = String(o.municipalities.length);
  const pct = (v: number | null) => (v == null ? '—' : `${Math.round(v * 100)} %`);
  for (const r of o.municipalities) {
    const change = r.change == null ? el('span', { class: 'muted' }, '—')
      : el('span', { class: r.change > 0 ? 'up' : r.change < 0 ? 'down' : '' }, `${r.change > 0 ? '+' : ''}${Math.round(r.change * 100)} %`);
    const open = el('button', { type: 'button', class: 'link', 'data-code': r.code }, 'Открыть');
    open.addEventListener('click', () => void openMunicipality(r));
    const tr = el('tr', { class: r.id === o.currentMunicipalityId ? 'current' : '', 'data-code': r.code },
      el('th', { scope: 'row' }, r.name),
      el('td', { class: 'num' }, r.population == null ? '—' : formatNumber(r.population)),
      el('td', { class: 'num' }, formatNumber(r.appeals)),
      el('td', { class: 'num' }, r.appealsPer1000 == null ? '—' : r.appealsPer1000.toLocaleString('ru-RU', { maximumFractionDigits: 1 })),
      el('td', { class: 'num' }, change),
      el('td', { class: 'num' }, formatNumber(r.open)),
      el('td', { class: 'num' }, formatNumber(r.overdue)),
      el('td', { class: 'num' }, pct(r.answeredOnTimeShare)),
      el('td', { class: 'num' }, formatNumber(r.problems)),
      el('td', { class: 'num' }, formatNumber(r.riskSignals)),
      el('td', null, open));
    body.appendChild(tr);
  }
}

function renderMap(o: Overview, measure: Measure) {
  if (!map) return;
  const max = Math.max(0, ...o.municipalities.map((r) => value(r, measure)));
  const areas: FeatureCollection<MultiPolygon> = {
    type: 'FeatureCollection',
    features: o.municipalities.filter((r) => r.geometry).map((r): Feature<MultiPolygon> => ({
      type: 'Feature', id: Number(r.id), geometry: r.geometry!, properties: { code: r.code, color: colorOf(value(r, measure), max) },
    })),
  };
  const points: FeatureCollection<Point> = {
    type: 'FeatureCollection',
    features: o.municipalities.map((r): Feature<Point> => ({
      type: 'Feature', geometry: { type: 'Point', coordinates: r.center },
      properties: { code: r.code, color: colorOf(value(r, measure), max), radius: 8 + 22 * Math.sqrt(max > 0 ? value(r, measure) / max : 0) },
    })),
  };
  (map.getSource('mun-areas') as GeoJSONSource).setData(areas);
  (map.getSource('mun-points') as GeoJSONSource).setData(points);
  for (const m of markers) m.remove();
  markers = o.municipalities.map((r) => {
    const v = value(r, measure);
    const node = el('div', { class: `region-marker${r.id === o.currentMunicipalityId ? ' current' : ''}`, 'data-code': r.code, role: 'button', tabindex: 0 },
      el('strong', null, r.name), `${measure === 'per1000' ? v.toLocaleString('ru-RU', { maximumFractionDigits: 1 }) : formatNumber(v)} — ${MEASURE_LABEL[measure]}`);
    node.addEventListener('click', () => void openMunicipality(r));
    return new maplibregl.Marker({ element: node, anchor: 'bottom', offset: [0, -8 - 22 * Math.sqrt(max > 0 ? v / max : 0)] }).setLngLat(r.center).addTo(map!);
  });
  const legend = byId('region-legend');
  clear(legend);
  append(legend, `Цвет и размер круга: ${MEASURE_LABEL[measure]} (доля от наибольшего в регионе):`);
  COLORS.forEach((c, i) => append(legend, el('span', null, el('span', { class: 'swatch', style: `background:${c}` }), `${i * 20}–${(i + 1) * 20} %`)));
}

async function load() {
  const days = Number((byId('r-period') as HTMLSelectElement).value);
  const to = new Date();
  const from = new Date(to.getTime() - days * 86_400_000);
  try {
    data = (await gql<{ regionOverview: Overview }>(QUERY, { from: from.toISOString(), to: to.toISOString() })).regionOverview;
  } catch (e) {
    showError(e instanceof ApiError && e.code === 'FORBIDDEN'
      ? 'Региональный обзор доступен ролям региона (аналитик или куратор ЦУР).' : `не удалось загрузить обзор: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  showError(null);
  byId('region-name').textContent = data.region.name;
  const current = data.municipalities.find((r) => r.id === data!.currentMunicipalityId);
  byId('r-current').textContent = current ? `Открыт: ${current.name}` : '';
  renderTable(data);
  renderMap(data, (byId('r-measure') as HTMLSelectElement).value as Measure);
  const b = mergeBounds(data.municipalities.map((r) => (r.geometry ? geometryBounds(r.geometry) : [[r.center[0], r.center[1]], [r.center[0], r.center[1]]])));
  if (b && map) map.fitBounds(b, { padding: 80, duration: 0, maxZoom: 11 });
}

async function init() {
  const me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  if (!isRegionRole(me)) {
    showError('Региональный обзор доступен ролям региона (аналитик или куратор ЦУР).');
    window.__regionReady = true;
    return;
  }
  const cfg = await fetchConfig();
  const m = new maplibregl.Map({
    container: byId('region-map'), style: cfg.basemapStyleUrl ?? offlineStyle(), center: [82.5, 52.5], zoom: 6,
    minZoom: 4, maxZoom: 14, dragRotate: false, attributionControl: false,
  });
  m.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map = m;
  window.__regionMap = m;
  await new Promise<void>((resolve) => (m.loaded() ? resolve() : m.once('load', () => resolve())));
  m.addSource('mun-areas', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  m.addSource('mun-points', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  m.addLayer({ id: 'mun-fill', type: 'fill', source: 'mun-areas', paint: { 'fill-color': ['get', 'color'], 'fill-opacity': 0.55 } });
  m.addLayer({ id: 'mun-line', type: 'line', source: 'mun-areas', paint: { 'line-color': '#495057', 'line-width': 1 } });
  m.addLayer({
    id: 'mun-circle', type: 'circle', source: 'mun-points',
    paint: { 'circle-color': ['get', 'color'], 'circle-radius': ['get', 'radius'], 'circle-stroke-color': '#343a40', 'circle-stroke-width': 1, 'circle-opacity': 0.85 },
  });
  byId('r-period').addEventListener('change', () => void load());
  byId('r-measure').addEventListener('change', () => data && renderMap(data, (byId('r-measure') as HTMLSelectElement).value as Measure));
  await load();
  window.__regionReady = true;
}

init().catch((e) => {
  showError(`ошибка страницы: ${e instanceof Error ? e.message : String(e)}`);
  window.__regionReady = true;
});
