import type { EntityManager } from '@mikro-orm/postgresql';
import { parse as parseCsv } from 'csv-parse/sync';
import { query } from '../db/sql.js';
import { onPeers, tellPeers } from '../util/peers.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { InputError } from '../errors.js';
import { readReference } from '../reference/files.js';
import { CATALOGUE, UNITS, aggKey, catalogueByCode, monthlyAggregates, type MonthAgg, type Unit } from './catalogue.js';
import {
  IndicatorStatus, type Indicator, type IndicatorCard, type IndicatorDashboard, type IndicatorGroup, type IndicatorInput, type IndicatorPoint,
} from './types.js';

interface IndicatorRow {
  id: number; code: string; name: string; description: string | null; unit: Unit; direction: string; block_id: number | null;
  source: string; query_code: string | null; params: Record<string, unknown>; active: boolean;
}

const MONTH_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;
/** At most this many months in one dashboard, one target range or one file's period (10 years). */
const MAX_MONTHS = 120;
/** At most this many rows in one file of imported values. */
export const MAX_IMPORT_ROWS = 50_000;

/** 'YYYY-MM' → 'YYYY-MM-01', or an InputError naming the field. */
export function monthStart(field: string, v: string): string {
  const m = MONTH_RE.exec(String(v ?? '').trim());
  if (!m) throw new InputError(field, `месяц в формате ГГГГ-ММ, получено «${String(v).slice(0, 40)}»`);
  const year = Number(m[1]);
  if (year < 2000 || year > 2100) throw new InputError(field, `год от 2000 до 2100, получено ${year}`);
  return `${m[1]}-${m[2]}-01`;
}

function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let y = Number(from.slice(0, 4));
  let mo = Number(from.slice(5, 7));
  const endY = Number(to.slice(0, 4));
  const endM = Number(to.slice(5, 7));
  while (y < endY || (y === endY && mo <= endM)) {
    out.push(`${y}-${String(mo).padStart(2, '0')}-01`);
    if (++mo > 12) { mo = 1; y++; }
    if (out.length > MAX_MONTHS) throw new InputError('to', `период не длиннее ${MAX_MONTHS} месяцев`);
  }
  if (!out.length) throw new InputError('to', 'конец периода раньше начала');
  return out;
}

/** A value (target or imported) must fit its indicator's unit. */
export function checkUnitValue(field: string, unit: Unit, value: number): void {
  if (!Number.isFinite(value)) throw new InputError(field, 'число');
  if (unit === 'PERCENT' && (value < 0 || value > 100)) throw new InputError(field, `процент от 0 до 100, получено ${value}`);
  if (unit === 'SCORE' && (value < 0 || value > 100)) throw new InputError(field, `балл от 0 до 100, получено ${value}`);
  if (['PER_1000', 'COUNT', 'HOURS', 'DAYS', 'RUB'].includes(unit) && value < 0) throw new InputError(field, `неотрицательное число, получено ${value}`);
  if (Math.abs(value) > 1e12) throw new InputError(field, `слишком большое число: ${value}`);
}

/** OK / WARN (within 10 % of the target on the wrong side) / FAIL, by the indicator's direction. */
export function statusOf(value: number | null | undefined, target: number | null | undefined, direction: string): IndicatorStatus {
  if (value == null) return IndicatorStatus.NO_DATA;
  if (target == null) return IndicatorStatus.NO_TARGET;
  const tolerance = Math.abs(target) * 0.1;
  const gap = direction === 'HIGHER_IS_BETTER' ? target - value : value - target;
  if (gap <= 1e-9) return IndicatorStatus.OK;
  return gap <= tolerance ? IndicatorStatus.WARN : IndicatorStatus.FAIL;
}

interface CacheEntry { at: number; version: string; ms: number; aggs: Map<string, MonthAgg>; refreshing?: Promise<unknown> }
/**
 * Monthly aggregates per (municipality, period), tagged with the data version they were computed at. A fresh entry
 * (same version, younger than CACHE_TTL_MS) is served as is. When the data changed and computing took longer than
 * HEAVY_MS (a large database), the last result (at most STALE_MAX_MS old) is served while a fresh one is computed in
 * the background, so that the dashboard never waits for the aggregate; small databases recompute at once.
 */
