// МЦУ Hub: «Адресное информирование» — pick the occasion (planned works, a problem, a risk signal), the audience by
// place (districts, addresses, an area drawn on the map, a problem's outline) and themes, see its size, draft the
// message from a template, record what was informed; for a call-back, the list of consenting authors (logged).
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './intake.css';
import './risks.css';
import './informing.css';
import * as maplibregl from 'maplibre-gl';
import type { GeoJSONSource } from 'maplibre-gl';
import type { Feature, FeatureCollection, Geometry } from 'geojson';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { ApiError, fetchConfig, gql, loadDistricts, loadThemes, type AppConfig, type District } from './api';
import { append, byId, clear, el } from './dom';
import { DISTRICTS_SOURCE, addMcuLayers, districtFeatureCollection, offlineStyle } from './mapLayers';
import { can, mountUserBar, requireSession, type Me } from './auth';

maplibregl.setWorkerUrl(workerUrl);

declare global { interface Window { __infMap?: maplibregl.Map; __informingReady?: boolean } }

type SourceKind = 'PROBLEM' | 'RISK' | 'PLANNED_WORKS' | 'NONE';
type AudienceKind = 'DISTRICTS' | 'ADDRESSES' | 'AREA' | 'PROBLEM';
interface Template { code: string; channel: string; channelLabel: string; sourceKinds: SourceKind[]; title: string; body: string; maxLength: number; builtin: boolean }
interface Audience { appeals: number; authors: number; consenting: number; residents: number | null; areaGeoJSON: Geometry | null; unmatchedAddresses: string[]; description: string[] }
interface InformingRow { id: string; channel: string; channelLabel: string; sourceTitle: string | null; appeals: number; authors: number; consenting: number; informedBy: string; informedAt: string; callbackRows: number | null }

const INFORMERS = ['CURATOR', 'COORDINATOR', 'BLOCK_LEAD', 'WORKER'];
const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

let me: Me;
let cfg: AppConfig;
let districts: District[] = [];
let templates: Template[] = [];
let map: maplibregl.Map;
let audienceKind: AudienceKind = 'DISTRICTS';
let drawing = false;
let vertices: [number, number][] = [];
let polygon: { type: 'Polygon'; coordinates: [number, number][][] } | null = null;
let lastCallbackId: string | null = null;
let problems: { id: string; title: string }[] = [];

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}
const fmt = (n: number | null | undefined) => (n == null ? '—' : n.toLocaleString('ru-RU'));

async function loadSources() {
  const kind = byId<HTMLSelectElement>('s-kind').value as SourceKind;
  const sel = byId<HTMLSelectElement>('s-item');
  clear(sel);
  byId<HTMLDetailsElement>('pw-new').hidden = kind !== 'PLANNED_WORKS' || !INFORMERS.includes(me.role);
  sel.disabled = kind === 'NONE';
  if (kind === 'PLANNED_WORKS') {
    const { plannedWorks } = await gql<{ plannedWorks: { id: string; title: string; address: string; startsAt: string }[] }>(`{ plannedWorks(first: 100) { id title address startsAt } }`);
    if (!plannedWorks.length) append(sel, el('option', { value: '' }, 'нет — добавьте ниже'));
    for (const w of plannedWorks) append(sel, el('option', { value: w.id }, `${new Date(w.startsAt).toLocaleDateString('ru-RU')} · ${w.title} · ${w.address}`));
  } else if (kind === 'PROBLEM') {
    for (const p of problems) append(sel, el('option', { value: p.id }, p.title));
  } else if (kind === 'RISK') {
    const { riskSignals } = await gql<{ riskSignals: { edges: { node: { id: string; title: string; startedOn: string } }[] } }>(
      `{ riskSignals(first: 100) { edges { node { id title startedOn } } } }`);
    if (!riskSignals.edges.length) append(sel, el('option', { value: '' }, 'сигналов нет'));
    for (const { node } of riskSignals.edges) append(sel, el('option', { value: node.id }, `${node.startedOn.split('-').reverse().join('.')} · ${node.title}`));
  }
  fillTemplates();
}

function source(): { kind: SourceKind; id?: string } {
  const kind = byId<HTMLSelectElement>('s-kind').value as SourceKind;
  const id = byId<HTMLSelectElement>('s-item').value;
  return kind === 'NONE' ? { kind } : { kind, id: id || undefined };
}

