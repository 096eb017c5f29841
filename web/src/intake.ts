// МЦУ Hub: the intake page for control-centre staff — file import with its report,
// the triage queue (themes a person must decide) and the address review queue (places).
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './intake.css';
import * as maplibregl from 'maplibre-gl';
import type { FeatureCollection } from 'geojson';
import type { GeoJSONSource, MapMouseEvent } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { ApiError, fetchConfig, gql, loadDistricts, loadThemes, type AppConfig, type Channel, type District, type Theme } from './api';
import { append, byId, clear, el } from './dom';
import { geometryBounds, labelPoint, mergeBounds } from './geo';
import { CHANNELS, CHANNEL_LABELS, PLACE_PRECISION_LABELS, channelLabel, formatDateTime, formatNumber } from './labels';
import { DISTRICTS_SOURCE, addMcuLayers, districtFeatureCollection, offlineStyle } from './mapLayers';
import { can, mountUserBar, requireSession, type Me } from './auth';

let me: Me | undefined;

declare global {
  interface Window {
    __placeMap?: maplibregl.Map;
  }
}

maplibregl.setWorkerUrl(workerUrl);

const QUEUE_PAGE = 50;

const RU_LOCALE: Record<string, string> = {
  'NavigationControl.ZoomIn': 'Приблизить',
  'NavigationControl.ZoomOut': 'Отдалить',
  'ScaleControl.Meters': 'м',
  'ScaleControl.Kilometers': 'км',
  'AttributionControl.ToggleAttribution': 'Сведения о карте',
  'Map.Title': 'Карта',
};

// ---------------------------------------------------------------- API shapes

interface ImportIssue {
  line: number;
  field: string;
  severity: string;
  reason: string;
  externalId: string | null;
}

interface ImportReport {
  batchId: string;
  status: string;
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  flagged: number;
  error: string | null;
  issues: ImportIssue[];
}

interface ImportBatch {
  id: string;
  sourceName: string;
  channel: Channel;
  status: string;
  startedAt: string;
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  flagged: number;
}

interface QueueNode {
  id: string;
  channel: Channel;
  externalId: string;
  receivedAt: string;
  text: string;
  address: string | null;
  theme?: { id: string; name: string } | null;
  themeConfidence?: number | null;
  themeSource?: string | null;
  /** Other themes the classifier sees in the text (the appeal keeps one responsible theme). */
  secondaryThemes?: { name: string }[];
  /** HOUSE, STREET, DISTRICT, NONE (Appeal.placePrecision) and the district, when known. */
  placePrecision?: string | null;
  district?: { name: string } | null;
  author?: { masked: boolean; fullName: string | null; phone: string | null; email: string | null; profileUrl: string | null } | null;
}

interface Queue {
  totalCount: number;
  edges: { node: QueueNode }[];
}

const IMPORT_MUTATION = `mutation ImportAppeals($file: Upload!, $channel: Channel, $mapping: JSONObject, $format: SourceFormat) {
  importAppeals(file: $file, channel: $channel, mapping: $mapping, format: $format) {
    batchId status read inserted updated unchanged rejected flagged error
    issues { line field severity reason externalId } } }`;

/** Roles that process appeals also get the author (each read is logged by the server); others never ask for it. */
const triageQuery = (withAuthor: boolean) => `query TriageQueue($first: Int!) {
  appeals(filter: { triage: true }, first: $first) { totalCount
    edges { node { id channel externalId receivedAt text address theme { id name } themeConfidence themeSource secondaryThemes { name } placePrecision district { name }${withAuthor ? ' author { masked fullName phone email profileUrl }' : ''} } } } }`;

const PLACES_QUERY = `query PlaceQueue($first: Int!) {
  appeals(filter: { placeStatuses: ["UNRESOLVED"] }, first: $first) { totalCount
    edges { node { id channel externalId receivedAt text address placePrecision district { name } } } } }`;