const cache = new Map<string, CacheEntry>();
const CACHE_TTL_MS = 60_000;
let HEAVY_MS = 1_000;
const STALE_MAX_MS = 10 * 60_000;
const CACHE_MAX = 32;

/** Empties the cache here and in the other workers of the server (WEB_CONCURRENCY). */
export function clearIndicatorCache(): void {
  cache.clear();
  void tellPeers('indicators:clear');
}
onPeers('indicators:clear', () => cache.clear());

/** The duration above which a changed aggregate is served stale while recomputed (tests set 0 to exercise it). */
export function setHeavyAggregateMs(ms: number): void {
  HEAVY_MS = ms;
}

/** Resolves when background refreshes of the cache have finished (tests). */
export async function indicatorRefreshes(): Promise<void> {
  await Promise.all([...cache.values()].map((e) => e.refreshing));
}

export class IndicatorService {
  constructor(private readonly em: EntityManager, private readonly ctx: AuditActor & { blockId?: number | null }) {}

  private get mid() {
    return this.ctx.municipalityId;
  }

  catalogue() {
    return CATALOGUE.map(({ code, name, description, unit, direction }) => ({ code, name, description, unit, direction }));
  }

  async list(includeInactive = false): Promise<Indicator[]> {
    const rows = await query<IndicatorRow>(this.em,
      `SELECT * FROM indicator WHERE municipality_id = ? ${includeInactive ? '' : 'AND active'} ORDER BY block_id NULLS FIRST, id`, [this.mid]);
    return rows.map(toIndicator);
  }

  private async row(id: number): Promise<IndicatorRow> {
    const [r] = await query<IndicatorRow>(this.em, 'SELECT * FROM indicator WHERE id = ? AND municipality_id = ?', [id, this.mid]);
    if (!r) throw new InputError('id', `показатель ${id} не найден`);
    return r;
  }

  /** Checks an indicator's definition; returns its block id and normalised params. */
  private async validate(input: IndicatorInput): Promise<{ blockId: number | null; params: Record<string, unknown> }> {
    if (!/^[a-z0-9_.-]{1,64}$/.test(input.code ?? '')) throw new InputError('code', 'латинские строчные буквы, цифры, «_», «.», «-», до 64 символов');
    const name = (input.name ?? '').trim();
    if (!name || name.length > 300) throw new InputError('name', 'название от 1 до 300 символов');
    if (!UNITS.includes(input.unit as Unit)) throw new InputError('unit', `одна из единиц ${UNITS.join(', ')}`);
    let blockId: number | null = null;
    if (input.block) {
      const [b] = await query<{ id: number }>(this.em, 'SELECT id FROM thematic_block WHERE municipality_id = ? AND code = ?', [this.mid, input.block]);
      if (!b) throw new InputError('block', `тематический блок «${input.block}» не найден`);
      blockId = b.id;
    }
    const params: Record<string, unknown> = {};
    if (input.source === 'COMPUTED') {
      const q = input.queryCode ? catalogueByCode.get(input.queryCode) : undefined;
      if (!q) throw new InputError('queryCode', `запрос «${input.queryCode ?? ''}» не найден в каталоге; есть: ${CATALOGUE.map((c) => c.code).join(', ')}`);
      if (q.unit !== input.unit) throw new InputError('unit', `запрос «${q.code}» даёт значения в ${q.unit}, а показатель задан в ${input.unit}`);
      for (const key of Object.keys(input.params ?? {})) {
        if (key !== 'theme' && key !== 'block') throw new InputError(`params.${key}`, 'допустимы только theme и block');
      }
      const p = input.params ?? {};
      if (p.theme != null && p.block != null) throw new InputError('params', 'укажите тему или блок, не оба');
      if (p.theme != null) {
        const [t] = await query<{ id: number }>(this.em, 'SELECT id FROM theme WHERE municipality_id = ? AND code = ?', [this.mid, String(p.theme)]);
        if (!t) throw new InputError('params.theme', `тема «${String(p.theme)}» не найдена`);
        params.theme = String(p.theme);
      }
      if (p.block != null) {
        const [b] = await query<{ id: number }>(this.em, 'SELECT id FROM thematic_block WHERE municipality_id = ? AND code = ?', [this.mid, String(p.block)]);
        if (!b) throw new InputError('params.block', `тематический блок «${String(p.block)}» не найден`);
        params.block = String(p.block);
      }
    } else if (input.source === 'IMPORTED') {
      if (input.queryCode) throw new InputError('queryCode', 'у загружаемого показателя нет запроса каталога');
      if (input.params && Object.keys(input.params).length) throw new InputError('params', 'у загружаемого показателя нет охвата запроса');
    } else {
      throw new InputError('source', 'COMPUTED или IMPORTED');
    }
    return { blockId, params };
  }