function fillTemplates() {
  const kind = byId<HTMLSelectElement>('s-kind').value as SourceKind;
  const sel = byId<HTMLSelectElement>('m-template');
  clear(sel);
  const list = templates.filter((t) => t.sourceKinds.includes(kind));
  if (!list.length) append(sel, el('option', { value: '' }, 'нет шаблонов для этого повода — напишите текст сами'));
  for (const t of list) append(sel, el('option', { value: t.code, 'data-channel': t.channel }, `${t.title} (${t.channelLabel})`));
  updateChannel();
}

function channel(): { code: string; label: string; max: number } {
  const t = templates.find((x) => x.code === byId<HTMLSelectElement>('m-template').value);
  return t ? { code: t.channel, label: t.channelLabel, max: t.maxLength } : { code: 'OFFICIAL_PAGE', label: 'пост на официальной странице', max: 4000 };
}

function showTemplate() {
  const t = templates.find((x) => x.code === byId<HTMLSelectElement>('m-template').value);
  byId<HTMLInputElement>('t-title').value = t?.title ?? '';
  byId<HTMLTextAreaElement>('t-body').value = t?.body ?? '';
  byId('t-result').textContent = t ? (t.builtin ? 'встроенный шаблон' : 'шаблон центра') : '';
}

async function saveTemplate() {
  const t = templates.find((x) => x.code === byId<HTMLSelectElement>('m-template').value);
  if (!t) return;
  try {
    const { setInformingTemplate: saved } = await gql<{ setInformingTemplate: Template }>(
      `mutation S($c: String!, $ch: InformingChannel!, $k: [InformingSourceKind!]!, $t: String!, $b: String!) { setInformingTemplate(code: $c, channel: $ch, sourceKinds: $k, title: $t, body: $b) {
        code channel channelLabel sourceKinds title body maxLength builtin } }`,
      { c: t.code, ch: t.channel, k: t.sourceKinds, t: byId<HTMLInputElement>('t-title').value, b: byId<HTMLTextAreaElement>('t-body').value });
    templates = templates.map((x) => (x.code === saved.code ? saved : x));
    byId('t-result').textContent = 'Сохранено: черновики по этому шаблону будут по новому тексту.';
  } catch (e) { byId('t-result').textContent = e instanceof Error ? e.message : String(e); }
}

function updateChannel() {
  showTemplate();
  const c = channel();
  byId('m-channel').textContent = c.label;
  byId('m-max').textContent = String(c.max);
  byId('m-count').textContent = String(byId<HTMLTextAreaElement>('m-text').value.length);
}

function setAudienceKind(k: AudienceKind) {
  audienceKind = k;
  for (const b of document.querySelectorAll<HTMLButtonElement>('#a-kind button')) b.classList.toggle('active', b.dataset.kind === k);
  byId('a-districts').hidden = k !== 'DISTRICTS';
  byId('a-addresses').hidden = k !== 'ADDRESSES';
  byId('a-area').hidden = k !== 'AREA';
  byId('a-problem').hidden = k !== 'PROBLEM';
  if (k !== 'AREA') setDrawing(false);
}

function audience(): Record<string, unknown> {
  const themeIds = [...byId<HTMLSelectElement>('a-themes').selectedOptions].map((o) => o.value);
  const base: Record<string, unknown> = { kind: audienceKind, ...(themeIds.length ? { themeIds } : {}) };
  if (audienceKind === 'DISTRICTS') base.districtIds = [...document.querySelectorAll<HTMLInputElement>('#a-districts input:checked')].map((i) => i.value);
  if (audienceKind === 'ADDRESSES') base.addresses = byId<HTMLTextAreaElement>('a-addr').value.split('\n').map((s) => s.trim()).filter(Boolean);
  if (audienceKind === 'AREA') base.area = polygon;
  if (audienceKind === 'PROBLEM') base.problemId = byId<HTMLSelectElement>('a-problem-id').value || null;
  return base;
}

function setDrawing(on: boolean) {
  drawing = on;
  byId('a-draw').classList.toggle('active', on);
  map.getCanvas().style.cursor = on ? 'crosshair' : '';
}