const BATCHES_QUERY = `query Batches { importBatches(first: 10) { id sourceName channel status startedAt read inserted updated unchanged rejected flagged } }`;

const RECLASSIFY_MUTATION = `mutation Reclassify($id: ID!, $themeId: ID!) {
  reclassifyAppeal(id: $id, themeId: $themeId) { id triage theme { id name } organization { name } } }`;

const RESOLVE_PLACE_MUTATION = `mutation ResolvePlace($id: ID!, $lon: Float!, $lat: Float!) {
  resolveAppealPlace(id: $id, lon: $lon, lat: $lat, addToRegister: true) { id placeStatus district { name } } }`;

/** The GraphQL multipart request (file under variable `file`), as the server's upload middleware expects. */
async function gqlUpload<T>(query: string, variables: Record<string, unknown>, file: File): Promise<T> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, file.name);
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
      body: form,
    });
  } catch {
    throw new ApiError('сервер недоступен');
  }
  let body: { data?: T; errors?: { message: string; extensions?: { code?: string; field?: string } }[] };
  try {
    body = await res.json();
  } catch {
    if (res.status === 413) throw new ApiError('файл слишком большой');
    throw new ApiError(`неверный ответ сервера (HTTP ${res.status})`);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions?.code, first.extensions?.field);
  }
  if (!res.ok || !body.data) throw new ApiError(`запрос не выполнен (HTTP ${res.status})`);
  return body.data;
}

// ---------------------------------------------------------------- labels

type StatKey = 'read' | 'inserted' | 'updated' | 'unchanged' | 'rejected' | 'flagged';

const STAT_LABELS: [StatKey, string][] = [
  ['read', 'прочитано'],
  ['inserted', 'добавлено'],
  ['updated', 'обновлено'],
  ['unchanged', 'без изменений'],
  ['rejected', 'отклонено'],
  ['flagged', 'с предупреждениями'],
];

const FIELD_LABELS: Record<string, string> = {
  externalId: 'идентификатор',
  receivedAt: 'дата поступления',
  text: 'текст',
  address: 'адрес',
  coordinates: 'координаты',
  lat: 'широта',
  lon: 'долгота',
  theme: 'тема',
  organization: 'исполнитель',
  status: 'статус',
  dueAt: 'срок',
  firstResponseAt: 'первый ответ',
  answeredAt: 'дата ответа',
  answerText: 'текст ответа',
  satisfaction: 'оценка',
  authorKind: 'тип автора',
  authorName: 'автор',
  authorPhone: 'телефон',
  authorEmail: 'e-mail',
  authorProfileUrl: 'профиль автора',
  record: 'запись',
};

const BATCH_STATUS: Record<string, string> = { DONE: 'готово', FAILED: 'сбой', RUNNING: 'идёт' };

const THEME_SOURCE: Record<string, string> = {
  SOURCE: 'из источника',
  MODEL: 'классификатор',
  KEYWORDS: 'ключевые слова',
  PERSON: 'работник',
};

function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (!e.field) return e.message;
    // Server messages may already start with the field ("format: …"): name it once.
    const message = e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
    return `${message} (поле «${e.field}»)`;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

function errorBox(e: unknown): HTMLElement {
  return el('div', { class: 'error', role: 'alert' }, `Ошибка: ${errorText(e)}`);
}

// ---------------------------------------------------------------- DOM

const ui = {
  error: byId('error'),
  form: byId<HTMLFormElement>('import-form'),
  channel: byId<HTMLSelectElement>('i-channel'),
  file: byId<HTMLInputElement>('i-file'),
  fileName: byId('i-file-name'),
  mapping: byId<HTMLInputElement>('i-mapping'),
  mappingName: byId('i-mapping-name'),
  mappingClear: byId<HTMLButtonElement>('i-mapping-clear'),
  placeholder: byId('import-placeholder'),
  submit: byId<HTMLButtonElement>('i-submit'),
  progress: byId('i-progress'),
  result: byId('import-result'),
  batches: byId('batch-list'),
  triageCount: byId('triage-count'),
  triageList: byId('triage-list'),
  triageStatus: byId('triage-status'),
  placesCount: byId('places-count'),
  placesList: byId('places-list'),
  placesLayout: byId('places-layout'),
  placeMap: byId('place-map'),
  placeHint: byId('place-map-hint'),
  placeSelected: byId('place-selected'),
  placeCoords: byId('place-coords'),
  placeSave: byId<HTMLButtonElement>('place-save'),
  placeResult: byId('place-result'),
};

