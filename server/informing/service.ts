import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { readAuthors } from '../auth/personal-data.js';
import { scopeSql, type RowScope } from '../auth/scope.js';
import type { AuthUser } from '../auth/users.js';
import { parseId, parseIds } from '../graphql/ids.js';
import { localDateTimeText } from '../util/timezone.js';
import {
  BUILTIN_TEMPLATES, CHANNEL_LABELS, CHANNEL_MAX, PLACEHOLDERS, SOURCE_LABELS, checkPlainText, renderTemplate, validateTemplate,
  type InformingChannelCode, type SourceKindCode, type TemplateDef,
} from './templates.js';
import {
  AudienceKind, InformingChannel, InformingSourceKind, type Audience, type AudienceInput, type CallbackList, type Informing, type InformingConnection,
  type InformingDraft, type InformingPlaceholder, type InformingSourceInput, type InformingTemplate, type PlannedWorks, type PlannedWorksInput,
  type RecordInformingInput,
} from './types.js';

const MAX_ADDRESSES = 100;
const MAX_VERTICES = 2000;
const MAX_CALLBACK = 5000;
/** Around a problem's outline (its hull of appeal points may be a point or a line). */
const PROBLEM_MARGIN_M = 100;

function validDay(v: unknown): v is string {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v)) return false;
  const t = Date.parse(`${v}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === v;
}
const addDays = (d: string, n: number) => new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const ruDate = (d: string) => d.split('-').reverse().join('.');

/** A GeoJSON Polygon / MultiPolygon with finite lon/lat coordinates and bounded size, or an InputError naming `field`. */
export function checkPolygon(field: string, g: Record<string, unknown> | undefined | null): string {
  if (!g || typeof g !== 'object') throw new InputError(field, 'ожидается GeoJSON Polygon или MultiPolygon');
  const type = g.type;
  if (type !== 'Polygon' && type !== 'MultiPolygon') throw new InputError(`${field}.type`, `ожидается Polygon или MultiPolygon, получено «${String(type).slice(0, 30)}»`);
  const polys = (type === 'Polygon' ? [g.coordinates] : g.coordinates) as unknown;
  if (!Array.isArray(polys) || !polys.length) throw new InputError(`${field}.coordinates`, 'нет координат');
  let n = 0;
  polys.forEach((rings, pi) => {
    if (!Array.isArray(rings) || !rings.length) throw new InputError(`${field}.coordinates[${pi}]`, 'нет колец');
    rings.forEach((ring: unknown, ri: number) => {
      const at = type === 'Polygon' ? `${field}.coordinates[${ri}]` : `${field}.coordinates[${pi}][${ri}]`;
      if (!Array.isArray(ring) || ring.length < 4) throw new InputError(at, 'кольцо из не меньше 4 точек (первая = последняя)');
      ring.forEach((pt: unknown, k: number) => {
        if (++n > MAX_VERTICES) throw new InputError(field, `не больше ${MAX_VERTICES} вершин`);
        if (!Array.isArray(pt) || pt.length < 2 || !pt.slice(0, 2).every((c) => typeof c === 'number' && Number.isFinite(c))
          || Math.abs(pt[0] as number) > 180 || Math.abs(pt[1] as number) > 90) throw new InputError(`${at}[${k}]`, 'точка — [долгота, широта] в градусах');
      });
      const [a, b] = [ring[0] as number[], ring[ring.length - 1] as number[]];
      if (a[0] !== b[0] || a[1] !== b[1]) throw new InputError(at, 'кольцо не замкнуто: первая точка должна совпадать с последней');
    });
  });
  return JSON.stringify({ type, coordinates: g.coordinates });
}

interface ResolvedAudience {
  /** SQL over `appeal a` (with `?`), params. */
  where: string; params: unknown[];
  /** SQL giving the geometry of the place for the map (or null). */
  areaSql: string | null; areaParams: unknown[];
  from: string; to: string;
  residents: number | null;
  description: string[];
  addresses: string[];
  /** Without the address clause (to tell which addresses matched nothing). */
  base?: { where: string; params: unknown[] };
  spec: Record<string, unknown>;
}

interface SourceInfo { kind: SourceKindCode; id: number | null; title: string; values: Record<string, string | null> }

export class InformingService {
  private readonly municipalityId: number;
  constructor(private readonly em: EntityManager, private readonly who: AuditActor & { actor: string; user?: AuthUser; scope?: RowScope }) {
    this.municipalityId = who.municipalityId;
  }

  private async municipality(): Promise<{ name: string; timezone: string; last: string | null }> {
    const [m] = await query<{ name: string; timezone: string; last: string | null }>(this.em,
      `SELECT m.name, m.timezone, (SELECT to_char(max(a.received_at) AT TIME ZONE m.timezone, 'YYYY-MM-DD') FROM appeal a WHERE a.municipality_id = m.id) AS last
         FROM municipality m WHERE m.id = ?`, [this.municipalityId]);
    return m;
  }

  // ---------- templates ----------

  async templates(): Promise<InformingTemplate[]> {
    const stored = await query<{ code: string; channel: InformingChannelCode; source_kinds: SourceKindCode[]; title: string; body: string; updated_by: string }>(this.em,
      'SELECT code, channel, source_kinds, title, body, updated_by FROM informing_template WHERE municipality_id = ? ORDER BY code', [this.municipalityId]);
    const out: InformingTemplate[] = [];
    const seen = new Set<string>();
    for (const b of BUILTIN_TEMPLATES) {
      const s = stored.find((x) => x.code === b.code);
      seen.add(b.code);
      out.push(this.toTemplate(s ? { code: s.code, channel: s.channel, sourceKinds: s.source_kinds, title: s.title, body: s.body } : b, !s, s?.updated_by ?? null));
    }
    for (const s of stored) if (!seen.has(s.code)) out.push(this.toTemplate({ code: s.code, channel: s.channel, sourceKinds: s.source_kinds, title: s.title, body: s.body }, false, s.updated_by));
    return out;
  }

  private toTemplate(t: TemplateDef, builtin: boolean, updatedBy: string | null): InformingTemplate {
    return { code: t.code, channel: t.channel as InformingChannel, channelLabel: CHANNEL_LABELS[t.channel], sourceKinds: t.sourceKinds as InformingSourceKind[], title: t.title,
      body: t.body, maxLength: CHANNEL_MAX[t.channel], builtin, updatedBy };
  }

  placeholders(): InformingPlaceholder[] {
    return PLACEHOLDERS.map((p) => ({ key: p.key, label: p.label, sources: p.sources as InformingSourceKind[] }));
  }

  async setTemplate(code: string, channel: InformingChannel, sourceKinds: InformingSourceKind[], title: string, body: string): Promise<InformingTemplate> {
    if (!/^[a-z0-9_.-]{1,64}$/.test(code)) throw new InputError('code', 'код шаблона — латинские буквы, цифры, «.», «_», «-», до 64 символов');
    if (!sourceKinds.length || sourceKinds.length > 4) throw new InputError('sourceKinds', 'укажите хотя бы один вид повода');
    const t: TemplateDef = { code, channel, sourceKinds: [...new Set(sourceKinds)], title: checkPlainText('title', title, 200), body: checkPlainText('body', body, CHANNEL_MAX[channel]) };
    validateTemplate(t);
    const before = (await this.templates()).find((x) => x.code === code) ?? null;
    await this.em.transactional(async (em) => {
      await query(em, `INSERT INTO informing_template (municipality_id, code, channel, source_kinds, title, body, updated_by) VALUES (?, ?, ?, ?::text[], ?, ?, ?)
        ON CONFLICT (municipality_id, code) DO UPDATE SET channel = excluded.channel, source_kinds = excluded.source_kinds, title = excluded.title, body = excluded.body,
          updated_by = excluded.updated_by, updated_at = now()`, [this.municipalityId, code, channel, t.sourceKinds, t.title, t.body, this.who.actor]);
      await audit(em, this.who, { entity: 'informing_template', entityId: code, action: before ? 'update' : 'create',
        before: before ? { channel: before.channel, sourceKinds: before.sourceKinds, title: before.title, body: before.body } : undefined, after: { channel, sourceKinds: t.sourceKinds, title: t.title, body: t.body } });
    });
    return (await this.templates()).find((x) => x.code === code)!;
  }

  // ---------- planned works ----------

  async plannedWorksList(first = 100): Promise<PlannedWorks[]> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw new InputError('first', 'от 1 до 500');
    const rows = await query<PwRow>(this.em, `${PW_SELECT} WHERE w.municipality_id = ? ORDER BY w.starts_at DESC, w.id DESC LIMIT ?`, [this.municipalityId, first]);
    return rows.map(toPw);
  }

  async plannedWorks(id: number): Promise<PlannedWorks | null> {
    const [r] = await query<PwRow>(this.em, `${PW_SELECT} WHERE w.municipality_id = ? AND w.id = ?`, [this.municipalityId, id]);
    return r ? toPw(r) : null;
  }

  async createPlannedWorks(input: PlannedWorksInput): Promise<PlannedWorks> {
    const title = checkPlainText('input.title', input.title, 300);
    const address = checkPlainText('input.address', input.address, 300);
    const description = input.description?.trim() ? checkPlainText('input.description', input.description, 2000) : null;
    const ref = async (field: string, table: string, v?: string | null) => {
      if (v == null || v === '') return null;
      const id = parseId(field, v);
      const [r] = await query(this.em, `SELECT 1 FROM ${table} WHERE id = ? AND municipality_id = ?`, [id, this.municipalityId]);
      if (!r) throw new InputError(field, `нет такого: ${v}`);
      return id;
    };
    const districtId = await ref('input.districtId', 'district', input.districtId);
    const themeId = await ref('input.themeId', 'theme', input.themeId);
    const organizationId = await ref('input.organizationId', 'organization', input.organizationId);
    const start = input.startsAt instanceof Date ? input.startsAt : new Date(input.startsAt);
    const end = input.endsAt instanceof Date ? input.endsAt : new Date(input.endsAt);
    if (Number.isNaN(start.getTime())) throw new InputError('input.startsAt', 'неверная дата');
    if (Number.isNaN(end.getTime())) throw new InputError('input.endsAt', 'неверная дата');
    if (end < start) throw new InputError('input.endsAt', 'окончание раньше начала');
    if (end.getTime() - start.getTime() > 366 * 86_400_000) throw new InputError('input.endsAt', 'работы длиннее года: разбейте на этапы');
    const area = input.area ? checkPolygon('input.area', input.area) : null;
    if (area) await this.checkValidArea('input.area', area);
    const id = await this.em.transactional(async (em) => {
      const [r] = await query<{ id: number }>(em, `INSERT INTO planned_works (municipality_id, title, description, address, district_id, theme_id, organization_id, area, starts_at, ends_at, created_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, CASE WHEN ?::text IS NULL THEN NULL ELSE ST_SetSRID(ST_GeomFromGeoJSON(?::text), 4326) END, ?, ?, ?) RETURNING id`,
        [this.municipalityId, title, description, address, districtId, themeId, organizationId, area, area, start.toISOString(), end.toISOString(), this.who.actor]);
      await audit(em, this.who, { entity: 'planned_works', entityId: r.id, action: 'create', after: { title, address, districtId, themeId, organizationId, startsAt: start.toISOString(), endsAt: end.toISOString(), area: !!area } });
      return r.id;
    });
    return (await this.plannedWorks(id))!;
  }

  private async checkValidArea(field: string, geojson: string): Promise<void> {
    const [r] = await query<{ valid: boolean; reason: string }>(this.em,
      `SELECT ST_IsValid(g) AS valid, ST_IsValidReason(g) AS reason FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(?::text), 4326) AS g) x`, [geojson]);
    if (!r.valid) throw new InputError(field, `контур некорректен (${String(r.reason).slice(0, 80)}): стороны не должны пересекаться`);
  }

  // ---------- sources ----------

  async source(s: InformingSourceInput): Promise<SourceInfo> {
    const m = await this.municipality();
    const common = { municipality: m.name, today: ruDate(new Date().toISOString().slice(0, 10)) };
    if (s.kind === InformingSourceKind.NONE) return { kind: 'NONE', id: null, title: 'без источника', values: common };
    if (s.id == null) throw new InputError('source.id', `укажите номер: ${SOURCE_LABELS[s.kind]}`);
    const id = parseId('source.id', s.id);
    const sc = this.who.scope ? scopeSql(this.who.scope, 'x') : null;
    if (s.kind === InformingSourceKind.PROBLEM) {
      const [p] = await query<{ title: string; theme: string | null; district: string | null; org: string | null; appeals: number; since: string | null; address: string | null }>(this.em,
        `SELECT p.title, t.name AS theme, d.name AS district, coalesce(o.short_name, o.name) AS org, p.appeal_count AS appeals,
                to_char(p.first_appeal_at AT TIME ZONE ?, 'DD.MM.YYYY') AS since,
                (SELECT a.address FROM problem_appeal pa JOIN appeal a ON a.id = pa.appeal_id WHERE pa.problem_id = p.id AND a.address IS NOT NULL
                  GROUP BY a.address ORDER BY count(*) DESC, a.address LIMIT 1) AS address
           FROM problem p LEFT JOIN theme t ON t.id = p.theme_id LEFT JOIN district d ON d.id = p.district_id LEFT JOIN organization o ON o.id = p.organization_id
          WHERE p.municipality_id = ? AND p.id = ?
            ${sc ? `AND EXISTS (SELECT 1 FROM problem_appeal pa JOIN appeal x ON x.id = pa.appeal_id WHERE pa.problem_id = p.id AND ${sc.sql})` : ''}`,
        [m.timezone, this.municipalityId, id, ...(sc?.params ?? [])]);
      if (!p) throw new InputError('source.id', `проблема ${id} не найдена или недоступна`);
      return { kind: 'PROBLEM', id, title: p.title, values: { ...common, title: p.title, theme: p.theme, district: p.district, organization: p.org, appeals: String(p.appeals), since: p.since, address: p.address } };
    }
    if (s.kind === InformingSourceKind.RISK) {
      const [r] = await query<{ title: string; theme: string | null; district: string | null; org: string | null; appeals: number; since: string; theme_id: number | null; organization_id: number | null }>(this.em,
        `SELECT r.title, t.name AS theme, d.name AS district, r.theme_id, r.organization_id,
                coalesce(o.short_name, o.name, (SELECT coalesce(o2.short_name, o2.name) FROM appeal a JOIN organization o2 ON o2.id = a.organization_id
                   WHERE a.id = ANY(r.appeal_ids) GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)) AS org,
                cardinality(r.appeal_ids) AS appeals, to_char(r.started_on, 'DD.MM.YYYY') AS since
           FROM risk_signal r LEFT JOIN theme t ON t.id = r.theme_id LEFT JOIN district d ON d.id = r.district_id LEFT JOIN organization o ON o.id = r.organization_id
          WHERE r.municipality_id = ? AND r.id = ?
            ${sc ? `AND EXISTS (SELECT 1 FROM appeal x WHERE x.id = ANY(r.appeal_ids) AND ${sc.sql})` : ''}`,
        [this.municipalityId, id, ...(sc?.params ?? [])]);
      if (!r) throw new InputError('source.id', `сигнал ${id} не найден или недоступен`);
      return { kind: 'RISK', id, title: r.title, values: { ...common, title: r.title, theme: r.theme, district: r.district ?? 'город', organization: r.org, appeals: String(r.appeals), since: r.since } };
    }
    const w = await this.plannedWorks(id);
    if (!w) throw new InputError('source.id', `плановые работы ${id} не найдены`);
    const f = (d: Date) => localDateTimeText(m.timezone, d.getTime());
    return { kind: 'PLANNED_WORKS', id, title: w.title, values: { ...common, title: w.title, theme: w.themeName, district: w.districtName, organization: w.organizationName,
      address: w.address, period: `с ${f(w.startsAt)} по ${f(w.endsAt)}`, description: w.description } };
  }

  async draft(source: InformingSourceInput, templateCode: string): Promise<InformingDraft> {
    const t = (await this.templates()).find((x) => x.code === templateCode);
    if (!t) throw new InputError('templateCode', `нет шаблона «${String(templateCode).slice(0, 64)}»`);
    if (!t.sourceKinds.includes(source.kind)) throw new InputError('templateCode', `шаблон «${t.code}» — для поводов: ${t.sourceKinds.map((k) => SOURCE_LABELS[k]).join(', ')}; выбран «${SOURCE_LABELS[source.kind]}»`);
    const src = await this.source(source);
    const { text, used } = renderTemplate({ code: t.code, channel: t.channel, sourceKinds: t.sourceKinds, title: t.title, body: t.body }, src.values, `${SOURCE_LABELS[src.kind]} «${src.title.slice(0, 60)}»`);
    return { templateCode: t.code, channel: t.channel, text, maxLength: t.maxLength, values: used, sourceTitle: src.title };
  }

  // ---------- audience ----------

  private async resolve(a: AudienceInput): Promise<ResolvedAudience> {
    const m = await this.municipality();
    const to = a.to ?? m.last ?? new Date().toISOString().slice(0, 10);
    if (!validDay(to)) throw new InputError('audience.to', 'дата ожидается в виде ГГГГ-ММ-ДД');
    const from = a.from ?? addDays(to, -364);
    if (!validDay(from)) throw new InputError('audience.from', 'дата ожидается в виде ГГГГ-ММ-ДД');
    if (from > to) throw new InputError('audience.from', 'начало периода позже конца');
    if (Date.parse(to) - Date.parse(from) > 5 * 366 * 86_400_000) throw new InputError('audience.from', 'период не длиннее 5 лет');
    const sc = this.who.scope ? scopeSql(this.who.scope, 'a') : { sql: 'a.municipality_id = ?', params: [this.municipalityId] };
    const parts = [sc.sql, `a.received_at >= (?::date::timestamp AT TIME ZONE ?)`, `a.received_at < (?::date::timestamp AT TIME ZONE ?) + interval '1 day'`];
    const params: unknown[] = [...sc.params, from, m.timezone, to, m.timezone];
    const description: string[] = [];
    const spec: Record<string, unknown> = { kind: a.kind, from, to };
    let areaSql: string | null = null;
    let areaParams: unknown[] = [];
    let residents: number | null = null;
    let addresses: string[] = [];
    let base: { where: string; params: unknown[] } | undefined;
    const themes = parseIds('audience.themeIds', a.themeIds);
    if (themes?.length) {
      const names = await query<{ id: number; name: string }>(this.em, 'SELECT id, name FROM theme WHERE municipality_id = ? AND id = ANY(?::int[])', [this.municipalityId, themes]);
      const missing = themes.findIndex((t) => !names.some((n) => n.id === t));
      if (missing >= 0) throw new InputError(`audience.themeIds[${missing}]`, `нет темы ${themes[missing]}`);
      parts.push('a.theme_id = ANY(?::int[])');
      params.push(themes);
      description.push(`темы: ${names.map((n) => n.name).join(', ')}`);
      spec.themeIds = themes;
    }
    switch (a.kind) {
      case AudienceKind.DISTRICTS: {
        const ids = parseIds('audience.districtIds', a.districtIds);
        if (!ids?.length) throw new InputError('audience.districtIds', 'выберите хотя бы один район');
        const ds = await query<{ id: number; name: string; population: number | null }>(this.em, 'SELECT id, name, population FROM district WHERE municipality_id = ? AND id = ANY(?::int[])', [this.municipalityId, ids]);
        const missing = ids.findIndex((d) => !ds.some((x) => x.id === d));
        if (missing >= 0) throw new InputError(`audience.districtIds[${missing}]`, `нет района ${ids[missing]}`);
        parts.push('a.district_id = ANY(?::int[])');
        params.push(ids);
        areaSql = 'SELECT ST_Union(geom) FROM district WHERE municipality_id = ? AND id = ANY(?::int[])';
        areaParams = [this.municipalityId, ids];
        residents = ds.every((d) => d.population != null) ? ds.reduce((s, d) => s + d.population!, 0) : null;
        description.unshift(`районы: ${ds.map((d) => d.name).join(', ')}`);
        spec.districtIds = ids;
        break;
      }
      case AudienceKind.ADDRESSES: {
        const list = a.addresses ?? [];
        if (!list.length) throw new InputError('audience.addresses', 'укажите хотя бы один адрес');
        if (list.length > MAX_ADDRESSES) throw new InputError('audience.addresses', `не больше ${MAX_ADDRESSES} адресов`);
        addresses = list.map((x, i) => {
          const v = String(x).replace(/[\u0000-\u001F\u007F]/g, ' ').replace(/\s+/g, ' ').trim().toLowerCase();
          if (v.length < 3 || v.length > 200) throw new InputError(`audience.addresses[${i}]`, 'адрес — от 3 до 200 символов');
          return v;
        });
        base = { where: parts.join(' AND '), params: [...params] };
        parts.push('EXISTS (SELECT 1 FROM unnest(?::text[]) q WHERE strpos(lower(a.address), q) > 0)');
        params.push(addresses);
        description.unshift(`адреса: ${addresses.length}`);
        spec.addresses = addresses;
        break;
      }
      case AudienceKind.AREA: {
        const g = checkPolygon('audience.area', a.area);
        await this.checkValidArea('audience.area', g);
        parts.push('ST_Intersects(a.point, ST_SetSRID(ST_GeomFromGeoJSON(?::text), 4326))');
        params.push(g);
        areaSql = 'SELECT ST_SetSRID(ST_GeomFromGeoJSON(?::text), 4326)';
        areaParams = [g];
        description.unshift('нарисованный контур');
        spec.area = JSON.parse(g);
        break;
      }
      case AudienceKind.PROBLEM: {
        if (a.problemId == null) throw new InputError('audience.problemId', 'укажите проблему перечня');
        const pid = parseId('audience.problemId', a.problemId);
        const [p] = await query<{ title: string }>(this.em, 'SELECT title FROM problem WHERE municipality_id = ? AND id = ?', [this.municipalityId, pid]);
        if (!p) throw new InputError('audience.problemId', `проблема ${pid} не найдена`);
        const outline = `(SELECT ST_Buffer(hull::geography, ${PROBLEM_MARGIN_M})::geometry FROM problem WHERE id = ?)`;
        parts.push(`ST_Intersects(a.point, ${outline})`);
        params.push(pid);
        areaSql = `SELECT ${outline}`;
        areaParams = [pid];
        description.unshift(`контур проблемы «${p.title}» и ${PROBLEM_MARGIN_M} м вокруг`);
        spec.problemId = pid;
        break;
      }
      default: throw new InputError('audience.kind', 'неизвестный способ выбора места');
    }
    description.push(`обращения с ${ruDate(from)} по ${ruDate(to)}`);
    return { where: parts.join(' AND '), params, areaSql, areaParams, from, to, residents, description, addresses, base, spec };
  }

  private async count(r: ResolvedAudience): Promise<{ appeals: number; authors: number; consenting: number }> {
    const [c] = await query<{ appeals: number; authors: number; consenting: number }>(this.em,
      `SELECT count(*)::int AS appeals,
              count(DISTINCT coalesce(a.author_key, 'id:' || a.author_id)) FILTER (WHERE a.author_id IS NOT NULL OR a.author_key IS NOT NULL)::int AS authors,
              count(DISTINCT a.author_id) FILTER (WHERE au.contact_consent AND au.anonymized_at IS NULL AND (au.phone IS NOT NULL OR au.email IS NOT NULL))::int AS consenting
         FROM appeal a LEFT JOIN appeal_author au ON au.id = a.author_id WHERE ${r.where}`, r.params);
    return c;
  }

  async audience(a: AudienceInput): Promise<Audience> {
    const r = await this.resolve(a);
    const c = await this.count(r);
    let areaGeoJSON: Record<string, unknown> | null = null;
    if (r.areaSql) {
      const [g] = await query<{ g: Record<string, unknown> | null }>(this.em, `SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology((${r.areaSql}), 0.00002), 6)::json AS g`, r.areaParams);
      areaGeoJSON = g?.g ?? null;
    } else {
      const [g] = await query<{ g: Record<string, unknown> | null }>(this.em, `SELECT ST_AsGeoJSON(ST_Collect(pt), 6)::json AS g FROM (SELECT a.point AS pt FROM appeal a WHERE ${r.where} AND a.point IS NOT NULL LIMIT 2000) x`, r.params);
      areaGeoJSON = g?.g ?? null;
    }
    let unmatched: string[] = [];
    if (r.base) {
      const hit = await query<{ q: string }>(this.em, `SELECT q FROM unnest(?::text[]) q WHERE NOT EXISTS (SELECT 1 FROM appeal a WHERE ${r.base.where} AND strpos(lower(a.address), q) > 0)`,
        [r.addresses, ...r.base.params]);
      unmatched = hit.map((h) => h.q);
    }
    return { ...c, residents: r.residents, periodFrom: r.from, periodTo: r.to, areaGeoJSON, unmatchedAddresses: unmatched, description: r.description };
  }

  // ---------- records ----------

  async record(input: RecordInformingInput): Promise<Informing> {
    const src = await this.source(input.source);
    let templateCode: string | null = null;
    if (input.templateCode) {
      const t = (await this.templates()).find((x) => x.code === input.templateCode);
      if (!t) throw new InputError('input.templateCode', `нет шаблона «${input.templateCode.slice(0, 64)}»`);
      if (t.channel !== input.channel) throw new InputError('input.channel', `шаблон «${t.code}» — для канала «${t.channelLabel}»`);
      templateCode = t.code;
    }
    const message = checkPlainText('input.message', input.message, CHANNEL_MAX[input.channel]);
    if (/\{\{|\}\}/.test(message)) throw new InputError('input.message', 'в тексте остались подстановки {{…}}: составьте черновик по шаблону');
    const note = input.note?.trim() ? checkPlainText('input.note', input.note, 2000) : null;
    const r = await this.resolve(input.audience);
    const c = await this.count(r);
    if (input.channel === InformingChannel.CALLBACK && c.consenting === 0) throw new InputError('input.audience', 'в выбранной аудитории нет авторов, согласных на обратную связь: обзвонить некого');
    const id = await this.em.transactional(async (em) => {
      const [row] = await query<{ id: number }>(em, `INSERT INTO informing (municipality_id, source_kind, source_id, source_title, channel, template_code, audience, area, appeals, authors, consenting, message, note, informed_by)
        VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ${r.areaSql ? `(${r.areaSql})` : 'NULL'}, ?, ?, ?, ?, ?, ?) RETURNING id`,
        [this.municipalityId, src.kind, src.id, src.title.slice(0, 300), input.channel, templateCode, JSON.stringify(r.spec), ...r.areaParams, c.appeals, c.authors, c.consenting, message, note, this.who.actor]);
      await audit(em, this.who, { entity: 'informing', entityId: row.id, action: 'record',
        after: { source: { kind: src.kind, id: src.id }, channel: input.channel, templateCode, audience: r.spec, size: c, message, note } });
      return row.id;
    });
    return (await this.get(id))!;
  }

  async get(id: number): Promise<Informing | null> {
    const [r] = await query<InfRow>(this.em, `SELECT ${INF_COLS} FROM informing i WHERE i.municipality_id = ? AND i.id = ?`, [this.municipalityId, id]);
    return r ? toInf(r) : null;
  }

  async list(first: number, sourceKind?: InformingSourceKind, sourceId?: string): Promise<InformingConnection> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw new InputError('first', 'от 1 до 500');
    const parts = ['i.municipality_id = ?'];
    const params: unknown[] = [this.municipalityId];
    if (sourceKind) { parts.push('i.source_kind = ?'); params.push(sourceKind); }
    if (sourceId != null) { parts.push('i.source_id = ?'); params.push(parseId('sourceId', sourceId)); }
    const rows = await query<InfRow>(this.em, `SELECT ${INF_COLS} FROM informing i WHERE ${parts.join(' AND ')} ORDER BY i.informed_at DESC, i.id DESC LIMIT ?`, [...params, first]);
    const [{ n }] = await query<{ n: number }>(this.em, `SELECT count(*)::int AS n FROM informing i WHERE ${parts.join(' AND ')}`, params);
    return { nodes: rows.map(toInf), totalCount: n };
  }

  /**
   * The call-back list of a CALLBACK informing: the authors of the audience's appeals who consented to contact (and still
   * have a phone or e-mail), one row per author (their latest appeal). Reading it is personal data: every row is written
   * to pd_access_log with `operation` (CALLBACK_LIST, or CALLBACK_EXPORT for the XLSX) in the statement that reads it.
   */
  async callbackList(informingId: string, operation: 'CALLBACK_LIST' | 'CALLBACK_EXPORT' = 'CALLBACK_LIST'): Promise<CallbackList> {
    const id = parseId('informingId', informingId);
    if (!this.who.user) throw new InputError('informingId', 'нужен вход в систему');
    const inf = await this.get(id);
    if (!inf) throw new InputError('informingId', `информирование ${id} не найдено`);
    if (inf.channel !== InformingChannel.CALLBACK) throw new InputError('informingId', 'список обзвона составляется только для информирования по каналу «обзвон»');
    const r = await this.resolve(audienceFromSpec(inf.audience));
    const picked = await query<{ appeal_id: number; theme: string | null; address: string | null; received_at: Date }>(this.em,
      `SELECT DISTINCT ON (a.author_id) a.id AS appeal_id, t.name AS theme, a.address, a.received_at
         FROM appeal a JOIN appeal_author au ON au.id = a.author_id LEFT JOIN theme t ON t.id = a.theme_id
        WHERE ${r.where} AND au.contact_consent AND au.anonymized_at IS NULL AND (au.phone IS NOT NULL OR au.email IS NOT NULL)
        ORDER BY a.author_id, a.received_at DESC, a.id DESC LIMIT ?`, [...r.params, MAX_CALLBACK + 1]);
    if (picked.length > MAX_CALLBACK) throw new InputError('informingId', `в списке больше ${MAX_CALLBACK} авторов: сузьте аудиторию`);
    const out = await this.em.transactional(async (em) => {
      const authors = await readAuthors(em, this.who.user!, picked.map((p) => p.appeal_id), operation);
      await query(em, 'UPDATE informing SET callback_rows = ?, callback_at = now() WHERE municipality_id = ? AND id = ?', [picked.length, this.municipalityId, id]);
      return authors;
    });
    const rows = picked.map((p) => {
      const a = out.get(p.appeal_id);
      return { appealId: String(p.appeal_id), fullName: a?.full_name ?? null, phone: a?.phone ?? null, email: a?.email ?? null, address: p.address, themeName: p.theme, receivedAt: new Date(p.received_at) };
    }).sort((x, y) => (x.fullName ?? '').localeCompare(y.fullName ?? '', 'ru') || Number(x.appealId) - Number(y.appealId));
    return { informingId: String(id), total: rows.length, rows };
  }
}

function audienceFromSpec(s: Record<string, unknown>): AudienceInput {
  const ids = (v: unknown) => (Array.isArray(v) ? v.map(String) : undefined);
  return { kind: s.kind as AudienceKind, districtIds: ids(s.districtIds), addresses: s.addresses as string[] | undefined, area: s.area as Record<string, unknown> | undefined,
    problemId: s.problemId != null ? String(s.problemId) : undefined, themeIds: ids(s.themeIds), from: s.from as string, to: s.to as string };
}

interface PwRow {
  id: number; title: string; description: string | null; address: string; district_id: number | null; district_name: string | null; theme_id: number | null; theme_name: string | null;
  organization_id: number | null; organization_name: string | null; area: Record<string, unknown> | null; starts_at: Date; ends_at: Date; created_by: string;
}
const PW_SELECT = `SELECT w.id, w.title, w.description, w.address, w.district_id, d.name AS district_name, w.theme_id, t.name AS theme_name, w.organization_id,
  coalesce(o.short_name, o.name) AS organization_name, ST_AsGeoJSON(w.area, 6)::json AS area, w.starts_at, w.ends_at, w.created_by
  FROM planned_works w LEFT JOIN district d ON d.id = w.district_id LEFT JOIN theme t ON t.id = w.theme_id LEFT JOIN organization o ON o.id = w.organization_id`;
const str = (v: number | null) => (v == null ? null : String(v));
function toPw(r: PwRow): PlannedWorks {
  return { id: String(r.id), title: r.title, description: r.description, address: r.address, districtId: str(r.district_id), districtName: r.district_name, themeId: str(r.theme_id),
    themeName: r.theme_name, organizationId: str(r.organization_id), organizationName: r.organization_name, area: r.area, startsAt: new Date(r.starts_at), endsAt: new Date(r.ends_at), createdBy: r.created_by };
}

interface InfRow {
  id: number; source_kind: InformingSourceKind; source_id: number | null; source_title: string | null; channel: InformingChannel; template_code: string | null; audience: Record<string, unknown>;
  appeals: number; authors: number; consenting: number; message: string; note: string | null; informed_by: string; informed_at: Date; callback_rows: number | null; callback_at: Date | null;
}
const INF_COLS = `i.id, i.source_kind, i.source_id, i.source_title, i.channel, i.template_code, i.audience, i.appeals, i.authors, i.consenting, i.message, i.note, i.informed_by, i.informed_at, i.callback_rows, i.callback_at`;
function toInf(r: InfRow): Informing {
  return { id: String(r.id), sourceKind: r.source_kind, sourceId: str(r.source_id), sourceTitle: r.source_title, channel: r.channel, channelLabel: CHANNEL_LABELS[r.channel],
    templateCode: r.template_code, audience: r.audience, appeals: r.appeals, authors: r.authors, consenting: r.consenting, message: r.message, note: r.note,
    informedBy: r.informed_by, informedAt: new Date(r.informed_at), callbackRows: r.callback_rows, callbackAt: r.callback_at ? new Date(r.callback_at) : null };
}