function renderDraft() {
  const feats: Feature[] = [];
  const ring = polygon ? polygon.coordinates[0] : vertices;
  if (ring.length >= 2) feats.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: polygon ? ring : [...ring] } });
  for (const v of vertices) feats.push({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: v } });
  (map.getSource('inf-draw') as GeoJSONSource).setData({ type: 'FeatureCollection', features: feats });
  byId('a-vertices').textContent = polygon ? `контур: ${polygon.coordinates[0].length - 1} вершин` : vertices.length ? `вершин: ${vertices.length}` : '';
}

async function countAudience() {
  const { informingAudience: a } = await gql<{ informingAudience: Audience }>(
    `query A($a: AudienceInput!) { informingAudience(audience: $a) { appeals authors consenting residents areaGeoJSON unmatchedAddresses description } }`, { a: audience() });
  byId('a-figures').hidden = false;
  byId('a-appeals').textContent = fmt(a.appeals);
  byId('a-authors').textContent = fmt(a.authors);
  byId('a-consenting').textContent = fmt(a.consenting);
  const parts = [...a.description];
  if (a.residents != null) parts.push(`жителей по справочнику: ${fmt(a.residents)}`);
  if (a.unmatchedAddresses.length) parts.push(`не найдено обращений по адресам: ${a.unmatchedAddresses.join('; ')}`);
  byId('a-desc').textContent = parts.join(' · ');
  const fc: FeatureCollection = a.areaGeoJSON ? { type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: a.areaGeoJSON }] } : EMPTY;
  (map.getSource('inf-area') as GeoJSONSource).setData(fc);
  if (a.areaGeoJSON) {
    const b = new maplibregl.LngLatBounds();
    const walk = (c: unknown): void => { if (Array.isArray(c) && typeof c[0] === 'number') b.extend(c as [number, number]); else if (Array.isArray(c)) c.forEach(walk); };
    walk((a.areaGeoJSON as { coordinates?: unknown }).coordinates);
    if (!b.isEmpty()) map.fitBounds(b, { padding: 40, maxZoom: 16, duration: 0 });
  }
  return a;
}

async function draft() {
  const code = byId<HTMLSelectElement>('m-template').value;
  if (!code) return;
  byId('m-result').textContent = '';
  try {
    const { informingDraft: d } = await gql<{ informingDraft: { text: string } }>(
      `query D($s: InformingSourceInput!, $t: String!) { informingDraft(source: $s, templateCode: $t) { text } }`, { s: source(), t: code });
    byId<HTMLTextAreaElement>('m-text').value = d.text;
    updateChannel();
  } catch (e) { byId('m-result').textContent = e instanceof Error ? e.message : String(e); }
}

async function record() {
  const c = channel();
  byId('m-result').textContent = '';
  try {
    const { recordInforming: r } = await gql<{ recordInforming: InformingRow }>(
      `mutation R($i: RecordInformingInput!) { recordInforming(input: $i) { id channel channelLabel consenting appeals } }`,
      { i: { source: source(), channel: c.code, templateCode: byId<HTMLSelectElement>('m-template').value || null, audience: audience(),
        message: byId<HTMLTextAreaElement>('m-text').value, note: byId<HTMLInputElement>('m-note').value || null } });
    byId('m-result').textContent = `Записано: № ${r.id}, ${r.channelLabel}, обращений в аудитории ${fmt(r.appeals)}.`;
    lastCallbackId = r.channel === 'CALLBACK' ? r.id : null;
    byId('cb').hidden = !lastCallbackId;
    if (lastCallbackId) {
      byId('cb-count').textContent = fmt(r.consenting);
      byId<HTMLAnchorElement>('cb-xlsx').href = `/exports/callback.xlsx?informingId=${lastCallbackId}`;
      clear(byId('cb-rows'));
    }
    await loadLog();
  } catch (e) { byId('m-result').textContent = e instanceof Error ? e.message : String(e); }
}