const pageErrors = new Set<string>();

function showPageError(message: string): void {
  pageErrors.add(message);
  clear(ui.error);
  for (const m of pageErrors) append(ui.error, el('div', null, `Ошибка: ${m}`));
  ui.error.hidden = false;
  document.body.dataset.error = [...pageErrors].join('; ');
}

// ---------------------------------------------------------------- state

let config: AppConfig | null = null;
let themes: Theme[] = [];
let districts: District[] = [];
let triageTotal = 0;
let placesTotal = 0;

// ---------------------------------------------------------------- import

function renderChannelSelect(): void {
  for (const c of CHANNELS) ui.channel.appendChild(el('option', { value: c }, CHANNEL_LABELS[c]));
  ui.channel.value = 'INCIDENT_MANAGEMENT';
}

function fileSize(bytes: number): string {
  if (bytes < 1024) return `${formatNumber(bytes)} Б`;
  if (bytes < 1024 * 1024) return `${formatNumber(Math.round(bytes / 102.4) / 10)} КБ`;
  return `${formatNumber(Math.round(bytes / (1024 * 102.4)) / 10)} МБ`;
}

function showChosenFiles(): void {
  const file = ui.file.files?.[0];
  ui.fileName.textContent = file ? `${file.name} · ${fileSize(file.size)}` : 'файл не выбран';
  ui.fileName.classList.toggle('muted', !file);
  const mapping = ui.mapping.files?.[0];
  ui.mappingName.textContent = mapping ? mapping.name : 'не выбран';
  ui.mappingName.classList.toggle('muted', !mapping);
  ui.mappingClear.hidden = !mapping;
}

async function readMapping(file: File): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await file.text());
  } catch {
    throw new ApiError(`файл сопоставления «${file.name}» не является JSON`, undefined, 'mapping');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(`файл сопоставления «${file.name}» должен содержать JSON-объект`, undefined, 'mapping');
  }
  return value as Record<string, unknown>;
}

function renderReport(fileName: string, r: ImportReport): void {
  clear(ui.result);
  const ok = r.status === 'DONE';
  append(
    ui.result,
    el(
      'div',
      { class: 'report-head' },
      el('strong', null, `Пакет №${r.batchId}`),
      ' · ',
      el('span', { class: 'file-name' }, fileName),
      ' · ',
      el('span', { class: ok ? 'state ok' : 'state failed' }, ok ? 'импорт завершён' : 'импорт прерван'),
    ),
  );
  if (r.error) append(ui.result, errorBox(r.error));
  const stats = el('ul', { class: 'stats', 'aria-label': 'Итог импорта' });
  for (const [key, label] of STAT_LABELS) {
    const cls = key === 'rejected' && r[key] > 0 ? 'stat bad' : key === 'flagged' && r[key] > 0 ? 'stat warn' : 'stat';
    append(stats, el('li', { class: cls, 'data-stat': key }, el('span', { class: 'stat-label' }, label), ' ', el('strong', { class: 'stat-num' }, formatNumber(r[key]))));
  }
  append(ui.result, stats);

  if (!r.issues.length) {
    append(ui.result, el('p', { class: 'muted small no-issues' }, 'Замечаний нет.'));
    return;
  }
  const body = el('tbody');
  for (const i of r.issues) {
    const isError = i.severity === 'ERROR';
    append(
      body,
      el(
        'tr',
        { class: isError ? 'issue error-row' : 'issue warn-row', 'data-line': i.line, 'data-field': i.field, 'data-severity': i.severity },
        el('td', { class: 'num' }, i.line),
        el('td', { title: i.field }, FIELD_LABELS[i.field] ?? i.field),
        el('td', null, el('span', { class: isError ? 'sev sev-error' : 'sev sev-warn' }, isError ? 'ошибка' : 'предупреждение')),
        el('td', { class: 'reason' }, i.reason),
        el('td', { class: 'ext-id' }, i.externalId ?? '—'),
      ),
    );
  }
  const more = r.issues.length >= 1000 ? el('p', { class: 'muted small' }, `Показаны первые 1000 замечаний; все — в пакете №${r.batchId}.`) : null;
  append(
    ui.result,
    el('h3', null, `Замечания (${formatNumber(r.issues.length)})`),
    el(
      'div',
      { class: 'table-wrap issues-wrap' },
      el(
        'table',
        { class: 'data issues' },
        el(
          'thead',
          null,
          el('tr', null, el('th', { scope: 'col', class: 'num' }, 'Строка'), el('th', { scope: 'col' }, 'Поле'), el('th', { scope: 'col' }, 'Вид'), el('th', { scope: 'col' }, 'Причина'), el('th', { scope: 'col' }, 'Идентификатор')),
        ),
        body,
      ),
    ),
    more,
  );
}

