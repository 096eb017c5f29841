// Minimal GraphQL client and the queries the map page needs.
import type { FeatureCollection, MultiPolygon, Point, Polygon } from 'geojson';
import { toLogin } from './auth';

export type Channel = 'INCIDENT_MANAGEMENT' | 'POS' | 'SOCIAL' | 'MESSENGER' | 'DIRECT' | 'PUBLIC_DISCUSSION' | 'OFFICIAL_PAGE' | 'OPEN311';
export type AppealStatus = 'NEW' | 'IN_PROGRESS' | 'ANSWERED' | 'CLOSED' | 'REJECTED';
export type AppealGroupBy = 'DISTRICT' | 'THEME' | 'CHANNEL' | 'STATUS' | 'ORGANIZATION';

export interface AppConfig {
  basemapStyleUrl: string | null;
  municipality: { code: string; name: string; center: [number, number]; zoom: number };
}

export interface AppealFilter {
  from?: string;
  to?: string;
  districtIds?: string[];
  themeIds?: string[];
  channels?: Channel[];
  statuses?: AppealStatus[];
  organizationIds?: string[];
  bbox?: { minLon: number; minLat: number; maxLon: number; maxLat: number };
  near?: { lon: number; lat: number; radiusMeters: number };
  text?: string;
}

export interface District {
  id: string;
  code: string;
  name: string;
  kind: string | null;
  population: number | null;
  approximate: boolean | null;
  geometry: MultiPolygon | Polygon | null;
}

export interface Theme {
  id: string;
  code: string;
  name: string;
  isLeaf: boolean;
  parentId: string | null;
}

export interface AppealPointProps {
  id: string;
  themeId: string | null;
  themeName: string | null;
  status: AppealStatus;
  channel: Channel;
  receivedAt: string;
  // Optional extras, used when the server includes them.
  address?: string | null;
  text?: string | null;
}

export type AppealPoints = FeatureCollection<Point, AppealPointProps>;

export interface CountRow {
  key: string | null;
  label: string | null;
  count: number;
}

export interface AppealNode {
  /** Card-only fields (loadAppeal): other themes of the text, place precision, links to earlier appeals. */
  secondaryThemes?: { name: string }[];
  placePrecision?: string | null;
  duplicateOf?: { id: string; externalId: string | null } | null;
  repeatOf?: { id: string; externalId: string | null } | null;
  id: string;
  channel: Channel;
  externalId: string | null;
  receivedAt: string;
  text: string | null;
  address: string | null;
  status: AppealStatus;
  district: { id: string; name: string } | null;
  theme: { id: string; name: string } | null;
  organization: { id: string; name: string } | null;
  /** Deadlines (asked for in the single appeal's card). */
  deadline?: AppealDeadline;
  /** Only asked for by roles that process appeals (each read is logged by the server). */
  author?: { masked: boolean; fullName: string | null; phone: string | null; email: string | null; profileUrl: string | null } | null;
  /** Only in the single appeal's card: the answer and its verdict (server/quality). */
  answerText?: string | null;
  answerQuality?: import('./answerQuality').AnswerQuality | null;
}

export type DeadlineState = 'ON_TIME' | 'AT_RISK' | 'OVERDUE' | 'ANSWERED_ON_TIME' | 'ANSWERED_LATE';

export interface AppealDeadline {
  urgent: boolean;
  deadlineState: DeadlineState | null;
  firstReactionDueAt: string | null;
  answerDueAt: string | null;
  answeredAt: string | null;
  workingMinutesToFirstReaction: number | null;
  workingMinutesToAnswer: number | null;
  deadlineRule: { extensionMax: number | null; extensionUnit: string | null; extensionNotice: boolean; extensionFrom: 'DUE' | 'RECEIVED' } | null;
  events: { kind: string; at: string; fromValue: string | null; toValue: string | null; comment: string | null; actor: string }[];
}

const DEADLINE_FIELDS = `urgent deadlineState firstReactionDueAt answerDueAt answeredAt workingMinutesToFirstReaction workingMinutesToAnswer
  deadlineRule { extensionMax extensionUnit extensionNotice extensionFrom } events { kind at fromValue toValue comment actor }`;

export interface AppealPage {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { cursor: string; node: AppealNode }[];
}

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; field?: string };
}

/** An error whose message is already fit to show to the user (Russian framing added by the UI). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export async function fetchConfig(signal?: AbortSignal): Promise<AppConfig> {
  let res: Response;
  try {
    res = await fetch('/config.json', { headers: { accept: 'application/json' }, credentials: 'same-origin', signal });
  } catch {
    throw new ApiError('сервер недоступен (не удалось получить /config.json)');
  }
  if (!res.ok) throw new ApiError(`не удалось получить настройки (HTTP ${res.status})`);
  return (await res.json()) as AppConfig;
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError('сервер недоступен');
  }
  if (res.status === 401) {
    // The session ended (sign-out elsewhere, expiry): sign in again and come back.
    toLogin();
    throw new ApiError('требуется вход в систему', 'UNAUTHENTICATED');
  }
  let body: { data?: T; errors?: GraphQLErrorShape[] };
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`неверный ответ сервера (HTTP ${res.status})`);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    const more = body.errors.length > 1 ? ` (и ещё ${body.errors.length - 1})` : '';
    throw new ApiError(first.message + more, first.extensions?.code, first.extensions?.field);
  }
  if (!res.ok || !body.data) throw new ApiError(`запрос не выполнен (HTTP ${res.status})`);
  return body.data;
}

/** JSON scalars may arrive as objects or, from some servers, as strings. */
function asJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export async function loadDistricts(signal?: AbortSignal): Promise<District[]> {
  const data = await gql<{ districts: District[] }>(
    `query Districts { districts { id code name kind population approximate geometry } }`,
    {},
    signal,
  );
  return data.districts.map((d) => ({ ...d, geometry: d.geometry ? asJson<MultiPolygon | Polygon>(d.geometry) : null }));
}