  async create(input: IndicatorInput): Promise<Indicator> {
    const { blockId, params } = await this.validate(input);
    return this.em.transactional(async (tem) => {
      const [dup] = await query(tem, 'SELECT 1 FROM indicator WHERE municipality_id = ? AND code = ?', [this.mid, input.code]);
      if (dup) throw new InputError('code', `показатель с кодом «${input.code}» уже есть`);
      const [r] = await query<IndicatorRow>(tem,
        `INSERT INTO indicator (municipality_id, code, name, description, unit, direction, block_id, source, query_code, params, active)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?) RETURNING *`,
        [this.mid, input.code, input.name.trim(), input.description ?? null, input.unit, input.direction, blockId, input.source,
          input.source === 'COMPUTED' ? input.queryCode : null, JSON.stringify(params), input.active ?? true]);
      await audit(tem, this.ctx, { entity: 'indicator', entityId: r.id, action: 'create', before: null, after: toIndicator(r) });
      clearIndicatorCache();
      return toIndicator(r);
    });
  }

  async update(id: number, input: IndicatorInput): Promise<Indicator> {
    const before = await this.row(id);
    const { blockId, params } = await this.validate(input);
    return this.em.transactional(async (tem) => {
      const [dup] = await query(tem, 'SELECT 1 FROM indicator WHERE municipality_id = ? AND code = ? AND id <> ?', [this.mid, input.code, id]);
      if (dup) throw new InputError('code', `показатель с кодом «${input.code}» уже есть`);
      if (before.source === 'IMPORTED' && input.source === 'COMPUTED') await query(tem, 'DELETE FROM indicator_value WHERE indicator_id = ?', [id]);
      const [r] = await query<IndicatorRow>(tem,
        `UPDATE indicator SET code = ?, name = ?, description = ?, unit = ?, direction = ?, block_id = ?, source = ?, query_code = ?,
                params = ?::jsonb, active = ?, updated_at = now() WHERE id = ? RETURNING *`,
        [input.code, input.name.trim(), input.description ?? null, input.unit, input.direction, blockId, input.source,
          input.source === 'COMPUTED' ? input.queryCode : null, JSON.stringify(params), input.active ?? before.active, id]);
      await audit(tem, this.ctx, { entity: 'indicator', entityId: id, action: 'update', before: toIndicator(before), after: toIndicator(r) });
      return toIndicator(r);
    });
  }

  /** Sets the target of every month in [from, to] (YYYY-MM); `value` null removes them. `unit`, when given, must be the indicator's. */
  async setTargets(id: number, from: string, to: string, value: number | null, unit?: string | null): Promise<number> {
    const ind = await this.row(id);
    if (unit != null && unit !== ind.unit) throw new InputError('unit', `цель задана в ${unit}, а показатель «${ind.name}» измеряется в ${ind.unit}`);
    if (value != null) checkUnitValue('value', ind.unit, value);
    const months = monthsBetween(monthStart('from', from), monthStart('to', to));
    return this.em.transactional(async (tem) => {
      const before = await query(tem, 'SELECT to_char(month, \'YYYY-MM\') AS month, value FROM indicator_target WHERE indicator_id = ? AND month = ANY(?::date[]) ORDER BY month', [id, months]);
      if (value == null) {
        await query(tem, 'DELETE FROM indicator_target WHERE indicator_id = ? AND month = ANY(?::date[])', [id, months]);
      } else {
        await query(tem,
          `INSERT INTO indicator_target (indicator_id, municipality_id, month, value) SELECT ?, ?, m, ? FROM unnest(?::date[]) m
           ON CONFLICT (indicator_id, month, municipality_id) DO UPDATE SET value = excluded.value`, [id, this.mid, value, months]);
      }
      await audit(tem, this.ctx, { entity: 'indicator', entityId: id, action: 'set_targets', before, after: { from, to, value } });
      return months.length;
    });
  }