async function submitImport(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const file = ui.file.files?.[0];
  clear(ui.result);
  ui.placeholder.hidden = true;
  if (!file) {
    ui.result.dataset.state = 'error';
    append(ui.result, errorBox(new ApiError('выберите файл обращений', undefined, 'file')));
    return;
  }
  ui.result.dataset.state = 'loading';
  ui.result.dataset.file = file.name;
  ui.submit.disabled = true;
  ui.progress.hidden = false;
  try {
    const variables: Record<string, unknown> = { channel: ui.channel.value || null };
    const mappingFile = ui.mapping.files?.[0];
    if (mappingFile) variables.mapping = await readMapping(mappingFile);
    const data = await gqlUpload<{ importAppeals: ImportReport }>(IMPORT_MUTATION, variables, file);
    renderReport(file.name, data.importAppeals);
    ui.result.dataset.batch = data.importAppeals.batchId;
    ui.result.dataset.state = 'done';
  } catch (e) {
    clear(ui.result);
    append(ui.result, errorBox(e));
    ui.result.dataset.state = 'error';
  } finally {
    ui.submit.disabled = false;
    ui.progress.hidden = true;
  }
  // New rows may have joined the queues.
  await Promise.all([loadBatches(), loadTriage(), loadPlaces()]);
}

async function loadBatches(): Promise<void> {
  try {
    const data = await gql<{ importBatches: ImportBatch[] }>(BATCHES_QUERY);
    renderBatches(data.importBatches);
  } catch (e) {
    clear(ui.batches);
    append(ui.batches, el('tr', null, el('td', { colspan: 11 }, errorBox(e))));
  }
}

function renderBatches(list: ImportBatch[]): void {
  clear(ui.batches);
  if (!list.length) {
    append(ui.batches, el('tr', { class: 'empty' }, el('td', { colspan: 11, class: 'muted' }, 'Пакетов пока нет.')));
    return;
  }
  for (const b of list) {
    const state = BATCH_STATUS[b.status] ?? b.status;
    const n = (v: number, cls?: string) => el('td', { class: `num${v && cls ? ` ${cls}` : ''}` }, formatNumber(v));
    append(
      ui.batches,
      el(
        'tr',
        { 'data-id': b.id },
        el('td', { class: 'num muted' }, b.id),
        el('td', { class: 'nowrap' }, formatDateTime(b.startedAt)),
        el('td', null, el('div', { class: 'file-name', title: b.sourceName }, b.sourceName)),
        el('td', null, channelLabel(b.channel)),
        el('td', null, el('span', { class: `state ${b.status === 'DONE' ? 'ok' : b.status === 'FAILED' ? 'failed' : ''}` }, state)),
        n(b.read),
        n(b.inserted),
        n(b.updated),
        n(b.unchanged),
        n(b.rejected, 'bad'),
        n(b.flagged, 'warn'),
      ),
    );
  }
}

