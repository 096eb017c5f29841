// The territorial problem list on the client: types, Russian labels, GraphQL calls, export links
// and the view state kept in the URL hash (so a link restores the exact view, meeting mode included).
import type { Geometry, Point } from 'geojson';
import { gql } from './api';
import type { Role } from './auth';

export type ProblemStatus = 'DETECTED' | 'CONFIRMED' | 'IN_PROGRESS' | 'PLANNED' | 'RESOLVED' | 'REJECTED';
export type ProblemSource = 'APPEALS' | 'CUR' | 'DISCUSSION';
export type ProblemOrder = 'SCORE' | 'APPEALS' | 'GROWTH' | 'FIRST_SEEN' | 'LAST_APPEAL';

export const PROBLEM_STATUSES: ProblemStatus[] = ['DETECTED', 'CONFIRMED', 'IN_PROGRESS', 'PLANNED', 'RESOLVED', 'REJECTED'];
export const PROBLEM_SOURCES: ProblemSource[] = ['APPEALS', 'CUR', 'DISCUSSION'];
export const PROBLEM_ORDERS: ProblemOrder[] = ['SCORE', 'APPEALS', 'GROWTH', 'FIRST_SEEN', 'LAST_APPEAL'];

export const PROBLEM_STATUS_LABELS: Record<ProblemStatus, string> = {
  DETECTED: 'выявлена',
  CONFIRMED: 'подтверждена',
  IN_PROGRESS: 'в работе',
  PLANNED: 'включена в план',
  RESOLVED: 'решена',
  REJECTED: 'отклонена',
};

export const PROBLEM_STATUS_COLORS: Record<ProblemStatus, string> = {
  DETECTED: '#e8590c',
  CONFIRMED: '#d6336c',
  IN_PROGRESS: '#f2b705',
  PLANNED: '#7048e8',
  RESOLVED: '#2f9e44',
  REJECTED: '#868e96',
};

export const SOURCE_LABELS: Record<ProblemSource, string> = {
  APPEALS: 'обращения',
  CUR: 'тепловая карта ЦУР',
  DISCUSSION: 'общественное обсуждение',
};

export const ORDER_LABELS: Record<ProblemOrder, string> = {
  SCORE: 'по баллу',
  APPEALS: 'по числу обращений',
  GROWTH: 'по росту',
  FIRST_SEEN: 'сначала новые',
  LAST_APPEAL: 'по последнему обращению',
};

/** Lifecycle transitions the server allows (server/problems/types.ts TRANSITIONS). */
export const TRANSITIONS: Record<ProblemStatus, ProblemStatus[]> = {
  DETECTED: ['CONFIRMED', 'REJECTED'],
  CONFIRMED: ['IN_PROGRESS', 'PLANNED', 'RESOLVED', 'REJECTED'],
  IN_PROGRESS: ['PLANNED', 'RESOLVED', 'CONFIRMED'],
  PLANNED: ['IN_PROGRESS', 'RESOLVED'],
  RESOLVED: ['CONFIRMED'],
  REJECTED: ['DETECTED'],
};

/** Button text for a transition (from → to). */
export function transitionLabel(from: ProblemStatus, to: ProblemStatus): string {
  if (to === 'CONFIRMED') return from === 'DETECTED' ? 'Подтвердить' : from === 'RESOLVED' ? 'Открыть снова' : 'Вернуть в подтверждённые';
  if (to === 'IN_PROGRESS') return 'Взять в работу';
  if (to === 'PLANNED') return 'Включить в план';
  if (to === 'RESOLVED') return 'Решена';
  if (to === 'REJECTED') return 'Отклонить…';
  return 'Вернуть в выявленные';
}

export const EVENT_LABELS: Record<string, string> = {
  DETECTED: 'выявлена',
  STATUS: 'статус',
  ORGANIZATION: 'ответственный',
  COMMENT: 'комментарий',
  PLAN_DUE: 'плановый срок',
  REOPENED: 'открыта снова',
  VANISHED: 'не выявлена при пересчёте',
  RETURNED: 'выявлена снова',
};