  /**
   * Values of IMPORTED indicators from a CSV table: columns indicator (code); month (YYYY-MM); value [; unit].
   * Header names may be Russian (показатель; месяц; значение; единица). All rows or none: any bad row fails the
   * file with every error found (row and field), and nothing is stored.
   */
  async importValues(csv: string, fileName = 'values.csv'): Promise<{ rows: number; stored: number }> {
    let records: string[][];
    try {
      const text = csv.replace(/^\uFEFF/, '');
      const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
      const delimiter = [';', ',', '\t'].map((d) => [d, firstLine.split(d).length] as const).sort((a, b) => b[1] - a[1])[0][0];
      records = parseCsv(text, { delimiter, relax_column_count: true, skip_empty_lines: true, trim: true, max_record_size: 10_000 });
    } catch (e) {
      throw new InputError('file', `файл ${fileName} не читается как CSV: ${(e as Error).message.slice(0, 200)}`);
    }
    return this.importRecords(records, fileName);
  }

  /** Values from the rows of a table (CSV or the first sheet of an XLSX workbook): the first row is the header. */
  async importRecords(records: string[][], fileName: string): Promise<{ rows: number; stored: number }> {
    if (records.length < 2) throw new InputError('file', 'нет строк со значениями (первая строка — заголовок)');
    if (records.length - 1 > MAX_IMPORT_ROWS) throw new InputError('file', `не более ${MAX_IMPORT_ROWS} строк в одном файле`);
    const header = records[0].map((h) => h.toLowerCase().trim());
    const col = (names: string[]) => header.findIndex((h) => names.includes(h));
    const ci = col(['indicator', 'показатель', 'код']);
    const cm = col(['month', 'месяц', 'период']);
    const cv = col(['value', 'значение']);
    const cu = col(['unit', 'единица']);
    const missing = [[ci, 'indicator (показатель)'], [cm, 'month (месяц)'], [cv, 'value (значение)']].filter(([i]) => i === -1).map(([, n]) => n);
    if (missing.length) throw new InputError('file', `в заголовке нет столбцов: ${missing.join(', ')}`);
    const indicators = new Map((await query<IndicatorRow>(this.em, 'SELECT * FROM indicator WHERE municipality_id = ?', [this.mid])).map((r) => [r.code, r]));
    const errors: string[] = [];
    const seen = new Set<string>();
    const ids: number[] = [];
    const months: string[] = [];
    const values: number[] = [];
    for (let i = 1; i < records.length; i++) {
      const row = records[i];
      const line = i + 1;
      const err = (field: string, msg: string) => { if (errors.length < 50) errors.push(`строка ${line}, поле ${field}: ${msg}`); };
      const code = row[ci] ?? '';
      const ind = indicators.get(code);
      if (!ind) { err('indicator', `показатель «${code.slice(0, 64)}» не найден`); continue; }
      if (ind.source !== 'IMPORTED') { err('indicator', `показатель «${code}» вычисляется системой, его значения не загружаются`); continue; }
      let month: string;
      try { month = monthStart('month', row[cm] ?? ''); } catch (e) { err('month', (e as InputError).message.replace(/^.*?: /, '')); continue; }
      const raw = (row[cv] ?? '').replace(/\s/g, '').replace(',', '.');
      const value = raw === '' ? NaN : Number(raw);
      if (!Number.isFinite(value)) { err('value', `не число: «${(row[cv] ?? '').slice(0, 40)}»`); continue; }
      if (cu >= 0 && row[cu] && row[cu] !== ind.unit) { err('unit', `значение в ${row[cu].slice(0, 20)}, а показатель измеряется в ${ind.unit}`); continue; }
      try { checkUnitValue('value', ind.unit, value); } catch (e) { err('value', (e as InputError).message.replace(/^.*?: /, '')); continue; }
      const key = `${code}|${month}`;
      if (seen.has(key)) { err('month', `значение показателя «${code}» за ${month.slice(0, 7)} уже было в файле`); continue; }
      seen.add(key);
      ids.push(ind.id); months.push(month); values.push(value);
    }
    if (errors.length) throw new InputError('file', `файл не загружен, ничего не сохранено. ${errors.join('; ')}`);
    await this.em.transactional(async (tem) => {
      await query(tem,
        `INSERT INTO indicator_value (indicator_id, municipality_id, month, value, source)
         SELECT u.id, ?, u.month, u.value, ? FROM unnest(?::int[], ?::date[], ?::float8[]) AS u(id, month, value)
         ON CONFLICT (indicator_id, month, municipality_id) DO UPDATE SET value = excluded.value, source = excluded.source, updated_at = now()`,
        [this.mid, `import:${fileName.slice(0, 100)}`, ids, months, values]);
      await audit(tem, this.ctx, { entity: 'indicator_value', action: 'import', before: null, after: { fileName, rows: ids.length } });
    });
    return { rows: records.length - 1, stored: ids.length };
  }