// ---------------------------------------------------------------- triage

/** Leaf themes in <optgroup>s by parent (the path of ancestors as the label). */
function themeSelect(selected: string | null): HTMLSelectElement {
  const select = el('select', { class: 'theme-select', 'aria-label': 'Тема' });
  append(select, el('option', { value: '' }, '— выберите тему —'));
  const themeById = new Map(themes.map((t) => [t.id, t]));
  const path = (t: Theme): string => {
    const names: string[] = [];
    for (let p = t.parentId ? themeById.get(t.parentId) : undefined; p; p = p.parentId ? themeById.get(p.parentId) : undefined) names.unshift(p.name);
    return names.join(' › ');
  };
  const groups = new Map<string, Theme[]>();
  for (const t of themes.filter((x) => x.isLeaf)) {
    const key = path(t);
    const list = groups.get(key) ?? [];
    list.push(t);
    groups.set(key, list);
  }
  const byName = (a: Theme, b: Theme) => a.name.localeCompare(b.name, 'ru');
  for (const [label, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0], 'ru'))) {
    const options = list.sort(byName).map((t) => el('option', { value: t.id }, t.name));
    if (label) append(select, el('optgroup', { label }, ...options));
    else append(select, ...options);
  }
  if (selected && themeById.get(selected)?.isLeaf) select.value = selected;
  return select;
}

function setCounter(node: HTMLElement, n: number): void {
  node.textContent = formatNumber(n);
  node.dataset.count = String(n);
  node.classList.toggle('zero', n === 0);
}

async function loadTriage(): Promise<void> {
  try {
    const data = await gql<{ appeals: Queue }>(triageQuery(!!me && can.seePersonalData(me)), { first: QUEUE_PAGE });
    triageTotal = data.appeals.totalCount;
    renderTriage(data.appeals.edges.map((e) => e.node));
  } catch (e) {
    clear(ui.triageList);
    append(ui.triageList, el('tr', null, el('td', { colspan: 6 }, errorBox(e))));
  }
}

function renderTriage(nodes: QueueNode[]): void {
  setCounter(ui.triageCount, triageTotal);
  clear(ui.triageList);
  if (!nodes.length) {
    append(ui.triageList, el('tr', { class: 'empty' }, el('td', { colspan: 6, class: 'muted' }, 'Очередь пуста: все темы определены.')));
    return;
  }
  for (const n of nodes) append(ui.triageList, triageRow(n));
}