/** Roles that may act on problems (server/auth/roles.ts: ANSWERERS for status and comments, APPEAL_EDITORS for the rest). */
const ANSWERERS: Role[] = ['CURATOR', 'COORDINATOR', 'BLOCK_LEAD', 'WORKER', 'ORG_OFFICER'];
const EDITORS: Role[] = ['CURATOR', 'COORDINATOR', 'BLOCK_LEAD', 'WORKER'];
export const mayChangeStatus = (role: Role) => ANSWERERS.includes(role);
export const mayAssign = (role: Role) => EDITORS.includes(role);

export interface ScoreFactor {
  factor: string;
  label: string;
  value: number;
  normalized: number;
  weight: number;
  points: number;
}

export interface ProblemNode {
  id: string;
  title: string;
  source: ProblemSource;
  status: ProblemStatus;
  statusLabel: string;
  score: number;
  rankCity: number | null;
  rankDistrict: number | null;
  appealCount: number;
  authorCount: number;
  growth: number;
  hull: Geometry;
  center: Point;
  theme: { id: string; name: string } | null;
  district: { id: string; name: string } | null;
  breakdown: ScoreFactor[];
}

export interface ProblemAppeal {
  id: string;
  receivedAt: string;
  channel: string;
  status: string;
  address: string | null;
  text: string | null;
  point: Point | null;
}

export interface ProblemDetail extends ProblemNode {
  periodFrom: string;
  periodTo: string;
  firstSeenAt: string;
  lastSeenAt: string;
  firstAppealAt: string | null;
  lastAppealAt: string | null;
  reopenedCount: number;
  resolvedAt: string | null;
  planDueAt: string | null;
  organization: { id: string; name: string } | null;
  history: { runId: string; at: string; appealCount: number; authorCount: number; score: number }[];
  events: { at: string; actor: string; kind: string; fromValue: string | null; toValue: string | null; comment: string | null }[];
  appeals: { totalCount: number; edges: { node: ProblemAppeal }[] };
}

export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

export interface ProblemFilter {
  districtIds?: string[];
  themeIds?: string[];
  statuses?: ProblemStatus[];
  sources?: ProblemSource[];
  text?: string;
  bbox?: BBox;
}

export interface ProblemPage {
  totalCount: number;
  hasNextPage: boolean;
  nodes: ProblemNode[];
}

const NODE_FIELDS = `id title source status statusLabel score rankCity rankDistrict appealCount authorCount growth hull center
  theme { id name } district { id name } breakdown { factor label value normalized weight points }`;

/** JSON scalars may arrive as objects or as strings. */
function json<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

function fixNode<T extends ProblemNode>(n: T): T {
  return { ...n, hull: json<Geometry>(n.hull), center: json<Point>(n.center), score: Number(n.score) };
}

export async function loadProblems(filter: ProblemFilter, orderBy: ProblemOrder, first: number, signal?: AbortSignal): Promise<ProblemPage> {
  const data = await gql<{ problems: { totalCount: number; hasNextPage: boolean; edges: { node: ProblemNode }[] } }>(
    `query Problems($filter: ProblemFilter, $orderBy: ProblemOrder, $first: Int) {
      problems(filter: $filter, orderBy: $orderBy, first: $first) { totalCount hasNextPage edges { node { ${NODE_FIELDS} } } } }`,
    { filter, orderBy, first },
    signal,
  );
  return { totalCount: data.problems.totalCount, hasNextPage: data.problems.hasNextPage, nodes: data.problems.edges.map((e) => fixNode(e.node)) };
}

const DETAIL_FIELDS = `${NODE_FIELDS} periodFrom periodTo firstSeenAt lastSeenAt firstAppealAt lastAppealAt reopenedCount resolvedAt planDueAt
  organization { id name } history { runId at appealCount authorCount score } events { at actor kind fromValue toValue comment }
  appeals(first: 50) { totalCount edges { node { id receivedAt channel status address text point } } }`;