export async function loadThemes(signal?: AbortSignal): Promise<Theme[]> {
  const data = await gql<{ themes: Theme[] }>(`query Themes { themes { id code name isLeaf parentId } }`, {}, signal);
  return data.themes;
}

export async function loadPoints(filter: AppealFilter, limit: number, signal?: AbortSignal): Promise<AppealPoints> {
  const data = await gql<{ appealsGeoJSON: unknown }>(
    `query Points($filter: AppealFilter, $limit: Int) { appealsGeoJSON(filter: $filter, limit: $limit) }`,
    { filter, limit },
    signal,
  );
  const fc = asJson<AppealPoints | null>(data.appealsGeoJSON);
  return fc && Array.isArray(fc.features) ? fc : { type: 'FeatureCollection', features: [] };
}

export async function loadCounts(filter: AppealFilter, groupBy: AppealGroupBy, signal?: AbortSignal): Promise<CountRow[]> {
  const data = await gql<{ appealCounts: CountRow[] }>(
    `query Counts($filter: AppealFilter, $groupBy: AppealGroupBy!) { appealCounts(filter: $filter, groupBy: $groupBy) { key label count } }`,
    { filter, groupBy },
    signal,
  );
  return data.appealCounts;
}

/** The verdict on an answer (server/quality), asked for in the appeal card and on the «Отписки» page. */
export const ANSWER_QUALITY_FIELDS = 'answerQuality { verdict modelVerdict score reasons { code text effect } templateSize overridden overriddenBy overrideComment }';

const APPEAL_FIELDS = `id channel externalId receivedAt text address status district { id name } theme { id name } organization { id name }`;

export async function loadPage(filter: AppealFilter, first: number, after?: string, signal?: AbortSignal): Promise<AppealPage> {
  const data = await gql<{ appeals: AppealPage }>(
    `query Page($filter: AppealFilter, $first: Int, $after: String) { appeals(filter: $filter, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${APPEAL_FIELDS} } } } }`,
    { filter, first, after: after ?? null },
    signal,
  );
  return data.appeals;
}

let singleAppealSupported = true;

/**
 * One appeal's details for the popup. Uses `appeal(id:)` when the schema has it; otherwise
 * looks the appeal up by a tiny `near` filter around its point and picks it by id.
 */
export async function loadAppeal(id: string, lonLat: [number, number], withAuthor = false): Promise<AppealNode | null> {
  if (singleAppealSupported) {
    try {
      const author = withAuthor ? ' author { masked fullName phone email profileUrl }' : '';
      const card = ' secondaryThemes { name } placePrecision duplicateOf { id externalId } repeatOf { id externalId }';
      const data = await gql<{ appeal: (AppealNode & AppealDeadline) | null }>(
        `query Appeal($id: ID!) { appeal(id: $id) { ${APPEAL_FIELDS}${card} ${DEADLINE_FIELDS}${author} answerText ${ANSWER_QUALITY_FIELDS} } }`, { id });
      const a = data.appeal;
      if (a) a.deadline = { urgent: a.urgent, deadlineState: a.deadlineState, firstReactionDueAt: a.firstReactionDueAt, answerDueAt: a.answerDueAt, answeredAt: a.answeredAt,
        workingMinutesToFirstReaction: a.workingMinutesToFirstReaction, workingMinutesToAnswer: a.workingMinutesToAnswer, deadlineRule: a.deadlineRule, events: a.events };
      return a;
    } catch (e) {
      const code = (e as ApiError).code;
      if (code && code !== 'GRAPHQL_VALIDATION_FAILED') throw e;
      if (!code && !/appeal/i.test((e as Error).message)) throw e;
      singleAppealSupported = false;
    }
  }
  const page = await loadPage({ near: { lon: lonLat[0], lat: lonLat[1], radiusMeters: 3 } }, 50);
  return page.edges.find((e) => e.node.id === id)?.node ?? null;
}

// ---------------------------------------------------------------- heat map

export type HeatLayerKind = 'APPEALS' | 'CUR' | 'MERGED';

export interface DistrictStat {
  district: { id: string; name: string; population: number | null };
  count: number;
  per1000: number | null;
  previousCount: number | null;
  change: number | null;
  changePercent: number | null;
}

/** The heat map of the view: only its scale (the cells come as vector tiles). */
export async function loadHeatSummary(
  bbox: { minLon: number; minLat: number; maxLon: number; maxLat: number },
  zoom: number,
  filter: AppealFilter,
  layer: HeatLayerKind,
  signal?: AbortSignal,
): Promise<{ maxValue: number; total: number; cellSizeMeters: number }> {
  const data = await gql<{ heatmap: { maxValue: number; total: number; cellSizeMeters: number } }>(
    `query HeatSummary($bbox: BBoxInput!, $zoom: Int!, $filter: AppealFilter, $layer: HeatLayerKind) {
      heatmap(bbox: $bbox, zoom: $zoom, filter: $filter, layer: $layer) { maxValue total cellSizeMeters } }`,
    { bbox, zoom, filter, layer },
    signal,
  );
  return data.heatmap;
}

export async function loadDistrictStats(filter: AppealFilter, signal?: AbortSignal): Promise<DistrictStat[]> {
  const data = await gql<{ districtStats: { districts: DistrictStat[] } }>(
    `query DistrictStats($filter: AppealFilter) { districtStats(filter: $filter) {
      districts { district { id name population } count per1000 previousCount change changePercent } } }`,
    { filter },
    signal,
  );
  return data.districtStats.districts;
}