function triageRow(n: QueueNode): HTMLTableRowElement {
  const select = themeSelect(n.theme?.id ?? null);
  const button = el('button', { type: 'button', class: 'primary small-btn' }, 'Подтвердить тему');
  const message = el('div', { class: 'row-message small' });
  const mayEdit = !!me && can.editAppeals(me);
  button.disabled = !select.value || !mayEdit;
  if (!mayEdit) {
    select.disabled = true;
    button.title = 'Недоступно для вашей роли';
  }
  select.addEventListener('change', () => (button.disabled = !select.value || !mayEdit));
  const author = n.author && !n.author.masked ? [n.author.fullName, n.author.phone, n.author.email, n.author.profileUrl].filter(Boolean).join(', ') : '';

  const confidence = n.themeConfidence == null ? null : `${Math.round(n.themeConfidence * 100)} %`;
  const suggested = n.theme
    ? el(
        'div',
        null,
        el('div', { class: 'suggested' }, n.theme.name),
        el('div', { class: 'muted small' }, [confidence, n.themeSource ? THEME_SOURCE[n.themeSource] ?? n.themeSource : null].filter(Boolean).join(' · ')),
        n.secondaryThemes?.length ? el('div', { class: 'small secondary-themes' }, `также: ${n.secondaryThemes.map((t) => t.name).join('; ')}`) : null,
      )
    : el('div', { class: 'muted' }, 'не определена', n.themeConfidence ? el('div', { class: 'small' }, `уверенность ${confidence}`) : null);

  const row = el(
    'tr',
    { 'data-id': n.id, class: 'triage-row' },
    el('td', { class: 'nowrap' }, formatDateTime(n.receivedAt), el('div', { class: 'muted small ext-id' }, n.externalId)),
    el('td', null, channelLabel(n.channel)),
    el('td', { class: 'text-cell' }, el('div', { class: 'appeal-text' }, n.text), placeLine(n),
      author ? el('div', { class: 'muted small appeal-author' }, `Автор: ${author}`) : null),
    el('td', null, suggested),
    el('td', null, select),
    el('td', null, button, message),
  );

  button.addEventListener('click', async () => {
    const themeId = select.value;
    if (!themeId) return;
    button.disabled = true;
    select.disabled = true;
    clear(message);
    try {
      const data = await gql<{ reclassifyAppeal: { id: string; theme: { name: string } | null; organization: { name: string } | null } }>(RECLASSIFY_MUTATION, {
        id: n.id,
        themeId,
      });
      const r = data.reclassifyAppeal;
      row.remove();
      triageTotal = Math.max(0, triageTotal - 1);
      setCounter(ui.triageCount, triageTotal);
      ui.triageStatus.textContent = `Обращение ${n.externalId}: тема «${r.theme?.name ?? '—'}»${r.organization ? `, исполнитель — ${r.organization.name}` : ''}.`;
      if (!ui.triageList.querySelector('tr.triage-row')) await loadTriage();
    } catch (e) {
      append(message, el('span', { class: 'inline-error' }, `Ошибка: ${errorText(e)}`));
      button.disabled = false;
      select.disabled = false;
    }
  });
  return row;
}

/** The address and how precisely it placed the appeal («ул. Ленина · точность места: улица (без дома)»). */
function placeLine(n: QueueNode): HTMLElement | null {
  const precision = n.placePrecision ? PLACE_PRECISION_LABELS[n.placePrecision] ?? n.placePrecision : null;
  const district = n.placePrecision === 'DISTRICT' && n.district ? ` «${n.district.name}»` : '';
  const parts = [n.address, precision ? `точность места: ${precision}${district}` : null].filter(Boolean);
  return parts.length ? el('div', { class: 'muted small place-precision' }, parts.join(' · ')) : null;
}

// ---------------------------------------------------------------- address review

let selectedPlace: { node: QueueNode; row: HTMLTableRowElement } | null = null;
let chosenPoint: [number, number] | null = null;
let placeMap: maplibregl.Map | null = null;
let placeMarker: maplibregl.Marker | null = null;
let mapReady: Promise<maplibregl.Map> | null = null;

async function loadPlaces(): Promise<void> {
  try {
    const data = await gql<{ appeals: Queue }>(PLACES_QUERY, { first: QUEUE_PAGE });
    placesTotal = data.appeals.totalCount;
    renderPlaces(data.appeals.edges.map((e) => e.node));
  } catch (e) {
    clear(ui.placesList);
    append(ui.placesList, el('tr', null, el('td', { colspan: 4 }, errorBox(e))));
  }
}