async function showCallback() {
  if (!lastCallbackId) return;
  const { callbackList: l } = await gql<{ callbackList: { total: number; rows: { fullName: string | null; phone: string | null; email: string | null; address: string | null; receivedAt: string; appealId: string }[] } }>(
    `query L($id: ID!) { callbackList(informingId: $id) { total rows { appealId fullName phone email address receivedAt } } }`, { id: lastCallbackId });
  const body = byId('cb-rows');
  clear(body);
  byId('cb-count').textContent = fmt(l.total);
  for (const r of l.rows.slice(0, 200)) {
    append(body, el('tr', null, el('td', null, r.fullName ?? '—'), el('td', null, r.phone ?? '—'), el('td', null, r.email ?? '—'), el('td', null, r.address ?? '—'),
      el('td', null, `№ ${r.appealId} от ${new Date(r.receivedAt).toLocaleDateString('ru-RU')}`)));
  }
  if (l.rows.length > 200) append(body, el('tr', null, el('td', { colspan: 5, class: 'muted small' }, `ещё ${l.rows.length - 200} — в выгрузке Excel`)));
}

async function loadLog() {
  const { informings } = await gql<{ informings: { totalCount: number; nodes: InformingRow[] } }>(
    `{ informings(first: 30) { totalCount nodes { id channel channelLabel sourceTitle appeals authors consenting informedBy informedAt callbackRows } } }`);
  byId('log-count').textContent = String(informings.totalCount);
  const body = byId('log-rows');
  clear(body);
  if (!informings.nodes.length) append(body, el('tr', null, el('td', { colspan: 5, class: 'muted small' }, 'Пока ничего не записано.')));
  for (const r of informings.nodes) {
    append(body, el('tr', { 'data-id': r.id }, el('td', null, new Date(r.informedAt).toLocaleString('ru-RU')), el('td', null, r.channelLabel), el('td', null, r.sourceTitle ?? '—'),
      el('td', { class: 'num' }, `${fmt(r.authors)} авт.${r.channel === 'CALLBACK' ? ` (${fmt(r.consenting)} на связь)` : ''}`), el('td', null, r.informedBy)));
  }
}

async function createWorks(ev: Event) {
  ev.preventDefault();
  const v = (id: string) => byId<HTMLInputElement>(id).value;
  const iso = (local: string) => (local ? new Date(local).toISOString() : '');
  try {
    const { createPlannedWorks: w } = await gql<{ createPlannedWorks: { id: string } }>(
      `mutation C($i: PlannedWorksInput!) { createPlannedWorks(input: $i) { id } }`,
      { i: { title: v('pw-title'), address: v('pw-address'), startsAt: iso(v('pw-start')), endsAt: iso(v('pw-end')), organizationId: v('pw-org') || null,
        districtId: v('pw-district') || null, description: v('pw-desc') || null } });
    byId('pw-result').textContent = `Добавлено: № ${w.id}`;
    await loadSources();
    byId<HTMLSelectElement>('s-item').value = w.id;
  } catch (e) { byId('pw-result').textContent = e instanceof Error ? e.message : String(e); }
}