  /** The dashboard «Показатели»: a card per active indicator with its months in [from, to], grouped by block. */
  async dashboard(from: string, to: string, now = new Date()): Promise<IndicatorDashboard> {
    const months = monthsBetween(monthStart('from', from), monthStart('to', to));
    const indicators = await query<IndicatorRow>(this.em, 'SELECT * FROM indicator WHERE municipality_id = ? AND active ORDER BY id', [this.mid]);
    const [mun] = await query<{ population: number | null; tz: string; version: string; current: string }>(this.em,
      `SELECT population, timezone AS tz, (SELECT last_value::text FROM heatmap_data_version) AS version,
              to_char(date_trunc('month', ?::timestamptz AT TIME ZONE timezone), 'YYYY-MM-DD') AS current
         FROM municipality WHERE id = ?`, [now.toISOString(), this.mid]);
    const shown = months.filter((m) => m <= mun.current);
    const ids = indicators.map((i) => i.id);
    let cached = true;
    let stale = false;
    let aggs = new Map<string, MonthAgg>();
    if (shown.length && indicators.some((i) => i.source === 'COMPUTED')) {
      const key = `${this.mid}|${shown[0]}|${shown[shown.length - 1]}`;
      const hit = cache.get(key);
      const compute = async (em: EntityManager) => {
        const t = performance.now();
        const result = await monthlyAggregates(em, this.mid, shown[0], shown[shown.length - 1]);
        if (cache.size >= CACHE_MAX && !cache.has(key)) cache.delete(cache.keys().next().value!);
        cache.set(key, { at: Date.now(), version: mun.version, ms: performance.now() - t, aggs: result });
        return result;
      };
      if (hit && hit.version === mun.version && Date.now() - hit.at < CACHE_TTL_MS) {
        aggs = hit.aggs;
      } else if (hit && hit.ms > HEAVY_MS && Date.now() - hit.at < STALE_MAX_MS) {
        aggs = hit.aggs;
        stale = true;
        hit.refreshing ??= compute(this.em.fork()).catch((e) => { hit.refreshing = undefined; console.error('[indicators] refresh failed', e); });
      } else {
        cached = false;
        aggs = await compute(this.em);
      }
    }
    const [targets, imported, themes, blocks] = await Promise.all([
      query<{ indicator_id: number; month: string; value: number }>(this.em,
        `SELECT indicator_id, month::text AS month, value FROM indicator_target WHERE indicator_id = ANY(?::int[]) AND month BETWEEN ? AND ?`, [ids, months[0], months[months.length - 1]]),
      query<{ indicator_id: number; month: string; value: number }>(this.em,
        `SELECT indicator_id, month::text AS month, value FROM indicator_value WHERE indicator_id = ANY(?::int[]) AND month BETWEEN ? AND ?`, [ids, months[0], months[months.length - 1]]),
      query<{ id: number; code: string; has_children: boolean }>(this.em,
        `SELECT t.id, t.code, EXISTS (SELECT 1 FROM theme c WHERE c.parent_id = t.id) AS has_children FROM theme t WHERE t.municipality_id = ?`, [this.mid]),
      query<{ id: number; code: string; name: string }>(this.em, 'SELECT id, code, name FROM thematic_block WHERE municipality_id = ? ORDER BY id', [this.mid]),
    ]);
    const targetOf = new Map(targets.map((t) => [`${t.indicator_id}|${t.month}`, t.value]));
    const importedOf = new Map(imported.map((t) => [`${t.indicator_id}|${t.month}`, t.value]));
    const themeByCode = new Map(themes.map((t) => [t.code, t]));
    const blockByCode = new Map(blocks.map((b) => [b.code, b]));

    const cards: IndicatorCard[] = indicators.map((ind) => {
      const q = ind.query_code ? catalogueByCode.get(ind.query_code) : undefined;
      const p = ind.params ?? {};
      const theme = p.theme ? themeByCode.get(String(p.theme)) : undefined;
      const scope = theme ? (theme.has_children ? `T${theme.id}` : `t${theme.id}`) : p.block ? `b${blockByCode.get(String(p.block))?.id ?? 0}` : '';
      const series: IndicatorPoint[] = months.map((month) => {
        const target = targetOf.get(`${ind.id}|${month}`) ?? null;
        const partial = month === mun.current;
        let value: number | null = null;
        let reason: string | null = null;
        if (month > mun.current) reason = 'месяц ещё не наступил';
        else if (ind.source === 'IMPORTED') {
          value = importedOf.get(`${ind.id}|${month}`) ?? null;
          if (value == null) reason = 'значение за месяц не загружено';
        } else if (!q) reason = `запрос «${ind.query_code}» отсутствует в каталоге`;
        else if ((p.theme && !theme) || (p.block && !blockByCode.has(String(p.block)))) reason = 'тема или блок охвата больше не существует';
        else {
          const c = q.compute(aggs.get(aggKey(month, scope)), mun.population);
          value = c.value ?? null;
          reason = c.reason ?? null;
        }
        if (value != null) value = Math.round(value * 1000) / 1000;
        return { month: month.slice(0, 7), value, target, reason, partial, status: statusOf(value, target, ind.direction) };
      });
      // The latest complete month with a value (the running month only when nothing else has one).
      const complete = series.filter((s) => s.value != null && !s.partial);
      const withValue = complete.length ? complete : series.filter((s) => s.value != null);
      const latest = withValue[withValue.length - 1] ?? series.filter((s) => s.month <= mun.current.slice(0, 7)).pop() ?? null;
      const prev = withValue[withValue.length - 2];
      const change = latest?.value != null && prev?.value != null ? Math.round((latest.value - prev.value) * 1000) / 1000 : null;
      return { indicator: toIndicator(ind), series, latest, change };
    });

    // Groups: the user's own block first (a block lead answers for it), then the centre's, then the blocks in order.
    const groups: IndicatorGroup[] = [];
    const own = this.ctx.blockId ?? null;
    const order = [own, null, ...blocks.map((b) => b.id).filter((id) => id !== own)].filter((v, i, a) => a.indexOf(v) === i);
    for (const blockId of order) {
      const list = cards.filter((c) => (c.indicator.blockId == null ? null : Number(c.indicator.blockId)) === blockId);
      if (!list.length) continue;
      groups.push({ blockId: blockId == null ? null : String(blockId), title: blockId == null ? 'Показатели центра' : blocks.find((b) => b.id === blockId)!.name, cards: list });
    }
    return { from: months[0].slice(0, 7), to: months[months.length - 1].slice(0, 7), groups, cached, stale };
  }
}