function renderPlaces(nodes: QueueNode[]): void {
  setCounter(ui.placesCount, placesTotal);
  const keep = selectedPlace?.node.id;
  clear(ui.placesList);
  // Until there is something to place (and no map yet), the editor column stays folded.
  ui.placesLayout.classList.toggle('no-editor', !nodes.length && !mapReady);
  if (!nodes.length) {
    append(ui.placesList, el('tr', { class: 'empty' }, el('td', { colspan: 4, class: 'muted' }, 'Очередь пуста: все адреса найдены.')));
    selectPlace(null);
    return;
  }
  let reselect: { node: QueueNode; row: HTMLTableRowElement } | null = null;
  for (const n of nodes) {
    const row = el(
      'tr',
      { 'data-id': n.id, class: 'place-row', tabindex: 0, 'aria-selected': 'false' },
      el('td', { class: 'nowrap' }, formatDateTime(n.receivedAt), el('div', { class: 'muted small ext-id' }, n.externalId)),
      el('td', null, channelLabel(n.channel)),
      el('td', { class: 'address' }, n.address ?? '—', n.district ? el('div', { class: 'muted small place-precision' }, `район: ${n.district.name}`) : null),
      el('td', { class: 'text-cell' }, el('div', { class: 'appeal-text' }, n.text)),
    );
    row.addEventListener('click', () => selectPlace({ node: n, row }));
    row.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        selectPlace({ node: n, row });
      }
    });
    append(ui.placesList, row);
    if (n.id === keep) reselect = { node: n, row };
  }
  if (keep) selectPlace(reselect);
}

function selectPlace(sel: { node: QueueNode; row: HTMLTableRowElement } | null): void {
  if (selectedPlace?.node.id !== sel?.node.id) {
    chosenPoint = null;
    placeMarker?.remove();
    placeMarker = null;
  }
  for (const r of ui.placesList.querySelectorAll('tr[aria-selected="true"]')) r.setAttribute('aria-selected', 'false');
  selectedPlace = sel;
  clear(ui.placeSelected);
  if (!sel) {
    ui.placeHint.hidden = false;
    ui.placeHint.textContent = placesTotal > 0 ? 'Выберите обращение в списке' : 'Очередь пуста';
    ui.placeCoords.textContent = '';
    ui.placeSave.disabled = true;
    return;
  }
  sel.row.setAttribute('aria-selected', 'true');
  append(ui.placeSelected, el('strong', null, sel.node.address ?? 'адрес не указан'), el('span', { class: 'muted' }, ` · ${sel.node.externalId}`));
  ui.placeHint.hidden = true;
  updateCoords();
  void ensurePlaceMap().catch((e) => {
    ui.placeHint.hidden = false;
    ui.placeHint.textContent = `Карта не может быть показана: ${errorText(e)}`;
  });
}

function updateCoords(): void {
  ui.placeCoords.textContent = chosenPoint
    ? `Точка: ${chosenPoint[1].toFixed(5)} с. ш., ${chosenPoint[0].toFixed(5)} в. д.`
    : 'Щёлкните по карте, чтобы указать место.';
  ui.placeSave.disabled = !(selectedPlace && chosenPoint) || !(me && can.editAppeals(me));
}


function ensurePlaceMap(): Promise<maplibregl.Map> {
  if (mapReady) return mapReady;
  mapReady = (async () => {
    const cfg = config ?? (config = await fetchConfig());
    const m = new maplibregl.Map({
      container: ui.placeMap,
      style: cfg.basemapStyleUrl ?? offlineStyle(),
      center: cfg.municipality.center,
      zoom: cfg.municipality.zoom,
      minZoom: 8,
      maxZoom: 19,
      dragRotate: false,
      pitchWithRotate: false,
      touchPitch: false,
      attributionControl: false,
      locale: RU_LOCALE,
    });
    m.touchZoomRotate.disableRotation();
    m.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    m.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
    m.getCanvas().style.cursor = 'crosshair';
    placeMap = m;
    window.__placeMap = m;
    await new Promise<void>((resolve) => (m.loaded() ? resolve() : m.once('load', () => resolve())));
    addMcuLayers(m);
    await (m.getSource(DISTRICTS_SOURCE) as GeoJSONSource).setData(districtFeatureCollection(districts));
    for (const d of districts) {
      const at = d.geometry ? labelPoint(d.geometry) : null;
      if (at) new maplibregl.Marker({ element: el('div', { class: 'district-label' }, d.name), anchor: 'center' }).setLngLat(at).addTo(m);
    }
    const all = mergeBounds(districts.map((d) => (d.geometry ? geometryBounds(d.geometry) : null)));
    if (all) m.fitBounds(all, { padding: 16, duration: 0 });
    m.on('click', (ev: MapMouseEvent) => setPoint([ev.lngLat.lng, ev.lngLat.lat]));
    ui.placeMap.dataset.loaded = '1';
    ui.placeHint.classList.add('over-map');
    return m;
  })();
  return mapReady;
}