async function initMap() {
  map = new maplibregl.Map({ container: byId('inf-map'), style: cfg.basemapStyleUrl ?? offlineStyle(), center: cfg.municipality.center, zoom: cfg.municipality.zoom,
    minZoom: 8, maxZoom: 18, dragRotate: false, attributionControl: false, doubleClickZoom: false });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  window.__infMap = map;
  await new Promise<void>((resolve) => (map.loaded() ? resolve() : map.once('load', () => resolve())));
  addMcuLayers(map);
  await (map.getSource(DISTRICTS_SOURCE) as GeoJSONSource).setData(districtFeatureCollection(districts));
  map.addSource('inf-area', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'inf-area-fill', type: 'fill', source: 'inf-area', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'fill-color': '#f08c00', 'fill-opacity': 0.25 } });
  map.addLayer({ id: 'inf-area-line', type: 'line', source: 'inf-area', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#e8590c', 'line-width': 2 } });
  map.addLayer({ id: 'inf-area-pts', type: 'circle', source: 'inf-area', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 5, 'circle-color': '#e8590c', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } });
  map.addSource('inf-draw', { type: 'geojson', data: EMPTY });
  map.addLayer({ id: 'inf-draw-line', type: 'line', source: 'inf-draw', paint: { 'line-color': '#1c7ed6', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'inf-draw-pts', type: 'circle', source: 'inf-draw', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#1c7ed6' } });
  map.on('click', (e) => {
    if (!drawing) return;
    if (polygon) { polygon = null; vertices = []; }
    vertices.push([Math.round(e.lngLat.lng * 1e6) / 1e6, Math.round(e.lngLat.lat * 1e6) / 1e6]);
    renderDraft();
  });
}

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  const themesP = loadThemes();
  const problemsP = gql<{ problems: { edges: { node: { id: string; title: string } }[] } }>(`{ problems(first: 100) { edges { node { id title } } } }`);
  const orgsP = gql<{ organizations: { id: string; name: string; shortName: string | null }[] }>(`{ organizations { id name shortName } }`);
  [cfg, districts] = await Promise.all([fetchConfig(), loadDistricts()]);
  const [themes, probs, orgs] = await Promise.all([themesP, problemsP, orgsP]);
  problems = probs.problems.edges.map((e) => e.node);
  templates = (await gql<{ informingTemplates: Template[] }>(`{ informingTemplates { code channel channelLabel sourceKinds title body maxLength builtin } }`)).informingTemplates;
  for (const d of districts) append(byId('a-districts'), el('label', { class: 'check' }, el('input', { type: 'checkbox', value: d.id }), d.name));
  for (const d of districts) append(byId('pw-district'), el('option', { value: d.id }, d.name));
  for (const o of orgs.organizations) append(byId('pw-org'), el('option', { value: o.id }, o.shortName ?? o.name));
  for (const t of themes.filter((x) => x.isLeaf)) append(byId('a-themes'), el('option', { value: t.id }, t.name));
  for (const p of problems) append(byId('a-problem-id'), el('option', { value: p.id }, p.title));
  await initMap();

  byId('s-kind').addEventListener('change', () => void loadSources().catch(showError));
  byId('s-item').addEventListener('change', () => {
    if (byId<HTMLSelectElement>('s-kind').value === 'PROBLEM') { byId<HTMLSelectElement>('a-problem-id').value = byId<HTMLSelectElement>('s-item').value; setAudienceKind('PROBLEM'); }
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('#a-kind button')) b.addEventListener('click', () => setAudienceKind(b.dataset.kind as AudienceKind));
  byId('a-draw').addEventListener('click', () => setDrawing(!drawing));
  byId('a-close').addEventListener('click', () => {
    if (vertices.length < 3) { byId('a-vertices').textContent = 'нужно не меньше трёх вершин'; return; }
    polygon = { type: 'Polygon', coordinates: [[...vertices, vertices[0]]] };
    setDrawing(false);
    renderDraft();
  });
  byId('a-clear').addEventListener('click', () => { polygon = null; vertices = []; renderDraft(); });
  byId('a-count').addEventListener('click', () => void countAudience().catch(showError));
  byId('m-template').addEventListener('change', updateChannel);
  const editTemplates = ['CURATOR', 'COORDINATOR'].includes(me.role);
  byId('t-save').hidden = !editTemplates;
  byId('t-save').addEventListener('click', () => void saveTemplate());
  const ph = await gql<{ informingPlaceholders: { key: string; label: string }[] }>(`{ informingPlaceholders { key label } }`);
  byId('t-placeholders').textContent = `Подстановки: ${ph.informingPlaceholders.map((p) => `{{${p.key}}} — ${p.label}`).join('; ')}.`;
  byId('m-text').addEventListener('input', () => { byId('m-count').textContent = String(byId<HTMLTextAreaElement>('m-text').value.length); });
  byId('m-draft').addEventListener('click', () => void draft());
  const recordBtn = byId<HTMLButtonElement>('m-record');
  recordBtn.hidden = !INFORMERS.includes(me.role);
  recordBtn.addEventListener('click', () => void record());
  byId('cb-show').hidden = !can.seePersonalData(me);
  byId('cb-show').addEventListener('click', () => void showCallback().catch(showError));
  byId('pw-form').addEventListener('submit', (e) => void createWorks(e));
  setAudienceKind('DISTRICTS');
  // /informing.html#kind=RISK&id=12 (from a risk card or a problem): that occasion preselected
  const h = new URLSearchParams(location.hash.slice(1));
  const hk = h.get('kind');
  if (hk && ['PROBLEM', 'RISK', 'PLANNED_WORKS'].includes(hk)) byId<HTMLSelectElement>('s-kind').value = hk;
  await loadSources();
  const hid = h.get('id');
  if (hid && [...byId<HTMLSelectElement>('s-item').options].some((o) => o.value === hid)) {
    byId<HTMLSelectElement>('s-item').value = hid;
    byId('s-item').dispatchEvent(new Event('change'));
  }
  await loadLog();
  window.__informingReady = true;
}

main().catch(showError);