export async function loadProblem(id: string, signal?: AbortSignal): Promise<ProblemDetail | null> {
  const data = await gql<{ problem: ProblemDetail | null }>(`query Problem($id: ID!) { problem(id: $id) { ${DETAIL_FIELDS} } }`, { id }, signal);
  if (!data.problem) return null;
  const p = fixNode(data.problem);
  for (const e of p.appeals.edges) e.node.point = e.node.point ? json<Point>(e.node.point) : null;
  return p;
}

export async function setProblemStatus(id: string, status: ProblemStatus, comment: string | null): Promise<void> {
  await gql(`mutation S($id: ID!, $status: ProblemStatus!, $comment: String) { setProblemStatus(id: $id, status: $status, comment: $comment) { id status } }`, { id, status, comment });
}

export async function assignProblem(id: string, organizationId: string, comment: string | null): Promise<void> {
  await gql(`mutation A($id: ID!, $org: ID!, $comment: String) { assignProblem(id: $id, organizationId: $org, comment: $comment) { id } }`, { id, org: organizationId, comment });
}

export async function commentProblem(id: string, comment: string): Promise<void> {
  await gql(`mutation C($id: ID!, $comment: String!) { commentProblem(id: $id, comment: $comment) { id } }`, { id, comment });
}

export async function setProblemPlanDue(id: string, planDueAt: string | null, comment: string | null): Promise<void> {
  await gql(`mutation P($id: ID!, $due: String, $comment: String) { setProblemPlanDue(id: $id, planDueAt: $due, comment: $comment) { id } }`, { id, due: planDueAt, comment });
}

export interface Organization {
  id: string;
  name: string;
  shortName: string | null;
}

export async function loadOrganizations(): Promise<Organization[]> {
  return (await gql<{ organizations: Organization[] }>(`query Orgs { organizations { id name shortName } }`)).organizations;
}

/** Export link of the list with the current filter and order (the server takes the same parameters). */
export function exportUrl(format: 'xlsx' | 'csv' | 'geojson', f: ProblemFilter, order: ProblemOrder): string {
  const p = new URLSearchParams();
  if (f.statuses?.length) p.set('statuses', f.statuses.join(','));
  if (f.sources?.length) p.set('sources', f.sources.join(','));
  if (f.districtIds?.length) p.set('districtIds', f.districtIds.join(','));
  if (f.themeIds?.length) p.set('themeIds', f.themeIds.join(','));
  if (f.text) p.set('text', f.text);
  if (f.bbox) p.set('bbox', [f.bbox.minLon, f.bbox.minLat, f.bbox.maxLon, f.bbox.maxLat].map((v) => v.toFixed(6)).join(','));
  if (order !== 'SCORE') p.set('orderBy', order);
  const q = p.toString();
  return `/exports/problems.${format}${q ? `?${q}` : ''}`;
}

// ---------------------------------------------------------------- view state in the URL hash

/** Everything a link restores: the map view, the list's filter, the selected problem, meeting mode. */
export interface ViewState {
  z?: number;
  lon?: number;
  lat?: number;
  district?: string;
  theme?: string;
  status?: ProblemStatus;
  source?: ProblemSource;
  order: ProblemOrder;
  q?: string;
  /** «только в границах карты» */
  inView: boolean;
  problem?: string;
  meeting: boolean;
  /** 1-based position in the meeting's list. */
  step?: number;
  /** Number of problems the meeting walks through. */
  n?: number;
  /** The rectangle the meeting's list was taken in (frozen when it starts with «только в границах карты»). */
  mbbox?: BBox;
}

const num = (v: string | null, min: number, max: number): number | undefined => {
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
};
const id = (v: string | null): string | undefined => (v && /^\d{1,12}$/.test(v) ? v : undefined);