function setPoint(p: [number, number]): void {
  if (!selectedPlace || !placeMap) return;
  chosenPoint = p;
  if (!placeMarker) {
    const marker = new maplibregl.Marker({ color: '#c92a2a', draggable: true }).setLngLat(p).addTo(placeMap);
    marker.on('dragend', () => {
      const ll = marker.getLngLat();
      chosenPoint = [ll.lng, ll.lat];
      updateCoords();
    });
    placeMarker = marker;
  } else placeMarker.setLngLat(p);
  clear(ui.placeResult);
  updateCoords();
}

async function savePlace(): Promise<void> {
  if (!selectedPlace || !chosenPoint) return;
  const { node, row } = selectedPlace;
  const [lon, lat] = chosenPoint;
  ui.placeSave.disabled = true;
  clear(ui.placeResult);
  try {
    const data = await gql<{ resolveAppealPlace: { id: string; placeStatus: string; district: { name: string } | null } }>(RESOLVE_PLACE_MUTATION, { id: node.id, lon, lat });
    const district = data.resolveAppealPlace.district?.name ?? null;
    row.remove();
    placesTotal = Math.max(0, placesTotal - 1);
    setCounter(ui.placesCount, placesTotal);
    selectPlace(null);
    append(
      ui.placeResult,
      el(
        'div',
        { class: 'ok-note', 'data-district': district ?? '' },
        `Место сохранено (${node.address ?? node.externalId}). `,
        district ? el('span', null, 'Район: ', el('strong', { class: 'district-name' }, district)) : el('span', null, 'Точка вне районов: район не определён.'),
      ),
    );
    if (!ui.placesList.querySelector('tr.place-row')) await loadPlaces();
  } catch (e) {
    append(ui.placeResult, el('div', { class: 'inline-error' }, `Ошибка: ${errorText(e)}`));
    ui.placeSave.disabled = false;
  }
}

// ---------------------------------------------------------------- start

async function init(): Promise<void> {
  // Signed-in users only; the role decides which parts of the page work.
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  if (!can.importAppeals(me)) {
    const card = byId('import-card');
    clear(card);
    append(card, el('h2', null, 'Импорт файла'), el('p', { class: 'muted', id: 'import-denied' }, `Импорт недоступен для роли «${me.roleLabel}».`));
  }
  renderChannelSelect();
  ui.file.addEventListener('change', showChosenFiles);
  ui.mapping.addEventListener('change', showChosenFiles);
  ui.mappingClear.addEventListener('click', () => {
    ui.mapping.value = '';
    showChosenFiles();
  });
  showChosenFiles();
  ui.form.addEventListener('submit', (ev) => void submitImport(ev));
  ui.placeSave.addEventListener('click', () => void savePlace());
  selectPlace(null);

  const configP = fetchConfig().then((c) => (config = c));
  const [t, d] = await Promise.allSettled([loadThemes(), loadDistricts(), configP]);
  if (t.status === 'fulfilled') themes = t.value;
  else showPageError(`темы не загружены: ${errorText(t.reason)}`);
  if (d.status === 'fulfilled') districts = d.value;
  else showPageError(`районы не загружены: ${errorText(d.reason)}`);
  if (config) document.title = `МЦУ Hub · приём обращений · ${config.municipality.name}`;

  await Promise.all([loadTriage(), loadPlaces(), loadBatches()]);
  document.body.dataset.ready = '1';
}

void init().catch((e) => {
  console.error(e);
  showPageError(errorText(e));
});