function toIndicator(r: IndicatorRow): Indicator {
  return {
    id: String(r.id), code: r.code, name: r.name, description: r.description ?? undefined, unit: r.unit as never, direction: r.direction as never,
    blockId: r.block_id == null ? null : String(r.block_id), source: r.source as never, queryCode: r.query_code, params: r.params ?? {}, active: r.active,
  };
}

interface DefaultIndicator extends Omit<IndicatorInput, 'unit' | 'direction' | 'source'> {
  unit: string; direction: string; source: string;
  /** The default target of every month from targetFrom to targetTo. */
  target?: number; targetFrom?: string; targetTo?: string;
}

/** The municipality's default complex of indicators (db/reference/<code>/indicators.json), once, when it has none. */
export async function ensureDefaultIndicators(em: EntityManager, municipalityId: number, code: string): Promise<number> {
  const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM indicator WHERE municipality_id = ?', [municipalityId]);
  if (n > 0) return 0;
  let defaults: DefaultIndicator[];
  try {
    defaults = readReference<DefaultIndicator[]>(code, 'indicators.json');
  } catch {
    return 0;
  }
  return em.transactional(async (tem) => {
    const svc = new IndicatorService(tem, { municipalityId, actor: 'system:reference' });
    for (const d of defaults) {
      const ind = await svc.create(d as IndicatorInput);
      if (d.target != null) await svc.setTargets(Number(ind.id), d.targetFrom ?? '2025-01', d.targetTo ?? '2027-12', d.target);
    }
    return defaults.length;
  });
}