export function parseHash(hash: string): ViewState {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const status = p.get('status') as ProblemStatus | null;
  const source = p.get('source') as ProblemSource | null;
  const order = p.get('order') as ProblemOrder | null;
  let mbbox: BBox | undefined;
  const mb = p.get('mbbox')?.split(',').map(Number);
  if (mb && mb.length === 4 && mb.every(Number.isFinite) && mb[0] <= mb[2] && mb[1] <= mb[3]) mbbox = { minLon: mb[0], minLat: mb[1], maxLon: mb[2], maxLat: mb[3] };
  return {
    z: num(p.get('z'), 0, 22),
    lon: num(p.get('lon'), -180, 180),
    lat: num(p.get('lat'), -85, 85),
    district: id(p.get('district')),
    theme: id(p.get('theme')),
    status: status && PROBLEM_STATUSES.includes(status) ? status : undefined,
    source: source && PROBLEM_SOURCES.includes(source) ? source : undefined,
    order: order && PROBLEM_ORDERS.includes(order) ? order : 'SCORE',
    q: p.get('q')?.slice(0, 200) || undefined,
    inView: p.get('inview') === '1',
    problem: id(p.get('problem')),
    meeting: p.get('meeting') === '1',
    step: num(p.get('step'), 1, 500),
    n: num(p.get('n'), 1, 100),
    mbbox,
  };
}

export function formatHash(s: ViewState): string {
  const p = new URLSearchParams();
  if (s.meeting) {
    p.set('meeting', '1');
    if (s.step) p.set('step', String(s.step));
    if (s.n) p.set('n', String(s.n));
    if (s.mbbox) p.set('mbbox', [s.mbbox.minLon, s.mbbox.minLat, s.mbbox.maxLon, s.mbbox.maxLat].map((v) => v.toFixed(5)).join(','));
  }
  if (s.problem) p.set('problem', s.problem);
  if (s.district) p.set('district', s.district);
  if (s.theme) p.set('theme', s.theme);
  if (s.status) p.set('status', s.status);
  if (s.source) p.set('source', s.source);
  if (s.order !== 'SCORE') p.set('order', s.order);
  if (s.q) p.set('q', s.q);
  if (s.inView) p.set('inview', '1');
  if (s.z !== undefined && s.lon !== undefined && s.lat !== undefined) {
    p.set('z', s.z.toFixed(2));
    p.set('lon', s.lon.toFixed(5));
    p.set('lat', s.lat.toFixed(5));
  }
  return p.toString();
}

// ---------------------------------------------------------------- small formatting helpers

export function formatScore(v: number): string {
  return v.toLocaleString('ru-RU', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
}

/** «↑ +40 %», «↓ −25 %», «→» — growth against the previous period of the same length. */
export function growthText(g: number): { arrow: string; text: string; cls: 'up' | 'down' | 'flat' } {
  if (!Number.isFinite(g) || Math.abs(g) < 0.05) return { arrow: '→', text: 'без изменений', cls: 'flat' };
  const pct = Math.round(g * 100);
  return g > 0 ? { arrow: '↑', text: `+${pct.toLocaleString('ru-RU')} %`, cls: 'up' } : { arrow: '↓', text: `−${Math.abs(pct).toLocaleString('ru-RU')} %`, cls: 'down' };
}

/** A factor's raw value as people read it: shares in per cent, counts as numbers. */
export function factorValue(f: ScoreFactor): string {
  if (['repeats', 'overdue', 'lowSatisfaction'].includes(f.factor)) return `${Math.round(f.value * 100)} %`;
  if (f.factor === 'growth') return growthText(f.value).text;
  if (f.factor === 'cur') return `${Math.round(f.value * 100)} % макс.`;
  if (f.factor === 'perCapita') return `${f.value.toLocaleString('ru-RU', { maximumFractionDigits: 2 })} на 1 000`;
  return f.value.toLocaleString('ru-RU', { maximumFractionDigits: 2 });
}

/** The factors that gave the most points, best first. */
export function topReasons(p: ProblemNode, n: number): ScoreFactor[] {
  return [...p.breakdown].filter((f) => f.points > 0).sort((a, b) => b.points - a.points).slice(0, n);
}
